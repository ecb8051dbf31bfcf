package dns

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// peers lists live agents of other clusters on the same address, and
// sweeps the files of agents that died without deregistering.
func TestRelayPeers(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, p peerRecord) string {
		b, _ := json.Marshal(p)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	alive := os.Getpid() // any live process will do
	write("other.json", peerRecord{Cluster: "b", PID: alive, Listen: "10.42.0.1:53", Relay: "127.0.0.1:1001"})
	write("same-cluster.json", peerRecord{Cluster: "a", PID: alive, Listen: "10.42.0.1:53", Relay: "127.0.0.1:1002"})
	write("other-address.json", peerRecord{Cluster: "c", PID: alive, Listen: "10.43.0.1:53", Relay: "127.0.0.1:1003"})
	dead := write("dead.json", peerRecord{Cluster: "d", PID: 1 << 30, Listen: "10.42.0.1:53", Relay: "127.0.0.1:1004"})
	write("garbage.json", peerRecord{})

	r := &relay{dir: dir, self: peerRecord{Cluster: "a", Node: "n1", PID: alive, Listen: "10.42.0.1:53", Relay: "127.0.0.1:1000"}}
	if err := r.register(); err != nil {
		t.Fatal(err)
	}
	peers := r.peers()
	if len(peers) != 1 || peers[0].Relay != "127.0.0.1:1001" {
		t.Fatalf("peers %+v, want only cluster b's agent", peers)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Fatalf("the file of a dead agent was kept: %v", err)
	}
	r.unregister()
	if _, err := os.Stat(r.file); !os.IsNotExist(err) {
		t.Fatal("unregister left the file")
	}
}
