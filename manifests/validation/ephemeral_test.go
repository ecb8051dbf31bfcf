package validation_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/manifests/defaults"
	"github.com/skiff-dev/skiff/manifests/validation"
)

// pods/ephemeralcontainers (kubectl debug) may add ephemeral containers,
// never change or remove one, and each must be a valid one.
func TestEphemeralContainersUpdate(t *testing.T) {
	base := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "7", UID: "u"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox:local"}}}}
	defaults.Pod(base)
	debugger := func(name string) corev1.EphemeralContainer {
		ec := corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Image: "busybox:local", Stdin: true}, TargetContainerName: "app"}
		p := &corev1.Pod{Spec: corev1.PodSpec{EphemeralContainers: []corev1.EphemeralContainer{ec}}}
		defaults.Pod(p)
		return p.Spec.EphemeralContainers[0]
	}
	withOne := base.DeepCopy()
	withOne.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("debugger")}

	for _, tc := range []struct {
		name     string
		old      *corev1.Pod
		change   func(*corev1.Pod)
		wantType field.ErrorType
		want     string
	}{
		{name: "one added", old: base, change: func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, debugger("debugger"))
		}},
		{name: "a second added", old: withOne, change: func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, debugger("debugger-2"))
		}},
		{name: "removed", old: withOne, change: func(p *corev1.Pod) { p.Spec.EphemeralContainers = nil },
			wantType: field.ErrorTypeForbidden, want: "spec.ephemeralContainers"},
		{name: "changed", old: withOne, change: func(p *corev1.Pod) { p.Spec.EphemeralContainers[0].Image = "other:1" },
			wantType: field.ErrorTypeForbidden, want: "spec.ephemeralContainers"},
		{name: "name of an app container", old: base, change: func(p *corev1.Pod) { p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, debugger("app")) },
			wantType: field.ErrorTypeDuplicate, want: "spec.ephemeralContainers[0].name"},
		{name: "unknown target", old: base, change: func(p *corev1.Pod) {
			ec := debugger("debugger")
			ec.TargetContainerName = "nope"
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, ec)
		}, wantType: field.ErrorTypeNotFound, want: "spec.ephemeralContainers[0].targetContainerName"},
		{name: "with a probe", old: base, change: func(p *corev1.Pod) {
			ec := debugger("debugger")
			ec.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, ec)
		}, wantType: field.ErrorTypeForbidden, want: "spec.ephemeralContainers[0].readinessProbe"},
		{name: "with a restart policy", old: base, change: func(p *corev1.Pod) {
			ec := debugger("debugger")
			ec.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, ec)
		}, wantType: field.ErrorTypeForbidden, want: "spec.ephemeralContainers[0].restartPolicy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := tc.old.DeepCopy()
			tc.change(next)
			errs := validation.ValidatePodEphemeralContainersUpdate(next, tc.old)
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("refused: %v", errs)
				}
				return
			}
			for _, e := range errs {
				if e.Type == tc.wantType && e.Field == tc.want {
					return
				}
			}
			t.Fatalf("errors %v, want %s on %s", errs, tc.wantType, tc.want)
		})
	}
	// Through the pod itself, ephemeral containers cannot change.
	next := base.DeepCopy()
	next.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("debugger")}
	if errs := validation.ValidatePodUpdate(next, base); len(errs) == 0 {
		t.Fatal("a pod update added an ephemeral container")
	}
}
