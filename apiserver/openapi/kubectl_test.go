package openapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/cli-runtime/pkg/resource"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/openapi/cached"
	"k8s.io/client-go/openapi3"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/util/proto"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/yaml"
)

// These tests consume the served documents with the libraries kubectl is
// built from, over HTTP, the way kubectl 1.27–1.33 does.

// noCRDs is a dynamic client of a cluster without CustomResourceDefinitions,
// which the verifiers consult when a kind is missing from the documents.
func noCRDs() *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}: "CustomResourceDefinitionList",
	})
}

// kubectl apply/create/replace/edit with the default --validate=strict ask
// these verifiers whether the server validates fields itself; if not, they
// validate client-side or fail.
func TestKubectlFindsFieldValidationForEveryKind(t *testing.T) {
	d, reg := testDocuments(t)
	dc, log, _ := serve(t, d)
	v3 := resource.NewQueryParamVerifierV3(noCRDs(), cached.NewClient(dc.OpenAPIV3()), resource.QueryParamFieldValidation)
	// kubectl 1.27 and 1.28 read the protobuf /openapi/v2 document.
	v2 := resource.NewQueryParamVerifier(noCRDs(), dc, resource.QueryParamFieldValidation)

	for _, gvk := range storedKinds(reg) {
		if err := v3.HasSupport(gvk); err != nil {
			t.Errorf("v3: %v", err)
		}
		if err := v2.HasSupport(gvk); err != nil {
			t.Errorf("v2: %v", err)
		}
	}
	for _, name := range []string{"Pod", "Service", "ConfigMap"} {
		if err := v3.HasSupport(corev1.SchemeGroupVersion.WithKind(name)); err != nil {
			t.Errorf("v3: %s: %v", name, err)
		}
	}
	if err := v3.HasSupport(appsv1.SchemeGroupVersion.WithKind("Deployment")); err != nil {
		t.Errorf("v3: Deployment: %v", err)
	}

	// A kind the API does not serve must not pass, or the check above
	// would prove nothing.
	unknown := schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}
	if err := v3.HasSupport(unknown); !resource.IsParamUnsupportedError(err) {
		t.Errorf("v3: unknown kind: %v, want unsupported", err)
	}
	if err := v2.HasSupport(unknown); !resource.IsParamUnsupportedError(err) {
		t.Errorf("v2: unknown kind: %v, want unsupported", err)
	}

	var sawV2Proto, sawHashed bool
	for _, r := range log.reqs {
		if r.URL.Path == "/openapi/v2" && strings.Contains(r.Header.Get("Accept"), "protobuf") {
			sawV2Proto = true
		}
		if strings.HasPrefix(r.URL.Path, "/openapi/v3/") && r.URL.Query().Get("hash") != "" {
			sawHashed = true
		}
	}
	if !sawV2Proto || !sawHashed {
		t.Errorf("requests did not go as kubectl's do: v2 protobuf %v, v3 by hash %v", sawV2Proto, sawHashed)
	}
}

// Every PATCH operation, subresources included, takes the parameters and
// media types kubectl relies on, and every served kind has one.
func TestEveryPatchOperation(t *testing.T) {
	d, reg := testDocuments(t)
	dc, _, _ := serve(t, d)
	root := openapi3.NewRoot(cached.NewClient(dc.OpenAPIV3()))
	patched := map[schema.GroupVersionKind]bool{}
	for _, gv := range reg.GroupVersions() {
		doc, err := root.GVSpec(gv)
		if err != nil {
			t.Fatalf("%s: %v", gv, err)
		}
		if doc.Version != "3.0.0" || doc.Info == nil || doc.Info.Version != "v1.33.0-skiff" {
			t.Errorf("%s: openapi %q, info %+v", gv, doc.Version, doc.Info)
		}
		for path, item := range doc.Paths.Paths {
			op := item.Patch
			if op == nil {
				continue
			}
			var gvk map[string]string
			if err := op.Extensions.GetObject(extGVK, &gvk); err != nil || gvk["kind"] == "" {
				t.Errorf("%s: PATCH without %s", path, extGVK)
				continue
			}
			patched[schema.GroupVersionKind{Group: gvk["group"], Version: gvk["version"], Kind: gvk["kind"]}] = true
			if action, _ := op.Extensions.GetString(extAction); action != "patch" {
				t.Errorf("%s: PATCH action %q", path, action)
			}
			var names []string
			for _, p := range op.Parameters {
				if p.In == "query" {
					names = append(names, p.Name)
				}
			}
			if got := strings.Join(names, ","); got != "dryRun,fieldManager,fieldValidation,force" {
				t.Errorf("%s: PATCH query parameters %s", path, got)
			}
			if op.RequestBody == nil {
				t.Errorf("%s: PATCH without request body", path)
				continue
			}
			for _, mt := range patchTypes {
				if _, ok := op.RequestBody.Content[mt]; !ok {
					t.Errorf("%s: PATCH does not take %s", path, mt)
				}
			}
			for _, m := range []*spec3.Operation{item.Put, item.Post} {
				if m == nil {
					continue
				}
				if !hasQueryParam(m, "fieldValidation") || !hasQueryParam(m, "fieldManager") || !hasQueryParam(m, "dryRun") {
					t.Errorf("%s: %s lacks dryRun, fieldManager or fieldValidation", path, m.OperationId)
				}
			}
		}
	}
	_, subKinds := servedKinds(reg)
	for _, gvk := range append(storedKinds(reg), subKinds...) {
		switch gvk.Kind {
		case "Binding", "PodExecOptions", "PodAttachOptions", "PodPortForwardOptions":
			continue // pods/binding is create-only; exec, attach, portforward connect-only, as upstream
		}
		if !patched[gvk] {
			t.Errorf("no PATCH operation for %s", gvk)
		}
	}
}

// kubectl 1.27 and 1.28 choose the patch type from the v2 PATCH operation's
// consumes (openapi.Resources.GetConsumes): strategic merge when listed.
func TestV2PatchOperationsConsumeStrategicMerge(t *testing.T) {
	d, reg := testDocuments(t)
	dc, _, _ := serve(t, d)
	doc, err := dc.OpenAPISchema()
	if err != nil {
		t.Fatal(err)
	}
	consumes := map[schema.GroupVersionKind][]string{}
	for _, p := range doc.GetPaths().GetPath() {
		op := p.GetValue().GetPatch()
		for _, ext := range op.GetVendorExtension() {
			if ext.GetName() != extGVK {
				continue
			}
			var g map[string]string
			if err := yaml.Unmarshal([]byte(ext.GetValue().GetYaml()), &g); err != nil {
				t.Fatalf("%s: %v", p.GetName(), err)
			}
			consumes[schema.GroupVersionKind{Group: g["group"], Version: g["version"], Kind: g["kind"]}] = op.GetConsumes()
			params := op.GetParameters()
			if body := params[len(params)-1].GetParameter().GetBodyParameter(); body.GetSchema().GetXRef() != refPrefixV2+patchDef || !body.GetRequired() {
				t.Errorf("%s: PATCH body %v", p.GetName(), body)
			}
			if ref := params[0].GetJsonReference().GetXRef(); ref != "#/parameters/dryRun" {
				t.Errorf("%s: first PATCH parameter %q, want a reference to the shared dryRun", p.GetName(), ref)
			}
		}
	}
	for _, gvk := range storedKinds(reg) {
		if !contains(consumes[gvk], "application/strategic-merge-patch+json") || !contains(consumes[gvk], "application/apply-patch+yaml") {
			t.Errorf("%s: PATCH consumes %v", gvk, consumes[gvk])
		}
	}
}

func hasQueryParam(op *spec3.Operation, name string) bool {
	for _, p := range op.Parameters {
		if p.In == "query" && p.Name == name {
			return true
		}
	}
	return false
}

// Paths and operation IDs are laid out as upstream lays them out.
func TestUpstreamPathLayout(t *testing.T) {
	d, _ := testDocuments(t)
	dc, _, _ := serve(t, d)
	root := openapi3.NewRoot(cached.NewClient(dc.OpenAPIV3()))
	want := map[schema.GroupVersion]map[string]string{
		appsv1.SchemeGroupVersion: {
			"get /apis/apps/v1/deployments":                                       "listAppsV1DeploymentForAllNamespaces",
			"get /apis/apps/v1/namespaces/{namespace}/deployments":                "listAppsV1NamespacedDeployment",
			"post /apis/apps/v1/namespaces/{namespace}/deployments":               "createAppsV1NamespacedDeployment",
			"delete /apis/apps/v1/namespaces/{namespace}/deployments":             "deleteAppsV1CollectionNamespacedDeployment",
			"get /apis/apps/v1/namespaces/{namespace}/deployments/{name}":         "readAppsV1NamespacedDeployment",
			"put /apis/apps/v1/namespaces/{namespace}/deployments/{name}":         "replaceAppsV1NamespacedDeployment",
			"patch /apis/apps/v1/namespaces/{namespace}/deployments/{name}":       "patchAppsV1NamespacedDeployment",
			"delete /apis/apps/v1/namespaces/{namespace}/deployments/{name}":      "deleteAppsV1NamespacedDeployment",
			"get /apis/apps/v1/namespaces/{namespace}/deployments/{name}/status":  "readAppsV1NamespacedDeploymentStatus",
			"patch /apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale": "patchAppsV1NamespacedDeploymentScale",
			"put /apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale":  "replaceAppsV1NamespacedStatefulSetScale",
			"get /apis/apps/v1/": "getAppsV1APIResources",
			"patch /apis/apps/v1/namespaces/{namespace}/daemonsets/{name}/status":    "patchAppsV1NamespacedDaemonSetStatus",
			"get /apis/apps/v1/namespaces/{namespace}/controllerrevisions/{name}":    "readAppsV1NamespacedControllerRevision",
			"delete /apis/apps/v1/namespaces/{namespace}/replicasets":                "deleteAppsV1CollectionNamespacedReplicaSet",
			"get /apis/apps/v1/statefulsets":                                         "listAppsV1StatefulSetForAllNamespaces",
			"patch /apis/apps/v1/namespaces/{namespace}/replicasets/{name}/status":   "patchAppsV1NamespacedReplicaSetStatus",
			"get /apis/apps/v1/namespaces/{namespace}/replicasets/{name}/scale":      "readAppsV1NamespacedReplicaSetScale",
			"patch /apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/status":  "patchAppsV1NamespacedStatefulSetStatus",
			"put /apis/apps/v1/namespaces/{namespace}/deployments/{name}/status":     "replaceAppsV1NamespacedDeploymentStatus",
			"get /apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale":     "readAppsV1NamespacedStatefulSetScale",
			"put /apis/apps/v1/namespaces/{namespace}/replicasets/{name}/scale":      "replaceAppsV1NamespacedReplicaSetScale",
			"patch /apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale":   "patchAppsV1NamespacedStatefulSetScale",
			"put /apis/apps/v1/namespaces/{namespace}/daemonsets/{name}":             "replaceAppsV1NamespacedDaemonSet",
			"get /apis/apps/v1/daemonsets":                                           "listAppsV1DaemonSetForAllNamespaces",
			"delete /apis/apps/v1/namespaces/{namespace}/statefulsets/{name}":        "deleteAppsV1NamespacedStatefulSet",
			"post /apis/apps/v1/namespaces/{namespace}/controllerrevisions":          "createAppsV1NamespacedControllerRevision",
			"get /apis/apps/v1/controllerrevisions":                                  "listAppsV1ControllerRevisionForAllNamespaces",
			"get /apis/apps/v1/replicasets":                                          "listAppsV1ReplicaSetForAllNamespaces",
			"patch /apis/apps/v1/namespaces/{namespace}/replicasets/{name}/scale":    "patchAppsV1NamespacedReplicaSetScale",
			"put /apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale":      "replaceAppsV1NamespacedDeploymentScale",
			"get /apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale":      "readAppsV1NamespacedDeploymentScale",
			"patch /apis/apps/v1/namespaces/{namespace}/deployments/{name}/status":   "patchAppsV1NamespacedDeploymentStatus",
			"get /apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/status":    "readAppsV1NamespacedStatefulSetStatus",
			"put /apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/status":    "replaceAppsV1NamespacedStatefulSetStatus",
			"get /apis/apps/v1/namespaces/{namespace}/daemonsets/{name}/status":      "readAppsV1NamespacedDaemonSetStatus",
			"put /apis/apps/v1/namespaces/{namespace}/daemonsets/{name}/status":      "replaceAppsV1NamespacedDaemonSetStatus",
			"get /apis/apps/v1/namespaces/{namespace}/replicasets/{name}/status":     "readAppsV1NamespacedReplicaSetStatus",
			"put /apis/apps/v1/namespaces/{namespace}/replicasets/{name}/status":     "replaceAppsV1NamespacedReplicaSetStatus",
			"delete /apis/apps/v1/namespaces/{namespace}/controllerrevisions/{name}": "deleteAppsV1NamespacedControllerRevision",
		},
		corev1.SchemeGroupVersion: {
			"get /api/v1/":     "getCoreV1APIResources",
			"get /api/v1/pods": "listCoreV1PodForAllNamespaces",
			"post /api/v1/namespaces/{namespace}/pods":                "createCoreV1NamespacedPod",
			"patch /api/v1/namespaces/{namespace}/pods/{name}":        "patchCoreV1NamespacedPod",
			"post /api/v1/namespaces/{namespace}/pods/{name}/binding": "createCoreV1NamespacedPodBinding",
			"get /api/v1/nodes":                                     "listCoreV1Node",
			"patch /api/v1/nodes/{name}/status":                     "patchCoreV1NodeStatus",
			"put /api/v1/namespaces/{name}/finalize":                "replaceCoreV1NamespaceFinalize",
			"get /api/v1/namespaces/{name}":                         "readCoreV1Namespace",
			"get /api/v1/namespaces/{namespace}/configmaps":         "listCoreV1NamespacedConfigMap",
			"delete /api/v1/namespaces/{namespace}/services/{name}": "deleteCoreV1NamespacedService",
		},
		{Group: "networking.k8s.io", Version: "v1"}: {
			"get /apis/networking.k8s.io/v1/ingresses":                                        "listNetworkingV1IngressForAllNamespaces",
			"patch /apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses/{name}/status": "patchNetworkingV1NamespacedIngressStatus",
		},
	}
	for gv, ops := range want {
		doc, err := root.GVSpec(gv)
		if err != nil {
			t.Fatal(err)
		}
		for key, id := range ops {
			method, path, _ := strings.Cut(key, " ")
			item, ok := doc.Paths.Paths[path]
			if !ok {
				t.Errorf("%s: no path %s", gv, path)
				continue
			}
			op := map[string]*spec3.Operation{"get": item.Get, "put": item.Put, "post": item.Post, "patch": item.Patch, "delete": item.Delete}[method]
			if op == nil || op.OperationId != id {
				t.Errorf("%s %s: operation %+v, want %s", method, path, op, id)
			}
		}
	}
	apps, err := root.GVSpec(appsv1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for p := range apps.Paths.Paths {
		paths = append(paths, p)
	}
	if len(paths) != 23 {
		sort.Strings(paths)
		t.Errorf("apps/v1 has %d paths, want 23 (no watch paths): %v", len(paths), paths)
	}
}

// patchMetaPaths are the lists and structs whose strategic-merge-patch
// behaviour kubectl apply depends on most.
var patchMetaPaths = [][]string{
	{"spec", "template", "spec", "[]containers"},
	{"spec", "template", "spec", "[]initContainers"},
	{"spec", "template", "spec", "[]volumes"},
	{"spec", "template", "spec", "[]tolerations"},
	{"spec", "template", "spec", "[]imagePullSecrets"},
	{"spec", "template", "spec", "[]hostAliases"},
	{"spec", "template", "spec", "[]containers", "[]env"},
	{"spec", "template", "spec", "[]containers", "[]ports"},
	{"spec", "template", "spec", "[]containers", "[]volumeMounts"},
	{"spec", "template", "spec", "[]containers", "resources"},
	{"spec", "template", "metadata", "[]ownerReferences"},
	{"spec", "template", "metadata", "[]finalizers"},
	{"spec", "strategy"},
	{"spec", "template", "spec", "[]volumes", "configMap", "[]items"},
	{"status", "[]conditions"},
}

// lookupPatchMeta follows a path of fields ("[]name" for a list) and
// returns the patch strategy and merge key found at its end.
func lookupPatchMeta(t *testing.T, meta strategicpatch.LookupPatchMeta, path []string) (string, string) {
	t.Helper()
	var pm strategicpatch.PatchMeta
	var err error
	for _, step := range path {
		if name, ok := strings.CutPrefix(step, "[]"); ok {
			meta, pm, err = meta.LookupPatchMetadataForSlice(name)
		} else {
			meta, pm, err = meta.LookupPatchMetadataForStruct(step)
		}
		if err != nil {
			t.Fatalf("%s: %v", strings.Join(path, "."), err)
		}
	}
	return strings.Join(pm.GetPatchStrategies(), ","), pm.GetPatchMergeKey()
}

// v3PatchMeta finds a kind's schema in its group-version document the
// way kubectl apply's patcher does and wraps it for strategicpatch.
func v3PatchMeta(t *testing.T, root openapi3.Root, gvk schema.GroupVersionKind) strategicpatch.LookupPatchMeta {
	t.Helper()
	doc, err := root.GVSpec(gvk.GroupVersion())
	if err != nil {
		t.Fatal(err)
	}
	var found *spec.Schema
	for _, s := range doc.Components.Schemas {
		var gvks []map[string]string
		if s.Extensions.GetObject(extGVK, &gvks) != nil {
			continue
		}
		for _, g := range gvks {
			if g["group"] == gvk.Group && g["version"] == gvk.Version && g["kind"] == gvk.Kind {
				if found != nil {
					t.Fatalf("two schemas claim %s", gvk)
				}
				found = s
			}
		}
	}
	if found == nil {
		t.Fatalf("no schema for %s", gvk)
	}
	return strategicpatch.PatchMetaFromOpenAPIV3{Schema: found, SchemaList: doc.Components.Schemas}
}

// v2PatchMeta does the same with the /openapi/v2 document, as kubectl
// 1.27 and 1.28 do (openapi.Resources.LookupResource).
func v2PatchMeta(t *testing.T, models proto.Models, gvk schema.GroupVersionKind) strategicpatch.LookupPatchMeta {
	t.Helper()
	for _, name := range models.ListModels() {
		m := models.LookupModel(name)
		list, _ := m.GetExtensions()[extGVK].([]interface{})
		for _, item := range list {
			g, _ := item.(map[interface{}]interface{})
			if g["group"] == gvk.Group && g["version"] == gvk.Version && g["kind"] == gvk.Kind {
				return strategicpatch.NewPatchMetaFromOpenAPI(m)
			}
		}
	}
	t.Fatalf("no v2 model for %s", gvk)
	return nil
}

func v2Models(t *testing.T, d *Documents) proto.Models {
	t.Helper()
	dc, _, _ := serve(t, d)
	doc, err := dc.OpenAPISchema()
	if err != nil {
		t.Fatal(err)
	}
	models, err := proto.NewOpenAPIData(doc)
	if err != nil {
		t.Fatal(err)
	}
	return models
}

func TestPatchMetadataMatchesGoStructs(t *testing.T) {
	d, _ := testDocuments(t)
	dc, _, _ := serve(t, d)
	root := openapi3.NewRoot(cached.NewClient(dc.OpenAPIV3()))
	models := v2Models(t, d)
	deployment := appsv1.SchemeGroupVersion.WithKind("Deployment")

	fromStruct, err := strategicpatch.NewPatchMetaFromStruct(&appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	sources := map[string]strategicpatch.LookupPatchMeta{
		"v3": v3PatchMeta(t, root, deployment),
		"v2": v2PatchMeta(t, models, deployment),
	}
	nonEmpty := 0
	for _, path := range patchMetaPaths {
		wantStrategy, wantKey := lookupPatchMeta(t, fromStruct, path)
		if wantStrategy != "" {
			nonEmpty++
		}
		for name, meta := range sources {
			strategy, key := lookupPatchMeta(t, meta, path)
			if strategy != wantStrategy || key != wantKey {
				t.Errorf("%s: %s: strategy %q key %q, want %q %q", name, strings.Join(path, "."), strategy, key, wantStrategy, wantKey)
			}
		}
	}
	if nonEmpty < 10 {
		t.Errorf("only %d of the paths have a patch strategy; the comparison proves little", nonEmpty)
	}

	// Service ports merge on port, a key of their own.
	svc := corev1.SchemeGroupVersion.WithKind("Service")
	svcStruct, _ := strategicpatch.NewPatchMetaFromStruct(&corev1.Service{})
	wantStrategy, wantKey := lookupPatchMeta(t, svcStruct, []string{"spec", "[]ports"})
	if strategy, key := lookupPatchMeta(t, v3PatchMeta(t, root, svc), []string{"spec", "[]ports"}); strategy != wantStrategy || key != wantKey || key != "port" {
		t.Errorf("Service spec.ports: %q %q, want %q %q", strategy, key, wantStrategy, wantKey)
	}
}

func deploymentJSON(t *testing.T, mutate func(*appsv1.Deployment)) []byte {
	t.Helper()
	d := &appsv1.Deployment{}
	d.APIVersion, d.Kind = "apps/v1", "Deployment"
	d.Name, d.Namespace = "web", "default"
	d.Spec.Template.Labels = map[string]string{"app": "web"}
	d.Spec.Template.Spec.Containers = []corev1.Container{{
		Name:  "web",
		Image: "nginx:1.25",
		Env:   []corev1.EnvVar{{Name: "MODE", Value: "prod"}},
		Ports: []corev1.ContainerPort{{ContainerPort: 80}},
	}}
	d.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	mutate(d)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kubectl apply computes a three-way strategic merge patch from the
// last-applied configuration, the file and the live object. With the
// served schema it must come out as with the compiled-in Go types.
func TestApplyPatchMatchesGoStructs(t *testing.T) {
	d, _ := testDocuments(t)
	dc, _, _ := serve(t, d)
	root := openapi3.NewRoot(cached.NewClient(dc.OpenAPIV3()))
	deployment := appsv1.SchemeGroupVersion.WithKind("Deployment")

	original := deploymentJSON(t, func(*appsv1.Deployment) {})
	modified := deploymentJSON(t, func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "nginx:1.26"
		d.Spec.Template.Spec.Containers[0].Env = append(d.Spec.Template.Spec.Containers[0].Env, corev1.EnvVar{Name: "DEBUG", Value: "0"})
		d.Spec.Template.Spec.Volumes[0].VolumeSource = corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cache"},
		}}
	})
	// The live object: a sidecar injected and replicas set by someone
	// else; the file names neither, so kubectl apply must leave them.
	current := deploymentJSON(t, func(d *appsv1.Deployment) {
		three := int32(3)
		d.Spec.Replicas = &three
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: "proxy", Image: "envoy:1"})
	})

	fromStruct, err := strategicpatch.NewPatchMetaFromStruct(&appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	// kubectl apply's --overwrite defaults to true.
	want, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, fromStruct, true)
	if err != nil {
		t.Fatal(err)
	}
	for name, meta := range map[string]strategicpatch.LookupPatchMeta{
		"v3": v3PatchMeta(t, root, deployment),
		"v2": v2PatchMeta(t, v2Models(t, d), deployment),
	} {
		got, err := strategicpatch.CreateThreeWayMergePatch(original, modified, current, meta, true)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !jsonEqual(t, got, want) {
			t.Errorf("%s patch\n%s\nwant\n%s", name, got, want)
		}
	}

	// The patch is a real strategic one: it names the container by key
	// and, applied to the live object, keeps the sidecar and the replicas.
	if !strings.Contains(string(want), `"$setElementOrder/containers"`) || !strings.Contains(string(want), `"nginx:1.26"`) ||
		!strings.Contains(string(want), `"$retainKeys"`) {
		t.Errorf("unexpected patch %s", want)
	}
	patched, err := strategicpatch.StrategicMergePatch(current, want, &appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	var result appsv1.Deployment
	if err := json.Unmarshal(patched, &result); err != nil {
		t.Fatal(err)
	}
	cs := result.Spec.Template.Spec.Containers
	if len(cs) != 2 || cs[0].Image != "nginx:1.26" || cs[1].Name != "proxy" || len(cs[0].Env) != 2 || *result.Spec.Replicas != 3 {
		t.Errorf("patched deployment: %+v replicas %d", cs, *result.Spec.Replicas)
	}
	if v := result.Spec.Template.Spec.Volumes[0]; v.ConfigMap == nil || v.EmptyDir != nil {
		t.Errorf("retainKeys did not replace the volume source: %+v", v)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

// kubectl ≤1.28, and newer ones when /openapi/v3 is missing, explain from
// the v2 protobuf document through kube-openapi's proto models.
func TestExplainFromV2(t *testing.T) {
	d, _ := testDocuments(t)
	models := v2Models(t, d)
	dep, ok := models.LookupModel("io.k8s.api.apps.v1.Deployment").(*proto.Kind)
	if !ok {
		t.Fatal("Deployment is not a kind model")
	}
	spec := resolveV2(t, dep.Fields["spec"])
	strategy, ok := spec.Fields["strategy"]
	if !ok {
		t.Fatal("DeploymentSpec has no strategy field")
	}
	if got, want := strategy.GetDescription(), (appsv1.DeploymentSpec{}).SwaggerDoc()["strategy"]; got != want || got == "" {
		t.Errorf("spec.strategy description %q, want %q", got, want)
	}
	strategyKind := resolveV2(t, strategy)
	if got := strategyKind.Keys(); strings.Join(got, ",") != "rollingUpdate,type" {
		t.Errorf("DeploymentStrategy fields %v", got)
	}
	if got, want := strategyKind.Fields["type"].GetDescription(), (appsv1.DeploymentStrategy{}).SwaggerDoc()["type"]; got != want {
		t.Errorf("spec.strategy.type description %q, want %q", got, want)
	}
	if !spec.IsRequired("selector") || !spec.IsRequired("template") || spec.IsRequired("strategy") {
		t.Errorf("DeploymentSpec required fields %v, want selector and template", spec.RequiredFields)
	}
	// The int-or-string maxSurge is published as upstream does.
	ru := resolveV2(t, resolveV2(t, strategy).Fields["rollingUpdate"])
	if ref, ok := ru.Fields["maxSurge"].(proto.Reference); !ok || ref.Reference() != "io.k8s.apimachinery.pkg.util.intstr.IntOrString" {
		t.Errorf("maxSurge is %#v", ru.Fields["maxSurge"])
	}
	if p, ok := models.LookupModel("io.k8s.apimachinery.pkg.util.intstr.IntOrString").(*proto.Primitive); !ok || p.Type != "string" || p.Format != "int-or-string" {
		t.Errorf("IntOrString v2 model %#v", models.LookupModel("io.k8s.apimachinery.pkg.util.intstr.IntOrString"))
	}
}

func resolveV2(t *testing.T, s proto.Schema) *proto.Kind {
	t.Helper()
	if ref, ok := s.(proto.Reference); ok {
		s = ref.SubSchema()
	}
	k, ok := s.(*proto.Kind)
	if !ok {
		t.Fatalf("%s is %T, not a kind", s.GetPath(), s)
	}
	return k
}

// explainV3 follows kubectl explain's v3 template (kubectl/pkg/explain/v2
// templates/plaintext.tmpl): find the GVK on the resource's operations,
// the schema carrying that GVK, then walk the field path through
// properties, allOf and $ref. It returns the type shown after FIELD, the
// DESCRIPTION lines and the FIELDS names.
func explainV3(t *testing.T, doc map[string]any, prefix, resource string, fieldPath []string) (typ string, description []string, fields []string) {
	t.Helper()
	paths := doc["paths"].(map[string]any)
	var gvk map[string]any
	for _, p := range []string{prefix + "/" + resource, prefix + "/namespaces/{namespace}/" + resource} {
		item, _ := paths[p].(map[string]any)
		for _, m := range []string{"get", "post", "put", "patch", "delete"} {
			if op, ok := item[m].(map[string]any); ok && gvk == nil {
				gvk, _ = op[extGVK].(map[string]any)
			}
		}
	}
	if gvk == nil {
		t.Fatalf("no GVK on the operations of %s", resource)
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	resolve := func(s map[string]any) map[string]any {
		if ref, ok := s["$ref"].(string); ok {
			return schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
		}
		return s
	}
	var kind map[string]any
	for _, s := range schemas {
		list, _ := s.(map[string]any)[extGVK].([]any)
		for _, g := range list {
			if reflect.DeepEqual(g, gvk) {
				kind = s.(map[string]any)
			}
		}
	}
	if kind == nil {
		t.Fatalf("GVK %v not found in OpenAPI schema", gvk)
	}
	var typeGuess func(s map[string]any) string
	typeGuess = func(s map[string]any) string {
		if all, ok := s["allOf"].([]any); ok && len(all) == 1 && s["properties"] == nil {
			return typeGuess(all[0].(map[string]any))
		}
		if ref, ok := s["$ref"].(string); ok {
			return ref[strings.LastIndex(ref, ".")+1:]
		}
		return fmt.Sprint(s["type"])
	}
	var describe func(s map[string]any)
	describe = func(s map[string]any) {
		s = resolve(s)
		if d, ok := s["description"].(string); ok {
			description = append(description, d)
		}
		for _, sub := range asList(s["allOf"]) {
			describe(sub)
		}
	}
	var list func(s map[string]any)
	list = func(s map[string]any) {
		s = resolve(s)
		for name := range asMap(s["properties"]) {
			fields = append(fields, name)
		}
		for _, sub := range asList(s["allOf"]) {
			list(sub)
		}
	}
	var walk func(s map[string]any, path []string) bool
	walk = func(s map[string]any, path []string) bool {
		resolved := resolve(s)
		if len(path) == 0 {
			describe(s)
			list(s)
			return true
		}
		if sub, ok := asMap(resolved["properties"])[path[0]]; ok {
			sub := sub.(map[string]any)
			if len(path) == 1 {
				typ = typeGuess(sub)
			}
			return walk(sub, path[1:])
		}
		if items, ok := resolved["items"].(map[string]any); ok {
			return walk(items, path)
		}
		if values, ok := resolved["additionalProperties"].(map[string]any); ok {
			return walk(values, path)
		}
		for _, sub := range asList(resolved["allOf"]) {
			if walk(sub, path) {
				return true
			}
		}
		return false
	}
	if !walk(kind, fieldPath) {
		t.Fatalf("field %v does not exist", fieldPath)
	}
	sort.Strings(fields)
	return typ, description, fields
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func asList(v any) []map[string]any {
	var out []map[string]any
	l, _ := v.([]any)
	for _, x := range l {
		out = append(out, x.(map[string]any))
	}
	return out
}

// kubectl ≥1.29 explains from the group-version's v3 document.
func TestExplainFromV3(t *testing.T) {
	d, _ := testDocuments(t)
	dc, _, _ := serve(t, d)
	root := openapi3.NewRoot(cached.NewClient(dc.OpenAPIV3()))
	doc, err := root.GVSpecAsMap(appsv1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	typ, desc, fields := explainV3(t, doc, "/apis/apps/v1", "deployments", []string{"spec", "strategy"})
	if typ != "DeploymentStrategy" {
		t.Errorf("FIELD: strategy <%s>, want DeploymentStrategy", typ)
	}
	wantDesc := []string{(appsv1.DeploymentSpec{}).SwaggerDoc()["strategy"], (appsv1.DeploymentStrategy{}).SwaggerDoc()[""]}
	if !reflect.DeepEqual(desc, wantDesc) {
		t.Errorf("DESCRIPTION %q, want %q", desc, wantDesc)
	}
	if strings.Join(fields, ",") != "rollingUpdate,type" {
		t.Errorf("FIELDS %v", fields)
	}

	core, err := root.GVSpecAsMap(corev1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	_, desc, fields = explainV3(t, core, "/api/v1", "pods", []string{"spec", "containers", "resources"})
	if len(desc) == 0 || desc[0] != (corev1.Container{}).SwaggerDoc()["resources"] || !contains(fields, "limits") {
		t.Errorf("pod.spec.containers.resources: %q %v", desc, fields)
	}
	_, desc, fields = explainV3(t, core, "/api/v1", "pods", nil)
	if len(desc) == 0 || desc[0] != (corev1.Pod{}).SwaggerDoc()[""] || strings.Join(fields, ",") != "apiVersion,kind,metadata,spec,status" {
		t.Errorf("pod: %q %v", desc, fields)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// kubectl fetches GV documents through the index with Accept:
// application/json; both are answered from what New cached.
func TestOpenAPIV3ClientFetchesEveryDocument(t *testing.T) {
	d, reg := testDocuments(t)
	dc, log, _ := serve(t, d)
	paths, err := dc.OpenAPIV3().Paths()
	if err != nil {
		t.Fatal(err)
	}
	for _, gv := range reg.GroupVersions() {
		p, ok := paths[documentKey(gv)]
		if !ok {
			t.Errorf("client sees no %s", gv)
			continue
		}
		b, err := p.Schema("application/json")
		if err != nil {
			t.Fatalf("%s: %v", gv, err)
		}
		var doc spec3.OpenAPI
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", gv, err)
		}
		if len(doc.Components.Schemas) == 0 {
			t.Errorf("%s: no schemas", gv)
		}
	}
	for _, r := range log.reqs {
		if r.Method != http.MethodGet {
			t.Errorf("unexpected %s %s", r.Method, r.URL)
		}
	}
}
