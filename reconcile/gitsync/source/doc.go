// Package source fetches the content of a GitOps source into a directory:
// a git repository at a ref, as Flux's GitRepository describes it, or a
// plain local folder (a Skiff extension). It also watches local sources so
// a save or a commit can trigger a sync at once.
//
// It is a library with no Kubernetes types: the GitRepository controller
// (reconcile/gitsync) maps spec fields and the secretRef's data onto a
// Request, calls Fetch, and writes the Artifact into status. Nothing here
// talks to the API server, keeps state between calls, or logs; credentials
// never appear in errors (passwords in URLs are redacted).
//
// # Fetch
//
// Fetch(ctx, Request) resolves Request.Ref and writes the kept files of the
// resulting commit into Request.Dir:
//
//  1. Ref precedence is Flux's: Commit > Name > SemVer > Tag > Branch; an
//     empty Ref is branch "master" (DefaultBranch), Flux's default.
//  2. The remote's refs are listed (ls-remote). If the resolved revision
//     equals Request.LastRevision the result is Unchanged and nothing is
//     downloaded. A pinned Commit needs no listing at all.
//  3. Otherwise only the resolved ref is fetched, depth 1, into a private
//     temporary bare repository that is deleted on return. Depth 1 is
//     asked for only when the server advertises the "shallow" capability;
//     a server without it (go-git's upload-pack, for one) cannot cut
//     history, so the ref is fetched whole. A Commit is
//     looked up in full history (of its Branch when given, else of all
//     branches and tags), so it is not shallow. Tags are not followed and
//     submodules are never fetched (gitlinks are skipped).
//  4. The commit's tree is filtered by the ignore rules and checked against
//     Request.MaxSize before anything is written; then the kept files are
//     written to Dir (created if missing, must be empty) and hashed.
//
// A file:// URL naming a git repository (work tree or bare) is read in
// place, without a clone; only committed content counts, uncommitted edits
// in a work tree are not part of the source. A file:// URL naming any
// other directory is a folder source: its kept files are copied and the
// revision is their digest, "sha256:<hex>".
//
// A bare Commit (no Branch) is searched in every branch and tag; a commit
// reachable only from other refs (refs/pull/...) is not found: name such a
// ref with Ref.Name instead.
//
// Typical use by a controller:
//
//	art, err := source.Fetch(ctx, source.Request{
//		URL: spec.URL, Ref: source.Ref{Branch: "main"}, Secret: secret.Data,
//		Dir: tmpDir, Ignore: spec.Ignore, MaxSize: 64 << 20,
//		LastRevision: status.Artifact.Revision,
//	})
//	switch {
//	case err != nil: // Ready=False; errors.Is(err, source.ErrInvalidRequest) means stalled
//	case art.Unchanged: // nothing to do
//	default: // render tmpDir, record art.Revision and art.Digest
//	}
//
// Revisions are Flux's: "<branch>@sha1:<hex>", "<tag>@sha1:<hex>" (also for
// semver, naming the chosen tag), "<full ref name>@sha1:<hex>" for Name,
// "sha1:<hex>" for a Commit alone and "<branch>@sha1:<hex>" for a Commit
// with a Branch. The hex is always the commit, annotated tags are peeled.
//
// Semver ranges are parsed by this package (semver.go), in the
// Masterminds/semver syntax Flux accepts: comparisons, ~, ^, x-ranges,
// hyphen ranges, "||". Pre-release tags match only ranges that name a
// pre-release.
//
// # Credentials
//
// Request.Secret is the secretRef's data. https/http: "username" and
// "password" (basic) or "bearerToken"; "ca.crt" (or the older "caFile")
// adds a CA for the server certificate. Credentials over plain http are
// refused unless AllowInsecureHTTPCredentials is set. ssh: "identity" (a
// PEM private key, decrypted with "password" if set) and "known_hosts",
// both required: a host whose key is not in known_hosts is refused
// (ErrHostKey), and a secret without known_hosts is an ErrInvalidRequest
// naming the missing key; there is no trust-on-first-use.
//
// # Ignore rules
//
// As in Flux's source-controller, in precedence order (later wins):
// DefaultExcludes (.git/, .gitignore, .gitmodules, .gitattributes, common
// image and archive extensions, CI configs such as .github/ and
// .gitlab-ci.yml, and .goreleaser.yml, .sops.yaml, .flux.yaml), then every
// .sourceignore file in the tree, scoped to its directory, then
// Request.Ignore (spec.ignore). All use .gitignore syntax, so "!pattern"
// re-includes. An excluded directory is not descended into.
//
// # Artifact digest
//
// Artifact.Digest is "sha256:<hex>" over one line per kept path in byte
// order of the slash-separated path: "<kind> <sha256 of content> <path>",
// kind being f (file), x (executable) or l (symlink, content = target). It
// depends only on the kept tree, so a git repository and a folder with the
// same files give the same digest.
//
// # Safety
//
// Entry names that would escape Dir, and symlinks that are absolute or
// resolve outside the root, fail the whole fetch with *OutsideRootError;
// files are written and (for folders) read through os.Root. A fetch that
// exceeds MaxSize fails with *SizeLimitError before writing when sizes are
// known, and stops copying when a folder's file grows while being copied.
//
// # Errors
//
// Errors wrap ErrInvalidRequest (permanent: fix the spec or secret),
// ErrAuth (http 401/403), ErrHostKey, ErrRefNotFound, ErrTimeout
// (Request.Timeout, default 60s) or are *SizeLimitError/*OutsideRootError;
// anything else (network, server) is transient. Test with errors.Is/As.
//
// # Watch
//
// Watch / NewWatcher+Run use fsnotify (inotify on Linux). A folder is
// watched recursively, and directories created later are added as they
// appear; a git repository is watched on HEAD, packed-refs and refs/, so a
// commit (or a push into a local bare repository) triggers it while
// work-tree edits do not. Events are debounced (DefaultDebounce, 100 ms of
// quiet, at most 1 s after the first event) so a burst is one callback.
//
// Linux limits: every watched directory costs one inotify watch, counted
// per user against fs.inotify.max_user_watches (8192 on older kernels, up
// to about 1M on newer ones, scaled with memory), and every Watcher is one
// inotify instance against fs.inotify.max_user_instances (often 128).
// Exhausting them makes NewWatcher fail with an error naming the sysctl to
// raise; a directory created after the limit is hit is not watched.
// Kernel queue overflow (fs.inotify.max_queued_events) is treated as a
// change. inotify does not see changes made on other hosts to network
// filesystems. If the watched root itself is removed, the watch ends
// silently; the interval-based fetch remains the safety net.
package source
