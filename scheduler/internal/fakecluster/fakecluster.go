package fakecluster

import (
	"fmt"
	"sync"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

var podsResource = v1.SchemeGroupVersion.WithResource("pods")

// Cluster is a fake clientset with binding support.
type Cluster struct {
	*fake.Clientset

	mu       sync.Mutex
	failBind func(*v1.Binding) error
	binds    int
}

// New returns a Cluster holding objects.
func New(objects ...runtime.Object) *Cluster {
	c := &Cluster{Clientset: fake.NewClientset(objects...)}
	c.PrependReactor("create", "pods", c.bind)
	c.PrependWatchReactor("*", c.watch)
	return c
}

// FailBinds makes every bind for which f returns an error fail with it.
func (c *Cluster) FailBinds(f func(*v1.Binding) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failBind = f
}

// Binds counts the successful binds.
func (c *Cluster) Binds() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.binds
}

// bind does what the API server's pods/binding does: set the node, once,
// and mark the pod scheduled.
func (c *Cluster) bind(action k8stesting.Action) (bool, runtime.Object, error) {
	create, ok := action.(k8stesting.CreateAction)
	if !ok || create.GetSubresource() != "binding" {
		return false, nil, nil
	}
	b, ok := create.GetObject().(*v1.Binding)
	if !ok {
		return true, nil, apierrors.NewBadRequest("not a Binding")
	}
	c.mu.Lock()
	fail := c.failBind
	c.mu.Unlock()
	if fail != nil {
		if err := fail(b); err != nil {
			return true, nil, err
		}
	}
	ns := create.GetNamespace()
	obj, err := c.Tracker().Get(podsResource, ns, b.Name)
	if err != nil {
		return true, nil, err
	}
	pod := obj.(*v1.Pod).DeepCopy()
	if pod.Spec.NodeName != "" {
		return true, nil, apierrors.NewConflict(podsResource.GroupResource(), b.Name, fmt.Errorf("pod %s is already assigned to node %q", b.Name, pod.Spec.NodeName))
	}
	if b.UID != "" && pod.UID != b.UID {
		return true, nil, apierrors.NewConflict(podsResource.GroupResource(), b.Name, fmt.Errorf("pod UID %s does not match binding UID %s", pod.UID, b.UID))
	}
	pod.Spec.NodeName = b.Target.Name
	scheduled := v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionTrue, LastTransitionTime: metav1.Now()}
	replaced := false
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == v1.PodScheduled {
			pod.Status.Conditions[i], replaced = scheduled, true
		}
	}
	if !replaced {
		pod.Status.Conditions = append(pod.Status.Conditions, scheduled)
	}
	if err := c.Tracker().Update(podsResource, pod, ns); err != nil {
		return true, nil, err
	}
	c.mu.Lock()
	c.binds++
	c.mu.Unlock()
	return true, b, nil
}

// watch serves the tracker's watch through a large buffer, drained by a
// goroutine that does nothing else, so that writers never find the fake
// watcher's small channel full while an informer is busy.
func (c *Cluster) watch(action k8stesting.Action) (bool, watch.Interface, error) {
	var opts metav1.ListOptions
	if w, ok := action.(k8stesting.WatchActionImpl); ok {
		opts = w.ListOptions
	}
	inner, err := c.Tracker().Watch(action.GetResource(), action.GetNamespace(), opts)
	if err != nil {
		return false, nil, err
	}
	ch := make(chan watch.Event, 100000)
	proxy := watch.NewProxyWatcher(ch)
	go func() {
		defer inner.Stop()
		for {
			select {
			case ev, ok := <-inner.ResultChan():
				if !ok {
					return
				}
				select {
				case ch <- ev:
				case <-proxy.StopChan():
					return
				}
			case <-proxy.StopChan():
				return
			}
		}
	}()
	return true, proxy, nil
}

// Node is a Ready node with the given allocatable (also its capacity),
// labelled with its hostname.
func Node(name string, allocatable v1.ResourceList) *v1.Node {
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1.LabelHostname: name}},
		Status: v1.NodeStatus{
			Capacity:    allocatable,
			Allocatable: allocatable,
			Conditions:  []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}},
		},
	}
}

// Resources is a ResourceList from name/quantity pairs:
// Resources("cpu", "4", "memory", "8Gi", "pods", "110").
func Resources(kv ...string) v1.ResourceList {
	rl := v1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		rl[v1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return rl
}

// Pod is a pending pod with one container requesting requests.
func Pod(namespace, name string, requests v1.ResourceList) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID("uid-" + namespace + "-" + name)},
		Spec: v1.PodSpec{
			SchedulerName: "default-scheduler",
			Containers:    []v1.Container{{Name: "app", Image: "app", Resources: v1.ResourceRequirements{Requests: requests}}},
		},
	}
}
