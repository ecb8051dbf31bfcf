package dns

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestParseResolvConf(t *testing.T) {
	in := `# generated
nameserver 10.0.0.2
nameserver 127.0.0.53
; a comment
search old.example
search corp.example. . lab.example
options rotate
options ndots:2 timeout:1
domain ignored.example
nameserver fd00::53
`
	rc, err := ParseResolvConf(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := ResolvConf{
		Nameservers: []string{"10.0.0.2", "127.0.0.53", "fd00::53"},
		Searches:    []string{"corp.example", "lab.example"},
		Options:     []string{"ndots:2", "timeout:1"},
	}
	if fmt.Sprint(rc) != fmt.Sprint(want) {
		t.Fatalf("got %+v\nwant %+v", rc, want)
	}
	if _, err := ParseResolvConf(strings.NewReader("nameserver\n")); err == nil {
		t.Fatal("a nameserver line without an address must be an error")
	}
	path := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(path, []byte(want.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResolvConf(path)
	if err != nil || fmt.Sprint(back) != fmt.Sprint(want) {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}

func TestPodResolvConf(t *testing.T) {
	host := ResolvConf{Nameservers: []string{"10.0.0.2", "10.0.0.3"}, Searches: []string{"corp.example"}, Options: []string{"timeout:2"}}
	cluster := PodDNSInputs{Domain: "cluster.local", Servers: []string{"10.42.0.1"}, Host: host}
	mkpod := func(mut func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "u1"}}
		if mut != nil {
			mut(p)
		}
		return p
	}
	policy := func(p corev1.DNSPolicy) func(*corev1.Pod) { return func(pod *corev1.Pod) { pod.Spec.DNSPolicy = p } }
	hostNet := func(p corev1.DNSPolicy) func(*corev1.Pod) {
		return func(pod *corev1.Pod) { pod.Spec.DNSPolicy, pod.Spec.HostNetwork = p, true }
	}
	clusterFirst := ResolvConf{
		Nameservers: []string{"10.42.0.1"},
		Searches:    []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"},
		Options:     []string{"ndots:5"},
	}
	tests := []struct {
		name   string
		pod    *corev1.Pod
		in     PodDNSInputs
		want   ResolvConf
		events []string // "reason" or "node:reason"
	}{
		{name: "default policy is ClusterFirst", pod: mkpod(nil), in: cluster, want: clusterFirst},
		{name: "ClusterFirst", pod: mkpod(policy(corev1.DNSClusterFirst)), in: cluster, want: clusterFirst},
		{name: "ClusterFirst on the host network is Default", pod: mkpod(hostNet(corev1.DNSClusterFirst)), in: cluster, want: host},
		{name: "ClusterFirstWithHostNet", pod: mkpod(hostNet(corev1.DNSClusterFirstWithHostNet)), in: cluster, want: clusterFirst},
		{name: "ClusterFirstWithHostNet off the host network", pod: mkpod(policy(corev1.DNSClusterFirstWithHostNet)), in: cluster, want: clusterFirst},
		{name: "Default", pod: mkpod(policy(corev1.DNSDefault)), in: cluster, want: host},
		{name: "None without dnsConfig", pod: mkpod(policy(corev1.DNSNone)), in: cluster, want: ResolvConf{}},
		{name: "None with dnsConfig", pod: mkpod(func(p *corev1.Pod) {
			p.Spec.DNSPolicy = corev1.DNSNone
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"a.example"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("1")}}}
		}), in: cluster, want: ResolvConf{Nameservers: []string{"1.1.1.1"}, Searches: []string{"a.example"}, Options: []string{"ndots:1"}}},
		{name: "dnsConfig merges: appended, deduplicated, options overridden by name", pod: mkpod(func(p *corev1.Pod) {
			p.Spec.DNSConfig = &corev1.PodDNSConfig{
				Nameservers: []string{"10.42.0.1", "1.1.1.1"},
				Searches:    []string{"svc.cluster.local", "extra.example"},
				Options:     []corev1.PodDNSConfigOption{{Name: "ndots", Value: ptr.To("2")}, {Name: "edns0"}},
			}
		}), in: cluster, want: ResolvConf{
			Nameservers: []string{"10.42.0.1", "1.1.1.1"},
			Searches:    []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example", "extra.example"},
			Options:     []string{"ndots:2", "edns0"},
		}},
		{name: "without cluster DNS ClusterFirst falls back to Default", pod: mkpod(nil),
			in: PodDNSInputs{Domain: "cluster.local", Host: host}, want: host,
			events: []string{"node:MissingClusterDNS", "MissingClusterDNS"}},
		{name: "Default leaves out loopback resolvers pods cannot reach", pod: mkpod(policy(corev1.DNSDefault)),
			in:   PodDNSInputs{Domain: "cluster.local", Servers: []string{"10.42.0.1"}, Host: ResolvConf{Nameservers: []string{"127.0.0.53", "10.0.0.2"}}},
			want: ResolvConf{Nameservers: []string{"10.0.0.2"}}},
		{name: "Default with only loopback resolvers goes through cluster DNS", pod: mkpod(policy(corev1.DNSDefault)),
			in:   PodDNSInputs{Domain: "cluster.local", Servers: []string{"10.42.0.1"}, Host: ResolvConf{Nameservers: []string{"127.0.0.53"}, Searches: []string{"lan"}}},
			want: ResolvConf{Nameservers: []string{"10.42.0.1"}, Searches: []string{"lan"}}},
		{name: "a host-network pod keeps loopback resolvers", pod: mkpod(hostNet(corev1.DNSDefault)),
			in:   PodDNSInputs{Domain: "cluster.local", Servers: []string{"10.42.0.1"}, Host: ResolvConf{Nameservers: []string{"127.0.0.53"}}},
			want: ResolvConf{Nameservers: []string{"127.0.0.53"}}},
		{name: "more than three name servers are cut", pod: mkpod(func(p *corev1.Pod) {
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "8.8.8.8", "9.9.9.9"}}
		}), in: cluster, want: ResolvConf{Nameservers: []string{"10.42.0.1", "1.1.1.1", "8.8.8.8"}, Searches: clusterFirst.Searches, Options: clusterFirst.Options},
			events: []string{"DNSConfigForming"}},
		{name: "custom cluster domain", pod: mkpod(nil), in: PodDNSInputs{Domain: "corp.internal.", Servers: []string{"10.42.0.1"}},
			want: ResolvConf{Nameservers: []string{"10.42.0.1"}, Searches: []string{"shop.svc.corp.internal", "svc.corp.internal", "corp.internal"}, Options: []string{"ndots:5"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, events := PodResolvConf(tt.pod, tt.in)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
			var reasons []string
			for _, e := range events {
				if e.OnNode {
					reasons = append(reasons, "node:"+e.Reason)
				} else {
					reasons = append(reasons, e.Reason)
				}
			}
			if !slices.Equal(reasons, tt.events) {
				t.Fatalf("events %q (%+v), want %q", reasons, events, tt.events)
			}
		})
	}
}

// The kubelet's search line limits: 32 domains, none over 253
// characters, 2,048 characters in all; what is cut is reported.
func TestPodResolvConfSearchLimits(t *testing.T) {
	cluster := PodDNSInputs{Domain: "cluster.local", Servers: []string{"10.42.0.1"}}
	withSearches := func(s []string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}, Spec: corev1.PodSpec{DNSConfig: &corev1.PodDNSConfig{Searches: s}}}
	}
	var many []string
	for i := range 40 {
		many = append(many, fmt.Sprintf("d%d.example", i))
	}
	rc, events := PodResolvConf(withSearches(many), cluster)
	if len(rc.Searches) != MaxSearchDomains || rc.Searches[0] != "ns.svc.cluster.local" || rc.Searches[31] != "d28.example" {
		t.Fatalf("32 domains: got %d: %v", len(rc.Searches), rc.Searches)
	}
	if len(events) != 1 || events[0].Reason != "DNSConfigForming" || !strings.Contains(events[0].Message, "the applied search line is: ns.svc.cluster.local") {
		t.Fatalf("events %+v", events)
	}

	long := strings.Repeat("a", 254)
	rc, events = PodResolvConf(withSearches([]string{long, "ok.example"}), cluster)
	if slices.Contains(rc.Searches, long) || !slices.Contains(rc.Searches, "ok.example") || len(events) != 1 {
		t.Fatalf("overlong domain: %v %+v", rc.Searches, events)
	}

	var wide []string
	for i := range 12 {
		wide = append(wide, fmt.Sprintf("%03d.%s", i, strings.Repeat("b", 200)))
	}
	rc, events = PodResolvConf(withSearches(wide), cluster)
	if n := len(strings.Join(rc.Searches, " ")); n > MaxSearchLineChars || len(events) != 1 {
		t.Fatalf("search line of %d characters, events %+v", n, events)
	}
	if last := rc.Searches[len(rc.Searches)-1]; !strings.HasPrefix(last, "008.") {
		t.Fatalf("the line must be cut from the end, keeping what fits: last kept %q", last[:8])
	}

	rc, events = PodResolvConf(withSearches([]string{"fine.example"}), cluster)
	if len(events) != 0 || len(rc.Searches) != 4 {
		t.Fatalf("within limits: %v %+v", rc.Searches, events)
	}
}
