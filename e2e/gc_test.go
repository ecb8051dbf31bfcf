package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/e2e/cluster"
)

// gcHold is a finalizer the tests put on an object to keep it from
// going, and take off to let it go.
const gcHold = "skiff.dev/e2e-hold"

// gcChain creates, by hand, what the Deployment and ReplicaSet
// controllers would: Deployment web owning ReplicaSet web-1 owning pods
// web-1-a and web-1-b, bound to node, with controller references that
// block their owner's foreground deletion. With hold, pod web-1-a
// carries gcHold.
func gcChain(t *testing.T, cs *kubernetes.Clientset, ns, node string, hold bool) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": "web"}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](5),
			Containers:                    []corev1.Container{{Name: "web", Image: "busybox:stable"}},
		},
	}
	d, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := cs.AppsV1().ReplicaSets(ns).Create(ctx, &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Labels: labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"web-1-a", "web-1-b"} {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels,
				OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))}},
			Spec: *tmpl.Spec.DeepCopy(),
		}
		p.Spec.NodeName = node
		if hold && i == 0 {
			p.Finalizers = []string{gcHold}
		}
		if _, err := cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"web-1-a", "web-1-b"} {
		waitPod(t, cs, ns, name, 30*time.Second, podRunning)
	}
}

func gcCreateNamespace(t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// gcGone fails unless get reports NotFound.
func gcGone(what string, get func(context.Context) error) error {
	err := get(context.Background())
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", what, err)
	}
	return fmt.Errorf("%s still exists", what)
}

func gcPodGone(cs kubernetes.Interface, ns, name string) error {
	return gcGone("pod "+name, func(ctx context.Context) error {
		_, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		return err
	})
}

func gcReplicaSetGone(cs kubernetes.Interface, ns, name string) error {
	return gcGone("replicaset "+name, func(ctx context.Context) error {
		_, err := cs.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
		return err
	})
}

func gcDeploymentGone(cs kubernetes.Interface, ns, name string) error {
	return gcGone("deployment "+name, func(ctx context.Context) error {
		_, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		return err
	})
}

func gcConfigMapGone(cs kubernetes.Interface, ns, name string) error {
	return gcGone("configmap "+name, func(ctx context.Context) error {
		_, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		return err
	})
}

// gcAsync runs kubectl in the background; the result arrives on the channel.
type gcResult struct {
	out, errOut string
	code        int
}

func gcAsync(k *kubectl, args ...string) <-chan gcResult {
	ch := make(chan gcResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		full := append([]string{"--kubeconfig", k.kubeconfig, "--cache-dir", k.cacheDir}, args...)
		out, errOut, code := cluster.Run(ctx, k.env, "", k.bin, full...)
		ch <- gcResult{out, errOut, code}
	}()
	return ch
}

func gcRunning(ch <-chan gcResult) error {
	select {
	case r := <-ch:
		return fmt.Errorf("kubectl returned (exit %d) too early: %s%s", r.code, r.out, r.errOut)
	default:
		return nil
	}
}

func gcWait(t *testing.T, ch <-chan gcResult, what string) gcResult {
	t.Helper()
	select {
	case r := <-ch:
		if r.code != 0 {
			t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", what, r.code, r.out, r.errOut)
		}
		return r
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not return", what)
	}
	return gcResult{}
}

func gcRemoveFinalizers(t *testing.T, cs kubernetes.Interface, ns, pod string) {
	t.Helper()
	if _, err := cs.CoreV1().Pods(ns).Patch(context.Background(), pod, types.MergePatchType,
		[]byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

func gcHasFinalizer(m metav1.Object, f string) bool { return slices.Contains(m.GetFinalizers(), f) }

// TestGCDeletionPropagation is issue 5's acceptance 3 on a hand-made
// Deployment → ReplicaSet → pods chain, so it holds whatever the
// Deployment and ReplicaSet controllers do (they are disabled here).
func TestGCDeletionPropagation(t *testing.T) {
	s := startServer(t, "--controllers=*,-deployment,-replicaset")
	node := fakeNodes(t, s, 1)[0]
	cs := clientset(t, s)
	k := newKubectl(t, s, "")
	ctx := context.Background()

	t.Run("background", func(t *testing.T) {
		ns := "gc-background"
		gcCreateNamespace(t, cs, ns)
		gcChain(t, cs, ns, node, false)
		out := k.must("delete", "deploy", "web", "-n", ns, "--cascade=background")
		if !strings.Contains(out, `deployment.apps "web" deleted`) {
			t.Errorf("kubectl delete said %q", out)
		}
		// Background: the owner goes at once, the dependents after.
		if err := gcDeploymentGone(cs, ns, "web"); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, func() error {
			for _, check := range []error{gcReplicaSetGone(cs, ns, "web-1"), gcPodGone(cs, ns, "web-1-a"), gcPodGone(cs, ns, "web-1-b")} {
				if check != nil {
					return check
				}
			}
			return nil
		})
	})

	t.Run("foreground", func(t *testing.T) {
		ns := "gc-foreground"
		gcCreateNamespace(t, cs, ns)
		// Pod web-1-a is held by a finalizer, so the foreground deletion
		// can be seen waiting on it.
		gcChain(t, cs, ns, node, true)
		done := gcAsync(k, "delete", "deploy", "web", "-n", ns, "--cascade=foreground")
		eventually(t, 30*time.Second, func() error {
			if err := gcPodGone(cs, ns, "web-1-b"); err != nil {
				return err
			}
			p, err := cs.CoreV1().Pods(ns).Get(ctx, "web-1-a", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if p.DeletionTimestamp == nil {
				return fmt.Errorf("pod web-1-a is not being deleted")
			}
			rs, err := cs.AppsV1().ReplicaSets(ns).Get(ctx, "web-1", metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("the ReplicaSet went before its blocking pod: %w", err)
			}
			if rs.DeletionTimestamp == nil || !gcHasFinalizer(rs, metav1.FinalizerDeleteDependents) {
				return fmt.Errorf("replicaset web-1 not in a foreground deletion: %v %v", rs.DeletionTimestamp, rs.Finalizers)
			}
			return nil
		})
		// The Deployment stays, marked, while a dependent remains.
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the Deployment went before its dependents: %v", err)
		}
		if d.DeletionTimestamp == nil || !gcHasFinalizer(d, metav1.FinalizerDeleteDependents) {
			t.Fatalf("deployment web not in a foreground deletion: %v %v", d.DeletionTimestamp, d.Finalizers)
		}
		if err := gcRunning(done); err != nil {
			t.Fatal(err)
		}

		gcRemoveFinalizers(t, cs, ns, "web-1-a")
		r := gcWait(t, done, "kubectl delete --cascade=foreground")
		if !strings.Contains(r.out, `deployment.apps "web" deleted`) {
			t.Errorf("kubectl delete said %q", r.out)
		}
		// kubectl returned when the Deployment was gone: everything
		// it owned was gone before.
		for _, err := range []error{gcDeploymentGone(cs, ns, "web"), gcReplicaSetGone(cs, ns, "web-1"), gcPodGone(cs, ns, "web-1-a"), gcPodGone(cs, ns, "web-1-b")} {
			if err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("orphan", func(t *testing.T) {
		ns := "gc-orphan"
		gcCreateNamespace(t, cs, ns)
		gcChain(t, cs, ns, node, false)
		k.must("delete", "deploy", "web", "-n", ns, "--cascade=orphan")
		if err := gcDeploymentGone(cs, ns, "web"); err != nil {
			t.Fatal(err)
		}
		// A collector that wrongly took the ReplicaSet for garbage
		// would act within this time; the orphans must be untouched.
		time.Sleep(3 * time.Second)
		rs, err := cs.AppsV1().ReplicaSets(ns).Get(ctx, "web-1", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("orphaned ReplicaSet: %v", err)
		}
		if len(rs.OwnerReferences) != 0 || rs.DeletionTimestamp != nil {
			t.Errorf("orphaned ReplicaSet: ownerReferences %+v, deletionTimestamp %v", rs.OwnerReferences, rs.DeletionTimestamp)
		}
		for _, name := range []string{"web-1-a", "web-1-b"} {
			p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("pod %s: %v", name, err)
			}
			if p.DeletionTimestamp != nil || len(p.OwnerReferences) != 1 || p.OwnerReferences[0].UID != rs.UID {
				t.Errorf("pod %s: deletionTimestamp %v, ownerReferences %+v (want the ReplicaSet's)", name, p.DeletionTimestamp, p.OwnerReferences)
			}
		}
	})
}

// TestGCDeploymentControllers is acceptance 3 with the real Deployment
// and ReplicaSet controllers: `kubectl create deployment`, then delete it
// with each propagation policy.
func TestGCDeploymentControllers(t *testing.T) {
	s := startServer(t)
	fakeNodes(t, s, 1)
	cs := clientset(t, s)
	k := newKubectl(t, s, "")
	ctx := context.Background()
	policies := []string{"background", "foreground", "orphan"}
	for _, p := range policies {
		ns := "gc-real-" + p
		gcCreateNamespace(t, cs, ns)
		k.must("create", "deployment", "web", "--image=busybox:stable", "--replicas=2", "-n", ns)
	}
	// The ReplicaSet of each Deployment, and its running pods.
	owned := map[string]*appsv1.ReplicaSet{}
	deadline := time.Now().Add(10 * time.Second)
	for len(owned) < len(policies) && time.Now().Before(deadline) {
		for _, p := range policies {
			list, err := cs.AppsV1().ReplicaSets("gc-real-"+p).List(ctx, metav1.ListOptions{})
			if err == nil && len(list.Items) > 0 {
				owned[p] = &list.Items[0]
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(owned) < len(policies) {
		t.Skip("no ReplicaSet appeared within 10 s of `kubectl create deployment`: the Deployment controller is not in this build yet; TestGCDeletionPropagation covers the collector with a hand-made chain")
	}
	podsOf := func(ns string, rs *appsv1.ReplicaSet) ([]corev1.Pod, error) {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		var out []corev1.Pod
		for _, p := range list.Items {
			if ref := metav1.GetControllerOf(&p); ref != nil && ref.UID == rs.UID {
				out = append(out, p)
			}
		}
		return out, nil
	}
	for _, p := range policies {
		ns := "gc-real-" + p
		eventually(t, 30*time.Second, func() error {
			pods, err := podsOf(ns, owned[p])
			if err != nil {
				return err
			}
			running := 0
			for i := range pods {
				if podRunning(&pods[i]) == nil {
					running++
				}
			}
			if running != 2 {
				return fmt.Errorf("%s: %d of 2 pods running", ns, running)
			}
			return nil
		})
	}

	for _, p := range []string{"background", "foreground"} {
		t.Run(p, func(t *testing.T) {
			ns := "gc-real-" + p
			k.must("delete", "deploy", "web", "-n", ns, "--cascade="+p)
			if p == "foreground" {
				// kubectl waited for the Deployment to go, which it
				// did only after its ReplicaSet and pods.
				if err := gcReplicaSetGone(cs, ns, owned[p].Name); err != nil {
					t.Error(err)
				}
				if pods, err := podsOf(ns, owned[p]); err != nil || len(pods) != 0 {
					t.Errorf("pods left after the foreground deletion: %d (%v)", len(pods), err)
				}
			}
			eventually(t, 30*time.Second, func() error {
				if err := gcReplicaSetGone(cs, ns, owned[p].Name); err != nil {
					return err
				}
				list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					return err
				}
				if len(list.Items) != 0 {
					return fmt.Errorf("%d pods left", len(list.Items))
				}
				return nil
			})
		})
	}
	t.Run("orphan", func(t *testing.T) {
		ns := "gc-real-orphan"
		k.must("delete", "deploy", "web", "-n", ns, "--cascade=orphan")
		time.Sleep(3 * time.Second)
		rs, err := cs.AppsV1().ReplicaSets(ns).Get(ctx, owned["orphan"].Name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("orphaned ReplicaSet: %v", err)
		}
		if len(rs.OwnerReferences) != 0 || rs.DeletionTimestamp != nil {
			t.Errorf("orphaned ReplicaSet: ownerReferences %+v, deletionTimestamp %v", rs.OwnerReferences, rs.DeletionTimestamp)
		}
		pods, err := podsOf(ns, rs)
		if err != nil || len(pods) != 2 {
			t.Errorf("pods of the orphaned ReplicaSet: %d (%v), want 2", len(pods), err)
		}
	})
}

// TestNamespaceDeletion: `kubectl delete ns team-a` removes everything in
// the namespace, then the namespace, and returns when it is gone; while
// it terminates, its conditions say what it waits for and nothing new may
// be created in it.
func TestNamespaceDeletion(t *testing.T) {
	// The chain is made by hand (gcChain): a running Deployment
	// controller would take the hand-made ReplicaSet for an old one and
	// scale its pods away before the test looks at them.
	s := startServer(t, "--controllers=*,-deployment,-replicaset")
	node := fakeNodes(t, s, 1)[0]
	cs := clientset(t, s)
	k := newKubectl(t, s, "")
	ctx := context.Background()
	const ns = "team-a"

	k.must("create", "namespace", ns)
	k.must("create", "configmap", "plain", "--from-literal=a=b", "-n", ns)
	k.must("create", "secret", "generic", "creds", "--from-literal=p=q", "-n", ns)
	k.must("create", "service", "clusterip", "svc", "--tcp=80:8080", "-n", ns)
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{gcHold}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A chain the garbage collector also cares about, with running pods.
	gcChain(t, cs, ns, node, false)

	done := gcAsync(k, "delete", "namespace", ns)
	eventually(t, 30*time.Second, func() error {
		n, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if n.Status.Phase != corev1.NamespaceTerminating {
			return fmt.Errorf("phase %s", n.Status.Phase)
		}
		want := map[corev1.NamespaceConditionType]string{
			corev1.NamespaceContentRemaining:         "True SomeResourcesRemain: Some resources are remaining: configmaps. has 1 resource instances",
			corev1.NamespaceFinalizersRemaining:      "True SomeFinalizerRemain: Some finalizers are remaining: " + gcHold + " in 1 resource instances",
			corev1.NamespaceDeletionContentFailure:   "False ContentDeleted: All content successfully deleted, may be waiting on finalization",
			corev1.NamespaceDeletionDiscoveryFailure: "False ResourcesDiscovered: All resources successfully discovered",
		}
		for _, c := range n.Status.Conditions {
			got := string(c.Status) + " " + c.Reason + ": " + c.Message
			if w, ok := want[c.Type]; ok {
				if got != w {
					return fmt.Errorf("condition %s = %q, want %q", c.Type, got, w)
				}
				delete(want, c.Type)
			}
		}
		if len(want) > 0 {
			return fmt.Errorf("conditions missing: %v (have %+v)", want, n.Status.Conditions)
		}
		return nil
	})
	// Everything else is gone, pods included (their node agent stopped them).
	for _, err := range []error{
		gcConfigMapGone(cs, ns, "plain"),
		gcGone("secret creds", func(ctx context.Context) error {
			_, err := cs.CoreV1().Secrets(ns).Get(ctx, "creds", metav1.GetOptions{})
			return err
		}),
		gcGone("service svc", func(ctx context.Context) error {
			_, err := cs.CoreV1().Services(ns).Get(ctx, "svc", metav1.GetOptions{})
			return err
		}),
		gcDeploymentGone(cs, ns, "web"), gcReplicaSetGone(cs, ns, "web-1"),
		gcPodGone(cs, ns, "web-1-a"), gcPodGone(cs, ns, "web-1-b"),
	} {
		if err != nil {
			t.Error(err)
		}
	}
	out, errOut, code := k.run("create", "configmap", "late", "-n", ns)
	if code == 0 || !strings.Contains(errOut, "forbidden") || !strings.Contains(errOut, "because it is being terminated") {
		t.Errorf("creating in a terminating namespace: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if err := gcRunning(done); err != nil {
		t.Fatal(err)
	}

	if _, err := cs.CoreV1().ConfigMaps(ns).Patch(ctx, "held", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	r := gcWait(t, done, "kubectl delete namespace")
	if !strings.Contains(r.out, `namespace "team-a" deleted`) {
		t.Errorf("kubectl delete said %q", r.out)
	}
	if err := gcGone("namespace "+ns, func(ctx context.Context) error {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return err
	}); err != nil {
		t.Error(err)
	}
}

// gcServerAt starts `skiff server` on an existing data directory.
func gcServerAt(t *testing.T, dir string, args ...string) *cluster.Server {
	t.Helper()
	s, err := cluster.Start(cluster.Options{Bin: skiffBin, DataDir: dir, Args: args})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("server log:\n%s", tail(s.Log(), 4000))
		}
	})
	return s
}

func gcConfigMap(t *testing.T, cs kubernetes.Interface, name string, owner *corev1.ConfigMap) *corev1.ConfigMap {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if owner != nil {
		cm.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID}}
	}
	out, err := cs.CoreV1().ConfigMaps("default").Create(context.Background(), cm, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGCCollectsAfterRestart: dependents of owners deleted (or replaced
// by a namesake) while the collector was not running are collected when
// it runs again; the collector's state comes from the API alone.
func TestGCCollectsAfterRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := gcServerAt(t, dir)
	cs := clientset(t, s)
	ctx := context.Background()

	// A reference to an owner that never existed dangles from the start.
	gcConfigMap(t, cs, "dangling", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "ghost", UID: "0b5e7c1e-0000-4000-8000-000000000000"}})
	owner := gcConfigMap(t, cs, "owner", nil)
	gcConfigMap(t, cs, "dependent", owner)
	phoenix := gcConfigMap(t, cs, "phoenix", nil)
	gcConfigMap(t, cs, "ash", phoenix)
	keeper := gcConfigMap(t, cs, "keeper", nil)
	gcConfigMap(t, cs, "kept", keeper)
	eventually(t, 30*time.Second, func() error { return gcConfigMapGone(cs, "default", "dangling") })
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}

	s = gcServerAt(t, dir, "--controllers=*,-garbagecollector")
	cs = clientset(t, s)
	if err := cs.CoreV1().ConfigMaps("default").Delete(ctx, "owner", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().ConfigMaps("default").Delete(ctx, "phoenix", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	reborn := gcConfigMap(t, cs, "phoenix", nil)
	if reborn.UID == phoenix.UID {
		t.Fatal("a recreated object kept its UID")
	}
	// Without a collector nothing takes the dependents.
	time.Sleep(2 * time.Second)
	for _, name := range []string{"dependent", "ash"} {
		if err := gcConfigMapGone(cs, "default", name); err == nil {
			t.Fatalf("configmap %s went without a garbage collector", name)
		}
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}

	s = gcServerAt(t, dir)
	cs = clientset(t, s)
	eventually(t, 30*time.Second, func() error {
		if err := gcConfigMapGone(cs, "default", "dependent"); err != nil {
			return err
		}
		return gcConfigMapGone(cs, "default", "ash")
	})
	for _, name := range []string{"kept", "keeper", "phoenix"} {
		if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("configmap %s: %v", name, err)
		}
	}
}
