// Package defaults fills the fields that the Kubernetes API server fills
// when a client leaves them out (restartPolicy, imagePullPolicy, strategy,
// protocol, …), so that an object read back from Skiff looks like the same
// object read back from a Kubernetes v1.33 API server.
//
// The values follow kubernetes/pkg/apis/*/v1/defaults.go and the generated
// defaulters (zz_generated.defaults.go): a workload's pod template gets the
// PodSpec defaults but not the Pod-only ones (requests copied from limits,
// enableServiceLinks, hostPort for hostNetwork pods), exactly as upstream.
// A few fields Kubernetes sets in its REST strategies or in v1 conversion
// rather than in defaulting are filled here too, because a reader would
// otherwise see a different object: a Namespace's "kubernetes" finalizer,
// a Secret's stringData folded into data, a Service's clusterIPs mirroring
// clusterIP and its ipFamilyPolicy, a Pod's Pending phase and QoS class,
// a Job's generated selector.
//
// Every function mutates its argument, is idempotent and never overwrites a
// value the client set. They do no I/O and allocate nothing the server must
// choose (cluster IPs, node ports, UIDs): those stay with the API server.
//
// Create-time behaviour that depends on the object's identity:
//   - Namespace adds the "kubernetes" finalizer only to an object without a
//     resourceVersion (being created), because Kubernetes lets the
//     finalizer be removed over the namespace's life.
//   - Job generates its selector and the matching template labels only for
//     a Job that has a UID but no resourceVersion (assigned, not yet
//     stored); if the API server assigns the UID after defaulting it calls
//     JobSelector itself before validating the create.
//
// Update-time behaviour that needs the stored object (clearing a Service's
// node ports when it changes to ClusterIP, …) is in ServiceForUpdate, which
// the API server calls before validating an update.
package defaults
