package sources

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/plugin/fluxapi"
	"github.com/skiff-dev/skiff/plugin/fluxapi/fluxtest"
	"github.com/skiff-dev/skiff/plugin/output"
)

func TestList(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	created := metav1.NewTime(now.Add(-90 * time.Second))
	repo := &flux.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "shop", CreationTimestamp: created},
		Spec: flux.GitRepositorySpec{URL: "https://git.example.com/shop.git", Reference: &flux.GitRepositoryRef{Branch: "main"}},
		Status: flux.GitRepositoryStatus{Artifact: &flux.Artifact{Revision: "main@sha1:abc"},
			Conditions: []metav1.Condition{{Type: "Ready", Status: "True", Message: "stored artifact"}}}}
	ks := &flux.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "shop", CreationTimestamp: created},
		Spec:   flux.KustomizationSpec{Path: "./deploy", Suspend: true, SourceRef: flux.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "shop"}},
		Status: flux.KustomizationStatus{Conditions: []metav1.Condition{{Type: "Ready", Status: "False", Message: "deploy/a.yaml:3: bad\n  context"}}}}
	other := &flux.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "api", CreationTimestamp: created}}
	c := fluxapi.Client{Dynamic: fluxtest.NewClient(t, ks, repo, other)}

	for _, tc := range []struct {
		name string
		ns   string
		f    output.Format
		want string
	}{
		{"table", "default", output.Table, `KIND            NAME   REVISION        READY   MESSAGE                           AGE
GitRepository   shop   main@sha1:abc   True    stored artifact                   90s
Kustomization   shop   -               False   deploy/a.yaml:3: bad (+1 lines)   90s
`},
		{"wide, all namespaces", "", output.Wide, `NAMESPACE   KIND            NAME   REVISION        READY     MESSAGE                           AGE   SUSPENDED   FROM
default     GitRepository   shop   main@sha1:abc   True      stored artifact                   90s   false       https://git.example.com/shop.git@main
default     Kustomization   shop   -               False     deploy/a.yaml:3: bad (+1 lines)   90s   true        GitRepository/shop:./deploy
team        Kustomization   api    -               Unknown   waiting to be reconciled          90s   false       -
`},
		{"name", "default", output.Name, "gitrepository.source.toolkit.fluxcd.io/shop\nkustomization.kustomize.toolkit.fluxcd.io/shop\n"},
		{"empty namespace", "nothing", output.Table, "No sources found in nothing namespace.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := list(context.Background(), &b, c, tc.ns, tc.f, now); err != nil {
				t.Fatal(err)
			}
			if b.String() != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), tc.want)
			}
		})
	}
	var b bytes.Buffer
	if err := list(context.Background(), &b, c, "default", output.YAML, now); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "apiVersion: v1\nitems:\n- apiVersion: source.toolkit.fluxcd.io/v1\n") || !strings.Contains(b.String(), "kind: List") {
		t.Errorf("yaml:\n%s", b.String())
	}
}
