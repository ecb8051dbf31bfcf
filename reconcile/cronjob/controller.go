package cronjob

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/skiff-dev/skiff/reconcile/manager"
	"github.com/skiff-dev/skiff/reconcile/ownerref"
)

var cronJobKind = batchv1.SchemeGroupVersion.WithKind("CronJob")

const (
	// workers is kube-controller-manager's --concurrent-cron-job-syncs.
	workers = 5
	// nextScheduleDelta pads each wake-up, as upstream does: a timer that
	// fires a hair early (clock granularity, NTP slew) would find the time
	// not yet due and sleep a whole period.
	nextScheduleDelta = 100 * time.Millisecond
)

// Controller starts a CronJob's Jobs on schedule.
type Controller struct {
	client   kubernetes.Interface
	cronJobs batchlisters.CronJobLister
	jobs     batchlisters.JobLister
	synced   []cache.InformerSynced
	recorder record.EventRecorder
	clock    clock.WithTicker
	log      *slog.Logger
	queue    workqueue.TypedRateLimitingInterface[string]
	// local is the zone of schedules without a timeZone: the server's, as
	// kube-controller-manager uses its own.
	local *time.Location
}

// New builds the controller and registers its informers on d.
func New(d *manager.Deps) (*Controller, error) {
	cjInformer := d.Informers.Batch().V1().CronJobs()
	jobInformer := d.Informers.Batch().V1().Jobs()
	c := &Controller{
		client:   d.Client,
		cronJobs: cjInformer.Lister(),
		jobs:     jobInformer.Lister(),
		recorder: d.Recorder("cronjob-controller"),
		clock:    d.Clock,
		log:      d.Logger.With("controller", "cronjob"),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "cronjob", Clock: d.Clock}),
		local: time.Local,
	}
	if _, err := cjInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: c.updateCronJob,
		DeleteFunc: c.enqueue,
	}); err != nil {
		return nil, fmt.Errorf("cronjob informer: %w", err)
	}
	if _, err := jobInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.jobChanged,
		UpdateFunc: func(oldObj, newObj any) {
			old, cur := oldObj.(*batchv1.Job), newObj.(*batchv1.Job)
			if old.ResourceVersion == cur.ResourceVersion {
				return
			}
			if !reflect.DeepEqual(metav1.GetControllerOf(old), metav1.GetControllerOf(cur)) {
				c.jobChanged(old) // the former owner lost it
			}
			c.jobChanged(cur)
		},
		DeleteFunc: c.jobChanged,
	}); err != nil {
		return nil, fmt.Errorf("job informer: %w", err)
	}
	c.synced = []cache.InformerSynced{cjInformer.Informer().HasSynced, jobInformer.Informer().HasSynced}
	return c, nil
}

// Name is the controller's name, as --controllers spells it.
func (c *Controller) Name() string { return "cronjob" }

// Run syncs CronJobs until ctx ends. There is no polling: each sync
// requeues its CronJob for its next scheduled time, and Job events wake it
// in between.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return errors.New("cronjob: informers did not sync")
	}
	c.log.Info("starting", "workers", workers)
	manager.RunWorkers(ctx, c.queue, workers, c.syncAndRequeue, c.syncFailed)
	return nil
}

// syncAndRequeue syncs a CronJob and, when it succeeded, queues it again
// for when sync says (its next scheduled time).
func (c *Controller) syncAndRequeue(ctx context.Context, k string) error {
	requeue, err := c.sync(ctx, k)
	if err == nil && requeue != nil {
		c.queue.AddAfter(k, *requeue)
	}
	return err
}

func (c *Controller) syncFailed(_ context.Context, k string, err error) manager.Failure {
	c.log.Error("sync failed", "cronjob", k, "err", err)
	return manager.Retry
}

func (c *Controller) enqueue(obj any) {
	k, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		c.log.Error("cannot key object", "err", err)
		return
	}
	c.queue.Add(k)
}

// updateCronJob: a new schedule or time zone only moves the next wake-up,
// as upstream does — the change itself does not start a Job for a time
// the new schedule would have had in the past. Any other change syncs now.
func (c *Controller) updateCronJob(oldObj, newObj any) {
	old, cur := oldObj.(*batchv1.CronJob), newObj.(*batchv1.CronJob)
	if old.Spec.Schedule == cur.Spec.Schedule && ptr.Equal(old.Spec.TimeZone, cur.Spec.TimeZone) {
		c.enqueue(cur)
		return
	}
	loc, err := c.location(cur)
	if err != nil {
		c.enqueue(cur) // the sync reports it
		return
	}
	s, err := ParseSchedule(cur.Spec.Schedule, loc)
	if err != nil {
		c.log.Info("unparseable schedule", "cronjob", cur.Namespace+"/"+cur.Name, "schedule", cur.Spec.Schedule, "err", err)
		c.recorder.Eventf(cur, corev1.EventTypeWarning, "UnParseableCronJobSchedule", "unparseable schedule for cronjob: %s", cur.Spec.Schedule)
		return
	}
	now := c.clock.Now()
	p, _ := planRun(s, lastScheduled(cur), now, nil)
	if p.next.IsZero() {
		return
	}
	k, _ := cache.MetaNamespaceKeyFunc(cur)
	c.queue.AddAfter(k, p.next.Sub(now)+nextScheduleDelta)
}

// jobChanged wakes the CronJob that controls a Job.
func (c *Controller) jobChanged(obj any) {
	job, ok := manager.EventObject[*batchv1.Job](obj)
	if !ok {
		return
	}
	if cj := ownerref.ResolveController(c.cronJobs.CronJobs(job.Namespace), metav1.GetControllerOf(job), cronJobKind); cj != nil {
		c.enqueue(cj)
	}
}

func (c *Controller) location(cj *batchv1.CronJob) (*time.Location, error) {
	if cj.Spec.TimeZone == nil {
		return c.local, nil
	}
	return time.LoadLocation(*cj.Spec.TimeZone)
}

// lastScheduled is when the CronJob last ran, or was created.
func lastScheduled(cj *batchv1.CronJob) time.Time {
	if cj.Status.LastScheduleTime != nil {
		return cj.Status.LastScheduleTime.Time
	}
	return cj.CreationTimestamp.Time
}

// sync reconciles one CronJob: it forgets finished and vanished Jobs,
// deletes Jobs beyond the history limits, starts the Job that is due, and
// writes status. It returns when to sync again (nil: only on a change).
func (c *Controller) sync(ctx context.Context, k string) (*time.Duration, error) {
	ns, name, err := cache.SplitMetaNamespaceKey(k)
	if err != nil {
		return nil, err
	}
	shared, err := c.cronJobs.CronJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	jobs, err := c.ownedJobs(shared)
	if err != nil {
		return nil, err
	}
	cj := shared.DeepCopy()
	cleaned := c.cleanupFinishedJobs(ctx, cj, jobs)
	requeue, changed, syncErr := c.syncCronJob(ctx, cj, jobs)
	if syncErr != nil {
		c.log.Info("cronjob sync incomplete", "cronjob", k, "err", syncErr)
	}
	if cleaned || changed {
		if _, err := c.client.BatchV1().CronJobs(ns).UpdateStatus(ctx, cj, metav1.UpdateOptions{}); err != nil {
			return nil, fmt.Errorf("cronjob %s: status: %w", k, err)
		}
	}
	if requeue != nil {
		return requeue, nil
	}
	return nil, syncErr
}

// ownedJobs lists the Jobs the CronJob controls.
func (c *Controller) ownedJobs(cj *batchv1.CronJob) ([]*batchv1.Job, error) {
	all, err := c.jobs.Jobs(cj.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*batchv1.Job
	for _, j := range all {
		if metav1.IsControlledBy(j, cj) {
			out = append(out, j)
		}
	}
	return out, nil
}

// finishedType is a Job's Complete or Failed condition type, or "".
func finishedType(j *batchv1.Job) batchv1.JobConditionType {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type
		}
	}
	return ""
}

func inActive(cj *batchv1.CronJob, uid types.UID) bool {
	for _, r := range cj.Status.Active {
		if r.UID == uid {
			return true
		}
	}
	return false
}

func inActiveByName(cj *batchv1.CronJob, name string) bool {
	for _, r := range cj.Status.Active {
		if r.Name == name {
			return true
		}
	}
	return false
}

func removeActive(cj *batchv1.CronJob, uid types.UID) {
	out := []corev1.ObjectReference{}
	for _, r := range cj.Status.Active {
		if r.UID != uid {
			out = append(out, r)
		}
	}
	cj.Status.Active = out
}

// syncCronJob brings cj's status up to date with its Jobs and starts the
// Job that is due. It returns when to look again, and whether status
// changed.
func (c *Controller) syncCronJob(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) (*time.Duration, bool, error) {
	now := c.clock.Now()
	changed := false
	k := cj.Namespace + "/" + cj.Name
	children := map[types.UID]bool{}
	for _, j := range jobs {
		children[j.UID] = true
		found, finished := inActive(cj, j.UID), finishedType(j)
		switch {
		case !found && finished == "":
			// Perhaps created by a sync whose status write the cache does
			// not show yet: ask the API before calling it a stranger.
			fresh, err := c.client.BatchV1().CronJobs(cj.Namespace).Get(ctx, cj.Name, metav1.GetOptions{})
			if err != nil {
				return nil, changed, err
			}
			if inActive(fresh, j.UID) {
				fresh.Status.DeepCopyInto(&cj.Status)
				cj.ResourceVersion = fresh.ResourceVersion
				continue
			}
			c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnexpectedJob", "Saw a job that the controller did not create or forgot: %s", j.Name)
		case found && finished != "":
			removeActive(cj, j.UID)
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "SawCompletedJob", "Saw completed job: %s, condition: %v", j.Name, finished)
			changed = true
		}
		if finished == batchv1.JobComplete && j.Status.CompletionTime != nil &&
			(cj.Status.LastSuccessfulTime == nil || j.Status.CompletionTime.After(cj.Status.LastSuccessfulTime.Time)) {
			cj.Status.LastSuccessfulTime = j.Status.CompletionTime.DeepCopy()
			changed = true
		}
	}
	// An active Job the cache does not have may be gone; ask the API, so a
	// slow watch does not make the CronJob forget a running Job.
	for _, r := range slicesClone(cj.Status.Active) {
		if children[r.UID] {
			continue
		}
		_, err := c.client.BatchV1().Jobs(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			c.recorder.Eventf(cj, corev1.EventTypeNormal, "MissingJob", "Active job went missing: %v", r.Name)
			removeActive(cj, r.UID)
			changed = true
		case err != nil:
			return nil, changed, err
		}
	}
	if cj.DeletionTimestamp != nil {
		return nil, changed, nil
	}
	loc, err := c.location(cj)
	if err != nil {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnknownTimeZone", "invalid timeZone: %q: %s", ptr.Deref(cj.Spec.TimeZone, ""), err)
		return nil, changed, nil
	}
	if ptr.Deref(cj.Spec.Suspend, false) {
		c.log.Debug("suspended: not starting jobs", "cronjob", k)
		return nil, changed, nil
	}
	if strings.Contains(cj.Spec.Schedule, "TZ") {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnsupportedSchedule", "CRON_TZ or TZ used in schedule %q is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details", cj.Spec.Schedule)
	}
	sched, err := ParseSchedule(cj.Spec.Schedule, loc)
	if err != nil {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		return nil, changed, nil
	}
	p, err := planRun(sched, lastScheduled(cj), now, cj.Spec.StartingDeadlineSeconds)
	if err != nil {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "InvalidSchedule", "invalid schedule: %s : %s", cj.Spec.Schedule, err)
		return nil, changed, nil
	}
	if p.tooManyMissed {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
		c.log.Info("too many missed start times", "cronjob", k)
	}
	var requeue *time.Duration
	if !p.next.IsZero() {
		requeue = ptr.To(p.next.Sub(now) + nextScheduleDelta)
	}
	if p.run == nil {
		return requeue, changed, nil
	}
	scheduled := *p.run
	name := jobName(cj, scheduled)
	if inActiveByName(cj, name) || cj.Status.LastScheduleTime.Equal(&metav1.Time{Time: scheduled}) {
		return requeue, changed, nil // already started
	}
	if cj.Spec.ConcurrencyPolicy == batchv1.ForbidConcurrent && len(cj.Status.Active) > 0 {
		// Left unmet: when the running Job finishes, its update wakes this
		// CronJob, which then starts the run if it is still in time.
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
		return requeue, changed, nil
	}
	if cj.Spec.ConcurrencyPolicy == batchv1.ReplaceConcurrent {
		for _, r := range slicesClone(cj.Status.Active) {
			job, err := c.client.BatchV1().Jobs(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
			if err != nil {
				c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedGet", "Get job: %v", err)
				return nil, changed, err
			}
			if !c.deleteJob(ctx, cj, job) {
				return nil, changed, fmt.Errorf("could not replace job %s/%s", job.Namespace, job.Name)
			}
			changed = true
		}
	}
	job, err := jobFor(cj, scheduled)
	if err != nil {
		return nil, changed, err
	}
	created, err := c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, job, metav1.CreateOptions{})
	switch {
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
		return nil, changed, err
	case apierrors.IsAlreadyExists(err):
		// Created by an earlier sync whose status write was lost: take it
		// into the active list, if it is ours.
		existing, err := c.client.BatchV1().Jobs(cj.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
		if err != nil {
			return nil, changed, err
		}
		if !metav1.IsControlledBy(existing, cj) || inActive(cj, existing.UID) {
			return nil, changed, nil
		}
		created = existing
		c.log.Info("job already exists", "cronjob", k, "job", existing.Name)
	case err != nil:
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
		return nil, changed, err
	default:
		c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %v", created.Name)
		c.log.Info("created job", "cronjob", k, "job", created.Name, "scheduledTime", scheduled.UTC().Format(time.RFC3339))
	}
	// If this process dies before the status write, the next sync finds
	// the Job by its name, which the scheduled time fixes: no duplicate.
	cj.Status.Active = append(cj.Status.Active, corev1.ObjectReference{
		Kind: "Job", APIVersion: batchv1.SchemeGroupVersion.String(),
		Namespace: created.Namespace, Name: created.Name, UID: created.UID, ResourceVersion: created.ResourceVersion,
	})
	cj.Status.LastScheduleTime = &metav1.Time{Time: scheduled}
	return requeue, true, nil
}

func slicesClone(in []corev1.ObjectReference) []corev1.ObjectReference {
	return append([]corev1.ObjectReference(nil), in...)
}

// jobName is <cronjob>-<scheduled time in minutes since the epoch>: one
// name per scheduled time, which makes a second creation for the same
// time fail rather than run twice.
func jobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}

// jobFor is the Job the CronJob runs for a scheduled time: its template,
// its controller reference, and the batch.kubernetes.io/
// cronjob-scheduled-timestamp annotation (in the CronJob's time zone).
func jobFor(cj *batchv1.CronJob, scheduled time.Time) (*batchv1.Job, error) {
	tz, err := time.LoadLocation(ptr.Deref(cj.Spec.TimeZone, ""))
	if err != nil {
		return nil, err
	}
	annotations := maps.Clone(cj.Spec.JobTemplate.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[batchv1.CronJobScheduledTimestampAnnotation] = scheduled.In(tz).Format(time.RFC3339)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            jobName(cj, scheduled),
			Namespace:       cj.Namespace,
			Labels:          maps.Clone(cj.Spec.JobTemplate.Labels),
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{*ownerref.NewControllerRef(cj, cronJobKind)},
		},
		Spec: *cj.Spec.JobTemplate.Spec.DeepCopy(),
	}, nil
}

// cleanupFinishedJobs deletes the oldest finished Jobs beyond
// successfulJobsHistoryLimit and failedJobsHistoryLimit.
func (c *Controller) cleanupFinishedJobs(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) bool {
	var succeeded, failed []*batchv1.Job
	for _, j := range jobs {
		switch finishedType(j) {
		case batchv1.JobComplete:
			succeeded = append(succeeded, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	changed := false
	if l := cj.Spec.SuccessfulJobsHistoryLimit; l != nil && c.removeOldest(ctx, cj, succeeded, int(*l)) {
		changed = true
	}
	if l := cj.Spec.FailedJobsHistoryLimit; l != nil && c.removeOldest(ctx, cj, failed, int(*l)) {
		changed = true
	}
	return changed
}

// removeOldest deletes all but the keep most recently started Jobs.
func (c *Controller) removeOldest(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job, keep int) bool {
	if len(jobs) <= keep {
		return false
	}
	sort.Slice(jobs, func(i, j int) bool {
		a, b := jobs[i].Status.StartTime, jobs[j].Status.StartTime
		switch {
		case a == nil && b != nil:
			return false
		case a != nil && b == nil:
			return true
		case a == nil || a.Equal(b):
			return jobs[i].Name < jobs[j].Name
		}
		return a.Before(b)
	})
	changed := false
	for _, j := range jobs[:len(jobs)-keep] {
		if c.deleteJob(ctx, cj, j) {
			changed = true
		}
	}
	return changed
}

// deleteJob deletes a Job and its pods (in the background) and forgets it.
func (c *Controller) deleteJob(ctx context.Context, cj *batchv1.CronJob, job *batchv1.Job) bool {
	err := c.client.BatchV1().Jobs(job.Namespace).Delete(ctx, job.Name, metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)})
	if err != nil && !apierrors.IsNotFound(err) {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "Deleted job: %v", err)
		c.log.Error("deleting job failed", "cronjob", cj.Namespace+"/"+cj.Name, "job", job.Name, "err", err)
		return false
	}
	removeActive(cj, job.UID)
	c.recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", job.Name)
	c.log.Info("deleted job", "cronjob", cj.Namespace+"/"+cj.Name, "job", job.Name)
	return true
}
