package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/client-go/kubernetes/scheme"
)

// The README's compatibility section lives between these markers and is
// written only by TestCompatTable.
const (
	compatBegin = "<!-- BEGIN generated: compat -->"
	compatEnd   = "<!-- END generated: compat -->"
)

// readmePath is the README, seen from the e2e package directory (go test
// runs a package's tests there).
const readmePath = "../README.md"

// TestCompatTable regenerates the README's compatibility section from a
// live server's discovery document (what is served, with kinds and verbs;
// which of the Kubernetes API's kinds are not) and from the kubectl
// transcripts TestKubectlCommands compares each kubectl version's output
// with, and fails when the README says something else, so the section
// cannot drift from the code. SKIFF_UPDATE_README=1 rewrites the section
// instead.
func TestCompatTable(t *testing.T) {
	s := startServer(t)
	cs := clientset(t, s)
	_, lists, err := cs.Discovery().ServerGroupsAndResources()
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	matrix, err := readKubectlMatrix(filepath.Join("testdata", "kubectl"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(matrix.versions, kubectlVersions) {
		t.Fatalf("testdata/kubectl holds transcripts for %v but TestKubectlCommands runs %v: record or remove them (go test -run TestKubectlCommands -update)", matrix.versions, kubectlVersions)
	}

	var b strings.Builder
	writeServedTable(&b, lists)
	writeMissingTable(&b, lists)
	writeKubectlTable(&b, matrix)
	checkReadmeSection(t, compatBegin, compatEnd, b.String())
}

// checkReadmeSection compares the README's text between begin and end
// with want, or rewrites it under SKIFF_UPDATE_README=1.
func checkReadmeSection(t *testing.T, begin, end, want string) {
	t.Helper()
	raw, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the markers %q … %q", begin, end)
	}
	got := readme[i+len(begin) : j]
	want = "\n" + want
	if got == want {
		return
	}
	if os.Getenv("SKIFF_UPDATE_README") == "1" {
		updated := readme[:i+len(begin)] + want + readme[j:]
		if err := os.WriteFile(readmePath, []byte(updated), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the section %s of README.md", begin)
		return
	}
	t.Errorf("README.md's section %s is out of date (SKIFF_UPDATE_README=1 rewrites it); the first difference:\n%s", begin, firstDiff(got, want))
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d\n README: %q\n server: %q", i+1, gl, wl)
		}
	}
	return "(none)"
}

// allVerbs are the verbs of a resource with the full REST interface.
var allVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// writeServedTable lists every resource the server's discovery document
// offers, by group/version, with its kind, scope, verbs and subresources.
func writeServedTable(b *strings.Builder, lists []*metav1.APIResourceList) {
	b.WriteString("Served by the API server (its discovery document; *all verbs* = " + strings.Join(allVerbs, ", ") + "):\n\n")
	b.WriteString("| group/version | resource | kind | namespaced | verbs | subresources | short names |\n|---|---|---|---|---|---|---|\n")
	lists = slices.Clone(lists)
	name := func(l *metav1.APIResourceList) string {
		if !strings.Contains(l.GroupVersion, "/") {
			return "core/" + l.GroupVersion
		}
		return l.GroupVersion
	}
	// Discovery's group order is the server's; the table's must not
	// change from one run to the next.
	sort.Slice(lists, func(i, j int) bool { return groupVersionLess(name(lists[i]), name(lists[j])) })
	for _, l := range lists {
		subs := map[string][]string{}
		var top []metav1.APIResource
		for _, r := range l.APIResources {
			if parent, sub, ok := strings.Cut(r.Name, "/"); ok {
				subs[parent] = append(subs[parent], sub)
				continue
			}
			top = append(top, r)
		}
		sort.Slice(top, func(i, j int) bool { return top[i].Name < top[j].Name })
		for _, r := range top {
			verbs := slices.Clone([]string(r.Verbs))
			slices.Sort(verbs)
			v := strings.Join(verbs, ", ")
			if slices.Equal(verbs, allVerbs) {
				v = "*all verbs*"
			}
			s := subs[r.Name]
			slices.Sort(s)
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", name(l), r.Name, r.Kind, yesNo(r.Namespaced), v, strings.Join(s, ", "), strings.Join(r.ShortNames, ", "))
		}
	}
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

// writeMissingTable lists the Kubernetes API's kinds that the server
// does not serve in any version: those of client-go's scheme with a GA
// version (as alpha and most beta APIs are off by default on Kubernetes
// too), named by that version. A request for them gets a 404 naming the
// resource.
func writeMissingTable(b *strings.Builder, lists []*metav1.APIResourceList) {
	served := map[schema.GroupKind]bool{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if !strings.Contains(r.Name, "/") {
				served[schema.GroupKind{Group: gv.Group, Kind: r.Kind}] = true
			}
		}
	}
	metaPkg := reflect.TypeOf(metav1.ObjectMeta{}).PkgPath()
	missing := map[string][]string{} // GA group/version → kinds
	all := scheme.Scheme.AllKnownTypes()
	for gvk, typ := range all {
		if !isGA(gvk.Version) {
			continue
		}
		// An object users create has a List type beside it; options,
		// subresource bodies and meta's own types do not, or live in
		// apimachinery's meta package.
		if _, hasList := all[gvk.GroupVersion().WithKind(gvk.Kind+"List")]; !hasList || typ.PkgPath() == metaPkg {
			continue
		}
		if served[gvk.GroupKind()] {
			continue
		}
		gv := gvk.GroupVersion().String()
		if gvk.Group == "" {
			gv = "core/" + gvk.Version
		}
		if !slices.Contains(missing[gv], gvk.Kind) {
			missing[gv] = append(missing[gv], gvk.Kind)
		}
	}
	gvs := make([]string, 0, len(missing))
	for gv := range missing {
		gvs = append(gvs, gv)
	}
	sort.Slice(gvs, func(i, j int) bool { return groupVersionLess(gvs[i], gvs[j]) })
	b.WriteString("\nNot served: the Kubernetes API's GA kinds (client-go's scheme) the discovery document lacks in every version; requests for them get a 404 naming the resource:\n\n")
	b.WriteString("| group/version | kinds not served |\n|---|---|\n")
	for _, gv := range gvs {
		slices.Sort(missing[gv])
		fmt.Fprintf(b, "| %s | %s |\n", gv, strings.Join(missing[gv], ", "))
	}
}

// isGA reports whether an API version is a GA one (v1, v2), not an alpha
// or beta.
func isGA(v string) bool {
	n, ok := strings.CutPrefix(v, "v")
	return ok && n != "" && strings.Trim(n, "0123456789") == ""
}

// groupVersionLess orders the core group first, then by name.
func groupVersionLess(a, b string) bool {
	ca, cb := strings.HasPrefix(a, "core/"), strings.HasPrefix(b, "core/")
	if ca != cb {
		return ca
	}
	return a < b
}

// kubectlMatrix is what the kubectl transcripts hold: for each kubectl
// version, the commands recorded (and so checked) for it.
type kubectlMatrix struct {
	versions []string
	// commands in first-recorded order; steps[command][version] are the
	// transcript files recording it.
	commands []string
	steps    map[string]map[string][]string
	exits    map[string]map[int]bool
}

// readKubectlMatrix reads testdata/kubectl/<version>/NN-step.txt, each
// starting with `$ kubectl args…` and ending with `--- exit N`.
func readKubectlMatrix(dir string) (*kubectlMatrix, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	m := &kubectlMatrix{steps: map[string]map[string][]string{}, exits: map[string]map[int]bool{}}
	for _, e := range entries {
		if e.IsDir() {
			m.versions = append(m.versions, e.Name())
		}
	}
	sort.Slice(m.versions, func(i, j int) bool {
		return version.MustParseGeneric(m.versions[i]).LessThan(version.MustParseGeneric(m.versions[j]))
	})
	for _, v := range m.versions {
		files, err := filepath.Glob(filepath.Join(dir, v, "*.txt"))
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		for _, f := range files {
			args, exit, err := readTranscript(f)
			if err != nil {
				return nil, err
			}
			c := commandShape(args)
			if m.steps[c] == nil {
				m.commands = append(m.commands, c)
				m.steps[c] = map[string][]string{}
				m.exits[c] = map[int]bool{}
			}
			m.steps[c][v] = append(m.steps[c][v], strings.TrimSuffix(filepath.Base(f), ".txt"))
			m.exits[c][exit] = true
		}
	}
	return m, nil
}

func readTranscript(path string) (args []string, exit int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	first, last := "", ""
	for sc.Scan() {
		if first == "" {
			first = sc.Text()
		}
		if strings.HasPrefix(sc.Text(), "--- exit ") {
			last = sc.Text()
		}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	cmd, ok := strings.CutPrefix(first, "$ kubectl ")
	if !ok {
		return nil, 0, fmt.Errorf("%s: does not start with `$ kubectl`", path)
	}
	if _, err := fmt.Sscanf(last, "--- exit %d", &exit); err != nil {
		return nil, 0, fmt.Errorf("%s: no `--- exit N` line", path)
	}
	return strings.Fields(cmd), exit, nil
}

// commandShape reduces a recorded command to what it exercises: the verb
// (with its subcommand), the flags, and the values that select a
// behaviour (-o's format, --type, --for); names, files, namespaces and
// other values are dropped.
func commandShape(args []string) string {
	if len(args) == 0 {
		return ""
	}
	shape := []string{args[0]}
	rest := args[1:]
	if slices.Contains([]string{"create", "rollout", "set", "config", "auth"}, args[0]) && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") && !strings.Contains(rest[0], "/") && !strings.Contains(rest[0], ".") {
		shape = append(shape, rest[0])
		rest = rest[1:]
	}
	keepValue := map[string]bool{"-o": true, "--output": true, "--type": true, "--for": true}
	takesValue := map[string]bool{"-f": true, "-p": true, "-l": true, "--field-selector": true, "-n": true, "--namespace": true}
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, val, hasVal := strings.Cut(a, "=")
		if name == "-n" || name == "--namespace" {
			if !hasVal {
				i++
			}
			continue
		}
		switch {
		case keepValue[name] && hasVal:
			v, _, _ := strings.Cut(val, "=")
			shape = append(shape, name+"="+v)
		case keepValue[name] && i+1 < len(rest):
			i++
			v, _, _ := strings.Cut(rest[i], "=")
			shape = append(shape, name+" "+v)
		case takesValue[name] && !hasVal:
			i++
			shape = append(shape, name)
		default:
			shape = append(shape, name)
		}
	}
	return strings.Join(shape, " ")
}

// writeKubectlTable shows which kubectl versions each command shape is
// recorded and checked for.
func writeKubectlTable(b *strings.Builder, m *kubectlMatrix) {
	b.WriteString("\nThe stock kubectl, by version: each row is a command TestKubectlCommands runs with that kubectl, comparing its whole output and exit code with a recorded transcript (`e2e/testdata/kubectl/<version>/`); ✓ = checked. Errors are part of the record (AlreadyExists, NotFound: exit 1 as on Kubernetes).\n\n")
	b.WriteString("| kubectl command |")
	for _, v := range m.versions {
		b.WriteString(" " + v + " |")
	}
	b.WriteString(" exit codes recorded | transcripts |\n|---|")
	for range m.versions {
		b.WriteString("---|")
	}
	b.WriteString("---|---|\n")
	for _, c := range m.commands {
		fmt.Fprintf(b, "| `kubectl %s` |", c)
		var names []string
		for _, v := range m.versions {
			steps := m.steps[c][v]
			if len(steps) == 0 {
				b.WriteString(" — |")
				continue
			}
			b.WriteString(" ✓ |")
			for _, s := range steps {
				if !slices.Contains(names, s) {
					names = append(names, s)
				}
			}
		}
		var exits []string
		for e := range m.exits[c] {
			exits = append(exits, fmt.Sprint(e))
		}
		slices.Sort(exits)
		fmt.Fprintf(b, " %s | %s |\n", strings.Join(exits, ", "), strings.Join(names, ", "))
	}
}
