package apiserver

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/skiff-dev/skiff/apiserver/storage"
)

// writeError answers with the Status for err.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error, gr schema.GroupResource, name string) {
	se := toStatusError(err, gr, name)
	st := se.ErrStatus
	st.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	if st.Code == http.StatusInternalServerError {
		s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if st.Details != nil && st.Details.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(st.Details.RetryAfterSeconds)))
	}
	b, _ := json.Marshal(st)
	f, nerr := negotiateJSON(r, false)
	if nerr != nil || f.as != asObject {
		f = outputFormat{mediaType: mediaJSON}
	}
	writeBytes(w, int(st.Code), f.mediaType, b)
}

// writeBytes writes a JSON document, converted to YAML when asked.
func writeBytes(w http.ResponseWriter, code int, mediaType string, jsonBody []byte) {
	body := jsonBody
	if mediaType == mediaYAML {
		if y, err := yaml.JSONToYAML(jsonBody); err == nil {
			body = y
		} else {
			mediaType = mediaJSON
		}
	}
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func addWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", "299 - "+strconv.Quote(msg))
	}
}

// writeEntry answers with one stored object in the negotiated format.
func (s *Server) writeEntry(w http.ResponseWriter, r *http.Request, res *resource, code int, e *storage.Entry, f outputFormat) {
	f = res.format(f)
	switch f.as {
	case asTable:
		t, err := s.table(r, res, []*storage.Entry{e}, metav1.ListMeta{ResourceVersion: revString(e.Rev)}, f)
		if err != nil {
			s.writeError(w, r, err, res.gr(), "")
			return
		}
		writeJSONValue(w, code, f.mediaType, t)
	case asMetadata:
		obj, err := res.external(e)
		if err != nil {
			s.writeError(w, r, err, res.gr(), "")
			return
		}
		pm, err := partialMetadata(obj, f.asVersion)
		if err != nil {
			s.writeError(w, r, err, res.gr(), "")
			return
		}
		writeJSONValue(w, code, f.mediaType, pm)
	default:
		if f.mediaType == mediaProtobuf {
			b, err := res.objectProtoEnvelope(e)
			if err != nil {
				s.writeError(w, r, err, res.gr(), "")
				return
			}
			writeRaw(w, code, mediaProtobuf, b)
			return
		}
		b, err := res.objectJSON(e)
		if err != nil {
			s.writeError(w, r, err, res.gr(), "")
			return
		}
		writeBytes(w, code, f.mediaType, b)
	}
}

// writeRaw writes a body as it is.
func writeRaw(w http.ResponseWriter, code int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// protoMagic starts every Kubernetes protobuf document.
var protoMagic = []byte{0x6b, 0x38, 0x73, 0x00}

// sizedMarshaler is the protobuf encoding the generated Kubernetes types
// have: their size, and a marshal into a buffer of that size.
type sizedMarshaler interface {
	Size() int
	MarshalToSizedBuffer([]byte) (int, error)
}

// rawMessage is an already encoded message, for protoEnvelopeOf.
type rawMessage []byte

func (m rawMessage) Size() int { return len(m) }

func (m rawMessage) MarshalToSizedBuffer(b []byte) (int, error) { return copy(b, m), nil }

// protoEnvelopeOf is a whole protobuf document, as Kubernetes's protobuf
// serializer writes it: the magic, then the runtime.Unknown envelope that
// names the kind, holding the message m. It is encoded in one buffer, m
// marshalled in place, instead of marshalling m, then the envelope around
// a copy of it, then copying both behind the magic.
func protoEnvelopeOf(gvk schema.GroupVersionKind, m sizedMarshaler) ([]byte, error) {
	// runtime.Unknown's fields in order: 1 TypeMeta, 2 Raw (the message),
	// 3 ContentEncoding and 4 ContentType (both empty, written anyway, as
	// its generated code does).
	tm := runtime.TypeMeta{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind}
	tmSize, msgSize := tm.Size(), m.Size()
	out := make([]byte, len(protoMagic)+1+varintLen(tmSize)+tmSize+1+varintLen(msgSize)+msgSize+4)
	i := copy(out, protoMagic)
	i, err := putMessageField(out, i, 1, &tm, tmSize)
	if err != nil {
		return nil, err
	}
	if i, err = putMessageField(out, i, 2, m, msgSize); err != nil {
		return nil, err
	}
	copy(out[i:], []byte{3<<3 | 2, 0, 4<<3 | 2, 0})
	return out, nil
}

// putMessageField writes field number field holding m (of size bytes) at
// out[i:] and returns where it ends.
func putMessageField(out []byte, i int, field byte, m sizedMarshaler, size int) (int, error) {
	out[i] = field<<3 | 2
	i++
	i += binary.PutUvarint(out[i:], uint64(size))
	if _, err := m.MarshalToSizedBuffer(out[i : i+size]); err != nil {
		return 0, err
	}
	return i + size, nil
}

// protoList encodes a list message: its ListMeta (field 1) and its items
// (field 2, repeated), the layout of every Kubernetes list type.
func protoList(lm *metav1.ListMeta, items [][]byte) []byte {
	meta, _ := lm.Marshal()
	size := 1 + varintLen(len(meta)) + len(meta)
	for _, it := range items {
		size += 1 + varintLen(len(it)) + len(it)
	}
	out := make([]byte, 0, size)
	out = append(out, 1<<3|2)
	out = binary.AppendUvarint(out, uint64(len(meta)))
	out = append(out, meta...)
	for _, it := range items {
		out = append(out, 2<<3|2)
		out = binary.AppendUvarint(out, uint64(len(it)))
		out = append(out, it...)
	}
	return out
}

func varintLen(n int) int {
	l := 1
	for n >= 0x80 {
		n >>= 7
		l++
	}
	return l
}

// writeObject answers with an object that is not a stored entry (a Scale, a
// Status, a dry-run result).
func (s *Server) writeObject(w http.ResponseWriter, r *http.Request, code int, obj runtime.Object) {
	f, err := negotiate(r, false)
	if err != nil || f.as != asObject {
		f = outputFormat{mediaType: mediaJSON}
	}
	if f.mediaType == mediaProtobuf {
		if m, ok := obj.(sizedMarshaler); ok {
			if b, err := protoEnvelopeOf(obj.GetObjectKind().GroupVersionKind(), m); err == nil {
				writeRaw(w, code, mediaProtobuf, b)
				return
			}
		}
		f.mediaType = mediaJSON
	}
	writeJSONValue(w, code, f.mediaType, obj)
}

func writeJSONValue(w http.ResponseWriter, code int, mediaType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(apierrors.NewInternalError(err).ErrStatus)
		code = http.StatusInternalServerError
	}
	writeBytes(w, code, mediaType, b)
}

func revString(rev int64) string {
	if rev == 0 {
		return ""
	}
	return strconv.FormatInt(rev, 10)
}

func partialMetadata(obj runtime.Object, version string) (*metav1.PartialObjectMetadata, error) {
	acc, ok := obj.(metav1.ObjectMetaAccessor)
	if !ok {
		return nil, fmt.Errorf("%T has no ObjectMeta", obj)
	}
	om, ok := acc.GetObjectMeta().(*metav1.ObjectMeta)
	if !ok {
		return nil, fmt.Errorf("%T has no ObjectMeta", obj)
	}
	return &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/" + version},
		ObjectMeta: *om,
	}, nil
}

// writeList answers a list: the JSON of every entry spliced into the list
// envelope and streamed, so a large list is never built in memory twice.
func (s *Server) writeList(w http.ResponseWriter, r *http.Request, res *resource, entries []*storage.Entry, lm metav1.ListMeta, f outputFormat) {
	f = res.format(f)
	switch f.as {
	case asTable:
		t, err := s.table(r, res, entries, lm, f)
		if err != nil {
			s.writeError(w, r, err, res.gr(), "")
			return
		}
		writeJSONValue(w, http.StatusOK, f.mediaType, t)
		return
	case asMetadata:
		list := &metav1.PartialObjectMetadataList{
			TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadataList", APIVersion: "meta.k8s.io/" + f.asVersion},
			ListMeta: lm,
			Items:    make([]metav1.PartialObjectMetadata, 0, len(entries)),
		}
		for _, e := range entries {
			obj, err := res.external(e)
			if err != nil {
				s.writeError(w, r, err, res.gr(), "")
				return
			}
			pm, err := partialMetadata(obj, f.asVersion)
			if err != nil {
				s.writeError(w, r, err, res.gr(), "")
				return
			}
			list.Items = append(list.Items, *pm)
		}
		writeJSONValue(w, http.StatusOK, f.mediaType, list)
		return
	}
	gvk := res.t.GroupVersionKind
	if f.mediaType == mediaProtobuf {
		items := make([][]byte, len(entries))
		for i, e := range entries {
			b, err := res.objectProto(e)
			if err != nil {
				s.writeError(w, r, err, res.gr(), "")
				return
			}
			items[i] = b
		}
		b, err := protoEnvelopeOf(gvk.GroupVersion().WithKind(gvk.Kind+"List"), rawMessage(protoList(&lm, items)))
		if err != nil {
			s.writeError(w, r, err, res.gr(), "")
			return
		}
		writeRaw(w, http.StatusOK, mediaProtobuf, b)
		return
	}
	head, _ := json.Marshal(struct {
		Kind       string          `json:"kind"`
		APIVersion string          `json:"apiVersion"`
		Metadata   metav1.ListMeta `json:"metadata"`
	}{gvk.Kind + "List", gvk.GroupVersion().String(), lm})
	if f.mediaType == mediaYAML {
		// YAML is for people; build the document and convert it.
		var doc []byte
		doc = append(doc, head[:len(head)-1]...)
		doc = append(doc, `,"items":[`...)
		for i, e := range entries {
			if i > 0 {
				doc = append(doc, ',')
			}
			b, err := res.objectJSON(e)
			if err != nil {
				s.writeError(w, r, err, res.gr(), "")
				return
			}
			doc = append(doc, b...)
		}
		doc = append(doc, "]}"...)
		writeBytes(w, http.StatusOK, mediaYAML, doc)
		return
	}
	// Encode every item before the first byte goes out, so a failure can
	// still be answered with a Status.
	items := make([][]byte, len(entries))
	// head without its closing brace, `,"items":[`, the items, the commas
	// between them, and `]}`.
	size := len(head) - 1 + len(`,"items":[`) + len("]}")
	if len(entries) > 1 {
		size += len(entries) - 1
	}
	for i, e := range entries {
		b, err := res.objectJSON(e)
		if err != nil {
			s.writeError(w, r, err, res.gr(), "")
			return
		}
		items[i] = b
		size += len(b)
	}
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Set("Content-Length", strconv.Itoa(size))
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"items":[`)
	for i, b := range items {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.Write(b)
	}
	bw.WriteString("]}")
	bw.Flush()
}

// table builds a meta.k8s.io Table of the entries with the type's columns.
func (s *Server) table(r *http.Request, res *resource, entries []*storage.Entry, lm metav1.ListMeta, f outputFormat) (*metav1.Table, error) {
	include := metav1.IncludeMetadata
	switch v := metav1.IncludeObjectPolicy(r.URL.Query().Get("includeObject")); v {
	case "":
	case metav1.IncludeNone, metav1.IncludeMetadata, metav1.IncludeObject:
		include = v
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("includeObject must be one of None, Metadata or Object, not %q", v))
	}
	now := time.Now()
	t := &metav1.Table{
		TypeMeta:          metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/" + f.asVersion},
		ListMeta:          lm,
		ColumnDefinitions: res.printer.Columns,
		Rows:              make([]metav1.TableRow, 0, len(entries)),
	}
	for _, e := range entries {
		obj, err := res.external(e)
		if err != nil {
			return nil, err
		}
		cells, err := res.printer.Row(obj, now)
		if err != nil {
			return nil, err
		}
		row := metav1.TableRow{Cells: cells}
		switch include {
		case metav1.IncludeMetadata:
			pm, err := partialMetadata(obj, "v1")
			if err != nil {
				return nil, err
			}
			raw, _ := json.Marshal(pm)
			row.Object = runtime.RawExtension{Raw: raw}
		case metav1.IncludeObject:
			raw, err := res.objectJSON(e)
			if err != nil {
				return nil, err
			}
			row.Object = runtime.RawExtension{Raw: raw}
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}
