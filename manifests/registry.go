package manifests

import (
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-dev/skiff/manifests/defaults"
	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/manifests/validation"
)

// Type describes one resource the API serves.
type Type struct {
	// GroupVersionKind of the objects, e.g. apps/v1 Deployment.
	GroupVersionKind schema.GroupVersionKind
	// Resource is the plural, lower-case name used in URLs ("deployments").
	Resource string
	// Singular is the singular, lower-case name ("deployment").
	Singular   string
	Namespaced bool
	ShortNames []string
	// Categories lets `kubectl get all` find the resource.
	Categories []string
	// Subresources served under /<resource>/<name>/<subresource>.
	Subresources []Subresource
	// Storage names the etcd resource the objects live in when it is not
	// this type's own (events.k8s.io/v1 Events are stored as core/v1 Events
	// and converted on the way in and out).
	Storage *schema.GroupVersionKind
	// StorageResource is the plural of the stored resource ("events").
	StorageResource string
	// AllowCreateOnUpdate lets PUT create a missing object, as Kubernetes
	// does for Leases, Events and Endpoints.
	AllowCreateOnUpdate bool
	// Verbs are the verbs a resource that is not stored serves: the
	// self reviews take only create, which answers the question the
	// object asks and keeps nothing. Nil for a stored resource, which
	// serves every CRUD verb.
	Verbs []string

	// New returns an empty object; NewList an empty list.
	New     func() runtime.Object
	NewList func() runtime.Object
	// Default fills unset fields as the Kubernetes API server does.
	Default func(obj runtime.Object)
	// Validate checks a new object, ValidateUpdate a change to an existing
	// one; both include the object metadata.
	Validate       func(obj runtime.Object) field.ErrorList
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
}

// Subresource is one subresource of a Type.
type Subresource struct {
	Name string
	// Kind is what the subresource takes and returns.
	Kind  schema.GroupVersionKind
	Verbs []string
	// ValidateUpdate, when set, checks a write through the subresource
	// instead of the type's ValidateUpdate.
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
}

// Stored reports whether objects of the type are kept in etcd (every
// type but the self reviews).
func (t *Type) Stored() bool { return t.Verbs == nil }

// ServedVerbs are the verbs the resource serves.
func (t *Type) ServedVerbs() []string {
	if t.Verbs != nil {
		return append([]string(nil), t.Verbs...)
	}
	return CRUDVerbs()
}

// GroupResource returns the type's group and plural resource.
func (t *Type) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: t.GroupVersionKind.Group, Resource: t.Resource}
}

// GroupVersionResource returns the type's group, version and resource.
func (t *Type) GroupVersionResource() schema.GroupVersionResource {
	return t.GroupVersionKind.GroupVersion().WithResource(t.Resource)
}

// Subresource returns the named subresource, if the type has it.
func (t *Type) Subresource(name string) (Subresource, bool) {
	for _, s := range t.Subresources {
		if s.Name == name {
			return s, true
		}
	}
	return Subresource{}, false
}

// HasStatus tells whether status is written through a status subresource
// (and therefore ignored on writes to the main resource).
func (t *Type) HasStatus() bool {
	_, ok := t.Subresource("status")
	return ok
}

// Registry is the immutable set of types the API serves, with the scheme
// that encodes them. Build it once with NewRegistry and pass it down.
type Registry struct {
	scheme     *runtime.Scheme
	types      []*Type
	byResource map[schema.GroupVersionResource]*Type
	byKind     map[schema.GroupVersionKind]*Type
}

// Scheme returns the scheme holding every served kind (plus meta/v1 and
// autoscaling/v1 Scale).
func (r *Registry) Scheme() *runtime.Scheme { return r.scheme }

// Types returns the served types in discovery order.
func (r *Registry) Types() []*Type { return r.types }

// ByResource finds a type by group, version and plural resource.
func (r *Registry) ByResource(gvr schema.GroupVersionResource) (*Type, bool) {
	t, ok := r.byResource[gvr]
	return t, ok
}

// ByKind finds a type by group, version and kind.
func (r *Registry) ByKind(gvk schema.GroupVersionKind) (*Type, bool) {
	t, ok := r.byKind[gvk]
	return t, ok
}

// GroupVersions returns every served group/version, core first, then by
// group name.
func (r *Registry) GroupVersions() []schema.GroupVersion {
	seen := map[schema.GroupVersion]bool{}
	var out []schema.GroupVersion
	for _, t := range r.types {
		gv := t.GroupVersionKind.GroupVersion()
		if !seen[gv] {
			seen[gv] = true
			out = append(out, gv)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if (out[i].Group == "") != (out[j].Group == "") {
			return out[i].Group == ""
		}
		return out[i].Group < out[j].Group
	})
	return out
}

var (
	crudVerbs        = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	statusVerbs      = []string{"get", "patch", "update"}
	scaleKind        = autoscalingv1.SchemeGroupVersion.WithKind("Scale")
	readOnlyStreamed = []string{"get"}
	streamVerbs      = []string{"create", "get"}
	reviewVerbs      = []string{"create"}
)

// noDefaults is the defaulting of types kube-apiserver does not default.
func noDefaults(runtime.Object) {}

// CRUDVerbs are the verbs every top-level resource supports.
func CRUDVerbs() []string { return append([]string(nil), crudVerbs...) }

func status(gvk schema.GroupVersionKind) Subresource {
	return Subresource{Name: "status", Kind: gvk, Verbs: statusVerbs}
}

func scale() Subresource {
	return Subresource{Name: "scale", Kind: scaleKind, Verbs: statusVerbs}
}

// typed adapts a typed validation function to the registry's signature.
func typed[T runtime.Object](f func(T) field.ErrorList) func(runtime.Object) field.ErrorList {
	return func(o runtime.Object) field.ErrorList { return f(o.(T)) }
}

func typedUpdate[T runtime.Object](f func(T, T) field.ErrorList) func(runtime.Object, runtime.Object) field.ErrorList {
	return func(o, old runtime.Object) field.ErrorList { return f(o.(T), old.(T)) }
}

func typedDefault[T runtime.Object](f func(T)) func(runtime.Object) {
	return func(o runtime.Object) { f(o.(T)) }
}

// NewRegistry builds the registry of every built-in type Skiff serves.
func NewRegistry() (*Registry, error) {
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	core := corev1.SchemeGroupVersion
	apps := appsv1.SchemeGroupVersion
	batch := batchv1.SchemeGroupVersion
	all := []string{"all"}

	types := []*Type{
		{
			GroupVersionKind: core.WithKind("Namespace"), Resource: "namespaces", Singular: "namespace",
			ShortNames:   []string{"ns"},
			Subresources: []Subresource{status(core.WithKind("Namespace")), {Name: "finalize", Kind: core.WithKind("Namespace"), Verbs: []string{"update"}}},
			New:          func() runtime.Object { return &corev1.Namespace{} },
			NewList:      func() runtime.Object { return &corev1.NamespaceList{} },
			Default:      typedDefault(defaults.Namespace),
			Validate:     typed(validation.ValidateNamespace), ValidateUpdate: typedUpdate(validation.ValidateNamespaceUpdate),
		},
		{
			GroupVersionKind: core.WithKind("Pod"), Resource: "pods", Singular: "pod", Namespaced: true,
			ShortNames: []string{"po"}, Categories: all,
			Subresources: []Subresource{
				status(core.WithKind("Pod")),
				{Name: "binding", Kind: core.WithKind("Binding"), Verbs: []string{"create"}},
				{Name: "log", Kind: core.WithKind("Pod"), Verbs: readOnlyStreamed},
				// Upgraded streams; POST for SPDY, GET for WebSocket.
				{Name: "exec", Kind: core.WithKind("PodExecOptions"), Verbs: streamVerbs},
				{Name: "attach", Kind: core.WithKind("PodAttachOptions"), Verbs: streamVerbs},
				{Name: "portforward", Kind: core.WithKind("PodPortForwardOptions"), Verbs: streamVerbs},
				// kubectl debug adds a container to a running pod here.
				{Name: "ephemeralcontainers", Kind: core.WithKind("Pod"), Verbs: statusVerbs,
					ValidateUpdate: typedUpdate(validation.ValidatePodEphemeralContainersUpdate)},
			},
			New:      func() runtime.Object { return &corev1.Pod{} },
			NewList:  func() runtime.Object { return &corev1.PodList{} },
			Default:  typedDefault(defaults.Pod),
			Validate: typed(validation.ValidatePod), ValidateUpdate: typedUpdate(validation.ValidatePodUpdate),
		},
		{
			GroupVersionKind: core.WithKind("Service"), Resource: "services", Singular: "service", Namespaced: true,
			ShortNames: []string{"svc"}, Categories: all,
			Subresources: []Subresource{status(core.WithKind("Service"))},
			New:          func() runtime.Object { return &corev1.Service{} },
			NewList:      func() runtime.Object { return &corev1.ServiceList{} },
			Default:      typedDefault(defaults.Service),
			Validate:     typed(validation.ValidateService), ValidateUpdate: typedUpdate(validation.ValidateServiceUpdate),
		},
		{
			GroupVersionKind: core.WithKind("Endpoints"), Resource: "endpoints", Singular: "endpoints", Namespaced: true,
			ShortNames: []string{"ep"}, AllowCreateOnUpdate: true,
			New:      func() runtime.Object { return &corev1.Endpoints{} },
			NewList:  func() runtime.Object { return &corev1.EndpointsList{} },
			Default:  typedDefault(defaults.Endpoints),
			Validate: typed(validation.ValidateEndpoints), ValidateUpdate: typedUpdate(validation.ValidateEndpointsUpdate),
		},
		{
			GroupVersionKind: core.WithKind("ConfigMap"), Resource: "configmaps", Singular: "configmap", Namespaced: true,
			ShortNames: []string{"cm"},
			New:        func() runtime.Object { return &corev1.ConfigMap{} },
			NewList:    func() runtime.Object { return &corev1.ConfigMapList{} },
			Default:    typedDefault(defaults.ConfigMap),
			Validate:   typed(validation.ValidateConfigMap), ValidateUpdate: typedUpdate(validation.ValidateConfigMapUpdate),
		},
		{
			GroupVersionKind: core.WithKind("Secret"), Resource: "secrets", Singular: "secret", Namespaced: true,
			New:      func() runtime.Object { return &corev1.Secret{} },
			NewList:  func() runtime.Object { return &corev1.SecretList{} },
			Default:  typedDefault(defaults.Secret),
			Validate: typed(validation.ValidateSecret), ValidateUpdate: typedUpdate(validation.ValidateSecretUpdate),
		},
		{
			GroupVersionKind: core.WithKind("ServiceAccount"), Resource: "serviceaccounts", Singular: "serviceaccount", Namespaced: true,
			ShortNames: []string{"sa"},
			New:        func() runtime.Object { return &corev1.ServiceAccount{} },
			NewList:    func() runtime.Object { return &corev1.ServiceAccountList{} },
			Default:    typedDefault(defaults.ServiceAccount),
			Validate:   typed(validation.ValidateServiceAccount), ValidateUpdate: typedUpdate(validation.ValidateServiceAccountUpdate),
		},
		{
			GroupVersionKind: core.WithKind("Node"), Resource: "nodes", Singular: "node",
			ShortNames:   []string{"no"},
			Subresources: []Subresource{status(core.WithKind("Node"))},
			New:          func() runtime.Object { return &corev1.Node{} },
			NewList:      func() runtime.Object { return &corev1.NodeList{} },
			Default:      typedDefault(defaults.Node),
			Validate:     typed(validation.ValidateNode), ValidateUpdate: typedUpdate(validation.ValidateNodeUpdate),
		},
		{
			GroupVersionKind: core.WithKind("Event"), Resource: "events", Singular: "event", Namespaced: true,
			ShortNames: []string{"ev"}, AllowCreateOnUpdate: true,
			New:      func() runtime.Object { return &corev1.Event{} },
			NewList:  func() runtime.Object { return &corev1.EventList{} },
			Default:  typedDefault(defaults.Event),
			Validate: typed(validation.ValidateEvent), ValidateUpdate: typedUpdate(validation.ValidateEventUpdate),
		},
		{
			GroupVersionKind: apps.WithKind("Deployment"), Resource: "deployments", Singular: "deployment", Namespaced: true,
			ShortNames: []string{"deploy"}, Categories: all,
			Subresources: []Subresource{status(apps.WithKind("Deployment")), scale()},
			New:          func() runtime.Object { return &appsv1.Deployment{} },
			NewList:      func() runtime.Object { return &appsv1.DeploymentList{} },
			Default:      typedDefault(defaults.Deployment),
			Validate:     typed(validation.ValidateDeployment), ValidateUpdate: typedUpdate(validation.ValidateDeploymentUpdate),
		},
		{
			GroupVersionKind: apps.WithKind("ReplicaSet"), Resource: "replicasets", Singular: "replicaset", Namespaced: true,
			ShortNames: []string{"rs"}, Categories: all,
			Subresources: []Subresource{status(apps.WithKind("ReplicaSet")), scale()},
			New:          func() runtime.Object { return &appsv1.ReplicaSet{} },
			NewList:      func() runtime.Object { return &appsv1.ReplicaSetList{} },
			Default:      typedDefault(defaults.ReplicaSet),
			Validate:     typed(validation.ValidateReplicaSet), ValidateUpdate: typedUpdate(validation.ValidateReplicaSetUpdate),
		},
		{
			GroupVersionKind: apps.WithKind("StatefulSet"), Resource: "statefulsets", Singular: "statefulset", Namespaced: true,
			ShortNames: []string{"sts"}, Categories: all,
			Subresources: []Subresource{status(apps.WithKind("StatefulSet")), scale()},
			New:          func() runtime.Object { return &appsv1.StatefulSet{} },
			NewList:      func() runtime.Object { return &appsv1.StatefulSetList{} },
			Default:      typedDefault(defaults.StatefulSet),
			Validate:     typed(validation.ValidateStatefulSet), ValidateUpdate: typedUpdate(validation.ValidateStatefulSetUpdate),
		},
		{
			GroupVersionKind: apps.WithKind("DaemonSet"), Resource: "daemonsets", Singular: "daemonset", Namespaced: true,
			ShortNames: []string{"ds"}, Categories: all,
			Subresources: []Subresource{status(apps.WithKind("DaemonSet"))},
			New:          func() runtime.Object { return &appsv1.DaemonSet{} },
			NewList:      func() runtime.Object { return &appsv1.DaemonSetList{} },
			Default:      typedDefault(defaults.DaemonSet),
			Validate:     typed(validation.ValidateDaemonSet), ValidateUpdate: typedUpdate(validation.ValidateDaemonSetUpdate),
		},
		{
			GroupVersionKind: apps.WithKind("ControllerRevision"), Resource: "controllerrevisions", Singular: "controllerrevision", Namespaced: true,
			New:      func() runtime.Object { return &appsv1.ControllerRevision{} },
			NewList:  func() runtime.Object { return &appsv1.ControllerRevisionList{} },
			Default:  typedDefault(defaults.ControllerRevision),
			Validate: typed(validation.ValidateControllerRevision), ValidateUpdate: typedUpdate(validation.ValidateControllerRevisionUpdate),
		},
		{
			GroupVersionKind: batch.WithKind("Job"), Resource: "jobs", Singular: "job", Namespaced: true,
			Categories:   all,
			Subresources: []Subresource{status(batch.WithKind("Job"))},
			New:          func() runtime.Object { return &batchv1.Job{} },
			NewList:      func() runtime.Object { return &batchv1.JobList{} },
			Default:      typedDefault(defaults.Job),
			Validate:     typed(validation.ValidateJob), ValidateUpdate: typedUpdate(validation.ValidateJobUpdate),
		},
		{
			GroupVersionKind: batch.WithKind("CronJob"), Resource: "cronjobs", Singular: "cronjob", Namespaced: true,
			ShortNames: []string{"cj"}, Categories: all,
			Subresources: []Subresource{status(batch.WithKind("CronJob"))},
			New:          func() runtime.Object { return &batchv1.CronJob{} },
			NewList:      func() runtime.Object { return &batchv1.CronJobList{} },
			Default:      typedDefault(defaults.CronJob),
			Validate:     typed(validation.ValidateCronJob), ValidateUpdate: typedUpdate(validation.ValidateCronJobUpdate),
		},
		{
			GroupVersionKind: discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"), Resource: "endpointslices", Singular: "endpointslice", Namespaced: true,
			New:      func() runtime.Object { return &discoveryv1.EndpointSlice{} },
			NewList:  func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
			Default:  typedDefault(defaults.EndpointSlice),
			Validate: typed(validation.ValidateEndpointSlice), ValidateUpdate: typedUpdate(validation.ValidateEndpointSliceUpdate),
		},
		{
			GroupVersionKind: coordinationv1.SchemeGroupVersion.WithKind("Lease"), Resource: "leases", Singular: "lease", Namespaced: true,
			AllowCreateOnUpdate: true,
			New:                 func() runtime.Object { return &coordinationv1.Lease{} },
			NewList:             func() runtime.Object { return &coordinationv1.LeaseList{} },
			Default:             typedDefault(defaults.Lease),
			Validate:            typed(validation.ValidateLease), ValidateUpdate: typedUpdate(validation.ValidateLeaseUpdate),
		},
		{
			GroupVersionKind: eventsv1.SchemeGroupVersion.WithKind("Event"), Resource: "events", Singular: "event", Namespaced: true,
			ShortNames: []string{"ev"}, AllowCreateOnUpdate: true,
			Storage: &schema.GroupVersionKind{Version: "v1", Kind: "Event"}, StorageResource: "events",
			New:      func() runtime.Object { return &eventsv1.Event{} },
			NewList:  func() runtime.Object { return &eventsv1.EventList{} },
			Default:  typedDefault(defaults.EventsV1Event),
			Validate: typed(validation.ValidateEventsV1Event), ValidateUpdate: typedUpdate(validation.ValidateEventsV1EventUpdate),
		},
		{
			GroupVersionKind: networkingv1.SchemeGroupVersion.WithKind("Ingress"), Resource: "ingresses", Singular: "ingress", Namespaced: true,
			ShortNames:   []string{"ing"},
			Subresources: []Subresource{status(networkingv1.SchemeGroupVersion.WithKind("Ingress"))},
			New:          func() runtime.Object { return &networkingv1.Ingress{} },
			NewList:      func() runtime.Object { return &networkingv1.IngressList{} },
			Default:      typedDefault(defaults.Ingress),
			Validate:     typed(validation.ValidateIngress), ValidateUpdate: typedUpdate(validation.ValidateIngressUpdate),
		},
		// The self reviews: `kubectl auth can-i` (and tools such as k9s
		// and Lens), `auth can-i --list` and `auth whoami` ask the
		// server what the caller may do and who it is.
		{
			GroupVersionKind: authorizationv1.SchemeGroupVersion.WithKind("SelfSubjectAccessReview"), Resource: "selfsubjectaccessreviews", Singular: "selfsubjectaccessreview",
			Verbs:    reviewVerbs,
			New:      func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} },
			Default:  noDefaults,
			Validate: typed(validation.ValidateSelfSubjectAccessReview),
		},
		{
			GroupVersionKind: authorizationv1.SchemeGroupVersion.WithKind("SelfSubjectRulesReview"), Resource: "selfsubjectrulesreviews", Singular: "selfsubjectrulesreview",
			Verbs:    reviewVerbs,
			New:      func() runtime.Object { return &authorizationv1.SelfSubjectRulesReview{} },
			Default:  noDefaults,
			Validate: typed(validation.ValidateSelfSubjectRulesReview),
		},
		{
			GroupVersionKind: authenticationv1.SchemeGroupVersion.WithKind("SelfSubjectReview"), Resource: "selfsubjectreviews", Singular: "selfsubjectreview",
			Verbs:    reviewVerbs,
			New:      func() runtime.Object { return &authenticationv1.SelfSubjectReview{} },
			Default:  noDefaults,
			Validate: typed(validation.ValidateSelfSubjectReview),
		},
		// Flux's objects, served as their CRDs define them.
		{
			GroupVersionKind: flux.GitRepositoryKind, Resource: "gitrepositories", Singular: "gitrepository", Namespaced: true,
			ShortNames: []string{"gitrepo"}, Categories: []string{"all", "fluxcd", "fluxcd-sources"},
			Subresources: []Subresource{status(flux.GitRepositoryKind)},
			New:          func() runtime.Object { return &flux.GitRepository{} },
			NewList:      func() runtime.Object { return &flux.GitRepositoryList{} },
			Default:      typedDefault(flux.DefaultGitRepository),
			Validate:     typed(flux.ValidateGitRepository), ValidateUpdate: typedUpdate(flux.ValidateGitRepositoryUpdate),
		},
		{
			GroupVersionKind: flux.KustomizationKind, Resource: "kustomizations", Singular: "kustomization", Namespaced: true,
			ShortNames:   []string{"ks"},
			Subresources: []Subresource{status(flux.KustomizationKind)},
			New:          func() runtime.Object { return &flux.Kustomization{} },
			NewList:      func() runtime.Object { return &flux.KustomizationList{} },
			Default:      typedDefault(flux.DefaultKustomization),
			Validate:     typed(flux.ValidateKustomization), ValidateUpdate: typedUpdate(flux.ValidateKustomizationUpdate),
		},
		{
			GroupVersionKind: flux.ReceiverKind, Resource: "receivers", Singular: "receiver", Namespaced: true,
			Subresources: []Subresource{status(flux.ReceiverKind)},
			New:          func() runtime.Object { return &flux.Receiver{} },
			NewList:      func() runtime.Object { return &flux.ReceiverList{} },
			Default:      typedDefault(flux.DefaultReceiver),
			Validate:     typed(flux.ValidateReceiver), ValidateUpdate: typedUpdate(flux.ValidateReceiverUpdate),
		},
	}
	return newRegistry(scheme, types)
}

func newRegistry(scheme *runtime.Scheme, types []*Type) (*Registry, error) {
	r := &Registry{
		scheme:     scheme,
		types:      types,
		byResource: map[schema.GroupVersionResource]*Type{},
		byKind:     map[schema.GroupVersionKind]*Type{},
	}
	for _, t := range types {
		if !scheme.Recognizes(t.GroupVersionKind) {
			return nil, fmt.Errorf("manifests: %s is not in the scheme", t.GroupVersionKind)
		}
		gvr := t.GroupVersionResource()
		if _, dup := r.byResource[gvr]; dup {
			return nil, fmt.Errorf("manifests: %s registered twice", gvr)
		}
		r.byResource[gvr] = t
		r.byKind[t.GroupVersionKind] = t
	}
	return r, nil
}

// ListMeta returns the list metadata accessor of a list made by NewList.
func ListMeta(list runtime.Object) (*metav1.ListMeta, error) {
	type lister interface{ GetListMeta() metav1.ListInterface }
	l, ok := list.(lister)
	if !ok {
		return nil, fmt.Errorf("%T is not a list", list)
	}
	lm, ok := l.GetListMeta().(*metav1.ListMeta)
	if !ok {
		return nil, fmt.Errorf("%T has no ListMeta", list)
	}
	return lm, nil
}
