package receiver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/skiff-dev/skiff/manifests/flux"
	"github.com/skiff-dev/skiff/reconcile/manager"
)

func TestWebhookPath(t *testing.T) {
	// Expected values from Flux's documented algorithm, computed outside
	// Go: printf '%s' "${token}${name}${namespace}" | sha256sum
	cases := []struct{ token, name, ns, want string }{
		{"s3cr3t", "github", "default", "/hook/05888469a1de35215817d31186cc57649f67dda25a9bee91b9c66177651b2728"},
		{"s3cr3t", "github", "other", "/hook/ba7baa551a315f667139dd7ad5d33f5f722de5b2f597e0e733d2fe0ae9c4cc17"},
	}
	for _, c := range cases {
		if got := WebhookPath(c.token, c.name, c.ns); got != c.want {
			t.Errorf("WebhookPath(%q, %q, %q) = %s, want %s", c.token, c.name, c.ns, got, c.want)
		}
	}
}

func receiver(mut ...func(*flux.Receiver)) *flux.Receiver {
	r := &flux.Receiver{
		TypeMeta:   metav1.TypeMeta{APIVersion: flux.NotificationGroupVersion.String(), Kind: "Receiver"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "github", Generation: 3},
		Spec: flux.ReceiverSpec{
			Type:      "github",
			Resources: []flux.CrossNamespaceObjectReference{{Kind: "GitRepository", Name: "shop"}},
			SecretRef: flux.LocalObjectReference{Name: "webhook-token"},
		},
	}
	for _, m := range mut {
		m(r)
	}
	return r
}

func ready(st flux.ReceiverStatus) *metav1.Condition {
	return meta.FindStatusCondition(st.Conditions, ReadyCondition)
}

func TestEvaluate(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	notFound := tokenNotFound{errors.New("unable to read token from secret 'default/webhook-token' error: secrets \"webhook-token\" not found")}
	path := "/hook/05888469a1de35215817d31186cc57649f67dda25a9bee91b9c66177651b2728"
	cases := []struct {
		name        string
		rcv         *flux.Receiver
		token       string
		tokenErr    error
		wantStatus  metav1.ConditionStatus // of Ready; "" = no Ready condition
		wantReason  string
		wantMessage string
		wantPath    string
		wantStalled bool
		wantObsGen  int64
		wantRequeue time.Duration
		wantErr     bool
	}{
		{name: "ready: path from token, name and namespace", rcv: receiver(), token: "s3cr3t",
			wantStatus: metav1.ConditionTrue, wantReason: SucceededReason, wantMessage: "Receiver initialized for path: " + path,
			wantPath: path, wantObsGen: 3, wantRequeue: 10 * time.Minute},
		{name: "interval from the spec", rcv: receiver(func(r *flux.Receiver) { r.Spec.Interval = &flux.Duration{Duration: time.Minute} }),
			token: "s3cr3t", wantStatus: metav1.ConditionTrue, wantReason: SucceededReason, wantPath: path, wantObsGen: 3, wantRequeue: time.Minute},
		{name: "gitlab, generic and generic-hmac are served", rcv: receiver(func(r *flux.Receiver) { r.Spec.Type = "generic-hmac" }),
			token: "s3cr3t", wantStatus: metav1.ConditionTrue, wantReason: SucceededReason, wantPath: path, wantObsGen: 3, wantRequeue: 10 * time.Minute},
		{name: "secret missing: TokenNotFound, no path, retried", rcv: receiver(func(r *flux.Receiver) { r.Status.WebhookPath = path }),
			tokenErr: notFound, wantStatus: metav1.ConditionFalse, wantReason: TokenNotFoundReason, wantMessage: notFound.Error(), wantErr: true},
		{name: "unsupported type", rcv: receiver(func(r *flux.Receiver) { r.Spec.Type = "bitbucket" }), token: "s3cr3t",
			wantStatus: metav1.ConditionFalse, wantReason: NotSupportedReason, wantMessage: "receiver type 'bitbucket' is not supported", wantStalled: true, wantObsGen: 3},
		{name: "resource filter", rcv: receiver(func(r *flux.Receiver) { r.Spec.ResourceFilter = "true" }), token: "s3cr3t",
			wantStatus: metav1.ConditionFalse, wantReason: NotSupportedReason, wantMessage: "spec.resourceFilter", wantStalled: true, wantObsGen: 3},
		{name: "wildcard without matchLabels", rcv: receiver(func(r *flux.Receiver) { r.Spec.Resources[0].Name = "*" }), token: "s3cr3t",
			wantStatus: metav1.ConditionFalse, wantReason: ValidationFailedReason, wantMessage: "matchLabels field not set", wantStalled: true, wantObsGen: 3},
		{name: "kind without a default apiVersion", rcv: receiver(func(r *flux.Receiver) { r.Spec.Resources[0].Kind = "Kustomization" }), token: "s3cr3t",
			wantStatus: metav1.ConditionFalse, wantReason: ValidationFailedReason, wantMessage: "apiVersion must be specified for kind 'Kustomization'", wantStalled: true, wantObsGen: 3},
		{name: "kind with an apiVersion", rcv: receiver(func(r *flux.Receiver) {
			r.Spec.Resources[0] = flux.CrossNamespaceObjectReference{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Name: "*", MatchLabels: map[string]string{"app": "shop"}}
		}), token: "s3cr3t", wantStatus: metav1.ConditionTrue, wantReason: SucceededReason, wantPath: path, wantObsGen: 3, wantRequeue: 10 * time.Minute},
		{name: "suspended: status left alone", rcv: receiver(func(r *flux.Receiver) { r.Spec.Suspend = true; r.Spec.Type = "bitbucket" })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := c.rcv.DeepCopy()
			st, res := Evaluate(c.rcv, c.token, c.tokenErr, now)
			r := ready(st)
			switch {
			case c.wantStatus == "" && r != nil:
				t.Fatalf("Ready condition %+v, want none", r)
			case c.wantStatus != "" && r == nil:
				t.Fatalf("no Ready condition")
			case r != nil:
				if r.Status != c.wantStatus || r.Reason != c.wantReason || !strings.Contains(r.Message, c.wantMessage) {
					t.Errorf("Ready = %s %s %q, want %s %s containing %q", r.Status, r.Reason, r.Message, c.wantStatus, c.wantReason, c.wantMessage)
				}
				if r.ObservedGeneration != 3 || !r.LastTransitionTime.Equal(&now) {
					t.Errorf("Ready observedGeneration %d, lastTransitionTime %v", r.ObservedGeneration, r.LastTransitionTime)
				}
			}
			if st.WebhookPath != c.wantPath {
				t.Errorf("webhookPath %q, want %q", st.WebhookPath, c.wantPath)
			}
			if got := meta.IsStatusConditionTrue(st.Conditions, StalledCondition); got != c.wantStalled {
				t.Errorf("Stalled %v, want %v", got, c.wantStalled)
			}
			if st.ObservedGeneration != c.wantObsGen {
				t.Errorf("observedGeneration %d, want %d", st.ObservedGeneration, c.wantObsGen)
			}
			if res.RequeueAfter != c.wantRequeue || (res.Err != nil) != c.wantErr {
				t.Errorf("result %+v, want requeue %v err %v", res, c.wantRequeue, c.wantErr)
			}
			if c.wantErr && !errors.Is(res.Err, errTokenNotFound) {
				t.Errorf("error %v is not errTokenNotFound", res.Err)
			}
			if c.wantErr && !meta.IsStatusConditionTrue(st.Conditions, ReconcilingCondition) {
				t.Errorf("a failure to retry should leave Reconciling True: %+v", st.Conditions)
			}
			if !c.wantErr && meta.FindStatusCondition(st.Conditions, ReconcilingCondition) != nil {
				t.Errorf("Reconciling left behind: %+v", st.Conditions)
			}
			if !equalReceivers(before, c.rcv) {
				t.Errorf("Evaluate modified its input")
			}
		})
	}
}

func equalReceivers(a, b *flux.Receiver) bool {
	return reflect.DeepEqual(a, b)
}

func TestEvaluateKeepsTransitionTimeAndRecordsRequest(t *testing.T) {
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Hour))
	rcv := receiver()
	st, _ := Evaluate(rcv, "s3cr3t", nil, t0)
	rcv.Status = st
	rcv.Annotations = map[string]string{ReconcileRequestAnnotation: "2026-01-01T01:00:00Z"}
	st, _ = Evaluate(rcv, "s3cr3t", nil, t1)
	if r := ready(st); !r.LastTransitionTime.Equal(&t0) {
		t.Errorf("an unchanged Ready moved its lastTransitionTime to %v", r.LastTransitionTime)
	}
	if st.LastHandledReconcileAt != "2026-01-01T01:00:00Z" {
		t.Errorf("lastHandledReconcileAt %q", st.LastHandledReconcileAt)
	}
	// The token changed: same condition status, new message and path.
	st, _ = Evaluate(rcv, "rotated", nil, t1)
	if r := ready(st); st.WebhookPath != WebhookPath("rotated", "github", "default") || !strings.HasSuffix(r.Message, st.WebhookPath) {
		t.Errorf("rotated token: path %s, message %q", st.WebhookPath, r.Message)
	}
}

// start runs the controller over fake clients.
func start(t *testing.T, kube *fake.Clientset, rcvs ...*flux.Receiver) *dynamicfake.FakeDynamicClient {
	t.Helper()
	scheme := runtime.NewScheme()
	var objs []runtime.Object
	for _, r := range rcvs {
		content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(r)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, &unstructured.Unstructured{Object: content})
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{GVR: "ReceiverList"}, objs...)
	d := manager.NewDeps(kube, nil, slog.New(slog.NewTextHandler(t.Output(), nil)), nil, 0)
	c, err := New(d, dyn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.Informers.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		d.Informers.Shutdown()
	})
	return dyn
}

func getReceiver(t *testing.T, dyn *dynamicfake.FakeDynamicClient, ns, name string) *flux.Receiver {
	t.Helper()
	u, err := dyn.Resource(GVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := &flux.Receiver{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, r); err != nil {
		t.Fatal(err)
	}
	return r
}

func eventually(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func secret(data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "webhook-token"}, Data: data}
}

func TestControllerWritesPathOnceTheSecretExists(t *testing.T) {
	kube := fake.NewClientset()
	dyn := start(t, kube, receiver())
	eventually(t, func() error {
		r := ready(getReceiver(t, dyn, "default", "github").Status)
		if r == nil || r.Reason != TokenNotFoundReason {
			return fmt.Errorf("Ready = %+v, want TokenNotFound", r)
		}
		return nil
	})
	// The secret arrives; the back-off retry finds it.
	if _, err := kube.CoreV1().Secrets("default").Create(context.Background(), secret(map[string][]byte{"token": []byte("s3cr3t")}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := WebhookPath("s3cr3t", "github", "default")
	eventually(t, func() error {
		got := getReceiver(t, dyn, "default", "github")
		r := ready(got.Status)
		if got.Status.WebhookPath != want || r == nil || r.Status != metav1.ConditionTrue || got.Status.ObservedGeneration != 3 {
			return fmt.Errorf("status %+v, want path %s and Ready", got.Status, want)
		}
		return nil
	})
	// Status goes through the status subresource, under Flux's field manager.
	var statusWrites int
	for _, a := range dyn.Actions() {
		if a.GetVerb() == "update" {
			if a.GetSubresource() != "status" {
				t.Errorf("write outside the status subresource: %v", a)
			}
			statusWrites++
		}
	}
	if statusWrites < 2 {
		t.Errorf("%d status writes, want TokenNotFound then Ready", statusWrites)
	}
}

func TestControllerWritesNothingWhenUnchanged(t *testing.T) {
	kube := fake.NewClientset(secret(map[string][]byte{"token": []byte("s3cr3t")}))
	rcv := receiver()
	st, _ := Evaluate(rcv, "s3cr3t", nil, metav1.Now())
	rcv.Status = st
	dyn := start(t, kube, rcv)
	// Wait until the controller has read the secret, then for a quiet spell.
	eventually(t, func() error {
		for _, a := range kube.Actions() {
			if a.GetVerb() == "get" && a.GetResource().Resource == "secrets" {
				return nil
			}
		}
		return errors.New("secret not read yet")
	})
	time.Sleep(200 * time.Millisecond)
	for _, a := range dyn.Actions() {
		if a.GetVerb() == "update" {
			t.Errorf("unexpected write of an up-to-date receiver: %v", a.(k8stesting.UpdateAction).GetObject())
		}
	}
}

func TestControllerMissingTokenKey(t *testing.T) {
	kube := fake.NewClientset(secret(map[string][]byte{"password": []byte("x")}))
	dyn := start(t, kube, receiver())
	eventually(t, func() error {
		r := ready(getReceiver(t, dyn, "default", "github").Status)
		if r == nil || r.Reason != TokenNotFoundReason || r.Message != "invalid 'default/webhook-token' secret data: required fields 'token'" {
			return fmt.Errorf("Ready = %+v", r)
		}
		return nil
	})
}
