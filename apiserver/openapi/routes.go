package openapi

import (
	"fmt"
	"reflect"
	"strings"
	"unicode"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-dev/skiff/manifests"
)

// The routes are first laid out once in a form of their own, then spelled
// as OpenAPI v2 and v3 (render.go), so that both documents describe the
// same operations.

// route is one URL path with its operations.
type route struct {
	path   string
	params []param // shared by every operation of the path
	ops    []operation
}

type operation struct {
	method      string // get, put, post, patch or delete
	id          string
	description string
	tag         string
	// action is x-kubernetes-action; empty on the discovery paths, which
	// upstream does not mark either.
	action string
	gvk    *schema.GroupVersionKind
	params []param
	// body names the definition the request body holds; patch says the
	// body is a patch document in one of the patch media types instead.
	body         string
	bodyOptional bool
	patch        bool
	// stream marks list operations, whose reply can be a watch stream.
	stream    bool
	responses []response
}

type response struct {
	code int
	// def names the definition of the reply body; empty for none.
	def string
}

type param struct {
	name, in, typ, description string
	required                   bool
}

// Media types Skiff's API server answers with (JSON and YAML; it does not
// speak the Kubernetes protobuf encoding, which upstream also lists) and
// the patch types it takes. Read-only.
var (
	replyTypes  = []string{"application/json", "application/yaml"}
	streamTypes = []string{"application/json;stream=watch"}
	patchTypes  = []string{
		"application/json-patch+json",
		"application/merge-patch+json",
		"application/strategic-merge-patch+json",
		"application/apply-patch+yaml",
	}
)

// Definition names of the meta/v1 types every group-version document uses.
var (
	deleteOptionsDef   = definitionName(reflect.TypeFor[metav1.DeleteOptions]())
	statusDef          = definitionName(reflect.TypeFor[metav1.Status]())
	patchDef           = definitionName(reflect.TypeFor[metav1.Patch]())
	apiResourceListDef = definitionName(reflect.TypeFor[metav1.APIResourceList]())
	apiGroupDef        = definitionName(reflect.TypeFor[metav1.APIGroup]())
	apiGroupListDef    = definitionName(reflect.TypeFor[metav1.APIGroupList]())
	apiVersionsDef     = definitionName(reflect.TypeFor[metav1.APIVersions]())
)

// Query and path parameters, described in our own words.
func pathParam(name, description string) param {
	return param{name: name, in: "path", typ: "string", description: description, required: true}
}

func queryParam(name string) param {
	p := param{name: name, in: "query", typ: "string"}
	switch name {
	case "pretty":
		p.description = "If 'true', the reply is indented for people to read."
	case "dryRun":
		p.description = "When set to All, the request is checked and processed but nothing is stored."
	case "fieldManager":
		p.description = "Name of the actor making the change, recorded in managedFields. " +
			"Required for apply patches (application/apply-patch+yaml)."
	case "fieldValidation":
		p.description = "What to do with unknown or duplicate fields in the object: Ignore drops them, " +
			"Warn drops them with a Warning header, Strict rejects the request with 400 Bad Request."
	case "force":
		p.typ = "boolean"
		p.description = "For apply patches only: take ownership of fields other managers own instead of failing with a conflict."
	case "gracePeriodSeconds":
		p.typ = "integer"
		p.description = "Seconds to wait before the object is deleted; 0 deletes at once. Unset uses the kind's default."
	case "orphanDependents":
		p.typ = "boolean"
		p.description = "Deprecated: use propagationPolicy. Whether dependents are orphaned rather than garbage collected."
	case "propagationPolicy":
		p.description = "How dependents are deleted: Orphan, Background or Foreground."
	case "allowWatchBookmarks":
		p.typ = "boolean"
		p.description = "Ask for BOOKMARK events on a watch; the server may send none."
	case "continue":
		p.description = "Token from a previous limited list reply, to fetch the next page."
	case "fieldSelector":
		p.description = "Select objects by fields, such as metadata.name=x. Defaults to everything."
	case "labelSelector":
		p.description = "Select objects by labels, such as app=web,tier!=db. Defaults to everything."
	case "limit":
		p.typ = "integer"
		p.description = "Largest number of objects to return; the reply's metadata.continue fetches the rest."
	case "resourceVersion":
		p.description = "Which version of the data the reply may be served from, or where a watch starts."
	case "resourceVersionMatch":
		p.description = "How resourceVersion applies to a list: Exact or NotOlderThan."
	case "sendInitialEvents":
		p.typ = "boolean"
		p.description = "Begin a watch with synthetic ADDED events for the current objects, then a BOOKMARK."
	case "timeoutSeconds":
		p.typ = "integer"
		p.description = "Limit on the duration of the list or watch call."
	case "watch":
		p.typ = "boolean"
		p.description = "Stream changes (ADDED, MODIFIED, DELETED events) instead of returning a list."
	default:
		panic(fmt.Sprintf("openapi: no description for query parameter %q", name))
	}
	return p
}

func queryParams(names ...string) []param {
	out := make([]param, len(names))
	for i, n := range names {
		out[i] = queryParam(n)
	}
	return out
}

var (
	listParamNames = []string{"allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit",
		"resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"}
	writeParamNames  = []string{"dryRun", "fieldManager", "fieldValidation"}
	patchParamNames  = []string{"dryRun", "fieldManager", "fieldValidation", "force"}
	deleteParamNames = []string{"dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy"}
	// deletecollection takes the list selectors as well as the delete options.
	deleteCollectionParamNames = []string{"continue", "dryRun", "fieldSelector", "gracePeriodSeconds",
		"labelSelector", "limit", "orphanDependents", "propagationPolicy", "resourceVersion",
		"resourceVersionMatch", "sendInitialEvents", "timeoutSeconds"}
)

// groupVersionPrefix is the URL prefix of a group-version: /api/v1 or
// /apis/<group>/<version>.
func groupVersionPrefix(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "/api/" + gv.Version
	}
	return "/apis/" + gv.Group + "/" + gv.Version
}

// documentKey is the key of a group-version in the /openapi/v3 index:
// the URL prefix without its leading slash ("api/v1", "apis/apps/v1").
func documentKey(gv schema.GroupVersion) string {
	return strings.TrimPrefix(groupVersionPrefix(gv), "/")
}

// groupCamel spells a group inside operation IDs as upstream does: "Core"
// for the legacy group, otherwise the group without ".k8s.io", each
// dot-separated part capitalised ("rbac.authorization.k8s.io" →
// "RbacAuthorization").
func groupCamel(group string) string {
	if group == "" {
		return "Core"
	}
	group = strings.TrimSuffix(group, ".k8s.io")
	var b strings.Builder
	for _, part := range strings.FieldsFunc(group, func(r rune) bool { return r == '.' || r == '-' }) {
		b.WriteString(upperFirst(part))
	}
	return b.String()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// article picks "a" or "an" for a kind name in an operation description.
func article(kind string) string {
	if kind != "" && strings.ContainsRune("AEIOU", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}

// kindNames resolves the definition name of a kind through the scheme.
type kindNames func(schema.GroupVersionKind) (string, error)

// resourceRoutes lays out every path of one served type: the collection,
// the object, its subresources and, for namespaced types, the list across
// all namespaces; the same paths and operation IDs upstream publishes
// (watch paths, deprecated upstream, are left out).
func resourceRoutes(t *manifests.Type, defOf kindNames) ([]route, error) {
	gvk := t.GroupVersionKind
	gv := gvk.GroupVersion()
	kind := gvk.Kind
	objDef, err := defOf(gvk)
	if err != nil {
		return nil, err
	}
	prefix := groupVersionPrefix(gv)
	idPrefix := groupCamel(gv.Group) + upperFirst(gv.Version)
	tag := lowerFirst(groupCamel(gv.Group)) + "_" + gv.Version
	scope, collection, pathScope := "", prefix+"/"+t.Resource, []param{queryParam("pretty")}
	if t.Namespaced {
		scope = "Namespaced"
		collection = prefix + "/namespaces/{namespace}/" + t.Resource
		pathScope = []param{pathParam("namespace", "Namespace of the objects."), queryParam("pretty")}
	}
	nameParam := pathParam("name", "Name of the "+kind+".")
	item := collection + "/{name}"
	op := func(method, verb, action, description string, g schema.GroupVersionKind) operation {
		return operation{
			method: method, id: verb + idPrefix + scope + kind, description: description,
			tag: tag, action: action, gvk: &g,
		}
	}

	create := op("post", "create", "post", "create "+article(kind), gvk)
	create.params = queryParams(writeParamNames...)
	create.body = objDef
	create.responses = []response{{200, objDef}, {201, objDef}, {202, objDef}, {401, ""}}
	if !t.Stored() {
		// The self reviews: a create that answers, nothing to read back.
		return []route{{path: collection, params: pathScope, ops: []operation{create}}}, nil
	}

	listDef, err := defOf(gv.WithKind(kind + "List"))
	if err != nil {
		return nil, err
	}
	list := op("get", "list", "list", "list or watch objects of kind "+kind, gvk)
	list.params = queryParams(listParamNames...)
	list.stream = true
	list.responses = []response{{200, listDef}, {401, ""}}

	deleteCollection := op("delete", "delete", "deletecollection", "delete collection of "+kind, gvk)
	deleteCollection.id = "delete" + idPrefix + "Collection" + scope + kind
	deleteCollection.params = queryParams(deleteCollectionParamNames...)
	deleteCollection.body, deleteCollection.bodyOptional = deleteOptionsDef, true
	deleteCollection.responses = []response{{200, statusDef}, {401, ""}}

	read := op("get", "read", "get", "read the specified "+kind, gvk)
	read.responses = []response{{200, objDef}, {401, ""}}

	replace := op("put", "replace", "put", "replace the specified "+kind, gvk)
	replace.params = queryParams(writeParamNames...)
	replace.body = objDef
	replace.responses = []response{{200, objDef}, {201, objDef}, {401, ""}}

	patch := op("patch", "patch", "patch", "partially update the specified "+kind, gvk)
	patch.params = queryParams(patchParamNames...)
	patch.patch = true
	patch.responses = []response{{200, objDef}, {201, objDef}, {401, ""}}

	del := op("delete", "delete", "delete", "delete "+article(kind), gvk)
	del.params = queryParams(deleteParamNames...)
	del.body, del.bodyOptional = deleteOptionsDef, true
	del.responses = []response{{200, statusDef}, {202, statusDef}, {401, ""}}

	routes := []route{
		{path: collection, params: pathScope, ops: []operation{list, create, deleteCollection}},
		{path: item, params: withName(nameParam, pathScope), ops: []operation{read, replace, patch, del}},
	}
	if t.Namespaced {
		all := list
		all.id = "list" + idPrefix + kind + "ForAllNamespaces"
		all.params = nil
		routes = append(routes, route{
			path:   prefix + "/" + t.Resource,
			params: append(queryParams(listParamNames...), queryParam("pretty")),
			ops:    []operation{all},
		})
	}

	for _, sub := range t.Subresources {
		subDef, err := defOf(sub.Kind)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", t.Resource, sub.Name, err)
		}
		suffix := upperFirst(sub.Name)
		r := route{path: item + "/" + sub.Name, params: withName(pathParam("name", "Name of the "+sub.Kind.Kind+"."), pathScope)}
		for _, verb := range sub.Verbs {
			var o operation
			switch verb {
			case "get":
				o = op("get", "read", "get", "read "+sub.Name+" of the specified "+kind, sub.Kind)
				o.responses = []response{{200, subDef}, {401, ""}}
			case "update":
				o = op("put", "replace", "put", "replace "+sub.Name+" of the specified "+kind, sub.Kind)
				o.params = queryParams(writeParamNames...)
				o.body = subDef
				o.responses = []response{{200, subDef}, {201, subDef}, {401, ""}}
			case "patch":
				o = op("patch", "patch", "patch", "partially update "+sub.Name+" of the specified "+kind, sub.Kind)
				o.params = queryParams(patchParamNames...)
				o.patch = true
				o.responses = []response{{200, subDef}, {201, subDef}, {401, ""}}
			case "create":
				o = op("post", "create", "post", "create "+sub.Name+" of "+article(kind), sub.Kind)
				o.params = queryParams(writeParamNames...)
				o.body = subDef
				o.responses = []response{{200, subDef}, {201, subDef}, {202, subDef}, {401, ""}}
			default:
				// Streaming subresources (log, exec, …) have no object
				// body to describe; they are not laid out here.
				continue
			}
			o.id += suffix
			r.ops = append(r.ops, o)
		}
		if len(r.ops) > 0 {
			routes = append(routes, r)
		}
	}
	return routes, nil
}

func withName(name param, scope []param) []param {
	return append([]param{name}, scope...)
}

// discoveryRoute is the GET of a discovery document (/api/, /apis/,
// /apis/<group>/, /apis/<group>/<version>/), which upstream lays out in the
// matching OpenAPI document.
func discoveryRoute(path, id, description, tag, def string) route {
	return route{path: path, ops: []operation{{
		method: "get", id: id, description: description, tag: tag,
		responses: []response{{200, def}, {401, ""}},
	}}}
}
