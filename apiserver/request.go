package apiserver

import (
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-dev/skiff/manifests"
)

// requestInfo is what a resource request is about.
type requestInfo struct {
	verb        string // get list watch create update patch delete deletecollection
	gv          schema.GroupVersion
	typ         *manifests.Type
	namespace   string
	name        string
	subresource string
}

// namespaceSubresources are the subresources of a Namespace object, which
// would otherwise parse as a resource inside that namespace.
var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

// parseResourcePath splits /api/v1/... or /apis/<g>/<v>/... into a
// requestInfo. ok is false when the path is not a resource path at all; a
// non-nil error means it is one, but names something not served.
func (s *Server) parseResourcePath(r *http.Request) (*requestInfo, bool, error) {
	path := strings.Trim(r.URL.Path, "/")
	parts := strings.Split(path, "/")
	var gv schema.GroupVersion
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		gv = schema.GroupVersion{Version: parts[1]}
		parts = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		gv = schema.GroupVersion{Group: parts[1], Version: parts[2]}
		parts = parts[3:]
	default:
		return nil, false, nil
	}
	info := &requestInfo{gv: gv}
	watchPath := false
	if parts[0] == "watch" {
		watchPath = true
		parts = parts[1:]
		if len(parts) == 0 {
			return nil, true, notFoundPath(r)
		}
	}
	if parts[0] == "namespaces" && len(parts) > 1 {
		info.namespace = parts[1]
		if len(parts) > 2 && !namespaceSubresources[parts[2]] {
			parts = parts[2:]
		}
	}
	resource := parts[0]
	if len(parts) > 1 {
		info.name = parts[1]
	}
	if len(parts) > 2 {
		info.subresource = strings.Join(parts[2:], "/")
	}
	if resource == "namespaces" {
		// /api/v1/namespaces/{name}[/status]: the namespace is the object.
		info.namespace = ""
	}
	t, ok := s.registry.ByResource(gv.WithResource(resource))
	if !ok {
		return nil, true, notFoundResource(gv, resource)
	}
	info.typ = t
	if info.namespace != "" && !t.Namespaced {
		return nil, true, notFoundResource(gv, resource)
	}
	if info.subresource != "" {
		if _, ok := t.Subresource(info.subresource); !ok {
			return nil, true, notFoundSubresource(t, info.subresource)
		}
	}
	if info.name == "" && t.Namespaced && info.namespace == "" && r.Method != http.MethodGet {
		// Writes to namespaced collections need a namespace.
		return nil, true, notFoundResource(gv, resource)
	}
	if info.name != "" && t.Namespaced && info.namespace == "" {
		return nil, true, notFoundResource(gv, resource)
	}

	q := r.URL.Query()
	switch r.Method {
	case http.MethodGet:
		switch {
		case info.name == "" && (watchPath || isTrue(q.Get("watch"))):
			info.verb = "watch"
		case info.name == "":
			info.verb = "list"
		case watchPath || isTrue(q.Get("watch")):
			info.verb = "watch"
		default:
			info.verb = "get"
		}
	case http.MethodPost:
		info.verb = "create"
	case http.MethodPut:
		info.verb = "update"
	case http.MethodPatch:
		info.verb = "patch"
	case http.MethodDelete:
		info.verb = "delete"
		if info.name == "" {
			info.verb = "deletecollection"
		}
	default:
		return nil, true, methodNotSupported(info, r.Method)
	}
	if info.verb == "watch" && info.name != "" {
		// GET /watch/.../name is a watch of the list narrowed to one name.
		q.Set("fieldSelector", joinSelector(q.Get("fieldSelector"), "metadata.name="+info.name))
		r.URL.RawQuery = q.Encode()
		info.name = ""
	}
	return info, true, nil
}

func joinSelector(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}

func isTrue(s string) bool { return s == "true" || s == "1" }
