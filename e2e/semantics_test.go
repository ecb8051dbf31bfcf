package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"k8s.io/utils/ptr"
)

// TestAPISemantics checks the REST behaviours clients rely on beyond what
// the kubectl session exercises.
func TestAPISemantics(t *testing.T) {
	s := startServer(t)
	cs := clientset(t, s)
	c := newAPIClient(t, s)
	ctx := context.Background()
	cms := cs.CoreV1().ConfigMaps("default")

	t.Run("ops endpoints", func(t *testing.T) {
		anon := *c
		anon.t, anon.token = t, ""
		for _, p := range []string{"/healthz", "/livez", "/readyz"} {
			if r := anon.do("GET", p, "", nil, nil); r.code != 200 || string(r.body) != "ok" {
				t.Errorf("%s: %d %q", p, r.code, r.body)
			}
		}
		r := anon.do("GET", "/readyz?verbose", "", nil, nil)
		if !strings.Contains(string(r.body), "[+]etcd ok") {
			t.Errorf("/readyz?verbose does not report etcd: %s", r.body)
		}
		r = anon.do("GET", "/version", "", nil, nil)
		var v map[string]string
		if err := json.Unmarshal(r.body, &v); err != nil || v["major"] != "1" || v["minor"] != "33" || !strings.HasPrefix(v["gitVersion"], "v1.33.0-skiff.") {
			t.Errorf("/version: %s", r.body)
		}
		if r := anon.do("GET", "/metrics", "", nil, nil); r.code != 401 {
			t.Errorf("/metrics without a token: %d, want 401", r.code)
		}
		cc := *c
		cc.t = t
		cc.do("GET", "/api/v1/namespaces/default/configmaps", "", nil, nil)
		cc.do("GET", "/api/v1/namespaces/default/configmaps/none", "", nil, nil)
		// An open watch of our own: the server counts it before it sends
		// the response headers, so it is counted once Watch returns. (The
		// controllers' watches may not be open yet this soon after start.)
		w, err := cs.CoreV1().Secrets("kube-public").Watch(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		r = cc.do("GET", "/metrics", "", nil, nil)
		for _, m := range []string{
			`apiserver_request_total{code="200",group="",resource="configmaps",subresource="",verb="LIST"}`,
			`apiserver_request_total{code="404",group="",resource="configmaps",subresource="",verb="GET"}`,
			`apiserver_request_duration_seconds_bucket{group="",resource="configmaps",subresource="",verb="LIST",le="0.005"}`,
			`etcd_request_duration_seconds_bucket{operation="get",le="0.001"}`,
			"# TYPE apiserver_registered_watchers gauge",
			`apiserver_registered_watchers{resource="secrets"}`,
		} {
			if !strings.Contains(string(r.body), m) {
				t.Errorf("/metrics lacks %s", m)
			}
		}
	})

	t.Run("dry run persists nothing", func(t *testing.T) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dry"}, Data: map[string]string{"a": "1"}}
		out, err := cms.Create(ctx, cm, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Fatal(err)
		}
		if out.UID == "" || out.ResourceVersion != "" {
			t.Errorf("dry-run create returned uid %q rv %q; want a uid and no resourceVersion", out.UID, out.ResourceVersion)
		}
		if _, err := cms.Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("dry-run create was stored: %v", err)
		}
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cms.Delete(ctx, "dry", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Fatal(err)
		}
		if _, err := cms.Get(ctx, "dry", metav1.GetOptions{}); err != nil {
			t.Fatalf("dry-run delete deleted: %v", err)
		}
	})

	t.Run("fieldValidation Warn answers with a warning", func(t *testing.T) {
		cc := *c
		cc.t = t
		r := cc.do("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Warn", "application/json",
			[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"warned"},"bogus":1}`), nil)
		if r.code != 201 || !strings.Contains(r.header.Get("Warning"), `unknown field \"bogus\"`) {
			t.Fatalf("code %d, Warning %q", r.code, r.header.Get("Warning"))
		}
		r = cc.do("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Ignore", "application/json",
			[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ignored"},"bogus":1}`), nil)
		if r.code != 201 || r.header.Get("Warning") != "" {
			t.Fatalf("Ignore: code %d, Warning %q", r.code, r.header.Get("Warning"))
		}
	})

	t.Run("finalizers hold deletion until removed", func(t *testing.T) {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{"example.com/hold"}}}
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cms.Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := cms.Get(ctx, "held", metav1.GetOptions{})
		if err != nil || got.DeletionTimestamp == nil {
			t.Fatalf("after delete: %v, deletionTimestamp %v", err, got.DeletionTimestamp)
		}
		got.Finalizers = append(got.Finalizers, "example.com/more")
		if _, err := cms.Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
			t.Fatalf("adding a finalizer while deleting: %v, want 403", err)
		}
		got.Finalizers = nil
		if _, err := cms.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := cms.Get(ctx, "held", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("removing the last finalizer did not delete: %v", err)
		}
	})

	t.Run("graceful deletion of a bound pod", func(t *testing.T) {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bound"}, Spec: corev1.PodSpec{NodeName: "somewhere",
			TerminationGracePeriodSeconds: ptr.To[int64](30), Containers: []corev1.Container{{Name: "c", Image: "busybox:local"}}}}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cs.CoreV1().Pods("default").Delete(ctx, "bound", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := cs.CoreV1().Pods("default").Get(ctx, "bound", metav1.GetOptions{})
		if err != nil || got.DeletionTimestamp == nil || ptr.Deref(got.DeletionGracePeriodSeconds, -1) != 30 {
			t.Fatalf("a pod on a node must linger for its grace period: %v %+v", err, got.ObjectMeta)
		}
		// --grace-period=0 --force: gone at once.
		if err := cs.CoreV1().Pods("default").Delete(ctx, "bound", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().Pods("default").Get(ctx, "bound", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("grace period 0 did not delete: %v", err)
		}
	})

	t.Run("deletecollection by label", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			lbl := "keep"
			if i < 3 {
				lbl = "drop"
			}
			if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("dc-%d", i), Labels: map[string]string{"dc": lbl}}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := cms.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "dc=drop"}); err != nil {
			t.Fatal(err)
		}
		left, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "dc"})
		if err != nil || len(left.Items) != 2 {
			t.Fatalf("after deletecollection: %d left, %v", len(left.Items), err)
		}
	})

	t.Run("pagination with limit and continue", func(t *testing.T) {
		for i := 0; i < 25; i++ {
			if _, err := cs.CoreV1().ConfigMaps("kube-public").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("page-%02d", i)}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		var names []string
		opts := metav1.ListOptions{Limit: 10}
		pages := 0
		for {
			l, err := cs.CoreV1().ConfigMaps("kube-public").List(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, it := range l.Items {
				names = append(names, it.Name)
			}
			if pages == 1 {
				if l.RemainingItemCount == nil || *l.RemainingItemCount != 15 {
					t.Errorf("first page remainingItemCount %v, want 15", l.RemainingItemCount)
				}
				// A write between pages must not appear in later pages.
				if _, err := cs.CoreV1().ConfigMaps("kube-public").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "page-zz"}}, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if l.Continue == "" {
				break
			}
			opts.Continue = l.Continue
		}
		if pages != 3 || len(names) != 25 || names[0] != "page-00" || names[24] != "page-24" {
			t.Fatalf("%d pages, %d names: %v", pages, len(names), names)
		}
	})

	t.Run("watch honours timeoutSeconds and sends bookmarks", func(t *testing.T) {
		start := time.Now()
		w, err := cms.Watch(ctx, metav1.ListOptions{TimeoutSeconds: ptr.To[int64](2), ResourceVersion: "0"})
		if err != nil {
			t.Fatal(err)
		}
		for range w.ResultChan() {
		}
		if took := time.Since(start); took < 2*time.Second || took > 8*time.Second {
			t.Fatalf("watch with timeoutSeconds=2 ended after %s", took)
		}
		// Watch-list (client-go's default) ends its initial events with
		// the annotated bookmark.
		w, err = cms.Watch(ctx, metav1.ListOptions{SendInitialEvents: ptr.To(true), ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan, AllowWatchBookmarks: true})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case ev := <-w.ResultChan():
				if ev.Type == watch.Bookmark {
					m, _ := ev.Object.(*corev1.ConfigMap)
					if m == nil || m.Annotations[metav1.InitialEventsAnnotationKey] != "true" || m.ResourceVersion == "" {
						t.Fatalf("bookmark %+v", ev.Object)
					}
					return
				}
			case <-deadline:
				t.Fatal("no initial-events-end bookmark")
			}
		}
	})

	t.Run("metadata-only watch streams PartialObjectMetadata", func(t *testing.T) {
		// client-go's metadata informers (the garbage collector's) watch
		// with as=PartialObjectMetadata; full objects would fail to decode.
		cfg, err := s.RESTConfig()
		if err != nil {
			t.Fatal(err)
		}
		mc, err := metadata.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		w, err := mc.Resource(corev1.SchemeGroupVersion.WithResource("configmaps")).Namespace("default").Watch(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "meta-watch", Labels: map[string]string{"k": "v"}}, Data: map[string]string{"big": "x"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(10 * time.Second)
		for {
			select {
			case ev := <-w.ResultChan():
				if ev.Type == watch.Error {
					t.Fatalf("watch error: %+v", ev.Object)
				}
				m, ok := ev.Object.(*metav1.PartialObjectMetadata)
				if !ok {
					t.Fatalf("event object %T, want *PartialObjectMetadata", ev.Object)
				}
				if m.Name == "meta-watch" {
					if m.Labels["k"] != "v" || m.UID == "" {
						t.Fatalf("metadata %+v", m)
					}
					return
				}
			case <-deadline:
				t.Fatal("no event for meta-watch")
			}
		}
	})

	t.Run("SIGTERM stops cleanly and keeps data", func(t *testing.T) {
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		if err := s.Restart(); err != nil {
			t.Fatal(err)
		}
		cs2 := clientset(t, s)
		if _, err := cs2.CoreV1().ConfigMaps("default").Get(ctx, "dc-4", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
	})
}
