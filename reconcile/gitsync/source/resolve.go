package source

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// refTable is what ls-remote (or a local repository) says: each ref's
// target, and for annotated tags the commit they peel to.
type refTable struct {
	refs   map[string]plumbing.Hash
	peeled map[string]plumbing.Hash
}

func (t refTable) commitOf(name string) (plumbing.Hash, bool) {
	if h, ok := t.peeled[name]; ok {
		return h, true
	}
	h, ok := t.refs[name]
	return h, ok
}

// target is a resolved Ref: the ref to fetch (empty for a bare commit),
// the commit it names, and the label the revision string starts with.
type target struct {
	refName plumbing.ReferenceName // fetched and read back after the fetch
	commit  plumbing.Hash
	label   string // "main", "v1.0.0", "refs/pull/1/head", or "" (bare commit)
	full    bool   // needs full history (commit lookup), not depth 1
}

func (t target) revision() string { return revisionOf(t.label, t.commit) }

func revisionOf(label string, h plumbing.Hash) string {
	if label == "" {
		return "sha1:" + h.String()
	}
	return label + "@sha1:" + h.String()
}

// validateRef checks a Ref's syntax before any network traffic, so a typo
// is a permanent ErrInvalidRequest rather than a retried failure.
func validateRef(r Ref) error {
	if r.Commit != "" {
		if len(r.Commit) != 40 {
			return fmt.Errorf("%w: commit %q is not a full 40-character SHA-1", ErrInvalidRequest, r.Commit)
		}
		if _, err := hex.DecodeString(r.Commit); err != nil {
			return fmt.Errorf("%w: commit %q is not hexadecimal", ErrInvalidRequest, r.Commit)
		}
	}
	if r.Name != "" && !strings.HasPrefix(r.Name, "refs/") {
		return fmt.Errorf("%w: ref name %q must be a full reference starting with refs/", ErrInvalidRequest, r.Name)
	}
	if r.SemVer != "" {
		if _, err := parseRange(r.SemVer); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidRequest, err)
		}
	}
	for _, n := range []string{r.Branch, r.Tag, r.Name} {
		if n != "" && !validRefName(n) {
			return fmt.Errorf("%w: %q is not a valid git reference name", ErrInvalidRequest, n)
		}
	}
	return nil
}

// validRefName applies the parts of git check-ref-format that matter for
// building refspecs safely.
func validRefName(n string) bool {
	if n == "" || strings.HasPrefix(n, "/") || strings.HasSuffix(n, "/") || strings.HasSuffix(n, ".lock") {
		return false
	}
	if strings.Contains(n, "..") || strings.Contains(n, "//") || strings.Contains(n, "@{") {
		return false
	}
	for _, c := range n {
		if c < 0x20 || c == 0x7f || strings.ContainsRune(" ~^:?*[\\", c) {
			return false
		}
	}
	return true
}

// pinnedCommit returns the target for a Ref that pins a commit; its
// revision is known without asking the remote.
func pinnedCommit(r Ref) (target, bool) {
	if r.Commit == "" {
		return target{}, false
	}
	t := target{commit: plumbing.NewHash(strings.ToLower(r.Commit)), full: true}
	if r.Branch != "" {
		t.refName = plumbing.NewBranchReferenceName(r.Branch)
		t.label = r.Branch
	}
	return t, true
}

// resolve picks the ref Flux would check out, in Flux's precedence:
// commit > name > semver > tag > branch (default DefaultBranch).
func resolve(r Ref, t refTable) (target, error) {
	if pt, ok := pinnedCommit(r); ok {
		if pt.refName != "" {
			if _, ok := t.refs[pt.refName.String()]; !ok {
				return target{}, fmt.Errorf("%w: branch %q", ErrRefNotFound, r.Branch)
			}
		}
		return pt, nil
	}
	var name plumbing.ReferenceName
	var label, what string
	switch {
	case r.Name != "":
		name, label, what = plumbing.ReferenceName(r.Name), r.Name, "ref"
	case r.SemVer != "":
		tag, err := highestTag(r.SemVer, t)
		if err != nil {
			return target{}, err
		}
		name, label, what = plumbing.NewTagReferenceName(tag), tag, "tag"
	case r.Tag != "":
		name, label, what = plumbing.NewTagReferenceName(r.Tag), r.Tag, "tag"
	default:
		b := r.Branch
		if b == "" {
			b = DefaultBranch
		}
		name, label, what = plumbing.NewBranchReferenceName(b), b, "branch"
	}
	h, ok := t.commitOf(name.String())
	if !ok {
		return target{}, fmt.Errorf("%w: %s %q", ErrRefNotFound, what, label)
	}
	return target{refName: name, commit: h, label: label}, nil
}

// highestTag returns the tag with the highest version in the range. Tags
// that are not versions are skipped; of equal versions ("1.0.0", "v1.0.0")
// the lexically smallest name wins so the choice is stable.
func highestTag(rng string, t refTable) (string, error) {
	r, err := parseRange(rng)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidRequest, err)
	}
	var names []string
	for n := range t.refs {
		if strings.HasPrefix(n, "refs/tags/") {
			names = append(names, strings.TrimPrefix(n, "refs/tags/"))
		}
	}
	sort.Strings(names)
	best, found := "", false
	var bestV version
	for _, n := range names {
		v, err := parseVersion(n)
		if err != nil || !r.ok(v) {
			continue
		}
		if !found || v.compare(bestV) > 0 {
			best, bestV, found = n, v, true
		}
	}
	if !found {
		return "", fmt.Errorf("%w: no tag matches semver range %q", ErrRefNotFound, rng)
	}
	return best, nil
}
