package job

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// completionIndexEnv is the variable an Indexed Job's containers read
// their index from.
const completionIndexEnv = "JOB_COMPLETION_INDEX"

// noIndex marks a pod without a valid completion index annotation.
const noIndex = -1

// maxGeneratedNameLength is how much of a generateName prefix the API keeps
// (a DNS label of 63 minus the 5 random characters), as apiserver's
// SimpleNameGenerator truncates it.
const maxGeneratedNameLength = 63 - 5

func isIndexed(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
}

// completionIndex reads a pod's batch.kubernetes.io/job-completion-index
// annotation; noIndex when absent or not a non-negative integer (a user
// could have edited it).
func completionIndex(pod *corev1.Pod) int {
	v, ok := pod.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return noIndex
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return noIndex
	}
	return i
}

// validIndex reports whether a pod's index counts for the job: Indexed
// Jobs ignore pods whose index is missing or beyond completions (the Job
// may have been scaled down, completions and parallelism together).
func validIndex(job *batchv1.Job, pod *corev1.Pod) (int, bool) {
	ix := completionIndex(pod)
	return ix, ix != noIndex && job.Spec.Completions != nil && ix < int(*job.Spec.Completions)
}

// interval is a closed range of completion indexes.
type interval struct{ first, last int }

// intervals is a sorted list of disjoint, non-adjacent intervals: the
// compressed form of status.completedIndexes ("1,3-5,7").
type intervals []interval

// parseIntervals reads the status.completedIndexes format, dropping what
// lies at or beyond completions and skipping corrupt parts (the field is
// written by this controller, but a user can edit status).
func parseIntervals(s string, completions int) intervals {
	if s == "" {
		return nil
	}
	var out intervals
	for _, part := range strings.Split(s, ",") {
		bounds := strings.SplitN(part, "-", 2)
		first, err := strconv.Atoi(bounds[0])
		if err != nil || first < 0 {
			continue
		}
		if first >= completions {
			break
		}
		last := first
		if len(bounds) == 2 {
			if last, err = strconv.Atoi(bounds[1]); err != nil || last < first {
				continue
			}
			last = min(last, completions-1)
		}
		out = out.merge(intervals{{first, last}})
	}
	return out
}

// withIndexes returns oi with the given indexes added.
func (oi intervals) withIndexes(ixs []int) intervals {
	sort.Ints(ixs)
	add := make(intervals, 0, len(ixs))
	for _, ix := range ixs {
		add = append(add, interval{ix, ix})
	}
	return oi.merge(add)
}

// merge returns the union of two interval lists.
func (oi intervals) merge(other intervals) intervals {
	all := make(intervals, 0, len(oi)+len(other))
	all = append(all, oi...)
	all = append(all, other...)
	sort.Slice(all, func(i, j int) bool { return all[i].first < all[j].first })
	var out intervals
	for _, iv := range all {
		if n := len(out); n > 0 && iv.first <= out[n-1].last+1 {
			out[n-1].last = max(out[n-1].last, iv.last)
			continue
		}
		out = append(out, iv)
	}
	return out
}

func (oi intervals) total() int {
	n := 0
	for _, iv := range oi {
		n += iv.last - iv.first + 1
	}
	return n
}

func (oi intervals) has(ix int) bool {
	i := sort.Search(len(oi), func(i int) bool { return oi[i].last >= ix })
	return i < len(oi) && oi[i].first <= ix
}

// intersect counts the indexes both lists hold.
func (oi intervals) intersect(other intervals) int {
	n, i, j := 0, 0, 0
	for i < len(oi) && j < len(other) {
		lo, hi := max(oi[i].first, other[j].first), min(oi[i].last, other[j].last)
		if lo <= hi {
			n += hi - lo + 1
		}
		if oi[i].last < other[j].last {
			i++
		} else {
			j++
		}
	}
	return n
}

// String is the status.completedIndexes form: two adjacent indexes are
// listed ("3,4"), three or more become a range ("3-5"), as Kubernetes
// writes them.
func (oi intervals) String() string {
	var b strings.Builder
	for _, iv := range oi {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(iv.first))
		switch {
		case iv.last == iv.first+1:
			fmt.Fprintf(&b, ",%d", iv.last)
		case iv.last > iv.first:
			fmt.Fprintf(&b, "-%d", iv.last)
		}
	}
	return b.String()
}

// succeededIndexes returns the indexes status.completedIndexes already
// records and those plus the indexes of succeeded pods not yet counted
// (still carrying the tracking finalizer).
func succeededIndexes(job *batchv1.Job, pods []*corev1.Pod) (prev, now intervals) {
	completions := int(*job.Spec.Completions)
	prev = parseIntervals(job.Status.CompletedIndexes, completions)
	var fresh []int
	for _, p := range pods {
		if ix, ok := validIndex(job, p); ok && p.Status.Phase == corev1.PodSucceeded && hasTrackingFinalizer(p) {
			fresh = append(fresh, ix)
		}
	}
	return prev, prev.withIndexes(fresh)
}

// pendingIndexes returns up to count indexes below completions that no
// active pod runs and that are not done (succeeded, or failed for good).
// With podReplacementPolicy Failed, an index whose pod is still
// terminating is not pending either.
func pendingIndexes(job *batchv1.Job, done intervals, active, terminating []*corev1.Pod, count int) []int {
	if count <= 0 {
		return nil
	}
	busy := sets.New[int]()
	for _, p := range active {
		if ix := completionIndex(p); ix != noIndex {
			busy.Insert(ix)
		}
	}
	for _, p := range terminating {
		if ix := completionIndex(p); ix != noIndex {
			busy.Insert(ix)
		}
	}
	var out []int
	for ix := 0; ix < int(*job.Spec.Completions) && len(out) < count; ix++ {
		if !busy.Has(ix) && !done.has(ix) {
			out = append(out, ix)
		}
	}
	return out
}

// duplicateIndexPods returns the active pods of an Indexed Job that must go
// whatever the parallelism: those without a valid index, and all but the
// most advanced pod of an index that runs more than once (two creations
// can race after a controller restart).
func duplicateIndexPods(job *batchv1.Job, active []*corev1.Pod) (remove, keep []*corev1.Pod) {
	byIndex := map[int][]*corev1.Pod{}
	for _, p := range active {
		ix, ok := validIndex(job, p)
		if !ok {
			remove = append(remove, p)
			continue
		}
		byIndex[ix] = append(byIndex[ix], p)
	}
	ixs := make([]int, 0, len(byIndex))
	for ix := range byIndex {
		ixs = append(ixs, ix)
	}
	sort.Ints(ixs)
	for _, ix := range ixs {
		ps := byIndex[ix]
		sortForRemoval(ps)
		remove = append(remove, ps[:len(ps)-1]...)
		keep = append(keep, ps[len(ps)-1])
	}
	return remove, keep
}

// indexedPodName is the generateName prefix of an Indexed Job's pod,
// "<job>-<index>-", shortened from the job name's end so the index stays.
func indexedPodName(jobName string, ix int) string {
	suffix := "-" + strconv.Itoa(ix) + "-"
	if len(jobName)+len(suffix) > maxGeneratedNameLength {
		jobName = jobName[:maxGeneratedNameLength-len(suffix)]
	}
	return jobName + suffix
}

// addCompletionIndex marks a pod template with its index: the annotation
// and label Kubernetes sets, the hostname <job>-<index>, and the
// JOB_COMPLETION_INDEX variable read from the label through the downward
// API in every container that does not set it itself.
func addCompletionIndex(tmpl *corev1.PodTemplateSpec, jobName string, ix int) {
	v := strconv.Itoa(ix)
	if tmpl.Annotations == nil {
		tmpl.Annotations = map[string]string{}
	}
	tmpl.Annotations[batchv1.JobCompletionIndexAnnotation] = v
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	tmpl.Labels[batchv1.JobCompletionIndexAnnotation] = v
	tmpl.Spec.Hostname = fmt.Sprintf("%s-%d", jobName, ix)
	env := corev1.EnvVar{Name: completionIndexEnv, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
		APIVersion: "v1", FieldPath: fmt.Sprintf("metadata.labels['%s']", batchv1.JobCompletionIndexAnnotation)}}}
	add := func(cs []corev1.Container) {
		for i := range cs {
			found := false
			for _, e := range cs[i].Env {
				found = found || e.Name == completionIndexEnv
			}
			if !found {
				cs[i].Env = append(cs[i].Env, env)
			}
		}
	}
	add(tmpl.Spec.InitContainers)
	add(tmpl.Spec.Containers)
}

// perIndex: the Job counts failures per index (backoffLimitPerIndex)
// rather than for the whole Job.
func perIndex(job *batchv1.Job) bool {
	return isIndexed(job) && job.Spec.BackoffLimitPerIndex != nil
}

// annotationCount reads a non-negative int32 annotation; 0 when absent or
// not a number (a user could have edited it).
func annotationCount(pod *corev1.Pod, key string) int32 {
	n, err := strconv.ParseInt(pod.Annotations[key], 10, 32)
	if err != nil || n < 0 {
		return 0
	}
	return int32(n)
}

// indexFailures is how many earlier pods of this pod's index failed
// (counted, and ignored by the podFailurePolicy).
func indexFailures(pod *corev1.Pod) (counted, ignored int32) {
	return annotationCount(pod, batchv1.JobIndexFailureCountAnnotation), annotationCount(pod, batchv1.JobIndexIgnoredFailureCountAnnotation)
}

// indexFailed: this failed pod uses up its index's backoffLimitPerIndex,
// or a FailIndex rule matched it.
func indexFailed(job *batchv1.Job, pod *corev1.Pod) bool {
	if !isPodFailed(pod, job) {
		return false
	}
	v := judgeFailure(job.Spec.PodFailurePolicy, pod)
	if v.failIndex {
		return true
	}
	counted, _ := indexFailures(pod)
	return v.count && counted >= *job.Spec.BackoffLimitPerIndex
}

// failedIndexes returns the indexes status.failedIndexes records plus those
// whose pods just used them up.
func failedIndexes(job *batchv1.Job, pods []*corev1.Pod) intervals {
	completions := int(*job.Spec.Completions)
	var prev intervals
	if job.Status.FailedIndexes != nil {
		prev = parseIntervals(*job.Status.FailedIndexes, completions)
	}
	var fresh []int
	for _, p := range pods {
		if ix, ok := validIndex(job, p); ok && hasTrackingFinalizer(p) && indexFailed(job, p) {
			fresh = append(fresh, ix)
		}
	}
	return prev.withIndexes(fresh)
}

// lastFailures returns, per index still to be retried, its latest failed
// pod not yet counted. Its finalizer stays until the replacement exists:
// the replacement's failure-count annotation is derived from it, and
// derived again after a crash.
func lastFailures(st *state) map[int]*corev1.Pod {
	busy := sets.New[int]()
	for _, p := range st.active {
		if ix := completionIndex(p); ix != noIndex {
			busy.Insert(ix)
		}
	}
	out := map[int]*corev1.Pod{}
	for _, p := range st.pods {
		ix, ok := validIndex(st.job, p)
		if !ok || !hasTrackingFinalizer(p) || st.expectedRemovals.Has(p.UID) || !isPodFailed(p, st.job) ||
			busy.Has(ix) || st.indexes.has(ix) || st.failedIndexes.has(ix) {
			continue
		}
		if cur, ok := out[ix]; ok {
			c1, i1 := indexFailures(cur)
			c2, i2 := indexFailures(p)
			if c1+i1 > c2+i2 || finishedAt(p).Before(finishedAt(cur)) {
				continue
			}
		}
		out[ix] = p
	}
	return out
}

// replacementAnnotations are the failure counts of the pod that replaces
// last (nil: the index's first pod).
func replacementAnnotations(job *batchv1.Job, last *corev1.Pod) map[string]string {
	var counted, ignored int32
	if last != nil {
		counted, ignored = indexFailures(last)
		if judgeFailure(job.Spec.PodFailurePolicy, last).count {
			counted++
		} else {
			ignored++
		}
	}
	out := map[string]string{batchv1.JobIndexFailureCountAnnotation: strconv.Itoa(int(counted))}
	if ignored > 0 {
		out[batchv1.JobIndexIgnoredFailureCountAnnotation] = strconv.Itoa(int(ignored))
	}
	return out
}

// indexBackoff is how long index ix must still wait after its last failure.
func indexBackoff(last *corev1.Pod, now time.Time) time.Duration {
	if last == nil {
		return 0
	}
	counted, ignored := indexFailures(last)
	return backoffRecord{failuresSinceSuccess: counted + ignored + 1, lastFailure: finishedAt(last)}.remaining(now)
}
