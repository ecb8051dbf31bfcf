package render

import (
	"errors"
	"fmt"
)

// Sentinel errors let the caller choose a condition reason with errors.Is
// instead of matching message text.
var (
	// ErrOutsideRoot: a path, a reference or a symlink resolves outside the
	// source root. Nothing outside the root is read.
	ErrOutsideRoot = errors.New("outside repository root")
	// ErrRemote: a kustomization refers to a remote base or an http(s)
	// resource. Skiff renders offline and only from the fetched source.
	ErrRemote = errors.New("remote resources are not supported")
	// ErrUnsupported: input kustomize could build elsewhere but Skiff does
	// not support (Helm chart inflation, exec and KRM function plugins).
	ErrUnsupported = errors.New("not supported")
	// ErrInvalidManifest: a manifest is not valid YAML/JSON or is not a
	// Kubernetes object (missing apiVersion, kind or metadata.name).
	ErrInvalidManifest = errors.New("invalid manifest")
)

// FileError locates an error in the source tree. File is relative to the
// source root, with forward slashes; Line is 1-based, 0 when unknown.
type FileError struct {
	File string
	Line int
	Err  error
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

func fileErr(file string, line int, err error) error {
	return &FileError{File: file, Line: line, Err: err}
}
