package status

import (
	"bufio"
	"bytes"
	"sort"
	"strconv"
	"strings"
)

// sample is one line of Prometheus' text format.
type sample struct {
	labels map[string]string
	value  float64
}

// metrics holds the samples of the gauges status reads, by name.
type metrics map[string][]sample

// parseMetrics reads the text exposition format, keeping only etcd's
// series: they are all status needs, and the rest can be large.
func parseMetrics(body []byte) metrics {
	m := metrics{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "etcd_") {
			continue
		}
		nameAndLabels, val, ok := cutLast(l, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		name, labels := nameAndLabels, map[string]string{}
		if i := strings.IndexByte(nameAndLabels, '{'); i >= 0 && strings.HasSuffix(nameAndLabels, "}") {
			name = nameAndLabels[:i]
			labels = parseLabels(nameAndLabels[i+1 : len(nameAndLabels)-1])
		}
		m[name] = append(m[name], sample{labels: labels, value: v})
	}
	return m
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// parseLabels reads a="x",b="y" (label values here hold no quotes or
// commas: member IDs and versions).
func parseLabels(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		out[strings.TrimSpace(k)] = v
	}
	return out
}

// value is the first sample of name whose labels include want.
func (m metrics) value(name string, want map[string]string) (float64, bool) {
	for _, s := range m[name] {
		match := true
		for k, v := range want {
			if s.labels[k] != v {
				match = false
			}
		}
		if match {
			return s.value, true
		}
	}
	return 0, false
}

// label is a label of an info-style gauge (value 1), e.g. the server ID.
func (m metrics) label(name, label string) string {
	for _, s := range m[name] {
		if s.value == 1 && s.labels[label] != "" {
			return s.labels[label]
		}
	}
	return ""
}

// members are the etcd member IDs this server knows: itself and the
// remote ends of etcd_network_known_peers.
func (m metrics) members() []string {
	set := map[string]bool{}
	if id := m.label("etcd_server_id", "server_id"); id != "" {
		set[id] = true
	}
	for _, s := range m["etcd_network_known_peers"] {
		if s.value == 1 {
			for _, k := range []string{"Local", "Remote"} {
				if s.labels[k] != "" {
					set[s.labels[k]] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Strings(out)
	if len(out) == 0 {
		out = append(out, "?") // a running etcd is at least one member
	}
	return out
}
