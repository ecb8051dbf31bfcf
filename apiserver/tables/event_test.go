package tables

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
)

func TestCoreEventCells(t *testing.T) {
	backOff := &corev1.Event{
		ObjectMeta:     objectMeta("api-5f9c6d7b8-abcde.17f1c2a3b4c5d6e7", 20*time.Minute),
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "api-5f9c6d7b8-abcde", Namespace: "default", FieldPath: "spec.containers{api}"},
		Reason:         "BackOff",
		Message:        "Back-off restarting failed container api in pod api-5f9c6d7b8-abcde_default(1234)\n",
		Source:         corev1.EventSource{Component: "kubelet", Host: "skiff-node-1"},
		FirstTimestamp: ago(20 * time.Minute),
		LastTimestamp:  ago(30 * time.Second),
		Count:          42,
		Type:           corev1.EventTypeWarning,
	}
	scheduled := &corev1.Event{
		ObjectMeta:          objectMeta("web-7d4b9c8f5-x2x9k.17f1c2a3b4c5d6e8", 5*time.Minute),
		InvolvedObject:      corev1.ObjectReference{Kind: "Pod", Name: "web-7d4b9c8f5-x2x9k", Namespace: "default"},
		Reason:              "Scheduled",
		Message:             "Successfully assigned default/web-7d4b9c8f5-x2x9k to skiff-node-1",
		EventTime:           microAgo(5 * time.Minute),
		ReportingController: "default-scheduler",
		ReportingInstance:   "default-scheduler-skiff-server",
		Action:              "Binding",
		Type:                corev1.EventTypeNormal,
	}
	series := &corev1.Event{
		ObjectMeta:          objectMeta("web.17f1c2a3b4c5d6e9", 3*time.Hour),
		InvolvedObject:      corev1.ObjectReference{Kind: "Service", Name: "web", Namespace: "default"},
		Reason:              "EnsuringLoadBalancer",
		Message:             "Ensuring load balancer",
		EventTime:           microAgo(3 * time.Hour),
		Series:              &corev1.EventSeries{Count: 7, LastObservedTime: microAgo(90 * time.Second)},
		ReportingController: "service-controller",
		Type:                corev1.EventTypeNormal,
	}
	// A node event: the object has no name of its own, and the source
	// carries the component only.
	noName := &corev1.Event{
		ObjectMeta:     objectMeta("node.17f1c2a3b4c5d6f0", time.Hour),
		InvolvedObject: corev1.ObjectReference{Kind: "Node"},
		Reason:         "RegisteredNode",
		Message:        "  registered  ",
		Source:         corev1.EventSource{Component: "node-controller"},
		FirstTimestamp: ago(time.Hour),
		Type:           corev1.EventTypeNormal,
	}
	noTimes := &corev1.Event{ObjectMeta: objectMeta("bare", time.Hour), Reason: "Bare"}

	checkCells(t, corev1.SchemeGroupVersion.WithKind("Event"), []cellCase{
		{"repeated warning", backOff, []interface{}{"30s", "Warning", "BackOff", "pod/api-5f9c6d7b8-abcde", "spec.containers{api}", "kubelet, skiff-node-1",
			"Back-off restarting failed container api in pod api-5f9c6d7b8-abcde_default(1234)", "20m", int64(42), "api-5f9c6d7b8-abcde.17f1c2a3b4c5d6e7"}},
		{"new API fields only", scheduled, []interface{}{"5m", "Normal", "Scheduled", "pod/web-7d4b9c8f5-x2x9k", "", "default-scheduler, default-scheduler-skiff-server",
			"Successfully assigned default/web-7d4b9c8f5-x2x9k to skiff-node-1", "5m", int64(1), "web-7d4b9c8f5-x2x9k.17f1c2a3b4c5d6e8"}},
		{"series", series, []interface{}{"90s", "Normal", "EnsuringLoadBalancer", "service/web", "", "service-controller",
			"Ensuring load balancer", "3h", int64(7), "web.17f1c2a3b4c5d6e9"}},
		{"object without name", noName, []interface{}{"60m", "Normal", "RegisteredNode", "node", "", "node-controller",
			"registered", "60m", int64(1), "node.17f1c2a3b4c5d6f0"}},
		{"no timestamps", noTimes, []interface{}{"<unknown>", "", "Bare", "", "", "", "", "<unknown>", int64(1), "bare"}},
	})
}

// TestEventsV1EventCells checks that an events.k8s.io/v1 Event prints as
// the core/v1 Event it is stored as.
func TestEventsV1EventCells(t *testing.T) {
	ev := &eventsv1.Event{
		ObjectMeta:          objectMeta("api.17f1c2a3b4c5d6f1", 2*time.Hour),
		EventTime:           microAgo(2 * time.Hour),
		Series:              &eventsv1.EventSeries{Count: 12, LastObservedTime: microAgo(4 * time.Minute)},
		ReportingController: "skiff.dev/deployment-controller",
		ReportingInstance:   "skiff-server",
		Action:              "Scaling",
		Reason:              "ScalingReplicaSet",
		Regarding:           corev1.ObjectReference{Kind: "Deployment", Name: "api", Namespace: "default", APIVersion: "apps/v1"},
		Note:                "Scaled up replica set api-5f9c6d7b8 to 3",
		Type:                corev1.EventTypeNormal,
	}
	legacy := &eventsv1.Event{
		ObjectMeta:               objectMeta("old.17f1c2a3b4c5d6f2", 2*time.Hour),
		Reason:                   "Pulled",
		Regarding:                corev1.ObjectReference{Kind: "Pod", Name: "old", FieldPath: "spec.containers{app}"},
		Note:                     "Container image already present on machine",
		Type:                     corev1.EventTypeNormal,
		DeprecatedSource:         corev1.EventSource{Component: "kubelet", Host: "skiff-node-1"},
		DeprecatedFirstTimestamp: ago(2 * time.Hour),
		DeprecatedLastTimestamp:  ago(10 * time.Minute),
		DeprecatedCount:          3,
	}
	checkCells(t, eventsv1.SchemeGroupVersion.WithKind("Event"), []cellCase{
		{"series", ev, []interface{}{"4m", "Normal", "ScalingReplicaSet", "deployment/api", "", "skiff.dev/deployment-controller, skiff-server",
			"Scaled up replica set api-5f9c6d7b8 to 3", "120m", int64(12), "api.17f1c2a3b4c5d6f1"}},
		{"deprecated fields", legacy, []interface{}{"10m", "Normal", "Pulled", "pod/old", "spec.containers{app}", "kubelet, skiff-node-1",
			"Container image already present on machine", "120m", int64(3), "old.17f1c2a3b4c5d6f2"}},
	})
	if got, want := For(eventsv1.SchemeGroupVersion.WithKind("Event")).Columns, For(corev1.SchemeGroupVersion.WithKind("Event")).Columns; !reflect.DeepEqual(got, want) {
		t.Fatalf("events.k8s.io/v1 columns differ from core/v1's:\n%#v\n%#v", got, want)
	}
}
