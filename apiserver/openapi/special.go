package openapi

import "reflect"

// specialDocs describes the apimachinery types that have a wire form of
// their own and no SwaggerDoc method, so `kubectl explain` has something
// to show for them.
var specialDocs = map[string]string{
	"io.k8s.apimachinery.pkg.apis.meta.v1.Time": "A point in time, written as an RFC 3339 string " +
		"with second precision in UTC, for example \"2006-01-02T15:04:05Z\".",
	"io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "A point in time with microsecond precision, written " +
		"as an RFC 3339 string, for example \"2006-01-02T15:04:05.000000Z\".",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Duration": "A length of time written as a Go duration string, " +
		"for example \"30s\" or \"1h15m\".",
	"io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": "The set of fields a manager owns, in the " +
		"structured-merge-diff \"FieldsV1\" JSON form: each key names a field (\"f:name\"), a list " +
		"element (\"k:{...}\" or \"v:...\") or the element itself (\".\").",
	"io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent": "One event of a watch stream: its type (ADDED, " +
		"MODIFIED, DELETED, BOOKMARK or ERROR) and the object it concerns.",
	"io.k8s.apimachinery.pkg.runtime.RawExtension": "An embedded object kept as raw JSON; it names its " +
		"own apiVersion and kind, like any top-level object.",
	"io.k8s.apimachinery.pkg.api.resource.Quantity": "A fixed-point amount, written as a string or a " +
		"number: digits with an optional fraction and an optional suffix, either binary (Ki, Mi, Gi, Ti, " +
		"Pi, Ei), decimal SI (n, u, m, k, M, G, T, P, E) or a decimal exponent (e3, E6). " +
		"For example \"100m\" CPU or \"128Mi\" memory.",
	"io.k8s.apimachinery.pkg.util.intstr.IntOrString": "Either an integer or a string, such as a port " +
		"number (8080) or a port name (\"http\"), or a count (2) or a percentage (\"25%\").",
}

func describeSpecial(t reflect.Type) string {
	return specialDocs[definitionName(t)]
}
