// Package cronjob is the CronJob controller: it creates a CronJob's Jobs
// on schedule, as kube-controller-manager's cronjob controller (v2) does.
//
// # Schedules
//
// ParseSchedule reads the cron syntax Kubernetes accepts (five fields,
// @hourly/@daily/…, "@every <duration>", a CRON_TZ= or TZ= prefix) into a
// Schedule whose Next is pure and exact across daylight-saving changes in
// any zone: a time the clocks skip does not fire that day, a time they
// repeat fires twice, as with the cron/v3 library Kubernetes uses. The
// API server's manifests/validation.ParseCronSchedule checks the same
// syntax but only says whether it is valid, so it cannot drive a
// schedule; a test holds the two parsers to the same verdicts.
//
// planRun is the whole scheduling decision as a pure function of the
// schedule, the last scheduled time (or creation), now and
// startingDeadlineSeconds: the most recent unmet time to start a Job for
// (older ones are dropped, and more than 100 unmet times draw the
// TooManyMissedTimes warning), and the next time to look.
//
// # Reconciling
//
// A sync forgets finished Jobs from status.active (recording
// lastSuccessfulTime), deletes the oldest finished Jobs beyond the
// history limits, and, unless suspended, starts the due Job named
// <cronjob>-<scheduled time in minutes since the epoch> — the name makes
// a second creation for one time fail, so a crash between the create and
// the status write never runs a schedule twice. concurrencyPolicy Forbid
// skips a run while one is active, Replace deletes the active ones first.
// It then requeues the CronJob for 100 ms after its next scheduled time:
// the controller never polls, and Job events wake it in between.
// Schedules without spec.timeZone use the server's local zone, as
// kube-controller-manager uses its own.
//
// # Boundaries
//
// Inputs are the shared CronJob and Job informers; outputs are Job
// creations and deletions (background propagation), CronJob status
// writes and events with upstream's reasons and messages. Running the
// Jobs is the job controller's business.
package cronjob
