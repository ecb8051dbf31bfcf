package prober

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// portError is a probe port that cannot be resolved. Unlike the kubelet,
// which throws such a result away, Skiff counts it as a probe failure so
// that a typo in a port name shows up (and a liveness probe fires).
type portError struct{ msg string }

func (e *portError) Error() string { return e.msg }

// resolvePort turns a probe's port, a number or the name of one of the
// container's ports, into a port number.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	port := 0
	switch p.Type {
	case intstr.Int:
		port = int(p.IntVal)
	case intstr.String:
		found := false
		for _, cp := range c.Ports {
			if cp.Name == p.StrVal {
				port, found = int(cp.ContainerPort), true
				break
			}
		}
		if !found {
			// The kubelet's last resort: a number written as a string.
			n, err := strconv.Atoi(p.StrVal)
			if err != nil {
				return 0, &portError{fmt.Sprintf("port %q is not a port number nor the name of a port of container %q", p.StrVal, c.Name)}
			}
			port = n
		}
	default:
		return 0, &portError{fmt.Sprintf("port %v is neither a number nor a name", p)}
	}
	return checkPort(port)
}

func checkPort(port int) (int, error) {
	if port < 1 || port > 65535 {
		return 0, &portError{fmt.Sprintf("invalid port number: %d", port)}
	}
	return port, nil
}
