package source

import (
	"bufio"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// IgnoreFile is the per-directory ignore file Flux reads, in .gitignore
// syntax, scoped to the directory that holds it.
const IgnoreFile = ".sourceignore"

// DefaultExcludes are the patterns Flux's source-controller leaves out of
// every GitRepository artifact: VCS metadata, binary media and archives, CI
// configuration, and tool configs that are not Kubernetes manifests. User
// patterns come after them, so a "!" pattern can bring one back.
var defaultExcludes = []string{
	// VCS
	".git/", ".gitignore", ".gitmodules", ".gitattributes",
	// media and archives
	"*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip",
	// CI
	".github/", ".circleci/", ".travis.yml", ".gitlab-ci.yml", "appveyor.yml",
	".drone.yml", "cloudbuild.yaml", "codeship-services.yml", "codeship-steps.yml",
	// other tools
	"**/.goreleaser.yml", "**/.sops.yaml", "**/.flux.yaml",
}

// DefaultExcludes returns a copy of the default exclusion patterns, for
// callers that want to show them to users.
func DefaultExcludes() []string { return append([]string(nil), defaultExcludes...) }

// ignoreRules accumulates patterns in precedence order (later wins).
type ignoreRules struct {
	patterns []gitignore.Pattern
}

func newIgnoreRules() *ignoreRules {
	r := &ignoreRules{}
	for _, p := range defaultExcludes {
		r.patterns = append(r.patterns, gitignore.ParsePattern(p, nil))
	}
	return r
}

// add parses text in .gitignore syntax; domain is the slash-separated
// directory the patterns are relative to (nil for the root).
func (r *ignoreRules) add(text string, domain []string) {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r.patterns = append(r.patterns, gitignore.ParsePattern(line, domain))
	}
}

func (r *ignoreRules) matcher() gitignore.Matcher { return gitignore.NewMatcher(r.patterns) }

// splitPath turns "a/b/c" into its components; "" is the root.
func splitPath(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
