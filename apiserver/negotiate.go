package apiserver

import (
	"mime"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Media types the server reads and writes.
const (
	mediaJSON     = "application/json"
	mediaYAML     = "application/yaml"
	mediaProtobuf = "application/vnd.kubernetes.protobuf"
)

// Response shapes besides the object itself, chosen with Accept's "as"
// parameter (g=meta.k8s.io).
const (
	asObject   = ""
	asTable    = "Table"
	asMetadata = "PartialObjectMetadata"
)

// outputFormat is the negotiated response encoding.
type outputFormat struct {
	mediaType string // mediaJSON, mediaYAML or mediaProtobuf
	as        string
	// asVersion is the meta.k8s.io version of a Table or metadata reply.
	asVersion string
}

// contentType is the Content-Type header of a response in this format.
func (f outputFormat) contentType() string {
	if f.as == asObject {
		return f.mediaType
	}
	return f.mediaType + ";as=" + f.as + ";v=" + f.asVersion + ";g=meta.k8s.io"
}

// negotiate picks the response format from the Accept header: the first
// acceptable entry wins (clients list their preference first). Protobuf is
// served for plain objects and lists (client-go's typed clients prefer it,
// and it is several times cheaper for them to decode); tables and metadata
// are JSON or YAML. JSON answers */*.
func negotiate(r *http.Request, list bool) (outputFormat, error) {
	return negotiateFormats(r, list, true)
}

// negotiateJSON is negotiate without protobuf, for replies Skiff writes
// only as JSON (watch streams).
func negotiateJSON(r *http.Request, list bool) (outputFormat, error) {
	return negotiateFormats(r, list, false)
}

func negotiateFormats(r *http.Request, list, protobuf bool) (outputFormat, error) {
	accept := r.Header.Get("Accept")
	if strings.TrimSpace(accept) == "" {
		return outputFormat{mediaType: mediaJSON}, nil
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		var media string
		switch mt {
		case mediaJSON, "*/*", "application/*", "application/json;stream=watch":
			media = mediaJSON
		case mediaYAML:
			media = mediaYAML
		case mediaProtobuf:
			if !protobuf || params["as"] != "" {
				continue
			}
			return outputFormat{mediaType: mediaProtobuf}, nil
		default:
			continue
		}
		as := params["as"]
		if as == "" {
			return outputFormat{mediaType: media}, nil
		}
		if params["g"] != metav1.GroupName {
			continue
		}
		v := params["v"]
		if v != "v1" && v != "v1beta1" {
			continue
		}
		switch as {
		case "Table":
			return outputFormat{mediaType: media, as: asTable, asVersion: v}, nil
		case "PartialObjectMetadata":
			if !list {
				return outputFormat{mediaType: media, as: asMetadata, asVersion: v}, nil
			}
		case "PartialObjectMetadataList":
			if list {
				return outputFormat{mediaType: media, as: asMetadata, asVersion: v}, nil
			}
		}
	}
	return outputFormat{}, apierrors.NewGenericServerResponse(http.StatusNotAcceptable, r.Method, schema.GroupResource{}, "",
		"only the following media types are served: application/json, application/yaml (optionally as=Table or as=PartialObjectMetadata[List] in meta.k8s.io v1), and application/vnd.kubernetes.protobuf for objects and lists; asked for "+accept, 0, false)
}

// requestMediaType returns the media type of a request body.
func requestMediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return mediaJSON
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ct
	}
	return mt
}
