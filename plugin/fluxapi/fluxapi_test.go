package fluxapi_test

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/plugin/fluxapi"
	"github.com/skiff-dev/skiff/plugin/fluxapi/fluxtest"
)

func TestReadyCells(t *testing.T) {
	if got := fluxapi.ReadyColumn(nil); got != "Unknown" {
		t.Errorf("ReadyColumn(nil) = %q", got)
	}
	if got := fluxapi.ReadyMessage(nil); got != "waiting to be reconciled" {
		t.Errorf("ReadyMessage(nil) = %q", got)
	}
	conds := []metav1.Condition{{Type: "Reconciling", Status: "True"}, {Type: "Ready", Status: "False", Message: "boom"}}
	if fluxapi.ReadyColumn(conds) != "False" || fluxapi.ReadyMessage(conds) != "boom" {
		t.Errorf("ready cells of %v", conds)
	}
}

func TestSuspendRoundTripKeepsOtherFields(t *testing.T) {
	ks := &flux.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "shop"},
		Spec: flux.KustomizationSpec{Path: "./deploy", Prune: true, Interval: flux.Duration{Written: "1m"}}}
	c := fluxapi.Client{Dynamic: fluxtest.NewClient(t, ks)}
	ctx := context.Background()
	if err := c.SetSuspend(ctx, fluxapi.Kustomizations, "default", "shop", true); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetKustomization(ctx, "default", "shop")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Spec.Suspend || got.Spec.Path != "./deploy" || !got.Spec.Prune {
		t.Errorf("after suspend: %+v", got.Spec)
	}
	if err := c.SetSuspend(ctx, fluxapi.Kustomizations, "default", "shop", false); err != nil {
		t.Fatal(err)
	}
	u, err := c.Dynamic.Resource(fluxapi.Kustomizations).Namespace("default").Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, found := u.Object["spec"].(map[string]any)["suspend"]; found {
		t.Errorf("resume left spec.suspend in place: %v", u.Object["spec"])
	}
	if err := c.SetSuspend(ctx, fluxapi.Kustomizations, "default", "nope", true); err == nil {
		t.Error("suspend of a missing object succeeded")
	}
}
