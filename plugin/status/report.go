package status

import "fmt"

// State is the health of one line of the report.
type State string

// States, from good to bad.
const (
	OK      State = "ok"
	Warning State = "warning"
	Failed  State = "failed"
)

// Check is one control-plane component.
type Check struct {
	Name   string `json:"name"`
	State  State  `json:"state"`
	Detail string `json:"detail"`
}

// Node is one node's line.
type Node struct {
	Name     string `json:"name"`
	Status   string `json:"status"`
	Roles    string `json:"roles"`
	Pods     int    `json:"pods"`
	Capacity int64  `json:"podCapacity"`
	Age      string `json:"age"`
	State    State  `json:"state"`
}

// Source is one GitRepository or Kustomization.
type Source struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Revision  string `json:"revision"`
	Ready     string `json:"ready"`
	Message   string `json:"message"`
	Suspended bool   `json:"suspended"`
	State     State  `json:"state"`
}

// Report is everything status prints.
type Report struct {
	Server       string   `json:"server"`
	ControlPlane []Check  `json:"controlPlane"`
	Nodes        []Node   `json:"nodes"`
	Sources      []Source `json:"sources"`
	Problems     []string `json:"problems"`
}

// Healthy reports whether nothing failed; warnings do not count.
func (r *Report) Healthy() bool { return len(r.Problems) == 0 }

// collectProblems lists every failed line, in the order printed.
func (r *Report) collectProblems() {
	r.Problems = nil
	for _, c := range r.ControlPlane {
		if c.State == Failed {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: %s", c.Name, c.Detail))
		}
	}
	for _, n := range r.Nodes {
		if n.State == Failed {
			r.Problems = append(r.Problems, fmt.Sprintf("node %s is %s", n.Name, n.Status))
		}
	}
	for _, s := range r.Sources {
		if s.State == Failed {
			r.Problems = append(r.Problems, fmt.Sprintf("%s %s/%s is not Ready: %s", s.Kind, s.Namespace, s.Name, s.Message))
		}
	}
}

// ErrUnhealthy is returned (wrapped) when the report has problems, so
// the command exits non-zero.
type ErrUnhealthy struct{ Problems []string }

func (e *ErrUnhealthy) Error() string {
	if len(e.Problems) == 1 {
		return "unhealthy: " + e.Problems[0]
	}
	return fmt.Sprintf("unhealthy: %d problems", len(e.Problems))
}
