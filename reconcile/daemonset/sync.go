package daemonset

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-dev/skiff/reconcile/ownerref"
)

// sync reconciles one DaemonSet: claim its pods and revisions, record
// the current template as a revision, put one pod on every node that
// should run it and none elsewhere, advance a rolling update, prune the
// history, and write status. One call takes one step; the informers
// bring the next.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	ds, err := c.dsLister.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.exp.Delete(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get daemonset %s: %w", key, err)
	}
	if reflect.DeepEqual(ds.Spec.Selector, &metav1.LabelSelector{}) {
		c.recorder.Event(ds, corev1.EventTypeWarning, reasonSelectingAll, "This daemon set is selecting all pods. A non-empty selector is required.")
		return nil
	}
	// Being deleted: the garbage collector may already have taken its
	// revisions, so neither the pods nor the status can be trusted.
	if ds.DeletionTimestamp != nil {
		return nil
	}
	selector, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		c.log.Error("invalid selector", "daemonset", key, "err", err)
		return nil
	}
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return err
	}
	pods, err := c.claimPods(ctx, ds, selector)
	if err != nil {
		return fmt.Errorf("claim pods of daemonset %s: %w", key, err)
	}
	cur, old, err := c.constructHistory(ctx, ds, selector, pods)
	if err != nil {
		return fmt.Errorf("revisions of daemonset %s: %w", key, err)
	}
	hash := cur.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	byNode := groupByNode(pods, false)

	if !c.exp.Satisfied(key) {
		// Earlier creations or deletions are not in the cache yet: the
		// pods counted now would be stale, so only report.
		return c.updateStatus(ctx, ds, nodes, byNode, hash, false)
	}
	err = c.manage(ctx, ds, nodes, byNode, hash)
	if err == nil && c.exp.Satisfied(key) && ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		err = c.rollingUpdate(ctx, ds, nodes, byNode, hash)
	}
	if err == nil {
		if herr := c.cleanupHistory(ctx, ds, old, pods); herr != nil {
			err = fmt.Errorf("clean up revisions of daemonset %s: %w", key, herr)
		}
	}
	statusErr := c.updateStatus(ctx, ds, nodes, byNode, hash, true)
	if err != nil {
		return err
	}
	return statusErr
}

// groupByNode maps node name to the daemon pods for it. Pods that are
// both deleted and finished count as gone, except for history, which
// keeps the revisions they ran.
func groupByNode(pods []*corev1.Pod, includeDeletedTerminal bool) map[string][]*corev1.Pod {
	out := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if !includeDeletedTerminal && p.DeletionTimestamp != nil && terminal(p) {
			continue
		}
		node, ok := targetNode(p)
		if !ok {
			continue
		}
		out[node] = append(out[node], p)
	}
	return out
}

// canAdopt re-reads the DaemonSet from the API before anything is
// adopted: adopting for a DaemonSet being deleted would orphan the
// object again at once.
func (c *Controller) canAdopt(ds *appsv1.DaemonSet) func(context.Context) error {
	return func(ctx context.Context) error {
		fresh, err := c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if fresh.UID != ds.UID {
			return fmt.Errorf("daemonset %s/%s is gone: uid %s, wanted %s", ds.Namespace, ds.Name, fresh.UID, ds.UID)
		}
		if fresh.DeletionTimestamp != nil {
			return fmt.Errorf("daemonset %s/%s is being deleted", ds.Namespace, ds.Name)
		}
		return nil
	}
}

// claimPods returns the pods ds controls, adopting matching orphans and
// releasing pods that stopped matching. Cached objects: copy to change.
func (c *Controller) claimPods(ctx context.Context, ds *appsv1.DaemonSet, selector labels.Selector) ([]*corev1.Pod, error) {
	all, err := c.podLister.Pods(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	objs := make([]metav1.Object, len(all))
	for i := range all {
		objs[i] = all[i]
	}
	pods := c.client.CoreV1().Pods(ds.Namespace)
	claimer := &ownerref.Claimer{
		Owner: ds, Selector: selector, CanAdopt: c.canAdopt(ds),
		Adopt: func(ctx context.Context, o metav1.Object) error {
			_, err := pods.Patch(ctx, o.GetName(), types.StrategicMergePatchType, ownerref.AdoptPatch(ds, controllerKind, o.GetUID()), metav1.PatchOptions{})
			return err
		},
		Release: func(ctx context.Context, o metav1.Object) error {
			_, err := pods.Patch(ctx, o.GetName(), types.StrategicMergePatchType, ownerref.ReleasePatch(ds.UID, o.GetUID()), metav1.PatchOptions{})
			return err
		},
	}
	claimed, err := claimer.Claim(ctx, objs)
	out := make([]*corev1.Pod, len(claimed))
	for i := range claimed {
		out[i] = claimed[i].(*corev1.Pod)
	}
	return out, err
}

// manage creates the pods nodes miss and deletes those that must go.
func (c *Controller) manage(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) error {
	now := c.clock.Now()
	var createOn []string
	var remove []*corev1.Pod
	for _, node := range nodes {
		d := decideNode(node, byNode[node.Name], ds, hash, now)
		if d.create {
			createOn = append(createOn, node.Name)
		}
		remove = append(remove, d.remove...)
		for _, p := range d.failed {
			// Keyed by generation too, so a new template is tried at once.
			key := fmt.Sprintf("%s/%d/%s", ds.UID, ds.Status.ObservedGeneration, node.Name)
			if c.backoff.IsInBackOffSinceUpdate(key, now) {
				c.enqueueAfter(ds, c.backoff.Get(key))
				continue
			}
			c.backoff.Next(key, now)
			c.recorder.Eventf(ds, corev1.EventTypeWarning, reasonFailedDaemonPod, "Found failed daemon pod %s/%s on node %s, will try to kill it", p.Namespace, p.Name, node.Name)
			remove = append(remove, p)
		}
		for _, p := range d.succeeded {
			c.recorder.Eventf(ds, corev1.EventTypeNormal, reasonSucceededDaemon, "Found succeeded daemon pod %s/%s on node %s, will try to delete it", p.Namespace, p.Name, node.Name)
			remove = append(remove, p)
		}
	}
	remove = append(remove, unscheduledWithoutNode(nodes, byNode)...)
	return c.syncNodes(ctx, ds, remove, createOn, hash)
}

// rollingUpdate replaces pods of older templates within the strategy's
// bounds.
func (c *Controller) rollingUpdate(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) error {
	remove, createOn, err := rollingUpdate(ds, nodes, byNode, hash, c.clock.Now())
	if err != nil {
		return err
	}
	return c.syncNodes(ctx, ds, remove, createOn, hash)
}

// podTemplate is the template of the pods ds creates now: its own, with
// the daemon tolerations and the labels naming the revision.
func podTemplate(ds *appsv1.DaemonSet, hash string) *corev1.PodTemplateSpec {
	t := ds.Spec.Template.DeepCopy()
	addDaemonTolerations(&t.Spec)
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	if g := templateGeneration(ds); g != nil {
		t.Labels[templateGenerationLabel] = fmt.Sprint(*g)
	}
	if hash != "" {
		t.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	}
	return t
}

// newPod is ds's pod for node, named by the API server from ds's name.
func newPod(ds *appsv1.DaemonSet, t *corev1.PodTemplateSpec, node string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    ds.Name + "-",
			Namespace:       ds.Namespace,
			Labels:          copyMap(t.Labels),
			Annotations:     copyMap(t.Annotations),
			Finalizers:      append([]string(nil), t.Finalizers...),
			OwnerReferences: []metav1.OwnerReference{*ownerref.NewControllerRef(ds, controllerKind)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	pod.Spec.Affinity = pinToNode(pod.Spec.Affinity, node)
	return pod
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// syncNodes deletes pods and creates pods for nodes, at most
// burstReplicas of each, after recording the expectations so the next
// sync waits for the informer to show them. Creations go in batches that
// double from 1 ("slow start"): a quota or admission error stops after
// the first failing batch instead of failing hundreds of requests.
func (c *Controller) syncNodes(ctx context.Context, ds *appsv1.DaemonSet, remove []*corev1.Pod, createOn []string, hash string) error {
	key := ds.Namespace + "/" + ds.Name
	creates, deletes := min(len(createOn), burstReplicas), min(len(remove), burstReplicas)
	if creates == 0 && deletes == 0 {
		return nil
	}
	c.exp.Expect(key, creates, deletes)
	var mu sync.Mutex
	var errs []error
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	if creates > 0 {
		c.log.Info("creating daemon pods", "daemonset", key, "nodes", createOn[:creates])
	}
	template := podTemplate(ds, hash)
	pods := c.client.CoreV1().Pods(ds.Namespace)
	for pos, batch := 0, min(creates, 1); pos < creates; pos, batch = pos+batch, min(2*batch, creates-pos-batch) {
		before := len(errs)
		var wg sync.WaitGroup
		for _, node := range createOn[pos : pos+batch] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				created, err := pods.Create(ctx, newPod(ds, template, node), metav1.CreateOptions{})
				if err != nil {
					c.exp.Lower(key, 1, 0)
					if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
						// Every later creation would fail the same way; the
						// namespace controller is deleting the DaemonSet.
						return
					}
					c.recorder.Eventf(ds, corev1.EventTypeWarning, reasonFailedCreate, "Error creating: %v", err)
					fail(fmt.Errorf("create pod for node %s: %w", node, err))
					return
				}
				c.recorder.Eventf(ds, corev1.EventTypeNormal, reasonSuccessfulCreate, "Created pod: %s", created.Name)
			}()
		}
		wg.Wait()
		if skipped := creates - pos - batch; len(errs) > before && skipped > 0 {
			c.exp.Lower(key, skipped, 0)
			break
		}
	}
	if deletes > 0 {
		names := make([]string, deletes)
		for i, p := range remove[:deletes] {
			names[i] = p.Name
		}
		c.log.Info("deleting daemon pods", "daemonset", key, "pods", names)
	}
	var wg sync.WaitGroup
	for _, p := range remove[:deletes] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := pods.Delete(ctx, p.Name, metav1.DeleteOptions{})
			if err != nil {
				c.exp.Lower(key, 0, 1)
				if !apierrors.IsNotFound(err) {
					c.recorder.Eventf(ds, corev1.EventTypeWarning, reasonFailedDelete, "Error deleting: %v", err)
					fail(fmt.Errorf("delete pod %s: %w", p.Name, err))
				}
				return
			}
			c.recorder.Eventf(ds, corev1.EventTypeNormal, reasonSuccessfulDelete, "Deleted pod: %s", p.Name)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// updateStatus writes the counts kubectl rollout status reads. With
// observe it also records that this generation was acted on.
func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string, observe bool) error {
	s := computeStatus(ds, nodes, byNode, hash, c.clock.Now())
	want := ds.Status
	want.DesiredNumberScheduled = s.desired
	want.CurrentNumberScheduled = s.current
	want.NumberMisscheduled = s.misscheduled
	want.NumberReady = s.ready
	want.UpdatedNumberScheduled = s.updated
	want.NumberAvailable = s.available
	want.NumberUnavailable = s.desired - s.available
	if observe {
		want.ObservedGeneration = ds.Generation
	}
	if ds.Spec.MinReadySeconds > 0 && s.ready != s.available {
		// Availability arrives with time alone.
		defer c.enqueueAfter(ds, time.Duration(ds.Spec.MinReadySeconds)*time.Second)
	}
	if reflect.DeepEqual(want, ds.Status) && ds.Status.ObservedGeneration >= ds.Generation {
		return nil
	}
	client := c.client.AppsV1().DaemonSets(ds.Namespace)
	toUpdate := ds.DeepCopy()
	toUpdate.Status = want
	_, err := client.UpdateStatus(ctx, toUpdate, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		// Once more on the latest version; a further failure requeues.
		fresh, getErr := client.Get(ctx, ds.Name, metav1.GetOptions{})
		if getErr != nil {
			return fmt.Errorf("get daemonset %s/%s: %w", ds.Namespace, ds.Name, getErr)
		}
		want.CollisionCount = fresh.Status.CollisionCount
		fresh.Status = want
		_, err = client.UpdateStatus(ctx, fresh, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("update status of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return nil
}
