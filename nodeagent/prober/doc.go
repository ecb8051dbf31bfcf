// Package prober runs a node agent's liveness, readiness and startup probes,
// the way the kubelet's prober manager, workers and results manager do.
//
// # Job
//
// The agent tells the Manager which containers of a pod are running (Sync)
// and which pods are gone (Remove). For every running container and every
// probe it declares, the Manager runs one worker goroutine that probes on the
// probe's period and keeps the thresholded result. The agent reads that
// result when it computes pod status (Ready, Started, NeedsRestart) and
// receives an Update on Updates whenever a result changes, as a nudge to
// re-sync the pod. Every failed probe is also recorded as a Warning event
// (reason Unhealthy) phrased as the kubelet phrases it, through the
// Options.Recorder the agent supplies.
//
// # Boundaries
//
// The package never restarts a container, never writes pod status and never
// talks to the API server: NeedsRestart says a container must be restarted
// and the agent does it. It reaches containers only through
// runtime.Runtime.Exec (exec probes) and the network (httpGet, tcpSocket,
// grpc probes to the pod IP). It imports nothing else from the agent.
//
// # Semantics (kubelet pkg/kubelet/prober, pkg/probe)
//
//   - A worker probes once when Sync starts it, then on every tick of
//     periodSeconds measured from then. A tick that comes while the
//     container is younger than initialDelaySeconds (whole seconds since
//     ContainerInfo.StartedAt) is skipped. Probe timeouts
//     (timeoutSeconds) are wall-clock time; periods and delays follow
//     Options.Clock.
//   - The result changes only after successThreshold consecutive successes
//     or failureThreshold consecutive failures; successThreshold is 1 for
//     liveness and startup whatever the spec says.
//   - Initial results: readiness Failure, liveness Success, startup Unknown.
//     A container without a probe of a kind has no result of that kind
//     (known is false): the agent decides (Kubernetes: ready and started).
//   - Liveness and readiness do not probe until the startup probe has
//     succeeded (so, behind a startup probe, not when their worker starts).
//     When it succeeds, readiness is probed at once and its period restarts
//     from there, as the kubelet does when it next computes status;
//     liveness waits for its next tick.
//   - A liveness failure, or a startup probe reaching failureThreshold, makes
//     NeedsRestart true and puts that worker on hold; a startup success also
//     stops the startup worker. The next container (a new ID in Sync) gets
//     fresh workers.
//   - While the pod is being deleted, liveness and startup report Success and
//     stop probing, so a terminating pod is not restarted; readiness keeps
//     probing.
//   - A handler error that is not the container's fault (the runtime could not
//     exec, the pod has no IP yet) is retried at once up to three times, then
//     recorded as "… probe errored …" and thrown away: it moves no threshold.
//
// Where Skiff differs from the kubelet, on purpose:
//
//   - A named port that the container does not declare is a probe failure
//     with a readable message; the kubelet throws that result away, so a
//     liveness probe with a typo never fires there.
//   - Reading state (Ready, Started, NeedsRestart) has no side effects. The
//     kubelet re-runs a not-yet-ready readiness probe whenever it recomputes
//     pod status; here probes run only on their period (and once after
//     startup success), so the number of probes does not depend on how often
//     the agent asks.
//   - There is no random start-up delay after an agent restart (the kubelet
//     spreads the first probes of adopted containers over one period).
package prober
