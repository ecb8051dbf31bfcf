package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// ErrNoIPTables means the host has no usable iptables (not installed, or
// no permission to change it).
var ErrNoIPTables = errors.New("iptables is not available")

// iptables runs the iptables tools. An interface, so the sync logic is
// tested without root.
type iptables interface {
	// Save returns iptables-save's output for one table.
	Save(ctx context.Context, table string) ([]byte, error)
	// Restore feeds input to iptables-restore --noflush.
	Restore(ctx context.Context, input []byte) error
}

// execIPTables runs the host's iptables-save and iptables-restore.
type execIPTables struct {
	save, restore string
}

// newExecIPTables finds the tools and checks that the nat table can be
// read (which needs CAP_NET_ADMIN).
func newExecIPTables(ctx context.Context) (*execIPTables, error) {
	save, err := exec.LookPath("iptables-save")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoIPTables, err)
	}
	restore, err := exec.LookPath("iptables-restore")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoIPTables, err)
	}
	ipt := &execIPTables{save: save, restore: restore}
	if _, err := ipt.Save(ctx, tableNAT); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoIPTables, err)
	}
	return ipt, nil
}

func (e *execIPTables) Save(ctx context.Context, table string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.save, "-t", table)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("iptables-save -t %s: %v: %s", table, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func (e *execIPTables) Restore(ctx context.Context, input []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// -w waits for the xtables lock (the legacy backend; nf_tables
	// commits atomically and retries by itself).
	cmd := exec.CommandContext(ctx, e.restore, "-w", "5", "--noflush")
	cmd.Stdin = bytes.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return &restoreError{err: err, output: strings.TrimSpace(out.String()), input: input}
	}
	return nil
}

// restoreError carries iptables-restore's complaint and the line it
// names, so a failed sync can be understood from the log.
type restoreError struct {
	err    error
	output string
	input  []byte
}

func (e *restoreError) Error() string {
	msg := fmt.Sprintf("iptables-restore: %v: %s", e.err, e.output)
	// "iptables-restore: line 12 failed" — quote that line.
	var n int
	if i := strings.Index(e.output, "line "); i >= 0 {
		if _, err := fmt.Sscanf(e.output[i:], "line %d", &n); err == nil && n > 0 {
			lines := strings.Split(string(e.input), "\n")
			if n <= len(lines) {
				msg += fmt.Sprintf(" (line %d: %q)", n, lines[n-1])
			}
		}
	}
	return msg
}

func (e *restoreError) Unwrap() error { return e.err }

// readHost reads both tables' state under a prefix.
func readHost(ctx context.Context, ipt iptables, prefix string) (map[string]hostTable, error) {
	host := map[string]hostTable{}
	for _, t := range []string{tableNAT, tableFilter} {
		out, err := ipt.Save(ctx, t)
		if err != nil {
			return nil, err
		}
		host[t] = parseSave(t, out, prefix)
	}
	return host, nil
}
