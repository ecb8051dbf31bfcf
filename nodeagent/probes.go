package nodeagent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiff-dev/skiff/nodeagent/prober"
	"github.com/skiff-dev/skiff/nodeagent/runtime"
)

// trackPod remembers which pod a UID names, to turn probe updates (keyed
// by UID) into pod syncs.
func (a *Agent) trackPod(pod *corev1.Pod) {
	a.mu.Lock()
	a.podKeys[pod.UID] = pod.Namespace + "/" + pod.Name
	a.mu.Unlock()
}

func (a *Agent) keyOf(uid types.UID) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k, ok := a.podKeys[uid]
	return k, ok
}

// probeView adapts the prober to what podstate asks about a pod.
type probeView struct {
	m   *prober.Manager
	uid types.UID
}

func (a *Agent) probeView(uid types.UID) probeView { return probeView{m: a.prober, uid: uid} }

func (p probeView) LivenessFailed(container, id string) (bool, string) {
	r, ok := p.m.NeedsRestart(p.uid, container, id)
	if !ok {
		return false, ""
	}
	return true, r.Message
}

// Started: a container without a startup probe is started once running.
func (p probeView) Started(container, id string) bool {
	started, known := p.m.Started(p.uid, container, id)
	return !known || started
}

// Ready: a container without a readiness probe is ready once started.
func (p probeView) Ready(container, id string) bool {
	ready, known := p.m.Ready(p.uid, container, id)
	return !known || ready
}

// syncProbes tells the prober which containers of the pod run now.
func (a *Agent) syncProbes(pod *corev1.Pod, instances []runtime.Container) {
	running := map[string]prober.ContainerInfo{}
	podIP := ""
	for _, c := range instances {
		if c.State != runtime.StateRunning {
			continue
		}
		if c.Labels[runtime.LabelKind] == runtime.KindSandbox {
			podIP = c.IP
			continue
		}
		running[c.Labels[runtime.LabelContainer]] = prober.ContainerInfo{ID: c.ID, StartedAt: c.StartedAt}
	}
	if pod.Spec.HostNetwork {
		podIP = a.opts.NodeIP
	}
	a.prober.Sync(pod, podIP, running)
}

// runHTTPHook performs an httpGet lifecycle hook against the pod.
func (a *Agent) runHTTPHook(ctx context.Context, pod *corev1.Pod, h *corev1.HTTPGetAction) {
	host := h.Host
	if host == "" {
		host = pod.Status.PodIP
	}
	port := h.Port.IntValue()
	if h.Port.Type == intstr.String {
		for _, c := range pod.Spec.Containers {
			for _, p := range c.Ports {
				if p.Name == h.Port.StrVal {
					port = int(p.ContainerPort)
				}
			}
		}
	}
	scheme := "http"
	if h.Scheme == corev1.URISchemeHTTPS {
		scheme = "https"
	}
	url := fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host, strconv.Itoa(port)), h.Path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return
	}
	for _, hd := range h.HTTPHeaders {
		req.Header.Add(hd.Name, hd.Value)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		a.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedPreStopHook", "HTTP lifecycle hook (%s) for Container in Pod %q failed - error: %v", h.Path, pod.Name, err)
		return
	}
	resp.Body.Close()
}
