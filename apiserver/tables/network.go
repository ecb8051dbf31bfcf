package tables

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func endpointSlicePrinter() Printer {
	// Kubernetes describes these columns from the v1beta1 type.
	doc := discoveryv1beta1.EndpointSlice{}.SwaggerDoc()
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "AddressType", Type: "string", Description: doc["addressType"]},
			{Name: "Ports", Type: "string", Description: doc["ports"]},
			{Name: "Endpoints", Type: "string", Description: doc["endpoints"]},
			ageColumn(),
		},
		Row: typedRow(func(es *discoveryv1.EndpointSlice, now time.Time) ([]interface{}, error) {
			ports := firstOf{max: 3}
			for _, p := range es.Ports {
				switch {
				case p.Port != nil:
					ports.add(strconv.Itoa(int(*p.Port)))
				case p.Name != nil:
					ports.add(*p.Name)
				default:
					ports.add("*")
				}
			}
			addresses := firstOf{max: 3}
			for _, ep := range es.Endpoints {
				for _, a := range ep.Addresses {
					addresses.add(a)
				}
			}
			return []interface{}{
				es.Name,
				string(es.AddressType),
				cmp.Or(ports.String(), unset),
				cmp.Or(addresses.String(), unset),
				since(es.CreationTimestamp, now),
			}, nil
		}),
	}
}

func ingressPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "Class", Type: "string", Description: "The name of the IngressClass resource that should be used for additional configuration"},
			{Name: "Hosts", Type: "string", Description: "Hosts that incoming requests are matched against before the ingress rule"},
			{Name: "Address", Type: "string", Description: "Address is a list containing ingress points for the load-balancer"},
			{Name: "Ports", Type: "string", Description: "Ports of TLS configurations that open"},
			ageColumn(),
		},
		Row: typedRow(func(ing *networkingv1.Ingress, now time.Time) ([]interface{}, error) {
			class := none
			if ing.Spec.IngressClassName != nil {
				class = *ing.Spec.IngressClassName
			}
			// The API server prints wide, so the address list is never shortened.
			lb := ing.Status.LoadBalancer.Ingress
			ports := "80"
			if len(ing.Spec.TLS) > 0 {
				ports = "80, 443"
			}
			return []interface{}{
				ing.Name,
				class,
				ingressHosts(ing.Spec.Rules),
				strings.Join(loadBalancerAddresses(len(lb), func(i int) (string, string) { return lb[i].IP, lb[i].Hostname }), ","),
				ports,
				since(ing.CreationTimestamp, now),
			}, nil
		}),
	}
}

// ingressHosts lists the hosts of the first three rules that name one. The
// count of the rest is of rules, hosts or not, as Kubernetes counts it.
func ingressHosts(rules []networkingv1.IngressRule) string {
	const max = 3
	var hosts []string
	more := false
	for _, r := range rules {
		if len(hosts) == max {
			more = true
		}
		if !more && r.Host != "" {
			hosts = append(hosts, r.Host)
		}
	}
	if len(hosts) == 0 {
		return "*"
	}
	s := strings.Join(hosts, ",")
	if more {
		return fmt.Sprintf("%s + %d more...", s, len(rules)-max)
	}
	return s
}

func leasePrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "Holder", Type: "string", Description: coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]},
			ageColumn(),
		},
		Row: typedRow(func(l *coordinationv1.Lease, now time.Time) ([]interface{}, error) {
			holder := ""
			if l.Spec.HolderIdentity != nil {
				holder = *l.Spec.HolderIdentity
			}
			return []interface{}{l.Name, holder, since(l.CreationTimestamp, now)}, nil
		}),
	}
}
