package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
)

// Result is one measured figure.
type Result struct {
	Scenario string  `json:"scenario"`
	Metric   string  `json:"metric"`
	Unit     string  `json:"unit"`
	Ours     float64 `json:"ours"`
	// Baseline is measured in the same run (0 when the target is absolute).
	Baseline     float64 `json:"baseline,omitempty"`
	BaselineName string  `json:"baselineName,omitempty"`
	// Ratio is Ours/Baseline.
	Ratio  float64 `json:"ratio,omitempty"`
	Target string  `json:"target"`
	Met    bool    `json:"met"`
	Note   string  `json:"note,omitempty"`
}

// env is what every scenario gets.
type env struct {
	skiffBin string
	quick    bool
	tmp      string
	conc     int
}

// concurrency returns the levels to measure: all, or the one -conc names.
func (e *env) concurrency(levels []int) []int {
	if e.conc > 0 {
		return []int{e.conc}
	}
	return levels
}

type scenario struct {
	name string
	run  func(e *env) ([]Result, error)
}

func main() {
	out := flag.String("out", "", "write the results as JSON to this file")
	only := flag.String("only", "", "run only scenarios whose name matches this regular expression")
	quick := flag.Bool("quick", false, "shorter runs (figures are noisier)")
	conc := flag.Int("conc", 0, "measure only this concurrency level where a scenario has several")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the benchmark process (in-process servers included)")
	verbose := flag.Bool("v", false, "let the in-process servers' client-go log (klog) to stderr")
	flag.Parse()
	if !*verbose {
		// The API servers the bench runs in its own process log through
		// klog (client-go's leader election, informers) straight to
		// stderr, between the bench's progress lines.
		klog.SetLogger(logr.Discard())
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fail(err)
		}
		defer pprof.StopCPUProfile()
	}

	tmp, err := os.MkdirTemp("", "skiff-bench")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	bin := os.Getenv("SKIFF_BIN")
	if bin == "" {
		bin = filepath.Join(tmp, "skiff")
		if b, err := exec.Command("go", "build", "-o", bin, "./cmd/skiff").CombinedOutput(); err != nil {
			fail(fmt.Errorf("go build: %v\n%s", err, b))
		}
	}
	e := &env{skiffBin: bin, quick: *quick, tmp: tmp, conc: *conc}
	scenarios := []scenario{
		{"controlplane/creates", benchCreates},
		{"controlplane/reads", benchReads},
		{"controlplane/watch-fanout", benchWatchFanout},
		{"controlplane/cold-start", benchColdStart},
		{"controlplane/idle-rss", benchIdleRSS},
		{"scheduler/basic", benchScheduler},
		{"nodeagent/pod-startup", benchPodStartup},
		{"nodeagent/idle-rss", benchAgentRSS},
		{"nodeagent/fake-scale", benchFakeScale},
		{"controllers/deployment-startup", benchDeploymentStartup},
		{"controllers/fake-deployment", benchFakeDeployment},
		{"services/endpoint-to-rule", benchEndpointToRule},
		{"services/throughput-clusterip", benchThroughputClusterIP},
		{"services/throughput-nodeport", benchThroughputNodePort},
		{"streams/exec-rtt", benchExecRTT},
		{"streams/port-forward-throughput", benchPortForwardThroughput},
		{"gitops/commit-to-serving", benchGitOpsLoop},
		{"gitops/500-objects", benchGitOps500},
		{"up/cold-start", benchUpColdStart},
		{"up/idle-rss", benchUpIdleRSS},
	}
	var re *regexp.Regexp
	if *only != "" {
		re = regexp.MustCompile(*only)
	}
	var results []Result
	for _, s := range scenarios {
		if re != nil && !re.MatchString(s.name) {
			continue
		}
		// Scenarios run in this process: start each from a clean heap so
		// one's garbage is not collected on the next one's clock.
		runtime.GC()
		debug.FreeOSMemory()
		fmt.Fprintf(os.Stderr, "• %s …\n", s.name)
		start := time.Now()
		rs, err := s.run(e)
		if err != nil {
			fmt.Fprintf(os.Stderr, "  %s failed: %v\n", s.name, err)
			results = append(results, Result{Scenario: s.name, Metric: "error", Note: err.Error()})
			continue
		}
		fmt.Fprintf(os.Stderr, "  done in %s\n", time.Since(start).Round(time.Second))
		results = append(results, rs...)
	}
	printTable(results)
	if *out != "" {
		doc := map[string]any{
			"time":    time.Now().UTC().Format(time.RFC3339),
			"machine": fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()),
			"go":      runtime.Version(),
			"quick":   *quick,
			"results": results,
		}
		if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
			fail(err)
		}
		b, _ := json.MarshalIndent(doc, "", "  ")
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			fail(err)
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", *out)
	}
}

func printTable(rs []Result) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SCENARIO\tMETRIC\tOURS\tBASELINE\tRATIO\tTARGET\tMET")
	for _, r := range rs {
		if r.Metric == "error" {
			fmt.Fprintf(w, "%s\terror\t\t\t\t\t%s\n", r.Scenario, r.Note)
			continue
		}
		base, ratio := "", ""
		if r.BaselineName != "" {
			base = fmt.Sprintf("%s %s (%s)", num(r.Baseline), r.Unit, r.BaselineName)
			ratio = fmt.Sprintf("%.2f", r.Ratio)
		}
		met := "no"
		if r.Met {
			met = "yes"
		}
		fmt.Fprintf(w, "%s\t%s\t%s %s\t%s\t%s\t%s\t%s\n", r.Scenario, r.Metric, num(r.Ours), r.Unit, base, ratio, r.Target, met)
	}
	w.Flush()
}

func num(f float64) string {
	switch {
	case f >= 100:
		return fmt.Sprintf("%.0f", f)
	case f >= 10:
		return fmt.Sprintf("%.1f", f)
	default:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", f), "0"), ".")
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
