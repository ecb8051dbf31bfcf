package podsecurity

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func privilegedPod() *corev1.Pod {
	p := plainPod()
	sc(p).Privileged = ptr.To(true)
	return p
}

const privilegedDetail = `privileged (container "c" must not set securityContext.privileged=true)`

func TestAdmitPod(t *testing.T) {
	cfg := DefaultConfig()
	cases := []struct {
		name      string
		ns        *corev1.Namespace
		pod       *corev1.Pod
		forbidden string
		warnings  []string
	}{
		{"default namespace refuses a privileged pod", namespace("default", nil), privilegedPod(),
			`violates PodSecurity "baseline:latest": ` + privilegedDetail, nil},
		{"default namespace admits a plain pod quietly", namespace("default", nil), plainPod(), "", nil},
		{"a privileged namespace admits it, and the default warn level warns", namespace("tools", map[string]string{EnforceLevelLabel: "privileged"}),
			privilegedPod(), "", []string{`would violate PodSecurity "baseline:latest": ` + privilegedDetail}},
		{"a fully privileged namespace admits it quietly", namespace("tools", map[string]string{EnforceLevelLabel: "privileged", WarnLevelLabel: "privileged"}),
			privilegedPod(), "", nil},
		{"kube-system is exempt", namespace("kube-system", map[string]string{EnforceLevelLabel: "restricted"}), privilegedPod(), "", nil},
		{"restricted refuses a plain pod", namespace("secure", map[string]string{EnforceLevelLabel: "restricted"}), plainPod(),
			`violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ` +
				`unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ` +
				`runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ` +
				`seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`, nil},
		{"a pinned version is quoted", namespace("pinned", map[string]string{EnforceLevelLabel: "baseline", EnforceVersionLabel: "v1.29"}), privilegedPod(),
			`violates PodSecurity "baseline:v1.29": ` + privilegedDetail, nil},
		{"warn stricter than enforce", namespace("team", map[string]string{WarnLevelLabel: "restricted"}), func() *corev1.Pod {
			p := restrictedPod()
			sc(p).RunAsUser = ptr.To(int64(0))
			return p
		}(), "", []string{`would violate PodSecurity "restricted:latest": runAsUser=0 (container "c" must not set runAsUser=0)`}},
		{"an invalid enforce label enforces restricted", namespace("typo", map[string]string{EnforceLevelLabel: "basline"}), plainPod(),
			`violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ` +
				`unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ` +
				`runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ` +
				`seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`, nil},
		{"an invalid warn label turns warnings off", namespace("typo", map[string]string{EnforceLevelLabel: "privileged", WarnLevelLabel: "loud"}),
			privilegedPod(), "", nil},
		{"the Docker socket in the default namespace", namespace("default", nil), func() *corev1.Pod {
			p := plainPod()
			p.Spec.Volumes = []corev1.Volume{hostPathVolume("sock", "/var/run/docker.sock")}
			return p
		}(), `violates PodSecurity "baseline:latest": hostPath volumes (volume "sock")`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := cfg.AdmitPod(c.ns, c.pod, nil)
			if d.Forbidden != c.forbidden {
				t.Errorf("Forbidden\n got: %s\nwant: %s", d.Forbidden, c.forbidden)
			}
			if !reflect.DeepEqual(d.Warnings, c.warnings) {
				t.Errorf("Warnings = %q, want %q", d.Warnings, c.warnings)
			}
		})
	}
}

func TestAdmitPodUpdate(t *testing.T) {
	cfg := DefaultConfig()
	ns := namespace("secure", map[string]string{EnforceLevelLabel: "restricted"})
	// A pod admitted before the namespace was made restricted.
	old := plainPod()
	labelled := old.DeepCopy()
	labelled.Labels = map[string]string{"tier": "web"}
	labelled.Status.Phase = corev1.PodRunning
	if d := cfg.AdmitPod(ns, labelled, old); d.Forbidden != "" || d.Warnings != nil {
		t.Errorf("metadata/status update of an old pod: %+v, want admitted", d)
	}
	newImage := old.DeepCopy()
	newImage.Spec.Containers[0].Image = "busybox:2"
	if d := cfg.AdmitPod(ns, newImage, old); d.Forbidden == "" {
		t.Errorf("image change of a pod that violates restricted was admitted")
	}
	ok := restrictedPod()
	okNewImage := ok.DeepCopy()
	okNewImage.Spec.Containers[0].Image = "busybox:2"
	if d := cfg.AdmitPod(ns, okNewImage, ok); d.Forbidden != "" {
		t.Errorf("image change of a compliant pod refused: %s", d.Forbidden)
	}
}

func TestSignificantPodUpdate(t *testing.T) {
	base := plainPod()
	base.Spec.InitContainers = []corev1.Container{{Name: "i", Image: "busybox"}}
	cases := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   bool
	}{
		{"nothing", func(*corev1.Pod) {}, false},
		{"labels and annotations", func(p *corev1.Pod) {
			p.Labels = map[string]string{"a": "b"}
			p.Annotations = map[string]string{"note": "x"}
		}, false},
		{"status", func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning }, false},
		{"tolerations and deadline", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}
			p.Spec.ActiveDeadlineSeconds = ptr.To(int64(5))
		}, false},
		{"container image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "busybox:2" }, true},
		{"init container image", func(p *corev1.Pod) { p.Spec.InitContainers[0].Image = "busybox:2" }, true},
		{"a container added", func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "d", Image: "busybox"})
		}, true},
		{"an ephemeral container added", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox"}}}
		}, true},
		{"pod seccomp annotation", func(p *corev1.Pod) {
			p.Annotations = map[string]string{corev1.SeccompPodAnnotationKey: "unconfined"}
		}, true},
		{"container seccomp annotation", func(p *corev1.Pod) {
			p.Annotations = map[string]string{corev1.SeccompContainerAnnotationKeyPrefix + "c": "unconfined"}
		}, true},
	}
	for _, c := range cases {
		p := base.DeepCopy()
		c.mutate(p)
		if got := SignificantPodUpdate(p, base); got != c.want {
			t.Errorf("%s: SignificantPodUpdate = %v, want %v", c.name, got, c.want)
		}
	}
	withDebug := base.DeepCopy()
	withDebug.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox"}}}
	same := withDebug.DeepCopy()
	same.Labels = map[string]string{"a": "b"}
	if SignificantPodUpdate(same, withDebug) {
		t.Errorf("an unchanged ephemeral container made the update significant")
	}
}

func privilegedTemplate() corev1.PodTemplateSpec {
	p := privilegedPod()
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: p.Spec}
}

func TestAdmitWorkload(t *testing.T) {
	cfg := DefaultConfig()
	tmpl := privilegedTemplate()
	warning := []string{`would violate PodSecurity "baseline:latest": ` + privilegedDetail}
	workloads := []runtime.Object{
		&appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: tmpl}},
		&appsv1.ReplicaSet{Spec: appsv1.ReplicaSetSpec{Template: tmpl}},
		&appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{Template: tmpl}},
		&appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{Template: tmpl}},
		&batchv1.Job{Spec: batchv1.JobSpec{Template: tmpl}},
		&batchv1.CronJob{Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}},
		&corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: &tmpl}},
		&corev1.PodTemplate{Template: tmpl},
	}
	for _, w := range workloads {
		d := cfg.AdmitWorkload(namespace("default", nil), w)
		if d.Forbidden != "" {
			t.Errorf("%T refused (%s); enforce applies to its pods only", w, d.Forbidden)
		}
		if !reflect.DeepEqual(d.Warnings, warning) {
			t.Errorf("%T warnings = %q, want %q", w, d.Warnings, warning)
		}
		// An enforce label alone does not silence warn, as upstream.
		if d := cfg.AdmitWorkload(namespace("tools", map[string]string{EnforceLevelLabel: "privileged"}), w); len(d.Warnings) != 1 {
			t.Errorf("%T in an enforce=privileged namespace: %q, want the baseline warning", w, d.Warnings)
		}
		if d := cfg.AdmitWorkload(namespace("kube-system", nil), w); d.Warnings != nil {
			t.Errorf("%T in kube-system warned: %q", w, d.Warnings)
		}
	}
	plain := corev1.PodTemplateSpec{Spec: plainPod().Spec}
	if d := cfg.AdmitWorkload(namespace("default", nil), &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: plain}}); d.Warnings != nil {
		t.Errorf("a compliant template warned: %q", d.Warnings)
	}
	if d := cfg.AdmitWorkload(namespace("default", nil), &corev1.ReplicationController{}); d.Warnings != nil {
		t.Errorf("a ReplicationController without a template warned: %q", d.Warnings)
	}
	for _, o := range []runtime.Object{&corev1.ConfigMap{}, &corev1.Service{}, privilegedPod()} {
		if _, _, ok := PodTemplate(o); ok {
			t.Errorf("PodTemplate(%T) found a template", o)
		}
	}
}

func TestAdmitNamespaceLabels(t *testing.T) {
	cfg := DefaultConfig()
	noPods := func() ([]*corev1.Pod, error) {
		t.Error("pods listed although enforce did not tighten")
		return nil, nil
	}
	errs, w := cfg.AdmitNamespace(namespace("a", map[string]string{EnforceLevelLabel: "strict", WarnVersionLabel: "v1"}), nil, noPods)
	want := []string{
		`metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted`,
		`metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "v1": must be "latest" or "v1.x"`,
	}
	if len(errs) != len(want) || errs[0].Error() != want[0] || errs[1].Error() != want[1] || w != nil {
		t.Errorf("create with invalid labels: %v, %q", errs, w)
	}
	if errs, w := cfg.AdmitNamespace(namespace("a", map[string]string{EnforceLevelLabel: "restricted"}), nil, noPods); errs != nil || w != nil {
		t.Errorf("create with valid labels: %v, %q", errs, w)
	}

	bad := namespace("a", map[string]string{EnforceLevelLabel: "strict"})
	relabelled := bad.DeepCopy()
	relabelled.Labels["team"] = "x"
	if errs, _ := cfg.AdmitNamespace(relabelled, bad, noPods); errs != nil {
		t.Errorf("an update keeping an old invalid label was refused: %v", errs)
	}
	worse := bad.DeepCopy()
	worse.Labels[EnforceLevelLabel] = "stricter"
	if errs, _ := cfg.AdmitNamespace(worse, bad, noPods); len(errs) != 1 {
		t.Errorf("an update changing an invalid label was admitted: %v", errs)
	}

	base := namespace("a", nil)
	for _, labels := range []map[string]string{
		{"team": "x"}, // enforce unchanged
		{EnforceLevelLabel: "privileged"},
		{EnforceLevelLabel: "baseline", EnforceVersionLabel: "latest"}, // the default, spelled out
	} {
		if errs, w := cfg.AdmitNamespace(namespace("a", labels), base, noPods); errs != nil || w != nil {
			t.Errorf("labels %v: %v, %q", labels, errs, w)
		}
	}
	strict := namespace("a", map[string]string{EnforceLevelLabel: "restricted"})
	if errs, w := cfg.AdmitNamespace(base, strict, noPods); errs != nil || w != nil {
		t.Errorf("relaxing restricted to baseline: %v, %q", errs, w)
	}
}

func TestAdmitNamespaceWarnsAboutExistingPods(t *testing.T) {
	cfg := DefaultConfig()
	owner := func(p *corev1.Pod, uid string) *corev1.Pod {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: types.UID(uid), Controller: ptr.To(true)}}
		return p
	}
	named := func(p *corev1.Pod, name string) *corev1.Pod { p.Name = name; return p }
	pods := []*corev1.Pod{
		named(plainPod(), "web-2"),
		named(plainPod(), "web-1"),
		named(restrictedPod(), "ok"),
		named(privilegedPod(), "debug"),
		owner(named(plainPod(), "rs-a"), "u1"),
	}
	listed := 0
	list := func() ([]*corev1.Pod, error) { listed++; return pods, nil }
	old := namespace("team", nil)
	ns := namespace("team", map[string]string{EnforceLevelLabel: "restricted"})
	errs, got := cfg.AdmitNamespace(ns, old, list)
	want := []string{
		`existing pods in namespace "team" violate the new PodSecurity enforce level "restricted:latest"`,
		`debug: privileged, allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile`,
		`rs-a (and 2 other pods): allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile`,
	}
	if errs != nil || !reflect.DeepEqual(got, want) || listed != 1 {
		t.Errorf("warnings\n got: %q\nwant: %q (errors %v, listed %d)", got, want, errs, listed)
	}

	// The same level at a newer version is a tightening too.
	pinned := namespace("team", map[string]string{EnforceLevelLabel: "baseline", EnforceVersionLabel: "v1.33"})
	latest := namespace("team", map[string]string{EnforceLevelLabel: "baseline"})
	if _, got := cfg.AdmitNamespace(latest, pinned, list); len(got) != 2 || got[1] != `debug: privileged` {
		t.Errorf("v1.33 → latest: %q", got)
	}

	if _, got := cfg.AdmitNamespace(ns, old, func() ([]*corev1.Pod, error) { return nil, errors.New("etcd down") }); !reflect.DeepEqual(got, []string{"failed to list pods while checking new PodSecurity enforce level"}) {
		t.Errorf("list failure: %q", got)
	}

	// kube-system is exempt: its labels change nothing, and it says so.
	sys := namespace("kube-system", map[string]string{EnforceLevelLabel: "restricted", WarnLevelLabel: "restricted"})
	_, got = cfg.AdmitNamespace(sys, namespace("kube-system", nil), func() ([]*corev1.Pod, error) {
		t.Error("pods of an exempt namespace listed")
		return nil, nil
	})
	if want := []string{`namespace "kube-system" is exempt from Pod Security, and the policy (enforce=restricted:latest, warn=restricted:latest) will be ignored`}; !reflect.DeepEqual(got, want) {
		t.Errorf("exempt namespace: %q, want %q", got, want)
	}
}

func TestAdmitNamespaceChecksAtMostMaxPods(t *testing.T) {
	var pods []*corev1.Pod
	// One replica set's pods first in the list, then distinct pods: the
	// distinct ones must be checked before the replicas use up the cap.
	for i := range maxPodsToCheck {
		p := plainPod()
		p.Name = fmt.Sprintf("replica-%04d", i)
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "rs", UID: "u1", Controller: ptr.To(true)}}
		pods = append(pods, p)
	}
	lone := privilegedPod()
	lone.Name = "lone"
	pods = append(pods, lone)
	_, got := DefaultConfig().AdmitNamespace(namespace("big", map[string]string{EnforceLevelLabel: "restricted"}), namespace("big", nil),
		func() ([]*corev1.Pod, error) { return pods, nil })
	want := []string{
		fmt.Sprintf("new PodSecurity enforce level only checked against the first %d of %d existing pods", maxPodsToCheck, maxPodsToCheck+1),
		`existing pods in namespace "big" violate the new PodSecurity enforce level "restricted:latest"`,
		`lone: privileged, allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile`,
		fmt.Sprintf(`replica-0000 (and %d other pods): allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile`, maxPodsToCheck-2),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
