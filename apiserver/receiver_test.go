package apiserver

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func sign(alg string, newHash func() hash.Hash, token, body string) string {
	m := hmac.New(newHash, []byte(token))
	m.Write([]byte(body))
	return alg + "=" + hex.EncodeToString(m.Sum(nil))
}

func TestVerifyHook(t *testing.T) {
	const tok, body = "s3cr3t", `{"ref":"refs/heads/main"}`
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	form := "payload=" + url.QueryEscape(body)
	cases := []struct {
		name, typ string
		h         http.Header
		body      string
		wantEvent string
		wantErr   error // nil, errHookUnauthorized or errHookBadPayload
	}{
		{"generic: no check", "generic", hdr(), "anything", "", nil},
		{"generic-hmac sha256", "generic-hmac", hdr("X-Signature", sign("sha256", sha256.New, tok, body)), body, "", nil},
		{"generic-hmac sha1", "generic-hmac", hdr("X-Signature", sign("sha1", sha1.New, tok, body)), body, "", nil},
		{"generic-hmac sha512", "generic-hmac", hdr("X-Signature", sign("sha512", sha512.New, tok, body)), body, "", nil},
		{"generic-hmac wrong key", "generic-hmac", hdr("X-Signature", sign("sha256", sha256.New, "other", body)), body, "", errHookUnauthorized},
		{"generic-hmac body changed", "generic-hmac", hdr("X-Signature", sign("sha256", sha256.New, tok, body)), body + " ", "", errHookUnauthorized},
		{"generic-hmac missing", "generic-hmac", hdr(), body, "", errHookUnauthorized},
		{"generic-hmac md5 refused", "generic-hmac", hdr("X-Signature", "md5=00"), body, "", errHookUnauthorized},
		{"generic-hmac not hex", "generic-hmac", hdr("X-Signature", "sha256=zz"), body, "", errHookUnauthorized},
		{"generic-hmac no algorithm", "generic-hmac", hdr("X-Signature", hex.EncodeToString([]byte("x"))), body, "", errHookUnauthorized},
		{"github sha256", "github", hdr("X-Hub-Signature-256", sign("sha256", sha256.New, tok, body), "X-GitHub-Event", "push", "Content-Type", "application/json"), body, "push", nil},
		{"github sha1 only", "github", hdr("X-Hub-Signature", sign("sha1", sha1.New, tok, body), "X-GitHub-Event", "push", "Content-Type", "application/json"), body, "push", nil},
		{"github sha256 wins over a wrong sha1", "github", hdr("X-Hub-Signature-256", sign("sha256", sha256.New, tok, body), "X-Hub-Signature", "sha1=00",
			"X-GitHub-Event", "push", "Content-Type", "application/json"), body, "push", nil},
		{"github wrong sha256", "github", hdr("X-Hub-Signature-256", sign("sha256", sha256.New, "other", body), "X-GitHub-Event", "push", "Content-Type", "application/json"), body, "push", errHookUnauthorized},
		{"github unsigned", "github", hdr("X-GitHub-Event", "push", "Content-Type", "application/json"), body, "push", errHookUnauthorized},
		{"github form payload", "github", hdr("X-Hub-Signature-256", sign("sha256", sha256.New, tok, form), "X-GitHub-Event", "push", "Content-Type", "application/x-www-form-urlencoded"), form, "push", nil},
		{"github signed but not JSON", "github", hdr("X-Hub-Signature-256", sign("sha256", sha256.New, tok, "nope"), "X-GitHub-Event", "push", "Content-Type", "application/json"), "nope", "push", errHookBadPayload},
		{"github unsupported content type", "github", hdr("X-Hub-Signature-256", sign("sha256", sha256.New, tok, body), "X-GitHub-Event", "push", "Content-Type", "text/plain"), body, "push", errHookBadPayload},
		{"github no event", "github", hdr("X-Hub-Signature-256", sign("sha256", sha256.New, tok, body), "Content-Type", "application/json"), body, "", errHookBadPayload},
		{"gitlab token", "gitlab", hdr("X-Gitlab-Token", tok, "X-Gitlab-Event", "Push Hook"), body, "Push Hook", nil},
		{"gitlab wrong token", "gitlab", hdr("X-Gitlab-Token", tok+"x", "X-Gitlab-Event", "Push Hook"), body, "Push Hook", errHookUnauthorized},
		{"gitlab no token", "gitlab", hdr("X-Gitlab-Event", "Push Hook"), body, "Push Hook", errHookUnauthorized},
		{"unsupported type", "bitbucket", hdr(), body, "", errHookBadPayload},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			event, err := verifyHook(c.typ, tok, c.h, []byte(c.body))
			if event != c.wantEvent {
				t.Errorf("event %q, want %q", event, c.wantEvent)
			}
			switch {
			case c.wantErr == nil && err != nil:
				t.Errorf("refused: %v", err)
			case c.wantErr != nil && !errors.Is(err, c.wantErr):
				t.Errorf("error %v, want %v", err, c.wantErr)
			}
		})
	}
}

func TestHookEventAllowed(t *testing.T) {
	cases := []struct {
		events []string
		event  string
		want   bool
	}{
		{nil, "push", true},
		{[]string{"push"}, "push", true},
		{[]string{"Push Hook"}, "push hook", true},
		{[]string{"push"}, "release", false},
		{[]string{"push"}, "", false},
	}
	for _, c := range cases {
		if got := hookEventAllowed(c.events, c.event); got != c.want {
			t.Errorf("hookEventAllowed(%v, %q) = %v", c.events, c.event, got)
		}
	}
}

func TestValidHookDigest(t *testing.T) {
	good := strings.Repeat("0a", 32)
	for d, want := range map[string]bool{good: true, strings.ToUpper(good): false, good[:63]: false, good + "0": false, "../" + good[3:]: false, "": false} {
		if validHookDigest(d) != want {
			t.Errorf("validHookDigest(%q) = %v", d, !want)
		}
	}
}

// hookPath is what the Receiver controller writes for a token, name and
// namespace (Flux's algorithm; the controller's own test pins the values).
func hookPath(token, name, namespace string) string {
	sum := sha256.Sum256([]byte(token + name + namespace))
	return hookPrefix + hex.EncodeToString(sum[:])
}

// post sends a hook without credentials.
func (a *testAPI) post(path string, h http.Header, body io.Reader) (int, string) {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.run.URL+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func annotationOf(t *testing.T, obj map[string]any) (string, string) {
	m := objectMeta(t, obj)
	return m.Annotations[reconcileRequestAnnotation], m.ResourceVersion
}

// TestHookServed drives the endpoint over HTTPS against a real server and
// etcd, playing the Receiver controller by writing status itself.
func TestHookServed(t *testing.T) {
	a := startTestAPI(t)
	const tok = "s3cr3t"
	a.must(201, "POST", "/api/v1/namespaces/default/secrets", "application/json",
		`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"webhook-token"},"stringData":{"token":"`+tok+`"}}`)
	repo := func(name, labels string) {
		a.must(201, "POST", "/apis/source.toolkit.fluxcd.io/v1/namespaces/default/gitrepositories", "application/json",
			`{"apiVersion":"source.toolkit.fluxcd.io/v1","kind":"GitRepository","metadata":{"name":"`+name+`","labels":`+labels+`},"spec":{"url":"https://example.com/x.git","interval":"1m"}}`)
	}
	repo("shop", `{}`)
	repo("a", `{"team":"x"}`)
	repo("b", `{"team":"x"}`)
	repo("c", `{"team":"y"}`)
	receiver := func(name, typ, extra string) string {
		a.must(201, "POST", "/apis/notification.toolkit.fluxcd.io/v1/namespaces/default/receivers", "application/json",
			`{"apiVersion":"notification.toolkit.fluxcd.io/v1","kind":"Receiver","metadata":{"name":"`+name+`"},"spec":{"type":"`+typ+`",`+extra+
				`"secretRef":{"name":"webhook-token"},"resources":[{"kind":"GitRepository","name":"shop"},{"kind":"GitRepository","name":"*","matchLabels":{"team":"x"}}]}}`)
		p := hookPath(tok, name, "default")
		now := time.Now().UTC().Format(time.RFC3339)
		a.must(200, "PATCH", "/apis/notification.toolkit.fluxcd.io/v1/namespaces/default/receivers/"+name+"/status", "application/merge-patch+json",
			`{"status":{"webhookPath":"`+p+`","conditions":[{"type":"Ready","status":"True","reason":"Succeeded","message":"Receiver initialized for path: `+p+`","lastTransitionTime":"`+now+`"}]}}`)
		return p
	}
	ghPath := receiver("github", "github", `"events":["push"],`)
	suspended := receiver("paused", "generic", `"suspend":true,`)
	get := func(name string) map[string]any {
		return a.must(200, "GET", "/apis/source.toolkit.fluxcd.io/v1/namespaces/default/gitrepositories/"+name, "", "")
	}

	body := `{"ref":"refs/heads/main"}`
	gh := func(event, sig string) http.Header {
		return http.Header{"Content-Type": {"application/json"}, "X-Github-Event": {event}, "X-Hub-Signature-256": {sig}}
	}
	good := sign("sha256", sha256.New, tok, body)

	if code, msg := a.post(ghPath, gh("push", sign("sha256", sha256.New, "wrong", body)), strings.NewReader(body)); code != 401 {
		t.Fatalf("bad signature: %d %s", code, msg)
	}
	if ann, _ := annotationOf(t, get("shop")); ann != "" {
		t.Fatalf("a refused hook annotated: %q", ann)
	}
	if code, msg := a.post(ghPath, gh("ping", good), strings.NewReader(body)); code != 200 {
		t.Fatalf("ping: %d %s", code, msg)
	}
	if ann, _ := annotationOf(t, get("shop")); ann != "" {
		t.Fatalf("a ping annotated: %q", ann)
	}
	if code, msg := a.post(ghPath, gh("release", good), strings.NewReader(body)); code != 400 {
		t.Fatalf("event not accepted: %d %s", code, msg)
	}
	_, rv0 := annotationOf(t, get("shop"))
	if code, msg := a.post(ghPath, gh("push", good), strings.NewReader(body)); code != 200 || !strings.Contains(msg, "3 resource") {
		t.Fatalf("push: %d %s", code, msg)
	}
	for _, name := range []string{"shop", "a", "b"} {
		obj := get(name)
		ann, rv := annotationOf(t, obj)
		if _, err := time.Parse(time.RFC3339Nano, ann); err != nil {
			t.Errorf("%s: requestedAt %q: %v", name, ann, err)
		}
		if name == "shop" && rv == rv0 {
			t.Errorf("shop: resourceVersion unchanged by the annotation")
		}
		if _, ok := managerEntry(objectMeta(t, obj), hookFieldManager, "Update"); !ok {
			t.Errorf("%s: no managedFields entry for %s: %+v", name, hookFieldManager, objectMeta(t, obj).ManagedFields)
		}
	}
	if ann, _ := annotationOf(t, get("c")); ann != "" {
		t.Errorf("c does not match the labels but was annotated: %q", ann)
	}

	if code, _ := a.post(suspended, nil, strings.NewReader("{}")); code != 503 {
		t.Errorf("suspended receiver: %d, want 503", code)
	}
	if code, _ := a.post(hookPath("other", "github", "default"), gh("push", good), strings.NewReader(body)); code != 404 {
		t.Errorf("unknown path: %d, want 404", code)
	}
	if code, _ := a.post("/hook/not-a-digest", nil, strings.NewReader(body)); code != 404 {
		t.Errorf("malformed path: %d, want 404", code)
	}
	if code := a.mustStatus(http.MethodGet, ghPath); code != 405 {
		t.Errorf("GET: %d, want 405", code)
	}
	// A body over the cap, streamed without a length, is cut off at it.
	big := io.MultiReader(strings.NewReader(`{"x":"`), strings.NewReader(strings.Repeat("a", maxHookBody)), strings.NewReader(`"}`))
	if code, msg := a.post(ghPath, gh("push", good), io.NopCloser(big)); code != 413 {
		t.Errorf("huge body: %d %s, want 413", code, msg)
	}
	// Other paths still need credentials.
	if code := a.mustStatus(http.MethodGet, "/api/v1/namespaces"); code != 401 {
		t.Errorf("unauthenticated API call: %d, want 401", code)
	}
}

// mustStatus sends an unauthenticated request and returns its status.
func (a *testAPI) mustStatus(method, path string) int {
	a.t.Helper()
	req, err := http.NewRequest(method, a.run.URL+path, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
