package openapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
)

func get(t *testing.T, h http.Handler, method, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func indexOf(t *testing.T, d *Documents) map[string]string {
	t.Helper()
	rec := get(t, d, http.MethodGet, "/openapi/v3", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /openapi/v3: %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("index Content-Type %q", ct)
	}
	var index struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &index); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range index.Paths {
		out[k] = v.ServerRelativeURL
	}
	return out
}

func TestIndexListsEveryGroupVersion(t *testing.T) {
	d, reg := testDocuments(t)
	index := indexOf(t, d)
	want := []string{"api", "apis"}
	for _, gv := range reg.GroupVersions() {
		want = append(want, documentKey(gv))
		if gv.Group != "" {
			want = append(want, "apis/"+gv.Group)
		}
	}
	for _, k := range want {
		u, ok := index[k]
		if !ok {
			t.Errorf("index lacks %q", k)
			continue
		}
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		if parsed.Path != "/openapi/v3/"+k {
			t.Errorf("%s: URL path %q", k, parsed.Path)
		}
		// The hash is upstream's: upper-case hex SHA-512 of the JSON.
		body := get(t, d, http.MethodGet, "/openapi/v3/"+k, nil).Body.Bytes()
		if got, want := parsed.Query().Get("hash"), newEncoded(body).etag; got != want || len(got) != 128 {
			t.Errorf("%s: hash %q, want %q", k, got, want)
		}
	}
	if len(index) != len(want) {
		t.Errorf("index has %d entries, want %d: %v", len(index), len(want), index)
	}
}

func TestGroupVersionDocumentCaching(t *testing.T) {
	d, _ := testDocuments(t)
	u := indexOf(t, d)["apis/apps/v1"]
	etag := strings.TrimPrefix(u, "/openapi/v3/apis/apps/v1?hash=")

	t.Run("current hash is immutable", func(t *testing.T) {
		rec := get(t, d, http.MethodGet, u, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.HasPrefix(cc, "public, immutable, max-age=") {
			t.Errorf("Cache-Control %q", cc)
		}
		if rec.Header().Get("Expires") == "" {
			t.Error("no Expires")
		}
		if got := rec.Header().Get("Etag"); got != strconv.Quote(etag) {
			t.Errorf("Etag %q, want %q", got, strconv.Quote(etag))
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if !strings.Contains(rec.Header().Get("Vary"), "Accept") {
			t.Errorf("Vary %q", rec.Header().Get("Vary"))
		}
		var doc map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || doc["openapi"] != "3.0.0" {
			t.Errorf("body is not an OpenAPI 3.0.0 document: %v", err)
		}
	})

	t.Run("stale hash redirects to the current one", func(t *testing.T) {
		rec := get(t, d, http.MethodGet, "/openapi/v3/apis/apps/v1?hash=0123ABCD", nil)
		if rec.Code != http.StatusMovedPermanently {
			t.Fatalf("status %d, want 301", rec.Code)
		}
		if loc := rec.Header().Get("Location"); loc != u {
			t.Errorf("Location %q, want %q", loc, u)
		}
	})

	t.Run("no hash is served without caching headers", func(t *testing.T) {
		rec := get(t, d, http.MethodGet, "/openapi/v3/apis/apps/v1", nil)
		if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "" {
			t.Errorf("status %d, Cache-Control %q", rec.Code, rec.Header().Get("Cache-Control"))
		}
	})

	t.Run("matching If-None-Match is 304", func(t *testing.T) {
		rec := get(t, d, http.MethodGet, u, map[string]string{"If-None-Match": strconv.Quote(etag)})
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("status %d, %d body bytes; want 304 and none", rec.Code, rec.Body.Len())
		}
		rec = get(t, d, http.MethodGet, u, map[string]string{"If-None-Match": `"other"`})
		if rec.Code != http.StatusOK {
			t.Errorf("other ETag: status %d, want 200", rec.Code)
		}
	})

	t.Run("protobuf when only protobuf is accepted", func(t *testing.T) {
		for _, accept := range []string{
			"application/com.github.proto-openapi.spec.v3@v1.0+protobuf",
			"application/com.github.proto-openapi.spec.v3.v1.0+protobuf",
		} {
			rec := get(t, d, http.MethodGet, u, map[string]string{"Accept": accept})
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: status %d", accept, rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/com.github.proto-openapi.spec.v3.v1.0+protobuf" {
				t.Errorf("%s: Content-Type %q", accept, ct)
			}
			var doc openapi_v3.Document
			if err := proto.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.GetOpenapi() != "3.0.0" || doc.GetPaths().GetPath() == nil {
				t.Errorf("%s: not an OpenAPI document: %q", accept, doc.GetOpenapi())
			}
		}
	})

	t.Run("JSON is preferred when both are accepted", func(t *testing.T) {
		rec := get(t, d, http.MethodGet, u, map[string]string{"Accept": "application/json, application/com.github.proto-openapi.spec.v3@v1.0+protobuf"})
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
	})

	t.Run("nothing acceptable is 406", func(t *testing.T) {
		rec := get(t, d, http.MethodGet, u, map[string]string{"Accept": "text/html"})
		if rec.Code != http.StatusNotAcceptable {
			t.Errorf("status %d, want 406", rec.Code)
		}
	})
}

func TestV2Negotiation(t *testing.T) {
	d, _ := testDocuments(t)
	for _, tc := range []struct {
		accept, contentType string
		proto               bool
	}{
		// kubectl and client-go's discovery client send the "@" spelling.
		{"application/com.github.proto-openapi.spec.v2@v1.0+protobuf", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf", true},
		{"application/com.github.proto-openapi.spec.v2.v1.0+protobuf", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf", true},
		{"application/json", "application/json", false},
		{"", "application/json", false},
	} {
		rec := get(t, d, http.MethodGet, "/openapi/v2", map[string]string{"Accept": tc.accept})
		if rec.Code != http.StatusOK {
			t.Fatalf("Accept %q: status %d", tc.accept, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != tc.contentType {
			t.Errorf("Accept %q: Content-Type %q, want %q", tc.accept, ct, tc.contentType)
		}
		if tc.proto {
			var doc openapi_v2.Document
			if err := proto.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.GetSwagger() != "2.0" || len(doc.GetDefinitions().GetAdditionalProperties()) == 0 {
				t.Errorf("Accept %q: not a Swagger 2.0 document with definitions", tc.accept)
			}
		} else {
			var doc map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || doc["swagger"] != "2.0" {
				t.Errorf("Accept %q: not a Swagger 2.0 JSON document (%v)", tc.accept, err)
			}
		}
		etag := rec.Header().Get("Etag")
		if etag == "" {
			t.Fatal("no Etag")
		}
		again := get(t, d, http.MethodGet, "/openapi/v2", map[string]string{"Accept": tc.accept, "If-None-Match": etag})
		if again.Code != http.StatusNotModified {
			t.Errorf("Accept %q with If-None-Match: status %d, want 304", tc.accept, again.Code)
		}
	}
}

func TestOnlyOpenAPIPathsAndReadMethods(t *testing.T) {
	d, _ := testDocuments(t)
	for _, tc := range []struct {
		method, target string
		code           int
	}{
		{http.MethodGet, "/openapi/v3/apis/nosuch.example.com/v1", http.StatusNotFound},
		{http.MethodGet, "/openapi/v3/", http.StatusNotFound},
		{http.MethodGet, "/openapi/v2/extra", http.StatusNotFound},
		{http.MethodGet, "/swagger.json", http.StatusNotFound},
		{http.MethodPost, "/openapi/v2", http.StatusMethodNotAllowed},
		{http.MethodPut, "/openapi/v3/api/v1", http.StatusMethodNotAllowed},
		{http.MethodHead, "/openapi/v3", http.StatusOK},
	} {
		rec := get(t, d, tc.method, tc.target, nil)
		if rec.Code != tc.code {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.target, rec.Code, tc.code)
		}
	}
	rec := get(t, d, http.MethodHead, "/openapi/v3/api/v1", nil)
	if rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "0" {
		t.Errorf("HEAD: %d body bytes, Content-Length %q", rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
}

// The documents are byte-for-byte the same from one start to the next, so a
// restart does not invalidate what kubectl has cached by hash.
func TestDocumentsAreDeterministic(t *testing.T) {
	d1, reg := testDocuments(t)
	d2, err := New(reg, Info{Title: "Skiff", Version: "v1.33.0-skiff"})
	if err != nil {
		t.Fatal(err)
	}
	if d1.v2.etag != d2.v2.etag || string(d1.v2.proto) != string(d2.v2.proto) {
		t.Error("v2 document differs between builds")
	}
	if string(d1.index.json) != string(d2.index.json) {
		t.Error("v3 index differs between builds")
	}
	for k, e := range d1.v3 {
		if string(d2.v3[k].proto) != string(e.proto) {
			t.Errorf("%s: protobuf form differs between builds", k)
		}
	}
	body, _ := io.ReadAll(get(t, d1, http.MethodGet, "/openapi/v3/api/v1", nil).Body)
	if string(body) != string(d2.v3["api/v1"].json) {
		t.Error("api/v1 differs between builds")
	}
}
