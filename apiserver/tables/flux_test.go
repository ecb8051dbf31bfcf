package tables

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/skiff-dev/skiff/manifests/flux"
)

func readyCondition(status metav1.ConditionStatus, message string) []metav1.Condition {
	return []metav1.Condition{
		{Type: "Reconciling", Status: metav1.ConditionTrue, Reason: "Progressing", Message: "not this one"},
		{Type: "Ready", Status: status, Reason: "Whatever", Message: message},
	}
}

// TestFluxColumns checks the columns against Flux's CRDs'
// additionalPrinterColumns, AGE typed "date" as there.
func TestFluxColumns(t *testing.T) {
	for gvk, want := range map[string]struct {
		p    Printer
		cols string
	}{
		"GitRepository": {For(flux.GitRepositoryKind), "NAME URL AGE READY STATUS"},
		"Kustomization": {For(flux.KustomizationKind), "NAME AGE READY STATUS"},
		"Receiver":      {For(flux.ReceiverKind), "NAME AGE READY STATUS"},
	} {
		if got := header(want.p.Columns); got != want.cols {
			t.Errorf("%s: columns %s, want %s", gvk, got, want.cols)
		}
		for _, c := range want.p.Columns {
			if c.Description == "" {
				t.Errorf("%s: column %s has no description", gvk, c.Name)
			}
			if c.Name == "Age" && c.Type != "date" {
				t.Errorf("%s: AGE is %q, Flux's CRD says date", gvk, c.Type)
			}
		}
		if want.p.Columns[0].Format != "name" {
			t.Errorf("%s: first column is not the name", gvk)
		}
	}
}

func TestGitRepositoryCells(t *testing.T) {
	checkCells(t, flux.GitRepositoryKind, []cellCase{
		{"ready", &flux.GitRepository{
			ObjectMeta: objectMeta("shop", 90*time.Second),
			Spec:       flux.GitRepositorySpec{URL: "https://example.com/me/shop.git"},
			Status:     flux.GitRepositoryStatus{Conditions: readyCondition(metav1.ConditionTrue, "stored artifact for revision 'main@sha1:1f2e3d4c'")},
		}, []interface{}{"shop", "https://example.com/me/shop.git", "90s", "True", "stored artifact for revision 'main@sha1:1f2e3d4c'"}},
		{"not reconciled yet", &flux.GitRepository{
			ObjectMeta: objectMeta("new", 5*time.Second),
			Spec:       flux.GitRepositorySpec{URL: "file:///srv/shop"},
		}, []interface{}{"new", "file:///srv/shop", "5s", nil, nil}},
	})
}

func TestKustomizationCells(t *testing.T) {
	checkCells(t, flux.KustomizationKind, []cellCase{
		{"failing", &flux.Kustomization{
			ObjectMeta: objectMeta("shop", 3*time.Hour),
			Status:     flux.KustomizationStatus{Conditions: readyCondition(metav1.ConditionFalse, "deploy/web.yaml:3: mapping values are not allowed")},
		}, []interface{}{"shop", "3h", "False", "deploy/web.yaml:3: mapping values are not allowed"}},
		{"unknown", &flux.Kustomization{
			ObjectMeta: objectMeta("apps", time.Minute),
			Status:     flux.KustomizationStatus{Conditions: readyCondition(metav1.ConditionUnknown, "Reconciliation in progress")},
		}, []interface{}{"apps", "60s", "Unknown", "Reconciliation in progress"}},
	})
}

func TestReceiverCells(t *testing.T) {
	checkCells(t, flux.ReceiverKind, []cellCase{
		{"ready", &flux.Receiver{
			ObjectMeta: objectMeta("github", 48*time.Hour),
			Status:     flux.ReceiverStatus{Conditions: readyCondition(metav1.ConditionTrue, "Receiver initialized for path: /hook/abc")},
		}, []interface{}{"github", "2d", "True", "Receiver initialized for path: /hook/abc"}},
		{"unstructured", &unstructured.Unstructured{Object: map[string]interface{}{
			"apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
			"metadata": map[string]interface{}{"name": "gitlab", "creationTimestamp": now.Add(-2 * time.Minute).Format(time.RFC3339)},
			"spec":     map[string]interface{}{"type": "gitlab"},
		}}, []interface{}{"gitlab", "2m", nil, nil}},
	})
}

// TestFluxTableAsKubectlPrintsIt serves a list as the API server would
// and prints it with kubectl's own table printer.
func TestFluxTableAsKubectlPrintsIt(t *testing.T) {
	p := For(flux.GitRepositoryKind)
	table := &metav1.Table{ColumnDefinitions: p.Columns}
	for _, obj := range []runtime.Object{
		&flux.GitRepository{ObjectMeta: objectMeta("shop", time.Hour), Spec: flux.GitRepositorySpec{URL: "https://example.com/me/shop.git"},
			Status: flux.GitRepositoryStatus{Conditions: readyCondition(metav1.ConditionTrue, "stored artifact")}},
		&flux.GitRepository{ObjectMeta: objectMeta("new", time.Second), Spec: flux.GitRepositorySpec{URL: "file:///srv/new"}},
	} {
		cells, err := p.Row(obj, now)
		if err != nil {
			t.Fatal(err)
		}
		table.Rows = append(table.Rows, metav1.TableRow{Cells: cells})
	}
	// Through JSON, as kubectl receives it.
	b, err := json.Marshal(table)
	if err != nil {
		t.Fatal(err)
	}
	var got metav1.Table
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := printers.NewTablePrinter(printers.PrintOptions{}).PrintObj(&got, &out); err != nil {
		t.Fatal(err)
	}
	want := "NAME   URL                               AGE   READY   STATUS\n" +
		"shop   https://example.com/me/shop.git   60m   True    stored artifact\n" +
		"new    file:///srv/new                   1s\n"
	// kubectl pads the empty cells of the last row; the padding is not
	// what this test is about.
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		lines = append(lines, strings.TrimRight(l, " "))
	}
	if strings.Join(lines, "\n") != want {
		t.Errorf("kubectl prints\n%s\nwant\n%s", out.String(), want)
	}
}
