package flux

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a length of time written as a Go duration string ("1m",
// "90s"), like metav1.Duration, that also remembers how it was written.
//
// A CRD stores the string a client sent; metav1.Duration would store it
// re-spelled ("1m" comes back "1m0s"), and `kubectl apply` of an unchanged
// manifest would then see a difference on every run and report the object
// "configured". Keeping the text also lets validation check Flux's duration
// patterns against what was written, and tell an absent duration from
// "0s".
type Duration struct {
	time.Duration
	// Written is the text this duration was decoded from; empty for one
	// made in Go, which is encoded in Go's spelling. It is exported
	// because apimachinery's semantic equality, which the API server
	// compares objects with, cannot read unexported fields.
	Written string `json:"-"`
}

// ParseDuration reads a Go duration string and keeps its spelling.
func ParseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return Duration{}, fmt.Errorf("parse duration %q: %w", s, err)
	}
	return Duration{Duration: d, Written: s}, nil
}

// String is the duration as written, or in Go's spelling when it was made
// (or changed) in Go.
func (d Duration) String() string {
	if d.Written != "" {
		if p, err := time.ParseDuration(d.Written); err == nil && p == d.Duration {
			return d.Written
		}
	}
	return d.Duration.String()
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON reads a duration string, keeping its spelling.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	p, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// ToUnstructured gives the unstructured converter (and so server-side
// apply) the written string.
func (d Duration) ToUnstructured() interface{} { return d.String() }

// OpenAPISchemaType and OpenAPISchemaFormat publish the wire form: a
// string, as for metav1.Duration.
func (Duration) OpenAPISchemaType() []string { return []string{"string"} }

// OpenAPISchemaFormat is empty: Flux's CRDs give durations a pattern, not a
// format.
func (Duration) OpenAPISchemaFormat() string { return "" }
