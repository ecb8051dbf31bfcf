package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRotatingLogKeepsOnePreviousFile(t *testing.T) {
	dir := t.TempDir()
	l, err := openLogFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	l.limit = 100
	line := strings.Repeat("x", 39) + "\n" // 40 bytes
	for i := 0; i < 7; i++ {
		if _, err := l.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	cur, _ := os.ReadFile(filepath.Join(dir, LogFileName))
	prev, _ := os.ReadFile(filepath.Join(dir, LogFileName+".1"))
	// 7 lines of 40 bytes with a 100-byte limit: files of 2, 2, 2 and 1
	// lines; the last two remain.
	if len(cur) != 40 || len(prev) != 80 {
		t.Fatalf("current %d bytes, previous %d bytes; want 40 and 80", len(cur), len(prev))
	}
	if _, err := l.Write([]byte("late")); err == nil {
		t.Error("write after Close succeeded")
	}
}

func TestRotatingLogAppendsAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	for _, msg := range []string{"first run\n", "second run\n"} {
		l, err := openLogFile(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		l.Close()
	}
	got, _ := os.ReadFile(filepath.Join(dir, LogFileName))
	if string(got) != "first run\nsecond run\n" {
		t.Fatalf("log = %q", got)
	}
	if fi, _ := os.Stat(filepath.Join(dir, LogFileName)); fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, want 0600 (it may name tokens' owners and paths)", fi.Mode().Perm())
	}
}

func TestTeeLogWritesBoth(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	w, closeLog := teeLog(&stderr, dir)
	newLogger("info", w).Info("hello", "component", "agent")
	closeLog()
	file, _ := os.ReadFile(filepath.Join(dir, LogFileName))
	if !strings.Contains(stderr.String(), "msg=hello") || !strings.Contains(string(file), "msg=hello component=agent") {
		t.Fatalf("stderr %q, file %q", stderr.String(), file)
	}
}
