package source

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestFetchHTTPSAuth(t *testing.T) {
	work, c1 := newWorkRepo(t, map[string]string{"a.yaml": "x"})
	root := t.TempDir()
	bareCopy(t, work, root, "repo")
	basic := newGitServer(t, root, true, func(r *http.Request) bool {
		u, p, ok := r.BasicAuth()
		return ok && u == "alice" && p == "s3cret-pw"
	})
	bearer := newGitServer(t, root, true, func(r *http.Request) bool {
		return r.Header.Get("Authorization") == "Bearer tok-123"
	})
	want := "master@sha1:" + c1

	cases := []struct {
		name   string
		srv    *gitServer
		secret map[string][]byte
		err    error  // nil means success
		noLeak string // must not appear in the error
	}{
		{"basic", basic, map[string][]byte{"username": []byte("alice"), "password": []byte("s3cret-pw"), "ca.crt": basic.caPEM()}, nil, ""},
		{"basic via caFile", basic, map[string][]byte{"username": []byte("alice"), "password": []byte("s3cret-pw"), "caFile": basic.caPEM()}, nil, ""},
		{"wrong password", basic, map[string][]byte{"username": []byte("alice"), "password": []byte("wrong-pw"), "ca.crt": basic.caPEM()}, ErrAuth, "wrong-pw"},
		{"no credentials", basic, map[string][]byte{"ca.crt": basic.caPEM()}, ErrAuth, ""},
		{"bearer", bearer, map[string][]byte{"bearerToken": []byte("tok-123"), "ca.crt": bearer.caPEM()}, nil, ""},
		{"wrong bearer", bearer, map[string][]byte{"bearerToken": []byte("tok-bad"), "ca.crt": bearer.caPEM()}, ErrAuth, "tok-bad"},
		{"token and username", bearer, map[string][]byte{"bearerToken": []byte("t"), "username": []byte("u"), "ca.crt": bearer.caPEM()}, ErrInvalidRequest, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			art, err := Fetch(context.Background(), Request{
				URL: c.srv.URL + "/repo.git", Secret: c.secret, Dir: filepath.Join(t.TempDir(), "out"), Timeout: 20 * time.Second,
			})
			if c.err == nil {
				if err != nil {
					t.Fatal(err)
				}
				if art.Revision != want {
					t.Fatalf("revision %q, want %q", art.Revision, want)
				}
				return
			}
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if c.noLeak != "" && strings.Contains(err.Error(), c.noLeak) {
				t.Fatalf("error leaks the credential: %v", err)
			}
			t.Logf("error as a user sees it: %v", err)
		})
	}

	t.Run("unknown CA refused", func(t *testing.T) {
		_, err := Fetch(context.Background(), Request{
			URL: basic.URL + "/repo.git", Dir: filepath.Join(t.TempDir(), "out"),
			Secret: map[string][]byte{"username": []byte("alice"), "password": []byte("s3cret-pw")},
		})
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("err = %v, want a certificate error", err)
		}
	})
	t.Run("credentials over plain http refused", func(t *testing.T) {
		plain := newGitServer(t, root, false, nil)
		_, err := Fetch(context.Background(), Request{
			URL: plain.URL + "/repo.git", Dir: filepath.Join(t.TempDir(), "out"),
			Secret: map[string][]byte{"username": []byte("alice"), "password": []byte("pw")},
		})
		if !errors.Is(err, ErrInvalidRequest) || plain.infoRefs.Load() != 0 {
			t.Fatalf("err = %v (requests %d), want ErrInvalidRequest before any request", err, plain.infoRefs.Load())
		}
		art, err := Fetch(context.Background(), Request{
			URL: plain.URL + "/repo.git", Dir: filepath.Join(t.TempDir(), "out"), AllowInsecureHTTPCredentials: true,
			Secret: map[string][]byte{"username": []byte("alice"), "password": []byte("pw")},
		})
		if err != nil || art.Revision != want {
			t.Fatalf("opt-in: %+v, %v", art, err)
		}
	})
	t.Run("password in URL redacted", func(t *testing.T) {
		u := strings.Replace(basic.URL, "https://", "https://alice:url-pw-77@", 1) + "/missing.git"
		_, err := Fetch(context.Background(), Request{URL: u, Dir: filepath.Join(t.TempDir(), "out"),
			Secret: map[string][]byte{"ca.crt": basic.caPEM()}})
		if err == nil || strings.Contains(err.Error(), "url-pw-77") {
			t.Fatalf("err = %v: want an error without the password", err)
		}
	})
}

func TestFetchTimeout(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	start := time.Now()
	_, err := Fetch(context.Background(), Request{URL: hang.URL + "/repo.git", Dir: filepath.Join(t.TempDir(), "out"), Timeout: 300 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timeout of 300ms took %s", d)
	}
	if !strings.Contains(err.Error(), "300ms") {
		t.Errorf("error does not say the timeout: %v", err)
	}
}

// TestFetchIsShallow checks that a branch fetch downloads only the tip: a
// large file deleted in an earlier commit must not be transferred, while a
// pinned-commit fetch (full history) does transfer it.
func TestFetchIsShallow(t *testing.T) {
	big := make([]byte, 2<<20)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	work, _ := newWorkRepo(t, map[string]string{"big.bin": string(big), "a.yaml": "x"})
	runGit(t, work, "rm", "-q", "big.bin")
	tip := commitAll(t, work, "drop big")
	root := t.TempDir()
	bareCopy(t, work, root, "repo")
	srv := newGitServer(t, root, false, nil)
	var sent atomic.Int64
	inner := srv.Config.Handler
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := &countingWriter{ResponseWriter: w}
		inner.ServeHTTP(cw, r)
		sent.Add(cw.n)
	})
	if _, err := Fetch(context.Background(), Request{URL: srv.URL + "/repo.git", Dir: filepath.Join(t.TempDir(), "b")}); err != nil {
		t.Fatal(err)
	}
	if n := sent.Load(); n > 1<<20 {
		t.Fatalf("branch fetch transferred %d bytes: not shallow", n)
	}
	sent.Store(0)
	if _, err := Fetch(context.Background(), Request{URL: srv.URL + "/repo.git", Ref: Ref{Commit: tip}, Dir: filepath.Join(t.TempDir(), "c")}); err != nil {
		t.Fatal(err)
	}
	if n := sent.Load(); n < 2<<20 {
		t.Fatalf("full-history fetch transferred only %d bytes; the shallow check above proves nothing", n)
	}
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}
