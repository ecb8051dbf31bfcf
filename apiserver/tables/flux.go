package tables

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-dev/skiff/manifests/flux"
)

// Flux's kinds are printed as the Kubernetes API server prints a custom
// resource from its CRD's additionalPrinterColumns
// (apiextensions-apiserver's tableconvertor): NAME first, then the CRD's
// columns in order. Flux declares AGE as a "date" column, whose cell the
// server turns into a human duration; READY and STATUS are the status and
// message of the Ready condition, and a null cell (printed empty) while
// the object has none, as a JSONPath matching nothing gives.

func fluxPrinters() map[schema.GroupVersionKind]func() Printer {
	return map[schema.GroupVersionKind]func() Printer{
		flux.GitRepositoryKind: gitRepositoryPrinter,
		flux.KustomizationKind: kustomizationPrinter,
		flux.ReceiverKind:      receiverPrinter,
	}
}

func gitRepositoryPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{
			nameColumn(),
			{Name: "URL", Type: "string", Description: flux.GitRepositorySpec{}.SwaggerDoc()["url"]},
			fluxAgeColumn(), fluxReadyColumn(), fluxStatusColumn(),
		},
		Row: typedRow(func(r *flux.GitRepository, now time.Time) ([]interface{}, error) {
			ready, message := readyCells(r.Status.Conditions)
			return []interface{}{r.Name, r.Spec.URL, since(r.CreationTimestamp, now), ready, message}, nil
		}),
	}
}

func kustomizationPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{nameColumn(), fluxAgeColumn(), fluxReadyColumn(), fluxStatusColumn()},
		Row: typedRow(func(k *flux.Kustomization, now time.Time) ([]interface{}, error) {
			ready, message := readyCells(k.Status.Conditions)
			return []interface{}{k.Name, since(k.CreationTimestamp, now), ready, message}, nil
		}),
	}
}

func receiverPrinter() Printer {
	return Printer{
		Columns: []metav1.TableColumnDefinition{nameColumn(), fluxAgeColumn(), fluxReadyColumn(), fluxStatusColumn()},
		Row: typedRow(func(r *flux.Receiver, now time.Time) ([]interface{}, error) {
			ready, message := readyCells(r.Status.Conditions)
			return []interface{}{r.Name, since(r.CreationTimestamp, now), ready, message}, nil
		}),
	}
}

func fluxAgeColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Age", Type: "date", Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]}
}

func fluxReadyColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Ready", Type: "string", Description: "The status of the Ready condition."}
}

func fluxStatusColumn() metav1.TableColumnDefinition {
	return metav1.TableColumnDefinition{Name: "Status", Type: "string", Description: "The message of the Ready condition."}
}

// readyCells are the READY and STATUS cells: the Ready condition's status
// and message, or nil cells when there is no Ready condition.
func readyCells(conditions []metav1.Condition) (status, message interface{}) {
	c := meta.FindStatusCondition(conditions, "Ready")
	if c == nil {
		return nil, nil
	}
	return string(c.Status), c.Message
}
