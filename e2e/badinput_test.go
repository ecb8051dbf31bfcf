package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-dev/skiff/e2e/cluster"
)

// apiClient sends raw HTTP requests, to test exactly what goes on the wire.
type apiClient struct {
	t     *testing.T
	base  string
	token string
	http  *http.Client
}

func newAPIClient(t *testing.T, s *cluster.Server) *apiClient {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(s.DataDir(), "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(s.DataDir(), "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &apiClient{t: t, base: s.URL, token: strings.TrimSpace(string(tok)),
		http: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
}

type reply struct {
	code   int
	body   []byte
	header http.Header
	status metav1.Status
}

func (c *apiClient) do(method, path, contentType string, body []byte, hdr map[string]string) reply {
	c.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{code: resp.StatusCode, body: b, header: resp.Header}
	_ = json.Unmarshal(b, &r.status)
	return r
}

func (c *apiClient) count(path string) int {
	c.t.Helper()
	r := c.do("GET", path, "", nil, nil)
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil {
		c.t.Fatalf("list %s: %v: %s", path, err, r.body)
	}
	return len(list.Items)
}

func TestBadInputIsRefusedAndNothingIsStored(t *testing.T) {
	s := startServer(t)
	c := newAPIClient(t, s)
	cms := "/api/v1/namespaces/default/configmaps"
	pods := "/api/v1/namespaces/default/pods"
	good := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"good"},"data":{"a":"1"}}`
	if r := c.do("POST", cms, "application/json", []byte(good), nil); r.code != 201 {
		t.Fatalf("good create: %d %s", r.code, r.body)
	}
	base := c.count(cms)

	cases := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		noToken     bool
		token       string
		header      map[string]string
		wantCode    int
		wantReason  metav1.StatusReason
		wantText    string // must appear in the message
		wantField   string // a details.causes[].field
	}{
		{name: "malformed JSON", method: "POST", path: cms, contentType: "application/json",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantText: "unexpected end of JSON input"},
		{name: "malformed YAML", method: "POST", path: cms, contentType: "application/yaml",
			body: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: [", wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantText: "yaml"},
		{name: "unknown field with Strict", method: "POST", path: cms + "?fieldValidation=Strict", contentType: "application/json",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"dta":{"a":"1"}}`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantText: `unknown field "dta"`},
		{name: "duplicate field with Strict", method: "POST", path: cms + "?fieldValidation=Strict", contentType: "application/json",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","name":"y"}}`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantText: `duplicate field "metadata.name"`},
		{name: "wrong kind for the URL", method: "POST", path: cms, contentType: "application/json",
			body: `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}`, wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantText: "does not match the expected kind"},
		{name: "invalid name", method: "POST", path: cms, contentType: "application/json",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Not_Valid"}}`, wantCode: 422, wantReason: metav1.StatusReasonInvalid, wantField: "metadata.name"},
		{name: "missing name", method: "POST", path: cms, contentType: "application/json",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}`, wantCode: 422, wantReason: metav1.StatusReasonInvalid, wantField: "metadata.name"},
		{name: "pod without containers", method: "POST", path: pods, contentType: "application/json",
			body: `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{}}`, wantCode: 422, wantReason: metav1.StatusReasonInvalid, wantField: "spec.containers"},
		{name: "duplicate create", method: "POST", path: cms, contentType: "application/json",
			body: good, wantCode: 409, wantReason: metav1.StatusReasonAlreadyExists, wantText: `configmaps "good" already exists`},
		{name: "stale resourceVersion", method: "PUT", path: cms + "/good", contentType: "application/json",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"good","resourceVersion":"1"},"data":{"a":"2"}}`, wantCode: 409, wantReason: metav1.StatusReasonConflict, wantText: "the object has been modified"},
		{name: "body over 3 MiB", method: "POST", path: cms, contentType: "application/json",
			body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":"` + strings.Repeat("x", 3<<20) + `"}}`, wantCode: 413, wantReason: metav1.StatusReasonRequestEntityTooLarge, wantText: "limit is 3145728"},
		{name: "no token", method: "POST", path: cms, contentType: "application/json", body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"anon"}}`,
			noToken: true, wantCode: 401, wantReason: metav1.StatusReasonUnauthorized},
		{name: "wrong token", method: "POST", path: cms, contentType: "application/json", body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"anon"}}`,
			token: "not-the-token", wantCode: 401, wantReason: metav1.StatusReasonUnauthorized},
		{name: "impersonation (kubectl --as)", method: "POST", path: cms, contentType: "application/json", body: `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"as-bob"}}`,
			header: map[string]string{"Impersonate-User": "bob"}, wantCode: 403, wantReason: metav1.StatusReasonForbidden, wantText: `cannot impersonate resource "users"`},
		{name: "impersonation of a group alone", method: "DELETE", path: cms + "/good", header: map[string]string{"Impersonate-Group": "devs"},
			wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantText: "Impersonate-Group without Impersonate-User"},
		{name: "unknown resource", method: "GET", path: "/apis/apps/v1/namespaces/default/frobnicators", wantCode: 404, wantReason: metav1.StatusReasonNotFound, wantText: `"frobnicators"`},
		{name: "unknown group version", method: "GET", path: "/apis/frob.example.com/v1/widgets", wantCode: 404, wantReason: metav1.StatusReasonNotFound, wantText: "frob.example.com"},
		{name: "bad label selector", method: "GET", path: cms + "?labelSelector=a%3D%3D%3Db", wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantText: "label selector"},
		{name: "unsupported field selector", method: "GET", path: cms + "?fieldSelector=data.a%3D1", wantCode: 400, wantReason: metav1.StatusReasonBadRequest, wantText: "field label not supported: data.a"},
		{name: "apply without fieldManager", method: "PATCH", path: cms + "/good", contentType: "application/apply-patch+yaml", body: "{}",
			wantCode: 422, wantReason: metav1.StatusReasonInvalid, wantText: "fieldManager: Required value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cc := *c
			cc.t = t
			if tc.noToken {
				cc.token = ""
			}
			if tc.token != "" {
				cc.token = tc.token
			}
			r := cc.do(tc.method, tc.path, tc.contentType, []byte(tc.body), tc.header)
			if r.code != tc.wantCode {
				t.Fatalf("code %d, want %d: %s", r.code, tc.wantCode, r.body)
			}
			if r.status.Kind != "Status" {
				t.Fatalf("reply is not a Status: %s", r.body)
			}
			if tc.wantReason != "" && r.status.Reason != tc.wantReason {
				t.Errorf("reason %q, want %q", r.status.Reason, tc.wantReason)
			}
			if tc.wantText != "" && !strings.Contains(r.status.Message, tc.wantText) {
				t.Errorf("message %q does not contain %q", r.status.Message, tc.wantText)
			}
			if tc.wantField != "" {
				found := false
				if r.status.Details != nil {
					for _, cause := range r.status.Details.Causes {
						found = found || cause.Field == tc.wantField
					}
				}
				if !found {
					t.Errorf("no cause for field %s in %s", tc.wantField, r.body)
				}
			}
		})
	}
	t.Run("kubectl --as", func(t *testing.T) {
		// What a user trying out another identity's rights types: the
		// refusal reaches them, and nothing is deleted as the admin.
		k := newKubectl(t, s, "1.32")
		// Discovery is refused under --as too (as on kube-apiserver, and
		// client-go's discovery prints such errors as "unknown"); with
		// discovery cached, as it is after any earlier command, the
		// DELETE itself shows the refusal.
		kubectlOK(t, k, "get", "configmaps")
		_, errOut, code := k.run("--as=bob", "delete", "configmap", "good")
		if code != 1 || !strings.Contains(errOut, `Error from server (Forbidden): users "bob" is forbidden: User "skiff-admin" cannot impersonate resource "users"`) {
			t.Fatalf("kubectl --as=bob delete: exit %d, stderr %q; want exit 1 and the Forbidden error", code, errOut)
		}
	})
	if n := c.count(cms); n != base {
		t.Fatalf("%d configmaps after bad requests, want %d", n, base)
	}
	if n := c.count(pods); n != 0 {
		t.Fatalf("%d pods after bad requests, want 0", n)
	}
	r := c.do("GET", cms+"/good", "", nil, nil)
	if !strings.Contains(string(r.body), `"a":"1"`) {
		t.Fatalf("good configmap changed: %s", r.body)
	}
}
