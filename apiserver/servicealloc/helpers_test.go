package servicealloc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	etcd "github.com/skiff-dev/skiff/embedded-etcd"
)

// startEtcd runs an embedded etcd for the test.
func startEtcd(t *testing.T) *etcd.Server {
	t.Helper()
	e, err := etcd.Start(etcd.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// startServedEtcd runs an embedded etcd that also serves its gRPC API on
// a unix socket, and returns a second, networked client to it: what a
// second API server sharing the etcd would use.
func startServedEtcd(t *testing.T) (*etcd.Server, *clientv3.Client) {
	t.Helper()
	dir := t.TempDir()
	sock := "unix://" + filepath.Join(dir, "etcd.sock")
	e, err := etcd.Start(etcd.Config{Dir: filepath.Join(dir, "data"), ClientURL: sock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	c, err := etcd.Connect(context.Background(), etcd.ExternalConfig{Endpoints: []string{sock}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return e, c
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newAllocator(t *testing.T, client *clientv3.Client, cidr, ports string, clk *clock) *Allocator {
	t.Helper()
	cfg := Config{Etcd: client, ServiceCIDR: cidr, NodePortRange: ports}
	if clk != nil {
		cfg.Now = clk.Now
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// service is a defaulted Service as the API server hands it over.
func service(name string, typ corev1.ServiceType, ports ...int32) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)},
		Spec: corev1.ServiceSpec{
			Type: typ, Selector: map[string]string{"app": name}, SessionAffinity: corev1.ServiceAffinityNone,
			IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicySingleStack),
		},
	}
	for i, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			Name: fmt.Sprintf("p%d", i), Port: p, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(p)})
	}
	if typ == corev1.ServiceTypeLoadBalancer {
		svc.Spec.AllocateLoadBalancerNodePorts = ptr.To(true)
	}
	if typ == corev1.ServiceTypeNodePort || typ == corev1.ServiceTypeLoadBalancer {
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	return svc
}

// keys lists the reservations of a pool as owner by value.
func keys(t *testing.T, a *Allocator, p *pool) map[string]string {
	t.Helper()
	resp, err := a.etcd.Get(context.Background(), p.prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		var r record
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			t.Fatal(err)
		}
		out[string(kv.Key[len(p.prefix):])] = r.Name
	}
	return out
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func strconvItoa(i int) string { return strconv.Itoa(i) }
