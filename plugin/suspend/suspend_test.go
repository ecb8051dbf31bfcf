package suspend

import (
	"bytes"
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/plugin/fluxapi"
	"github.com/skiff-dev/skiff/plugin/fluxapi/fluxtest"
)

func setup(t *testing.T) fluxapi.Client {
	repo := &flux.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: "src", Name: "repo"}}
	ks := &flux.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "shop"},
		Spec: flux.KustomizationSpec{SourceRef: flux.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "repo", Namespace: "src"}}}
	return fluxapi.Client{Dynamic: fluxtest.NewClient(t, repo, ks)}
}

func state(t *testing.T, c fluxapi.Client) (ksSuspended, repoSuspended bool, ksReq, repoReq string) {
	t.Helper()
	ks, err := c.GetKustomization(context.Background(), "default", "shop")
	if err != nil {
		t.Fatal(err)
	}
	repo, err := c.GetGitRepository(context.Background(), "src", "repo")
	if err != nil {
		t.Fatal(err)
	}
	return ks.Spec.Suspend, repo.Spec.Suspend, ks.Annotations[fluxapi.ReconcileRequestAnnotation], repo.Annotations[fluxapi.ReconcileRequestAnnotation]
}

func TestSuspendResumeWithSource(t *testing.T) {
	c := setup(t)
	var out bytes.Buffer
	streams := genericiooptions.IOStreams{Out: &out, ErrOut: &out}
	ctx := context.Background()

	only := &options{streams: streams, suspend: true}
	if err := only.run(ctx, c, "default", fluxapi.Kustomizations, "shop", time.Now()); err != nil {
		t.Fatal(err)
	}
	if ks, repo, _, _ := state(t, c); !ks || repo {
		t.Errorf("suspend without --source: kustomization %v, gitrepository %v; want true, false", ks, repo)
	}
	both := &options{streams: streams, suspend: true, source: true}
	if err := both.run(ctx, c, "default", fluxapi.Kustomizations, "shop", time.Now()); err != nil {
		t.Fatal(err)
	}
	if ks, repo, _, _ := state(t, c); !ks || !repo {
		t.Errorf("suspend --source: kustomization %v, gitrepository %v; want both true", ks, repo)
	}
	resume := &options{streams: streams, source: true}
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	if err := resume.run(ctx, c, "default", fluxapi.Kustomizations, "shop", at); err != nil {
		t.Fatal(err)
	}
	ks, repo, ksReq, repoReq := state(t, c)
	if ks || repo {
		t.Errorf("resume --source: kustomization %v, gitrepository %v; want both false", ks, repo)
	}
	if want := fluxapi.NewRequestToken(at); ksReq != want || repoReq != want {
		t.Errorf("resume requests: %q, %q; want %q on both", ksReq, repoReq, want)
	}
	want := "► kustomization/shop suspended (namespace default)\n" +
		"► gitrepository/repo suspended (namespace src)\n► kustomization/shop suspended (namespace default)\n" +
		"► kustomization/shop resumed (namespace default)\n► gitrepository/repo resumed (namespace src)\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		ok   bool
	}{
		{[]string{"shop"}, "kustomizations", true},
		{[]string{"ks", "shop"}, "kustomizations", true},
		{[]string{"gitrepository", "shop"}, "gitrepositories", true},
		{[]string{"source", "shop"}, "gitrepositories", true},
		{[]string{"helmrelease", "shop"}, "", false},
	} {
		gvr, name, err := parseArgs(tc.args)
		if (err == nil) != tc.ok || (tc.ok && (gvr.Resource != tc.want || name != "shop")) {
			t.Errorf("parseArgs(%q) = %v %q %v", tc.args, gvr, name, err)
		}
	}
	o := &options{streams: genericiooptions.NewTestIOStreamsDiscard(), suspend: true, source: true}
	if err := o.run(context.Background(), setup(t), "src", fluxapi.GitRepositories, "repo", time.Now()); err == nil {
		t.Error("--source on a gitrepository succeeded")
	}
	if err := o.run(context.Background(), setup(t), "default", fluxapi.Kustomizations, "nope", time.Now()); err == nil {
		t.Error("suspend of a missing kustomization succeeded")
	}
}
