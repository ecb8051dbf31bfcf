package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
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
	// killAfterAcks writes must be acknowledged in a round before the kill.
	const killAfterAcks = 100
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
		var (
			mu        sync.Mutex
			roundAcks []ack
			killed    bool
			earlyErr  error // a write that failed before the kill
			flowing   = make(chan struct{})
			signalled bool
		)
		signalFlowing := func() { // with mu held
			if !signalled {
				signalled = true
				close(flowing)
			}
		}
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
					mu.Lock()
					if err != nil {
						// After the kill, unacknowledged writes may or may
						// not be there; before it, a failure is a bug.
						if !killed && earlyErr == nil {
							earlyErr = fmt.Errorf("create %s before the kill: %w", name, err)
							signalFlowing()
						}
						mu.Unlock()
						return
					}
					rv, _ := strconv.ParseInt(out.ResourceVersion, 10, 64)
					roundAcks = append(roundAcks, ack{name, rv, data})
					if len(roundAcks) >= killAfterAcks {
						signalFlowing()
					}
					mu.Unlock()
				}
			}(w)
		}
		// Pull the plug once writes are flowing from many writers, not
		// after a fixed time: on a loaded machine the first answers can
		// take longer than any fixed wait (a kill before the first ack
		// tests nothing). The short extra wait varies where in the
		// flow the kill lands.
		select {
		case <-flowing:
		case <-time.After(60 * time.Second):
			cancel()
			t.Fatalf("round %d: fewer than %d writes acknowledged in 60 s", round, killAfterAcks)
		}
		time.Sleep(time.Duration(rand.IntN(50)) * time.Millisecond)
		mu.Lock()
		killed = true
		mu.Unlock()
		s.Kill()
		cancel()
		wg.Wait()
		if earlyErr != nil {
			t.Fatalf("round %d: %v", round, earlyErr)
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
