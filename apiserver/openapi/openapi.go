package openapi

import (
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"runtime"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/skiff-dev/skiff/manifests"
)

// Info names the API in the documents' info section.
type Info struct {
	// Title, e.g. "Kubernetes" or "Skiff".
	Title string
	// Version of the server, e.g. "v1.33.0-skiff".
	Version string
}

// Documents holds every OpenAPI document of the API, encoded once, and
// serves them.
type Documents struct {
	built time.Time
	defs  map[string]*spec.Schema

	v2    encoded
	index encoded
	// v3 maps an index key ("api/v1", "apis/apps/v1", "apis/apps", "api",
	// "apis") to its document.
	v3 map[string]*encoded
}

// encoded is one document in both its forms. etag is the upper-case hex
// SHA-512 of the JSON, which upstream uses both as ETag and as the v3
// index's ?hash=; the protobuf form shares it because replies vary on
// Accept.
type encoded struct {
	json  []byte
	proto []byte
	etag  string
}

func newEncoded(b []byte) encoded {
	return encoded{json: b, etag: fmt.Sprintf("%X", sha512.Sum512(b))}
}

// New generates the OpenAPI v2 and v3 documents for every type in reg.
func New(reg *manifests.Registry, info Info) (*Documents, error) {
	l, err := layOut(reg)
	if err != nil {
		return nil, err
	}
	plans, allRoutes, v2set, v3set := l.plans, l.all, l.v2, l.v3

	d := &Documents{built: time.Now(), defs: v3set.defs, v3: make(map[string]*encoded, len(plans))}
	specInfo := &spec.Info{InfoProps: spec.InfoProps{Title: info.Title, Version: info.Version}}

	// Encoding is most of the start-up cost. The two OpenAPI versions'
	// definitions are independent, and so are the documents once the
	// definitions are encoded: both steps run side by side.
	var v2defs, v3defs *encodedDefs
	err = parallel(
		func() (err error) { v2defs, err = encodeDefinitions(v2set); return err },
		func() (err error) { v3defs, err = encodeDefinitions(v3set); return err },
	)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	encodedV3 := make([]encoded, len(plans))
	jobs := []func() error{func() (err error) {
		d.v2, err = encodeV2(v2set, v2defs, allRoutes, specInfo)
		if err != nil {
			return fmt.Errorf("openapi: v2 document: %w", err)
		}
		return nil
	}}
	for i, p := range plans {
		jobs = append(jobs, func() (err error) {
			encodedV3[i], err = encodeV3(v3set, v3defs, p.routes, specInfo)
			if err != nil {
				return fmt.Errorf("openapi: document %s: %w", p.key, err)
			}
			return nil
		})
	}
	if err := parallel(jobs...); err != nil {
		return nil, err
	}

	index := indexDocument{Paths: make(map[string]indexEntry, len(plans))}
	for i, p := range plans {
		d.v3[p.key] = &encodedV3[i]
		u := url.URL{Path: "/openapi/v3/" + p.key, RawQuery: url.Values{"hash": {encodedV3[i].etag}}.Encode()}
		index.Paths[p.key] = indexEntry{ServerRelativeURL: u.String()}
	}
	b, err := json.Marshal(index)
	if err != nil {
		return nil, fmt.Errorf("openapi: encode v3 index: %w", err)
	}
	d.index = newEncoded(b)
	return d, nil
}

// indexDocument is the /openapi/v3 index, the shape of kube-openapi's
// handler3.OpenAPIV3Discovery that client-go reads.
type indexDocument struct {
	Paths map[string]indexEntry `json:"paths"`
}

type indexEntry struct {
	ServerRelativeURL string `json:"serverRelativeURL"`
}

// referenced lists the definitions routes mention.
func referenced(routes []route) []string {
	seen := map[string]struct{}{}
	for _, r := range routes {
		for _, o := range r.ops {
			if o.body != "" {
				seen[o.body] = struct{}{}
			}
			if o.patch {
				seen[patchDef] = struct{}{}
			}
			for _, resp := range o.responses {
				if resp.def != "" {
					seen[resp.def] = struct{}{}
				}
			}
		}
	}
	return sortedKeys(seen)
}

// closure is every definition reachable from roots.
func (s *schemaSet) closure(roots []string) map[string]*spec.Schema {
	out := map[string]*spec.Schema{}
	stack := append([]string(nil), roots...)
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, done := out[name]; done {
			continue
		}
		out[name] = s.defs[name]
		stack = append(stack, s.deps[name]...)
	}
	return out
}

// Definitions returns the OpenAPI v3 schema of every type the API serves
// and everything they refer to, keyed like upstream
// ("io.k8s.api.apps.v1.Deployment"), with references spelled
// "#/components/schemas/…". Top-level kinds carry
// x-kubernetes-group-version-kind, so the map can be handed to
// managedfields.NewTypeConverter. The map is new on each call; the schemas
// in it share structure with the served documents and must not be
// modified.
func (d *Documents) Definitions() map[string]spec.Schema {
	out := make(map[string]spec.Schema, len(d.defs))
	for name, s := range d.defs {
		out[name] = *s
	}
	return out
}

// parallel runs jobs on as many goroutines as there are CPUs and returns
// the first error.
func parallel(jobs ...func() error) error {
	next := make(chan func() error)
	errs := make(chan error, len(jobs))
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Go(func() {
			for job := range next {
				errs <- job()
			}
		})
	}
	for _, job := range jobs {
		next <- job
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// plan is one v3 document: its index key and its routes.
type plan struct {
	key    string
	routes []route
}

// layout is every route of the API, grouped into v3 documents, with the
// definitions they use generated in both OpenAPI versions.
type layout struct {
	plans  []plan
	all    []route
	v2, v3 *schemaSet
}

func layOut(reg *manifests.Registry) (*layout, error) {
	scheme := reg.Scheme()
	l := &layout{v2: newSchemaSet(false, scheme), v3: newSchemaSet(true, scheme)}
	define := func(t reflect.Type) string {
		l.v2.define(t)
		return l.v3.define(t)
	}
	defOf := func(gvk schema.GroupVersionKind) (string, error) {
		obj, err := scheme.New(gvk)
		if err != nil {
			return "", fmt.Errorf("openapi: %w", err)
		}
		return define(reflect.TypeOf(obj).Elem()), nil
	}
	for _, t := range []reflect.Type{
		reflect.TypeFor[metav1.DeleteOptions](), reflect.TypeFor[metav1.Status](), reflect.TypeFor[metav1.Patch](),
		reflect.TypeFor[metav1.APIResourceList](), reflect.TypeFor[metav1.APIGroup](),
		reflect.TypeFor[metav1.APIGroupList](), reflect.TypeFor[metav1.APIVersions](),
	} {
		define(t)
	}

	byGV := map[schema.GroupVersion][]*manifests.Type{}
	for _, t := range reg.Types() {
		gv := t.GroupVersionKind.GroupVersion()
		byGV[gv] = append(byGV[gv], t)
	}
	add := func(key string, routes ...route) {
		l.plans = append(l.plans, plan{key, routes})
		l.all = append(l.all, routes...)
	}
	groups := map[string]bool{}
	for _, gv := range reg.GroupVersions() {
		prefix := groupVersionPrefix(gv)
		tag := lowerFirst(groupCamel(gv.Group)) + "_" + gv.Version
		routes := []route{discoveryRoute(prefix+"/", "get"+groupCamel(gv.Group)+upperFirst(gv.Version)+"APIResources",
			"get available resources", tag, apiResourceListDef)}
		for _, t := range byGV[gv] {
			rs, err := resourceRoutes(t, defOf)
			if err != nil {
				return nil, fmt.Errorf("openapi: %s: %w", t.GroupVersionKind, err)
			}
			routes = append(routes, rs...)
		}
		add(documentKey(gv), routes...)
		if gv.Group != "" && !groups[gv.Group] {
			groups[gv.Group] = true
			add("apis/"+gv.Group, discoveryRoute("/apis/"+gv.Group+"/", "get"+groupCamel(gv.Group)+"APIGroup",
				"get information of a group", lowerFirst(groupCamel(gv.Group)), apiGroupDef))
		}
	}
	add("api", discoveryRoute("/api/", "getCoreAPIVersions", "get available API versions", "core", apiVersionsDef))
	add("apis", discoveryRoute("/apis/", "getAPIVersions", "get available API versions", "apis", apiGroupListDef))
	return l, nil
}
