// Package runtime is the node agent's view of a container engine: pod
// sandboxes (the pause container that owns a pod's network namespace),
// containers joined to them, images, exec and logs. The agent's pod logic
// talks only to the Runtime interface; Docker (docker.go) and an
// in-memory fake for scale tests (fake.go) implement it.
//
// Every container the agent creates carries the labels below, so that
// after a restart the agent can adopt what it finds and never touch
// containers it does not own.
package runtime
