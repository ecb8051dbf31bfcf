package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestGitSyncRefusesOutsideRoot: a repository holding symlinks that lead
// out of it (one to /etc/passwd, one to a manifest elsewhere on the
// server's disk), and a Kustomization whose path is ../.., are refused
// with an "outside repository root" condition, and nothing outside the
// repository is read: the manifest outside would become a ConfigMap if it
// were, and the repository's own objects are not applied either.
func TestGitSyncRefusesOutsideRoot(t *testing.T) {
	e := newGitsyncEnv(t)
	ctx := context.Background()
	outside := filepath.Join(t.TempDir(), "outside.yaml")
	writeFile(t, outside, configMap("leaked", "read from outside the repository"))
	notThere := func(name string) {
		t.Helper()
		if _, err := e.cs.CoreV1().ConfigMaps("default").Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ConfigMap %s: %v, want NotFound", name, err)
		}
	}
	readyFalse := func(gvrName, name string, want ...string) {
		t.Helper()
		gvr := gitRepoGVR
		if gvrName == "kustomization" {
			gvr = ksGVR
		}
		eventually(t, 30*time.Second, func() error {
			st, reason, msg := cond(e.get(gvr, name), "Ready")
			if st != "False" {
				return fmt.Errorf("%s/%s Ready=%q %s %q, want False", gvrName, name, st, reason, msg)
			}
			for _, w := range want {
				if !strings.Contains(msg, w) {
					return fmt.Errorf("%s/%s Ready=False %s %q, want it to name %q", gvrName, name, reason, msg, w)
				}
			}
			return nil
		})
	}

	t.Run("symlinks to /etc/passwd and to a file outside", func(t *testing.T) {
		repo := newGitRepo(t)
		writeFile(t, filepath.Join(repo.dir, "deploy", "inside.yaml"), configMap("links-inside", "one"))
		for name, target := range map[string]string{"passwd.yaml": "/etc/passwd", "outside.yaml": outside} {
			if err := os.Symlink(target, filepath.Join(repo.dir, "deploy", name)); err != nil {
				t.Fatal(err)
			}
		}
		repo.git("add", "-A")
		repo.git("commit", "-q", "-m", "links out of the repository")
		e.apply(gitRepositoryYAML("links", "file://"+repo.dir, "") + "---\n" + kustomizationYAML("links", "links", "./deploy", ""))
		readyFalse("gitrepository", "links", "outside repository root")
		// The Kustomization never gets an artifact to apply.
		if st, _, _ := cond(e.get(ksGVR, "links"), "Ready"); st == "True" {
			t.Error("the Kustomization of a refused source is Ready")
		}
		time.Sleep(time.Second)
		notThere("links-inside")
		notThere("leaked")
	})

	t.Run("a Kustomization whose path is ../..", func(t *testing.T) {
		repo := newGitRepo(t)
		head := repo.commit("clean", map[string]string{"deploy/inside.yaml": configMap("escape-inside", "one")})
		e.apply(gitRepositoryYAML("clean", "file://"+repo.dir, "") + "---\n" + kustomizationYAML("escape", "clean", "../..", ""))
		eventually(t, 30*time.Second, func() error {
			if got := str(e.get(gitRepoGVR, "clean"), "status", "artifact", "revision"); got != "master@sha1:"+head {
				return fmt.Errorf("artifact revision %q", got)
			}
			return nil
		})
		readyFalse("kustomization", "escape", "outside repository root")
		time.Sleep(time.Second)
		notThere("escape-inside")
		notThere("leaked")
		if inv := inventoryIDs(e.get(ksGVR, "escape")); len(inv) != 0 {
			t.Errorf("inventory %v, want none", inv)
		}
	})
}
