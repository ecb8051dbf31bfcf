package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"

	"github.com/skiff-dev/skiff/scheduler/cache"
	"github.com/skiff-dev/skiff/scheduler/filter"
	"github.com/skiff-dev/skiff/scheduler/framework"
	"github.com/skiff-dev/skiff/scheduler/placement"
	"github.com/skiff-dev/skiff/scheduler/queue"
)

// Scheduler schedules pods. Create it with New, run it with Start.
type Scheduler struct {
	client    kubernetes.Interface
	informers informers.SharedInformerFactory
	opts      Options
	log       *slog.Logger

	cache  *cache.Cache
	queue  *queue.Queue
	placer placement.Placer

	pods         corelisters.PodLister
	services     corelisters.ServiceLister
	replicaSets  appslisters.ReplicaSetLister
	statefulSets appslisters.StatefulSetLister
	synced       []toolscache.InformerSynced

	started  atomic.Bool
	recorder events.EventRecorder
	// next is where the next decision starts looking; only the
	// scheduling goroutine touches it.
	next  int
	binds sync.WaitGroup
}

// New builds a scheduler and registers its event handlers on the
// informers of factory. Nothing runs until Start.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, opts Options) (*Scheduler, error) {
	opts.defaults()
	s := &Scheduler{
		client:    client,
		informers: factory,
		opts:      opts,
		log:       opts.Logger.With("component", "scheduler", "scheduler", opts.SchedulerName),
		cache:     cache.New(opts.Clock, max(opts.AssumedPodTTL, 0)),
		queue: queue.New(opts.Clock, queue.Options{
			InitialBackoff:   opts.InitialBackoff,
			MaxBackoff:       opts.MaxBackoff,
			MaxUnschedulable: opts.MaxUnschedulable,
		}),
		placer: placement.Placer{
			Parallelism:              opts.Parallelism,
			PercentageOfNodesToScore: opts.PercentageOfNodesToScore,
			Tiebreak:                 opts.Tiebreak,
		},
		pods:         factory.Core().V1().Pods().Lister(),
		services:     factory.Core().V1().Services().Lister(),
		replicaSets:  factory.Apps().V1().ReplicaSets().Lister(),
		statefulSets: factory.Apps().V1().StatefulSets().Lister(),
	}
	if err := s.addHandlers(); err != nil {
		return nil, fmt.Errorf("register scheduler event handlers: %w", err)
	}
	return s, nil
}

// Start runs the scheduler until ctx ends: it starts the informers
// (Start on a shared factory is idempotent), waits for them to sync, then
// schedules pods. It returns nil on a clean stop, after in-flight binds
// have returned.
func (s *Scheduler) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("scheduler already started")
	}
	broadcaster := events.NewBroadcaster(&events.EventSinkImpl{Interface: s.client.EventsV1()})
	if err := broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
		return fmt.Errorf("start event recording: %w", err)
	}
	defer broadcaster.Shutdown()
	s.recorder = broadcaster.NewRecorder(scheme.Scheme, s.opts.SchedulerName)

	s.informers.Start(ctx.Done())
	if !toolscache.WaitForCacheSync(ctx.Done(), s.synced...) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("scheduler informers did not sync")
	}
	s.log.Info("scheduler started", "parallelism", s.opts.Parallelism)
	for {
		qp, err := s.queue.Pop(ctx)
		if err != nil {
			break
		}
		s.scheduleOne(ctx, qp)
	}
	s.binds.Wait()
	s.log.Info("scheduler stopped")
	return nil
}

// scheduleOne makes one decision and, if it found a node, assumes it and
// binds in the background.
func (s *Scheduler) scheduleOne(ctx context.Context, qp *queue.QueuedPod) {
	pod := qp.Pod
	log := s.log.With("pod", framework.PodKey(pod))
	if s.cache.IsAssumed(pod) {
		// An update re-queued a pod whose decision is already being bound.
		s.queue.Done(qp)
		return
	}
	res, err := s.placer.Place(ctx, placement.Input{
		Pod:           framework.NewPodInfo(pod),
		Snapshot:      s.cache.Snapshot(),
		DefaultSpread: s.defaultSpread(pod),
		Start:         s.next,
	})
	if ctx.Err() != nil {
		// Shutting down: a decision cut short says nothing about the pod.
		return
	}
	s.next = res.Next
	if err != nil {
		s.fail(ctx, qp, err)
		return
	}
	assumed := pod.DeepCopy()
	assumed.Spec.NodeName = res.Node
	if err := s.cache.AssumePod(assumed); err != nil {
		s.fail(ctx, qp, err)
		return
	}
	log.Debug("pod assumed", "node", res.Node, "evaluated", res.Evaluated, "feasible", res.Feasible, "attempts", qp.Attempts)
	s.binds.Add(1)
	go func() {
		defer s.binds.Done()
		s.bind(ctx, qp, assumed)
	}()
}

// bind posts the binding for an assumed pod.
func (s *Scheduler) bind(ctx context.Context, qp *queue.QueuedPod, assumed *v1.Pod) {
	node := assumed.Spec.NodeName
	err := s.client.CoreV1().Pods(assumed.Namespace).Bind(ctx, &v1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: assumed.Namespace, Name: assumed.Name, UID: assumed.UID},
		Target:     v1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
	if err == nil {
		s.cache.FinishBinding(assumed)
		s.queue.Done(qp)
		s.recorder.Eventf(assumed, nil, v1.EventTypeNormal, "Scheduled", "Binding", "Successfully assigned %v/%v to %v", assumed.Namespace, assumed.Name, node)
		s.log.Debug("pod bound", "pod", framework.PodKey(assumed), "node", node)
		return
	}
	s.cache.ForgetPod(assumed)
	if ctx.Err() != nil {
		return
	}
	s.log.Warn("bind failed", "pod", framework.PodKey(assumed), "node", node, "err", err)
	// The forgotten pod's share of the node is free again.
	s.queue.Move(s.podGoneEvent(assumed))
	s.fail(ctx, qp, err)
}

// fail records why a pod could not be scheduled and requeues it: to
// unschedulable when no node fits (until a helpful event), to backoff on
// any other error.
func (s *Scheduler) fail(ctx context.Context, qp *queue.QueuedPod, err error) {
	pod := qp.Pod
	key := framework.PodKey(pod)
	reason := v1.PodReasonSchedulerError
	var fe *filter.FitError
	switch {
	case errors.As(err, &fe):
		reason = v1.PodReasonUnschedulable
		s.log.Info("pod unschedulable", "pod", key, "reason", fe.Error(), "attempts", qp.Attempts)
	case errors.Is(err, placement.ErrNoNodes):
		reason = v1.PodReasonUnschedulable
		s.log.Info("no nodes registered; pod waits", "pod", key)
	default:
		s.log.Error("scheduling attempt failed", "pod", key, "err", err, "attempts", qp.Attempts)
	}
	// Write status against the informer's view of the pod: it may have
	// been deleted, or bound by someone else, meanwhile.
	current, getErr := s.pods.Pods(pod.Namespace).Get(pod.Name)
	if getErr != nil || current.Spec.NodeName != "" || current.UID != pod.UID {
		s.queue.Done(qp)
		return
	}
	if reason == v1.PodReasonUnschedulable {
		s.queue.AddUnschedulable(qp, rejectedBy(fe))
	} else {
		s.queue.AddBackoff(qp)
	}
	msg := err.Error()
	s.recorder.Eventf(current, nil, v1.EventTypeWarning, "FailedScheduling", "Scheduling", "%s", truncate(msg))
	if err := s.setUnscheduled(ctx, current, reason, msg); err != nil && !apierrors.IsNotFound(err) {
		s.log.Error("update pod condition failed", "pod", key, "err", err)
	}
}

func rejectedBy(fe *filter.FitError) filter.PluginSet {
	if fe == nil {
		return 0
	}
	return fe.RejectedBy
}

// noteLengthLimit is the API's limit on an event note
// (k8s.io/kubernetes/pkg/apis/core/validation.NoteLengthLimit).
const noteLengthLimit = 1024

func truncate(msg string) string {
	if len(msg) <= noteLengthLimit {
		return msg
	}
	const suffix = " ..."
	return msg[:noteLengthLimit-len(suffix)] + suffix
}
