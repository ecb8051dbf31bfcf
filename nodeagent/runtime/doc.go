// Package runtime is the node agent's view of a container engine: pod
// sandboxes (the pause container that owns a pod's network namespace),
// containers joined to them, images, exec and logs. The agent's pod logic
// talks only to the Runtime interface; Docker (docker*.go) and an
// in-memory fake for scale tests (fake.go) implement it.
//
// Every container the agent creates carries the labels below, so that
// after a restart the agent can adopt what it finds and never touch
// containers it does not own.
//
// Docker reaches the engine only through its API, with one exception: to
// give a pod the resolv.conf Kubernetes promises (its DNS servers, not the
// engine's embedded resolver), it rewrites the sandbox's resolv.conf in
// the engine's data directory, as dockershim did, when the agent runs on
// the engine's host (see writeResolvConf).
package runtime
