// Package storage keeps API objects in etcd and serves lists and watches
// from an in-memory cache in front of it.
//
// Layout: every object lives at /registry/<group>/<resource>/<namespace>/<name>
// (cluster-scoped objects omit the namespace; the core group is spelled
// "core"), as JSON without its resourceVersion; the resourceVersion is the
// key's etcd mod revision, put back into the JSON on the way out.
//
// Writes are single-key etcd transactions with a precondition, so an update
// can never overwrite a change it did not see (optimistic concurrency), a
// create never overwrites, and a delete removes exactly the revision that
// was read. Reads of a single object by default go to etcd (linearizable).
//
// The watch cache: one etcd watch over the whole /registry/ prefix feeds a
// Cache per resource — a B-tree of the current objects and a bounded
// history of recent events. Lists and watches are served from it, so their
// cost scales with readers, not with etcd round trips:
//   - a list that must be current (resourceVersion unset) first asks etcd
//     for its current revision and waits until the cache has seen it;
//   - a watch from revision N replays the cache history after N, then goes
//     live; when N is older than the history the watch is served by etcd
//     itself from N (so an informer resumes across a server restart with no
//     gap), and when etcd has compacted N the client gets ErrExpired (410).
//
// Objects are decoded lazily and at most once per revision, and their JSON
// with the resourceVersion filled in is built at most once, so a list of
// 10,000 objects is mostly a concatenation of cached bytes.
//
// The package knows nothing of HTTP or of Kubernetes semantics beyond keys,
// revisions, labels and fields; the apiserver package builds REST on top.
package storage
