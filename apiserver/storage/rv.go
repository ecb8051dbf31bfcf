package storage

import (
	"bytes"
	"strconv"
)

var metadataOpen = []byte(`"metadata":{`)

// withResourceVersion returns the stored JSON of an object with
// metadata.resourceVersion set to rev. Stored JSON never carries a
// resourceVersion (the revision is only known once etcd commits), and the
// encoder writes kind, apiVersion, then metadata, so the first `"metadata":{`
// is the object's own. Splicing avoids a decode/encode round trip on every
// object of every list.
func withResourceVersion(raw []byte, rev int64) []byte {
	i := bytes.Index(raw, metadataOpen)
	if i < 0 {
		return raw
	}
	at := i + len(metadataOpen)
	var field []byte
	field = append(field, `"resourceVersion":"`...)
	field = strconv.AppendInt(field, rev, 10)
	field = append(field, '"')
	if at < len(raw) && raw[at] != '}' {
		field = append(field, ',')
	}
	out := make([]byte, 0, len(raw)+len(field))
	out = append(out, raw[:at]...)
	out = append(out, field...)
	return append(out, raw[at:]...)
}
