package tables

import (
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// now is the clock every test prints at.
var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// ago is a timestamp d before now.
func ago(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }

func agoPtr(d time.Duration) *metav1.Time { t := ago(d); return &t }

func microAgo(d time.Duration) metav1.MicroTime { return metav1.NewMicroTime(now.Add(-d)) }

// cellCase is one object and the cells kubectl should get for it.
type cellCase struct {
	name string
	obj  runtime.Object
	want []interface{}
}

// checkCells prints each case with the printer of gvk and compares every
// cell, value and Go type alike (JSON carries int64 and string differently).
func checkCells(t *testing.T, gvk schema.GroupVersionKind, cases []cellCase) {
	t.Helper()
	p := For(gvk)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.Row(tc.obj, now)
			if err != nil {
				t.Fatalf("Row: %v", err)
			}
			if len(got) != len(p.Columns) {
				t.Fatalf("%d cells for %d columns: %#v", len(got), len(p.Columns), got)
			}
			if !reflect.DeepEqual(got, tc.want) {
				for i := range got {
					if i < len(tc.want) && !reflect.DeepEqual(got[i], tc.want[i]) {
						t.Errorf("column %s: got %#v, want %#v", p.Columns[i].Name, got[i], tc.want[i])
					}
				}
				if len(got) != len(tc.want) {
					t.Errorf("got %d cells, want %d: %#v", len(got), len(tc.want), got)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
