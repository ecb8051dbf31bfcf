package apiserver

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// readBody reads a request body, refusing one over the limit with 413
// before decoding anything (kube-apiserver's 3 MiB limit).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	limit := s.cfg.MaxRequestBytes
	tooLarge := apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d bytes", limit))
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	var body []byte
	var err error
	if n := r.ContentLength; n > 0 {
		// The usual case (client-go and kubectl send Content-Length): one
		// buffer of the body's size, where io.ReadAll would grow one
		// from 512 bytes, leaving each smaller one behind as garbage. A
		// body longer than declared is an error for net/http already.
		body = make([]byte, n)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("read request body: %v", err))
	}
	return body, nil
}

// fieldValidation is how unknown and duplicate fields in a body are treated.
type fieldValidation string

const (
	validationIgnore fieldValidation = "Ignore"
	validationWarn   fieldValidation = "Warn"
	validationStrict fieldValidation = "Strict"
)

func parseFieldValidation(r *http.Request) (fieldValidation, error) {
	switch v := r.URL.Query().Get("fieldValidation"); v {
	case "":
		// Kubernetes's default since 1.27.
		return validationWarn, nil
	case "Ignore", "Warn", "Strict":
		return fieldValidation(v), nil
	default:
		return "", apierrors.NewBadRequest(fmt.Sprintf("fieldValidation must be one of Ignore, Warn or Strict, not %q", v))
	}
}

// decodeObject decodes a request body of the given media type into an
// object of kind want. Unknown and duplicate fields are refused, reported as
// warnings, or dropped according to fieldValidation.
func (s *Server) decodeObject(body []byte, mediaType string, want schema.GroupVersionKind, fv fieldValidation) (runtime.Object, []string, error) {
	info, ok := runtime.SerializerInfoForMediaType(s.codecs.SupportedMediaTypes(), mediaType)
	if !ok {
		return nil, nil, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "",
			fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf; got %q", mediaType), 0, false)
	}
	if mediaType == mediaProtobuf && !hasProtobuf(s.registry.Scheme(), want) {
		return nil, nil, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "",
			fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (%s has no protobuf encoding)", want.Kind), 0, false)
	}
	dec := info.Serializer
	if info.StrictSerializer != nil && fv != validationIgnore {
		dec = info.StrictSerializer
	}
	obj, actual, err := dec.Decode(body, &want, nil)
	var warnings []string
	if err != nil && runtime.IsStrictDecodingError(err) && obj != nil {
		if sde, ok := runtime.AsStrictDecodingError(err); ok {
			for _, e := range sde.Errors() {
				warnings = append(warnings, e.Error())
			}
		}
		if fv == validationStrict {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: strict decoding error: %s",
				want.Kind, want.Version, want.Kind, strings.Join(warnings, ", ")))
		}
		err = nil
	}
	if err != nil {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", want.Kind, want.GroupVersion().String(), want.Kind, err))
	}
	if actual != nil && (actual.Group != want.Group || actual.Version != want.Version) {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", actual.GroupVersion(), want.GroupVersion()))
	}
	if actual != nil && actual.Kind != want.Kind {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s)", actual.Kind, want.Kind))
	}
	obj.GetObjectKind().SetGroupVersionKind(want)
	if fv == validationIgnore {
		warnings = nil
	}
	return obj, warnings, nil
}

// decodeOptions decodes an options body (DeleteOptions): protobuf, as
// client-go sends for built-in types, or JSON/YAML. Its apiVersion is not
// checked: clients send the resource's group version, "meta.k8s.io/v1" or
// nothing.
func (s *Server) decodeOptions(body []byte, mediaType string, into runtime.Object) error {
	if mediaType == mediaProtobuf {
		info, _ := runtime.SerializerInfoForMediaType(s.codecs.SupportedMediaTypes(), mediaProtobuf)
		if _, _, err := info.Serializer.Decode(body, nil, into); err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid options: %v", err))
		}
		return nil
	}
	if err := yaml.Unmarshal(body, into); err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("invalid options: %v", err))
	}
	return nil
}

// parseDryRun reads dryRun from the query: empty, or exactly "All".
func parseDryRun(values []string) (bool, error) {
	for _, v := range values {
		if v != "All" {
			return false, apierrors.NewBadRequest(fmt.Sprintf("dryRun may only be \"All\", not %q", v))
		}
	}
	return len(values) > 0, nil
}

// checkFieldManager validates the fieldManager parameter as Kubernetes does.
func checkFieldManager(r *http.Request) error {
	fm := r.URL.Query().Get("fieldManager")
	if len(fm) > 128 {
		return apierrors.NewBadRequest(fmt.Sprintf("fieldManager: Too long: may not be longer than 128 characters (got %d)", len(fm)))
	}
	for _, c := range fm {
		if c < 0x20 || c > 0x7e {
			return apierrors.NewBadRequest("fieldManager: Invalid value: may only contain printable ASCII characters")
		}
	}
	return nil
}
