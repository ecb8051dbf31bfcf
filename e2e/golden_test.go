package e2e

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of the kubectl tests")

// Output that changes from run to run is masked before comparing.
var masks = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), "<uid>"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`), "<time>"},
	{regexp.MustCompile(`(?i)(resourceVersion"?:\s*)"?\d+"?`), `${1}<rv>`},
	{regexp.MustCompile(`\\"resourceVersion\\":\\"\d+\\"`), `\"resourceVersion\":\"<rv>\"`},
	{regexp.MustCompile(`(?m)(^|\s)(\d+d)?(\d+h)?(\d+m)?\d+s(\s|$)`), "${1}<age>${5}"},
	{regexp.MustCompile(`(?m)(^|\s)\d+m(\s|$)`), "${1}<age>${2}"},
	{regexp.MustCompile(`(CreationTimestamp:\s+).*`), "${1}<time>"},
	{regexp.MustCompile(`(StartTime:\s+).*`), "${1}<time>"},
	{regexp.MustCompile(`https://127\.0\.0\.1:\d+`), "https://127.0.0.1:<port>"},
	// Cluster IPs are allocated at random from the service CIDR, as upstream.
	{regexp.MustCompile(`\b10\.96\.\d{1,3}\.\d{1,3}\b`), "<cluster-ip>"},
}

// tableSpace is the padding between table columns, whose width depends
// on masked values (leading indentation is kept).
var tableSpace = regexp.MustCompile(`(\S)[ \t]{2,}`)

func normalize(s string) string {
	for i := 0; i < 2; i++ { // twice: adjacent ages share a separator
		for _, m := range masks {
			s = m.re.ReplaceAllString(s, m.with)
		}
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(tableSpace.ReplaceAllString(l, "$1  "), " ")
	}
	return strings.Join(lines, "\n")
}

// recorder runs kubectl commands and compares what each printed with a
// golden file per kubectl version, so a regression shows as a diff.
type recorder struct {
	t   *testing.T
	k   *kubectl
	dir string
	n   int
	// strip lists strings removed from the record (temporary directories).
	strip []string
}

func newRecorder(t *testing.T, k *kubectl) *recorder {
	return &recorder{t: t, k: k, dir: filepath.Join("testdata", "kubectl", k.minor)}
}

// run runs kubectl, records its output as step name, and returns stdout.
// The exit code is part of the record, so expected failures are recorded
// (and checked) too.
func (r *recorder) run(name string, args ...string) string {
	r.t.Helper()
	return r.runIn(name, "", args...)
}

func (r *recorder) runIn(name, stdin string, args ...string) string {
	r.t.Helper()
	out, errOut, code := r.k.runIn(stdin, args...)
	r.record(name, args, out, errOut, code)
	return out
}

func (r *recorder) record(name string, args []string, out, errOut string, code int) {
	r.t.Helper()
	r.n++
	got := fmt.Sprintf("$ kubectl %s\n%s", strings.Join(args, " "), out)
	if errOut != "" {
		got += "--- stderr\n" + errOut
	}
	for _, s := range r.strip {
		got = strings.ReplaceAll(got, s, "")
	}
	got = normalize(got) + fmt.Sprintf("\n--- exit %d\n", code)
	file := filepath.Join(r.dir, fmt.Sprintf("%02d-%s.txt", r.n, name))
	if *updateGolden {
		if err := os.MkdirAll(r.dir, 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			r.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		r.t.Fatalf("%s: %v (run with -update to record it)\ngot:\n%s", file, err, got)
	}
	if string(want) != got {
		r.t.Errorf("kubectl %s: output differs from %s\n--- want\n%s\n--- got\n%s", r.k.minor, file, want, got)
	}
}
