package gc

import (
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// objectRef names one object: its coordinates and its UID.
type objectRef struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	UID        types.UID
}

func (r objectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// node is one object in the graph. A virtual node stands for an owner
// that some dependent names but no informer has shown (yet): it may
// exist in a type not watched, or not exist at all, which only a live
// read can tell.
type node struct {
	ref     objectRef
	gvr     schema.GroupVersionResource // zero for virtual nodes
	virtual bool
	owners  []metav1.OwnerReference
	// dependents are the UIDs of the observed nodes that list this
	// node among their owners.
	dependents map[types.UID]struct{}

	beingDeleted bool
	// deletingDependents: a foreground deletion waits on this object's
	// dependents (deletionTimestamp and the foregroundDeletion finalizer).
	deletingDependents bool
	// orphaning: an orphan deletion waits for the references to this
	// object to be removed (deletionTimestamp and the orphan finalizer).
	orphaning bool
}

// graph is the owner → dependents graph of every watched object, keyed by
// UID. It does no I/O and takes no locks: the controller serialises
// access. Its mutators return the UIDs whose state may now call for work.
type graph struct {
	nodes map[types.UID]*node
}

func newGraph() *graph { return &graph{nodes: map[types.UID]*node{}} }

// observation is what an informer reports about one object.
type observation struct {
	ref        objectRef
	gvr        schema.GroupVersionResource
	owners     []metav1.OwnerReference
	deleting   bool
	finalizers []string
}

// uidSet collects UIDs to enqueue, in first-added order.
type uidSet struct {
	seen  map[types.UID]bool
	order []types.UID
}

func (s *uidSet) add(u types.UID) {
	if s.seen == nil {
		s.seen = map[types.UID]bool{}
	}
	if !s.seen[u] {
		s.seen[u] = true
		s.order = append(s.order, u)
	}
}

// observe records an added or updated object.
func (g *graph) observe(o observation) []types.UID {
	var out uidSet
	uid := o.ref.UID
	n, found := g.nodes[uid]
	if found && n.virtual {
		n.virtual = false
		// Dependents that named this object by other coordinates
		// re-check their references with live reads.
		for _, du := range sortedUIDs(n.dependents) {
			d := g.nodes[du]
			for _, r := range d.owners {
				if r.UID == uid && !refMatches(r, o.ref, d.ref.Namespace) {
					out.add(du)
				}
			}
		}
	}
	if !found {
		n = &node{dependents: map[types.UID]struct{}{}}
		g.nodes[uid] = n
	}
	n.ref, n.gvr = o.ref, o.gvr

	added, removed, changed := diffOwners(n.owners, o.owners)
	for _, r := range removed {
		g.unlink(uid, r.UID)
		// The owner may have been waiting on this reference.
		if blocks(r) && g.nodes[r.UID] != nil {
			out.add(r.UID)
		}
	}
	for _, c := range changed {
		if blocks(c[0]) && !blocks(c[1]) && g.nodes[c[1].UID] != nil {
			out.add(c[1].UID)
		}
	}
	n.owners = slices.Clone(o.owners)
	for _, r := range added {
		owner, ok := g.nodes[r.UID]
		if !ok {
			owner = &node{
				ref:        objectRef{APIVersion: r.APIVersion, Kind: r.Kind, Namespace: o.ref.Namespace, Name: r.Name, UID: r.UID},
				virtual:    true,
				dependents: map[types.UID]struct{}{},
			}
			g.nodes[r.UID] = owner
			// Only a live read tells whether this owner exists.
			out.add(r.UID)
		}
		owner.dependents[uid] = struct{}{}
		switch {
		case !ok:
		case owner.deletingDependents:
			// A dependent that appeared during a foreground deletion
			// is deleted as well.
			out.add(uid)
		case owner.orphaning:
			out.add(r.UID)
		case !owner.virtual && !refMatches(r, owner.ref, o.ref.Namespace):
			// The reference names the owner's UID with other
			// coordinates (or across namespaces): it may be dangling.
			out.add(uid)
		}
	}

	wasDeletingDependents, wasOrphaning := n.deletingDependents, n.orphaning
	n.beingDeleted = o.deleting
	n.deletingDependents = o.deleting && slices.Contains(o.finalizers, metav1.FinalizerDeleteDependents)
	n.orphaning = o.deleting && slices.Contains(o.finalizers, metav1.FinalizerOrphanDependents)
	if n.orphaning && !wasOrphaning {
		out.add(uid)
	}
	if n.deletingDependents && !wasDeletingDependents {
		out.add(uid)
		// Sorted, as everywhere else in the graph: the queue order (and
		// the test that pins it) must not hang on map iteration.
		for _, d := range sortedUIDs(n.dependents) {
			out.add(d)
		}
	}
	return out.order
}

// remove records that an object is gone: its dependents may now be
// garbage, and owners waiting on it in a foreground deletion may finish.
func (g *graph) remove(uid types.UID) []types.UID {
	var out uidSet
	n, ok := g.nodes[uid]
	if !ok {
		return nil
	}
	delete(g.nodes, uid)
	for _, r := range n.owners {
		g.unlink(uid, r.UID)
		if o := g.nodes[r.UID]; o != nil && o.deletingDependents {
			out.add(r.UID)
		}
	}
	for _, d := range sortedUIDs(n.dependents) {
		out.add(d)
	}
	return out.order
}

// removeAbsent drops a virtual node whose object a live read found
// absent, and returns its dependents, whose references now dangle. An
// observed node is left alone: the informer knows better.
func (g *graph) removeAbsent(uid types.UID) []types.UID {
	n, ok := g.nodes[uid]
	if !ok || !n.virtual {
		return nil
	}
	delete(g.nodes, uid)
	return sortedUIDs(n.dependents)
}

// unlink removes dependent from owner's dependents; a virtual owner left
// with no dependents has no reason to stay in the graph.
func (g *graph) unlink(dependent, owner types.UID) {
	o, ok := g.nodes[owner]
	if !ok {
		return
	}
	delete(o.dependents, dependent)
	if o.virtual && len(o.dependents) == 0 {
		delete(g.nodes, owner)
	}
}

// dependentView is what processing an owner needs to know of one dependent.
type dependentView struct {
	ref objectRef
	gvr schema.GroupVersionResource
	// blocking: the dependent's reference to the owner has
	// blockOwnerDeletion, so a foreground deletion waits for it.
	blocking           bool
	deletingDependents bool
}

// nodeView is a copy of a node, safe to use without the graph's lock.
type nodeView struct {
	ref                                                  objectRef
	gvr                                                  schema.GroupVersionResource
	virtual, beingDeleted, deletingDependents, orphaning bool
	hasOwners                                            bool
	dependents                                           []dependentView
}

// view returns a copy of the node with uid.
func (g *graph) view(uid types.UID) (nodeView, bool) {
	n, ok := g.nodes[uid]
	if !ok {
		return nodeView{}, false
	}
	v := nodeView{ref: n.ref, gvr: n.gvr, virtual: n.virtual, beingDeleted: n.beingDeleted,
		deletingDependents: n.deletingDependents, orphaning: n.orphaning, hasOwners: len(n.owners) > 0}
	for _, du := range sortedUIDs(n.dependents) {
		d := g.nodes[du]
		if d == nil {
			continue
		}
		dv := dependentView{ref: d.ref, gvr: d.gvr, deletingDependents: d.deletingDependents}
		for _, r := range d.owners {
			if r.UID == uid && blocks(r) {
				dv.blocking = true
			}
		}
		v.dependents = append(v.dependents, dv)
	}
	return v, true
}

// isVirtual reports whether uid is in the graph as a virtual node.
func (g *graph) isVirtual(uid types.UID) bool {
	n, ok := g.nodes[uid]
	return ok && n.virtual
}

func blocks(r metav1.OwnerReference) bool {
	return r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion
}

// diffOwners compares two owner reference lists by UID; changed holds
// (old, new) pairs of references whose other fields differ.
func diffOwners(old, cur []metav1.OwnerReference) (added, removed []metav1.OwnerReference, changed [][2]metav1.OwnerReference) {
	oldByUID := make(map[types.UID]metav1.OwnerReference, len(old))
	for _, r := range old {
		oldByUID[r.UID] = r
	}
	seen := map[types.UID]bool{}
	for _, r := range cur {
		if seen[r.UID] {
			continue
		}
		seen[r.UID] = true
		o, ok := oldByUID[r.UID]
		switch {
		case !ok:
			added = append(added, r)
		case !sameRef(o, r):
			changed = append(changed, [2]metav1.OwnerReference{o, r})
		}
	}
	for _, r := range old {
		if !seen[r.UID] {
			seen[r.UID] = true
			removed = append(removed, r)
		}
	}
	return added, removed, changed
}

func sameRef(a, b metav1.OwnerReference) bool {
	return a.APIVersion == b.APIVersion && a.Kind == b.Kind && a.Name == b.Name && a.UID == b.UID &&
		blocks(a) == blocks(b) && (a.Controller != nil && *a.Controller) == (b.Controller != nil && *b.Controller)
}

// refMatches reports whether a dependent in namespace ns names the
// observed owner correctly: same group, kind and name, and the same
// namespace unless the owner is cluster-scoped.
func refMatches(r metav1.OwnerReference, owner objectRef, ns string) bool {
	return groupOf(r.APIVersion) == groupOf(owner.APIVersion) && r.Kind == owner.Kind && r.Name == owner.Name &&
		(owner.Namespace == "" || owner.Namespace == ns)
}

// groupOf is the group of an apiVersion ("apps/v1" → "apps", "v1" → "").
func groupOf(apiVersion string) string {
	if i := strings.LastIndex(apiVersion, "/"); i >= 0 {
		return apiVersion[:i]
	}
	return ""
}

func sortedUIDs(m map[types.UID]struct{}) []types.UID {
	out := make([]types.UID, 0, len(m))
	for u := range m {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}
