package render

import (
	"fmt"
	"path"
	"strings"

	"sigs.k8s.io/kustomize/api/konfig"
	kustypes "sigs.k8s.io/kustomize/api/types"
	sigsyaml "sigs.k8s.io/yaml"
)

// findKustomization returns the kustomization file in dir, or "".
func findKustomization(t *tree, dir string) string {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		if f := path.Join(dir, name); t.isFile(f) {
			return f
		}
	}
	return ""
}

// ensureKustomization returns dir's kustomization file, generating one the
// way Flux does when there is none: every .yaml/.yml file under dir,
// recursively, in file-name order, except that a subdirectory holding its
// own kustomization file is listed as one directory resource and not
// entered. Flux lists only .yaml and .yml files (not .json), and every one
// must decode as Kubernetes objects; Skiff does the same (the decoding
// happens in the checker, which reports file:line).
func ensureKustomization(t *tree, dir string) (string, bool, error) {
	if f := findKustomization(t, dir); f != "" {
		return f, false, nil
	}
	var resources []string
	var scan func(d string)
	scan = func(d string) {
		for _, name := range t.dirs[d] {
			p := path.Join(d, name)
			if t.isDir(p) {
				if findKustomization(t, p) != "" {
					resources = append(resources, "./"+relTo(dir, p))
					continue
				}
				scan(p)
				continue
			}
			if ext := path.Ext(name); ext == ".yaml" || ext == ".yml" {
				resources = append(resources, "./"+relTo(dir, p))
			}
		}
	}
	scan(dir)
	kus := kustypes.Kustomization{
		TypeMeta:  kustypes.TypeMeta{APIVersion: kustypes.KustomizationVersion, Kind: kustypes.KustomizationKind},
		Resources: resources,
	}
	data, err := sigsyaml.Marshal(kus)
	if err != nil {
		return "", false, fmt.Errorf("generate kustomization for %s: %w", dir, err)
	}
	f := path.Join(dir, konfig.DefaultKustomizationFileName())
	if err := t.write(f, data); err != nil {
		return "", false, fmt.Errorf("generate kustomization for %s: %w", dir, err)
	}
	return f, true, nil
}

func relTo(base, p string) string {
	if base == "." {
		return p
	}
	return strings.TrimPrefix(p, base+"/")
}

// readKustomization decodes a kustomization file strictly, as kustomize
// does, after a yaml.v3 pass that gives syntax errors a line.
func readKustomization(t *tree, file string) (*kustypes.Kustomization, error) {
	data, err := t.read(file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	if _, err := parseDocuments(file, data); err != nil {
		return nil, err
	}
	var kus kustypes.Kustomization
	if err := kus.Unmarshal(data); err != nil {
		return nil, fileErr(file, 0, err)
	}
	kus.FixKustomization()
	return &kus, nil
}

// applySpec writes the Kustomization spec fields into the kustomization
// file, as Flux's generator does: targetNamespace, namePrefix and
// nameSuffix replace the file's values, patches and components are
// appended, an image replaces the file's entry of the same name or is
// appended. commonMetadata is not written here: Flux applies it to the
// built objects (see setCommonMetadata). The rewrite stays in memory.
func applySpec(t *tree, file string, opts Options) error {
	if opts.TargetNamespace == "" && opts.NamePrefix == "" && opts.NameSuffix == "" &&
		len(opts.Patches) == 0 && len(opts.Images) == 0 && len(opts.Components) == 0 {
		return nil
	}
	kus, err := readKustomization(t, file)
	if err != nil {
		return err
	}
	if opts.TargetNamespace != "" {
		kus.Namespace = opts.TargetNamespace
	}
	if opts.NamePrefix != "" {
		kus.NamePrefix = opts.NamePrefix
	}
	if opts.NameSuffix != "" {
		kus.NameSuffix = opts.NameSuffix
	}
	for _, p := range opts.Patches {
		kp := kustypes.Patch{Patch: p.Patch}
		if s := p.Target; s != nil {
			kp.Target = &kustypes.Selector{LabelSelector: s.LabelSelector, AnnotationSelector: s.AnnotationSelector}
			kp.Target.Group, kp.Target.Version, kp.Target.Kind = s.Group, s.Version, s.Kind
			kp.Target.Name, kp.Target.Namespace = s.Name, s.Namespace
		}
		kus.Patches = append(kus.Patches, kp)
	}
	for _, img := range opts.Images {
		ki := kustypes.Image{Name: img.Name, NewName: img.NewName, NewTag: img.NewTag, Digest: img.Digest}
		replaced := false
		for i := range kus.Images {
			if kus.Images[i].Name == img.Name {
				kus.Images[i], replaced = ki, true
				break
			}
		}
		if !replaced {
			kus.Images = append(kus.Images, ki)
		}
	}
	kus.Components = append(kus.Components, opts.Components...)
	data, err := sigsyaml.Marshal(kus)
	if err != nil {
		return fmt.Errorf("rewrite %s: %w", file, err)
	}
	return t.write(file, data)
}
