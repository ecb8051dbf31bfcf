package openapi

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/munnerz/goautoneg"
)

// Media subtypes of the protobuf forms. Clients send the "@" spelling
// (client-go's ContentTypeOpenAPIV3PB); upstream also accepts the dotted
// one and always answers with it.
const (
	v2ProtoDeprecated = "com.github.proto-openapi.spec.v2@v1.0+protobuf"
	v2Proto           = "com.github.proto-openapi.spec.v2.v1.0+protobuf"
	v3ProtoDeprecated = "com.github.proto-openapi.spec.v3@v1.0+protobuf"
	v3Proto           = "com.github.proto-openapi.spec.v3.v1.0+protobuf"
)

// immutableFor is how long a v3 document fetched by its hash may be
// cached: the hash names its content, so for as long as a client likes.
const immutableFor = 365 * 24 * time.Hour

// ServeHTTP serves GET (and HEAD) /openapi/v2, /openapi/v3 and
// /openapi/v3/<group-version>, the way kube-openapi's handler and handler3
// packages do for the upstream API server: ETag validation through
// If-None-Match, content negotiation between JSON and protobuf, and
// immutable caching of v3 documents fetched with the current ?hash=
// (a stale hash is redirected with 301 to the current URL).
func (d *Documents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var serve func(http.ResponseWriter, *http.Request)
	switch p := r.URL.Path; {
	case p == "/openapi/v2":
		serve = d.serveV2
	case p == "/openapi/v3":
		serve = d.serveIndex
	case strings.HasPrefix(p, "/openapi/v3/"):
		doc, ok := d.v3[strings.TrimPrefix(p, "/openapi/v3/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		serve = func(w http.ResponseWriter, r *http.Request) { d.serveGroupVersion(w, r, doc) }
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	serve(w, r)
}

// offer is one representation a document can be served in.
type offer struct {
	subtype     string
	contentType string
	proto       bool
}

func v2Offers() []offer {
	return []offer{
		{"json", "application/json", false},
		{v2ProtoDeprecated, "application/" + v2Proto, true},
		{v2Proto, "application/" + v2Proto, true},
	}
}

func v3Offers() []offer {
	return []offer{
		{"json", "application/json", false},
		{v3ProtoDeprecated, "application/" + v3Proto, true},
		{v3Proto, "application/" + v3Proto, true},
	}
}

// negotiate picks the first offer the Accept header allows, in the
// header's order of preference; no header means anything.
func negotiate(r *http.Request, offers []offer) (offer, bool) {
	accept := r.Header.Get("Accept")
	if accept == "" {
		accept = "*/*"
	}
	for _, clause := range goautoneg.ParseAccept(accept) {
		if clause.Q <= 0 {
			continue
		}
		for _, o := range offers {
			if (clause.Type == "application" || clause.Type == "*") && (clause.SubType == o.subtype || clause.SubType == "*") {
				return o, true
			}
		}
	}
	return offer{}, false
}

func (d *Documents) serveV2(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Accept")
	o, ok := negotiate(r, v2Offers())
	if !ok {
		w.WriteHeader(http.StatusNotAcceptable)
		return
	}
	d.write(w, r, &d.v2, o)
}

func (d *Documents) serveIndex(w http.ResponseWriter, r *http.Request) {
	d.write(w, r, &d.index, offer{contentType: "application/json"})
}

func (d *Documents) serveGroupVersion(w http.ResponseWriter, r *http.Request, doc *encoded) {
	w.Header().Add("Vary", "Accept")
	o, ok := negotiate(r, v3Offers())
	if !ok {
		w.WriteHeader(http.StatusNotAcceptable)
		return
	}
	if hash := r.URL.Query().Get("hash"); hash != "" {
		if hash != doc.etag {
			// An old index entry: send the client to the document it
			// describes now, as upstream does.
			current := url.URL{Path: r.URL.Path, RawQuery: url.Values{"hash": {doc.etag}}.Encode()}
			http.Redirect(w, r, current.String(), http.StatusMovedPermanently)
			return
		}
		w.Header().Set("Cache-Control", "public, immutable, max-age="+strconv.Itoa(int(immutableFor.Seconds())))
		w.Header().Set("Expires", time.Now().Add(immutableFor).UTC().Format(http.TimeFormat))
	}
	d.write(w, r, doc, o)
}

// write sends one form of a document; http.ServeContent answers
// If-None-Match against the ETag with 304 and handles HEAD and ranges.
func (d *Documents) write(w http.ResponseWriter, r *http.Request, doc *encoded, o offer) {
	body := doc.json
	if o.proto {
		body = doc.proto
	}
	w.Header().Set("Content-Type", o.contentType)
	w.Header().Set("Etag", strconv.Quote(doc.etag))
	http.ServeContent(w, r, "", d.built, bytes.NewReader(body))
}
