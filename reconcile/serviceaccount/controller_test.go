package serviceaccount

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/skiff-dev/skiff/reconcile/internal/controllertest"
	"github.com/skiff-dev/skiff/reconcile/manager"
)

func namespace(name string, phase corev1.NamespacePhase) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: phase}}
}

// start runs the controller over a fake clientset holding objs.
func start(t *testing.T, objs ...runtime.Object) *fake.Clientset {
	t.Helper()
	cs := fake.NewClientset(objs...)
	d := manager.NewDeps(cs, nil, slog.New(slog.NewTextHandler(t.Output(), nil)), nil, 0)
	c, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	controllertest.Start(t, d, c, true)
	return cs
}

// creates lists the namespaces a default account was created in.
func creates(cs *fake.Clientset) []string {
	var out []string
	for _, a := range cs.Actions() {
		c, ok := a.(k8stesting.CreateAction)
		if ok && a.GetResource().Resource == "serviceaccounts" && c.GetObject().(*corev1.ServiceAccount).Name == DefaultName {
			out = append(out, a.GetNamespace())
		}
	}
	slices.Sort(out)
	return out
}

func hasDefault(cs *fake.Clientset, ns string) error {
	_, err := cs.CoreV1().ServiceAccounts(ns).Get(context.Background(), DefaultName, metav1.GetOptions{})
	return err
}

func TestDefaultServiceAccounts(t *testing.T) {
	existing := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "has-one", Name: DefaultName, Labels: map[string]string{"keep": "me"}}}
	cs := start(t,
		namespace("default", corev1.NamespaceActive),
		namespace("kube-system", corev1.NamespaceActive),
		namespace("has-one", corev1.NamespaceActive),
		namespace("going", corev1.NamespaceTerminating),
		existing,
	)
	ctx := context.Background()
	for _, ns := range []string{"default", "kube-system"} {
		controllertest.Eventually(t, func() error { return hasDefault(cs, ns) })
	}

	// A namespace created later gets one too.
	if _, err := cs.CoreV1().Namespaces().Create(ctx, namespace("team-a", corev1.NamespaceActive), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, func() error { return hasDefault(cs, "team-a") })

	// Deleted: recreated.
	if err := cs.CoreV1().ServiceAccounts("default").Delete(ctx, DefaultName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, func() error {
		if got := creates(cs); !slices.Equal(got, []string{"default", "default", "kube-system", "team-a"}) {
			return fmt.Errorf("creates in %v", got)
		}
		return hasDefault(cs, "default")
	})

	// Another account's deletion is none of its business.
	other := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "builder"}}
	if _, err := cs.CoreV1().ServiceAccounts("team-a").Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().ServiceAccounts("team-a").Delete(ctx, "builder", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)

	// The existing account was left as it was; the terminating namespace
	// got nothing.
	sa, err := cs.CoreV1().ServiceAccounts("has-one").Get(ctx, DefaultName, metav1.GetOptions{})
	if err != nil || sa.Labels["keep"] != "me" {
		t.Fatalf("existing account %+v, %v", sa, err)
	}
	if err := hasDefault(cs, "going"); err == nil {
		t.Fatal("account created in a terminating namespace")
	}
	if got := creates(cs); !slices.Equal(got, []string{"default", "default", "kube-system", "team-a"}) {
		t.Fatalf("default accounts created in %v", got)
	}
}
