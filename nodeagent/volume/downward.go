package volume

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// downwardFiles adds the downward API items to p.
func (m *Manager) downwardFiles(p payload, pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, defaultMode int32, defaultUser *int64) error {
	for _, it := range items {
		var value string
		var err error
		switch {
		case it.FieldRef != nil:
			value, err = m.podField(pod, it.FieldRef)
		case it.ResourceFieldRef != nil:
			value, err = m.resourceField(pod, it.ResourceFieldRef)
		default:
			err = errors.New("names neither fieldRef nor resourceFieldRef")
		}
		if err != nil {
			return fmt.Errorf("downwardAPI item %q: %w", it.Path, err)
		}
		user := defaultUser
		if it.User != nil {
			user = it.User
		}
		p[it.Path] = file{data: []byte(value), mode: fileMode(modeOr(it.Mode, defaultMode)), uid: uidOf(user), gid: -1}
	}
	return nil
}

// podField is the value of a pod field for the downward API. Volumes get
// the kubelet's volume fields plus the ones it offers only to env
// (spec.nodeName, status.podIP…): a superset costs nothing, and the API
// server decides what a pod may ask for.
func (m *Manager) podField(pod *corev1.Pod, ref *corev1.ObjectFieldSelector) (string, error) {
	if ref.APIVersion != "" && ref.APIVersion != "v1" {
		return "", fmt.Errorf("unsupported pod version: %s", ref.APIVersion)
	}
	if path, key, ok := subscript(ref.FieldPath); ok {
		switch path {
		case "metadata.labels":
			return pod.Labels[key], nil
		case "metadata.annotations":
			return pod.Annotations[key], nil
		}
		return "", fmt.Errorf("fieldPath %q does not support a subscript", ref.FieldPath)
	}
	switch ref.FieldPath {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		if pod.Spec.NodeName != "" {
			return pod.Spec.NodeName, nil
		}
		return m.opts.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP":
		if pod.Status.HostIP != "" {
			return pod.Status.HostIP, nil
		}
		return m.opts.HostIP(), nil
	case "status.hostIPs":
		var ips []string
		for _, ip := range pod.Status.HostIPs {
			ips = append(ips, ip.IP)
		}
		if len(ips) == 0 {
			return m.podField(pod, &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"})
		}
		return strings.Join(ips, ","), nil
	case "status.podIP":
		return pod.Status.PodIP, nil
	case "status.podIPs":
		var ips []string
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		if len(ips) == 0 {
			return pod.Status.PodIP, nil
		}
		return strings.Join(ips, ","), nil
	}
	return "", fmt.Errorf("unsupported fieldPath: %s", ref.FieldPath)
}

// subscript splits "metadata.labels['key']" into its path and key.
func subscript(fieldPath string) (path, key string, ok bool) {
	open := strings.Index(fieldPath, "['")
	if open < 0 || !strings.HasSuffix(fieldPath, "']") || open+2 > len(fieldPath)-2 {
		return "", "", false
	}
	return fieldPath[:open], fieldPath[open+2 : len(fieldPath)-2], true
}

// formatMap renders labels or annotations as the kubelet does: one
// key="value" line per entry, sorted by key, the value quoted as Go
// quotes strings, no newline after the last line.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + "=" + strconv.Quote(m[k])
	}
	return strings.Join(lines, "\n")
}

// resourceField is a container's limit or request for the downward API,
// divided by the divisor and rounded up. A limit the container does not
// set is the pod's limit, else the node's allocatable, as the kubelet
// reports it: what the container can at most use.
func (m *Manager) resourceField(pod *corev1.Pod, ref *corev1.ResourceFieldSelector) (string, error) {
	c := findContainer(pod, ref.ContainerName)
	if c == nil {
		return "", fmt.Errorf("container %q not found in the pod", ref.ContainerName)
	}
	limits := corev1.ResourceList{}
	for k, q := range c.Resources.Limits {
		limits[k] = q
	}
	var podLimits corev1.ResourceList
	if pod.Spec.Resources != nil {
		podLimits = pod.Spec.Resources.Limits
	}
	allocatable := m.opts.Allocatable()
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if q, ok := limits[name]; ok && !q.IsZero() {
			continue
		}
		if q, ok := podLimits[name]; ok && !q.IsZero() {
			limits[name] = q
		} else if q, ok := allocatable[name]; ok {
			limits[name] = q
		}
	}

	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	var q resource.Quantity
	name, isLimit := strings.CutPrefix(ref.Resource, "limits.")
	if isLimit {
		q = limits[corev1.ResourceName(name)]
	} else {
		var isRequest bool
		if name, isRequest = strings.CutPrefix(ref.Resource, "requests."); !isRequest {
			return "", fmt.Errorf("unsupported container resource: %s", ref.Resource)
		}
		q = c.Resources.Requests[corev1.ResourceName(name)]
	}
	switch {
	case name == string(corev1.ResourceCPU):
		return ceilDiv(q.MilliValue(), divisor.MilliValue())
	case name == string(corev1.ResourceMemory), name == string(corev1.ResourceEphemeralStorage),
		strings.HasPrefix(name, corev1.ResourceHugePagesPrefix):
		return ceilDiv(q.Value(), divisor.Value())
	}
	return "", fmt.Errorf("unsupported container resource: %s", ref.Resource)
}

// ceilDiv divides in integers: the kubelet's float division rounds the
// same way for every value a pod can carry, and integers are exact.
func ceilDiv(a, b int64) (string, error) {
	if b <= 0 {
		return "", fmt.Errorf("invalid divisor")
	}
	q := a / b
	if a%b > 0 {
		q++
	}
	return strconv.FormatInt(q, 10), nil
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}
