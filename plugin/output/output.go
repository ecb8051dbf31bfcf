package output

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"
)

// Format is a value of -o/--output.
type Format string

// The formats a listing command accepts.
const (
	Table Format = "table"
	Wide  Format = "wide"
	JSON  Format = "json"
	YAML  Format = "yaml"
	Name  Format = "name"
)

// Formats lists every format, for help texts and completion.
var Formats = []string{string(Table), string(Wide), string(JSON), string(YAML), string(Name)}

// ParseFormat checks an -o value; empty means table.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case "":
		return Table, nil
	case Table, Wide, JSON, YAML, Name:
		return f, nil
	}
	return "", fmt.Errorf("--output must be one of %s, not %q", strings.Join(Formats, ", "), s)
}

// Column is one column of a table; Wide columns show only with -o wide.
type Column struct {
	Header string
	Wide   bool
}

// TableData is a table to print: one cell per column in each row.
type TableData struct {
	Columns []Column
	Rows    [][]string
}

// Print writes the table aligned like kubectl's (three spaces between
// columns), leaving out wide columns unless wide is set.
func (t TableData) Print(w io.Writer, wide bool) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	keep := make([]bool, len(t.Columns))
	var head []string
	for i, c := range t.Columns {
		keep[i] = wide || !c.Wide
		if keep[i] {
			head = append(head, c.Header)
		}
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, r := range t.Rows {
		var cells []string
		for i, c := range r {
			if i < len(keep) && keep[i] {
				cells = append(cells, c)
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// PrintObjects writes objects as a v1 List in JSON or YAML, or one
// kind[.group]/name line each, as kubectl get does. Each object must carry
// its apiVersion and kind.
func PrintObjects(w io.Writer, f Format, objs []*unstructured.Unstructured) error {
	switch f {
	case Name:
		for _, o := range objs {
			fmt.Fprintln(w, QualifiedName(o))
		}
		return nil
	case JSON, YAML:
		items := make([]any, 0, len(objs))
		for _, o := range objs {
			items = append(items, o.Object)
		}
		list := map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"resourceVersion": ""}, "items": items}
		var b []byte
		var err error
		if f == JSON {
			b, err = json.MarshalIndent(list, "", "    ")
			b = append(b, '\n')
		} else {
			b, err = yaml.Marshal(list)
		}
		if err != nil {
			return fmt.Errorf("encode %s: %w", f, err)
		}
		_, err = w.Write(b)
		return err
	}
	return fmt.Errorf("format %q does not print objects", f)
}

// QualifiedName is kubectl's -o name spelling: node/n1,
// kustomization.kustomize.toolkit.fluxcd.io/shop.
func QualifiedName(o *unstructured.Unstructured) string {
	gvk := o.GroupVersionKind()
	kind := strings.ToLower(gvk.Kind)
	if gvk.Group != "" {
		kind += "." + gvk.Group
	}
	return kind + "/" + o.GetName()
}

// Age is kubectl's AGE column: 5s, 3m20s, 2d… or <unknown>.
func Age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// Palette colours text for a terminal; the zero value colours nothing.
type Palette struct{ on bool }

// NewPalette colours only when w is a terminal and NO_COLOR is unset or
// empty (https://no-color.org).
func NewPalette(w io.Writer) Palette {
	return Palette{on: IsTerminal(w) && os.Getenv("NO_COLOR") == ""}
}

// ForcePalette returns a palette that colours (or not) regardless of the
// writer, for tests.
func ForcePalette(on bool) Palette { return Palette{on: on} }

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (p Palette) wrap(code, s string) string {
	if !p.on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Green marks what is healthy.
func (p Palette) Green(s string) string { return p.wrap("32", s) }

// Red marks what is broken.
func (p Palette) Red(s string) string { return p.wrap("31", s) }

// Yellow marks what needs attention but is not broken.
func (p Palette) Yellow(s string) string { return p.wrap("33", s) }

// Bold marks section headings.
func (p Palette) Bold(s string) string { return p.wrap("1", s) }

// Dash is a table cell for an empty value.
func Dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// OneLine keeps a table row on one line: a multi-line message (a build
// error with its context) shows its first line and how many lines follow.
func OneLine(s string) string {
	s = strings.TrimSpace(s)
	first, rest, ok := strings.Cut(s, "\n")
	if !ok {
		return s
	}
	return first + " (+" + strconv.Itoa(strings.Count(rest, "\n")+1) + " lines)"
}
