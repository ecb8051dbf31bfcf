package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fluxObjects is what a Flux user applies: a source, a Kustomization of
// it and a webhook Receiver, written as for real Flux.
const fluxObjects = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: shop
spec:
  url: https://example.com/me/shop.git
  ref:
    branch: main
  interval: 1m
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: shop
spec:
  sourceRef:
    kind: GitRepository
    name: shop
  path: ./deploy
  prune: true
  wait: true
  interval: 10m
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: github
spec:
  type: github
  events: ["push"]
  secretRef:
    name: webhook-token
  resources:
  - kind: GitRepository
    name: shop
`

const invalidGitRepository = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: bad
spec:
  url: ftp://example.com/me/shop.git
  interval: 1m
`

const invalidReceiver = `apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: bad
spec:
  type: gitea
  secretRef:
    name: webhook-token
  resources: []
`

// TestFluxTypes drives Flux's GitRepository, Kustomization and Receiver
// through the stock kubectl, oldest and newest supported, as a Flux user
// would on a real cluster: apply, get with Flux's columns and short names,
// describe, a refused invalid object, a status written through the status
// subresource that `kubectl wait` sees, explain, edit and delete.
func TestFluxTypes(t *testing.T) {
	// The API alone: the GitOps controllers would fill in status (and try
	// to fetch example.com) under the test's feet.
	s := startServer(t, "--controllers=*,-gitrepository,-kustomization,-receiver")
	t.Run("a client preferring protobuf gets JSON", func(t *testing.T) {
		// client-go's typed clients ask for protobuf first; Flux's types
		// have no protobuf encoding, so JSON (listed second) answers, as
		// kube-apiserver answers for custom resources. A protobuf body is
		// refused with 415.
		c := newAPIClient(t, s)
		hdr := map[string]string{"Accept": "application/vnd.kubernetes.protobuf, application/json"}
		r := c.do("GET", "/apis/source.toolkit.fluxcd.io/v1/namespaces/default/gitrepositories", "", nil, hdr)
		if r.code != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") || !strings.Contains(string(r.body), `"GitRepositoryList"`) {
			t.Fatalf("list: %d %s %s", r.code, r.header.Get("Content-Type"), r.body)
		}
		r = c.do("POST", "/apis/source.toolkit.fluxcd.io/v1/namespaces/default/gitrepositories", "application/vnd.kubernetes.protobuf", []byte("k8s\x00"), nil)
		if r.code != 415 {
			t.Fatalf("protobuf body: %d %s, want 415", r.code, r.body)
		}
	})
	t.Run("generation follows the spec, as for custom resources", func(t *testing.T) {
		c := newAPIClient(t, s)
		base := "/apis/source.toolkit.fluxcd.io/v1/namespaces/default/gitrepositories"
		gen := func(r reply) string {
			t.Helper()
			var m struct {
				Metadata struct {
					Generation int64 `json:"generation"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(r.body, &m); err != nil || r.code/100 != 2 {
				t.Fatalf("%d %s", r.code, r.body)
			}
			return fmt.Sprint(m.Metadata.Generation)
		}
		body := `{"apiVersion":"source.toolkit.fluxcd.io/v1","kind":"GitRepository","metadata":{"name":"gen"},"spec":{"url":"https://example.com/x.git","interval":"1m"}}`
		if g := gen(c.do("POST", base, "application/json", []byte(body), nil)); g != "1" {
			t.Errorf("generation after create: %s, want 1", g)
		}
		if g := gen(c.do("PATCH", base+"/gen", "application/merge-patch+json", []byte(`{"spec":{"interval":"2m"}}`), nil)); g != "2" {
			t.Errorf("generation after a spec change: %s, want 2", g)
		}
		if g := gen(c.do("PATCH", base+"/gen", "application/merge-patch+json", []byte(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":"now"}}}`), nil)); g != "2" {
			t.Errorf("generation after an annotation: %s, want 2 (unchanged)", g)
		}
	})
	for _, minor := range []string{"1.27", "1.33"} {
		t.Run(minor, func(t *testing.T) {
			k := newKubectl(t, s, minor)
			ns := "flux-" + strings.ReplaceAll(minor, ".", "-")
			dir := t.TempDir()
			write := func(name, content string) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			}
			n := func(args ...string) []string { return append(args, "-n", ns) }
			k.must("create", "namespace", ns)

			objects := write("flux.yaml", fluxObjects)
			out := k.must(n("apply", "-f", objects)...)
			for _, want := range []string{
				"gitrepository.source.toolkit.fluxcd.io/shop created",
				"kustomization.kustomize.toolkit.fluxcd.io/shop created",
				"receiver.notification.toolkit.fluxcd.io/github created",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("apply printed %q, want %q", out, want)
				}
			}
			// Applying again changes nothing.
			if out := k.must(n("apply", "-f", objects)...); strings.Count(out, "unchanged") != 3 {
				t.Errorf("second apply printed %q, want three unchanged", out)
			}

			// Flux's columns, for all three kinds in one command.
			out = k.must(n("get", "gitrepositories,kustomizations,receivers")...)
			for _, want := range []string{
				`(?m)^NAME\s+URL\s+AGE\s+READY\s+STATUS$`,
				`(?m)^gitrepository\.source\.toolkit\.fluxcd\.io/shop\s+https://example\.com/me/shop\.git\s+\d+s\s*$`,
				`(?m)^NAME\s+AGE\s+READY\s+STATUS$`,
				`(?m)^kustomization\.kustomize\.toolkit\.fluxcd\.io/shop\s+\d+s\s*$`,
				`(?m)^receiver\.notification\.toolkit\.fluxcd\.io/github\s+\d+s\s*$`,
			} {
				if !regexp.MustCompile(want).MatchString(out) {
					t.Errorf("get printed\n%s\nwant a line matching %s", out, want)
				}
			}
			// Short names, and the defaults Flux's CRDs declare, spelled as
			// there; durations read back as written.
			if out := k.must(n("get", "gitrepo", "shop", "-o", "jsonpath={.spec.timeout}/{.spec.interval}")...); out != "60s/1m" {
				t.Errorf("spec.timeout %q, want the default 60s", out)
			}
			if out := k.must(n("get", "ks", "shop", "-o", "jsonpath={.spec.sourceRef.name}/{.spec.prune}")...); out != "shop/true" {
				t.Errorf("kustomization via ks: %q", out)
			}
			if out := k.must(n("get", "receivers", "github", "-o", "jsonpath={.spec.interval}")...); out != "10m" {
				t.Errorf("receiver spec.interval %q, want the default 10m", out)
			}
			out = k.must(n("describe", "gitrepository", "shop")...)
			if !regexp.MustCompile(`(?s)Kind:\s+GitRepository.*Ref:\s+Branch:\s+main`).MatchString(out) {
				t.Errorf("describe printed\n%s", out)
			}

			// Invalid objects are refused with 422 naming the field.
			for file, want := range map[string]string{
				write("bad-gitrepo.yaml", invalidGitRepository): `The GitRepository "bad" is invalid: spec.url: Invalid value: "ftp://example.com/me/shop.git"`,
				write("bad-receiver.yaml", invalidReceiver):     `The Receiver "bad" is invalid: spec.type: Unsupported value: "gitea"`,
			} {
				_, errOut, code := k.run(n("create", "-f", file, "-v=6")...)
				if code == 0 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "422 Unprocessable Entity") {
					t.Errorf("create %s: exit %d\n%s\nwant a 422 saying %s", filepath.Base(file), code, tail(errOut, 2000), want)
				}
			}
			if _, _, code := k.run(n("get", "gitrepo", "bad")...); code == 0 {
				t.Error("the invalid GitRepository was stored")
			}

			// No Ready condition yet: wait times out.
			if _, _, code := k.run(n("wait", "--for=condition=Ready", "kustomization/shop", "--timeout=1s")...); code == 0 {
				t.Error("wait for Ready succeeded before any status was written")
			}
			// A controller's status write, through the status subresource,
			// releases a waiting kubectl.
			type result struct {
				out, errOut string
				code        int
			}
			waited := make(chan result, 1)
			go func() {
				out, errOut, code := k.run(n("wait", "--for=condition=Ready", "kustomization/shop", "--timeout=30s")...)
				waited <- result{out, errOut, code}
			}()
			time.Sleep(time.Second)
			status := `{"status":{"observedGeneration":1,"lastAppliedRevision":"main@sha1:1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c",` +
				`"conditions":[{"type":"Ready","status":"True","reason":"ReconciliationSucceeded",` +
				`"message":"Applied revision: main@sha1:1f2e3d4c","lastTransitionTime":"2025-06-01T12:00:00Z"}]}}`
			k.must(n("patch", "kustomization", "shop", "--subresource=status", "--type=merge", "-p", status)...)
			select {
			case r := <-waited:
				if r.code != 0 || !strings.Contains(r.out, "kustomization.kustomize.toolkit.fluxcd.io/shop condition met") {
					t.Errorf("wait: exit %d\n%s%s", r.code, r.out, r.errOut)
				}
			case <-time.After(40 * time.Second):
				t.Fatal("kubectl wait did not return")
			}
			out = k.must(n("get", "ks", "shop")...)
			if !regexp.MustCompile(`(?m)^shop\s+\d+s\s+True\s+Applied revision: main@sha1:1f2e3d4c$`).MatchString(out) {
				t.Errorf("get ks after the status write:\n%s", out)
			}
			// The main resource cannot write status.
			k.must(n("patch", "kustomization", "shop", "--type=merge", "-p", `{"status":{"lastAppliedRevision":"forged"}}`)...)
			if out := k.must(n("get", "ks", "shop", "-o", "jsonpath={.status.lastAppliedRevision}")...); !strings.HasPrefix(out, "main@sha1:") {
				t.Errorf("status changed through the main resource: %q", out)
			}
			// A malformed condition is refused on the status subresource too.
			bad := `{"status":{"conditions":[{"type":"Ready","status":"Yes","reason":"X","message":"","lastTransitionTime":"2025-06-01T12:00:00Z"}]}}`
			if _, errOut, code := k.run(n("patch", "ks", "shop", "--subresource=status", "--type=merge", "-p", bad)...); code == 0 ||
				!strings.Contains(errOut, "status.conditions[0].status") {
				t.Errorf("malformed condition: exit %d %s", code, errOut)
			}

			// explain reads the served OpenAPI.
			out = k.must("explain", "kustomization.spec.prune")
			if !strings.Contains(out, "KIND:       Kustomization") && !strings.Contains(out, "KIND:     Kustomization") {
				t.Errorf("explain kustomization.spec.prune:\n%s", out)
			}
			if !strings.Contains(out, "prune") || !strings.Contains(out, "Prune deletes the objects") {
				t.Errorf("explain kustomization.spec.prune:\n%s", out)
			}
			out = k.must("explain", "gitrepository.spec.ref")
			for _, f := range []string{"branch", "tag", "semver", "name", "commit"} {
				if !regexp.MustCompile(`(?m)^\s+` + f + `\s+<string>`).MatchString(out) {
					t.Errorf("explain gitrepository.spec.ref lacks %s:\n%s", f, out)
				}
			}

			// edit with a scripted editor.
			editor := write("editor.sh", "#!/bin/sh\nsed -i 's/interval: 1m$/interval: 5m/' \"$1\"\n")
			if err := os.Chmod(editor, 0o755); err != nil {
				t.Fatal(err)
			}
			k.env = []string{"EDITOR=" + editor, "KUBE_EDITOR=" + editor}
			out = k.must(n("edit", "gitrepository", "shop")...)
			k.env = nil
			if !strings.Contains(out, "gitrepository.source.toolkit.fluxcd.io/shop edited") {
				t.Errorf("edit printed %q", out)
			}
			if out := k.must(n("get", "gitrepo", "shop", "-o", "jsonpath={.spec.interval}")...); out != "5m" {
				t.Errorf("after edit, interval is %q", out)
			}

			out = k.must(n("delete", "-f", objects)...)
			if strings.Count(out, "deleted") != 3 {
				t.Errorf("delete printed %q", out)
			}
			_, errOut, _ := k.run(n("get", "gitrepositories,kustomizations,receivers")...)
			if !strings.Contains(errOut, "No resources found") {
				t.Errorf("after delete: %q", errOut)
			}
		})
	}
}
