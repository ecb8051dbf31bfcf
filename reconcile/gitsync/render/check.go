package render

import (
	"fmt"
	"path"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	kustypes "sigs.k8s.io/kustomize/api/types"
)

// checker walks every kustomization reachable from the one being built,
// before kustomize runs, and:
//   - refuses remote bases and http(s) files: kustomize would clone with
//     the git binary or fetch over HTTP, and krusty offers no switch to stop
//     it (Flux stops it with --no-remote-bases; Skiff always does);
//   - refuses references that are absolute or climb out of the root;
//   - refuses Helm chart inflation and non-builtin plugins (ErrUnsupported);
//   - decodes every resource file with file:line errors and tags each
//     object with its source (see decodeManifests).
type checker struct {
	t        *tree
	seenKust map[string]bool
	seenRes  map[string]bool
}

// kustomizationDir checks the kustomization in dir; from names the file
// that referenced it, for the error when there is none.
func (c *checker) kustomizationDir(dir, from string, fromLine int) error {
	if c.seenKust[dir] {
		return nil // kustomize reports cycles itself
	}
	c.seenKust[dir] = true
	file := findKustomization(c.t, dir)
	if file == "" {
		return fileErr(from, fromLine, fmt.Errorf("directory %s has no kustomization.yaml", dir))
	}
	kus, err := readKustomization(c.t, file)
	if err != nil {
		return err
	}
	data, _ := c.t.read(file)
	docs, _ := parseDocuments(file, data)
	var top *yaml.Node
	if len(docs) > 0 {
		top = docs[0].Content[0]
	}
	line := func(field, value string) int { return entryLine(top, field, value) }

	if len(kus.HelmCharts) > 0 || len(kus.HelmChartInflationGenerator) > 0 || kus.HelmGlobals != nil {
		return fileErr(file, line("helmCharts", ""), fmt.Errorf("helm chart inflation is %w", ErrUnsupported))
	}
	for _, r := range kus.Resources {
		if err := c.resource(dir, file, line("resources", r), r, true); err != nil {
			return err
		}
	}
	for _, r := range kus.Components {
		if err := c.resource(dir, file, line("components", r), r, false); err != nil {
			return err
		}
	}
	for field, list := range map[string][]string{"generators": kus.Generators, "transformers": kus.Transformers, "validators": kus.Validators} {
		for _, g := range list {
			if strings.Contains(g, "\n") {
				if err := checkPluginConfig(file, line(field, ""), []byte(g)); err != nil {
					return err
				}
				continue // inline plugin configuration
			}
			if err := c.plugin(dir, file, line(field, g), g); err != nil {
				return err
			}
		}
	}

	// Patch and replacement files are YAML (or JSON) kustomize parses
	// without naming the file in its errors: check their syntax here.
	var yamlFiles []string
	for _, p := range kus.Patches {
		yamlFiles = append(yamlFiles, p.Path)
	}
	for _, p := range kus.PatchesJson6902 {
		yamlFiles = append(yamlFiles, p.Path)
	}
	for _, p := range kus.PatchesStrategicMerge {
		if !strings.Contains(string(p), "\n") {
			yamlFiles = append(yamlFiles, string(p))
		}
	}
	for _, r := range kus.Replacements {
		yamlFiles = append(yamlFiles, r.Path)
	}
	for _, f := range yamlFiles {
		if f == "" {
			continue
		}
		p, err := c.local(dir, f)
		if err != nil {
			return fileErr(file, 0, fmt.Errorf("%q: %w", f, err))
		}
		if !c.t.isFile(p) {
			continue // kustomize reports what is missing
		}
		data, err := c.t.read(p)
		if err != nil {
			return fileErr(p, 0, err)
		}
		if _, err := parseDocuments(p, data); err != nil {
			return err
		}
	}

	// Other files kustomize loads by path: they only need to be local.
	files := yamlFiles
	files = append(files, kus.Crds...)
	files = append(files, kus.Configurations...)
	if p := kus.OpenAPI["path"]; p != "" {
		files = append(files, p)
	}
	for _, g := range kus.ConfigMapGenerator {
		files = append(files, kvFiles(g.KvPairSources)...)
	}
	for _, g := range kus.SecretGenerator {
		files = append(files, kvFiles(g.KvPairSources)...)
	}
	for _, f := range files {
		if f == "" {
			continue
		}
		if _, err := c.local(dir, f); err != nil {
			return fileErr(file, 0, fmt.Errorf("%q: %w", f, err))
		}
	}
	return nil
}

func kvFiles(s kustypes.KvPairSources) []string {
	out := append([]string{}, s.EnvSources...)
	if s.EnvSource != "" {
		out = append(out, s.EnvSource)
	}
	for _, f := range s.FileSources {
		// "[key=]path"
		if i := strings.Index(f, "="); i >= 0 {
			f = f[i+1:]
		}
		out = append(out, f)
	}
	return out
}

// local resolves a reference against dir and refuses it when it is remote,
// absolute or outside the root.
func (c *checker) local(dir, ref string) (string, error) {
	if strings.Contains(ref, "://") {
		return "", ErrRemote
	}
	if path.IsAbs(ref) {
		return "", fmt.Errorf("absolute path: %w", ErrOutsideRoot)
	}
	return cleanRelative(path.Join(dir, ref))
}

// resource checks a resources/components entry: a file is decoded and
// tagged, a directory must hold a kustomization (checked in turn).
func (c *checker) resource(dir, file string, line int, ref string, filesOK bool) error {
	p, err := c.local(dir, ref)
	if err != nil {
		return fileErr(file, line, fmt.Errorf("%q: %w", ref, err))
	}
	switch {
	case c.t.isDir(p):
		return c.kustomizationDir(p, file, line)
	case c.t.isFile(p) && filesOK:
		if c.seenRes[p] {
			return nil
		}
		c.seenRes[p] = true
		data, err := c.t.read(p)
		if err != nil {
			return fileErr(p, 0, err)
		}
		tagged, err := decodeManifests(p, data)
		if err != nil {
			return err
		}
		return c.t.write(p, tagged)
	case c.t.isFile(p):
		return fileErr(file, line, fmt.Errorf("component %q must be a directory", ref))
	case looksRemote(ref):
		return fileErr(file, line, fmt.Errorf("%q is not in the source and looks like a remote base: %w", ref, ErrRemote))
	}
	return fileErr(file, line, fmt.Errorf("%q: no such file or directory in the source", ref))
}

// plugin checks a generators/transformers/validators entry: a directory is
// a kustomization of plugin configs, a file must hold builtin plugin
// configs only.
func (c *checker) plugin(dir, file string, line int, ref string) error {
	p, err := c.local(dir, ref)
	if err != nil {
		return fileErr(file, line, fmt.Errorf("%q: %w", ref, err))
	}
	if c.t.isDir(p) {
		return c.kustomizationDir(p, file, line)
	}
	if !c.t.isFile(p) {
		if looksRemote(ref) {
			return fileErr(file, line, fmt.Errorf("%q: %w", ref, ErrRemote))
		}
		return fileErr(file, line, fmt.Errorf("%q: no such file or directory in the source", ref))
	}
	data, err := c.t.read(p)
	if err != nil {
		return fileErr(p, 0, err)
	}
	return checkPluginConfig(p, 0, data)
}

// checkPluginConfig accepts kustomize's builtin plugins (apiVersion
// "builtin") and refuses exec, Go and KRM-function plugins, which would
// run code from the repository.
func checkPluginConfig(file string, line int, data []byte) error {
	docs, err := parseDocuments(file, data)
	if err != nil {
		return err
	}
	for _, d := range docs {
		n := d.Content[0]
		if v := scalarValue(n, "apiVersion"); v != "builtin" {
			l := line
			if l == 0 {
				l = n.Line
			}
			return fileErr(file, l, fmt.Errorf("plugin %s %s: only kustomize's builtin generators and transformers are supported, external plugins are %w",
				v, scalarValue(n, "kind"), ErrUnsupported))
		}
	}
	return nil
}

// looksRemote says whether a reference that is not in the source has the
// shape of a kustomize remote base (host/org/repo, git@host:…, ?ref=).
func looksRemote(ref string) bool {
	if strings.Contains(ref, "://") || strings.HasPrefix(ref, "git@") || strings.Contains(ref, "?ref=") || strings.Contains(ref, "?version=") {
		return true
	}
	seg := strings.Split(ref, "/")
	return len(seg) >= 3 && strings.Contains(seg[0], ".") && seg[0] != "." && seg[0] != ".."
}

// entryLine finds the line of value in the sequence under field of a
// kustomization, or of field itself when value is "", or 0.
func entryLine(top *yaml.Node, field, value string) int {
	if top == nil {
		return 0
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != field {
			continue
		}
		if value == "" {
			return top.Content[i].Line
		}
		for _, it := range top.Content[i+1].Content {
			if it.Value == value {
				return it.Line
			}
		}
		return top.Content[i].Line
	}
	return 0
}
