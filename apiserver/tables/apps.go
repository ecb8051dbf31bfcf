package tables

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	appsv1beta1 "k8s.io/api/apps/v1beta1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Kubernetes takes several column descriptions from the extensions/v1beta1
// and apps/v1beta1 types; they are read from the same place so that the
// descriptions match word for word.

func deploymentPrinter() Printer {
	status := extensionsv1beta1.DeploymentStatus{}.SwaggerDoc()
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
			{Name: "Up-to-date", Type: "string", Description: status["updatedReplicas"]},
			{Name: "Available", Type: "string", Description: status["availableReplicas"]},
			ageColumn(),
			containersColumn(),
			imagesColumn(),
			{Name: "Selector", Type: "string", Priority: 1, Description: extensionsv1beta1.DeploymentSpec{}.SwaggerDoc()["selector"]},
		},
		Row: typedRow(func(d *appsv1.Deployment, now time.Time) ([]interface{}, error) {
			selector := "<invalid>"
			if s, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil {
				selector = s.String()
			}
			names, images := containerCells(d.Spec.Template.Spec.Containers)
			return []interface{}{
				d.Name,
				fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, replicasOr1(d.Spec.Replicas)),
				int64(d.Status.UpdatedReplicas),
				int64(d.Status.AvailableReplicas),
				since(d.CreationTimestamp, now),
				names,
				images,
				selector,
			}, nil
		}),
	}
}

func replicaSetPrinter() Printer {
	status := extensionsv1beta1.ReplicaSetStatus{}.SwaggerDoc()
	spec := extensionsv1beta1.ReplicaSetSpec{}.SwaggerDoc()
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "Desired", Type: "integer", Description: spec["replicas"]},
			{Name: "Current", Type: "integer", Description: status["replicas"]},
			{Name: "Ready", Type: "integer", Description: status["readyReplicas"]},
			ageColumn(),
			containersColumn(),
			imagesColumn(),
			{Name: "Selector", Type: "string", Priority: 1, Description: spec["selector"]},
		},
		Row: typedRow(func(rs *appsv1.ReplicaSet, now time.Time) ([]interface{}, error) {
			names, images := containerCells(rs.Spec.Template.Spec.Containers)
			return []interface{}{
				rs.Name,
				replicasOr1(rs.Spec.Replicas),
				int64(rs.Status.Replicas),
				int64(rs.Status.ReadyReplicas),
				since(rs.CreationTimestamp, now),
				names,
				images,
				metav1.FormatLabelSelector(rs.Spec.Selector),
			}, nil
		}),
	}
}

func statefulSetPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
			ageColumn(),
			containersColumn(),
			imagesColumn(),
		},
		Row: typedRow(func(ss *appsv1.StatefulSet, now time.Time) ([]interface{}, error) {
			names, images := containerCells(ss.Spec.Template.Spec.Containers)
			return []interface{}{
				ss.Name,
				fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, replicasOr1(ss.Spec.Replicas)),
				since(ss.CreationTimestamp, now),
				names,
				images,
			}, nil
		}),
	}
}

func daemonSetPrinter() Printer {
	status := extensionsv1beta1.DaemonSetStatus{}.SwaggerDoc()
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "Desired", Type: "integer", Description: status["desiredNumberScheduled"]},
			{Name: "Current", Type: "integer", Description: status["currentNumberScheduled"]},
			{Name: "Ready", Type: "integer", Description: status["numberReady"]},
			{Name: "Up-to-date", Type: "integer", Description: status["updatedNumberScheduled"]},
			{Name: "Available", Type: "integer", Description: status["numberAvailable"]},
			{Name: "Node Selector", Type: "string", Description: corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]},
			ageColumn(),
			containersColumn(),
			imagesColumn(),
			{Name: "Selector", Type: "string", Priority: 1, Description: extensionsv1beta1.DaemonSetSpec{}.SwaggerDoc()["selector"]},
		},
		Row: typedRow(func(ds *appsv1.DaemonSet, now time.Time) ([]interface{}, error) {
			names, images := containerCells(ds.Spec.Template.Spec.Containers)
			return []interface{}{
				ds.Name,
				int64(ds.Status.DesiredNumberScheduled),
				int64(ds.Status.CurrentNumberScheduled),
				int64(ds.Status.NumberReady),
				int64(ds.Status.UpdatedNumberScheduled),
				int64(ds.Status.NumberAvailable),
				labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
				since(ds.CreationTimestamp, now),
				names,
				images,
				metav1.FormatLabelSelector(ds.Spec.Selector),
			}, nil
		}),
	}
}

func controllerRevisionPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "Controller", Type: "string", Description: "Controller of the object"},
			{Name: "Revision", Type: "string", Description: appsv1beta1.ControllerRevision{}.SwaggerDoc()["revision"]},
			ageColumn(),
		},
		Row: typedRow(func(cr *appsv1.ControllerRevision, now time.Time) ([]interface{}, error) {
			controller := none
			if ref := metav1.GetControllerOf(cr); ref != nil {
				gv, err := schema.ParseGroupVersion(ref.APIVersion)
				if err != nil {
					return nil, fmt.Errorf("print controllerrevision %s/%s: controller %q: %w", cr.Namespace, cr.Name, ref.APIVersion, err)
				}
				controller = ref.Name
				if gk := gv.WithKind(ref.Kind).GroupKind(); !gk.Empty() {
					// "statefulset.apps/web", as `kubectl get` names objects.
					controller = strings.ToLower(gk.String()) + "/" + ref.Name
				}
			}
			return []interface{}{cr.Name, controller, cr.Revision, since(cr.CreationTimestamp, now)}, nil
		}),
	}
}
