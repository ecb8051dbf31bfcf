// Package queue holds the pods waiting to be scheduled, the way
// kube-scheduler's scheduling queue does:
//
//   - active: pods ready for an attempt, highest priority first, then
//     oldest first;
//   - backoff: pods that failed recently and wait 1 s, 2 s, 4 s ... up to
//     10 s (doubling per attempt) before their next attempt;
//   - unschedulable: pods no node could take. They stay until a cluster
//     event that could change that happens (a node added or changed, a
//     pod deleted ...), and at the latest 5 minutes, as upstream's
//     leftover flush does.
//
// The queue does not know what makes a pod fit. The scheduler describes
// each cluster event with a hint, a function that says whether the event
// may help a given pod (it knows which filters rejected it); only those
// pods move. Events that happen while a pod is being scheduled are kept
// and replayed against it if its attempt fails, so a node added in the
// middle of an attempt is not missed.
//
// Time comes from an injected k8s.io/utils/clock.Clock. A blocked Pop
// sleeps on one timer set to the next backoff expiry or flush, or on
// nothing at all: the queue never polls.
package queue
