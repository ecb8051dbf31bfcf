package apiserver

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// selectableFields lists, per stored kind, the field selectors Kubernetes
// supports beyond metadata.name and metadata.namespace, and how to read them.
func selectableFields(gvk schema.GroupVersionKind) fieldSet {
	set := func(names ...string) map[string]bool {
		m := map[string]bool{}
		for _, n := range names {
			m[n] = true
		}
		return m
	}
	switch gvk {
	case corev1.SchemeGroupVersion.WithKind("Pod"):
		return fieldSet{
			names: set("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
				"spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"),
			extract: func(o runtime.Object) fields.Set {
				p := o.(*corev1.Pod)
				ips := make([]string, 0, len(p.Status.PodIPs))
				for _, ip := range p.Status.PodIPs {
					ips = append(ips, ip.IP)
				}
				return fields.Set{
					"spec.nodeName":            p.Spec.NodeName,
					"spec.restartPolicy":       string(p.Spec.RestartPolicy),
					"spec.schedulerName":       p.Spec.SchedulerName,
					"spec.serviceAccountName":  p.Spec.ServiceAccountName,
					"spec.hostNetwork":         strconv.FormatBool(p.Spec.HostNetwork),
					"status.phase":             string(p.Status.Phase),
					"status.podIP":             p.Status.PodIP,
					"status.podIPs":            strings.Join(ips, ","),
					"status.nominatedNodeName": p.Status.NominatedNodeName,
				}
			},
		}
	case corev1.SchemeGroupVersion.WithKind("Node"):
		return fieldSet{names: set("spec.unschedulable"), extract: func(o runtime.Object) fields.Set {
			return fields.Set{"spec.unschedulable": strconv.FormatBool(o.(*corev1.Node).Spec.Unschedulable)}
		}}
	case corev1.SchemeGroupVersion.WithKind("Namespace"):
		return fieldSet{names: set("status.phase"), extract: func(o runtime.Object) fields.Set {
			return fields.Set{"status.phase": string(o.(*corev1.Namespace).Status.Phase)}
		}}
	case corev1.SchemeGroupVersion.WithKind("Secret"):
		return fieldSet{names: set("type"), extract: func(o runtime.Object) fields.Set {
			return fields.Set{"type": string(o.(*corev1.Secret).Type)}
		}}
	case corev1.SchemeGroupVersion.WithKind("Service"):
		return fieldSet{names: set("spec.clusterIP", "spec.type"), extract: func(o runtime.Object) fields.Set {
			s := o.(*corev1.Service)
			return fields.Set{"spec.clusterIP": s.Spec.ClusterIP, "spec.type": string(s.Spec.Type)}
		}}
	case corev1.SchemeGroupVersion.WithKind("Event"):
		return fieldSet{
			names: set("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
				"involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
				"reason", "reportingComponent", "source", "type"),
			extract: func(o runtime.Object) fields.Set {
				e := o.(*corev1.Event)
				source := e.Source.Component
				if source == "" {
					source = e.ReportingController
				}
				return fields.Set{
					"involvedObject.kind":            e.InvolvedObject.Kind,
					"involvedObject.namespace":       e.InvolvedObject.Namespace,
					"involvedObject.name":            e.InvolvedObject.Name,
					"involvedObject.uid":             string(e.InvolvedObject.UID),
					"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
					"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
					"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
					"reason":                         e.Reason,
					"reportingComponent":             e.ReportingController,
					"source":                         source,
					"type":                           e.Type,
				}
			},
		}
	case appsv1.SchemeGroupVersion.WithKind("ReplicaSet"):
		return fieldSet{names: set("status.replicas"), extract: func(o runtime.Object) fields.Set {
			return fields.Set{"status.replicas": strconv.Itoa(int(o.(*appsv1.ReplicaSet).Status.Replicas))}
		}}
	case batchv1.SchemeGroupVersion.WithKind("Job"):
		return fieldSet{names: set("status.successful"), extract: func(o runtime.Object) fields.Set {
			return fields.Set{"status.successful": strconv.Itoa(int(o.(*batchv1.Job).Status.Succeeded))}
		}}
	}
	return fieldSet{names: map[string]bool{}}
}

// eventsV1FieldLabels maps events.k8s.io/v1 field labels onto the stored
// core/v1 ones, as Kubernetes's field label conversion does.
var eventsV1FieldLabels = map[string]string{
	"regarding.kind":            "involvedObject.kind",
	"regarding.namespace":       "involvedObject.namespace",
	"regarding.name":            "involvedObject.name",
	"regarding.uid":             "involvedObject.uid",
	"regarding.apiVersion":      "involvedObject.apiVersion",
	"regarding.resourceVersion": "involvedObject.resourceVersion",
	"regarding.fieldPath":       "involvedObject.fieldPath",
	"reportingController":       "reportingComponent",
	"deprecatedSource":          "source",
}

// parseFieldSelector parses and checks a field selector for res; an
// unsupported field is a 400, as in Kubernetes.
func (res *resource) parseFieldSelector(s string) (fields.Selector, error) {
	if s == "" {
		return fields.Everything(), nil
	}
	sel, err := fields.ParseSelector(s)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector %q: %v", s, err))
	}
	if res.converted() {
		sel, err = sel.Transform(func(f, v string) (string, string, error) {
			if to, ok := eventsV1FieldLabels[f]; ok {
				return to, v, nil
			}
			return f, v, nil
		})
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
	}
	for _, r := range sel.Requirements() {
		switch {
		case r.Field == "metadata.name":
		case r.Field == "metadata.namespace":
		case res.fields.names[r.Field]:
		default:
			return nil, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", r.Field))
		}
	}
	return sel, nil
}
