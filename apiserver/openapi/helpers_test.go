package openapi

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"github.com/skiff-dev/skiff/manifests"
)

// The documents take tens of milliseconds to build; tests that only read
// them share one build.
var shared struct {
	once sync.Once
	reg  *manifests.Registry
	docs *Documents
	err  error
}

func testDocuments(t *testing.T) (*Documents, *manifests.Registry) {
	t.Helper()
	shared.once.Do(func() {
		shared.reg, shared.err = manifests.NewRegistry()
		if shared.err == nil {
			shared.docs, shared.err = New(shared.reg, Info{Title: "Skiff", Version: "v1.33.0-skiff"})
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.docs, shared.reg
}

// requestLog records the requests a test server answered.
type requestLog struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.reqs = append(l.reqs, r.Clone(r.Context()))
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// serve starts an HTTP server answering with the documents, and returns a
// discovery client for it: the client kubectl builds its OpenAPI clients
// from (OpenAPISchema for v2, OpenAPIV3 for v3).
func serve(t *testing.T, d *Documents) (*discovery.DiscoveryClient, *requestLog, *httptest.Server) {
	t.Helper()
	log := &requestLog{}
	srv := httptest.NewServer(log.wrap(d))
	t.Cleanup(srv.Close)
	dc, err := discovery.NewDiscoveryClientForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return dc, log, srv
}

// storedKinds lists the kinds the registry stores: those with list,
// patch and field validation (the self reviews only take a create).
func storedKinds(reg *manifests.Registry) []schema.GroupVersionKind {
	var kinds []schema.GroupVersionKind
	for _, t := range reg.Types() {
		if t.Stored() {
			kinds = append(kinds, t.GroupVersionKind)
		}
	}
	return kinds
}

// servedKinds lists every kind the registry serves, with the kinds its
// subresources take.
func servedKinds(reg *manifests.Registry) (kinds, subresourceKinds []schema.GroupVersionKind) {
	seen := map[schema.GroupVersionKind]bool{}
	for _, t := range reg.Types() {
		kinds = append(kinds, t.GroupVersionKind)
		seen[t.GroupVersionKind] = true
	}
	for _, t := range reg.Types() {
		for _, s := range t.Subresources {
			if !seen[s.Kind] {
				seen[s.Kind] = true
				subresourceKinds = append(subresourceKinds, s.Kind)
			}
		}
	}
	return kinds, subresourceKinds
}
