package krew

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// The manifest's schema: krew's index.Plugin (sigs.k8s.io/krew/pkg/index),
// spelled out here rather than imported, with the same JSON names.
type plugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec pluginSpec `json:"spec"`
}

type pluginSpec struct {
	Version          string     `json:"version"`
	ShortDescription string     `json:"shortDescription"`
	Description      string     `json:"description"`
	Caveats          string     `json:"caveats"`
	Homepage         string     `json:"homepage"`
	Platforms        []platform `json:"platforms"`
}

type platform struct {
	URI      string                `json:"uri"`
	Sha256   string                `json:"sha256"`
	Selector *metav1.LabelSelector `json:"selector"`
	Files    []fileOperation       `json:"files"`
	Bin      string                `json:"bin"`
}

type fileOperation struct {
	From string `json:"from"`
	To   string `json:"to"`
}

var (
	safeName = regexp.MustCompile(`^[\w-]+$`)
	sha256re = regexp.MustCompile(`^[a-f0-9]{64}$`)
	// krew parses versions with a leading v as semver 2.0.
	semverRe = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`)
	// Names Windows cannot have as files; krew refuses them.
	windowsForbidden = []string{"CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
		"LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9"}
	// The platforms the plugin is released for.
	targets = [][2]string{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}}
)

// load decodes a manifest strictly: an unknown field is a mistake krew
// would silently ignore.
func load(b []byte) (*plugin, error) {
	p := &plugin{}
	if err := yaml.UnmarshalStrict(b, p); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	return p, nil
}

// validate applies krew's index validation (ValidatePlugin) and the
// index's review rules, returning every violation.
func validate(name string, p *plugin) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" {
		bad("apiVersion %q is not krew.googlecontainertools.github.com/v1alpha2", p.APIVersion)
	}
	if p.Kind != "Plugin" {
		bad("kind %q is not Plugin", p.Kind)
	}
	if !safeName.MatchString(name) {
		bad("plugin name %q must match %s", name, safeName)
	}
	for _, f := range windowsForbidden {
		if strings.EqualFold(f, name) {
			bad("plugin name %q is reserved on Windows", name)
		}
	}
	if p.Metadata.Name != name {
		bad("metadata.name %q does not match the file name %q", p.Metadata.Name, name)
	}
	switch sd := p.Spec.ShortDescription; {
	case sd == "":
		bad("spec.shortDescription is empty")
	case strings.ContainsAny(sd, "\r\n"):
		bad("spec.shortDescription has a line break")
	case len(sd) > 50:
		// The index's review guideline: it shows in `kubectl krew search`.
		bad("spec.shortDescription is %d characters, keep it within 50", len(sd))
	}
	if !semverRe.MatchString(p.Spec.Version) {
		bad("spec.version %q is not a semantic version with a leading v", p.Spec.Version)
	}
	if len(p.Spec.Platforms) == 0 {
		bad("spec.platforms is empty")
	}
	for i, pl := range p.Spec.Platforms {
		for _, err := range validatePlatform(pl, p.Spec.Version) {
			bad("spec.platforms[%d]: %v", i, err)
		}
	}
	for _, t := range targets {
		matched := 0
		for _, pl := range p.Spec.Platforms {
			if sel, err := metav1.LabelSelectorAsSelector(pl.Selector); err == nil && pl.Selector != nil &&
				sel.Matches(labels.Set{"os": t[0], "arch": t[1]}) {
				matched++
			}
		}
		if matched != 1 {
			bad("%s/%s matches %d platforms, want exactly 1", t[0], t[1], matched)
		}
	}
	return errors.Join(errs...)
}

func validatePlatform(pl platform, version string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case pl.URI == "":
		bad("uri is empty")
	case !strings.HasPrefix(pl.URI, "https://"):
		bad("uri %q is not https", pl.URI)
	case !strings.Contains(pl.URI, "/"+version+"/"):
		bad("uri %q is not of version %s", pl.URI, version)
	}
	switch {
	case pl.Sha256 == "":
		bad("sha256 is empty")
	case !sha256re.MatchString(pl.Sha256):
		bad("sha256 %q must match %s", pl.Sha256, sha256re)
	}
	if pl.Bin == "" {
		bad("bin is empty")
	}
	if pl.Files != nil && len(pl.Files) == 0 {
		bad("files is empty; leave it out to install the whole archive")
	}
	binProvided := pl.Files == nil
	for _, f := range pl.Files {
		if f.From == "" || f.To == "" {
			bad("files entry %+v needs from and to", f)
		}
		if f.From == pl.Bin || path.Join(f.To, path.Base(f.From)) == pl.Bin {
			binProvided = true
		}
	}
	if !binProvided && pl.Bin != "" {
		bad("bin %q is not among the files installed", pl.Bin)
	}
	if pl.Selector == nil {
		bad("selector is missing")
		return errs
	}
	if len(pl.Selector.MatchLabels) == 0 && len(pl.Selector.MatchExpressions) == 0 {
		bad("selector is empty")
	}
	for k := range pl.Selector.MatchLabels {
		if k != "os" && k != "arch" {
			bad("selector key %q is not os or arch", k)
		}
	}
	for _, e := range pl.Selector.MatchExpressions {
		if e.Key != "os" && e.Key != "arch" {
			bad("selector key %q is not os or arch", e.Key)
		}
	}
	return errs
}

func TestManifestIsValid(t *testing.T) {
	b, err := os.ReadFile("skiff.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := load(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate("skiff", p); err != nil {
		t.Errorf("skiff.yaml is not a valid krew manifest:\n%v", err)
	}
}

// TestArchivesMatchManifest checks the digests against the archives `go
// generate` left in bin/krew, when they are there (they are build output,
// made on a release).
func TestArchivesMatchManifest(t *testing.T) {
	b, err := os.ReadFile("skiff.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := load(b)
	if err != nil {
		t.Fatal(err)
	}
	dist := filepath.Join("..", "..", "bin", "krew")
	checked := 0
	for _, pl := range p.Spec.Platforms {
		data, err := os.ReadFile(filepath.Join(dist, path.Base(pl.URI)))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != pl.Sha256 {
			t.Errorf("%s: sha256 %s, manifest says %s (run go generate ./plugin/krew)", path.Base(pl.URI), got, pl.Sha256)
		}
		checked++
	}
	if checked == 0 {
		t.Skipf("no archives in %s (go generate ./plugin/krew makes them)", dist)
	}
}

// The validator must refuse what krew refuses, or the test above proves
// nothing.
func TestValidatorRefusesBrokenManifests(t *testing.T) {
	b, err := os.ReadFile("skiff.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		file   string
		mutate func(p *plugin)
		want   string
	}{
		{"wrong apiVersion", "skiff", func(p *plugin) { p.APIVersion = "krew.googlecontainertools.github.com/v1alpha1" }, "apiVersion"},
		{"wrong kind", "skiff", func(p *plugin) { p.Kind = "Tool" }, "kind"},
		{"name differs from file", "skiff2", func(p *plugin) {}, "does not match the file name"},
		{"unsafe name", "sk iff", func(p *plugin) { p.Metadata.Name = "sk iff" }, "must match"},
		{"windows name", "con", func(p *plugin) { p.Metadata.Name = "con" }, "reserved on Windows"},
		{"no short description", "skiff", func(p *plugin) { p.Spec.ShortDescription = "" }, "shortDescription is empty"},
		{"multi-line short description", "skiff", func(p *plugin) { p.Spec.ShortDescription = "a\nb" }, "line break"},
		{"long short description", "skiff", func(p *plugin) { p.Spec.ShortDescription = strings.Repeat("x", 51) }, "within 50"},
		{"version without v", "skiff", func(p *plugin) { p.Spec.Version = "0.1.0" }, "semantic version"},
		{"no platforms", "skiff", func(p *plugin) { p.Spec.Platforms = nil }, "platforms is empty"},
		{"placeholder digest", "skiff", func(p *plugin) { p.Spec.Platforms[0].Sha256 = "{{ .SHA }}" }, "sha256"},
		{"upper-case digest", "skiff", func(p *plugin) { p.Spec.Platforms[0].Sha256 = strings.ToUpper(p.Spec.Platforms[0].Sha256) }, "sha256"},
		{"http uri", "skiff", func(p *plugin) { p.Spec.Platforms[0].URI = "http://example.com/v0.1.0/x.tar.gz" }, "not https"},
		{"uri of another version", "skiff", func(p *plugin) {
			p.Spec.Platforms[0].URI = strings.Replace(p.Spec.Platforms[0].URI, p.Spec.Version, "v9.9.9", 1)
		}, "not of version"},
		{"no bin", "skiff", func(p *plugin) { p.Spec.Platforms[0].Bin = "" }, "bin is empty"},
		{"bin not installed", "skiff", func(p *plugin) { p.Spec.Platforms[0].Bin = "kubectl-other" }, "not among the files"},
		{"empty files", "skiff", func(p *plugin) { p.Spec.Platforms[0].Files = []fileOperation{} }, "files is empty"},
		{"no selector", "skiff", func(p *plugin) { p.Spec.Platforms[0].Selector = nil }, "selector is missing"},
		{"unsupported selector key", "skiff", func(p *plugin) { p.Spec.Platforms[0].Selector.MatchLabels["distro"] = "debian" }, "not os or arch"},
		{"platform twice", "skiff", func(p *plugin) { p.Spec.Platforms[1] = p.Spec.Platforms[0] }, "matches 2 platforms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := load(b)
			if err != nil {
				t.Fatal(err)
			}
			tc.mutate(p)
			err = validate(tc.file, p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("validate = %v, want an error about %q", err, tc.want)
			}
		})
	}
	if _, err := load(append(b, []byte("  unknownField: 1\n")...)); err == nil {
		t.Error("an unknown field decoded")
	}
}
