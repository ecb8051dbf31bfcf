package apiserver

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-dev/skiff/manifests"
)

// discovery holds the precomputed discovery documents; the set of
// resources is fixed at start, so every reply is cached bytes.
type discovery struct {
	// aggregated (apidiscovery.k8s.io) for /api and /apis, by version.
	aggregated map[string]map[string][]byte // "api"|"apis" → "v2"|"v2beta1" → body
	legacy     map[string][]byte            // path → body
}

func newDiscovery(reg *manifests.Registry) *discovery {
	d := &discovery{aggregated: map[string]map[string][]byte{}, legacy: map[string][]byte{}}
	byGV := map[schema.GroupVersion][]*manifests.Type{}
	for _, t := range reg.Types() {
		gv := t.GroupVersionKind.GroupVersion()
		byGV[gv] = append(byGV[gv], t)
	}
	gvs := reg.GroupVersions()

	// Aggregated: one APIGroupDiscovery per group.
	core := apidiscoveryv2.APIGroupDiscoveryList{}
	named := apidiscoveryv2.APIGroupDiscoveryList{}
	for _, gv := range gvs {
		g := apidiscoveryv2.APIGroupDiscovery{
			ObjectMeta: metav1.ObjectMeta{Name: gv.Group},
			Versions: []apidiscoveryv2.APIVersionDiscovery{{
				Version:   gv.Version,
				Resources: aggregatedResources(byGV[gv]),
				Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent,
			}},
		}
		if gv.Group == "" {
			core.Items = append(core.Items, g)
		} else {
			named.Items = append(named.Items, g)
		}
	}
	for _, v := range []string{"v2", "v2beta1"} {
		for path, list := range map[string]apidiscoveryv2.APIGroupDiscoveryList{"api": core, "apis": named} {
			list.TypeMeta = metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/" + v}
			b, _ := json.Marshal(list)
			if d.aggregated[path] == nil {
				d.aggregated[path] = map[string][]byte{}
			}
			d.aggregated[path][v] = b
		}
	}

	// Legacy documents.
	d.legacy["/api"], _ = json.Marshal(metav1.APIVersions{
		TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
		Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
			{ClientCIDR: "0.0.0.0/0", ServerAddress: ""},
		},
	})
	groups := metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, gv := range gvs {
		if gv.Group == "" {
			continue
		}
		gvd := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
		g := metav1.APIGroup{Name: gv.Group, Versions: []metav1.GroupVersionForDiscovery{gvd}, PreferredVersion: gvd}
		groups.Groups = append(groups.Groups, g)
		single := g
		single.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
		d.legacy["/apis/"+gv.Group], _ = json.Marshal(single)
	}
	d.legacy["/apis"], _ = json.Marshal(groups)
	for _, gv := range gvs {
		list := metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
		for _, t := range byGV[gv] {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: t.Resource, SingularName: t.Singular, Namespaced: t.Namespaced, Kind: t.GroupVersionKind.Kind,
				Verbs: t.ServedVerbs(), ShortNames: t.ShortNames, Categories: t.Categories,
			})
			for _, sub := range t.Subresources {
				list.APIResources = append(list.APIResources, metav1.APIResource{
					Name: t.Resource + "/" + sub.Name, Namespaced: t.Namespaced,
					Group: sub.Kind.Group, Version: sub.Kind.Version, Kind: sub.Kind.Kind, Verbs: sub.Verbs,
				})
			}
		}
		path := "/apis/" + gv.String()
		if gv.Group == "" {
			path = "/api/" + gv.Version
		}
		d.legacy[path], _ = json.Marshal(list)
	}
	return d
}

func aggregatedResources(types []*manifests.Type) []apidiscoveryv2.APIResourceDiscovery {
	out := make([]apidiscoveryv2.APIResourceDiscovery, 0, len(types))
	for _, t := range types {
		scope := apidiscoveryv2.ScopeCluster
		if t.Namespaced {
			scope = apidiscoveryv2.ScopeNamespace
		}
		gvk := t.GroupVersionKind
		r := apidiscoveryv2.APIResourceDiscovery{
			Resource:         t.Resource,
			ResponseKind:     &metav1.GroupVersionKind{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind},
			Scope:            scope,
			SingularResource: t.Singular,
			Verbs:            t.ServedVerbs(),
			ShortNames:       t.ShortNames,
			Categories:       t.Categories,
		}
		for _, sub := range t.Subresources {
			r.Subresources = append(r.Subresources, apidiscoveryv2.APISubresourceDiscovery{
				Subresource:  sub.Name,
				ResponseKind: &metav1.GroupVersionKind{Group: sub.Kind.Group, Version: sub.Kind.Version, Kind: sub.Kind.Kind},
				Verbs:        sub.Verbs,
			})
		}
		out = append(out, r)
	}
	return out
}

// aggregatedVersion returns which apidiscovery version the Accept header
// asks for, if any (kubectl ≥1.30 asks for v2, older ones v2beta1).
func aggregatedVersion(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if mt == mediaJSON && params["g"] == "apidiscovery.k8s.io" && params["as"] == "APIGroupDiscoveryList" {
			if v := params["v"]; v == "v2" || v == "v2beta1" {
				return v
			}
		}
		if mt == mediaJSON || mt == "*/*" {
			// A plain JSON entry listed before any aggregated one wins.
			return ""
		}
	}
	return ""
}

// serveDiscovery answers /api, /apis, /api/v1, /apis/<g> and /apis/<g>/<v>;
// it returns false for any other path.
func (d *discovery) serve(w http.ResponseWriter, r *http.Request) bool {
	path := strings.TrimSuffix(r.URL.Path, "/")
	if path == "/api" || path == "/apis" {
		if v := aggregatedVersion(r); v != "" {
			w.Header().Set("Content-Type", "application/json;g=apidiscovery.k8s.io;v="+v+";as=APIGroupDiscoveryList")
			w.Header().Set("Vary", "Accept")
			_, _ = w.Write(d.aggregated[strings.TrimPrefix(path, "/")][v])
			return true
		}
	}
	body, ok := d.legacy[path]
	if !ok {
		return false
	}
	if path == "/api" {
		// Fill in the address the client used to reach us.
		var v metav1.APIVersions
		_ = json.Unmarshal(body, &v)
		v.ServerAddressByClientCIDRs[0].ServerAddress = r.Host
		body, _ = json.Marshal(v)
	}
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Set("Vary", "Accept")
	_, _ = w.Write(body)
	return true
}
