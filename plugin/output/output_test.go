package output

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/creack/pty"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": Table, "table": Table, "wide": Wide, "json": JSON, "yaml": YAML, "name": Name} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseFormat("jsonpath={.x}"); err == nil {
		t.Error("ParseFormat accepted jsonpath")
	}
}

func TestTableWideColumns(t *testing.T) {
	tab := TableData{Columns: []Column{{Header: "NAME"}, {Header: "IP", Wide: true}, {Header: "AGE"}},
		Rows: [][]string{{"a", "10.0.0.1", "5s"}, {"longer", "-", "2m"}}}
	var narrow, wide bytes.Buffer
	_ = tab.Print(&narrow, false)
	_ = tab.Print(&wide, true)
	if want := "NAME     AGE\na        5s\nlonger   2m\n"; narrow.String() != want {
		t.Errorf("narrow:\n%q\nwant\n%q", narrow.String(), want)
	}
	if want := "NAME     IP         AGE\na        10.0.0.1   5s\nlonger   -          2m\n"; wide.String() != want {
		t.Errorf("wide:\n%q\nwant\n%q", wide.String(), want)
	}
}

func TestPrintObjects(t *testing.T) {
	n := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Node", "metadata": map[string]any{"name": "n1"}}}
	ks := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": map[string]any{"name": "shop"}}}
	var b bytes.Buffer
	if err := PrintObjects(&b, Name, []*unstructured.Unstructured{n, ks}); err != nil {
		t.Fatal(err)
	}
	if want := "node/n1\nkustomization.kustomize.toolkit.fluxcd.io/shop\n"; b.String() != want {
		t.Errorf("name: %q", b.String())
	}
	b.Reset()
	if err := PrintObjects(&b, JSON, []*unstructured.Unstructured{n}); err != nil {
		t.Fatal(err)
	}
	want := "{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n        {\n            \"apiVersion\": \"v1\",\n            \"kind\": \"Node\",\n            \"metadata\": {\n                \"name\": \"n1\"\n            }\n        }\n    ],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n"
	if b.String() != want {
		t.Errorf("json:\n%s", b.String())
	}
	if err := PrintObjects(&b, Table, nil); err == nil {
		t.Error("PrintObjects accepted table")
	}
}

func TestPalette(t *testing.T) {
	if got := ForcePalette(false).Red("x"); got != "x" {
		t.Errorf("off palette coloured: %q", got)
	}
	if got := ForcePalette(true).Red("x"); got != "\x1b[31mx\x1b[0m" {
		t.Errorf("on palette: %q", got)
	}
	// A pipe or buffer is not a terminal, whatever NO_COLOR says.
	t.Setenv("NO_COLOR", "")
	if NewPalette(&bytes.Buffer{}).on {
		t.Error("palette on for a buffer")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if NewPalette(w).on {
		t.Error("palette on for a pipe")
	}
}

func TestCells(t *testing.T) {
	if Dash("") != "-" || Dash("x") != "x" {
		t.Error("Dash")
	}
	if got := OneLine("a\nb\nc\n"); got != "a (+2 lines)" {
		t.Errorf("OneLine = %q", got)
	}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	if got := Age(metav1.NewTime(now.Add(-200*time.Second)), now); got != "3m20s" {
		t.Errorf("Age = %q", got)
	}
	if got := Age(metav1.Time{}, now); got != "<unknown>" {
		t.Errorf("Age(zero) = %q", got)
	}
}

func TestPaletteOnTerminalUnlessNoColor(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	t.Setenv("NO_COLOR", "")
	if !NewPalette(tty).on {
		t.Error("palette off on a terminal")
	}
	t.Setenv("NO_COLOR", "1")
	if NewPalette(tty).on {
		t.Error("palette on with NO_COLOR set")
	}
}
