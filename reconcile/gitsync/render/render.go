package render

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
)

// Options is what Render needs: where the fetched source is and the subset
// of a Flux Kustomization's spec that changes what is rendered.
type Options struct {
	// Root is the directory holding the fetched source. Nothing outside it
	// is read.
	Root string
	// Path is spec.path: the directory to build, relative to Root ("" or
	// "./" is the root). Absolute paths and paths climbing out of Root are
	// refused with ErrOutsideRoot.
	Path string

	TargetNamespace string
	NamePrefix      string
	NameSuffix      string
	CommonMetadata  *CommonMetadata
	Patches         []Patch
	Images          []Image
	// Components are paths relative to Path, as in spec.components.
	Components []string

	// MaxBytes caps the bytes copied from Root; 0 means DefaultMaxBytes.
	MaxBytes int64
}

// CommonMetadata is spec.commonMetadata: labels and annotations merged into
// every rendered object's metadata (not into selectors or pod templates).
type CommonMetadata struct {
	Labels      map[string]string
	Annotations map[string]string
}

// Patch is one entry of spec.patches: a strategic merge patch or a JSON6902
// patch (kustomize tells them apart), applied to the objects Target selects,
// or to the object the patch names when Target is nil.
type Patch struct {
	Patch  string
	Target *Selector
}

// Selector is kustomize's patch target selector.
type Selector struct {
	Group              string
	Version            string
	Kind               string
	Name               string
	Namespace          string
	LabelSelector      string
	AnnotationSelector string
}

// Image is one entry of spec.images.
type Image struct {
	Name    string
	NewName string
	NewTag  string
	Digest  string
}

// Source is where a rendered object was written: File relative to the
// source root (forward slashes) and the 1-based line of the object. Both
// are zero for objects kustomize generated (configMapGenerator and the like).
type Source struct {
	File string
	Line int
}

func (s Source) String() string {
	if s.File == "" {
		return "(generated)"
	}
	return s.File + ":" + strconv.Itoa(s.Line)
}

// Result is a rendered revision.
type Result struct {
	// Objects in kustomize's output order, which follows the order of the
	// kustomization files (and, for a generated one, the sorted file
	// names): the same input always gives the same order.
	Objects []*unstructured.Unstructured
	// Sources[i] is where Objects[i] came from.
	Sources []Source
	// Generated is true when Path had no kustomization file and Render
	// generated one from the manifests found under it.
	Generated bool
}

// buildMu serialises kustomize builds: krusty.Run installs its OpenAPI
// schema in kyaml package state, so concurrent builds race (kustomize
// issue 3659). Flux serialises its builds for the same reason.
var buildMu sync.Mutex

// Render builds opts.Path of the source at opts.Root the way Flux's
// kustomize-controller builds a Kustomization, and returns the objects.
func Render(ctx context.Context, opts Options) (*Result, error) {
	dir, err := cleanRelative(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", opts.Path, err)
	}
	for _, c := range opts.Components {
		if _, err := cleanRelative(path.Join(dir, filepath.ToSlash(c))); err != nil || path.IsAbs(filepath.ToSlash(c)) || looksRemote(c) {
			return nil, fmt.Errorf("component %q must be a local path relative to %q: %w", c, opts.Path, ErrOutsideRoot)
		}
	}
	t, err := loadTree(ctx, opts.Root, opts.MaxBytes)
	if err != nil {
		return nil, err
	}
	if !t.isDir(dir) {
		return nil, fmt.Errorf("path %q: not a directory in the source", opts.Path)
	}

	kfile, generated, err := ensureKustomization(t, dir)
	if err != nil {
		return nil, err
	}
	// Check the files as the user wrote them, so that lines in errors are
	// theirs, then write the spec into the kustomization.
	c := &checker{t: t, seenKust: map[string]bool{}, seenRes: map[string]bool{}}
	if err := c.kustomizationDir(dir, "", 0); err != nil {
		return nil, err
	}
	for _, comp := range opts.Components {
		if err := c.resource(dir, "spec.components", 0, comp, false); err != nil {
			return nil, err
		}
	}
	if err := applySpec(t, kfile, opts); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if generated && len(c.seenRes) == 0 && len(c.seenKust) == 1 && len(opts.Components) == 0 {
		// kustomize would say "kustomization.yaml is empty" about a file
		// the user never wrote. Like Flux, this is an error: an empty
		// revision must not prune everything.
		return nil, fmt.Errorf("path %q contains no Kubernetes manifests (.yaml or .yml files)", opts.Path)
	}
	objs, srcs, err := build(t, dir)
	if err != nil {
		return nil, err
	}
	if cm := opts.CommonMetadata; cm != nil {
		for _, o := range objs {
			setCommonMetadata(o, cm)
		}
	}
	return &Result{Objects: objs, Sources: srcs, Generated: generated}, nil
}

// cleanRelative cleans a root-relative path and refuses one that is
// absolute or climbs out of the root.
func cleanRelative(p string) (string, error) {
	p = filepath.ToSlash(p)
	if path.IsAbs(p) {
		return "", fmt.Errorf("absolute path: %w", ErrOutsideRoot)
	}
	c := path.Clean("./" + p)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", ErrOutsideRoot
	}
	return c, nil
}

func build(t *tree, dir string) (objs []*unstructured.Unstructured, srcs []Source, err error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	// Kustomize panics on some malformed input; a bad commit must fail the
	// render, not the controller.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kustomize build %s: panic: %v", dir, r)
		}
	}()
	k := krusty.MakeKustomizer(&krusty.Options{
		// Flux lets a kustomization load files from anywhere inside the
		// source (../base, ../patches/x.yaml); the in-memory filesystem
		// holds only the source, and references climbing out of it are
		// refused before the build.
		LoadRestrictions: kustypes.LoadRestrictionsNone,
		PluginConfig:     kustypes.DisabledPluginConfig(),
		Reorder:          krusty.ReorderOptionNone,
	})
	m, err := k.Run(t.fs, t.abs(dir))
	if err != nil {
		return nil, nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	for _, res := range m.Resources() {
		if res.GetName() == "" || res.GetKind() == "" || res.GetApiVersion() == "" {
			return nil, nil, fmt.Errorf("%w: object without apiVersion, kind or name: %s", ErrInvalidManifest, res.String())
		}
		// Through JSON, so numbers are int64/float64 as in every other
		// unstructured object (kyaml's maps hold int, which DeepCopy rejects).
		js, err := res.MarshalJSON()
		if err != nil {
			return nil, nil, fmt.Errorf("kustomize build %s: %s: %w", dir, res.CurId(), err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, nil, fmt.Errorf("kustomize build %s: %s: %w", dir, res.CurId(), err)
		}
		objs = append(objs, u)
		srcs = append(srcs, takeSource(u))
	}
	return objs, srcs, nil
}

// takeSource reads and removes the source annotation added before the build.
func takeSource(u *unstructured.Unstructured) Source {
	ann := u.GetAnnotations()
	v, ok := ann[sourceAnnotation]
	if !ok {
		return Source{}
	}
	delete(ann, sourceAnnotation)
	if len(ann) == 0 {
		unstructured.RemoveNestedField(u.Object, "metadata", "annotations")
	} else {
		u.SetAnnotations(ann)
	}
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return Source{File: v}
	}
	line, _ := strconv.Atoi(v[i+1:])
	return Source{File: v[:i], Line: line}
}

// setCommonMetadata merges spec.commonMetadata into an object's own labels
// and annotations, overriding keys it already has, as Flux does after the
// build (not through kustomize, so selectors and templates are untouched).
func setCommonMetadata(u *unstructured.Unstructured, cm *CommonMetadata) {
	if len(cm.Labels) > 0 {
		l := u.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		for k, v := range cm.Labels {
			l[k] = v
		}
		u.SetLabels(l)
	}
	if len(cm.Annotations) > 0 {
		a := u.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		for k, v := range cm.Annotations {
			a[k] = v
		}
		u.SetAnnotations(a)
	}
}
