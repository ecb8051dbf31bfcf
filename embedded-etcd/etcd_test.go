package etcd

import (
	"bytes"
	"context"
	"testing"
	"time"
)

func TestStartPutRestartGet(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Start(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Client().Put(ctx, "/k", "v1")
	if err != nil {
		t.Fatal(err)
	}
	rev := resp.Header.Revision
	s.Close()

	start := time.Now()
	s, err = Start(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Logf("restart took %s", time.Since(start))
	g, err := s.Client().Get(ctx, "/k")
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Kvs) != 1 || string(g.Kvs[0].Value) != "v1" || g.Kvs[0].ModRevision != rev {
		t.Fatalf("after restart got %+v, want v1 at revision %d", g.Kvs, rev)
	}
	var buf bytes.Buffer
	if n, err := Snapshot(ctx, s.Client(), &buf); err != nil || n == 0 {
		t.Fatalf("snapshot: %d bytes, %v", n, err)
	}
}

func TestStartRequiresDir(t *testing.T) {
	if _, err := Start(Config{}); err == nil {
		t.Fatal("Start with no directory succeeded")
	}
}
