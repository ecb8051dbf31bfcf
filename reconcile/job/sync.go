package job

import (
	"context"
	"errors"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// Condition reasons and messages, in Kubernetes's words (kubectl describe
// and scripts show and match them).
const (
	msgBackoffLimit     = "Job has reached the specified backoff limit"
	msgDeadline         = "Job was active longer than specified deadline"
	msgCompletions      = "Reached expected number of succeeded pods"
	msgMaxFailedIndexes = "Job has exceeded the specified maximal number of failed indexes"
	msgFailedIndexes    = "Job has failed indexes"
	reasonSuspended     = "JobSuspended"
	reasonResumed       = "JobResumed"
	msgSuspended        = "Job suspended"
	msgResumed          = "Job resumed"
	reasonUnknownMode   = "UnknownCompletionMode"
	msgUnknownMode      = "Skipped Job sync because completion mode is unknown"
	eventCompleted      = "Completed"
	msgCompleted        = "Job completed"
	eventTooManySucceed = "TooManySucceededPods"
)

// state is what one sync knows about a Job and its pods.
type state struct {
	key  string
	job  *batchv1.Job // the copy being updated
	pods []*corev1.Pod
	// active and terminating pods (see isActive, isTerminating).
	active, terminating []*corev1.Pod
	// Counters as this sync sees them, before they are written.
	succeeded, failed, ready, nTerminating int32
	// uncounted: UIDs in status.uncountedTerminatedPods at the start.
	uncountedSucceeded, uncountedFailed sets.Set[types.UID]
	// expectedRemovals: pods whose finalizer this controller removed and
	// the informer has not shown yet.
	expectedRemovals sets.Set[types.UID]
	// prevIndexes and indexes: succeeded indexes of an Indexed Job, as
	// recorded in status and including the new ones.
	prevIndexes, indexes intervals
	// failedIndexes (with backoffLimitPerIndex): indexes out of retries;
	// lastFailed: per index to retry, its latest failed pod.
	failedIndexes intervals
	lastFailed    map[int]*corev1.Pod
	// finished is the condition the Job is about to reach, if any.
	finished *batchv1.JobCondition
	backoff  backoffRecord
}

func isFinished(job *batchv1.Job) bool {
	c := terminalCondition(job)
	return c != nil
}

// terminalCondition returns the Job's Complete or Failed condition, if true.
func terminalCondition(job *batchv1.Job) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		c := &job.Status.Conditions[i]
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

func findCondition(job *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		if job.Status.Conditions[i].Type == t {
			return &job.Status.Conditions[i]
		}
	}
	return nil
}

func trueCondition(job *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	if c := findCondition(job, t); c != nil && c.Status == corev1.ConditionTrue {
		return c
	}
	return nil
}

// managedElsewhere: spec.managedBy names another controller (e.g. Kueue's
// MultiKueue), which then owns the Job's pods and status.
func managedElsewhere(job *batchv1.Job) bool {
	return job.Spec.ManagedBy != nil && *job.Spec.ManagedBy != batchv1.JobControllerName
}

func suspended(job *batchv1.Job) bool { return ptr.Deref(job.Spec.Suspend, false) }

func selectorOrNothing(job *batchv1.Job) labels.Selector {
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return labels.Nothing()
	}
	return sel
}

func (c *Controller) newCondition(t batchv1.JobConditionType, reason, message string) *batchv1.JobCondition {
	now := metav1.NewTime(c.clock.Now())
	return &batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message, LastProbeTime: now, LastTransitionTime: now}
}

// setCondition adds a condition or changes the one of its type; a False
// condition is not added where none was (nothing to report). It reports
// whether anything changed.
func (c *Controller) setCondition(job *batchv1.Job, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, message string) bool {
	cond := c.newCondition(t, reason, message)
	cond.Status = status
	if cur := findCondition(job, t); cur != nil {
		if cur.Status == status && cur.Reason == reason && cur.Message == message {
			return false
		}
		*cur = *cond
		return true
	}
	if status == corev1.ConditionFalse {
		return false
	}
	job.Status.Conditions = append(job.Status.Conditions, *cond)
	return true
}

// syncJob is one reconcile of one Job: count its pods, decide whether it is
// done, create or delete pods, and write status. It is idempotent: the
// counters live in the Job's status and the pods' tracking finalizers,
// never only in memory.
func (c *Controller) syncJob(ctx context.Context, k string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return err
	}
	shared, err := c.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Delete(k)
		c.finalizers.delete(k)
		c.backoff.remove(k)
		return nil
	}
	if err != nil {
		return err
	}
	if managedElsewhere(shared) {
		return nil
	}
	if isFinished(shared) {
		c.backoff.remove(k)
		return c.expireFinished(ctx, shared)
	}
	if m := shared.Spec.CompletionMode; m != nil && *m != batchv1.NonIndexedCompletion && *m != batchv1.IndexedCompletion {
		c.recorder.Event(shared, corev1.EventTypeWarning, reasonUnknownMode, msgUnknownMode)
		return nil
	}
	job := shared.DeepCopy()
	if job.Status.UncountedTerminatedPods == nil {
		job.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	// Read the expectations before the pods: a pod created after this
	// point is then at worst missed, never counted against a stale
	// expectation.
	satisfied := c.expectations.Satisfied(k)
	pods, err := c.claimPods(ctx, job)
	if err != nil {
		return err
	}
	st := &state{
		key: k, job: job, pods: pods,
		uncountedSucceeded: sets.New(job.Status.UncountedTerminatedPods.Succeeded...),
		uncountedFailed:    sets.New(job.Status.UncountedTerminatedPods.Failed...),
		expectedRemovals:   c.finalizers.get(k),
	}
	for _, p := range pods {
		switch {
		case isActive(p):
			st.active = append(st.active, p)
		case isTerminating(p):
			st.terminating = append(st.terminating, p)
		}
	}
	st.ready = countReady(st.active)
	st.nTerminating = int32(len(st.terminating))
	active := int32(len(st.active))
	newSucceeded, newFailed := st.newlyFinished()
	st.succeeded = job.Status.Succeeded + int32(len(newSucceeded)+st.uncountedSucceeded.Len())
	st.failed = job.Status.Failed + int32(countedFailures(job, newFailed)+st.uncountedFailed.Len())

	// A Job starts when it is first not suspended, and again when it is
	// resumed: activeDeadlineSeconds counts time spent active. (The
	// Resumed condition and event follow below.)
	if !suspended(job) && (job.Status.StartTime == nil || trueCondition(job, batchv1.JobSuspended) != nil) {
		now := metav1.NewTime(c.clock.Now())
		job.Status.StartTime = &now
	}
	st.backoff = nextBackoff(c.backoff.get(k), newSucceeded, newFailed)

	// Is the Job done? A decision already written (SuccessCriteriaMet,
	// FailureTarget) stands; the Job then only winds down.
	if cond := trueCondition(job, batchv1.JobSuccessCriteriaMet); cond != nil {
		st.finished = cond
	} else if cond := trueCondition(job, batchv1.JobFailureTarget); cond != nil {
		st.finished = c.newCondition(batchv1.JobFailed, cond.Reason, cond.Message)
	} else if msg := failJobMessage(job, pods); msg != "" {
		st.finished = c.newCondition(batchv1.JobFailureTarget, batchv1.JobReasonPodFailurePolicy, msg)
	} else if st.failed > ptr.Deref(job.Spec.BackoffLimit, 6) || pastBackoffLimitOnFailure(job, pods) {
		st.finished = c.newCondition(batchv1.JobFailureTarget, batchv1.JobReasonBackoffLimitExceeded, msgBackoffLimit)
	} else if c.pastActiveDeadline(job) {
		st.finished = c.newCondition(batchv1.JobFailureTarget, batchv1.JobReasonDeadlineExceeded, msgDeadline)
	} else if job.Spec.ActiveDeadlineSeconds != nil && !suspended(job) {
		// Wake up when the deadline passes; nothing else would.
		left := time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second - c.clock.Since(job.Status.StartTime.Time)
		c.queue.AddAfter(k, left)
	}
	if isIndexed(job) {
		st.prevIndexes, st.indexes = succeededIndexes(job, pods)
		st.succeeded = int32(st.indexes.total())
		if perIndex(job) {
			st.failedIndexes = failedIndexes(job, pods)
			nFailed := st.failedIndexes.total()
			switch {
			case st.finished != nil:
			case job.Spec.MaxFailedIndexes != nil && nFailed > int(*job.Spec.MaxFailedIndexes):
				st.finished = c.newCondition(batchv1.JobFailureTarget, batchv1.JobReasonMaxFailedIndexesExceeded, msgMaxFailedIndexes)
			case nFailed > 0 && nFailed+st.indexes.total() >= int(*job.Spec.Completions):
				st.finished = c.newCondition(batchv1.JobFailureTarget, batchv1.JobReasonFailedIndexes, msgFailedIndexes)
			}
			st.lastFailed = lastFailures(st)
		}
		if st.finished == nil {
			if msg, ok := matchSuccessPolicy(job, st.indexes); ok {
				st.finished = c.newCondition(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonSuccessPolicy, msg)
			}
		}
	}

	var manageErr error
	suspendChanged := false
	if st.finished != nil {
		// Whatever still runs has no more work to do: stop it. The pods
		// keep their finalizers until they are counted.
		deletedReady, deleted, err := c.deleteActivePods(ctx, job, st.active)
		if deleted != active || !satisfied {
			// Pods still running or not yet in the cache: not finished yet.
			st.finished = nil
		}
		active -= deleted
		st.nTerminating += deleted
		st.ready -= deletedReady
		manageErr = err
	} else {
		managed := false
		if satisfied && job.DeletionTimestamp == nil {
			active, manageErr = c.manageJob(ctx, st)
			managed = true
		}
		var complete bool
		if job.Spec.Completions == nil {
			// A work queue: done when one pod succeeded and none runs.
			complete = st.succeeded > 0 && active == 0
		} else {
			complete = st.succeeded >= *job.Spec.Completions && active == 0
		}
		switch {
		case complete:
			st.finished = c.newCondition(batchv1.JobSuccessCriteriaMet, batchv1.JobReasonCompletionsReached, msgCompletions)
		case managed && suspended(job):
			if c.setCondition(job, batchv1.JobSuspended, corev1.ConditionTrue, reasonSuspended, msgSuspended) {
				suspendChanged = true
				c.recorder.Event(job, corev1.EventTypeNormal, "Suspended", msgSuspended)
			}
		case managed:
			if c.setCondition(job, batchv1.JobSuspended, corev1.ConditionFalse, reasonResumed, msgResumed) {
				suspendChanged = true
				c.recorder.Event(job, corev1.EventTypeNormal, "Resumed", msgResumed)
			}
		}
	}

	needsWrite := suspendChanged || active != job.Status.Active ||
		!ptr.Equal(job.Status.Ready, &st.ready) || !ptr.Equal(job.Status.Terminating, &st.nTerminating)
	job.Status.Active = active
	job.Status.Ready = ptr.To(st.ready)
	job.Status.Terminating = ptr.To(st.nTerminating)
	if err := c.trackStatus(ctx, st, needsWrite); err != nil {
		return fmt.Errorf("job %s: status: %w", k, err)
	}
	return manageErr
}

// newlyFinished returns the pods that ended and are not counted anywhere
// yet: they still carry the finalizer, are not listed in
// uncountedTerminatedPods, and (Indexed) have a valid index.
func (st *state) newlyFinished() (succeeded, failed []*corev1.Pod) {
	for _, p := range st.pods {
		if !hasTrackingFinalizer(p) || st.expectedRemovals.Has(p.UID) {
			continue
		}
		if isIndexed(st.job) {
			if _, ok := validIndex(st.job, p); !ok {
				continue
			}
		}
		switch {
		case p.Status.Phase == corev1.PodSucceeded && !st.uncountedSucceeded.Has(p.UID):
			succeeded = append(succeeded, p)
		case isPodFailed(p, st.job) && !st.uncountedFailed.Has(p.UID):
			failed = append(failed, p)
		}
	}
	return succeeded, failed
}

// pastBackoffLimitOnFailure: with restartPolicy OnFailure failures are
// container restarts inside running pods, so they count there.
func pastBackoffLimitOnFailure(job *batchv1.Job, pods []*corev1.Pod) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var restarts int32
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodPending {
			continue
		}
		for _, cs := range p.Status.InitContainerStatuses {
			restarts += cs.RestartCount
		}
		for _, cs := range p.Status.ContainerStatuses {
			restarts += cs.RestartCount
		}
	}
	limit := ptr.Deref(job.Spec.BackoffLimit, 6)
	if limit == 0 {
		return restarts > 0
	}
	return restarts >= limit
}

func (c *Controller) pastActiveDeadline(job *batchv1.Job) bool {
	if job.Spec.ActiveDeadlineSeconds == nil || job.Status.StartTime == nil || suspended(job) {
		return false
	}
	return c.clock.Since(job.Status.StartTime.Time) >= time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second
}

// trackStatus moves finished pods into the Job's counters without ever
// counting one twice or losing one, as Kubernetes does: first the pods'
// UIDs go into status.uncountedTerminatedPods (written), then their
// tracking finalizers are removed, then they move from the uncounted
// lists into succeeded/failed (written). A crash anywhere in between
// leaves enough in the API to finish the move on the next sync. The Job's
// terminal condition is written last, once nothing is left uncounted and
// no pod is terminating.
func (c *Controller) trackStatus(ctx context.Context, st *state, needsWrite bool) error {
	job := st.job
	indexed := isIndexed(job)
	withFinalizer := sets.New[types.UID]()
	for _, p := range st.pods {
		if hasTrackingFinalizer(p) && !st.expectedRemovals.Has(p.UID) {
			withFinalizer.Insert(p.UID)
		}
	}
	if countUncounted(&job.Status, withFinalizer) {
		needsWrite = true
	}
	uncounted := job.Status.UncountedTerminatedPods
	var release []*corev1.Pod
	var newIndexes []int
	capped := false
	for _, p := range st.pods {
		if !hasTrackingFinalizer(p) || st.expectedRemovals.Has(p.UID) {
			continue // counted in an earlier sync
		}
		failed := isPodFailed(p, job)
		if !(job.DeletionTimestamp != nil || st.finished != nil || p.Status.Phase == corev1.PodSucceeded || failed) {
			continue // still running: the finalizer stays
		}
		ix, okIndex := validIndex(job, p)
		if failed && st.finished == nil && job.DeletionTimestamp == nil && okIndex && st.lastFailed[ix] == p {
			continue // kept until its index's replacement exists
		}
		release = append(release, p)
		switch {
		case p.Status.Phase == corev1.PodSucceeded && !st.uncountedFailed.Has(p.UID):
			if indexed {
				// The index is the record: no UID needed.
				if okIndex && !st.prevIndexes.has(ix) {
					newIndexes = append(newIndexes, ix)
					needsWrite = true
				}
			} else if !st.uncountedSucceeded.Has(p.UID) {
				uncounted.Succeeded = append(uncounted.Succeeded, p.UID)
				needsWrite = true
			}
		case failed || (st.finished != nil && st.finished.Type != batchv1.JobSuccessCriteriaMet):
			// A failed Job counts every pod it stops as failed.
			if !st.uncountedFailed.Has(p.UID) && (!indexed || okIndex) && judgeFailure(job.Spec.PodFailurePolicy, p).count {
				uncounted.Failed = append(uncounted.Failed, p.UID)
				needsWrite = true
			}
		}
		if len(newIndexes)+len(uncounted.Succeeded)+len(uncounted.Failed) >= maxUncountedPods {
			// The rest waits for the next sync, which the status write triggers.
			capped = true
			break
		}
	}
	if indexed {
		st.indexes = st.indexes.withIndexes(newIndexes)
		if s := st.indexes.String(); s != job.Status.CompletedIndexes {
			job.Status.CompletedIndexes = s
			needsWrite = true
		}
		job.Status.Succeeded = int32(st.indexes.total())
		if perIndex(job) {
			s := st.failedIndexes.String()
			if !ptr.Equal(job.Status.FailedIndexes, &s) {
				job.Status.FailedIndexes = &s
				needsWrite = true
			}
		}
	}
	// The interim condition (FailureTarget, SuccessCriteriaMet) is written
	// before any finalizer goes: the decision survives a crash; the
	// terminal one (Failed, Complete) follows once the pods are counted.
	if f := st.finished; f != nil {
		switch f.Type {
		case batchv1.JobFailureTarget:
			job.Status.Conditions = append(job.Status.Conditions, *f)
			needsWrite = true
			st.finished = c.newCondition(batchv1.JobFailed, f.Reason, f.Message)
		case batchv1.JobSuccessCriteriaMet:
			if trueCondition(job, batchv1.JobSuccessCriteriaMet) == nil {
				job.Status.Conditions = append(job.Status.Conditions, *f)
				needsWrite = true
			}
			st.finished = c.newCondition(batchv1.JobComplete, f.Reason, f.Message)
		}
	}

	// Record before releasing; with nothing to release, one write at the
	// end will do.
	if needsWrite && len(release) > 0 {
		if err := c.writeStatus(ctx, st); err != nil {
			return fmt.Errorf("record uncounted pods: %w", err)
		}
		needsWrite = false
	}
	removed, rmErr := c.removeFinalizers(ctx, st.key, release)
	for _, uid := range removed {
		withFinalizer.Delete(uid)
	}
	if countUncounted(&st.job.Status, withFinalizer) {
		needsWrite = true
	}
	if rmErr != nil {
		if needsWrite {
			if err := c.writeStatus(ctx, st); err != nil {
				return errors.Join(rmErr, err)
			}
		}
		return rmErr
	}
	done := !capped && c.finish(st)
	if done || needsWrite {
		if err := c.writeStatus(ctx, st); err != nil {
			return fmt.Errorf("count pods: %w", err)
		}
	}
	if done {
		c.recordFinished(st.job, st.finished)
	}
	return nil
}

// countUncounted moves the UIDs of pods whose finalizer is gone from
// status.uncountedTerminatedPods into succeeded/failed.
func countUncounted(status *batchv1.JobStatus, withFinalizer sets.Set[types.UID]) bool {
	u := status.UncountedTerminatedPods
	keep := func(in []types.UID) []types.UID {
		var out []types.UID
		for _, uid := range in {
			if withFinalizer.Has(uid) {
				out = append(out, uid)
			}
		}
		return out
	}
	changed := false
	if s := keep(u.Succeeded); len(s) != len(u.Succeeded) {
		status.Succeeded += int32(len(u.Succeeded) - len(s))
		u.Succeeded, changed = s, true
	}
	if f := keep(u.Failed); len(f) != len(u.Failed) {
		status.Failed += int32(len(u.Failed) - len(f))
		u.Failed, changed = f, true
	}
	return changed
}

// finish sets the terminal condition once nothing is uncounted and no pod
// is terminating (so a Job never reads Failed while its pods still run).
func (c *Controller) finish(st *state) bool {
	f := st.finished
	if f == nil {
		return false
	}
	u := st.job.Status.UncountedTerminatedPods
	if len(u.Succeeded)+len(u.Failed) > 0 || st.nTerminating > 0 {
		return false
	}
	c.setCondition(st.job, f.Type, f.Status, f.Reason, f.Message)
	if f.Type == batchv1.JobComplete {
		t := findCondition(st.job, batchv1.JobComplete).LastTransitionTime
		st.job.Status.CompletionTime = &t
	}
	return true
}

func (c *Controller) recordFinished(job *batchv1.Job, cond *batchv1.JobCondition) {
	if cond.Type == batchv1.JobComplete {
		if job.Spec.Completions != nil && job.Status.Succeeded > *job.Spec.Completions {
			c.recorder.Event(job, corev1.EventTypeWarning, eventTooManySucceed, "Too many succeeded pods running after completion count reached")
		}
		c.recorder.Event(job, corev1.EventTypeNormal, eventCompleted, msgCompleted)
		c.log.Info("job completed", "job", key(job), "succeeded", job.Status.Succeeded, "failed", job.Status.Failed)
		return
	}
	c.recorder.Event(job, corev1.EventTypeWarning, cond.Reason, cond.Message)
	c.log.Info("job failed", "job", key(job), "reason", cond.Reason, "succeeded", job.Status.Succeeded, "failed", job.Status.Failed)
}

// writeStatus writes st.job's status and keeps the answer (its new
// resourceVersion) for the next write of this sync.
func (c *Controller) writeStatus(ctx context.Context, st *state) error {
	out, err := c.client.BatchV1().Jobs(st.job.Namespace).UpdateStatus(ctx, st.job, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	// Keep the working copy's view of conditions and counters (the API
	// returns what was written) but take the new resourceVersion.
	st.job.ResourceVersion = out.ResourceVersion
	// The back-off advances with the counters it was computed from.
	c.backoff.set(st.key, st.backoff)
	return nil
}

// removeFinalizers patches the tracking finalizer off pods, expecting the
// informer to show each removal. It returns the UIDs it removed (or whose
// pod is gone).
func (c *Controller) removeFinalizers(ctx context.Context, k string, pods []*corev1.Pod) ([]types.UID, error) {
	if len(pods) == 0 {
		return nil, nil
	}
	uids := make([]types.UID, len(pods))
	for i, p := range pods {
		uids[i] = p.UID
	}
	c.finalizers.expect(k, uids...)
	var removed []types.UID
	var errs []error
	for _, p := range pods {
		_, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, removeFinalizerPatch(), metav1.PatchOptions{})
		if err != nil {
			// No update will come for this pod: stop waiting for one.
			c.finalizers.observed(k, p.UID)
		}
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove tracking finalizer from %s: %w", p.Name, err))
			continue
		}
		removed = append(removed, p.UID)
	}
	return removed, errors.Join(errs...)
}
