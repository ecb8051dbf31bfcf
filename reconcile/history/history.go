package history

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/utils/dump"

	"github.com/skiff-dev/skiff/reconcile/ownerref"
)

// HashLabel carries the hash of a StatefulSet revision's data, as
// kube-controller-manager's history package labels it. DaemonSet
// revisions carry appsv1.DefaultDaemonSetUniqueLabelKey instead.
const HashLabel = "controller.kubernetes.io/hash"

// maxPrefix keeps <prefix>-<hash> within the 253 bytes of a name.
const maxPrefix = 223

// Name is the name of the revision of the owner named prefix with hash.
func Name(prefix, hash string) string {
	if len(prefix) > maxPrefix {
		prefix = prefix[:maxPrefix]
	}
	return prefix + "-" + hash
}

// TemplateHash hashes a pod template as kube-controller-manager's
// ComputeHash does (FNV-1a over the template's canonical dump, then the
// collision count): the DaemonSet's revision and pod label value, and the
// Deployment's pod-template-hash. Matching upstream keeps the values a
// user sees the same as on Kubernetes for the same template.
func TemplateHash(t *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(*t))
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// DataHash hashes a revision's data and collision count as
// kube-controller-manager's HashControllerRevision does (FNV-1): the
// StatefulSet revision names.
func DataHash(data []byte, collisionCount *int32) string {
	h := fnv.New32()
	h.Write(data)
	if collisionCount != nil {
		h.Write([]byte(strconv.FormatInt(int64(*collisionCount), 10)))
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// TemplatePatch is the revision data of obj (a DaemonSet or a
// StatefulSet): a strategic merge patch replacing spec.template whole.
// It is built as kubectl's rollout helpers build it — marshal, decode
// into a map (apimachinery's decoder, which keeps integers integers),
// re-marshal with sorted keys — so kubectl finds the same bytes when it
// compares a revision with the live object ("skipped rollback").
func TemplatePatch(obj runtime.Object) ([]byte, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := utiljson.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	spec, _ := raw["spec"].(map[string]any)
	template, _ := spec["template"].(map[string]any)
	if template == nil {
		return nil, fmt.Errorf("%T has no spec.template", obj)
	}
	// kubectl 1.27–1.33, the versions Skiff supports, render the zero
	// creationTimestamp of the template's metadata as null; this
	// apimachinery omits it. Render it as they do, so their byte
	// comparison still finds the template unchanged.
	meta, _ := template["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		template["metadata"] = meta
	}
	if _, ok := meta["creationTimestamp"]; !ok {
		meta["creationTimestamp"] = nil
	}
	template["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": template}})
}

// Apply returns a copy of obj with rev's data applied, as kubectl and the
// StatefulSet controller restore a recorded template.
func Apply[T any, PT interface {
	*T
	runtime.Object
}](obj PT, rev *appsv1.ControllerRevision) (PT, error) {
	cur, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	patched, err := strategicpatch.StrategicMergePatch(cur, rev.Data.Raw, obj)
	if err != nil {
		return nil, fmt.Errorf("apply revision %s: %w", rev.Name, err)
	}
	out := PT(new(T))
	if err := json.Unmarshal(patched, out); err != nil {
		return nil, fmt.Errorf("apply revision %s: %w", rev.Name, err)
	}
	return out, nil
}

// New builds an unnamed revision of owner holding data: controlled by
// owner, labelled with its template labels, annotated with its
// annotations (kubectl shows kubernetes.io/change-cause from there).
func New(owner metav1.Object, gvk schema.GroupVersionKind, templateLabels map[string]string, data []byte, revision int64) *appsv1.ControllerRevision {
	labels := make(map[string]string, len(templateLabels)+1)
	for k, v := range templateLabels {
		labels[k] = v
	}
	var annotations map[string]string
	if a := owner.GetAnnotations(); len(a) > 0 {
		annotations = make(map[string]string, len(a))
		for k, v := range a {
			annotations[k] = v
		}
	}
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       owner.GetNamespace(),
			Labels:          labels,
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{*ownerref.NewControllerRef(owner, gvk)},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: revision,
	}
}

// Sort orders revisions oldest first: by revision number, then creation
// time, then name, as upstream does, so ties are broken the same way on
// every sync.
func Sort(revs []*appsv1.ControllerRevision) {
	slices.SortStableFunc(revs, func(a, b *appsv1.ControllerRevision) int {
		switch {
		case a.Revision != b.Revision:
			if a.Revision < b.Revision {
				return -1
			}
			return 1
		case !a.CreationTimestamp.Equal(&b.CreationTimestamp):
			if a.CreationTimestamp.Before(&b.CreationTimestamp) {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Name, b.Name)
	})
}

// Max is the highest revision number, 0 for none.
func Max(revs []*appsv1.ControllerRevision) int64 {
	var m int64
	for _, r := range revs {
		m = max(m, r.Revision)
	}
	return m
}

// Equal reports whether rev records data.
func Equal(rev *appsv1.ControllerRevision, data []byte) bool {
	return bytes.Equal(rev.Data.Raw, data)
}

// FindEqual returns the revisions recording data, in the order given.
func FindEqual(revs []*appsv1.ControllerRevision, data []byte) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for _, r := range revs {
		if Equal(r, data) {
			out = append(out, r)
		}
	}
	return out
}

// Prunable returns up to excess revisions of revs (sorted oldest first)
// that inUse says nothing needs any more, oldest first: what a history
// limit deletes. Revisions still worn by pods or named in status are
// never pruned, however long the history.
func Prunable(revs []*appsv1.ControllerRevision, inUse func(*appsv1.ControllerRevision) bool, excess int) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for _, r := range revs {
		if len(out) >= excess {
			break
		}
		if !inUse(r) {
			out = append(out, r)
		}
	}
	return out
}
