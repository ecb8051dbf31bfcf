package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// gitCLI runs the git command in one work tree: remotes and config are
// the user's git's, so they are written with git itself.
type gitCLI struct {
	dir string
	// bin is the git executable ("git" on PATH).
	bin string
}

// errGitStatus is git exiting non-zero; Status is its exit status (git
// config: 1 section or key missing, 5 nothing to unset…).
type errGitStatus struct {
	Args   []string
	Status int
	Stderr string
}

func (e *errGitStatus) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = fmt.Sprintf("exit status %d", e.Status)
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.Args, " "), msg)
}

func (g gitCLI) run(ctx context.Context, args ...string) (string, error) {
	bin := g.bin
	if bin == "" {
		bin = "git"
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"-C", g.dir}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return "", &errGitStatus{Args: args, Status: ee.ExitCode(), Stderr: errOut.String()}
	}
	if err != nil {
		return "", fmt.Errorf("run git: %w", err)
	}
	return strings.TrimSpace(out.String()), nil
}

// status is git's exit status in err, -1 for other errors and 0 for nil.
func status(err error) int {
	var ge *errGitStatus
	if errors.As(err, &ge) {
		return ge.Status
	}
	if err != nil {
		return -1
	}
	return 0
}

// gitDir is the absolute git directory of the work tree.
func (g gitCLI) gitDir(ctx context.Context) (string, error) {
	d, err := g.run(ctx, "rev-parse", "--absolute-git-dir")
	if err != nil {
		return "", fmt.Errorf("%s is not a git repository (git init first, or pass --dir): %w", g.dir, err)
	}
	return d, nil
}

// remoteURL is the URL of a remote, "" when there is no such remote.
func (g gitCLI) remoteURL(ctx context.Context, name string) (string, error) {
	u, err := g.run(ctx, "config", "--get", "remote."+name+".url")
	if status(err) == 1 {
		return "", nil
	}
	return u, err
}

// shellQuote quotes s for the POSIX shell git runs "!" helpers with.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
