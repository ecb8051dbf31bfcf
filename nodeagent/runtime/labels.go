package runtime

// labelsMatch reports whether labels include every pair of match.
func labelsMatch(labels, match map[string]string) bool {
	for k, v := range match {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// withDefaultLabels copies labels and adds LabelManaged, and LabelNode and
// LabelKind when known, unless the caller set them: without them an agent
// could not find its containers after a restart.
func withDefaultLabels(in map[string]string, node, kind string) map[string]string {
	l := make(map[string]string, len(in)+3)
	for k, v := range in {
		l[k] = v
	}
	if _, ok := l[LabelManaged]; !ok {
		l[LabelManaged] = "true"
	}
	if _, ok := l[LabelNode]; !ok && node != "" {
		l[LabelNode] = node
	}
	if _, ok := l[LabelKind]; !ok && kind != "" {
		l[LabelKind] = kind
	}
	return l
}
