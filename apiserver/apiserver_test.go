package apiserver

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/manifests"
)

func TestNegotiate(t *testing.T) {
	cases := []struct {
		accept string
		list   bool
		want   outputFormat
		err    bool
	}{
		{"", false, outputFormat{mediaType: mediaJSON}, false},
		{"*/*", false, outputFormat{mediaType: mediaJSON}, false},
		{"application/json, */*", false, outputFormat{mediaType: mediaJSON}, false},
		{"application/yaml", false, outputFormat{mediaType: mediaYAML}, false},
		// client-go's typed clients
		{"application/vnd.kubernetes.protobuf,application/json", false, outputFormat{mediaType: mediaProtobuf}, false},
		// kubectl get
		{"application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", true,
			outputFormat{mediaType: mediaJSON, as: asTable, asVersion: "v1"}, false},
		// metadata informers
		{"application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json", true,
			outputFormat{mediaType: mediaJSON, as: asMetadata, asVersion: "v1"}, false},
		{"application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json", false, outputFormat{mediaType: mediaJSON}, false},
		// an unknown "as" falls through to the next entry
		{"application/json;as=Frob;v=v1;g=meta.k8s.io,application/yaml", false, outputFormat{mediaType: mediaYAML}, false},
		{"text/html", false, outputFormat{}, true},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/api/v1/pods", nil)
		if c.accept != "" {
			r.Header.Set("Accept", c.accept)
		}
		got, err := negotiate(r, c.list)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("negotiate(%q, list=%v) = %+v, %v; want %+v, error %v", c.accept, c.list, got, err, c.want, c.err)
		}
	}
}

// A protobuf list spliced from cached item messages must decode with the
// protobuf serializer client-go uses.
func TestProtoListDecodesAsAList(t *testing.T) {
	reg, err := manifests.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	var items [][]byte
	for _, name := range []string{"a", "b"} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", ResourceVersion: "7"}, Data: map[string]string{"k": name}}
		b, err := cm.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, b)
	}
	body, err := protoEnvelopeOf(corev1.SchemeGroupVersion.WithKind("ConfigMapList"), rawMessage(protoList(&metav1.ListMeta{ResourceVersion: "9", Continue: "c"}, items)))
	if err != nil {
		t.Fatal(err)
	}
	s := protobuf.NewSerializer(reg.Scheme(), reg.Scheme())
	obj, gvk, err := s.Decode(body, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	list, ok := obj.(*corev1.ConfigMapList)
	if !ok || gvk.Kind != "ConfigMapList" {
		t.Fatalf("decoded %T (%v)", obj, gvk)
	}
	if list.ResourceVersion != "9" || list.Continue != "c" || len(list.Items) != 2 || list.Items[1].Data["k"] != "b" || list.Items[0].ResourceVersion != "7" {
		t.Fatalf("decoded list %+v", list)
	}
}

func TestContinueTokens(t *testing.T) {
	prefix := "/registry/core/configmaps/ns/"
	tok := encodeContinue(prefix, prefix+"b\x00", 42)
	start, rev, err := decodeContinue(prefix, tok)
	if err != nil || start != prefix+"b\x00" || rev != 42 {
		t.Fatalf("round trip: %q %d %v", start, rev, err)
	}
	for _, bad := range []string{"%%%", "e30", encodeContinue(prefix, "/etc/passwd", 1), encodeContinue(prefix, prefix+"../x", 1)} {
		if _, _, err := decodeContinue(prefix, bad); err == nil {
			t.Errorf("continue token %q accepted", bad)
		}
	}
}

func TestDeletionFinalizers(t *testing.T) {
	pp := func(p metav1.DeletionPropagation) *metav1.DeleteOptions {
		return &metav1.DeleteOptions{PropagationPolicy: &p}
	}
	cases := []struct {
		existing []string
		opts     *metav1.DeleteOptions
		want     []string
	}{
		{nil, &metav1.DeleteOptions{}, nil},
		{[]string{"x"}, &metav1.DeleteOptions{}, []string{"x"}},
		{[]string{"x"}, pp(metav1.DeletePropagationForeground), []string{"x", finalizerForeground}},
		{[]string{finalizerForeground}, pp(metav1.DeletePropagationOrphan), []string{finalizerOrphan}},
		{[]string{finalizerOrphan, "x"}, pp(metav1.DeletePropagationBackground), []string{"x"}},
		{nil, &metav1.DeleteOptions{OrphanDependents: ptr.To(true)}, []string{finalizerOrphan}},
	}
	for _, c := range cases {
		if got := deletionFinalizers(c.existing, c.opts); !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("deletionFinalizers(%v, %+v) = %v, want %v", c.existing, c.opts, got, c.want)
		}
	}
}

func TestGracePeriodOnlyForPodsOnANode(t *testing.T) {
	none := &metav1.DeleteOptions{}
	unscheduled := &corev1.Pod{}
	bound := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1", TerminationGracePeriodSeconds: ptr.To[int64](45)}}
	done := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}
	if g := gracePeriod(unscheduled, none); g != 0 {
		t.Errorf("unscheduled pod: grace %d, want 0", g)
	}
	if g := gracePeriod(bound, none); g != 45 {
		t.Errorf("bound pod: grace %d, want its 45", g)
	}
	if g := gracePeriod(bound, &metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); g != 0 {
		t.Errorf("--grace-period=0: grace %d, want 0", g)
	}
	if g := gracePeriod(done, none); g != 0 {
		t.Errorf("finished pod: grace %d, want 0", g)
	}
	if g := gracePeriod(&appsv1.Deployment{}, none); g != 0 {
		t.Errorf("deployment: grace %d, want 0", g)
	}
}

func TestScaleOfDeployment(t *testing.T) {
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", ResourceVersion: "5"},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](3), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
		Status:     appsv1.DeploymentStatus{Replicas: 2},
	}
	sc, err := scaleOf(d)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Spec.Replicas != 3 || sc.Status.Replicas != 2 || sc.Status.Selector != "app=web" || sc.ResourceVersion != "5" || sc.Kind != "Scale" {
		t.Fatalf("scale %+v", sc)
	}
	setReplicas(d, 7)
	if *d.Spec.Replicas != 7 {
		t.Fatal("setReplicas did not set spec.replicas")
	}
}

func TestSpecChangedIgnoresMetadataAndStatus(t *testing.T) {
	a := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1)}}
	b := a.DeepCopy()
	b.Labels = map[string]string{"x": "y"}
	b.Status.Replicas = 4
	if specChanged(a, b) {
		t.Error("metadata/status change counted as a spec change")
	}
	b.Spec.Replicas = ptr.To[int32](2)
	if !specChanged(a, b) {
		t.Error("replicas change not counted as a spec change")
	}
}

func strategyFor(t *testing.T, gvk schema.GroupVersionKind) *resource {
	t.Helper()
	reg, err := manifests.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	typ, ok := reg.ByKind(gvk)
	if !ok {
		t.Fatalf("no type for %s", gvk)
	}
	return &resource{t: typ, stored: typ}
}

// Built-in kinds' status strategies reset the spec, not the metadata:
// the upstream deployment controller writes its revision annotation
// through deployments/status.
func TestStatusUpdateKeepsMetadataButNotSpec(t *testing.T) {
	res := strategyFor(t, appsv1.SchemeGroupVersion.WithKind("Deployment"))
	old := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", UID: "u1", Generation: 3, Labels: map[string]string{"app": "web"}},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](3)}}
	in := old.DeepCopy()
	in.Annotations = map[string]string{"deployment.kubernetes.io/revision": "2"}
	in.Labels = map[string]string{"app": "other"}
	in.Spec.Replicas = ptr.To[int32](9)
	in.Generation = 7
	in.Status.Replicas = 3
	out := res.prepareForUpdate(in, old, "status").(*appsv1.Deployment)
	if out.Annotations["deployment.kubernetes.io/revision"] != "2" {
		t.Errorf("annotation dropped: %v", out.Annotations)
	}
	if out.Labels["app"] != "web" || *out.Spec.Replicas != 3 || out.Generation != 3 || out.Status.Replicas != 3 {
		t.Errorf("labels %v replicas %d generation %d status %d: want web, 3, 3, 3", out.Labels, *out.Spec.Replicas, out.Generation, out.Status.Replicas)
	}

	pods := strategyFor(t, corev1.SchemeGroupVersion.WithKind("Pod"))
	oldPod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "u2", OwnerReferences: []metav1.OwnerReference{{Name: "rs", UID: "o1"}}}}
	inPod := oldPod.DeepCopy()
	inPod.OwnerReferences = nil
	inPod.Labels = map[string]string{"x": "y"}
	outPod := pods.prepareForUpdate(inPod, oldPod, "status").(*corev1.Pod)
	if len(outPod.OwnerReferences) != 1 || outPod.Labels["x"] != "y" {
		t.Errorf("pod status update: owners %v labels %v; want owners kept, labels changed", outPod.OwnerReferences, outPod.Labels)
	}
}

func TestDeploymentAnnotationChangeBumpsGeneration(t *testing.T) {
	res := strategyFor(t, appsv1.SchemeGroupVersion.WithKind("Deployment"))
	old := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Generation: 2}}
	in := old.DeepCopy()
	in.Annotations = map[string]string{"kubernetes.io/change-cause": "v2"}
	if g := res.prepareForUpdate(in, old, "").(*appsv1.Deployment).Generation; g != 3 {
		t.Errorf("generation %d after an annotation change, want 3", g)
	}
	rs := strategyFor(t, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
	oldRS := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Generation: 2}}
	inRS := oldRS.DeepCopy()
	inRS.Annotations = map[string]string{"a": "b"}
	if g := rs.prepareForUpdate(inRS, oldRS, "").(*appsv1.ReplicaSet).Generation; g != 2 {
		t.Errorf("replicaset generation %d after an annotation change, want 2", g)
	}
}

func TestGenerateNameFitsALabel(t *testing.T) {
	long := strings.Repeat("a", 70) + "-"
	if n := generateName(long); len(n) != 63 || !strings.HasPrefix(n, strings.Repeat("a", 58)) {
		t.Errorf("generateName(70 chars) = %q (%d chars), want 58 + 5", n, len(n))
	}
	if n := generateName("web-"); len(n) != 9 || !strings.HasPrefix(n, "web-") {
		t.Errorf("generateName(web-) = %q", n)
	}
}
