package apiserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/revlist"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport/server"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Annotations of a GitRepository that relax what a push may do, as git's
// receive.denyNonFastForwards and receive.denyDeletes (both on here).
const (
	GitAllowForcePushAnnotation = "skiff.dev/git-allow-force-push"
	GitAllowDeleteAnnotation    = "skiff.dev/git-allow-delete"
)

// pushPolicy is what the repository's GitRepository allows.
type pushPolicy struct {
	allowForce, allowDelete bool
}

// pushProgress writes "remote:" lines to a pushing client (sideband
// channel 2); a client without side-band gets none.
type pushProgress struct {
	mux   *sideband.Muxer
	flush func()
}

func (p *pushProgress) Printf(format string, args ...any) {
	if p.mux == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	_, _ = p.mux.WriteChannel(sideband.ProgressMessage, []byte(msg))
	p.flush()
}

// pushedRef is a reference a push created or moved.
type pushedRef struct {
	Name plumbing.ReferenceName
	Hash plumbing.Hash
}

// serveReceivePack answers a push: it stores the pack, checks every
// command (stale old value, fast-forward, deletion, ref namespace,
// connectivity), lets go-git's session update the accepted references,
// reports each command's status, and then hands the pushed revision to
// GitOps (gitremote_gitops.go), whose result it reports as progress.
func (g *gitRemote) serveReceivePack(w http.ResponseWriter, r *http.Request, repo gitRepo, user User) {
	br, finishBody, ok := g.rpcBody(w, r, gitReceivePack)
	if !ok {
		return
	}
	defer finishBody()
	req := packp.NewReferenceUpdateRequest()
	if err := req.Decode(br); err != nil {
		bodyError(w, fmt.Errorf("read push commands: %w", err))
		return
	}
	var options []string
	if req.Capabilities.Supports(capability.PushOptions) {
		// go-git's decoder stops at the commands' flush; the options
		// come next, then the pack.
		sc := pktline.NewScanner(req.Packfile)
		for sc.Scan() && len(sc.Bytes()) > 0 {
			options = append(options, strings.TrimSuffix(string(sc.Bytes()), "\n"))
		}
		if err := sc.Err(); err != nil {
			bodyError(w, fmt.Errorf("read push options: %w", err))
			return
		}
	}

	lock := g.repoLock(repo.String())
	lock.Lock()
	result, err := g.receive(r.Context(), repo, req)
	lock.Unlock()
	if result != nil && result.tooLarge {
		// git reads the answer only once it has sent everything: drain
		// the rest (within the read deadline) so it gets the report
		// instead of a cut connection.
		g.s.log.Warn("git: push refused", "repo", repo.String(), "user", user.Name, "err", result.report.UnpackStatus)
		_, _ = io.Copy(io.Discard, r.Body)
	}
	finishBody()
	if err != nil {
		gitError(w, http.StatusInternalServerError, err.Error())
		return
	}

	h := w.Header()
	h.Set("Content-Type", "application/x-git-receive-pack-result")
	noCache(h)
	w.WriteHeader(http.StatusOK)
	progress := &pushProgress{flush: flusher(w)}
	var report io.Writer = w
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		progress.mux = sideband.NewMuxer(sideband.Sideband64k, w)
	case req.Capabilities.Supports(capability.Sideband):
		progress.mux = sideband.NewMuxer(sideband.Sideband, w)
	}
	if progress.mux != nil {
		report = progress.mux
	}
	for _, m := range result.messages {
		progress.Printf("%s", m)
	}
	g.s.log.Info("git push", "repo", repo.String(), "user", user.Name, "updated", len(result.pushed), "commands", len(req.Commands))
	if len(result.pushed) > 0 {
		wait := g.cfg.PushWait > 0 && progress.mux != nil
		for _, o := range options {
			switch o {
			case "skiff.wait=false":
				wait = false
			case "skiff.wait=true", "skiff.wait":
			default:
				progress.Printf("warning: unknown push option %q ignored (Skiff knows skiff.wait=false)", o)
			}
		}
		g.deploy(r.Context(), repo, result, wait, progress)
	}
	// The report comes last, after the GitOps result: git's receive-pack
	// sends it before its post-receive hook's output, but clients such
	// as go-git stop reading at the report, and git prints both the same
	// way in either order. The references are updated already.
	if req.Capabilities.Supports(capability.ReportStatus) {
		if err := result.report.Encode(report); err != nil {
			g.s.log.Warn("git: write push report", "repo", repo.String(), "err", err)
			return
		}
	}
	if progress.mux != nil {
		_ = pktline.NewEncoder(w).Flush()
	}
	progress.flush()
}

// receiveResult is what a push did.
type receiveResult struct {
	report *packp.ReportStatus
	// pushed are the created or moved references (not deletions), in
	// the order of the commands.
	pushed []pushedRef
	// messages explain refusals (git prints them as "remote:" lines).
	messages []string
	// policy is the one the push was checked against.
	policy pushPolicy
	// tooLarge: the pack went over the size cap and was not stored.
	tooLarge bool
}

// receive stores a push's pack and updates the references it may update.
// The caller holds the repository's lock. It fails only when nothing
// could be reported (the repository cannot be opened or created, or the
// body is over the size cap).
func (g *gitRemote) receive(ctx context.Context, repo gitRepo, req *packp.ReferenceUpdateRequest) (*receiveResult, error) {
	dir := g.dir(repo)
	sto, err := openGitRepo(dir)
	created := false
	if errors.Is(err, fs.ErrNotExist) {
		if sto, err = initGitRepo(dir, defaultBranch(req.Commands)); err != nil {
			return nil, fmt.Errorf("create repository %s: %w", repo, err)
		}
		created = true
	} else if err != nil {
		return nil, fmt.Errorf("open repository %s: %w", repo, err)
	}
	defer sto.Close()
	res := &receiveResult{report: packp.NewReportStatus()}
	res.report.UnpackStatus = "ok"
	if res.policy, err = g.pushPolicy(ctx, repo); err != nil {
		return nil, err
	}

	needsPack := false
	for _, c := range req.Commands {
		if !c.New.IsZero() {
			needsPack = true
		}
	}
	var unpackErr error
	if needsPack {
		unpackErr = packfile.UpdateObjectStorage(sto, req.Packfile)
		var tooLarge *gitTooLargeError
		if errors.As(unpackErr, &tooLarge) {
			res.tooLarge = true
			unpackErr = tooLarge
			res.messages = append(res.messages, "error: push refused: "+tooLarge.Error())
		}
	}
	if unpackErr != nil {
		// git prints it as "remote unpack failed: <status>".
		res.report.UnpackStatus = unpackErr.Error()
	}

	status := map[plumbing.ReferenceName]string{}
	var accepted []*packp.Command
	for _, c := range req.Commands {
		if unpackErr != nil {
			status[c.Name] = "unpacker error"
			continue
		}
		if msg, reason := checkCommand(sto, c, res.policy, repo); reason != "" {
			status[c.Name] = reason
			if msg != "" {
				res.messages = append(res.messages, msg)
			}
			continue
		}
		accepted = append(accepted, c)
	}
	if len(accepted) > 0 {
		if err := updateRefs(ctx, sto, repo, accepted, status); err != nil {
			return nil, err
		}
	}
	for _, c := range req.Commands {
		st := status[c.Name]
		if st == "" {
			st = "ok"
		}
		res.report.CommandStatuses = append(res.report.CommandStatuses, &packp.CommandStatus{ReferenceName: c.Name, Status: st})
		if st == "ok" && !c.New.IsZero() {
			res.pushed = append(res.pushed, pushedRef{Name: c.Name, Hash: c.New})
		}
	}
	if err := fixHEAD(sto, res.pushed); err != nil {
		return nil, fmt.Errorf("repository %s: set HEAD: %w", repo, err)
	}
	if created && len(res.pushed) == 0 {
		// Nothing was stored: do not leave an empty repository behind.
		_ = os.RemoveAll(dir)
	}
	return res, nil
}

// updateRefs lets go-git's receive-pack session apply the commands this
// layer accepted (the pack is already stored) and records their status.
func updateRefs(ctx context.Context, sto storer.Storer, repo gitRepo, cmds []*packp.Command, status map[plumbing.ReferenceName]string) error {
	ep := repo.endpoint()
	sess, err := server.NewServer(server.MapLoader{ep.String(): sto}).NewReceivePackSession(ep, nil)
	if err != nil {
		return fmt.Errorf("repository %s: %w", repo, err)
	}
	caps := capability.NewList()
	_ = caps.Set(capability.ReportStatus)
	rs, err := sess.ReceivePack(ctx, &packp.ReferenceUpdateRequest{Capabilities: caps, Commands: cmds})
	if rs == nil {
		if err == nil {
			err = errors.New("no status reported")
		}
		return fmt.Errorf("repository %s: update references: %w", repo, err)
	}
	for _, cs := range rs.CommandStatuses {
		if cs.Status != "ok" {
			status[cs.ReferenceName] = cs.Status
		}
	}
	return nil
}

// checkCommand decides whether one command may run. It returns a refusal
// reason for the report (git shows it as "[remote rejected] (<reason>)")
// and a longer explanation, or "" to accept.
func checkCommand(sto storer.Storer, c *packp.Command, policy pushPolicy, repo gitRepo) (msg, reason string) {
	if err := c.Name.Validate(); err != nil || !(c.Name.IsBranch() || c.Name.IsTag()) {
		return fmt.Sprintf("error: refusing to update %s: only branches (refs/heads/…) and tags (refs/tags/…) can be pushed", c.Name), "funny refname"
	}
	cur, err := sto.Reference(c.Name)
	exists := err == nil
	if err != nil && !errors.Is(err, plumbing.ErrReferenceNotFound) {
		return "", fmt.Sprintf("cannot read %s: %v", c.Name, err)
	}
	switch {
	case c.Old.IsZero() && exists:
		return "", "stale info: the reference already exists; fetch first"
	case !c.Old.IsZero() && (!exists || cur.Hash() != c.Old):
		return "", "stale info: the reference moved since it was read; fetch first"
	}
	if c.New.IsZero() {
		if !policy.allowDelete {
			return fmt.Sprintf("error: deleting %s is not allowed: annotate GitRepository %s with %s=true to allow deletions", c.Name, repo, GitAllowDeleteAnnotation), "deletion prohibited"
		}
		return "", ""
	}
	if _, err := sto.EncodedObject(plumbing.AnyObject, c.New); err != nil {
		return fmt.Sprintf("error: %s: object %s is missing: %v", c.Name, c.New, err), "missing necessary objects"
	}
	if c.Name.IsBranch() {
		newCommit, err := object.GetCommit(sto, c.New)
		if err != nil {
			return fmt.Sprintf("error: %s must point to a commit, not %s", c.Name, c.New), "not a commit"
		}
		if !c.Old.IsZero() {
			oldCommit, err := object.GetCommit(sto, c.Old)
			ff := false
			if err == nil {
				ff, err = oldCommit.IsAncestor(newCommit)
			}
			if err != nil {
				return "", fmt.Sprintf("cannot check fast-forward: %v", err)
			}
			if !ff && !policy.allowForce {
				return fmt.Sprintf("error: denying non-fast-forward %s (you should pull first); force pushes are refused: annotate GitRepository %s with %s=true to allow them", c.Name, repo, GitAllowForcePushAnnotation), "non-fast-forward"
			}
		}
	} else if !c.Old.IsZero() && !policy.allowForce {
		return fmt.Sprintf("error: %s already exists and tags are not moved: annotate GitRepository %s with %s=true to allow it", c.Name, repo, GitAllowForcePushAnnotation), "tag already exists"
	}
	// Connectivity: everything the new tip reaches must be here, as
	// git's receive-pack checks before it updates a reference.
	var tips []plumbing.Hash
	if refs, err := sto.IterReferences(); err == nil {
		_ = refs.ForEach(func(ref *plumbing.Reference) error {
			if ref.Type() == plumbing.HashReference {
				tips = append(tips, ref.Hash())
			}
			return nil
		})
	}
	if _, err := revlist.Objects(sto, []plumbing.Hash{c.New}, tips); err != nil {
		return fmt.Sprintf("error: %s: the pushed history is incomplete: %v", c.Name, err), "missing necessary objects"
	}
	return "", ""
}

// defaultBranch is the branch a new repository's HEAD names: main or
// master when pushed, else the first pushed branch.
func defaultBranch(cmds []*packp.Command) plumbing.ReferenceName {
	var first plumbing.ReferenceName
	for _, c := range cmds {
		switch {
		case !c.Name.IsBranch() || c.New.IsZero():
		case c.Name == plumbing.Main || c.Name == plumbing.Master:
			return c.Name
		case first == "":
			first = c.Name
		}
	}
	if first == "" {
		return plumbing.Main
	}
	return first
}

// initGitRepo creates a bare repository whose HEAD names branch.
func initGitRepo(dir string, branch plumbing.ReferenceName) (*filesystem.Storage, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if _, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{Bare: true, InitOptions: git.InitOptions{DefaultBranch: branch}}); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return openGitRepo(dir)
}

// fixHEAD points HEAD at a pushed branch when the branch it names does
// not exist, so a clone checks out what was pushed.
func fixHEAD(sto storer.Storer, pushed []pushedRef) error {
	head, err := sto.Reference(plumbing.HEAD)
	if err != nil && !errors.Is(err, plumbing.ErrReferenceNotFound) {
		return err
	}
	if err == nil && head.Type() == plumbing.SymbolicReference {
		if _, err := sto.Reference(head.Target()); err == nil {
			return nil
		}
	}
	cmds := make([]*packp.Command, 0, len(pushed))
	for _, p := range pushed {
		cmds = append(cmds, &packp.Command{Name: p.Name, New: p.Hash})
	}
	b := defaultBranch(cmds)
	if _, err := sto.Reference(b); err != nil {
		return nil
	}
	return sto.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, b))
}
