package validation

import (
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Length limits of events.k8s.io fields.
const (
	reportingInstanceLengthLimit = 128
	actionLengthLimit            = 128
	reasonLengthLimit            = 128
	noteLengthLimit              = 1024
)

// ValidateEvent checks a new core/v1 Event. For compatibility with old
// clients Kubernetes applies only the legacy rules here: the namespace of
// the event and of its involved object agree, and an event with an
// eventTime names its reporter, action and reason.
func ValidateEvent(obj *corev1.Event) field.ErrorList {
	allErrs := legacyEvent(obj)
	if len(allErrs) == 0 {
		allErrs = apivalidation.ValidateObjectMeta(&obj.ObjectMeta, true, NameIsPathSegment, field.NewPath("metadata"))
	}
	return allErrs
}

// ValidateEventUpdate checks a change to a core/v1 Event.
func ValidateEventUpdate(obj, old *corev1.Event) field.ErrorList {
	allErrs := apivalidation.ValidateObjectMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, legacyEvent(obj)...)
}

// ValidateEventsV1Event checks a new events.k8s.io/v1 Event, which gets the
// strict rules on top of the legacy ones. As in Kubernetes the checks run on
// the stored core/v1 form, so causes name its fields (involvedObject for
// regarding, message for note).
func ValidateEventsV1Event(obj *eventsv1.Event) field.ErrorList {
	ev := coreEvent(obj)
	allErrs := legacyEvent(ev)
	allErrs = append(allErrs, objectMeta(&ev.ObjectMeta, true, NameIsDNSSubdomain, field.NewPath("metadata"))...)
	allErrs = append(allErrs, eventSeries(ev)...)
	if ev.EventTime.IsZero() {
		allErrs = append(allErrs, field.Required(field.NewPath("eventTime"), ""))
	}
	if ev.Type != corev1.EventTypeNormal && ev.Type != corev1.EventTypeWarning {
		allErrs = append(allErrs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", ev.Type)))
	}
	if !ev.FirstTimestamp.IsZero() {
		allErrs = append(allErrs, field.Invalid(field.NewPath("firstTimestamp"), "", "needs to be unset"))
	}
	if !ev.LastTimestamp.IsZero() {
		allErrs = append(allErrs, field.Invalid(field.NewPath("lastTimestamp"), "", "needs to be unset"))
	}
	if ev.Count != 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("count"), "", "needs to be unset"))
	}
	if ev.Source.Component != "" || ev.Source.Host != "" {
		allErrs = append(allErrs, field.Invalid(field.NewPath("source"), "", "needs to be unset"))
	}
	return allErrs
}

// ValidateEventsV1EventUpdate checks a change to an events.k8s.io/v1
// Event: only its series and metadata may change.
func ValidateEventsV1EventUpdate(obj, old *eventsv1.Event) field.ErrorList {
	ev, oldEv := coreEvent(obj), coreEvent(old)
	allErrs := legacyEvent(ev)
	allErrs = append(allErrs, objectMetaUpdate(&ev.ObjectMeta, &oldEv.ObjectMeta, field.NewPath("metadata"))...)
	if !reflect.DeepEqual(ev.Series, oldEv.Series) {
		allErrs = append(allErrs, eventSeries(ev)...)
	}
	for _, f := range []struct {
		v, old any
		name   string
	}{
		{ev.InvolvedObject, oldEv.InvolvedObject, "involvedObject"},
		{ev.Reason, oldEv.Reason, "reason"},
		{ev.Message, oldEv.Message, "message"},
		{ev.Source, oldEv.Source, "source"},
		{ev.FirstTimestamp, oldEv.FirstTimestamp, "firstTimestamp"},
		{ev.LastTimestamp, oldEv.LastTimestamp, "lastTimestamp"},
		{ev.Count, oldEv.Count, "count"},
		{ev.Type, oldEv.Type, "type"},
		{ev.EventTime, oldEv.EventTime, "eventTime"},
		{ev.Action, oldEv.Action, "action"},
		{ev.Related, oldEv.Related, "related"},
		{ev.ReportingController, oldEv.ReportingController, "reportingController"},
		{ev.ReportingInstance, oldEv.ReportingInstance, "reportingInstance"},
	} {
		allErrs = append(allErrs, immutable(f.v, f.old, field.NewPath(f.name))...)
	}
	return allErrs
}

func eventSeries(ev *corev1.Event) field.ErrorList {
	if ev.Series == nil {
		return nil
	}
	var allErrs field.ErrorList
	if ev.Series.Count < 2 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("series.count"), "", "should be at least 2"))
	}
	if ev.Series.LastObservedTime.IsZero() {
		allErrs = append(allErrs, field.Required(field.NewPath("series.lastObservedTime"), ""))
	}
	return allErrs
}

func legacyEvent(ev *corev1.Event) field.ErrorList {
	var allErrs field.ErrorList
	nsPath := field.NewPath("involvedObject", "namespace")
	if ev.EventTime.IsZero() {
		// An event about a cluster-scoped object lives in "default" (or
		// nowhere, for very old clients).
		if ev.InvolvedObject.Namespace == "" {
			if ev.Namespace != metav1.NamespaceNone && ev.Namespace != metav1.NamespaceDefault {
				allErrs = append(allErrs, field.Invalid(nsPath, ev.InvolvedObject.Namespace, "does not match event.namespace"))
			}
		} else if ev.Namespace != ev.InvolvedObject.Namespace {
			allErrs = append(allErrs, field.Invalid(nsPath, ev.InvolvedObject.Namespace, "does not match event.namespace"))
		}
	} else {
		if ev.InvolvedObject.Namespace == "" && ev.Namespace != metav1.NamespaceDefault && ev.Namespace != metav1.NamespaceSystem {
			allErrs = append(allErrs, field.Invalid(nsPath, ev.InvolvedObject.Namespace, "does not match event.namespace"))
		}
		if ev.ReportingController == "" {
			allErrs = append(allErrs, field.Required(field.NewPath("reportingController"), ""))
		}
		for _, msg := range validation.IsQualifiedName(ev.ReportingController) {
			allErrs = append(allErrs, field.Invalid(field.NewPath("reportingController"), ev.ReportingController, msg))
		}
		allErrs = append(allErrs, requiredWithLimit(ev.ReportingInstance, reportingInstanceLengthLimit, field.NewPath("reportingInstance"))...)
		allErrs = append(allErrs, requiredWithLimit(ev.Action, actionLengthLimit, field.NewPath("action"))...)
		allErrs = append(allErrs, requiredWithLimit(ev.Reason, reasonLengthLimit, field.NewPath("reason"))...)
		if len(ev.Message) > noteLengthLimit {
			allErrs = append(allErrs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %v characters", noteLengthLimit)))
		}
	}
	for _, msg := range validation.IsDNS1123Subdomain(ev.Namespace) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("namespace"), ev.Namespace, msg))
	}
	return allErrs
}

func requiredWithLimit(v string, limit int, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if v == "" {
		allErrs = append(allErrs, field.Required(fldPath, ""))
	}
	if len(v) > limit {
		allErrs = append(allErrs, field.Invalid(fldPath, "", fmt.Sprintf("can have at most %v characters", limit)))
	}
	return allErrs
}

// coreEvent is the core/v1 form Kubernetes stores and validates an
// events.k8s.io/v1 Event as.
func coreEvent(in *eventsv1.Event) *corev1.Event {
	out := &corev1.Event{
		ObjectMeta:          in.ObjectMeta,
		InvolvedObject:      in.Regarding,
		Reason:              in.Reason,
		Message:             in.Note,
		Source:              in.DeprecatedSource,
		FirstTimestamp:      in.DeprecatedFirstTimestamp,
		LastTimestamp:       in.DeprecatedLastTimestamp,
		Count:               in.DeprecatedCount,
		Type:                in.Type,
		EventTime:           in.EventTime,
		Related:             in.Related,
		ReportingController: in.ReportingController,
		ReportingInstance:   in.ReportingInstance,
		Action:              in.Action,
	}
	if in.Series != nil {
		out.Series = &corev1.EventSeries{Count: in.Series.Count, LastObservedTime: in.Series.LastObservedTime}
	}
	return out
}
