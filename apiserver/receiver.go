package apiserver

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-dev/skiff/apiserver/storage"
	"github.com/skiff-dev/skiff/manifests/flux"
)

// Flux Receivers' webhooks, served on the API server's port as Flux's
// notification-controller serves them on its receiver port: POST
// /hook/<sha256 hex>, without Kubernetes credentials. The unguessable path
// (which the Receiver controller, reconcile/gitsync/receiver, writes into
// status.webhookPath) and the payload's signature are the authentication.
// A verified hook annotates each of the Receiver's resources with
// reconcile.fluxcd.io/requestedAt through the ordinary update path (a new
// resourceVersion, a watch event, admission and validation), which is
// what makes the GitRepository controller fetch at once. A payload's
// content is never used beyond its event type.
//
// Answers follow Flux, except that a signature or token mismatch is 401
// (Flux answers 400 for every failed check) and a GitHub ping is answered
// 200 without annotating anything:
//   - 200 the resources were annotated;
//   - 400 a malformed payload, an event the Receiver does not accept, an
//     unreadable token, or a type Skiff does not verify;
//   - 401 a missing or wrong signature (github, generic-hmac) or token
//     (gitlab);
//   - 404 no Receiver has that path;
//   - 405 a method other than POST;
//   - 413 a body over maxHookBody;
//   - 500 a resource could not be annotated;
//   - 501 the Receiver sets spec.resourceFilter, which Skiff does not
//     evaluate;
//   - 503 the Receiver is suspended or not Ready.

const (
	hookPrefix = "/hook/"
	// maxHookBody bounds a hook's body. Forges' push payloads are a few
	// KiB to a few hundred (GitHub caps deliveries at 25 MiB, but a push
	// of many commits lists only the first 20).
	maxHookBody = 1 << 20
	// hookReadTimeout bounds reading a hook, as Flux's receiver server.
	hookReadTimeout = 30 * time.Second
	// reconcileRequestAnnotation is what `flux reconcile` and hooks set.
	reconcileRequestAnnotation = "reconcile.fluxcd.io/requestedAt"
	// hookFieldManager is the manager hook writes are recorded under, as
	// Flux's controller names itself.
	hookFieldManager = "notification-controller"
)

// Receiver types whose payloads are verified.
const (
	hookGeneric     = "generic"
	hookGenericHMAC = "generic-hmac"
	hookGitHub      = "github"
	hookGitLab      = "gitlab"
)

// Why a payload was refused.
var (
	// errHookUnauthorized: the signature or token is missing or wrong.
	errHookUnauthorized = errors.New("unauthorized")
	// errHookBadPayload: the payload or its headers are malformed.
	errHookBadPayload = errors.New("bad payload")
)

// isHookPath reports whether the request is for a Receiver's webhook.
func isHookPath(p string) bool { return strings.HasPrefix(p, hookPrefix) }

// hookResult is what one hook did, for the response and the log line.
type hookResult struct {
	code      int
	msg       string
	receiver  string
	typ       string
	event     string
	annotated int
	err       error
}

// serveHook handles POST /hook/<digest>.
func (s *Server) serveHook(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	res := s.handleHook(w, r)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if res.code == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	w.WriteHeader(res.code)
	fmt.Fprintln(w, res.msg)
	attrs := []any{"path", r.URL.Path, "code", res.code, "remote", r.RemoteAddr, "duration", time.Since(start)}
	if res.receiver != "" {
		attrs = append(attrs, "receiver", res.receiver, "type", res.typ)
	}
	if res.event != "" {
		attrs = append(attrs, "event", res.event)
	}
	if res.code == http.StatusOK {
		attrs = append(attrs, "annotated", res.annotated)
	}
	if res.err != nil {
		attrs = append(attrs, "err", res.err)
	}
	if res.code >= 500 {
		s.log.Error("webhook handled", attrs...)
	} else {
		s.log.Info("webhook handled", attrs...)
	}
}

func (s *Server) handleHook(w http.ResponseWriter, r *http.Request) hookResult {
	if r.Method != http.MethodPost {
		return hookResult{code: http.StatusMethodNotAllowed, msg: "only POST is accepted"}
	}
	notFound := hookResult{code: http.StatusNotFound, msg: "no receiver for this path"}
	if !validHookDigest(strings.TrimPrefix(r.URL.Path, hookPrefix)) {
		return notFound
	}
	ctx := r.Context()
	rcv, err := s.receiverByPath(ctx, r.URL.Path)
	if err != nil {
		return hookResult{code: http.StatusInternalServerError, msg: "unable to look up receivers", err: err}
	}
	if rcv == nil {
		return notFound
	}
	res := hookResult{receiver: rcv.Namespace + "/" + rcv.Name, typ: rcv.Spec.Type}
	fail := func(code int, msg string, err error) hookResult {
		res.code, res.msg, res.err = code, msg, err
		return res
	}
	switch {
	case rcv.Spec.Suspend:
		return fail(http.StatusServiceUnavailable, "receiver is suspended", nil)
	case !apimeta.IsStatusConditionTrue(rcv.Status.Conditions, "Ready"):
		return fail(http.StatusServiceUnavailable, "receiver is not ready", nil)
	case rcv.Spec.ResourceFilter != "":
		return fail(http.StatusNotImplemented, "spec.resourceFilter is not supported by Skiff", nil)
	}
	// Bound the time to read the body, as for any request that is not a
	// stream (the server's own deadline is for API calls).
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(hookReadTimeout))
	body, err := readHookBody(w, r)
	if errors.Is(err, errHookTooLarge) {
		return fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", maxHookBody), err)
	}
	if err != nil {
		return fail(http.StatusBadRequest, "unable to read the request body", err)
	}
	token, err := s.receiverToken(ctx, rcv)
	if err != nil {
		return fail(http.StatusBadRequest, "unable to read the receiver's token", err)
	}
	event, err := verifyHook(rcv.Spec.Type, token, r.Header, body)
	res.event = event
	switch {
	case errors.Is(err, errHookUnauthorized):
		return fail(http.StatusUnauthorized, "signature verification failed", err)
	case err != nil:
		return fail(http.StatusBadRequest, "invalid payload", err)
	}
	if rcv.Spec.Type == hookGitHub && event == "ping" {
		// GitHub pings a new hook to check it is reachable: nothing to do.
		res.code, res.msg = http.StatusOK, "pong"
		return res
	}
	if !hookEventAllowed(rcv.Spec.Events, event) {
		return fail(http.StatusBadRequest, fmt.Sprintf("event '%s' is not accepted by this receiver", event), nil)
	}
	n, err := s.requestReconcile(ctx, rcv)
	res.annotated = n
	if err != nil {
		return fail(http.StatusInternalServerError, "unable to request reconciliation of every resource", err)
	}
	res.code, res.msg = http.StatusOK, fmt.Sprintf("reconciliation requested for %d resource(s)", n)
	return res
}

// validHookDigest: Flux's paths end in a lowercase hex SHA-256. Anything
// else cannot name a Receiver and is answered without a lookup.
func validHookDigest(d string) bool {
	if len(d) != 2*sha256.Size {
		return false
	}
	for _, c := range d {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

var errHookTooLarge = errors.New("request body too large")

func readHookBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > maxHookBody {
		return nil, errHookTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHookBody))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, errHookTooLarge
	}
	if err != nil {
		return nil, fmt.Errorf("read hook body: %w", err)
	}
	return body, nil
}

// receiverByPath finds the Receiver whose status.webhookPath is path. The
// watch cache answers; on a miss it is brought up to date and asked again,
// so a path the controller has just written is found.
func (s *Server) receiverByPath(ctx context.Context, path string) (*flux.Receiver, error) {
	res := s.resourceByKind(flux.ReceiverKind)
	if res == nil {
		return nil, errors.New("receivers are not served")
	}
	for _, fr := range []storage.Freshness{{}, {Latest: true}} {
		entries, _, err := res.cache.List(ctx, storage.Predicate{}, fr)
		if err != nil {
			return nil, fmt.Errorf("list receivers: %w", err)
		}
		for _, e := range entries {
			obj, err := res.external(e)
			if err != nil {
				return nil, fmt.Errorf("decode receiver %s: %w", e.Key, err)
			}
			rcv, ok := obj.(*flux.Receiver)
			if !ok {
				return nil, fmt.Errorf("receiver %s: unexpected %T", e.Key, obj)
			}
			// Constant time: the path is the Receiver's credential.
			if rcv.Status.WebhookPath != "" && subtle.ConstantTimeCompare([]byte(rcv.Status.WebhookPath), []byte(path)) == 1 {
				return rcv, nil
			}
		}
	}
	return nil, nil
}

// receiverToken reads the "token" key of the Receiver's Secret, current
// as of now (a rotated token takes effect at once).
func (s *Server) receiverToken(ctx context.Context, rcv *flux.Receiver) (string, error) {
	res := s.resourceByKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	ref := rcv.Namespace + "/" + rcv.Spec.SecretRef.Name
	key := res.key(rcv.Namespace, rcv.Spec.SecretRef.Name)
	raw, rev, err := s.store.Get(ctx, key)
	if err != nil {
		return "", fmt.Errorf("unable to read token from secret '%s': %w", ref, err)
	}
	obj, err := res.external(res.cache.Entry(key, rev, raw))
	if err != nil {
		return "", fmt.Errorf("decode secret '%s': %w", ref, err)
	}
	sec, ok := obj.(*corev1.Secret)
	if !ok {
		return "", fmt.Errorf("secret '%s': unexpected %T", ref, obj)
	}
	tok, ok := sec.Data["token"]
	if !ok {
		return "", fmt.Errorf("invalid '%s' secret data: required field 'token'", ref)
	}
	return string(tok), nil
}

// verifyHook checks a payload as Flux's receiver does for the Receiver's
// type and returns the event it carries ("" for the generic types). An
// error wraps errHookUnauthorized or errHookBadPayload.
func verifyHook(typ, token string, h http.Header, body []byte) (string, error) {
	switch typ {
	case hookGeneric:
		return "", nil
	case hookGenericHMAC:
		if err := checkHMAC(h.Get("X-Signature"), body, token); err != nil {
			return "", fmt.Errorf("X-Signature: %w", err)
		}
		return "", nil
	case hookGitHub:
		event := h.Get("X-GitHub-Event")
		// GitHub sends X-Hub-Signature-256, and the SHA-1 X-Hub-Signature
		// for older hooks; the stronger one wins when both are present.
		name, sig := "X-Hub-Signature-256", h.Get("X-Hub-Signature-256")
		if sig == "" {
			name, sig = "X-Hub-Signature", h.Get("X-Hub-Signature")
		}
		if err := checkHMAC(sig, body, token); err != nil {
			return event, fmt.Errorf("%s: %w", name, err)
		}
		if err := checkGitHubPayload(h.Get("Content-Type"), body); err != nil {
			return event, err
		}
		if event == "" {
			return "", fmt.Errorf("missing X-GitHub-Event header: %w", errHookBadPayload)
		}
		return event, nil
	case hookGitLab:
		event := h.Get("X-Gitlab-Event")
		if subtle.ConstantTimeCompare([]byte(h.Get("X-Gitlab-Token")), []byte(token)) != 1 {
			return event, fmt.Errorf("the X-Gitlab-Token header value does not match the receiver token: %w", errHookUnauthorized)
		}
		return event, nil
	}
	return "", fmt.Errorf("receiver type '%s' not supported: %w", typ, errHookBadPayload)
}

// checkHMAC verifies a "<algorithm>=<hex>" signature of body keyed with
// token, as go-github's ValidateSignature (sha1, sha256, sha512).
func checkHMAC(signature string, body []byte, token string) error {
	if signature == "" {
		return fmt.Errorf("missing signature: %w", errHookUnauthorized)
	}
	alg, sigHex, ok := strings.Cut(signature, "=")
	if !ok {
		return fmt.Errorf("signature is not of the form <algorithm>=<hex>: %w", errHookUnauthorized)
	}
	var newHash func() hash.Hash
	switch alg {
	case "sha1":
		newHash = sha1.New
	case "sha256":
		newHash = sha256.New
	case "sha512":
		newHash = sha512.New
	default:
		return fmt.Errorf("unsupported signature algorithm %q: %w", alg, errHookUnauthorized)
	}
	want, err := hex.DecodeString(sigHex)
	if err != nil {
		return fmt.Errorf("signature is not hex: %w", errHookUnauthorized)
	}
	mac := hmac.New(newHash, []byte(token))
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), want) {
		return fmt.Errorf("payload signature does not match: %w", errHookUnauthorized)
	}
	return nil
}

// checkGitHubPayload accepts GitHub's two content types, as go-github's
// ValidatePayload: JSON, or a form whose "payload" field is the JSON.
func checkGitHubPayload(contentType string, body []byte) error {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, errHookBadPayload)
	}
	payload := body
	switch mt {
	case "application/json":
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return fmt.Errorf("form payload: %w", errHookBadPayload)
		}
		payload = []byte(form.Get("payload"))
	default:
		return fmt.Errorf("webhook request has unsupported Content-Type %q: %w", contentType, errHookBadPayload)
	}
	if !json.Valid(payload) {
		return fmt.Errorf("payload is not JSON: %w", errHookBadPayload)
	}
	return nil
}

// hookEventAllowed: an empty list accepts every event; otherwise the
// event must be listed, compared case-insensitively as Flux does.
func hookEventAllowed(events []string, event string) bool {
	return len(events) == 0 || slices.ContainsFunc(events, func(e string) bool { return strings.EqualFold(e, event) })
}

// requestReconcile annotates every resource the Receiver names, as Flux's
// receiver: by name, or every object of the kind whose labels match when
// the name is "*". It goes on past a failure and returns how many objects
// were annotated and the failures joined.
func (s *Server) requestReconcile(ctx context.Context, rcv *flux.Receiver) (int, error) {
	ctx = withFieldOwner(ctx, fieldOwner{manager: hookFieldManager})
	now := s.now().UTC().Format(time.RFC3339Nano)
	var errs []error
	n := 0
	for i, ref := range rcv.Spec.Resources {
		c, err := s.annotateRef(ctx, rcv.Namespace, ref, now)
		n += c
		if err != nil {
			errs = append(errs, fmt.Errorf("spec.resources[%d] %s/%s: %w", i, ref.Kind, ref.Name, err))
		}
	}
	return n, errors.Join(errs...)
}

func (s *Server) annotateRef(ctx context.Context, defaultNamespace string, ref flux.CrossNamespaceObjectReference, value string) (int, error) {
	apiVersion := ref.APIVersion
	if apiVersion == "" {
		if apiVersion = flux.ReceiverDefaultAPIVersions[ref.Kind]; apiVersion == "" {
			return 0, fmt.Errorf("apiVersion must be specified for kind '%s'", ref.Kind)
		}
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return 0, fmt.Errorf("apiVersion %q: %w", apiVersion, err)
	}
	gvk := gv.WithKind(ref.Kind)
	res := s.resourceByKind(gvk)
	if res == nil {
		return 0, fmt.Errorf("%s is not served by this cluster", gvk)
	}
	ns := defaultNamespace
	if ref.Namespace != "" {
		ns = ref.Namespace
	}
	if !res.t.Namespaced {
		ns = ""
	}
	names := []string{ref.Name}
	if ref.Name == "*" {
		if len(ref.MatchLabels) == 0 {
			return 0, errors.New("matchLabels field not set when using wildcard '*' as name")
		}
		entries, _, err := res.cache.List(ctx, storage.Predicate{Namespace: ns, Label: labels.SelectorFromSet(ref.MatchLabels)}, storage.Freshness{Latest: true})
		if err != nil {
			return 0, fmt.Errorf("list %s: %w", res.gr(), err)
		}
		names = names[:0]
		for _, e := range entries {
			obj, err := e.Object()
			if err != nil {
				return 0, err
			}
			m, err := apimeta.Accessor(obj)
			if err != nil {
				return 0, err
			}
			names = append(names, m.GetName())
		}
	}
	n := 0
	for _, name := range names {
		_, err := s.guaranteedUpdate(ctx, res, ns, name, "", false, func(cur runtime.Object, _ *storage.Entry) (runtime.Object, error) {
			m, err := apimeta.Accessor(cur)
			if err != nil {
				return nil, err
			}
			ann := m.GetAnnotations()
			if ann == nil {
				ann = map[string]string{}
			}
			ann[reconcileRequestAnnotation] = value
			m.SetAnnotations(ann)
			// An unconditional update: whatever the object holds now.
			m.SetResourceVersion("")
			return cur, nil
		})
		if err != nil {
			return n, fmt.Errorf("annotate %s %s/%s: %w", res.gr(), ns, name, err)
		}
		n++
	}
	return n, nil
}
