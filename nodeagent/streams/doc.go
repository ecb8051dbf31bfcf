// Package streams serves a node agent's interactive endpoints: exec,
// attach and port-forward into the pods the agent runs. Only the API
// server calls them (the agent's HTTPS endpoint checks its client
// certificate first); the API server authorizes the user, checks the pod
// and container, and proxies kubectl's upgraded connection here.
//
// Inputs: HTTP requests in the kubelet's own URL layout, which is what
// kube-apiserver sends a kubelet:
//
//	/exec/{namespace}/{pod}[/{podUID}]/{container}?command=…&input=1&output=1&error=1&tty=1
//	/attach/{namespace}/{pod}[/{podUID}]/{container}?input=1&output=1&error=1&tty=1
//	/portForward/{namespace}/{pod}[/{podUID}]
//
// Outputs: the upgraded connection, carrying the container's streams
// through a runtime.Runtime (ExecStream, Attach, PortForward).
//
// How it matches upstream: the stream protocols are served by the
// kubelet's own streaming library (k8s.io/cri-streaming, formerly
// k8s.io/kubelet/pkg/cri/streaming): SPDY/3.1 with the channel.k8s.io
// sub-protocols v1–v4 and portforward.k8s.io, and the kubelet's WebSocket
// channel protocols up to v4. As with kube-apiserver and the kubelet, the
// newer WebSocket protocols kubectl ≥ 1.30 speaks (v5.channel.k8s.io, and
// SPDY tunnelled over WebSocket for port-forward) are translated in the API
// server, so the agent needs only these. Errors before the upgrade are
// plain text with the kubelet's status codes and wording (404 "pod does not
// exist", 500 `container not found ("web")`, 400 for bad options), which
// kubectl prints as "unable to upgrade connection: …". A non-zero exit code
// travels as the v4 error channel's Status with an ExitCode cause.
//
// A stream ends when the process (exec), the container (attach) or the
// pod's side of the connection (port-forward) ends, or when the client's
// connection closes: the agent watches the hijacked connection, since the
// request's context is not cancelled once the connection is taken over.
package streams
