package e2e

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestPodSecurityAdmission is acceptance 6 of the node agent issue against
// the real server: Pod Security Standards enforced per namespace label,
// Skiff's default being baseline, with the status codes, messages and
// warnings kubectl shows on a real cluster.
func TestPodSecurityAdmission(t *testing.T) {
	s := startServer(t)
	cs := clientset(t, s)
	c := newAPIClient(t, s)
	ctx := context.Background()

	busybox := func(name string) *corev1.Pod {
		return &corev1.Pod{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:local", Command: []string{"sleep", "3600"}}}},
		}
	}
	privilegedPod := busybox("priv")
	privilegedPod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
	hostPathPod := busybox("hostpath")
	hostPathPod.Spec.Volumes = []corev1.Volume{{Name: "root", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
	hostPathPod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "root", MountPath: "/host"}}
	dockerSock := func(name, path string) *corev1.Pod {
		p := busybox(name)
		p.Spec.Volumes = []corev1.Volume{{Name: "sock", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path}}}}
		p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "sock", MountPath: "/var/run/docker.sock"}}
		return p
	}
	hostNetPod := busybox("hostnet")
	hostNetPod.Spec.HostNetwork, hostNetPod.Spec.HostPID = true, true
	capsPod := busybox("caps")
	capsPod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN", "NET_ADMIN"}}}

	type refusal struct {
		pod     *corev1.Pod
		message string
	}
	baselineRefusals := []refusal{
		{privilegedPod, `pods "priv" is forbidden: violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`},
		{hostPathPod, `pods "hostpath" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volume "root")`},
		{dockerSock("docker-sock", "/var/run/docker.sock"), `pods "docker-sock" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volume "sock")`},
		{dockerSock("run-docker-sock", "/run/docker.sock"), `pods "run-docker-sock" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volume "sock")`},
		{dockerSock("var-run", "/var/run"), `pods "var-run" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volume "sock")`},
		{hostNetPod, `pods "hostnet" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true, hostPID=true)`},
		{capsPod, `pods "caps" is forbidden: violates PodSecurity "baseline:latest": non-default capabilities (container "c" must not include "NET_ADMIN", "SYS_ADMIN" in securityContext.capabilities.add)`},
	}

	createPod := func(t *testing.T, ns string, p *corev1.Pod) reply {
		t.Helper()
		body, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		cc := *c
		cc.t = t
		return cc.do("POST", "/api/v1/namespaces/"+ns+"/pods", "application/json", body, nil)
	}
	podExists := func(t *testing.T, ns, name string) bool {
		t.Helper()
		_, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil
	}
	namespaceWith := func(t *testing.T, name string, labels map[string]string) {
		t.Helper()
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("default namespace refuses with 403 naming the controls", func(t *testing.T) {
		for _, r := range baselineRefusals {
			got := createPod(t, "default", r.pod)
			if got.code != 403 || got.status.Reason != metav1.StatusReasonForbidden || got.status.Message != r.message {
				t.Errorf("create %s: %d %s %q\nwant 403 Forbidden %q", r.pod.Name, got.code, got.status.Reason, got.status.Message, r.message)
			}
			if d := got.status.Details; d == nil || d.Name != r.pod.Name || d.Kind != "pods" {
				t.Errorf("create %s: status details %+v, want the pod named", r.pod.Name, d)
			}
			if podExists(t, "default", r.pod.Name) {
				t.Errorf("refused pod %s was stored", r.pod.Name)
			}
		}
	})

	t.Run("default namespace admits a compliant pod without warnings", func(t *testing.T) {
		got := createPod(t, "default", busybox("plain"))
		if got.code != 201 || len(got.header.Values("Warning")) != 0 {
			t.Fatalf("create plain pod: %d %s, warnings %q", got.code, got.body, got.header.Values("Warning"))
		}
	})

	t.Run("a Deployment with a privileged template is admitted with a warning", func(t *testing.T) {
		d := &appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: "privileged-web"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: privilegedPod.Spec},
			},
		}
		body, _ := json.Marshal(d)
		got := c.do("POST", "/apis/apps/v1/namespaces/default/deployments", "application/json", body, nil)
		want := `would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`
		if got.code != 201 || !hasWarning(got.header.Values("Warning"), want) {
			t.Fatalf("create deployment: %d %s, warnings %q, want one %q", got.code, got.body, got.header.Values("Warning"), want)
		}
		// An update of the template warns again; a status-only update does not.
		body = []byte(`{"spec":{"template":{"metadata":{"annotations":{"rev":"2"}}}}}`)
		got = c.do("PATCH", "/apis/apps/v1/namespaces/default/deployments/privileged-web", "application/merge-patch+json", body, nil)
		if got.code != 200 || !hasWarning(got.header.Values("Warning"), want) {
			t.Errorf("patch deployment: %d %s, warnings %q", got.code, got.body, got.header.Values("Warning"))
		}
		got = c.do("PATCH", "/apis/apps/v1/namespaces/default/deployments/privileged-web/status", "application/merge-patch+json", []byte(`{"status":{"observedGeneration":1}}`), nil)
		if got.code != 200 || len(got.header.Values("Warning")) != 0 {
			t.Errorf("patch deployment status: %d %s, warnings %q", got.code, got.body, got.header.Values("Warning"))
		}
	})

	t.Run("stock kubectl prints the refusal and the warning", func(t *testing.T) {
		k := newKubectl(t, s, "")
		manifest, _ := json.Marshal(dockerSock("kubectl-sock", "/var/run/docker.sock"))
		_, errOut, code := k.runIn(string(manifest), "apply", "-f", "-")
		want := `Error from server (Forbidden): error when creating "STDIN": pods "kubectl-sock" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volume "sock")`
		if code == 0 || !strings.Contains(errOut, want) {
			t.Errorf("kubectl apply docker.sock pod: exit %d, stderr %q\nwant %q", code, errOut, want)
		}
		_, errOut, code = k.runIn(`{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"agent"},"spec":{"selector":{"matchLabels":{"app":"agent"}},`+
			`"template":{"metadata":{"labels":{"app":"agent"}},"spec":{"hostNetwork":true,"containers":[{"name":"a","image":"busybox:local"}]}}}}`, "apply", "-f", "-")
		if want := `Warning: would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)`; code != 0 || !strings.Contains(errOut, want) {
			t.Errorf("kubectl apply daemonset: exit %d, stderr %q\nwant %q", code, errOut, want)
		}
	})

	t.Run("a privileged namespace admits the same pods", func(t *testing.T) {
		namespaceWith(t, "tools", map[string]string{"pod-security.kubernetes.io/enforce": "privileged", "pod-security.kubernetes.io/warn": "privileged"})
		for _, r := range baselineRefusals {
			got := createPod(t, "tools", r.pod)
			if got.code != 201 || len(got.header.Values("Warning")) != 0 {
				t.Errorf("create %s in tools: %d %s, warnings %q", r.pod.Name, got.code, got.status.Message, got.header.Values("Warning"))
			}
		}
	})

	t.Run("enforce=privileged alone still warns at the default level", func(t *testing.T) {
		namespaceWith(t, "loose", map[string]string{"pod-security.kubernetes.io/enforce": "privileged"})
		got := createPod(t, "loose", privilegedPod)
		want := `would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`
		if got.code != 201 || !hasWarning(got.header.Values("Warning"), want) {
			t.Errorf("create privileged pod in loose: %d %s, warnings %q", got.code, got.status.Message, got.header.Values("Warning"))
		}
	})

	t.Run("restricted refuses a plain busybox pod", func(t *testing.T) {
		namespaceWith(t, "secure", map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
		got := createPod(t, "secure", busybox("plain"))
		want := `pods "plain" is forbidden: violates PodSecurity "restricted:latest": ` +
			`allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ` +
			`unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ` +
			`runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ` +
			`seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")`
		if got.code != 403 || got.status.Message != want {
			t.Errorf("create plain pod in secure: %d %q\nwant 403 %q", got.code, got.status.Message, want)
		}
		ok := busybox("hardened")
		ok.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To(int64(1000)),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
		ok.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false),
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
		if got := createPod(t, "secure", ok); got.code != 201 {
			t.Errorf("create hardened pod in secure: %d %s", got.code, got.status.Message)
		}
	})

	t.Run("namespace labels are validated, and tightening warns about existing pods", func(t *testing.T) {
		got := c.do("POST", "/api/v1/namespaces", "application/json",
			[]byte(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"typo","labels":{"pod-security.kubernetes.io/enforce":"basline"}}}`), nil)
		want := `Namespace "typo" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "basline": must be one of privileged, baseline, restricted`
		if got.code != 422 || got.status.Message != want {
			t.Errorf("create namespace with a bad label: %d %q\nwant 422 %q", got.code, got.status.Message, want)
		}
		// tools holds the privileged pods admitted above.
		body := []byte(`{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"baseline"}}}`)
		got = c.do("PATCH", "/api/v1/namespaces/tools?dryRun=All", "application/merge-patch+json", body, nil)
		warnings := got.header.Values("Warning")
		if got.code != 200 || len(warnings) == 0 || unquote299(t, warnings[0]) != `existing pods in namespace "tools" violate the new PodSecurity enforce level "baseline:latest"` {
			t.Fatalf("label tools baseline (dry run): %d %s, warnings %q", got.code, got.body, warnings)
		}
		for _, w := range []string{
			`priv: privileged`,
			`docker-sock (and 3 other pods): hostPath volumes`,
			`hostnet: host namespaces`,
			`caps: non-default capabilities`,
		} {
			if !hasWarning(warnings[1:], w) {
				t.Errorf("label tools baseline: warnings %q lack %q", warnings, w)
			}
		}
		ns, err := cs.CoreV1().Namespaces().Get(ctx, "tools", metav1.GetOptions{})
		if err != nil || ns.Labels["pod-security.kubernetes.io/enforce"] != "privileged" {
			t.Errorf("a dry run changed the namespace: %v %v", ns.Labels, err)
		}
	})

	t.Run("only significant pod updates are re-checked", func(t *testing.T) {
		// priv was admitted in tools while it was privileged; make tools
		// baseline, then the pod may still be labelled but not re-imaged.
		body := []byte(`{"metadata":{"labels":{"pod-security.kubernetes.io/enforce":"baseline"}}}`)
		if got := c.do("PATCH", "/api/v1/namespaces/tools", "application/merge-patch+json", body, nil); got.code != 200 {
			t.Fatalf("label tools baseline: %d %s", got.code, got.body)
		}
		got := c.do("PATCH", "/api/v1/namespaces/tools/pods/priv", "application/merge-patch+json", []byte(`{"metadata":{"labels":{"seen":"yes"}}}`), nil)
		if got.code != 200 {
			t.Errorf("label an existing privileged pod: %d %s", got.code, got.status.Message)
		}
		got = c.do("PATCH", "/api/v1/namespaces/tools/pods/priv", "application/strategic-merge-patch+json",
			[]byte(`{"spec":{"containers":[{"name":"c","image":"busybox:other"}]}}`), nil)
		want := `pods "priv" is forbidden: violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`
		if got.code != 403 || got.status.Message != want {
			t.Errorf("re-image an existing privileged pod: %d %q\nwant 403 %q", got.code, got.status.Message, want)
		}
	})
}

// hasWarning reports whether one of the Warning header values is msg, in
// the `299 - "quoted"` form Kubernetes sends and client-go parses.
func hasWarning(values []string, msg string) bool {
	for _, v := range values {
		if rest, ok := strings.CutPrefix(v, "299 - "); ok {
			if s, err := strconv.Unquote(rest); err == nil && s == msg {
				return true
			}
		}
	}
	return false
}

func unquote299(t *testing.T, v string) string {
	t.Helper()
	s, err := strconv.Unquote(strings.TrimPrefix(v, "299 - "))
	if err != nil {
		t.Fatalf("Warning header %q: %v", v, err)
	}
	return s
}
