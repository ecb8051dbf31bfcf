package servicealloc

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
)

// The answers to requested values and family settings, with upstream's
// messages.
func TestCreate(t *testing.T) {
	e := startEtcd(t)
	a := newAllocator(t, e.Client(), "10.96.0.0/24", "30000-30099", nil)
	ctx := context.Background()
	// What earlier services hold: 10.96.0.5, node port 30005.
	holder := service("holder", corev1.ServiceTypeNodePort, 80)
	holder.Spec.ClusterIP, holder.Spec.ClusterIPs = "10.96.0.5", []string{"10.96.0.5"}
	holder.Spec.Ports[0].NodePort = 30005
	if _, err := a.Create(ctx, holder, false); err != nil {
		t.Fatal(err)
	}

	type check func(t *testing.T, svc *corev1.Service)
	cases := []struct {
		name    string
		svc     func() *corev1.Service
		wantErr string // the Status message; "" for success
		code    int32
		check   check
	}{{
		name: "requested free IP",
		svc: func() *corev1.Service {
			s := service("a", corev1.ServiceTypeClusterIP, 80)
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.6", []string{"10.96.0.6"}
			return s
		},
		check: func(t *testing.T, s *corev1.Service) {
			if s.Spec.ClusterIP != "10.96.0.6" || !slices.Equal(s.Spec.IPFamilies, []corev1.IPFamily{corev1.IPv4Protocol}) {
				t.Errorf("got %s %v", s.Spec.ClusterIP, s.Spec.IPFamilies)
			}
		},
	}, {
		name: "requested taken IP",
		svc: func() *corev1.Service {
			s := service("b", corev1.ServiceTypeClusterIP, 80)
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.5", []string{"10.96.0.5"}
			return s
		},
		code:    422,
		wantErr: `Service "b" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.5"]: failed to allocate IP 10.96.0.5: provided IP is already allocated`,
	}, {
		name: "requested IP out of range",
		svc: func() *corev1.Service {
			s := service("c", corev1.ServiceTypeClusterIP, 80)
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.1.5", []string{"10.96.1.5"}
			return s
		},
		code:    422,
		wantErr: `Service "c" is invalid: spec.clusterIPs: Invalid value: ["10.96.1.5"]: failed to allocate IP 10.96.1.5: the provided IP (10.96.1.5) is not in the valid range. The range of valid IPs is 10.96.0.0/24`,
	}, {
		name: "the broadcast address is not a cluster IP",
		svc: func() *corev1.Service {
			s := service("c2", corev1.ServiceTypeClusterIP, 80)
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.255", []string{"10.96.0.255"}
			return s
		},
		code:    422,
		wantErr: `failed to allocate IP 10.96.0.255: the provided IP (10.96.0.255) is not in the valid range`,
	}, {
		name: "requested taken node port",
		svc: func() *corev1.Service {
			s := service("d", corev1.ServiceTypeNodePort, 80)
			s.Spec.Ports[0].NodePort = 30005
			return s
		},
		code:    422,
		wantErr: `Service "d" is invalid: spec.ports[0].nodePort: Invalid value: 30005: provided port is already allocated`,
	}, {
		name: "requested node port out of range",
		svc: func() *corev1.Service {
			s := service("e", corev1.ServiceTypeNodePort, 80, 81)
			s.Spec.Ports[1].NodePort = 8080
			return s
		},
		code:    422,
		wantErr: `Service "e" is invalid: spec.ports[1].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-30099`,
	}, {
		name: "same port number over TCP and UDP shares one node port",
		svc: func() *corev1.Service {
			s := service("dns", corev1.ServiceTypeNodePort, 53, 53, 54)
			s.Spec.Ports[1].Protocol = corev1.ProtocolUDP
			return s
		},
		check: func(t *testing.T, s *corev1.Service) {
			p := s.Spec.Ports
			if p[0].NodePort == 0 || p[0].NodePort != p[1].NodePort || p[2].NodePort == p[0].NodePort || p[2].NodePort == 0 {
				t.Errorf("node ports %d %d %d", p[0].NodePort, p[1].NodePort, p[2].NodePort)
			}
		},
	}, {
		name: "LoadBalancer gets node ports",
		svc:  func() *corev1.Service { return service("lb", corev1.ServiceTypeLoadBalancer, 80) },
		check: func(t *testing.T, s *corev1.Service) {
			if s.Spec.Ports[0].NodePort == 0 || s.Spec.ClusterIP == "" || s.Spec.HealthCheckNodePort != 0 {
				t.Errorf("ports %v clusterIP %q hc %d", s.Spec.Ports, s.Spec.ClusterIP, s.Spec.HealthCheckNodePort)
			}
		},
	}, {
		name: "LoadBalancer without node ports keeps requested ones only",
		svc: func() *corev1.Service {
			s := service("lb2", corev1.ServiceTypeLoadBalancer, 80, 81)
			s.Spec.AllocateLoadBalancerNodePorts = ptr.To(false)
			// In the lower band, which dynamic allocations (the other
			// cases') leave alone while the upper band has room.
			s.Spec.Ports[1].NodePort = 30007
			return s
		},
		check: func(t *testing.T, s *corev1.Service) {
			if s.Spec.Ports[0].NodePort != 0 || s.Spec.Ports[1].NodePort != 30007 {
				t.Errorf("ports %v", s.Spec.Ports)
			}
		},
	}, {
		name: "LoadBalancer with Local traffic gets a health-check node port",
		svc: func() *corev1.Service {
			s := service("lb3", corev1.ServiceTypeLoadBalancer, 80)
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			return s
		},
		check: func(t *testing.T, s *corev1.Service) {
			hc := s.Spec.HealthCheckNodePort
			if hc < 30000 || hc > 30099 || hc == s.Spec.Ports[0].NodePort {
				t.Errorf("health-check node port %d, node port %d", hc, s.Spec.Ports[0].NodePort)
			}
		},
	}, {
		name: "a taken health-check node port is an internal error, as upstream",
		svc: func() *corev1.Service {
			s := service("lb4", corev1.ServiceTypeLoadBalancer, 80)
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			s.Spec.HealthCheckNodePort = 30005
			return s
		},
		code:    500,
		wantErr: "Internal error occurred: failed to allocate requested HealthCheck NodePort 30005: provided port is already allocated",
	}, {
		name: "headless gets no IP",
		svc: func() *corev1.Service {
			s := service("headless", corev1.ServiceTypeClusterIP, 80)
			s.Spec.ClusterIP, s.Spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}
			return s
		},
		check: func(t *testing.T, s *corev1.Service) {
			if s.Spec.ClusterIP != corev1.ClusterIPNone || !slices.Equal(s.Spec.IPFamilies, []corev1.IPFamily{corev1.IPv4Protocol}) {
				t.Errorf("%q %v", s.Spec.ClusterIP, s.Spec.IPFamilies)
			}
		},
	}, {
		name: "headless without a selector may name both families",
		svc: func() *corev1.Service {
			s := service("headless2", corev1.ServiceTypeClusterIP, 80)
			s.Spec.Selector = nil
			s.Spec.ClusterIP, s.Spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}
			s.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyRequireDualStack)
			return s
		},
		check: func(t *testing.T, s *corev1.Service) {
			if !slices.Equal(s.Spec.IPFamilies, []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}) {
				t.Errorf("families %v", s.Spec.IPFamilies)
			}
		},
	}, {
		name: "ExternalName gets nothing",
		svc: func() *corev1.Service {
			s := service("ext", corev1.ServiceTypeExternalName, 80)
			s.Spec.ExternalName, s.Spec.IPFamilyPolicy = "example.com", nil
			return s
		},
		check: func(t *testing.T, s *corev1.Service) {
			if s.Spec.ClusterIP != "" || len(s.Spec.IPFamilies) != 0 || s.Spec.IPFamilyPolicy != nil {
				t.Errorf("%+v", s.Spec)
			}
		},
	}, {
		name: "dual-stack is not configured",
		svc: func() *corev1.Service {
			s := service("ds", corev1.ServiceTypeClusterIP, 80)
			s.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyRequireDualStack)
			return s
		},
		code:    422,
		wantErr: `Service "ds" is invalid: spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services`,
	}, {
		name: "PreferDualStack gets IPv4 only",
		svc: func() *corev1.Service {
			s := service("pds", corev1.ServiceTypeClusterIP, 80)
			s.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicyPreferDualStack)
			return s
		},
		check: func(t *testing.T, s *corev1.Service) {
			if !slices.Equal(s.Spec.IPFamilies, []corev1.IPFamily{corev1.IPv4Protocol}) || len(s.Spec.ClusterIPs) != 1 {
				t.Errorf("%v %v", s.Spec.IPFamilies, s.Spec.ClusterIPs)
			}
		},
	}, {
		name: "IPv6 is not configured",
		svc: func() *corev1.Service {
			s := service("v6", corev1.ServiceTypeClusterIP, 80)
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
			return s
		},
		code:    422,
		wantErr: `Service "v6" is invalid: spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster`,
	}, {
		name: "an IPv6 cluster IP is not configured",
		svc: func() *corev1.Service {
			s := service("v6ip", corev1.ServiceTypeClusterIP, 80)
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "fd00::1", []string{"fd00::1"}
			return s
		},
		code:    422,
		wantErr: `Service "v6ip" is invalid: spec.clusterIPs[0]: Invalid value: ["fd00::1"]: IPv6 is not configured on this cluster`,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(keys(t, a, a.ips)) + len(keys(t, a, a.nodePorts))
			svc := c.svc()
			ch, err := a.Create(ctx, svc, false)
			if c.wantErr != "" {
				var se *apierrors.StatusError
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errorsAs(err, &se) || se.ErrStatus.Code != c.code {
					t.Fatalf("error %v, want %d %q", err, c.code, c.wantErr)
				}
				if after := len(keys(t, a, a.ips)) + len(keys(t, a, a.nodePorts)); after != before {
					t.Errorf("a refused create left %d reservations behind", after-before)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ch.Finish(ctx, true)
			c.check(t, svc)
		})
	}
}

// A write that fails gives back what was reserved for it; a dry run
// reserves nothing.
func TestFinishAndDryRun(t *testing.T) {
	e := startEtcd(t)
	a := newAllocator(t, e.Client(), "10.96.0.0/24", "30000-30099", nil)
	ctx := context.Background()
	svc := service("web", corev1.ServiceTypeNodePort, 80)
	c, err := a.Create(ctx, svc, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys(t, a, a.ips)) != 1 || len(keys(t, a, a.nodePorts)) != 1 {
		t.Fatal("not reserved")
	}
	c.Finish(ctx, false)
	if len(keys(t, a, a.ips)) != 0 || len(keys(t, a, a.nodePorts)) != 0 {
		t.Fatal("a failed write kept its reservations")
	}

	dry := service("dry", corev1.ServiceTypeNodePort, 80)
	c, err = a.Create(ctx, dry, true)
	if err != nil {
		t.Fatal(err)
	}
	c.Finish(ctx, true)
	if dry.Spec.ClusterIP == "" || dry.Spec.Ports[0].NodePort == 0 {
		t.Fatalf("dry run allocated nothing: %+v", dry.Spec)
	}
	if len(keys(t, a, a.ips)) != 0 || len(keys(t, a, a.nodePorts)) != 0 {
		t.Fatal("a dry run reserved")
	}
	// A dry run still refuses a taken value.
	held := service("held", corev1.ServiceTypeClusterIP, 80)
	held.Spec.ClusterIP, held.Spec.ClusterIPs = "10.96.0.9", []string{"10.96.0.9"}
	if _, err := a.Create(ctx, held, false); err != nil {
		t.Fatal(err)
	}
	again := service("again", corev1.ServiceTypeClusterIP, 80)
	again.Spec.ClusterIP, again.Spec.ClusterIPs = "10.96.0.9", []string{"10.96.0.9"}
	if _, err := a.Create(ctx, again, true); !apierrors.IsInvalid(err) {
		t.Fatalf("dry run of a taken IP: %v", err)
	}
}

func TestUpdate(t *testing.T) {
	e := startEtcd(t)
	a := newAllocator(t, e.Client(), "10.96.0.0/24", "30000-30099", nil)
	ctx := context.Background()
	create := func(svc *corev1.Service) *corev1.Service {
		t.Helper()
		c, err := a.Create(ctx, svc, false)
		if err != nil {
			t.Fatal(err)
		}
		c.Finish(ctx, true)
		return svc
	}
	update := func(svc, old *corev1.Service) *Change {
		t.Helper()
		c, err := a.Update(ctx, svc, old, false)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ports := func() []string {
		var out []string
		for k := range keys(t, a, a.nodePorts) {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	itoa := func(p int32) string { return strconvItoa(int(p)) }

	// NodePort → ClusterIP: the node ports go once the update is stored,
	// not before (a failed write keeps them).
	old := create(service("web", corev1.ServiceTypeNodePort, 80))
	np := old.Spec.Ports[0].NodePort
	next := old.DeepCopy()
	next.Spec.Type, next.Spec.Ports[0].NodePort, next.Spec.ExternalTrafficPolicy = corev1.ServiceTypeClusterIP, 0, ""
	c := update(next, old)
	c.Finish(ctx, false)
	if !slices.Equal(ports(), []string{itoa(np)}) {
		t.Fatalf("failed update freed the node port: %v", ports())
	}
	c = update(next, old)
	c.Finish(ctx, true)
	if len(ports()) != 0 {
		t.Fatalf("NodePort→ClusterIP kept %v", ports())
	}

	// ClusterIP → NodePort with a port added: each port gets one; the
	// kept port keeps its node port on re-apply.
	old = next
	next = old.DeepCopy()
	next.Spec.Type, next.Spec.ExternalTrafficPolicy = corev1.ServiceTypeNodePort, corev1.ServiceExternalTrafficPolicyCluster
	update(next, old).Finish(ctx, true)
	first := next.Spec.Ports[0].NodePort
	old = next
	next = old.DeepCopy()
	next.Spec.Ports = append(next.Spec.Ports, corev1.ServicePort{Name: "p1", Port: 81, Protocol: corev1.ProtocolTCP})
	update(next, old).Finish(ctx, true)
	if next.Spec.Ports[0].NodePort != first || next.Spec.Ports[1].NodePort == 0 || next.Spec.Ports[1].NodePort == first {
		t.Fatalf("ports after adding one: %v", next.Spec.Ports)
	}
	if len(ports()) != 2 {
		t.Fatalf("reserved %v", ports())
	}
	// Removing a port frees its node port; changing one frees the old.
	old = next
	next = old.DeepCopy()
	next.Spec.Ports = next.Spec.Ports[:1]
	next.Spec.Ports[0].NodePort = 30099
	update(next, old).Finish(ctx, true)
	if !slices.Equal(ports(), []string{"30099"}) {
		t.Fatalf("reserved %v", ports())
	}
	// A node port another Service holds is refused.
	other := create(service("other", corev1.ServiceTypeNodePort, 80))
	old = next
	next = old.DeepCopy()
	next.Spec.Ports[0].NodePort = other.Spec.Ports[0].NodePort
	if _, err := a.Update(ctx, next, old, false); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "provided port is already allocated") {
		t.Fatalf("taking another's node port: %v", err)
	}

	// → ExternalName frees the IP; back to ClusterIP gets a new one.
	ip := old.Spec.ClusterIP
	next = old.DeepCopy()
	next.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com",
		Ports: []corev1.ServicePort{{Name: "p0", Port: 80, Protocol: corev1.ProtocolTCP}}}
	update(next, old).Finish(ctx, true)
	if _, held := keys(t, a, a.ips)[ip]; held {
		t.Fatalf("ExternalName kept %s", ip)
	}
	if slices.Contains(ports(), "30099") {
		t.Fatalf("ExternalName kept its node port: %v", ports())
	}
	old = next
	next = old.DeepCopy()
	next.Spec.Type, next.Spec.ExternalName = corev1.ServiceTypeClusterIP, ""
	update(next, old).Finish(ctx, true)
	if next.Spec.ClusterIP == "" || keys(t, a, a.ips)[next.Spec.ClusterIP] != "web" {
		t.Fatalf("ExternalName→ClusterIP: %q %v", next.Spec.ClusterIP, keys(t, a, a.ips))
	}

	// LoadBalancer Local → Cluster frees the health-check node port.
	lb := service("lb", corev1.ServiceTypeLoadBalancer, 80)
	lb.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	create(lb)
	hc := lb.Spec.HealthCheckNodePort
	next = lb.DeepCopy()
	next.Spec.ExternalTrafficPolicy, next.Spec.HealthCheckNodePort = corev1.ServiceExternalTrafficPolicyCluster, 0
	update(next, lb).Finish(ctx, true)
	if _, held := keys(t, a, a.nodePorts)[itoa(hc)]; held {
		t.Fatalf("health-check node port %d kept", hc)
	}
}
