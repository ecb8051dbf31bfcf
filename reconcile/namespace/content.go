package namespace

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Discovery is the part of a discovery client the controller uses.
// client-go's DiscoveryClient implements it.
type Discovery interface {
	ServerPreferredNamespacedResources() ([]*metav1.APIResourceList, error)
}

// deletable is one namespaced resource that supports delete.
type deletable struct {
	gvr   schema.GroupVersionResource
	verbs metav1.Verbs
}

// deletableResources lists the namespaced resources discovery offers
// that support delete, in a stable order. A group version that does not
// parse is reported and skipped.
func deletableResources(lists []*metav1.APIResourceList) ([]deletable, error) {
	var out []deletable
	var bad []string
	for _, l := range lists {
		if l == nil {
			continue
		}
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !r.Namespaced || !slices.Contains(r.Verbs, "delete") {
				continue
			}
			out = append(out, deletable{gvr: gv.WithResource(r.Name), verbs: r.Verbs})
		}
	}
	slices.SortFunc(out, func(a, b deletable) int { return strings.Compare(a.gvr.String(), b.gvr.String()) })
	if len(bad) > 0 {
		return out, fmt.Errorf("%s", strings.Join(bad, ", "))
	}
	return out, nil
}

// deleteContent deletes every object in the namespace, resource by
// resource, and counts what is left. Discovery errors are not fatal:
// what was discovered is still deleted, and the namespace is not
// finalized until a pass is clean.
func (c *Controller) deleteContent(ctx context.Context, ns string) contentResult {
	r := contentResult{remaining: map[schema.GroupVersionResource]int{}, finalizers: map[string]int{}}
	lists, err := c.disc.ServerPreferredNamespacedResources()
	if err != nil {
		r.discoveryErr = err
	}
	resources, err := deletableResources(lists)
	if err != nil {
		r.parseErr = err
	}
	for _, d := range resources {
		left, err := c.deleteResource(ctx, ns, d)
		if err != nil {
			r.deleteErrs = append(r.deleteErrs, err)
		}
		if len(left) == 0 {
			continue
		}
		r.remaining[d.gvr] = len(left)
		for _, o := range left {
			for _, f := range o.Finalizers {
				r.finalizers[f]++
			}
		}
	}
	return r
}

// unsupported: the server does not serve the verb for this resource,
// though discovery said it would (upstream tolerates both answers).
func unsupported(err error) bool {
	return apierrors.IsMethodNotSupported(err) || apierrors.IsNotFound(err)
}

// deleteResource deletes the namespace's objects of one resource and
// returns those left. Listing first keeps a pass cheap: most resources
// are empty, and an object already on its way out is not asked again.
// Deletion is Background, as upstream's: the namespace goes only when
// everything in it is gone, dependents included.
func (c *Controller) deleteResource(ctx context.Context, ns string, d deletable) ([]metav1.PartialObjectMetadata, error) {
	client := c.md.Resource(d.gvr).Namespace(ns)
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &background}
	if !slices.Contains(d.verbs, "list") {
		// Nothing to count: delete what can be deleted and move on.
		if slices.Contains(d.verbs, "deletecollection") {
			if err := client.DeleteCollection(ctx, opts, metav1.ListOptions{}); err != nil && !unsupported(err) {
				return nil, err
			}
		}
		return nil, nil
	}
	list, err := client.List(ctx, metav1.ListOptions{})
	if unsupported(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(list.Items, func(o metav1.PartialObjectMetadata) bool { return o.DeletionTimestamp == nil }) {
		return list.Items, pendingErr(ns, d.gvr, list.Items)
	}
	collected := false
	if slices.Contains(d.verbs, "deletecollection") {
		err := client.DeleteCollection(ctx, opts, metav1.ListOptions{})
		if err != nil && !unsupported(err) {
			return list.Items, err
		}
		collected = err == nil
	}
	if !collected {
		for _, o := range list.Items {
			if o.DeletionTimestamp != nil {
				continue
			}
			if err := client.Delete(ctx, o.Name, opts); err != nil && !unsupported(err) {
				return list.Items, err
			}
		}
	}
	c.log.Info("deleted namespace content", "namespace", ns, "resource", d.gvr.GroupResource().String(), "objects", len(list.Items))
	list, err = client.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return list.Items, pendingErr(ns, d.gvr, list.Items)
}

// pendingErr accounts for objects still there after their deletion:
// waiting on finalizers or on a graceful termination (a pod on a node,
// which its node agent completes) is normal; anything else is not, as
// upstream judges.
func pendingErr(ns string, gvr schema.GroupVersionResource, left []metav1.PartialObjectMetadata) error {
	for _, o := range left {
		graceful := o.DeletionTimestamp != nil && o.DeletionGracePeriodSeconds != nil && *o.DeletionGracePeriodSeconds > 0
		if len(o.Finalizers) == 0 && !graceful {
			return fmt.Errorf("unexpected items still remain in namespace: %s for gvr: %v", ns, gvr)
		}
	}
	return nil
}
