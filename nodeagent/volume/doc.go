// Package volume materialises a pod's volumes on the node's filesystem so
// the agent can bind-mount them into the pod's containers: the job of the
// kubelet's volume manager, for the volume types Skiff supports.
//
// # Job
//
// A Manager owns one directory tree, root (the agent passes
// <data-dir>/pods). Everything it creates for a pod lives under
//
//	root/<pod UID>/volumes/<plugin>/<volume name>
//
// with the kubelet's plugin names (kubernetes.io~empty-dir,
// kubernetes.io~configmap, kubernetes.io~secret, kubernetes.io~downward-api,
// kubernetes.io~projected), so a person who knows a kubelet node finds
// their way around. hostPath volumes are the one exception: their path is
// the user's and is passed through after the type check.
//
// The agent calls, per pod:
//
//   - Setup on every sync of the pod, and again whenever a ConfigMap or
//     Secret the pod uses changes, or the pod's IP becomes known. Setup is
//     idempotent and cheap when nothing changed, so calling it often is the
//     intended use: that is how mounted ConfigMaps follow their object.
//   - Mounts when it creates a container, to get the container's
//     volumeMounts as host paths (runtime.Mount values).
//   - Teardown once the pod's containers are gone, and Cleanup after a
//     restart with the pods that still exist, to remove what is left.
//
// ConfigMap, Secret, downwardAPI and projected volumes are written the way
// the kubelet's AtomicWriter writes them: the files live in a timestamped
// directory "..<timestamp>", a "..data" symlink points to it, and every
// visible name is a symlink "name -> ..data/name". An update writes a new
// timestamped directory and swaps "..data" with a rename, so a reader that
// resolves "..data" once sees one complete set of files, never a mix. Such
// volumes are mounted read-only, as the kubelet does.
//
// # Errors
//
// An error wrapping ErrUnsupported (an *UnsupportedError) means the pod
// asks for something Skiff cannot provide (persistentVolumeClaim,
// ephemeral, serviceAccountToken projections, mount propagation…):
// retrying will not help, the agent should refuse the pod with an event
// carrying the message. A missing ConfigMap or Secret that is not optional
// is an apierrors NotFound (apierrors.IsNotFound sees it through the
// wrapping): the pod waits, and a later Setup succeeds once the object
// exists. Anything else is an I/O or validation problem named in the
// message.
//
// # Boundaries
//
// The package reads API objects only through Source (the agent backs it
// with informer listers) and never talks to the API server or the
// container engine. It does not decide who may use hostPath (admission
// does), does not write /etc/hosts or resolv.conf (the runtime does), and
// does not resolve container environment variables: Mounts takes the
// container's resolved environment for subPathExpr.
//
// Secrets are written to disk under root, readable only through the pod
// directory (0750, owned by the agent's user); the kubelet keeps them on
// tmpfs, which Skiff does not do yet. A memory-backed emptyDir is a tmpfs
// mounted on the host directory, which needs root; the container engine
// sees it only if it shares the agent's mount namespace (the usual case:
// both run on the host).
package volume
