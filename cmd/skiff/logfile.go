package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/skiff-dev/skiff/plugin/datadir"
)

// LogFileName is the log skiff up and skiff server keep under their data
// directory, besides writing it to standard error: `kubectl skiff logs`
// reads it, so the control plane's log outlives the terminal it started in.
const LogFileName = datadir.ServerLogFile

// maxLogBytes is when the log rotates: the current file becomes
// skiff.log.1 (replacing the previous one), so at most twice this is kept.
const maxLogBytes = 16 << 20

// rotatingLog is an append-only file that starts over, keeping one
// previous file, when it grows past its limit. Writes are serialised:
// slog handlers may write from many goroutines.
type rotatingLog struct {
	mu    sync.Mutex
	path  string
	limit int64
	f     *os.File
	size  int64
}

// openLogFile opens (appending) the log under dataDir.
func openLogFile(dataDir string) (*rotatingLog, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	l := &rotatingLog{path: filepath.Join(dataDir, LogFileName), limit: maxLogBytes}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *rotatingLog) open() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("log file: %w", err)
	}
	l.f, l.size = f, fi.Size()
	return nil
}

func (l *rotatingLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, os.ErrClosed
	}
	if l.size > 0 && l.size+int64(len(p)) > l.limit {
		// A failed rotation keeps appending to the current file: losing
		// the log would be worse than an oversized one.
		if err := l.rotate(); err != nil && l.f == nil {
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

func (l *rotatingLog) rotate() error {
	if err := os.Rename(l.path, l.path+".1"); err != nil {
		return err
	}
	old := l.f
	if err := l.open(); err != nil {
		l.f = old // still open on the renamed file
		return err
	}
	return old.Close()
}

func (l *rotatingLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// teeLog is where skiff up and skiff server log: standard error and the
// data directory's log file. When the file cannot be opened the process
// still runs, logging to standard error only, and says so.
func teeLog(stderr io.Writer, dataDir string) (io.Writer, func()) {
	f, err := openLogFile(dataDir)
	if err != nil {
		fmt.Fprintf(stderr, "skiff: keeping no log file: %v\n", err)
		return stderr, func() {}
	}
	return io.MultiWriter(stderr, f), func() { _ = f.Close() }
}
