package volume

import (
	"errors"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ErrUnsupported is wrapped by every error that says a pod uses a volume
// feature Skiff does not provide. Test with errors.Is; errors.As with
// *UnsupportedError gives the feature.
var ErrUnsupported = errors.New("not supported by Skiff yet")

// UnsupportedError names a volume feature Skiff does not provide. Retrying
// cannot help: the agent should refuse the pod with an event carrying the
// message.
type UnsupportedError struct {
	// Feature is what the pod asked for, as a plural noun phrase in the
	// pod spec's terms, e.g. "persistentVolumeClaim volumes" or
	// "serviceAccountToken sources of projected volumes".
	Feature string
}

func (e *UnsupportedError) Error() string {
	return e.Feature + " are not supported by Skiff yet"
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

func unsupported(feature string) error { return &UnsupportedError{Feature: feature} }

// sourceKind is the JSON name of the source a volume uses
// ("persistentVolumeClaim", "nfs", "image"…), found by reflection so that
// a type added to the API later is still named in the error.
func sourceKind(s *corev1.VolumeSource) string {
	v := reflect.ValueOf(s).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := v.Field(i)
		if f.Kind() == reflect.Pointer && !f.IsNil() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			return name
		}
	}
	return ""
}
