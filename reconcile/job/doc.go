// Package job is the Job controller: it runs a Job's pods to completion
// and reports how they ended, as kube-controller-manager's job controller
// does, together with its ttl-after-finished controller.
//
// # What it does
//
// For each Job it keeps min(parallelism, completions − succeeded) pods
// running (parallelism, then as many as one success allows, for a Job
// without completions), named <job>-xxxxx — or <job>-<index>-xxxxx with
// the batch.kubernetes.io/job-completion-index annotation and label,
// hostname <job>-<index> and JOB_COMPLETION_INDEX for an Indexed Job. The
// pods carry the template's labels, which the API server's defaulting
// already gave the job-name and controller-uid labels (prefixed and
// legacy). Failed pods are replaced after an exponential back-off (10 s,
// 20 s, 40 s… capped at 6 minutes, reset by a success); more failures than
// backoffLimit (or container restarts, with restartPolicy OnFailure), a
// passed activeDeadlineSeconds or a podFailurePolicy FailJob rule fail the
// Job and stop its pods. suspend deletes the running pods and sets the
// Suspended condition; resuming restarts the deadline clock. An Indexed
// Job's backoffLimitPerIndex (each index backs off and fails on its own,
// with the job-index-failure-count annotation, status.failedIndexes and
// maxFailedIndexes) and successPolicy are honoured. A finished Job with
// ttlSecondsAfterFinished is deleted (foreground) when the TTL runs out.
//
// Conditions follow Kubernetes 1.33: the decision is recorded first as
// SuccessCriteriaMet or FailureTarget, and Complete or Failed (with the
// same reason and message, and completionTime for Complete) is added once
// every pod is counted and none is still terminating — so `kubectl wait
// --for=condition=complete` returns when the Job is truly done. Events are
// upstream's: SuccessfulCreate, SuccessfulDelete, Completed,
// BackoffLimitExceeded, DeadlineExceeded, Suspended, Resumed…
//
// # Counting
//
// Pods are counted exactly once across crashes and restarts with
// upstream's scheme, not a simpler one: every pod is created with the
// batch.kubernetes.io/job-tracking finalizer. When a pod ends, its UID is
// first written to status.uncountedTerminatedPods, then its finalizer is
// removed, then it moves from that list to status.succeeded or
// status.failed (an Indexed Job records succeeded indexes in
// status.completedIndexes instead of UIDs). Pods that lose their Job, or
// whose Job finished, have the finalizer removed by a second worker.
//
// # Boundaries
//
// Inputs are the shared Job and Pod informers; outputs are pod creations,
// deletions and finalizer patches, Job status writes, the deletion of
// expired Jobs, and events. Defaulting and validation (the generated
// selector, the pod labels) happen in the API server. Jobs whose
// spec.managedBy names another controller are left alone.
package job
