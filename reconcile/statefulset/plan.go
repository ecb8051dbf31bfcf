package statefulset

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiff-dev/skiff/reconcile/ownerref"
)

// This file is the controller's pure core: from a StatefulSet, the set
// as of its current and update revisions, and its pods, it computes the
// status and the ordered steps of one sync. Nothing here does I/O or
// reads the clock.

var podNameRE = regexp.MustCompile(`^(.*)-([0-9]+)$`)

// parentAndOrdinal splits a pod name <set>-<ordinal>; -1 if it is not one.
func parentAndOrdinal(pod *corev1.Pod) (string, int) {
	m := podNameRE.FindStringSubmatch(pod.Name)
	if m == nil {
		return "", -1
	}
	i, err := strconv.ParseInt(m[2], 10, 32)
	if err != nil {
		return "", -1
	}
	return m[1], int(i)
}

func ordinalOf(pod *corev1.Pod) int {
	_, o := parentAndOrdinal(pod)
	return o
}

func isMember(set *appsv1.StatefulSet, pod *corev1.Pod) bool {
	parent, o := parentAndOrdinal(pod)
	return o >= 0 && parent == set.Name
}

func podName(set *appsv1.StatefulSet, ordinal int) string {
	return set.Name + "-" + strconv.Itoa(ordinal)
}

func startOrdinal(set *appsv1.StatefulSet) int {
	if set.Spec.Ordinals != nil {
		return int(set.Spec.Ordinals.Start)
	}
	return 0
}

func replicaCount(set *appsv1.StatefulSet) int {
	if set.Spec.Replicas == nil {
		return 1
	}
	return int(*set.Spec.Replicas)
}

func podRevision(pod *corev1.Pod) string { return pod.Labels[appsv1.StatefulSetRevisionLabel] }

// identityMatches: the pod has the name, namespace and identity labels of
// its ordinal. Hostname and subdomain are set at creation only; the API
// makes them immutable.
func identityMatches(set *appsv1.StatefulSet, pod *corev1.Pod) bool {
	parent, o := parentAndOrdinal(pod)
	return o >= 0 && parent == set.Name && pod.Name == podName(set, o) && pod.Namespace == set.Namespace &&
		pod.Labels[appsv1.StatefulSetPodNameLabel] == pod.Name &&
		pod.Labels[appsv1.PodIndexLabel] == strconv.Itoa(o)
}

func podReady(p *corev1.Pod) (bool, time.Time) {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue, c.LastTransitionTime.Time
		}
	}
	return false, time.Time{}
}

func runningAndReady(p *corev1.Pod) bool {
	ready, _ := podReady(p)
	return p.Status.Phase == corev1.PodRunning && ready
}

// runningAndAvailable: running and ready for minReadySeconds.
func runningAndAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	ready, since := podReady(p)
	if p.Status.Phase != corev1.PodRunning || !ready {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	return !since.IsZero() && since.Add(time.Duration(minReadySeconds)*time.Second).Before(now)
}

func terminating(p *corev1.Pod) bool { return p.DeletionTimestamp != nil }

// newPod is the pod of set for ordinal: the template, its identity
// (name, hostname, subdomain for the governing Service, the pod-name and
// pod-index labels) and the revision it was made from.
func newPod(set *appsv1.StatefulSet, ordinal int, revision string) *corev1.Pod {
	t := &set.Spec.Template
	labels := make(map[string]string, len(t.Labels)+3)
	for k, v := range t.Labels {
		labels[k] = v
	}
	name := podName(set, ordinal)
	labels[appsv1.StatefulSetPodNameLabel] = name
	labels[appsv1.PodIndexLabel] = strconv.Itoa(ordinal)
	labels[appsv1.StatefulSetRevisionLabel] = revision
	var annotations map[string]string
	if len(t.Annotations) > 0 {
		annotations = make(map[string]string, len(t.Annotations))
		for k, v := range t.Annotations {
			annotations[k] = v
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			// Upstream keeps the template's generateName beside the name.
			GenerateName:    set.Name + "-",
			Name:            name,
			Namespace:       set.Namespace,
			Labels:          labels,
			Annotations:     annotations,
			Finalizers:      slices.Clone(t.Finalizers),
			OwnerReferences: []metav1.OwnerReference{*ownerref.NewControllerRef(set, controllerKind)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	pod.Spec.Hostname = name
	pod.Spec.Subdomain = set.Spec.ServiceName
	return pod
}

// versionedPod is the pod to create for ordinal: pods below the
// partition are made at the current revision (so a scale-up during a
// partitioned rollout does not update them early), the rest at the
// update revision. The condition keeps upstream's operator precedence.
func versionedPod(currentSet, updateSet *appsv1.StatefulSet, currentRev, updateRev string, ordinal int) *corev1.Pod {
	us := currentSet.Spec.UpdateStrategy
	start := startOrdinal(currentSet)
	if us.Type == appsv1.RollingUpdateStatefulSetStrategyType && us.RollingUpdate == nil && ordinal < start+int(currentSet.Status.CurrentReplicas) ||
		us.RollingUpdate != nil && ordinal < start+int(partition(currentSet)) {
		return newPod(currentSet, ordinal, currentRev)
	}
	return newPod(updateSet, ordinal, updateRev)
}

func partition(set *appsv1.StatefulSet) int32 {
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		return *ru.Partition
	}
	return 0
}

// maxUnavailable is how many pods a rolling update may take down at
// once: spec.updateStrategy.rollingUpdate.maxUnavailable (upstream's
// MaxUnavailableStatefulSet), 1 when unset, never less than 1.
func maxUnavailable(set *appsv1.StatefulSet) (int, error) {
	v := intstr.FromInt32(1)
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.MaxUnavailable != nil {
		v = *ru.MaxUnavailable
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(&v, replicaCount(set), false)
	if err != nil {
		return 0, fmt.Errorf("invalid maxUnavailable: %w", err)
	}
	return max(n, 1), nil
}

// stepKind is what a step does to one pod.
type stepKind string

const (
	stepCreate   stepKind = "create"
	stepDelete   stepKind = "delete"
	stepRelabel  stepKind = "relabel"
	stepRecreate stepKind = "recreate" // delete an exited pod; the next sync makes it anew
)

type step struct {
	kind stepKind
	pod  *corev1.Pod
	// why is said in the log line.
	why string
}

func (s step) String() string {
	if s.kind == stepCreate {
		return fmt.Sprintf("%s %s@%s", s.kind, s.pod.Name, podRevision(s.pod))
	}
	return fmt.Sprintf("%s %s", s.kind, s.pod.Name)
}

// plan is the outcome of one sync's decisions.
type plan struct {
	status appsv1.StatefulSetStatus
	// phases run in order; a failing phase stops the rest. With
	// OrderedReady the steps of a phase run one after another, with
	// Parallel all at once (in slow-start batches).
	phases [][]step
	// waiting says why the sync stops short (empty when it does not).
	waiting string
}

func (p *plan) add(s step) {
	p.phases[len(p.phases)-1] = append(p.phases[len(p.phases)-1], s)
}

// slot is one ordinal in range: a pod the cache holds, or one to create.
type slot struct {
	pod    *corev1.Pod
	exists bool
}

// revisionsInUse names the set's revisions: current is what the pods
// below the partition run, update is the template now in the spec.
type revisionsInUse struct {
	current, update string
	collisionCount  int32
}

// decide is upstream's updateStatefulSet: create missing pods (in order
// and one at a time, each Running and Ready before the next, unless the
// policy is Parallel), delete pods beyond the replicas (highest ordinal
// first), then, for RollingUpdate, delete pods not at the update revision
// from the highest ordinal down to the partition, at most maxUnavailable
// unavailable at once. currentSet and updateSet are set as of each
// revision.
func decide(set, currentSet, updateSet *appsv1.StatefulSet, revs revisionsInUse, pods []*corev1.Pod, now time.Time) (*plan, error) {
	p := &plan{phases: [][]step{nil}}
	p.status = *set.Status.DeepCopy()
	p.status.ObservedGeneration = set.Generation
	p.status.CurrentRevision = revs.current
	p.status.UpdateRevision = revs.update
	cc := revs.collisionCount
	p.status.CollisionCount = &cc

	minReady := set.Spec.MinReadySeconds
	start, n := startOrdinal(set), replicaCount(set)
	replicas := make([]slot, n)
	var condemned []*corev1.Pod
	for _, pod := range pods {
		o := ordinalOf(pod)
		switch {
		case o < 0:
			// Not named <set>-<ordinal>: not ours to manage.
		case o >= start && o < start+n:
			replicas[o-start] = slot{pod: pod, exists: true}
		default:
			condemned = append(condemned, pod)
		}
	}
	for i := range replicas {
		if !replicas[i].exists {
			replicas[i].pod = versionedPod(currentSet, updateSet, revs.current, revs.update, start+i)
		}
	}
	// Highest ordinal first: scale down in reverse.
	slices.SortFunc(condemned, func(a, b *corev1.Pod) int { return ordinalOf(b) - ordinalOf(a) })
	countStatus(&p.status, replicas, condemned, minReady, now)

	unavailable := func(s slot) bool {
		return !s.exists || !runningAndAvailable(s.pod, minReady, now) || terminating(s.pod)
	}
	var firstUnavailable *corev1.Pod
	for _, s := range replicas {
		if unavailable(s) {
			firstUnavailable = s.pod
			break
		}
	}
	if firstUnavailable == nil {
		for i := len(condemned) - 1; i >= 0; i-- {
			if unavailable(slot{pod: condemned[i], exists: true}) {
				firstUnavailable = condemned[i]
				break
			}
		}
	}
	if set.DeletionTimestamp != nil {
		// Being deleted: the garbage collector removes the pods.
		return p, nil
	}
	monotonic := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement

	// Pods in range.
	for _, s := range replicas {
		pod := s.pod
		if s.exists && (pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded) {
			if !terminating(pod) {
				p.add(step{kind: stepRecreate, pod: pod, why: fmt.Sprintf("pod %s exited (%s)", pod.Name, pod.Status.Phase)})
			}
			if monotonic {
				p.waiting = fmt.Sprintf("waiting for exited pod %s to be replaced", pod.Name)
				return p, nil
			}
			continue
		}
		if !s.exists {
			p.add(step{kind: stepCreate, pod: pod, why: "missing"})
			if monotonic {
				p.waiting = fmt.Sprintf("waiting for pod %s to be Running and Ready", pod.Name)
				return p, nil
			}
			continue
		}
		if monotonic {
			switch {
			case terminating(pod):
				p.waiting = fmt.Sprintf("waiting for pod %s to terminate", pod.Name)
				return p, nil
			case !runningAndReady(pod):
				p.waiting = fmt.Sprintf("waiting for pod %s to be Running and Ready", pod.Name)
				return p, nil
			case !runningAndAvailable(pod, minReady, now):
				p.waiting = fmt.Sprintf("waiting for pod %s to be Available", pod.Name)
				return p, nil
			}
		}
		if !identityMatches(set, pod) {
			p.add(step{kind: stepRelabel, pod: pod, why: "identity labels"})
		}
	}

	// Pods beyond the replicas. With OrderedReady, one at a time, and
	// only while every other pod is healthy (the first unhealthy one may
	// itself go).
	p.phases = append(p.phases, nil)
	for _, pod := range condemned {
		if terminating(pod) {
			if monotonic {
				p.waiting = fmt.Sprintf("waiting for pod %s to terminate before scaling down", pod.Name)
				return p, nil
			}
			continue
		}
		if monotonic && pod != firstUnavailable && !runningAndAvailable(pod, minReady, now) {
			p.waiting = fmt.Sprintf("waiting for pod %s to be Available before scaling down", firstUnavailable.Name)
			return p, nil
		}
		p.add(step{kind: stepDelete, pod: pod, why: "scale down"})
		if monotonic {
			return p, nil
		}
	}

	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		// Pods change revision only when the user deletes them.
		return p, nil
	}

	// Rolling update, highest ordinal first, down to the partition.
	p.phases = append(p.phases, nil)
	maxUnavail, err := maxUnavailable(set)
	if err != nil {
		return p, err
	}
	down := 0
	for _, s := range replicas {
		if unavailable(s) {
			down++
		}
	}
	if down > maxUnavail {
		p.waiting = fmt.Sprintf("waiting for %d unavailable pods (maxUnavailable %d)", down, maxUnavail)
		return p, nil
	}
	room := maxUnavail - down
	for target := len(replicas) - 1; target >= int(partition(set)); target-- {
		pod := replicas[target].pod
		if !replicas[target].exists || podRevision(pod) == revs.update || terminating(pod) {
			continue
		}
		if room == 0 {
			if down > 0 && len(p.phases[len(p.phases)-1]) == 0 {
				p.waiting = fmt.Sprintf("waiting for %d unavailable pods before updating %s (maxUnavailable %d)", down, pod.Name, maxUnavail)
			}
			break
		}
		p.add(step{kind: stepDelete, pod: pod, why: "update to revision " + revs.update})
		p.status.CurrentReplicas--
		room--
	}
	return p, nil
}

// countStatus counts the pods that exist: upstream's replicas,
// readyReplicas, availableReplicas, currentReplicas and updatedReplicas.
func countStatus(s *appsv1.StatefulSetStatus, replicas []slot, condemned []*corev1.Pod, minReady int32, now time.Time) {
	s.Replicas, s.ReadyReplicas, s.AvailableReplicas, s.CurrentReplicas, s.UpdatedReplicas = 0, 0, 0, 0, 0
	count := func(pod *corev1.Pod) {
		s.Replicas++
		if runningAndReady(pod) {
			s.ReadyReplicas++
			if runningAndAvailable(pod, minReady, now) {
				s.AvailableReplicas++
			}
		}
		if !terminating(pod) {
			if podRevision(pod) == s.CurrentRevision {
				s.CurrentReplicas++
			}
			if podRevision(pod) == s.UpdateRevision {
				s.UpdatedReplicas++
			}
		}
	}
	for _, r := range replicas {
		if r.exists {
			count(r.pod)
		}
	}
	for _, pod := range condemned {
		count(pod)
	}
}

// completeRollingUpdate: once every pod runs the update revision and is
// ready, the update revision becomes the current one.
func completeRollingUpdate(set *appsv1.StatefulSet, s *appsv1.StatefulSetStatus) {
	if set.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType &&
		s.UpdatedReplicas == s.Replicas && s.ReadyReplicas == s.Replicas {
		s.CurrentReplicas = s.UpdatedReplicas
		s.CurrentRevision = s.UpdateRevision
	}
}
