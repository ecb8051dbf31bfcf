package openapi

import (
	"bytes"
	"sort"
	"strconv"
)

// Spelling the routes as JSON: OpenAPI v3 path items for the per
// group-version documents, Swagger 2.0 path items for /openapi/v2. Keys
// are written in byte order within each object.

func writeGVKExtension(o *jsonObject, o2 *operation) {
	if o2.action != "" {
		o.str(extAction, o2.action)
	}
	if o2.gvk != nil {
		// A single object here, unlike the list on definitions: this is
		// what kubectl's query-parameter verifier and explain read.
		g := beginObject(o.key(extGVK))
		g.str("group", o2.gvk.Group)
		g.str("kind", o2.gvk.Kind)
		g.str("version", o2.gvk.Version)
		g.end()
	}
}

// sortRoutes orders routes by path, the order of a JSON object's keys.
func sortRoutes(routes []route) []route {
	out := append([]route(nil), routes...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// pathItem writes the operations of a route, and its parameters, in key
// order (delete, get, parameters, patch, post, put).
func pathItem(buf *bytes.Buffer, r *route, op func(*bytes.Buffer, *operation), params func(*bytes.Buffer, []param)) {
	item := beginObject(buf)
	byMethod := map[string]*operation{}
	for i := range r.ops {
		byMethod[r.ops[i].method] = &r.ops[i]
	}
	for _, m := range []string{"delete", "get", "parameters", "patch", "post", "put"} {
		if m == "parameters" {
			if len(r.params) > 0 {
				params(item.key("parameters"), r.params)
			}
			continue
		}
		if o, ok := byMethod[m]; ok {
			op(item.key(m), o)
		}
	}
	item.end()
}

func writeV3Paths(buf *bytes.Buffer, routes []route) {
	paths := beginObject(buf)
	for _, r := range sortRoutes(routes) {
		pathItem(paths.key(r.path), &r, writeV3Operation, writeV3Params)
	}
	paths.end()
}

func writeV3Params(buf *bytes.Buffer, params []param) {
	buf.WriteByte('[')
	for i, p := range params {
		if i > 0 {
			buf.WriteByte(',')
		}
		o := beginObject(buf)
		if p.description != "" {
			o.str("description", p.description)
		}
		o.str("in", p.in)
		o.str("name", p.name)
		if p.required {
			o.raw("required", []byte("true"))
		}
		s := beginObject(o.key("schema"))
		s.str("type", p.typ)
		s.end()
		o.end()
	}
	buf.WriteByte(']')
}

// writeV3Content writes a content map: each media type with the same
// schema reference.
func writeV3Content(buf *bytes.Buffer, types []string, def string) {
	sorted := append([]string(nil), types...)
	sort.Strings(sorted)
	c := beginObject(buf)
	for _, t := range sorted {
		mt := beginObject(c.key(t))
		ref := beginObject(mt.key("schema"))
		ref.str("$ref", refPrefixV3+def)
		ref.end()
		mt.end()
	}
	c.end()
}

func writeV3Operation(buf *bytes.Buffer, op *operation) {
	o := beginObject(buf)
	o.str("description", op.description)
	o.str("operationId", op.id)
	if len(op.params) > 0 {
		writeV3Params(o.key("parameters"), op.params)
	}
	switch {
	case op.patch:
		rb := beginObject(o.key("requestBody"))
		writeV3Content(rb.key("content"), patchTypes, patchDef)
		rb.raw("required", []byte("true"))
		rb.end()
	case op.body != "":
		rb := beginObject(o.key("requestBody"))
		writeV3Content(rb.key("content"), []string{"*/*"}, op.body)
		if !op.bodyOptional {
			rb.raw("required", []byte("true"))
		}
		rb.end()
	}
	replies := replyTypes
	if op.stream {
		replies = append(append([]string(nil), replyTypes...), streamTypes...)
	}
	resps := beginObject(o.key("responses"))
	for _, r := range sortResponses(op.responses) {
		resp := beginObject(resps.key(strconv.Itoa(r.code)))
		if r.def != "" {
			writeV3Content(resp.key("content"), replies, r.def)
		}
		resp.str("description", statusText(r.code))
		resp.end()
	}
	resps.end()
	writeStrings(o.key("tags"), []string{op.tag})
	writeGVKExtension(o, op)
	o.end()
}

// sortResponses orders responses by the string of their code, the order
// of a JSON object's keys.
func sortResponses(rs []response) []response {
	out := append([]response(nil), rs...)
	sort.SliceStable(out, func(i, j int) bool { return strconv.Itoa(out[i].code) < strconv.Itoa(out[j].code) })
	return out
}

func writeV2Paths(buf *bytes.Buffer, routes []route) {
	paths := beginObject(buf)
	for _, r := range sortRoutes(routes) {
		pathItem(paths.key(r.path), &r, writeV2Operation, writeV2Params)
	}
	paths.end()
}

// writeV2Params writes parameters for the v2 document. Query parameters
// are the same everywhere, so, as upstream does, they are defined once in
// the document's parameters section and referred to ("#/parameters/…"),
// which kubectl's v2 query-parameter verifier follows. That takes a
// quarter off the document.
func writeV2Params(buf *bytes.Buffer, params []param) {
	writeV2ParamsAndBody(buf, params, "", false)
}

// writeV2ParamsAndBody writes parameters followed, when body names a
// definition, by the body parameter that Swagger 2.0 uses for request
// bodies.
func writeV2ParamsAndBody(buf *bytes.Buffer, params []param, body string, bodyRequired bool) {
	buf.WriteByte('[')
	for i, p := range params {
		if i > 0 {
			buf.WriteByte(',')
		}
		if p.in == "query" {
			o := beginObject(buf)
			o.str("$ref", "#/parameters/"+p.name)
			o.end()
			continue
		}
		writeV2Param(buf, p)
	}
	if body != "" {
		if len(params) > 0 {
			buf.WriteByte(',')
		}
		b := beginObject(buf)
		b.str("in", "body")
		b.str("name", "body")
		if bodyRequired {
			b.raw("required", []byte("true"))
		}
		ref := beginObject(b.key("schema"))
		ref.str("$ref", refPrefixV2+body)
		ref.end()
		b.end()
	}
	buf.WriteByte(']')
}

func writeV2Param(buf *bytes.Buffer, p param) {
	o := beginObject(buf)
	if p.description != "" {
		o.str("description", p.description)
	}
	o.str("in", p.in)
	o.str("name", p.name)
	if p.required {
		o.raw("required", []byte("true"))
	}
	o.str("type", p.typ)
	o.end()
}

// writeV2GlobalParams writes the parameters section: every query
// parameter the routes use, by name.
func writeV2GlobalParams(buf *bytes.Buffer, routes []route) {
	used := map[string]param{}
	for _, r := range routes {
		for _, p := range r.params {
			used[p.name] = p
		}
		for _, o := range r.ops {
			for _, p := range o.params {
				used[p.name] = p
			}
		}
	}
	names := make([]string, 0, len(used))
	for name, p := range used {
		if p.in == "query" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	o := beginObject(buf)
	for _, name := range names {
		writeV2Param(o.key(name), used[name])
	}
	o.end()
}

func writeV2Operation(buf *bytes.Buffer, op *operation) {
	o := beginObject(buf)
	consumes := []string{"*/*"}
	if op.patch {
		consumes = patchTypes
	}
	writeStrings(o.key("consumes"), consumes)
	o.str("description", op.description)
	o.str("operationId", op.id)

	bodyDef, bodyRequired := op.body, !op.bodyOptional
	if op.patch {
		bodyDef, bodyRequired = patchDef, true
	}
	if len(op.params) > 0 || bodyDef != "" {
		writeV2ParamsAndBody(o.key("parameters"), op.params, bodyDef, bodyRequired)
	}
	produces := replyTypes
	if op.stream {
		produces = append(append([]string(nil), replyTypes...), streamTypes...)
	}
	writeStrings(o.key("produces"), produces)
	resps := beginObject(o.key("responses"))
	for _, r := range sortResponses(op.responses) {
		resp := beginObject(resps.key(strconv.Itoa(r.code)))
		resp.str("description", statusText(r.code))
		if r.def != "" {
			ref := beginObject(resp.key("schema"))
			ref.str("$ref", refPrefixV2+r.def)
			ref.end()
		}
		resp.end()
	}
	resps.end()
	writeStrings(o.key("schemes"), []string{"https"})
	writeStrings(o.key("tags"), []string{op.tag})
	writeGVKExtension(o, op)
	o.end()
}

func statusText(code int) string {
	switch code {
	case 200:
		return "OK"
	case 201:
		return "Created"
	case 202:
		return "Accepted"
	case 401:
		return "Unauthorized"
	}
	return ""
}
