package openapi

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"unicode/utf8"

	"k8s.io/kube-openapi/pkg/validation/spec"
)

// A small JSON writer for the two shapes the documents are made of:
// schemas (the subset of spec.Schema the generator fills in) and routes.
// kube-openapi's own marshallers are general and reflective, and were the
// larger part of start-up; these write the same JSON (keys sorted, as
// kube-openapi does) directly. Tests compare the two on every definition.

type jsonObject struct {
	buf *bytes.Buffer
	n   int
}

func beginObject(buf *bytes.Buffer) *jsonObject {
	buf.WriteByte('{')
	return &jsonObject{buf: buf}
}

// key starts a member; keys must come in sorted order.
func (o *jsonObject) key(k string) *bytes.Buffer {
	if o.n > 0 {
		o.buf.WriteByte(',')
	}
	o.n++
	writeString(o.buf, k)
	o.buf.WriteByte(':')
	return o.buf
}

func (o *jsonObject) str(k, v string) {
	writeString(o.key(k), v)
}

func (o *jsonObject) raw(k string, v []byte) {
	o.key(k).Write(v)
}

func (o *jsonObject) end() {
	o.buf.WriteByte('}')
}

const hexDigits = "0123456789abcdef"

// writeString writes s as a JSON string. Like kube-openapi's marshaller
// (and unlike encoding/json) it leaves <, > and & alone.
func writeString(buf *bytes.Buffer, s string) {
	buf.WriteByte('"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			buf.WriteString(s[start:i])
			switch c {
			case '"', '\\':
				buf.WriteByte('\\')
				buf.WriteByte(c)
			case '\n':
				buf.WriteString(`\n`)
			case '\r':
				buf.WriteString(`\r`)
			case '\t':
				buf.WriteString(`\t`)
			default:
				buf.WriteString(`\u00`)
				buf.WriteByte(hexDigits[c>>4])
				buf.WriteByte(hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			buf.WriteString(s[start:i])
			buf.WriteString(`\ufffd`)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			buf.WriteString(s[start:i])
			buf.WriteString(`\u202`)
			buf.WriteByte(hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	buf.WriteString(s[start:])
	buf.WriteByte('"')
}

func writeStrings(buf *bytes.Buffer, ss []string) {
	buf.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeString(buf, s)
	}
	buf.WriteByte(']')
}

// writeSchema writes the fields of spec.Schema the generator uses, keys in
// byte order: $ref, additionalProperties, allOf, default, description, format,
// items, oneOf, properties, required, type, then the x- extensions.
func writeSchema(buf *bytes.Buffer, s *spec.Schema) error {
	o := beginObject(buf)
	if ref := s.Ref.String(); ref != "" {
		o.str("$ref", ref)
	}
	if ap := s.AdditionalProperties; ap != nil {
		if ap.Schema != nil {
			if err := writeSchema(o.key("additionalProperties"), ap.Schema); err != nil {
				return err
			}
		} else {
			o.raw("additionalProperties", []byte(strconv.FormatBool(ap.Allows)))
		}
	}
	if len(s.AllOf) > 0 {
		if err := writeSchemas(o.key("allOf"), s.AllOf); err != nil {
			return err
		}
	}
	if s.Default != nil {
		b, err := json.Marshal(s.Default)
		if err != nil {
			return err
		}
		o.raw("default", b)
	}
	if s.Description != "" {
		o.str("description", s.Description)
	}
	if s.Format != "" {
		o.str("format", s.Format)
	}
	if s.Items != nil && s.Items.Schema != nil {
		if err := writeSchema(o.key("items"), s.Items.Schema); err != nil {
			return err
		}
	}
	if len(s.OneOf) > 0 {
		if err := writeSchemas(o.key("oneOf"), s.OneOf); err != nil {
			return err
		}
	}
	if len(s.Properties) > 0 {
		names := make([]string, 0, len(s.Properties))
		for n := range s.Properties {
			names = append(names, n)
		}
		sort.Strings(names)
		props := beginObject(o.key("properties"))
		for _, n := range names {
			p := s.Properties[n]
			if err := writeSchema(props.key(n), &p); err != nil {
				return err
			}
		}
		props.end()
	}
	if len(s.Required) > 0 {
		writeStrings(o.key("required"), s.Required)
	}
	switch len(s.Type) {
	case 0:
	case 1:
		o.str("type", s.Type[0])
	default:
		writeStrings(o.key("type"), s.Type)
	}
	if err := writeExtensions(o, s.Extensions); err != nil {
		return err
	}
	o.end()
	return nil
}

func writeSchemas(buf *bytes.Buffer, ss []spec.Schema) error {
	buf.WriteByte('[')
	for i := range ss {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := writeSchema(buf, &ss[i]); err != nil {
			return err
		}
	}
	buf.WriteByte(']')
	return nil
}

// writeExtensions writes vendor extensions in key order. Their values are
// small (strings, flags, GVK lists), so encoding/json does them.
func writeExtensions(o *jsonObject, ext spec.Extensions) error {
	if len(ext) == 0 {
		return nil
	}
	keys := make([]string, 0, len(ext))
	for k := range ext {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := ext[k].(type) {
		case string:
			o.str(k, v)
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return err
			}
			o.raw(k, b)
		}
	}
	return nil
}
