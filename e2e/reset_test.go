package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiff-dev/skiff/e2e/cluster"
)

func TestResetRemovesOnlySkiffData(t *testing.T) {
	s := startServer(t)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "precious"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := cluster.Run(ctx, nil, "", skiffBin, "reset", "--data-dir", other)
	if code == 0 || !strings.Contains(errOut, "does not look like a Skiff data directory") {
		t.Fatalf("reset of a foreign directory: exit %d, %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(other, "precious")); err != nil {
		t.Fatal("reset removed a directory that is not Skiff's")
	}
	if out, errOut, code := cluster.Run(ctx, nil, "", skiffBin, "reset", "--data-dir", s.DataDir()); code != 0 {
		t.Fatalf("reset: exit %d: %s %s", code, out, errOut)
	}
	if _, err := os.Stat(s.DataDir()); !os.IsNotExist(err) {
		t.Fatalf("data directory still there after reset: %v", err)
	}
}
