package source

import (
	"errors"
	"fmt"
	"time"
)

// DefaultBranch is the branch fetched when a Request names no ref at all,
// as Flux's GitRepository does when spec.ref is absent.
const DefaultBranch = "master"

// DefaultTimeout bounds one Fetch when Request.Timeout is zero; it is
// GitRepository's documented default for spec.timeout.
const DefaultTimeout = 60 * time.Second

// Ref selects what to fetch, field for field as GitRepository spec.ref.
// When several fields are set the most specific wins, in Flux's order:
// Commit > Name > SemVer > Tag > Branch. An empty Ref means Branch
// DefaultBranch.
type Ref struct {
	// Branch to check out, e.g. "main".
	Branch string
	// Tag to check out, e.g. "v1.2.0".
	Tag string
	// SemVer is a range; the highest tag satisfying it is checked out.
	SemVer string
	// Name is a full reference, e.g. "refs/heads/main", "refs/tags/v1",
	// "refs/pull/7/head".
	Name string
	// Commit is a full SHA-1. With Branch also set, the commit is looked up
	// in that branch's history and the revision names the branch.
	Commit string
}

// Request describes one fetch. Only URL and Dir are required.
type Request struct {
	// URL of the source: https://, http://, ssh:// (or scp-like
	// user@host:path), or file://. A file:// URL naming a directory that is
	// not a git repository is a plain folder source.
	URL string
	// Ref to resolve; ignored for folder sources.
	Ref Ref
	// Secret is the data of the Secret named by GitRepository
	// spec.secretRef, exactly as the API returns it. Keys used:
	// username, password, bearerToken, identity, known_hosts, ca.crt,
	// caFile. Nil means anonymous.
	Secret map[string][]byte
	// Dir receives the kept files of the fetched revision. It is created if
	// missing and must be empty; the caller owns it and removes it. Nothing
	// else (no .git) is written there.
	Dir string
	// Ignore is GitRepository spec.ignore: extra patterns in .gitignore
	// syntax, appended after the defaults and the .sourceignore files so
	// they take precedence (a "!" pattern re-includes a default exclusion).
	Ignore *string
	// Timeout for the whole fetch; DefaultTimeout when zero.
	Timeout time.Duration
	// MaxSize bounds the total bytes of kept files; zero means no limit.
	MaxSize int64
	// LastRevision is the revision of the artifact the caller already has.
	// When the ref still resolves to it, Fetch returns an Unchanged artifact
	// without downloading or writing anything (git sources only). Pass it
	// only if the caller's artifact was built with the same Ignore rules.
	LastRevision string
	// AllowInsecureHTTPCredentials permits sending credentials over plain
	// http://. Off by default: Fetch refuses rather than leak a secret.
	AllowInsecureHTTPCredentials bool
}

// Kind says what sort of source an Artifact came from.
type Kind string

const (
	// KindGit is a git repository reached over any transport.
	KindGit Kind = "git"
	// KindFolder is a plain local directory (Skiff extension).
	KindFolder Kind = "folder"
)

// Artifact is the result of a Fetch.
type Artifact struct {
	Kind Kind
	// Revision in Flux's format: "main@sha1:<hex>", "v1.0.0@sha1:<hex>",
	// "refs/pull/1/head@sha1:<hex>", "sha1:<hex>" for a bare commit, and
	// "sha256:<hex>" (the Digest) for a folder source.
	Revision string
	// Unchanged is true when Revision equals Request.LastRevision. For a
	// git source nothing was downloaded and Dir was not touched, and Digest,
	// Size and Files are zero. A folder source is always copied (its
	// revision is a hash of the content), so Dir is complete either way.
	Unchanged bool
	// Digest is "sha256:<hex>" over the kept files: paths, modes and
	// contents, in path order. Equal trees give equal digests whatever
	// their history.
	Digest string
	// Size is the total bytes of the kept files; Files their count.
	Size  int64
	Files int
}

// Sentinel errors, tested with errors.Is. Errors from Fetch wrap one of
// them where the cause is known, plus the underlying library error.
var (
	// ErrInvalidRequest: the request can never succeed as given (bad URL,
	// malformed ref or semver range, contradictory or missing secret keys).
	// Retrying without a spec change is pointless.
	ErrInvalidRequest = errors.New("invalid source request")
	// ErrAuth: the server refused the credentials, or demanded some.
	ErrAuth = errors.New("authentication failed")
	// ErrHostKey: the ssh server's key is not in known_hosts, or differs.
	ErrHostKey = errors.New("ssh host key verification failed")
	// ErrRefNotFound: the branch, tag, name, commit or semver range does
	// not resolve in the repository.
	ErrRefNotFound = errors.New("reference not found")
	// ErrTimeout: Request.Timeout elapsed.
	ErrTimeout = errors.New("source fetch timed out")
)

// SizeLimitError reports that the kept files exceed Request.MaxSize.
type SizeLimitError struct {
	Limit int64 // Request.MaxSize
	Size  int64 // bytes counted when the limit was crossed
}

func (e *SizeLimitError) Error() string {
	return fmt.Sprintf("source exceeds the size limit of %d bytes (at least %d bytes of files kept)", e.Limit, e.Size)
}

// OutsideRootError reports a symlink whose target leaves the source root,
// or a path that would be written outside Dir. Nothing outside the root is
// ever read or written; the whole fetch fails.
type OutsideRootError struct {
	Path   string // slash-separated path inside the source
	Target string // the symlink target, if a symlink
}

func (e *OutsideRootError) Error() string {
	if e.Target != "" {
		return fmt.Sprintf("symlink %q -> %q points outside repository root", e.Path, e.Target)
	}
	return fmt.Sprintf("path %q is outside repository root", e.Path)
}
