package fluxapi

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"

	"github.com/skiff-dev/skiff/manifests/flux"
)

// The resources, as the API serves them.
var (
	GitRepositories = flux.SourceGroupVersion.WithResource("gitrepositories")
	Kustomizations  = flux.KustomizeGroupVersion.WithResource("kustomizations")
)

// ReconcileRequestAnnotation asks Flux's controllers (and Skiff's gitsync)
// to reconcile now; its value comes back in status.lastHandledReconcileAt.
const ReconcileRequestAnnotation = "reconcile.fluxcd.io/requestedAt"

// Client reads and patches Flux objects.
type Client struct {
	Dynamic dynamic.Interface
}

// ListKustomizations lists Kustomizations in ns ("" for every namespace)
// and returns both the typed objects and the raw ones (for -o json|yaml).
func (c Client) ListKustomizations(ctx context.Context, ns string) ([]flux.Kustomization, []*unstructured.Unstructured, error) {
	raw, err := c.list(ctx, Kustomizations, ns)
	if err != nil {
		return nil, nil, err
	}
	out := make([]flux.Kustomization, len(raw))
	for i, u := range raw {
		if err := FromUnstructured(u, &out[i]); err != nil {
			return nil, nil, err
		}
	}
	return out, raw, nil
}

// ListGitRepositories lists GitRepositories in ns ("" for every namespace).
func (c Client) ListGitRepositories(ctx context.Context, ns string) ([]flux.GitRepository, []*unstructured.Unstructured, error) {
	raw, err := c.list(ctx, GitRepositories, ns)
	if err != nil {
		return nil, nil, err
	}
	out := make([]flux.GitRepository, len(raw))
	for i, u := range raw {
		if err := FromUnstructured(u, &out[i]); err != nil {
			return nil, nil, err
		}
	}
	return out, raw, nil
}

func (c Client) list(ctx context.Context, gvr schema.GroupVersionResource, ns string) ([]*unstructured.Unstructured, error) {
	l, err := c.Dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", gvr.GroupResource(), err)
	}
	out := make([]*unstructured.Unstructured, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out, nil
}

// GetKustomization reads one Kustomization.
func (c Client) GetKustomization(ctx context.Context, ns, name string) (*flux.Kustomization, error) {
	ks := &flux.Kustomization{}
	return ks, c.get(ctx, Kustomizations, ns, name, ks)
}

// GetGitRepository reads one GitRepository.
func (c Client) GetGitRepository(ctx context.Context, ns, name string) (*flux.GitRepository, error) {
	repo := &flux.GitRepository{}
	return repo, c.get(ctx, GitRepositories, ns, name, repo)
}

func (c Client) get(ctx context.Context, gvr schema.GroupVersionResource, ns, name string, into any) error {
	u, err := c.Dynamic.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get %s %s/%s: %w", gvr.GroupResource(), ns, name, err)
	}
	return FromUnstructured(u, into)
}

// SetSuspend sets or clears spec.suspend with a merge patch, so nothing
// else a controller or user wrote is overwritten.
func (c Client) SetSuspend(ctx context.Context, gvr schema.GroupVersionResource, ns, name string, suspend bool) error {
	spec := map[string]any{"suspend": suspend}
	if !suspend {
		spec["suspend"] = nil // the field is omitempty: absent is false
	}
	return c.patch(ctx, gvr, ns, name, map[string]any{"spec": spec})
}

// RequestReconcile sets the reconcile request annotation to token.
func (c Client) RequestReconcile(ctx context.Context, gvr schema.GroupVersionResource, ns, name, token string) error {
	return c.patch(ctx, gvr, ns, name, map[string]any{"metadata": map[string]any{"annotations": map[string]any{ReconcileRequestAnnotation: token}}})
}

func (c Client) patch(ctx context.Context, gvr schema.GroupVersionResource, ns, name string, patch map[string]any) error {
	b, err := json.Marshal(patch)
	if err != nil {
		return fmt.Errorf("encode patch: %w", err)
	}
	if _, err := c.Dynamic.Resource(gvr).Namespace(ns).Patch(ctx, name, types.MergePatchType, b, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patch %s %s/%s: %w", gvr.GroupResource(), ns, name, err)
	}
	return nil
}

// FromUnstructured converts an object read through the dynamic client
// into one of the flux types.
func FromUnstructured(u *unstructured.Unstructured, into any) error {
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
		return fmt.Errorf("decode %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return nil
}

// Ready returns the Ready condition, or nil when the controller has not
// written one yet.
func Ready(conds []metav1.Condition) *metav1.Condition {
	return meta.FindStatusCondition(conds, "Ready")
}

// ReadyColumn is the READY cell kubectl and flux print: True, False,
// Unknown, or Unknown when no controller has reported.
func ReadyColumn(conds []metav1.Condition) string {
	if c := Ready(conds); c != nil {
		return string(c.Status)
	}
	return string(metav1.ConditionUnknown)
}

// ReadyMessage is the Ready condition's message, or a note that no
// controller has reported on the object yet.
func ReadyMessage(conds []metav1.Condition) string {
	if c := Ready(conds); c != nil {
		return c.Message
	}
	return "waiting to be reconciled"
}

// NewRequestToken is a reconcile request value as flux writes it.
func NewRequestToken(now time.Time) string {
	return now.Format(time.RFC3339Nano)
}

// FromFlags builds a Client from kubectl's flags and returns the namespace
// they select (-n, else the context's, else "default").
func FromFlags(g genericclioptions.RESTClientGetter) (Client, string, error) {
	cfg, err := g.ToRESTConfig()
	if err != nil {
		return Client{}, "", fmt.Errorf("client configuration: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return Client{}, "", fmt.Errorf("dynamic client: %w", err)
	}
	ns, _, err := g.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return Client{}, "", fmt.Errorf("namespace: %w", err)
	}
	return Client{Dynamic: dyn}, ns, nil
}

// Names lists the names of one kind in ns, for shell completion.
func (c Client) Names(ctx context.Context, gvr schema.GroupVersionResource, ns string) ([]string, error) {
	items, err := c.list(ctx, gvr, ns)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(items))
	for i, u := range items {
		out[i] = u.GetName()
	}
	return out, nil
}
