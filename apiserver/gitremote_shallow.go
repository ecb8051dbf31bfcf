package apiserver

// Shallow fetches (git clone --depth N, git fetch --deepen/--unshallow,
// and any client that already is shallow), which go-git's upload-pack
// session refuses or ignores: it walks whole histories. What is done
// here follows git's upload-pack for protocol v0/v1:
//
//   - "deepen N" cuts history N commits below each want: commits at depth
//     N are the new shallow boundary, announced as "shallow <id>" unless
//     the client already had them shallow; a commit the client had as
//     shallow that is now above the cut is announced "unshallow <id>" and
//     its parents are sent. With the deepen-relative capability (git
//     fetch --deepen N) the N commits are counted below the client's
//     shallow commits instead of below the wants.
//   - The client's "shallow <id>" lines are commits whose parents it
//     lacks: walks stop there, both when choosing what to send and when
//     taking away what the client's haves already give it.
//   - In stateless RPC (smart HTTP) the shallow section opens every
//     response, and git's first request of a deepening fetch is only the
//     wants and the deepen line: it is answered with the shallow section
//     alone.
//
// Only "shallow" and "deepen-relative" are advertised: deepen-since and
// deepen-not are not implemented, so clients do not send them (git says
// "Server does not support --shallow-since"), and a request that does is
// refused.

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// gitInfiniteDepth is what git fetch --unshallow sends as its depth.
const gitInfiniteDepth = 0x7fffffff

// shallowPlan is what a fetch from a shallow (or to be shallow) client
// changes, computed once per request from its wants, shallows and depth.
type shallowPlan struct {
	// deepen: the client sent a depth and expects a shallow section.
	deepen bool
	// shallow and unshallow are the lines of the shallow section.
	shallow, unshallow []plumbing.Hash
	// boundary holds the commits whose parents are not walked: the new
	// shallow commits and every commit the client has as shallow.
	boundary map[plumbing.Hash]bool
	// extraWants are the parents of unshallowed commits, which the client
	// now gets although it did not name them.
	extraWants []plumbing.Hash
}

// needsShallowPlan reports whether a request must be served by this file
// rather than by go-git's session.
func needsShallowPlan(req *packp.UploadPackRequest) bool {
	return req.Depth != nil && !req.Depth.IsZero() || len(req.Shallows) > 0
}

// planShallow validates the request's shallow part and computes the plan.
func planShallow(sto storer.EncodedObjectStorer, req *packp.UploadPackRequest) (*shallowPlan, error) {
	depth := 0
	switch d := req.Depth.(type) {
	case nil:
	case packp.DepthCommits:
		depth = int(d)
		if depth < 0 {
			return nil, fmt.Errorf("upload-pack: invalid deepen %d", depth)
		}
	case packp.DepthSince:
		return nil, errors.New("upload-pack: deepen-since is not supported (the server does not advertise it)")
	case packp.DepthReference:
		return nil, errors.New("upload-pack: deepen-not is not supported (the server does not advertise it)")
	default:
		return nil, fmt.Errorf("upload-pack: unsupported deepen request %T", d)
	}
	p := &shallowPlan{deepen: depth > 0, boundary: map[plumbing.Hash]bool{}}
	// The client's shallow commits. Unknown ones are skipped, as git
	// does: the client may be shallow against another server.
	var client []*object.Commit
	isClient := map[plumbing.Hash]bool{}
	for _, h := range req.Shallows {
		o, err := sto.EncodedObject(plumbing.AnyObject, h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("upload-pack: read shallow %s: %w", h, err)
		}
		c, err := object.DecodeCommit(sto, o)
		if err != nil {
			return nil, fmt.Errorf("upload-pack: invalid shallow object %s: not a commit", h)
		}
		client = append(client, c)
		isClient[h] = true
		p.boundary[h] = true
	}
	if depth == 0 {
		return p, nil
	}
	notShallow := map[plumbing.Hash]bool{}
	if depth >= gitInfiniteDepth {
		// --unshallow: every commit the client has as shallow gets its
		// whole history, and nothing new is shallow.
		for _, c := range client {
			notShallow[c.Hash] = true
		}
	} else {
		// Breadth first, so a commit's depth is its shortest distance
		// from a want (a want is at depth 1).
		type item struct {
			c *object.Commit
			d int
		}
		var queue []item
		seen := map[plumbing.Hash]bool{}
		if req.Capabilities.Supports(capability.DeepenRelative) {
			// Counted from the client's shallow commits, which are at
			// depth 1: N more generations below them.
			depth++
			for _, c := range client {
				seen[c.Hash] = true
				queue = append(queue, item{c, 1})
			}
		} else {
			for _, w := range req.Wants {
				c, err := peelToCommit(sto, w)
				if err != nil {
					return nil, err
				}
				if c != nil && !seen[c.Hash] {
					seen[c.Hash] = true
					queue = append(queue, item{c, 1})
				}
			}
		}
		for len(queue) > 0 {
			it := queue[0]
			queue = queue[1:]
			if it.d >= depth {
				p.boundary[it.c.Hash] = true
				if !isClient[it.c.Hash] {
					p.shallow = append(p.shallow, it.c.Hash)
				}
				continue
			}
			notShallow[it.c.Hash] = true
			for _, ph := range it.c.ParentHashes {
				if seen[ph] {
					continue
				}
				seen[ph] = true
				pc, err := object.GetCommit(sto, ph)
				if err != nil {
					return nil, fmt.Errorf("upload-pack: read commit %s: %w", ph, err)
				}
				queue = append(queue, item{pc, it.d + 1})
			}
		}
	}
	for _, c := range client {
		if notShallow[c.Hash] {
			p.unshallow = append(p.unshallow, c.Hash)
			p.extraWants = append(p.extraWants, c.ParentHashes...)
		}
	}
	return p, nil
}

// encodeSection writes the shallow section of a response: shallow and
// unshallow lines and a flush. Without a depth there is no section.
func (p *shallowPlan) encodeSection(w io.Writer) error {
	if !p.deepen {
		return nil
	}
	su := packp.ShallowUpdate{Shallows: p.shallow, Unshallows: p.unshallow}
	return su.Encode(w)
}

// peelToCommit follows tags from h to a commit; nil if it names a tree
// or a blob, which have no history to cut.
func peelToCommit(sto storer.EncodedObjectStorer, h plumbing.Hash) (*object.Commit, error) {
	for range 10 {
		o, err := sto.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return nil, fmt.Errorf("upload-pack: read %s: %w", h, err)
		}
		switch o.Type() {
		case plumbing.CommitObject:
			return object.DecodeCommit(sto, o)
		case plumbing.TagObject:
			tag, err := object.DecodeTag(sto, o)
			if err != nil {
				return nil, fmt.Errorf("upload-pack: read tag %s: %w", h, err)
			}
			h = tag.Target
		default:
			return nil, nil
		}
	}
	return nil, fmt.Errorf("upload-pack: tag chain at %s is too deep", h)
}

// shallowObjects lists the objects a shallow fetch sends: those reachable
// from the wants without crossing the boundary, less those reachable the
// same way from the common haves (which the client has, down to its own
// shallow commits).
func shallowObjects(ctx context.Context, sto storer.EncodedObjectStorer, wants, haves []plumbing.Hash, boundary map[plumbing.Hash]bool) ([]plumbing.Hash, error) {
	w := &objectWalk{ctx: ctx, sto: sto, boundary: boundary, commits: map[plumbing.Hash]bool{}, objects: map[plumbing.Hash]bool{}}
	for _, h := range haves {
		if err := w.walk(h); err != nil {
			return nil, err
		}
	}
	w.have = w.objects
	w.haveCommits = w.commits
	w.objects, w.commits = map[plumbing.Hash]bool{}, map[plumbing.Hash]bool{}
	for _, h := range wants {
		if err := w.walk(h); err != nil {
			return nil, err
		}
	}
	return w.out, nil
}

// objectWalk collects reachable objects. In its second pass (have set)
// it skips what the first pass found and lists the rest in out.
type objectWalk struct {
	// ctx ends the walk when the client has gone.
	ctx      context.Context
	sto      storer.EncodedObjectStorer
	boundary map[plumbing.Hash]bool
	// commits and objects are what this pass visited.
	commits, objects map[plumbing.Hash]bool
	// have and haveCommits are the first pass's result; nil during it.
	have, haveCommits map[plumbing.Hash]bool
	out               []plumbing.Hash
}

func (w *objectWalk) add(h plumbing.Hash) bool {
	if w.objects[h] || w.have[h] {
		return false
	}
	w.objects[h] = true
	if w.have != nil {
		w.out = append(w.out, h)
	}
	return true
}

// walk visits h (any object type) and what it reaches.
func (w *objectWalk) walk(h plumbing.Hash) error {
	o, err := w.sto.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return fmt.Errorf("upload-pack: read %s: %w", h, err)
	}
	switch o.Type() {
	case plumbing.CommitObject:
		return w.walkCommits(h)
	case plumbing.TagObject:
		if !w.add(h) {
			return nil
		}
		tag, err := object.DecodeTag(w.sto, o)
		if err != nil {
			return fmt.Errorf("upload-pack: read tag %s: %w", h, err)
		}
		return w.walk(tag.Target)
	case plumbing.TreeObject:
		return w.walkTree(h)
	default:
		w.add(h)
		return nil
	}
}

// walkCommits visits the history below a commit, stopping at boundary
// commits (their parents are not walked) and, in the second pass, at
// commits the client has.
func (w *objectWalk) walkCommits(start plumbing.Hash) error {
	stack := []plumbing.Hash{start}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if w.commits[h] || w.haveCommits[h] {
			continue
		}
		w.commits[h] = true
		if err := w.ctx.Err(); err != nil {
			return err
		}
		c, err := object.GetCommit(w.sto, h)
		if err != nil {
			return fmt.Errorf("upload-pack: read commit %s: %w", h, err)
		}
		w.add(h)
		if err := w.walkTree(c.TreeHash); err != nil {
			return err
		}
		if !w.boundary[h] {
			stack = append(stack, c.ParentHashes...)
		}
	}
	return nil
}

// walkTree visits a tree and everything in it. A tree already visited
// (or, in the second pass, one the client has) is skipped whole.
func (w *objectWalk) walkTree(h plumbing.Hash) error {
	if !w.add(h) {
		return nil
	}
	t, err := object.GetTree(w.sto, h)
	if err != nil {
		return fmt.Errorf("upload-pack: read tree %s: %w", h, err)
	}
	for _, e := range t.Entries {
		switch e.Mode {
		case filemode.Submodule:
			// A gitlink names a commit of another repository.
		case filemode.Dir:
			if err := w.walkTree(e.Hash); err != nil {
				return err
			}
		default:
			w.add(e.Hash)
		}
	}
	return nil
}

// sendShallowPack writes the pack of a shallow fetch.
func sendShallowPack(ctx context.Context, sto storer.EncodedObjectStorer, plan *shallowPlan, wants, common []plumbing.Hash, out io.Writer) error {
	objs, err := shallowObjects(ctx, sto, append(append([]plumbing.Hash(nil), wants...), plan.extraWants...), common, plan.boundary)
	if err != nil {
		return err
	}
	// An empty pack is a valid answer: deepening a history the client
	// already has in full sends nothing, and git accepts that.
	if _, err := packfile.NewEncoder(out, sto, false).Encode(objs, 10); err != nil {
		return fmt.Errorf("upload-pack: send pack: %w", err)
	}
	return nil
}
