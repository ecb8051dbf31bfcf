package tables

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Cell placeholders, as Kubernetes prints them.
const (
	none    = "<none>"
	unknown = "<unknown>"
	unset   = "<unset>"
)

// Columns that most kinds share, described as Kubernetes describes them.

func nameColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]}
}

func ageColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Age", Type: "string", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]}
}

func containersColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Containers", Type: "string", Priority: 1, Description: "Names of each container in the template."}
}

func imagesColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Images", Type: "string", Priority: 1, Description: "Images referenced by each container in the template."}
}

// since is the age of a timestamp at now, "<unknown>" when it is unset.
func since(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return unknown
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// sinceMicro is since for a MicroTime.
func sinceMicro(t metav1.MicroTime, now time.Time) string {
	if t.IsZero() {
		return unknown
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// containerCells lays out the names and the images of containers, comma
// separated, for the CONTAINERS and IMAGES columns.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	im := make([]string, len(containers))
	for i := range containers {
		n[i] = containers[i].Name
		im[i] = containers[i].Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

// firstOf joins at most max items and counts the rest, the way Kubernetes
// shortens endpoint and port lists: "a,b,c + 2 more...".
type firstOf struct {
	max   int
	list  []string
	count int
}

func (f *firstOf) add(s string) {
	if len(f.list) < f.max {
		f.list = append(f.list, s)
	}
	f.count++
}

// String renders the list; empty is "" (the callers decide what empty says).
func (f *firstOf) String() string {
	s := strings.Join(f.list, ",")
	if f.count > f.max {
		return fmt.Sprintf("%s + %d more...", s, f.count-f.max)
	}
	return s
}

// boolPtr prints an optional boolean as Kubernetes does.
func boolPtr(b *bool) string {
	switch {
	case b == nil:
		return unset
	case *b:
		return "True"
	default:
		return "False"
	}
}

// loadBalancerAddresses is the sorted, de-duplicated set of the IPs (or,
// for an entry without one, the hostnames) of n load-balancer ingress
// points, Services' and Ingresses' alike.
func loadBalancerAddresses(n int, at func(i int) (ip, hostname string)) []string {
	seen := map[string]bool{}
	var out []string
	for i := 0; i < n; i++ {
		a, hostname := at(i)
		if a == "" {
			a = hostname
		}
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// replicasOr1 reads an optional replica count as the API server's defaulting
// would have set it.
func replicasOr1(r *int32) int64 {
	if r == nil {
		return 1
	}
	return int64(*r)
}
