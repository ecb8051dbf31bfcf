package apiserver

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-dev/skiff/apiserver/storage"
)

func configMaps(tb testing.TB, s *Server) *resource {
	tb.Helper()
	t, ok := s.registry.ByKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	if !ok {
		tb.Fatal("no ConfigMap type")
	}
	return s.resources[t]
}

// Writes the server makes for itself carry no field owner and keep the
// stored managedFields; client writes through the same code record them.
func TestUntrackedWritesKeepManagedFields(t *testing.T) {
	a := startTestAPI(t)
	s := a.run.Server
	res := configMaps(t, s)
	owned := withFieldOwner(context.Background(), fieldOwner{manager: "client"})
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "default"}, Data: map[string]string{"k": "v"}}
	e, err := s.createObject(owned, res, "default", cm, false)
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := e.Object()
	if mf := obj.(*corev1.ConfigMap).ManagedFields; len(mf) != 1 || mf[0].Manager != "client" {
		t.Fatalf("tracked create: %+v", mf)
	}
	e, err = s.guaranteedUpdate(context.Background(), res, "default", "c", "", false, func(cur runtime.Object, _ *storage.Entry) (runtime.Object, error) {
		c := cur.(*corev1.ConfigMap)
		c.Data["x"] = "y"
		c.ManagedFields = nil
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	obj, _ = e.Object()
	if mf := obj.(*corev1.ConfigMap).ManagedFields; len(mf) != 1 || mf[0].Manager != "client" {
		t.Fatalf("untracked update changed managedFields: %+v", mf)
	}
}

// The TypeConverter is built once per server.
func TestTypeConverterBuiltOnce(t *testing.T) {
	a := startTestAPI(t)
	s := a.run.Server
	start := time.Now()
	tc1, err := s.fieldTracker().typeConverter()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("TypeConverter built in %v", time.Since(start))
	tc2, _ := s.fieldTracker().typeConverter()
	if tc1 != tc2 {
		t.Error("TypeConverter built twice")
	}
	f1, err := s.fieldTracker().manager(configMaps(t, s), "")
	if err != nil {
		t.Fatal(err)
	}
	f2, _ := s.fieldTracker().manager(configMaps(t, s), "")
	if f1 != f2 {
		t.Error("field manager built twice")
	}
}

// BenchmarkConfigMapWrites measures a create and an update of a ConfigMap
// through the storage path (strategy, admission, etcd with fsync), with
// and without managedFields tracking.
func BenchmarkConfigMapWrites(b *testing.B) {
	a := startTestAPI(b)
	s := a.run.Server
	res := configMaps(b, s)
	if _, err := s.fieldTracker().typeConverter(); err != nil {
		b.Fatal(err)
	}
	data := map[string]string{}
	for i := 0; i < 10; i++ {
		data["key"+strconv.Itoa(i)] = "value " + strconv.Itoa(i)
	}
	for _, mode := range []string{"untracked", "tracked"} {
		ctx := context.Background()
		if mode == "tracked" {
			ctx = withFieldOwner(ctx, fieldOwner{manager: "bench"})
		}
		n := 0
		b.Run("create/"+mode, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				n++
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", mode, n), Namespace: "default"}, Data: data}
				if _, err := s.createObject(ctx, res, "default", cm, false); err != nil {
					b.Fatal(err)
				}
			}
		})
		name := "upd-" + mode
		if _, err := s.createObject(ctx, res, "default", &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Data: data}, false); err != nil {
			b.Fatal(err)
		}
		b.Run("update/"+mode, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_, err := s.guaranteedUpdate(ctx, res, "default", name, "", false, func(cur runtime.Object, _ *storage.Entry) (runtime.Object, error) {
					c := cur.(*corev1.ConfigMap)
					c.Data["counter"] = strconv.Itoa(i)
					return c, nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFieldManagerUpdate is the CPU cost tracking adds to one update
// of a ConfigMap, without storage.
func BenchmarkFieldManagerUpdate(b *testing.B) {
	a := startTestAPI(b)
	s := a.run.Server
	res := configMaps(b, s)
	fm, err := s.fieldTracker().manager(res, "")
	if err != nil {
		b.Fatal(err)
	}
	live := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "default", UID: "u"}, Data: map[string]string{}}
	for i := 0; i < 10; i++ {
		live.Data["key"+strconv.Itoa(i)] = "value"
	}
	live = fm.UpdateNoErrors(&corev1.ConfigMap{}, live, "bench").(*corev1.ConfigMap)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		next := live.DeepCopy()
		next.Data["counter"] = strconv.Itoa(i)
		fm.UpdateNoErrors(live, next, "bench")
	}
}
