package storage

import "errors"

// Errors returned by the store, wrapped with the key or revision involved.
// Test for them with errors.Is.
var (
	// ErrNotFound: no object at the key (or at the revision asked for).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a create found the key taken.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: the object changed since the revision the write was based on.
	ErrConflict = errors.New("object has been modified")
	// ErrExpired: the revision asked for has been compacted away.
	ErrExpired = errors.New("resource version too old")
	// ErrTooLargeResourceVersion: the revision asked for is newer than the
	// store has seen, and did not arrive within the wait.
	ErrTooLargeResourceVersion = errors.New("too large resource version")
	// ErrStopped: the store is shutting down.
	ErrStopped = errors.New("storage stopped")
)
