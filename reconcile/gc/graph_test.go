package gc

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// op is one step applied to a graph: an informer event or a live read's
// verdict. want is the UIDs the step must return, in order.
type op struct {
	observe      *observation
	remove       types.UID
	removeAbsent types.UID
	want         []types.UID
}

func ref(kind, ns, name string, uid types.UID) objectRef {
	av := "v1"
	if kind == "ReplicaSet" || kind == "Deployment" {
		av = "apps/v1"
	}
	return objectRef{APIVersion: av, Kind: kind, Namespace: ns, Name: name, UID: uid}
}

func ownerRef(owner objectRef, block bool) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: owner.APIVersion, Kind: owner.Kind, Name: owner.Name, UID: owner.UID, BlockOwnerDeletion: &block}
}

func obs(r objectRef, owners ...metav1.OwnerReference) *observation {
	return &observation{ref: r, owners: owners}
}

func deleting(o *observation, finalizers ...string) *observation {
	c := *o
	c.deleting, c.finalizers = true, finalizers
	return &c
}

// summary renders the graph as "uid: [virtual] deps=[...]" lines.
func summary(g *graph) string {
	var lines []string
	uids := make(map[types.UID]struct{}, len(g.nodes))
	for uid := range g.nodes {
		uids[uid] = struct{}{}
	}
	for _, uid := range sortedUIDs(uids) {
		n := g.nodes[uid]
		s := string(uid) + ":"
		if n.virtual {
			s += " virtual"
		}
		if n.deletingDependents {
			s += " deletingDependents"
		}
		if n.orphaning {
			s += " orphaning"
		}
		if d := sortedUIDs(n.dependents); len(d) > 0 {
			s += fmt.Sprintf(" deps=%v", d)
		}
		lines = append(lines, s)
	}
	return strings.Join(lines, "\n")
}

func TestGraph(t *testing.T) {
	dep := ref("Deployment", "a", "web", "D")
	rs := ref("ReplicaSet", "a", "web-1", "R")
	rs2 := ref("ReplicaSet", "a", "web-2", "R2")
	pod := ref("Pod", "a", "web-1-x", "P")
	node := ref("Node", "", "n1", "N")
	cases := []struct {
		name  string
		ops   []op
		graph string
	}{{
		name: "an owner observed after its dependent replaces the virtual node",
		ops: []op{
			{observe: obs(pod, ownerRef(rs, true)), want: []types.UID{"R"}},
			{observe: obs(rs), want: nil},
		},
		graph: "P:\nR: deps=[P]",
	}, {
		name: "a dependent of an observed owner needs no work",
		ops: []op{
			{observe: obs(rs)},
			{observe: obs(pod, ownerRef(rs, true))},
		},
		graph: "P:\nR: deps=[P]",
	}, {
		name: "a deleted owner's dependents are queued",
		ops: []op{
			{observe: obs(dep)},
			{observe: obs(rs, ownerRef(dep, true))},
			{observe: obs(rs2, ownerRef(dep, true))},
			{remove: "D", want: []types.UID{"R", "R2"}},
		},
		graph: "R:\nR2:",
	}, {
		name: "a virtual owner found absent leaves the graph and queues its dependents",
		ops: []op{
			{observe: obs(pod, ownerRef(rs, true)), want: []types.UID{"R"}},
			{removeAbsent: "R", want: []types.UID{"P"}},
		},
		graph: "P:",
	}, {
		name: "an observed node is not removed on a live read's word",
		ops: []op{
			{observe: obs(rs)},
			{observe: obs(pod, ownerRef(rs, true))},
			{removeAbsent: "R", want: nil},
		},
		graph: "P:\nR: deps=[P]",
	}, {
		name: "the start of a foreground deletion queues the owner and every dependent, once",
		ops: []op{
			{observe: obs(dep)},
			{observe: obs(rs, ownerRef(dep, true))},
			{observe: obs(rs2, ownerRef(dep, false))},
			{observe: deleting(obs(dep), metav1.FinalizerDeleteDependents), want: []types.UID{"D", "R", "R2"}},
			{observe: deleting(obs(dep), metav1.FinalizerDeleteDependents), want: nil},
			{remove: "R", want: []types.UID{"D"}},
		},
		graph: "D: deletingDependents deps=[R2]\nR2:",
	}, {
		name: "a dependent appearing during a foreground deletion is queued",
		ops: []op{
			{observe: deleting(obs(dep), metav1.FinalizerDeleteDependents), want: []types.UID{"D"}},
			{observe: obs(rs, ownerRef(dep, true)), want: []types.UID{"R"}},
		},
		graph: "D: deletingDependents deps=[R]\nR:",
	}, {
		name: "the start of an orphan deletion queues the owner",
		ops: []op{
			{observe: obs(dep)},
			{observe: obs(rs, ownerRef(dep, true))},
			{observe: deleting(obs(dep), metav1.FinalizerOrphanDependents), want: []types.UID{"D"}},
			{observe: obs(rs2, ownerRef(dep, true)), want: []types.UID{"D"}},
		},
		graph: "D: orphaning deps=[R R2]\nR:\nR2:",
	}, {
		name: "a deletion with no GC finalizer queues nothing until the object is gone",
		ops: []op{
			{observe: obs(dep)},
			{observe: obs(rs, ownerRef(dep, true))},
			{observe: deleting(obs(dep), "example.com/other"), want: nil},
		},
		graph: "D: deps=[R]\nR:",
	}, {
		name: "removing a blocking reference queues the owner",
		ops: []op{
			{observe: obs(dep)},
			{observe: obs(rs, ownerRef(dep, true))},
			{observe: obs(rs), want: []types.UID{"D"}},
		},
		graph: "D:\nR:",
	}, {
		name: "unblocking a reference queues the owner",
		ops: []op{
			{observe: obs(dep)},
			{observe: obs(rs, ownerRef(dep, true))},
			{observe: obs(rs, ownerRef(dep, false)), want: []types.UID{"D"}},
		},
		graph: "D: deps=[R]\nR:",
	}, {
		name: "a virtual owner no one names any more leaves the graph",
		ops: []op{
			{observe: obs(pod, ownerRef(rs, true)), want: []types.UID{"R"}},
			{observe: obs(pod)},
		},
		graph: "P:",
	}, {
		name: "a removed dependent leaves its owners' lists; a waiting owner is queued",
		ops: []op{
			{observe: deleting(obs(rs), metav1.FinalizerDeleteDependents), want: []types.UID{"R"}},
			{observe: obs(pod, ownerRef(rs, false)), want: []types.UID{"P"}},
			{remove: "P", want: []types.UID{"R"}},
		},
		graph: "R: deletingDependents",
	}, {
		name: "a reference with the owner's UID but another name is re-checked",
		ops: []op{
			{observe: obs(rs)},
			{observe: obs(pod, ownerRef(ref("ReplicaSet", "a", "other", "R"), true)), want: []types.UID{"P"}},
		},
		graph: "P:\nR: deps=[P]",
	}, {
		name: "a reference across namespaces is re-checked",
		ops: []op{
			{observe: obs(rs)},
			{observe: obs(ref("Pod", "b", "q", "Q"), ownerRef(rs, true)), want: []types.UID{"Q"}},
		},
		graph: "Q:\nR: deps=[Q]",
	}, {
		name: "a cluster-scoped owner may own objects in any namespace",
		ops: []op{
			{observe: obs(pod, ownerRef(node, false)), want: []types.UID{"N"}},
			{observe: obs(node)},
			{observe: obs(ref("Pod", "b", "q", "Q"), ownerRef(node, false))},
		},
		graph: "N: deps=[P Q]\nP:\nQ:",
	}, {
		name: "dependents that named a virtual owner wrongly are re-checked when it is observed",
		ops: []op{
			{observe: obs(pod, ownerRef(rs, true)), want: []types.UID{"R"}},
			{observe: obs(ref("Pod", "a", "q", "Q"), ownerRef(ref("ReplicaSet", "a", "wrong", "R"), true))},
			{observe: obs(rs), want: []types.UID{"Q"}},
		},
		graph: "P:\nQ:\nR: deps=[P Q]",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := newGraph()
			for i, o := range tc.ops {
				var got []types.UID
				switch {
				case o.observe != nil:
					got = g.observe(*o.observe)
				case o.remove != "":
					got = g.remove(o.remove)
				case o.removeAbsent != "":
					got = g.removeAbsent(o.removeAbsent)
				}
				if !slices.Equal(got, o.want) {
					t.Errorf("step %d: queued %v, want %v", i, got, o.want)
				}
			}
			if got := summary(g); got != tc.graph {
				t.Errorf("graph:\n%s\nwant:\n%s", got, tc.graph)
			}
		})
	}
}

func TestGraphView(t *testing.T) {
	g := newGraph()
	dep := ref("Deployment", "a", "web", "D")
	g.observe(*obs(dep))
	g.observe(*obs(ref("ReplicaSet", "a", "b", "B"), ownerRef(dep, true)))
	g.observe(*obs(ref("ReplicaSet", "a", "n", "N"), ownerRef(dep, false)))
	g.observe(*deleting(obs(ref("ReplicaSet", "a", "f", "F"), ownerRef(dep, true)), metav1.FinalizerDeleteDependents))
	v, ok := g.view("D")
	if !ok {
		t.Fatal("no view of D")
	}
	var got []string
	for _, d := range v.dependents {
		got = append(got, fmt.Sprintf("%s blocking=%t deletingDependents=%t", d.ref.Name, d.blocking, d.deletingDependents))
	}
	want := []string{"b blocking=true deletingDependents=false", "f blocking=true deletingDependents=true", "n blocking=false deletingDependents=false"}
	if !slices.Equal(got, want) {
		t.Errorf("dependents %v, want %v", got, want)
	}
	if _, ok := g.view("X"); ok {
		t.Error("view of an unknown UID")
	}
}
