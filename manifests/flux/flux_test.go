package flux

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// Full objects naming every field Flux's v1 API has, spec and status, as
// Flux's own controllers and CLI write them.
const fullGitRepository = `
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: shop, namespace: default, generation: 2}
spec:
  url: https://example.com/me/shop.git
  secretRef: {name: creds}
  provider: azure
  serviceAccountName: fetcher
  interval: 1m0s
  timeout: 30s
  ref: {branch: main, tag: v1.0.0, semver: ">=1.0.0", name: refs/heads/main, commit: 1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c}
  verify: {mode: HEAD, secretRef: {name: keys}}
  proxySecretRef: {name: proxy}
  ignore: "/*\n!/deploy\n"
  suspend: true
  recurseSubmodules: true
  include: [{repository: {name: shared}, fromPath: a, toPath: b}]
  sparseCheckout: [deploy]
status:
  observedGeneration: 2
  conditions:
  - {type: Ready, status: "True", reason: Succeeded, message: "stored artifact for revision 'main@sha1:1f2e3d4c'", lastTransitionTime: "2025-06-01T12:00:00Z", observedGeneration: 2}
  artifact:
    path: gitrepository/default/shop/1f2e3d4c.tar.gz
    url: http://source-controller.flux-system.svc.cluster.local./gitrepository/default/shop/1f2e3d4c.tar.gz
    revision: main@sha1:1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c
    digest: sha256:3b0f6ba5bd9a4e8f0d1e2c3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2b1
    lastUpdateTime: "2025-06-01T12:00:00Z"
    size: 4096
    metadata: {org.opencontainers.image.revision: abc}
  includedArtifacts:
  - {path: p, url: u, revision: r, lastUpdateTime: "2025-06-01T12:00:00Z"}
  observedIgnore: "/*"
  observedRecurseSubmodules: true
  observedInclude: [{repository: {name: shared}}]
  observedSparseCheckout: [deploy]
  sourceVerificationMode: HEAD
  lastHandledReconcileAt: "2025-06-01T11:59:00Z"
`

const fullKustomization = `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: shop, namespace: default}
spec:
  commonMetadata: {annotations: {a: b}, labels: {team: shop}}
  dependsOn: [{name: infra, namespace: flux-system, readyExpr: "status.ready"}]
  decryption: {provider: sops, serviceAccountName: kms, secretRef: {name: age}}
  interval: 10m0s
  retryInterval: 2m0s
  kubeConfig: {secretRef: {name: remote, key: value}, configMapRef: {name: cluster}}
  path: ./deploy
  postBuild:
    substitute: {cluster: prod}
    substituteFrom: [{kind: Secret, name: vars, optional: true}]
  prune: true
  deletionPolicy: Delete
  healthChecks: [{apiVersion: apps/v1, kind: Deployment, name: web, namespace: shop}]
  namePrefix: p-
  nameSuffix: -s
  patches: [{patch: "- op: remove\n  path: /spec/replicas\n", target: {group: apps, version: v1, kind: Deployment, namespace: shop, name: web, annotationSelector: a=b, labelSelector: app=web}}]
  images: [{name: nginx, newName: registry.local/nginx, newTag: "1.27", digest: "sha256:abc"}]
  serviceAccountName: deployer
  sourceRef: {apiVersion: source.toolkit.fluxcd.io/v1, kind: GitRepository, name: shop, namespace: default}
  suspend: true
  targetNamespace: shop
  timeout: 5m0s
  force: true
  wait: true
  components: [../components/a]
  ignoreMissingComponents: true
  healthCheckExprs: [{apiVersion: example.com/v1, kind: Widget, inProgress: "a", failed: "b", current: "c"}]
  driftIgnoreRules: [{paths: [/spec/replicas], target: {kind: Deployment}}]
status:
  lastHandledReconcileAt: "2025-06-01T11:59:00Z"
  observedGeneration: 1
  conditions:
  - {type: Ready, status: "False", reason: BuildFailed, message: "deploy/web.yaml:3: bad", lastTransitionTime: "2025-06-01T12:00:00Z"}
  lastAppliedRevision: main@sha1:1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c
  lastAppliedOriginRevision: v1
  lastAttemptedRevision: main@sha1:2f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c
  inventory: {entries: [{id: shop_web_apps_Deployment, v: v1}]}
  history:
  - {digest: "sha256:ab", firstReconciled: "2025-06-01T11:00:00Z", lastReconciled: "2025-06-01T12:00:00Z", lastReconciledDuration: 1.5s, lastReconciledStatus: ReconciliationSucceeded, totalReconciliations: 4, metadata: {revision: main}}
`

const fullReceiver = `
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: github, namespace: flux-system}
spec:
  type: github
  interval: 10m0s
  events: [ping, push]
  resources: [{apiVersion: source.toolkit.fluxcd.io/v1, kind: GitRepository, name: "*", namespace: default, matchLabels: {app: shop}}]
  resourceFilter: "true"
  secretRef: {name: token}
  suspend: true
status:
  lastHandledReconcileAt: x
  conditions: [{type: Ready, status: "True", reason: Succeeded, message: ok, lastTransitionTime: "2025-06-01T12:00:00Z"}]
  webhookPath: /hook/abc
  observedGeneration: 1
`

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// decode decodes strictly, as the API server does with fieldValidation=Strict.
func decode(t *testing.T, doc string) runtime.Object {
	t.Helper()
	codecs := serializer.NewCodecFactory(testScheme(t), serializer.EnableStrict)
	obj, _, err := codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return obj
}

func TestEveryFluxFieldRoundTrips(t *testing.T) {
	for name, doc := range map[string]string{"GitRepository": fullGitRepository, "Kustomization": fullKustomization, "Receiver": fullReceiver} {
		t.Run(name, func(t *testing.T) {
			obj := decode(t, doc)
			out, err := json.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			var want, got map[string]interface{}
			if err := yaml.Unmarshal([]byte(doc), &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			// Durations come back in Go's spelling; the input uses it.
			if !reflect.DeepEqual(got, want) {
				a, _ := json.MarshalIndent(got, "", " ")
				b, _ := json.MarshalIndent(want, "", " ")
				t.Errorf("round trip changed the object:\n%s\nwant\n%s", a, b)
			}
			if errs := validate(obj); len(errs) != 0 {
				t.Errorf("valid object refused: %v", errs)
			}
		})
	}
}

func TestUnknownFieldsAreStrictErrors(t *testing.T) {
	codecs := serializer.NewCodecFactory(testScheme(t), serializer.EnableStrict)
	doc := strings.Replace(fullKustomization, "  prune: true", "  prune: true\n  purne: true", 1)
	_, _, err := codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
	if err == nil || !runtime.IsStrictDecodingError(err) || !strings.Contains(err.Error(), "spec.purne") {
		t.Fatalf("err = %v, want a strict decoding error naming spec.purne", err)
	}
}

func validate(obj runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *GitRepository:
		return ValidateGitRepository(o)
	case *Kustomization:
		return ValidateKustomization(o)
	case *Receiver:
		return ValidateReceiver(o)
	}
	panic(obj)
}

func TestDefaults(t *testing.T) {
	g := decode(t, `
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: a, namespace: b}
spec: {url: "https://x", interval: 1m, verify: {secretRef: {name: k}}}
`).(*GitRepository)
	DefaultGitRepository(g)
	if g.Spec.Timeout == nil || g.Spec.Timeout.Duration != time.Minute {
		t.Errorf("timeout %v, want 60s", g.Spec.Timeout)
	}
	if g.Spec.Verification.Mode != "HEAD" {
		t.Errorf("verify.mode %q, want HEAD", g.Spec.Verification.Mode)
	}
	if g.Spec.Reference != nil {
		t.Errorf("ref defaulted to %+v; Flux's CRD leaves it unset", g.Spec.Reference)
	}
	once := g.DeepCopy()
	DefaultGitRepository(g)
	if !apiequality.Semantic.DeepEqual(once, g) {
		t.Error("defaulting twice changed the GitRepository")
	}

	set := decode(t, fullGitRepository).(*GitRepository)
	DefaultGitRepository(set)
	if set.Spec.Timeout.Duration != 30*time.Second {
		t.Errorf("defaulting overwrote timeout: %v", set.Spec.Timeout)
	}

	r := &Receiver{}
	DefaultReceiver(r)
	if r.Spec.Interval == nil || r.Spec.Interval.Duration != 10*time.Minute {
		t.Errorf("receiver interval %v, want 10m", r.Spec.Interval)
	}

	k := decode(t, fullKustomization).(*Kustomization)
	before := k.DeepCopy()
	DefaultKustomization(k)
	if !apiequality.Semantic.DeepEqual(before, k) {
		t.Error("Kustomization defaulting changed a full object")
	}
}

// errorsOf renders errors as "type field" for comparison.
func errorsOf(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, string(e.Type)+" "+e.Field)
	}
	return out
}

func TestValidationNamesTheField(t *testing.T) {
	dur := func(text string) *Duration {
		d, err := ParseDuration(text)
		if err != nil {
			t.Fatal(err)
		}
		return &d
	}
	cases := []struct {
		name   string
		doc    string
		mutate func(runtime.Object)
		want   []string
		detail string // a substring of the first error
	}{
		{"url scheme", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Spec.URL = "ftp://example.com/x.git" },
			[]string{"FieldValueInvalid spec.url"}, "^(http|https|ssh)://.*$"},
		{"file url is a Skiff extension", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Spec.URL = "file:///srv/shop" }, nil, ""},
		{"url required", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Spec.URL = "" },
			[]string{"FieldValueRequired spec.url"}, ""},
		{"interval required", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Spec.Interval = Duration{} },
			[]string{"FieldValueRequired spec.interval"}, ""},
		{"negative timeout", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Spec.Timeout = dur("-1s") },
			[]string{"FieldValueInvalid spec.timeout"}, "should match"},
		{"timeout in hours", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Spec.Timeout = dur("1h") },
			[]string{"FieldValueInvalid spec.timeout"}, `spec.timeout: Invalid value: "1h"`},
		{"timeout in minutes", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Spec.Timeout = dur("60m") }, nil, ""},
		{"interval in microseconds", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Spec.Interval = *dur("5us") },
			[]string{"FieldValueInvalid spec.interval"}, ""},
		{"interval 0s is written, so present", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Spec.Interval = *dur("0s") }, nil, ""},
		{"interval made in Go", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Spec.Interval = Duration{Duration: 2 * time.Hour} }, nil, ""},
		{"negative interval made in Go", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Spec.Interval = Duration{Duration: -time.Hour} },
			[]string{"FieldValueInvalid spec.interval"}, ""},
		{"provider enum", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Spec.Provider = "gitea" },
			[]string{"FieldValueNotSupported spec.provider", "FieldValueInvalid spec"}, `supported values: "generic", "aws", "azure", "github"`},
		{"serviceAccountName needs azure or aws", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Spec.Provider = "github" },
			[]string{"FieldValueInvalid spec"}, "serviceAccountName can only be set when provider is 'azure' or 'aws'"},
		{"verify mode enum", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Spec.Verification.Mode = "tail" },
			[]string{"FieldValueNotSupported spec.verify.mode"}, ""},
		{"secretRef name", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Spec.SecretRef.Name = "" },
			[]string{"FieldValueRequired spec.secretRef.name"}, ""},
		{"include repository name", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Spec.Include[0].GitRepositoryRef.Name = "" },
			[]string{"FieldValueRequired spec.include[0].repository.name"}, ""},
		{"artifact digest", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Status.Artifact.Digest = "nope" },
			[]string{"FieldValueInvalid status.artifact.digest"}, ""},
		{"artifact revision", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Status.IncludedArtifacts[0].Revision = "" },
			[]string{"FieldValueRequired status.includedArtifacts[0].revision"}, ""},
		{"condition status", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Status.Conditions[0].Status = "Yes" },
			[]string{"FieldValueNotSupported status.conditions[0].status"}, ""},
		{"name", fullGitRepository, func(o runtime.Object) { o.(*GitRepository).Name = "Shop_1" },
			[]string{"FieldValueInvalid metadata.name"}, ""},

		{"source kind enum", fullKustomization, func(o runtime.Object) { o.(*Kustomization).Spec.SourceRef.Kind = "HelmRepository" },
			[]string{"FieldValueNotSupported spec.sourceRef.kind"}, `"GitRepository"`},
		{"source name required", fullKustomization, func(o runtime.Object) { o.(*Kustomization).Spec.SourceRef.Name = "" },
			[]string{"FieldValueRequired spec.sourceRef.name"}, ""},
		{"kustomization interval", fullKustomization, func(o runtime.Object) { o.(*Kustomization).Spec.Interval = Duration{} },
			[]string{"FieldValueRequired spec.interval"}, ""},
		{"retryInterval negative", fullKustomization, func(o runtime.Object) { o.(*Kustomization).Spec.RetryInterval = dur("-1m") },
			[]string{"FieldValueInvalid spec.retryInterval"}, ""},
		{"deletionPolicy enum", fullKustomization, func(o runtime.Object) { o.(*Kustomization).Spec.DeletionPolicy = "Keep" },
			[]string{"FieldValueNotSupported spec.deletionPolicy"}, ""},
		{"targetNamespace length", fullKustomization, func(o runtime.Object) { o.(*Kustomization).Spec.TargetNamespace = strings.Repeat("a", 64) },
			[]string{"FieldValueTooLong spec.targetNamespace"}, ""},
		{"namePrefix length", fullKustomization, func(o runtime.Object) { o.(*Kustomization).Spec.NamePrefix = strings.Repeat("a", 201) },
			[]string{"FieldValueTooLong spec.namePrefix"}, ""},
		{"decryption provider", fullKustomization, func(o runtime.Object) { o.(*Kustomization).Spec.Decryption.Provider = "vault" },
			[]string{"FieldValueNotSupported spec.decryption.provider"}, ""},
		{"substituteFrom kind", fullKustomization, func(o runtime.Object) { o.(*Kustomization).Spec.PostBuild.SubstituteFrom[0].Kind = "Pod" },
			[]string{"FieldValueNotSupported spec.postBuild.substituteFrom[0].kind"}, ""},
		{"healthCheck kind and name", fullKustomization, func(o runtime.Object) {
			o.(*Kustomization).Spec.HealthChecks[0] = NamespacedObjectKindReference{}
		}, []string{"FieldValueRequired spec.healthChecks[0].kind", "FieldValueRequired spec.healthChecks[0].name"}, ""},
		{"image name", fullKustomization, func(o runtime.Object) { o.(*Kustomization).Spec.Images[0].Name = "" },
			[]string{"FieldValueRequired spec.images[0].name"}, ""},
		{"patch body", fullKustomization, func(o runtime.Object) { o.(*Kustomization).Spec.Patches[0].Patch = "" },
			[]string{"FieldValueRequired spec.patches[0].patch"}, ""},
		{"dependsOn name", fullKustomization, func(o runtime.Object) { o.(*Kustomization).Spec.DependsOn[0].Name = "" },
			[]string{"FieldValueRequired spec.dependsOn[0].name"}, ""},
		{"healthCheckExprs current", fullKustomization, func(o runtime.Object) { o.(*Kustomization).Spec.HealthCheckExprs[0].Current = "" },
			[]string{"FieldValueRequired spec.healthCheckExprs[0].current"}, ""},
		{"condition reason", fullKustomization, func(o runtime.Object) { o.(*Kustomization).Status.Conditions[0].Reason = "" },
			[]string{"FieldValueRequired status.conditions[0].reason"}, ""},

		{"receiver type enum", fullReceiver, func(o runtime.Object) { o.(*Receiver).Spec.Type = "gitea" },
			[]string{"FieldValueNotSupported spec.type"}, `"generic-hmac"`},
		{"receiver type required", fullReceiver, func(o runtime.Object) { o.(*Receiver).Spec.Type = "" },
			[]string{"FieldValueRequired spec.type"}, ""},
		{"receiver resources required", fullReceiver, func(o runtime.Object) { o.(*Receiver).Spec.Resources = nil },
			[]string{"FieldValueRequired spec.resources"}, ""},
		{"receiver empty resources allowed", fullReceiver, func(o runtime.Object) { o.(*Receiver).Spec.Resources = []CrossNamespaceObjectReference{} }, nil, ""},
		{"receiver resource kind", fullReceiver, func(o runtime.Object) { o.(*Receiver).Spec.Resources[0].Kind = "Deployment" },
			[]string{"FieldValueNotSupported spec.resources[0].kind"}, ""},
		{"receiver resource name", fullReceiver, func(o runtime.Object) { o.(*Receiver).Spec.Resources[0].Name = "" },
			[]string{"FieldValueRequired spec.resources[0].name"}, ""},
		{"receiver secretRef", fullReceiver, func(o runtime.Object) { o.(*Receiver).Spec.SecretRef.Name = "" },
			[]string{"FieldValueRequired spec.secretRef.name"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := decode(t, tc.doc)
			tc.mutate(obj)
			errs := validate(obj)
			if got := errorsOf(errs); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("errors %v, want %v (%v)", got, tc.want, errs)
			}
			if tc.detail != "" && !strings.Contains(errs[0].Error(), tc.detail) {
				t.Errorf("error %q does not say %q", errs[0].Error(), tc.detail)
			}
		})
	}
}

func TestUpdateKeepsMetadataImmutable(t *testing.T) {
	old := decode(t, fullKustomization).(*Kustomization)
	old.ResourceVersion = "1"
	obj := old.DeepCopy()
	obj.Namespace = "other"
	if got := errorsOf(ValidateKustomizationUpdate(obj, old)); len(got) == 0 || got[0] != "FieldValueInvalid metadata.namespace" {
		t.Errorf("errors %v, want the namespace refused", got)
	}
	obj = old.DeepCopy()
	obj.Spec.Prune = false
	if errs := ValidateKustomizationUpdate(obj, old); len(errs) != 0 {
		t.Errorf("spec change refused: %v", errs)
	}
	r := decode(t, fullReceiver).(*Receiver)
	r.ResourceVersion = "1"
	r2 := r.DeepCopy()
	r2.Spec.Type = "nope"
	if got := errorsOf(ValidateReceiverUpdate(r2, r)); !reflect.DeepEqual(got, []string{"FieldValueNotSupported spec.type"}) {
		t.Errorf("update errors %v", got)
	}
	g := decode(t, fullGitRepository).(*GitRepository)
	g.ResourceVersion = "1"
	g2 := g.DeepCopy()
	g2.Spec.URL = "git@example.com:me/shop.git"
	if got := errorsOf(ValidateGitRepositoryUpdate(g2, g)); !reflect.DeepEqual(got, []string{"FieldValueInvalid spec.url"}) {
		t.Errorf("update errors %v", got)
	}
}

func TestDeepCopyIsDeep(t *testing.T) {
	for _, doc := range []string{fullGitRepository, fullKustomization, fullReceiver} {
		obj := decode(t, doc)
		before, _ := json.Marshal(obj)
		cp := obj.DeepCopyObject()
		// Scribble over every string, map and slice reachable in the copy.
		scribble(reflect.ValueOf(cp))
		after, _ := json.Marshal(obj)
		if !bytes.Equal(before, after) {
			t.Errorf("changing the copy of %T changed the original", obj)
		}
	}
}

func scribble(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			scribble(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				scribble(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			scribble(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			v.SetMapIndex(k, reflect.ValueOf("changed").Convert(v.Type().Elem()))
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString("changed")
		}
	case reflect.Bool:
		if v.CanSet() {
			v.SetBool(!v.Bool())
		}
	}
}

func TestSchemeKnowsKindsAndLists(t *testing.T) {
	s := testScheme(t)
	for _, gvk := range []struct {
		kind, list runtime.Object
		gv         string
	}{
		{&GitRepository{}, &GitRepositoryList{}, "source.toolkit.fluxcd.io/v1"},
		{&Kustomization{}, &KustomizationList{}, "kustomize.toolkit.fluxcd.io/v1"},
		{&Receiver{}, &ReceiverList{}, "notification.toolkit.fluxcd.io/v1"},
	} {
		for _, obj := range []runtime.Object{gvk.kind, gvk.list} {
			kinds, _, err := s.ObjectKinds(obj)
			if err != nil || len(kinds) != 1 || kinds[0].GroupVersion().String() != gvk.gv {
				t.Errorf("%T: %v %v", obj, kinds, err)
			}
		}
	}
}

func TestDurationKeepsItsSpelling(t *testing.T) {
	var spec struct {
		Interval Duration  `json:"interval"`
		Timeout  *Duration `json:"timeout,omitempty"`
	}
	if err := json.Unmarshal([]byte(`{"interval":"1m","timeout":"90s"}`), &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Interval.Duration != time.Minute || spec.Timeout.Duration != 90*time.Second {
		t.Fatalf("parsed %v %v", spec.Interval.Duration, spec.Timeout.Duration)
	}
	out, _ := json.Marshal(spec)
	if string(out) != `{"interval":"1m","timeout":"90s"}` {
		t.Errorf("encoded %s, want the spelling it was written in", out)
	}
	// Changed in Go, the duration is spelled by Go.
	spec.Interval.Duration = 2 * time.Minute
	if out, _ := json.Marshal(spec.Interval); string(out) != `"2m0s"` {
		t.Errorf("changed duration encoded %s", out)
	}
	if got := (Duration{Duration: time.Second}).ToUnstructured(); got != "1s" {
		t.Errorf("ToUnstructured %v", got)
	}
	if err := json.Unmarshal([]byte(`"ten minutes"`), &spec.Interval); err == nil {
		t.Error("an unparseable duration was accepted")
	}
	// The defaults are written as Flux's CRDs write them.
	g := &GitRepository{}
	DefaultGitRepository(g)
	r := &Receiver{}
	DefaultReceiver(r)
	if g.Spec.Timeout.String() != "60s" || r.Spec.Interval.String() != "10m" {
		t.Errorf("defaults spelled %s and %s", g.Spec.Timeout, r.Spec.Interval)
	}
}
