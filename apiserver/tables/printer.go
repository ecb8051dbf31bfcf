package tables

import (
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Printer prints one kind as table rows.
type Printer struct {
	Columns []metav1.TableColumnDefinition
	// Row returns the cells of one object, in column order. now is injected for AGE so tests are deterministic.
	Row func(obj runtime.Object, now time.Time) ([]interface{}, error)
}

// For returns the printer of a kind, or the generic printer (NAME, CREATED
// AT) for a kind that has none of its own.
func For(gvk schema.GroupVersionKind) Printer {
	if p, ok := builtin()[gvk]; ok {
		return p()
	}
	// Flux's kinds print from their CRDs' columns (flux.go).
	if p, ok := fluxPrinters()[gvk]; ok {
		return p()
	}
	return generic()
}

// builtin lists the kinds with a printer of their own. It is a function, not
// a package variable, so that no caller can change it.
func builtin() map[schema.GroupVersionKind]func() Printer {
	core := corev1.SchemeGroupVersion
	apps := appsv1.SchemeGroupVersion
	return map[schema.GroupVersionKind]func() Printer{
		core.WithKind("Pod"):            podPrinter,
		core.WithKind("Namespace"):      namespacePrinter,
		core.WithKind("Service"):        servicePrinter,
		core.WithKind("Endpoints"):      endpointsPrinter,
		core.WithKind("ConfigMap"):      configMapPrinter,
		core.WithKind("Secret"):         secretPrinter,
		core.WithKind("ServiceAccount"): serviceAccountPrinter,
		core.WithKind("Node"):           nodePrinter,
		core.WithKind("Event"):          coreEventPrinter,

		eventsv1.SchemeGroupVersion.WithKind("Event"): eventsV1EventPrinter,

		apps.WithKind("Deployment"):         deploymentPrinter,
		apps.WithKind("ReplicaSet"):         replicaSetPrinter,
		apps.WithKind("StatefulSet"):        statefulSetPrinter,
		apps.WithKind("DaemonSet"):          daemonSetPrinter,
		apps.WithKind("ControllerRevision"): controllerRevisionPrinter,

		batchv1.SchemeGroupVersion.WithKind("Job"):     jobPrinter,
		batchv1.SchemeGroupVersion.WithKind("CronJob"): cronJobPrinter,

		discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"): endpointSlicePrinter,
		coordinationv1.SchemeGroupVersion.WithKind("Lease"):      leasePrinter,
		networkingv1.SchemeGroupVersion.WithKind("Ingress"):      ingressPrinter,
	}
}

// typedRow adapts a function of one typed object to Printer.Row. The object
// may come typed or as unstructured content of the same kind.
func typedRow[T any, PT interface {
	*T
	runtime.Object
}](cells func(obj PT, now time.Time) ([]interface{}, error)) func(runtime.Object, time.Time) ([]interface{}, error) {
	return func(obj runtime.Object, now time.Time) ([]interface{}, error) {
		typed, err := asTyped[T, PT](obj)
		if err != nil {
			return nil, err
		}
		return cells(typed, now)
	}
}

func asTyped[T any, PT interface {
	*T
	runtime.Object
}](obj runtime.Object) (PT, error) {
	switch o := obj.(type) {
	case PT:
		if o == nil {
			return nil, fmt.Errorf("print %T: nil object", o)
		}
		return o, nil
	case runtime.Unstructured:
		out := PT(new(T))
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.UnstructuredContent(), out); err != nil {
			return nil, fmt.Errorf("print %T: convert from unstructured: %w", out, err)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("print %T: got a %T", PT(nil), obj)
	}
}

// generic is what the Kubernetes API server answers for a kind without a
// printer (k8s.io/apiserver/pkg/registry/rest/table.go): the name and the
// creation time as an RFC 3339 date, which kubectl prints as it is.
func generic() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "Created At", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]},
		},
		Row: func(obj runtime.Object, _ time.Time) ([]interface{}, error) {
			m, err := meta.Accessor(obj)
			if err != nil {
				return nil, fmt.Errorf("print %T: %w", obj, err)
			}
			return []interface{}{m.GetName(), m.GetCreationTimestamp().Time.UTC().Format(time.RFC3339)}, nil
		},
	}
}
