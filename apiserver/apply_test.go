package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
)

// testAPI is a real API server over an embedded etcd in t.TempDir(),
// spoken to over HTTPS as a client would.
type testAPI struct {
	t      testing.TB
	run    *Running
	client *http.Client
}

func startTestAPI(t testing.TB) *testAPI {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	run, err := Run(ctx, RunOptions{DataDir: filepath.Join(t.TempDir(), "data"), Listen: "127.0.0.1:0",
		Version: version.Info{Major: "1", Minor: "33", GitVersion: "v1.33.0-skiff.test"}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = run.Wait() })
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(run.CAPEM)
	return &testAPI{t: t, run: run, client: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}}
}

// do sends a request and returns the status code and body. userAgent is
// sent when not empty.
func (a *testAPI) do(method, path, contentType, body, userAgent string) (int, []byte) {
	a.t.Helper()
	req, err := http.NewRequest(method, a.run.URL+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.run.AdminToken)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// must sends a request that must answer want, and decodes the answer.
func (a *testAPI) must(want int, method, path, contentType, body string) map[string]any {
	a.t.Helper()
	code, b := a.do(method, path, contentType, body, "")
	if code != want {
		a.t.Fatalf("%s %s: %d, want %d: %s", method, path, code, want, b)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		a.t.Fatalf("%s %s: %v: %s", method, path, err, b)
	}
	return out
}

const applyYAML = "application/apply-patch+yaml"

func objectMeta(t *testing.T, obj map[string]any) metav1.ObjectMeta {
	t.Helper()
	b, _ := json.Marshal(obj["metadata"])
	var m metav1.ObjectMeta
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func managerEntry(m metav1.ObjectMeta, manager string, op metav1.ManagedFieldsOperationType) (metav1.ManagedFieldsEntry, bool) {
	for _, e := range m.ManagedFields {
		if e.Manager == manager && e.Operation == op {
			return e, true
		}
	}
	return metav1.ManagedFieldsEntry{}, false
}

func fieldsOf(e metav1.ManagedFieldsEntry) string {
	if e.FieldsV1 == nil {
		return ""
	}
	return string(e.FieldsV1.Raw)
}

func configMapApply(name string, data map[string]string) string {
	b, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name}, "data": data})
	return string(b)
}

func TestServerSideApply(t *testing.T) {
	a := startTestAPI(t)
	const cms = "/api/v1/namespaces/default/configmaps"

	t.Run("upsert then update", func(t *testing.T) {
		// YAML body, as kubectl sends it.
		body := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: up\ndata:\n  a: \"1\"\n  b: \"2\"\n"
		created := a.must(http.StatusCreated, "PATCH", cms+"/up?fieldManager=alice", applyYAML, body)
		m := objectMeta(t, created)
		e, ok := managerEntry(m, "alice", metav1.ManagedFieldsOperationApply)
		if !ok || e.FieldsType != "FieldsV1" || e.Time == nil || e.APIVersion != "v1" || !strings.Contains(fieldsOf(e), `"f:a"`) {
			t.Fatalf("managedFields after apply-create: %+v", m.ManagedFields)
		}
		if m.UID == "" || m.CreationTimestamp.IsZero() {
			t.Fatalf("apply-create did not go through the create strategy: %+v", m)
		}
		// The same apply again changes nothing: no new revision.
		again := a.must(http.StatusOK, "PATCH", cms+"/up?fieldManager=alice", applyYAML, body)
		if rv := objectMeta(t, again).ResourceVersion; rv != m.ResourceVersion {
			t.Errorf("identical apply wrote revision %s (was %s)", rv, m.ResourceVersion)
		}
		// Dropping b from the applied config removes it (alice owned it
		// alone); changing a updates it. JSON is YAML too.
		upd := a.must(http.StatusOK, "PATCH", cms+"/up?fieldManager=alice", applyYAML, configMapApply("up", map[string]string{"a": "3"}))
		data := upd["data"].(map[string]any)
		if data["a"] != "3" || data["b"] != nil {
			t.Errorf("data after re-apply: %v, want a=3 and no b", data)
		}
		if objectMeta(t, upd).ResourceVersion == m.ResourceVersion {
			t.Error("changing apply kept the resourceVersion")
		}
	})

	t.Run("conflict and force", func(t *testing.T) {
		a.must(http.StatusCreated, "PATCH", cms+"/shared?fieldManager=alice", applyYAML, configMapApply("shared", map[string]string{"k": "v"}))
		code, b := a.do("PATCH", cms+"/shared?fieldManager=bob", applyYAML, configMapApply("shared", map[string]string{"k": "other"}), "")
		if code != http.StatusConflict {
			t.Fatalf("conflicting apply: %d %s", code, b)
		}
		var st metav1.Status
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		if st.Reason != metav1.StatusReasonConflict || st.Message != `Apply failed with 1 conflict: conflict with "alice": .data.k` ||
			st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != metav1.CauseTypeFieldManagerConflict ||
			st.Details.Causes[0].Field != ".data.k" || st.Details.Causes[0].Message != `conflict with "alice"` {
			t.Fatalf("conflict status: %s", b)
		}
		// The same value is no conflict: both own it.
		a.must(http.StatusOK, "PATCH", cms+"/shared?fieldManager=carol", applyYAML, configMapApply("shared", map[string]string{"k": "v"}))
		forced := a.must(http.StatusOK, "PATCH", cms+"/shared?fieldManager=bob&force=true", applyYAML, configMapApply("shared", map[string]string{"k": "other"}))
		if forced["data"].(map[string]any)["k"] != "other" {
			t.Fatalf("forced apply: %v", forced["data"])
		}
		m := objectMeta(t, forced)
		if e, ok := managerEntry(m, "bob", metav1.ManagedFieldsOperationApply); !ok || !strings.Contains(fieldsOf(e), `"f:k"`) {
			t.Errorf("bob does not own data.k after force: %+v", m.ManagedFields)
		}
		if e, ok := managerEntry(m, "alice", metav1.ManagedFieldsOperationApply); ok && strings.Contains(fieldsOf(e), `"f:k"`) {
			t.Errorf("alice still owns data.k after a forced takeover: %+v", m.ManagedFields)
		}
	})

	t.Run("dry run", func(t *testing.T) {
		got := a.must(http.StatusCreated, "PATCH", cms+"/dry?fieldManager=alice&dryRun=All", applyYAML, configMapApply("dry", map[string]string{"k": "v"}))
		if got["data"].(map[string]any)["k"] != "v" {
			t.Errorf("dry-run create answered %v", got)
		}
		if code, b := a.do("GET", cms+"/dry", "", "", ""); code != http.StatusNotFound {
			t.Fatalf("dry-run apply created the object: %d %s", code, b)
		}
		a.must(http.StatusCreated, "PATCH", cms+"/dry?fieldManager=alice", applyYAML, configMapApply("dry", map[string]string{"k": "v"}))
		got = a.must(http.StatusOK, "PATCH", cms+"/dry?fieldManager=alice&dryRun=All", applyYAML, configMapApply("dry", map[string]string{"k": "changed"}))
		if got["data"].(map[string]any)["k"] != "changed" {
			t.Errorf("dry-run update answered %v", got["data"])
		}
		stored := a.must(http.StatusOK, "GET", cms+"/dry", "", "")
		if stored["data"].(map[string]any)["k"] != "v" {
			t.Errorf("dry-run apply changed the stored object: %v", stored["data"])
		}
	})

	t.Run("options", func(t *testing.T) {
		code, b := a.do("PATCH", cms+"/opts", applyYAML, configMapApply("opts", nil), "")
		if code != http.StatusUnprocessableEntity || !strings.Contains(string(b), "fieldManager: Required value: is required for apply patch") {
			t.Errorf("apply without fieldManager: %d %s", code, b)
		}
		a.must(http.StatusCreated, "POST", cms, "application/json", configMapApply("opts", nil))
		code, b = a.do("PATCH", cms+"/opts?force=true", "application/merge-patch+json", `{"data":{"a":"b"}}`, "")
		if code != http.StatusUnprocessableEntity || !strings.Contains(string(b), "force: Forbidden: may not be specified for non-apply patch") {
			t.Errorf("merge patch with force: %d %s", code, b)
		}
		code, b = a.do("PATCH", cms+"/opts?fieldManager=x", applyYAML, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"opts"}}`, "")
		if code != http.StatusBadRequest {
			t.Errorf("apply of another kind: %d %s", code, b)
		}
		code, b = a.do("PATCH", cms+"/opts?fieldManager=x", applyYAML, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"opts","managedFields":[{"manager":"x"}]}}`, "")
		if code != http.StatusBadRequest || !strings.Contains(string(b), "metadata.managedFields must be nil") {
			t.Errorf("apply carrying managedFields: %d %s", code, b)
		}
		code, b = a.do("PATCH", cms+"/other?fieldManager=x", applyYAML, configMapApply("opts", nil), "")
		if code != http.StatusBadRequest || !strings.Contains(string(b), "does not match the name on the URL") {
			t.Errorf("apply-create under another name: %d %s", code, b)
		}
		code, b = a.do("PATCH", cms+"/opts?fieldManager=x", applyYAML, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"opts"},"spec":{"a":1}}`, "")
		if code != http.StatusBadRequest || !strings.Contains(string(b), ".spec: field not declared in schema") {
			t.Errorf("apply with an undeclared field: %d %s", code, b)
		}
		code, b = a.do("PATCH", cms+"/opts?fieldManager=x", "application/apply-patch+cbor", "", "")
		if code != http.StatusUnsupportedMediaType {
			t.Errorf("CBOR apply: %d %s", code, b)
		}
		code, b = a.do("PATCH", cms+"/opts?fieldManager=x&fieldValidation=Strict", applyYAML, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: opts\ndata:\n  a: \"1\"\n  a: \"2\"\n", "")
		if code != http.StatusBadRequest || !strings.Contains(string(b), "error strict decoding patch") {
			t.Errorf("strict apply with a duplicate field: %d %s", code, b)
		}
	})

	t.Run("status", func(t *testing.T) {
		deps := "/apis/apps/v1/namespaces/default/deployments"
		dep := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},` +
			`"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}`
		a.must(http.StatusCreated, "PATCH", deps+"/web?fieldManager=alice", applyYAML, dep)
		st := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":9},"status":{"observedGeneration":1,"replicas":2}}`
		got := a.must(http.StatusOK, "PATCH", deps+"/web/status?fieldManager=ctrl", applyYAML, st)
		if got["status"].(map[string]any)["replicas"] != float64(2) || got["spec"].(map[string]any)["replicas"] != float64(2) {
			t.Fatalf("status apply: status %v spec.replicas %v; want status set, spec untouched", got["status"], got["spec"].(map[string]any)["replicas"])
		}
		m := objectMeta(t, got)
		e, ok := managerEntry(m, "ctrl", metav1.ManagedFieldsOperationApply)
		if !ok || e.Subresource != "status" || !strings.Contains(fieldsOf(e), `"f:status"`) || strings.Contains(fieldsOf(e), `"f:spec"`) {
			t.Errorf("status manager entry: %+v", m.ManagedFields)
		}
		if e, ok := managerEntry(m, "alice", metav1.ManagedFieldsOperationApply); !ok || e.Subresource != "" || strings.Contains(fieldsOf(e), `"f:status"`) {
			t.Errorf("main manager entry: %+v", m.ManagedFields)
		}
		// Status applies do not create.
		if code, b := a.do("PATCH", deps+"/absent/status?fieldManager=ctrl", applyYAML, strings.ReplaceAll(st, `"web"`, `"absent"`), ""); code != http.StatusNotFound {
			t.Errorf("status apply to an absent object: %d %s", code, b)
		}
	})

	t.Run("client-side apply migration", func(t *testing.T) {
		// What `kubectl apply` (client-side) leaves behind: the last-applied
		// annotation and an Update entry of kubectl-client-side-apply.
		last := `{"apiVersion":"v1","data":{"k":"v"},"kind":"ConfigMap","metadata":{"annotations":{},"name":"csa","namespace":"default"}}`
		obj, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "csa", "annotations": map[string]string{"kubectl.kubernetes.io/last-applied-configuration": last}},
			"data":     map[string]string{"k": "v"}})
		a.must(http.StatusCreated, "POST", cms+"?fieldManager=kubectl-client-side-apply", "application/json", string(obj))
		// Another manager changing k conflicts with the client-side owner…
		if code, b := a.do("PATCH", cms+"/csa?fieldManager=other", applyYAML, configMapApply("csa", map[string]string{"k": "w"}), ""); code != http.StatusConflict {
			t.Fatalf("apply by another manager over client-side-applied fields: %d %s", code, b)
		}
		// …but kubectl's own server-side apply takes over what the
		// last-applied configuration says it set, and keeps that
		// annotation current.
		got := a.must(http.StatusOK, "PATCH", cms+"/csa?fieldManager=kubectl", applyYAML, configMapApply("csa", map[string]string{"k": "w"}))
		if got["data"].(map[string]any)["k"] != "w" {
			t.Fatalf("kubectl server-side apply after client-side apply: %v", got["data"])
		}
		m := objectMeta(t, got)
		if !strings.Contains(m.Annotations["kubectl.kubernetes.io/last-applied-configuration"], `"k":"w"`) {
			t.Errorf("last-applied annotation not updated: %q", m.Annotations["kubectl.kubernetes.io/last-applied-configuration"])
		}
		if e, ok := managerEntry(m, "kubectl", metav1.ManagedFieldsOperationApply); !ok || !strings.Contains(fieldsOf(e), `"f:k"`) {
			t.Errorf("kubectl does not own data.k: %+v", m.ManagedFields)
		}
	})
}

func TestManagedFieldsOnWrites(t *testing.T) {
	a := startTestAPI(t)
	const cms = "/api/v1/namespaces/default/configmaps"

	// No fieldManager: the manager is the User-Agent's product name.
	code, b := a.do("POST", cms, "application/json", configMapApply("w", map[string]string{"k": "v"}), "kubectl/v1.33.0 (linux/amd64) kubernetes/abcdef")
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, b)
	}
	var created map[string]any
	_ = json.Unmarshal(b, &created)
	m := objectMeta(t, created)
	e, ok := managerEntry(m, "kubectl", metav1.ManagedFieldsOperationUpdate)
	if !ok || e.FieldsType != "FieldsV1" || e.Time == nil || !strings.Contains(fieldsOf(e), `"f:data":{".":{},"f:k":{}}`) || len(m.ManagedFields) != 1 {
		t.Fatalf("managedFields after create: %+v", m.ManagedFields)
	}

	// A PUT records its manager; putting the same object back is a no-op.
	created["data"] = map[string]any{"k": "v", "e": "1"}
	put, _ := json.Marshal(created)
	updated := a.must(http.StatusOK, "PUT", cms+"/w?fieldManager=kubectl-edit", "application/json", string(put))
	um := objectMeta(t, updated)
	if e, ok := managerEntry(um, "kubectl-edit", metav1.ManagedFieldsOperationUpdate); !ok || !strings.Contains(fieldsOf(e), `"f:e"`) || strings.Contains(fieldsOf(e), `"f:k"`) {
		t.Fatalf("managedFields after update: %+v", um.ManagedFields)
	}
	same, _ := json.Marshal(updated)
	again := a.must(http.StatusOK, "PUT", cms+"/w?fieldManager=kubectl-edit", "application/json", string(same))
	if rv := objectMeta(t, again).ResourceVersion; rv != um.ResourceVersion {
		t.Errorf("identical PUT wrote revision %s (was %s)", rv, um.ResourceVersion)
	}

	// Each patch type records its manager.
	for _, p := range []struct{ typ, body, manager, field string }{
		{"application/merge-patch+json", `{"data":{"m":"1"}}`, "merger", `"f:m"`},
		{"application/strategic-merge-patch+json", `{"data":{"s":"1"}}`, "kubectl-client-side-apply", `"f:s"`},
		{"application/json-patch+json", `[{"op":"add","path":"/data/j","value":"1"}]`, "jsonpatcher", `"f:j"`},
	} {
		got := a.must(http.StatusOK, "PATCH", cms+"/w?fieldManager="+p.manager, p.typ, p.body)
		pm := objectMeta(t, got)
		if e, ok := managerEntry(pm, p.manager, metav1.ManagedFieldsOperationUpdate); !ok || !strings.Contains(fieldsOf(e), p.field) {
			t.Errorf("%s: managedFields %+v", p.typ, pm.ManagedFields)
		}
	}

	// managedFields: [] resets them. With nothing tracked, the object is
	// treated as one from before field tracking: this update is not
	// recorded either (upstream's skip of untracked objects).
	cur := a.must(http.StatusOK, "GET", cms+"/w", "", "")
	cur["metadata"].(map[string]any)["managedFields"] = []any{}
	cur["data"].(map[string]any)["r"] = "1"
	reset, _ := json.Marshal(cur)
	rm := objectMeta(t, a.must(http.StatusOK, "PUT", cms+"/w?fieldManager=resetter", "application/json", string(reset)))
	if len(rm.ManagedFields) != 0 {
		t.Errorf("managedFields after a reset: %+v", rm.ManagedFields)
	}
	// The next apply starts tracking again, crediting what was there to
	// "before-first-apply".
	am := objectMeta(t, a.must(http.StatusOK, "PATCH", cms+"/w?fieldManager=applier", applyYAML, configMapApply("w", map[string]string{"r": "1"})))
	if _, ok := managerEntry(am, "before-first-apply", metav1.ManagedFieldsOperationUpdate); !ok {
		t.Errorf("managedFields after apply to an untracked object: %+v", am.ManagedFields)
	}

	// A status write records the subresource.
	nodes := "/api/v1/nodes"
	a.must(http.StatusCreated, "POST", nodes+"?fieldManager=agent", "application/json", `{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1","labels":{"a":"b"}}}`)
	got := a.must(http.StatusOK, "PATCH", nodes+"/n1/status?fieldManager=agent", "application/merge-patch+json", `{"status":{"nodeInfo":{"kubeletVersion":"v1.33.0"}}}`)
	nm := objectMeta(t, got)
	var status *metav1.ManagedFieldsEntry
	for i := range nm.ManagedFields {
		if nm.ManagedFields[i].Subresource == "status" {
			status = &nm.ManagedFields[i]
		}
	}
	if status == nil || status.Manager != "agent" || !strings.Contains(fieldsOf(*status), `"f:kubeletVersion"`) {
		t.Errorf("managedFields after a status patch: %+v", nm.ManagedFields)
	}
}

func TestManagerOrUserAgent(t *testing.T) {
	for _, c := range []struct{ manager, ua, want string }{
		{"explicit", "kubectl/v1.33.0", "explicit"},
		{"", "kubectl/v1.33.0 (linux/amd64) kubernetes/abc", "kubectl"},
		{"", "kube-controller-manager/v1.33.0 (linux/amd64) kubernetes/abc/system:serviceaccount:kube-system:deployment-controller", "kube-controller-manager"},
		{"", "Go-http-client/1.1", "Go-http-client"},
		{"", "a\x00b/1", "ab"},
		{"", strings.Repeat("x", 200), strings.Repeat("x", 128)},
		{"", "", ""},
	} {
		if got := managerOrUserAgent(c.manager, c.ua); got != c.want {
			t.Errorf("managerOrUserAgent(%q, %q) = %q, want %q", c.manager, c.ua, got, c.want)
		}
	}
}

// Events are served as core/v1 and events.k8s.io/v1 and stored as one:
// managers recorded through one version survive writes through the other.
func TestManagedFieldsAcrossEventVersions(t *testing.T) {
	a := startTestAPI(t)
	ev := `{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"e1"},"eventTime":"2026-01-01T00:00:00.000000Z",` +
		`"reportingController":"ctl","reportingInstance":"ctl-1","action":"Started","reason":"Started","type":"Normal","note":"hello",` +
		`"regarding":{"kind":"Pod","namespace":"default","name":"p"}}`
	a.must(http.StatusCreated, "POST", "/apis/events.k8s.io/v1/namespaces/default/events?fieldManager=newstyle", "application/json", ev)
	got := a.must(http.StatusOK, "PATCH", "/api/v1/namespaces/default/events/e1?fieldManager=oldstyle", "application/merge-patch+json", `{"message":"changed"}`)
	m := objectMeta(t, got)
	n, ok1 := managerEntry(m, "newstyle", metav1.ManagedFieldsOperationUpdate)
	o, ok2 := managerEntry(m, "oldstyle", metav1.ManagedFieldsOperationUpdate)
	if !ok1 || !ok2 || o.APIVersion != "v1" || !strings.Contains(fieldsOf(o), `"f:message"`) {
		t.Fatalf("managedFields after writes through both versions: %+v", m.ManagedFields)
	}
	if n.APIVersion != "events.k8s.io/v1" || !strings.Contains(fieldsOf(n), `"f:reportingController"`) {
		t.Errorf("events.k8s.io/v1 manager after a core/v1 write: %+v", n)
	}
	// An apply through core/v1 conflicts with the core/v1 owner of
	// message, and with force takes it over.
	body := `{"apiVersion":"v1","kind":"Event","metadata":{"name":"e1"},"message":"applied"}`
	if code, b := a.do("PATCH", "/api/v1/namespaces/default/events/e1?fieldManager=x", applyYAML, body, ""); code != http.StatusConflict {
		t.Errorf("conflicting apply through core/v1: %d %s", code, b)
	}
	got = a.must(http.StatusOK, "PATCH", "/api/v1/namespaces/default/events/e1?fieldManager=x&force=true", applyYAML, body)
	if got["message"] != "applied" {
		t.Errorf("apply through core/v1: message %v", got["message"])
	}
	if _, ok := managerEntry(objectMeta(t, got), "newstyle", metav1.ManagedFieldsOperationUpdate); !ok {
		t.Errorf("events.k8s.io/v1 manager lost by an apply through core/v1: %+v", objectMeta(t, got).ManagedFields)
	}
}
