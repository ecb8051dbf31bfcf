package nodeagent

import (
	"context"
	"log/slog"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	ktesting "k8s.io/client-go/testing"
	"k8s.io/utils/clock"

	skiffruntime "github.com/skiff-dev/skiff/nodeagent/runtime"
)

// A controller writing the Node between the agent's read and its status
// write makes the write conflict; registration must still complete (an
// agent that gave up here left a node without status for good).
func TestRegisterNodeRetriesStatusConflicts(t *testing.T) {
	client := fake.NewClientset()
	conflicts := 2
	client.PrependReactor("update", "nodes", func(a ktesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" && conflicts > 0 {
			conflicts--
			return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "nodes"}, "n1", nil)
		}
		return false, nil, nil
	})
	a := &Agent{
		opts:   Options{NodeName: "n1", NodeIP: "10.0.0.1", DataDir: t.TempDir(), Pods: 110},
		log:    slog.New(slog.DiscardHandler),
		client: client,
		rt:     skiffruntime.NewFake(skiffruntime.FakeOptions{NodeName: "n1"}),
		clock:  clock.RealClock{},
	}
	if err := a.registerNode(context.Background(), "fake://1"); err != nil {
		t.Fatal(err)
	}
	n, err := client.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := false
	for _, c := range n.Status.Conditions {
		ready = ready || c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue
	}
	if !ready || conflicts != 0 {
		t.Fatalf("after %d conflicts left: conditions %+v", conflicts, n.Status.Conditions)
	}
}
