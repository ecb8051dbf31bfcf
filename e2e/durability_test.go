package e2e

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAcknowledgedWritesSurviveKill9: 50 concurrent writers, the server is
// killed with SIGKILL mid-run and restarted, 20 times. Every write that got
// a 2xx must be there afterwards, exactly as acknowledged, and
// resourceVersions must never go backwards across the restarts.
func TestAcknowledgedWritesSurviveKill9(t *testing.T) {
	s := startServer(t)
	const writers, rounds = 50, 20
	type ack struct {
		name string
		rv   int64
		data string
	}
	var acked []ack
	var maxRV int64
	for round := 0; round < rounds; round++ {
		cs := clientset(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var roundAcks []ack
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; ctx.Err() == nil; i++ {
					name := fmt.Sprintf("r%d-w%d-%d", round, w, i)
					data := fmt.Sprintf("%d/%d/%d", round, w, i)
					cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": data}}
					out, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
					if err != nil {
						return // the server is gone; unacknowledged writes may or may not be there
					}
					rv, _ := strconv.ParseInt(out.ResourceVersion, 10, 64)
					mu.Lock()
					roundAcks = append(roundAcks, ack{name, rv, data})
					mu.Unlock()
				}
			}(w)
		}
		// Let writes flow, then pull the plug.
		time.Sleep(150 * time.Millisecond)
		s.Kill()
		cancel()
		wg.Wait()
		if len(roundAcks) == 0 {
			t.Fatalf("round %d: no write was acknowledged before the kill", round)
		}
		for _, a := range roundAcks {
			if a.rv <= 0 {
				t.Fatalf("acknowledged write %s has resourceVersion %d", a.name, a.rv)
			}
		}
		acked = append(acked, roundAcks...)
		if err := s.Restart(); err != nil {
			t.Fatalf("round %d: restart: %v", round, err)
		}
		cs = clientset(t, s)
		list, err := cs.CoreV1().ConfigMaps("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		present := map[string]corev1.ConfigMap{}
		for _, cm := range list.Items {
			present[cm.Name] = cm
		}
		for _, a := range acked {
			cm, ok := present[a.name]
			if !ok {
				t.Fatalf("round %d: acknowledged write %s (rv %d) is missing after kill -9", round, a.name, a.rv)
			}
			if cm.Data["v"] != a.data || cm.ResourceVersion != strconv.FormatInt(a.rv, 10) {
				t.Fatalf("round %d: %s is %q@%s, acknowledged as %q@%d", round, a.name, cm.Data["v"], cm.ResourceVersion, a.data, a.rv)
			}
			maxRV = max(maxRV, a.rv)
		}
		// Every object that is present (acknowledged or not) is whole.
		for name, cm := range present {
			if cm.Data["v"] == "" {
				t.Fatalf("round %d: %s is present but empty: a torn write", round, name)
			}
		}
		listRV, _ := strconv.ParseInt(list.ResourceVersion, 10, 64)
		if listRV < maxRV {
			t.Fatalf("round %d: list resourceVersion %d is older than acknowledged %d: time went backwards", round, listRV, maxRV)
		}
		probe, err := cs.CoreV1().ConfigMaps("default").Create(context.Background(),
			&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-"}, Data: map[string]string{"v": "probe"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rv, _ := strconv.ParseInt(probe.ResourceVersion, 10, 64); rv <= maxRV {
			t.Fatalf("round %d: new write got resourceVersion %d, not after %d", round, rv, maxRV)
		}
	}
	t.Logf("%d acknowledged writes over %d kill -9 rounds, all present", len(acked), rounds)
}
