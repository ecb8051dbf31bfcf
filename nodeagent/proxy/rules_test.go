package proxy

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testPrefix is the chain prefix of node "node-a", the node every golden
// case is rendered for.
const testNode = "node-a"

// testCluster is the cluster identity the test chains are named for.
const testCluster = "c0ffee123456"

func testParams() ruleParams {
	return ruleParams{Prefix: NodeChainPrefix(testCluster, testNode), ClusterCIDR: "10.42.0.0/16", ServiceCIDR: "10.96.0.0/16"}
}

// loadObjects decodes a multi-document YAML file of Services and
// EndpointSlices.
func loadObjects(t *testing.T, path string) ([]*corev1.Service, []*discoveryv1.EndpointSlice) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var svcs []*corev1.Service
	var eps []*discoveryv1.EndpointSlice
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var probe struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &probe); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		switch probe.Kind {
		case "Service":
			s := &corev1.Service{}
			if err := yaml.UnmarshalStrict([]byte(doc), s); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			svcs = append(svcs, s)
		case "EndpointSlice":
			s := &discoveryv1.EndpointSlice{}
			if err := yaml.UnmarshalStrict([]byte(doc), s); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			eps = append(eps, s)
		default:
			t.Fatalf("%s: unexpected kind %q", path, probe.Kind)
		}
	}
	return svcs, eps
}

func loadPorts(t *testing.T, name string) []servicePort {
	t.Helper()
	svcs, eps := loadObjects(t, filepath.Join("testdata", name+".yaml"))
	return buildServicePorts(svcs, eps, func(n string) bool { return n == testNode })
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update after checking the change):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestRulesGolden renders each testdata/*.yaml as the iptables-restore
// input of a first, full sync on a host without Skiff's rules.
func TestRulesGolden(t *testing.T) {
	for _, name := range []string{"clusterip", "nodeport", "no-endpoints", "affinity", "local-policy", "udp",
		"multiport", "terminating", "internal-local", "loadbalancer", "skipped"} {
		t.Run(name, func(t *testing.T) {
			rs := buildRuleset(testParams(), loadPorts(t, name))
			text, _ := fullRestore(rs, nil, jumpRules(testParams().Prefix))
			checkGolden(t, name+".golden", text)
			checkRuleset(t, rs)
		})
	}
}

// checkRuleset checks what must hold of any ruleset: names fit iptables,
// every jump goes to a chain of the ruleset or a built-in target, every
// chain is reached, rules belong to their chain.
func checkRuleset(t *testing.T, rs *Ruleset) {
	t.Helper()
	builtinTargets := map[string]bool{"ACCEPT": true, "DROP": true, "REJECT": true, "RETURN": true, "DNAT": true, "MARK": true, "MASQUERADE": true}
	for _, tb := range rs.Tables {
		defined := map[string]bool{}
		for _, c := range tb.Chains {
			if len(c.Name) > maxChainName {
				t.Errorf("chain %s is %d characters, over iptables' %d", c.Name, len(c.Name), maxChainName)
			}
			if defined[c.Name] {
				t.Errorf("chain %s twice", c.Name)
			}
			defined[c.Name] = true
		}
		used := map[string]bool{}
		for _, j := range jumpRules(testParams().Prefix) {
			if j.Table == tb.Name {
				used[j.target()] = true
			}
		}
		for _, c := range tb.Chains {
			for _, r := range c.Rules {
				if !strings.HasPrefix(r, "-A "+c.Name+" ") {
					t.Errorf("rule %q in chain %s", r, c.Name)
				}
				target := jumpTarget(r)
				if !defined[target] && !builtinTargets[target] {
					t.Errorf("rule %q jumps to unknown %s", r, target)
				}
				used[target] = true
			}
		}
		for _, c := range tb.Chains {
			// The fixed chains exist whether used or not; a service
			// or endpoint chain nobody jumps to is a leak.
			perService := strings.Contains(c.Name, "-SVC-") || strings.Contains(c.Name, "-SVL-") ||
				strings.Contains(c.Name, "-EXT-") && !strings.HasSuffix(c.Name, "-EXT-SERVICES") || strings.Contains(c.Name, "-SEP-")
			if perService && !used[c.Name] {
				t.Errorf("chain %s/%s is never jumped to", tb.Name, c.Name)
			}
		}
	}
}

func TestChainNamesFitAndDifferPerNode(t *testing.T) {
	a, b := chainNames{prefix: NodeChainPrefix(testCluster, "node-a")}, chainNames{prefix: NodeChainPrefix(testCluster, "node-b")}
	sp := servicePortName{Port: "a-very-long-port-name"}
	sp.Namespace, sp.Name = strings.Repeat("n", 63), strings.Repeat("s", 63)
	ep := endpoint{IP: "10.42.255.255", Port: 65535}
	for _, n := range []string{a.svc(sp), a.svl(sp), a.ext(sp), a.sep(sp, ep), a.extServices(), a.postrouting()} {
		if len(n) > maxChainName {
			t.Errorf("%s: %d characters", n, len(n))
		}
		if !strings.HasPrefix(n, ChainPrefix) {
			t.Errorf("%s lacks the prefix", n)
		}
	}
	if a.svc(sp) == b.svc(sp) || a.services() == b.services() {
		t.Error("two nodes share chain names")
	}
	udp := sp
	udp.Protocol = corev1.ProtocolUDP
	if a.svc(sp) == a.svc(udp) {
		t.Error("TCP and UDP ports share a chain")
	}
}

func TestProbabilitiesSplitEvenly(t *testing.T) {
	// Endpoint i of n takes 1/(n-i) of what is left: each gets 1/n.
	for n := 1; n <= 5; n++ {
		left := 1.0
		for i := 0; i < n; i++ {
			share := left / float64(n-i)
			if d := share - 1/float64(n); d > 1e-9 || d < -1e-9 {
				t.Errorf("n=%d endpoint %d gets %f", n, i, share)
			}
			left -= share
		}
	}
	if got := probability(3); got != "0.3333333333" {
		t.Errorf("probability(3) = %s", got)
	}
}

// TestParseSaveOfRealOutput reads iptables-save output as iptables-nft
// 1.8.9 prints it (quoting, counters, Docker's rules, another node's
// chains) and finds exactly this node's chains and jump rules, equal to
// the ones the proxy writes.
func TestParseSaveOfRealOutput(t *testing.T) {
	prefix := NodeChainPrefix(testCluster, testNode)
	var b strings.Builder
	b.WriteString("# Generated by iptables-save v1.8.9 (nf_tables) on Sat Nov 28 03:31:57 2026\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:DOCKER - [0:0]\n:DOCKER-USER - [0:0]\n")
	b.WriteString(":" + prefix + "-SERVICES - [0:0]\n:" + prefix + "-FORWARD - [0:0]\n:SKIFF-OTHER-SERVICES - [0:0]\n")
	for _, j := range jumpRules(prefix) {
		if j.Table == tableFilter {
			b.WriteString("-A " + j.Chain + " " + j.Spec + "\n")
		}
	}
	b.WriteString("-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"skiff service portals\" -j SKIFF-OTHER-SERVICES\n")
	b.WriteString("-A FORWARD -j DOCKER-USER\n-A DOCKER-USER -j RETURN\n")
	b.WriteString("-A " + prefix + "-SERVICES -d 10.96.0.41/32 -p udp -m comment --comment \"default/noslice has no endpoints\" -m udp --dport 53 -j REJECT --reject-with icmp-port-unreachable\n")
	b.WriteString("COMMIT\n# Completed on Sat Nov 28 03:31:57 2026\n*nat\n:PREROUTING ACCEPT [0:0]\n:" + prefix + "-SERVICES - [0:0]\n-A PREROUTING -m comment --comment \"skiff service portals\" -j " + prefix + "-SERVICES\nCOMMIT\n")

	ht := parseSave(tableFilter, []byte(b.String()), prefix)
	if len(ht.Chains) != 2 || !ht.Chains[prefix+"-SERVICES"] || !ht.Chains[prefix+"-FORWARD"] {
		t.Errorf("chains %v", ht.Chains)
	}
	var want []jumpRule
	for _, j := range jumpRules(prefix) {
		if j.Table == tableFilter {
			want = append(want, j)
		}
	}
	if fmt.Sprint(ht.Jumps) != fmt.Sprint(want) {
		t.Errorf("jumps\n got %v\nwant %v", ht.Jumps, want)
	}
	nat := parseSave(tableNAT, []byte(b.String()), prefix)
	if len(nat.Chains) != 1 || len(nat.Jumps) != 1 || nat.Jumps[0] != jumpRules(prefix)[0] {
		t.Errorf("nat: %+v", nat)
	}
	all := parseSave(tableFilter, []byte(b.String()), "SKIFF")
	if len(all.Chains) != 3 || len(all.Jumps) != len(want)+1 {
		t.Errorf("every node: %+v", all)
	}
}
