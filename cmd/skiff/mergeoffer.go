package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"github.com/skiff-dev/skiff/plugin/kubeconfig"
)

// mergeMode is the value of `skiff up --merge-kubeconfig`.
type mergeMode string

const (
	mergeAsk mergeMode = "ask"
	mergeYes mergeMode = "yes"
	mergeNo  mergeMode = "no"
)

// The context `skiff up` merges into the user's kubeconfig, as kind names
// its own: a fixed name, so a second merge replaces the first.
const mergeContextName = "skiff"

func (m *mergeMode) String() string { return string(*m) }
func (m *mergeMode) Type() string   { return "ask|yes|no" }
func (m *mergeMode) Set(s string) error {
	switch v := mergeMode(s); v {
	case mergeAsk, mergeYes, mergeNo:
		*m = v
		return nil
	}
	return fmt.Errorf("%q is not ask, yes or no", s)
}

// mergeOffer is what `skiff up` offers once the node is Ready: the
// cluster as context "skiff" of the kubeconfig kubectl uses by default, so
// no KUBECONFIG export is needed.
type mergeOffer struct {
	mode mergeMode
	// source is the kubeconfig the server wrote; dataDir holds it.
	source, dataDir string
	// in answers the question; out gets the question and the outcome.
	in  io.Reader
	out io.Writer
	// terminal: a person is there to answer (stdin and out are terminals).
	// Without one, ask means no: a script or a CI job must not block on a
	// question nobody sees, nor have its kubeconfig changed unasked.
	terminal bool
}

// run makes the offer and reports whether the context was merged. A
// failed merge is an error, but the cluster is up: the caller prints it
// and carries on.
func (o mergeOffer) run(ctx context.Context) (bool, error) {
	target := kubeconfig.Target()
	if samePath(target, o.source) {
		// KUBECONFIG already names the server's own file: nothing to add.
		return false, nil
	}
	merge := o.mode == mergeYes
	if o.mode == mergeAsk && o.terminal {
		fmt.Fprintf(o.out, "\nMerge the cluster into %s as context %q and switch to it? [Y/n] ", target, mergeContextName)
		type reply struct {
			line string
			err  error
		}
		// The read cannot be interrupted: Ctrl-C while the question waits
		// must still stop skiff up, so the answer is awaited beside ctx.
		answered := make(chan reply, 1)
		go func() {
			line, err := bufio.NewReader(o.in).ReadString('\n')
			answered <- reply{line, err}
		}()
		select {
		case <-ctx.Done():
			fmt.Fprintln(o.out)
			return false, nil
		case r := <-answered:
			answer := strings.ToLower(strings.TrimSpace(r.line))
			// Enter alone means yes; end of input (Ctrl-D) means no.
			merge = (answer == "" && r.err == nil) || answer == "y" || answer == "yes"
		}
	}
	if !merge {
		fmt.Fprintf(o.out, "\nTo add it to %s as context %q:\n  kubectl skiff kubeconfig --data-dir %s --merge\n", target, mergeContextName, o.dataDir)
		return false, nil
	}
	written, err := kubeconfig.MergeFile(o.source, mergeContextName, true)
	if err != nil {
		return false, fmt.Errorf("merge the kubeconfig: %w", err)
	}
	fmt.Fprintf(o.out, "✓ context %q merged into %s and made current\n", mergeContextName, written)
	return true, nil
}

// samePath reports whether a and b name one file (either may not exist).
func samePath(a, b string) bool {
	ra, erra := filepath.EvalSymlinks(a)
	rb, errb := filepath.EvalSymlinks(b)
	if erra == nil && errb == nil {
		return ra == rb
	}
	aa, _ := filepath.Abs(a)
	ab, _ := filepath.Abs(b)
	return aa == ab
}

// isTerminal reports whether f is a terminal (not merely a character
// device: /dev/null is one, and nobody answers there).
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
