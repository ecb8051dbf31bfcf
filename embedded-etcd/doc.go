// Package etcd starts and stops the etcd that stores Skiff's cluster state.
//
// In the default (embedded) mode etcd runs inside the skiff process under
// <data-dir>/etcd, with fsync on, and the API server talks to it through an
// in-process client: no socket, no gRPC framing, no TLS between the two. The
// member listens on no port at all, so several Skiff servers on one host
// never collide, and nothing outside the process can reach the data.
//
// With --etcd-endpoints the API server uses an external etcd instead;
// Connect builds that client.
//
// Inputs: a data directory and limits. Outputs: a *clientv3.Client. Only
// the apiserver package and cmd import this package; every other component
// reaches state through the Kubernetes API.
package etcd
