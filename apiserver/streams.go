package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Streaming subresources of pods: exec, attach and portforward. The API
// server authorizes the user, checks the request against the pod, then
// carries kubectl's upgraded connection to the node agent running the pod
// (nodeagent/streams), as kube-apiserver does with the kubelet:
//
//   - SPDY/3.1 (every kubectl 1.27–1.33) and the kubelet's own WebSocket
//     protocols: relayed byte for byte; the agent speaks the protocol
//     (kube-apiserver's UpgradeAwareHandler).
//   - WebSocket v5.channel.k8s.io for exec and attach (kubectl ≥ 1.30):
//     terminated here and translated to SPDY towards the agent
//     (kube-apiserver's StreamTranslatorHandler).
//   - WebSocket carrying SPDY (SPDY/3.1+portforward.k8s.io) for
//     port-forward (kubectl ≥ 1.31): the WebSocket is unwrapped here and
//     the SPDY inside relayed to the agent (kube-apiserver's
//     TunnelingHandler).
//
// So the agent, like a kubelet, needs only the kubelet's streaming
// library, and the newer protocols live in one place.

// streamSubresources are the pod subresources that upgrade to a stream.
var streamSubresources = []string{"exec", "attach", "portforward"}

// isStream tells whether a parsed request is for a pod's exec, attach or
// portforward subresource.
func (info *requestInfo) isStream() bool {
	return info.typ != nil && info.typ.GroupVersionKind.Group == "" && info.typ.Resource == "pods" &&
		slices.Contains(streamSubresources, info.subresource)
}

// defaultContainerAnnotation names the container kubectl picks when none
// is given.
const defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// streamRequest is what a client asks of a streaming subresource: the
// query of PodExecOptions, PodAttachOptions or PodPortForwardOptions.
type streamRequest struct {
	subresource                string
	stdin, stdout, stderr, tty bool
	container                  string
	command                    []string
	ports                      []int32
}

// parseStreamRequest reads the options from the query as kube-apiserver's
// parameter codec does: a boolean is true unless absent, "false" or "0".
// It rejects what the node agent would refuse anyway, so that every
// client sees the same 400 whichever protocol it uses.
func parseStreamRequest(subresource string, q url.Values) (streamRequest, error) {
	flag := func(name string) bool {
		v, ok := q[name]
		if !ok || len(v) == 0 {
			return false
		}
		return v[0] != "0" && !strings.EqualFold(v[0], "false")
	}
	sr := streamRequest{subresource: subresource}
	switch subresource {
	case "exec", "attach":
		sr.stdin, sr.stdout, sr.stderr, sr.tty = flag("stdin"), flag("stdout"), flag("stderr"), flag("tty")
		sr.container = q.Get("container")
		if sr.tty {
			// A terminal merges stderr into stdout (the kubelet drops it too).
			sr.stderr = false
		}
		if !sr.stdin && !sr.stdout && !sr.stderr {
			return sr, apierrors.NewBadRequest("you must specify at least 1 of stdin, stdout, stderr")
		}
		if subresource == "exec" {
			sr.command = q["command"]
			if len(sr.command) == 0 {
				return sr, apierrors.NewBadRequest("you must specify a command to run in the container")
			}
		}
	case "portforward":
		for _, v := range q["ports"] {
			for _, p := range strings.Split(v, ",") {
				n, err := strconv.ParseUint(strings.TrimSpace(p), 10, 16)
				if err != nil || n == 0 {
					return sr, apierrors.NewBadRequest(fmt.Sprintf("invalid port %q: must be a number between 1 and 65535", p))
				}
				sr.ports = append(sr.ports, int32(n))
			}
		}
	default:
		return sr, fmt.Errorf("%s is not a streaming subresource", subresource)
	}
	return sr, nil
}

// allContainerNames lists a pod's containers in kube-apiserver's order:
// init containers, containers, ephemeral containers.
func allContainerNames(pod *corev1.Pod) []string {
	var names []string
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		names = append(names, c.Name)
	}
	return names
}

// chooseContainer returns the container a log or stream request is for.
// A named container must be one of the pod's. Without a name, the
// container the kubectl.kubernetes.io/default-container annotation names
// is chosen (kubectl's rule; kubectl applies it before asking, so this
// serves other clients the same way), else the only container; a pod with
// several gets kube-apiserver's error listing them.
func chooseContainer(pod *corev1.Pod, requested string) (string, error) {
	names := allContainerNames(pod)
	if requested != "" {
		if !slices.Contains(names, requested) {
			return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", requested, pod.Name))
		}
		return requested, nil
	}
	if def := pod.Annotations[defaultContainerAnnotation]; def != "" && slices.Contains(names, def) {
		return def, nil
	}
	switch len(pod.Spec.Containers) {
	case 1:
		return pod.Spec.Containers[0].Name, nil
	case 0:
		return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", pod.Name))
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %s", pod.Name, names))
}

// agentStreamURL is where the node agent serves a stream, in the
// kubelet's layout and with the kubelet's parameter names (input, output,
// error, tty, command, port), as kube-apiserver addresses a kubelet. The
// pod's UID is in the path so that a pod recreated under the same name is
// not reached by mistake.
func agentStreamURL(base *url.URL, sr streamRequest, pod *corev1.Pod, container string) *url.URL {
	u := *base
	q := url.Values{}
	one := func(name string, on bool) {
		if on {
			q.Set(name, "1")
		}
	}
	switch sr.subresource {
	case "exec", "attach":
		u.Path = "/" + sr.subresource + "/" + url.PathEscape(pod.Namespace) + "/" + url.PathEscape(pod.Name) + "/" +
			url.PathEscape(string(pod.UID)) + "/" + url.PathEscape(container)
		one("input", sr.stdin)
		one("output", sr.stdout)
		one("error", sr.stderr)
		one("tty", sr.tty)
		for _, c := range sr.command {
			q.Add("command", c)
		}
	case "portforward":
		u.Path = "/portForward/" + url.PathEscape(pod.Namespace) + "/" + url.PathEscape(pod.Name) + "/" + url.PathEscape(string(pod.UID))
		if len(sr.ports) > 0 {
			ports := make([]string, len(sr.ports))
			for i, p := range sr.ports {
				ports[i] = strconv.Itoa(int(p))
			}
			q.Set("port", strings.Join(ports, ","))
		}
	}
	u.RawPath = ""
	u.RawQuery = q.Encode()
	return &u
}

// authorizeStream allows streams to cluster administrators only
// (authorize.go). The verb is "create", which kube-apiserver requires for
// these subresources whether the upgrade is a SPDY POST or a WebSocket
// GET.
func authorizeStream(u User, info *requestInfo) error {
	if ok, _ := authorize(u, access{verb: "create", resource: "pods", subresource: info.subresource, namespace: info.namespace, name: info.name}); ok {
		return nil
	}
	return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, info.name,
		fmt.Errorf("User %q cannot create resource \"pods/%s\" in API group \"\" in the namespace %q", u.Name, info.subresource, info.namespace))
}

// serveStream handles GET and POST on pods/{exec,attach,portforward}.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request, info *requestInfo, u User) {
	res := s.resources[info.typ]
	gr := res.gr()
	// Requests are counted under kube-apiserver's verb for these.
	info.verb = "connect"
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		s.writeError(w, r, methodNotSupported(info, r.Method), gr, info.name)
		return
	}
	if err := authorizeStream(u, info); err != nil {
		s.writeError(w, r, err, gr, info.name)
		return
	}
	sr, err := parseStreamRequest(info.subresource, r.URL.Query())
	if err != nil {
		s.writeError(w, r, err, gr, info.name)
		return
	}
	pod, err := s.getPod(r.Context(), res, info.namespace, info.name)
	if err != nil {
		s.writeError(w, r, err, gr, info.name)
		return
	}
	container := ""
	if sr.subresource != "portforward" {
		if container, err = chooseContainer(pod, sr.container); err != nil {
			s.writeError(w, r, err, gr, info.name)
			return
		}
	}
	if pod.Spec.NodeName == "" {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name)), gr, info.name)
		return
	}
	base, err := s.nodeURL(r.Context(), pod.Spec.NodeName)
	if err != nil {
		s.writeError(w, r, err, gr, info.name)
		return
	}
	target := agentStreamURL(base, sr, pod, container)
	s.log.Info("stream", "subresource", sr.subresource, "pod", pod.Namespace+"/"+pod.Name, "container", container,
		"node", pod.Spec.NodeName, "user", u.Name, "upgrade", r.Header.Get("Upgrade"))
	p := &streamProxy{tls: s.nodeTLSConfig(), log: s.log}
	if err := p.serve(w, r, target, sr); err != nil {
		// Nothing was written yet: the agent could not be reached.
		s.writeError(w, r, apierrors.NewServiceUnavailable(fmt.Sprintf("cannot reach the node agent of %s: %v", pod.Spec.NodeName, err)), gr, info.name)
	}
}

// getPod reads a pod from storage.
func (s *Server) getPod(ctx context.Context, res *resource, ns, name string) (*corev1.Pod, error) {
	raw, rev, err := s.store.Get(ctx, res.key(ns, name))
	if err != nil {
		return nil, toStatusError(err, res.gr(), name)
	}
	obj, err := res.cache.Entry(res.key(ns, name), rev, raw).Object()
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Pod), nil
}
