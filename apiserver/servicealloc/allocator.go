package servicealloc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/types"
)

// Config configures an Allocator.
type Config struct {
	Etcd *clientv3.Client
	// ServiceCIDR is the range cluster IPs come from (DefaultServiceCIDR).
	ServiceCIDR string
	// NodePortRange is the range node ports come from, "low-high" or
	// "low+count" (DefaultNodePortRange).
	NodePortRange string
	// KeyPrefix is the etcd prefix of the reservations and the API server
	// leases (default "/skiff/serviceallocations/"). It lies outside the
	// API's /registry/ so no API request can reach it.
	KeyPrefix string
	// ServicesPrefix is where the API server stores Services, read by
	// repair (default "/registry/core/services/").
	ServicesPrefix string
	// RepairGrace is how old a reservation no Service holds must be before
	// repair releases it (default 1 minute): a younger one may belong to a
	// create that has reserved but not yet stored its Service.
	RepairGrace time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
}

// Allocator reserves cluster IPs and node ports in etcd. It is safe for
// concurrent use, and any number of Allocators (in one process or in
// several API servers) may share one etcd.
type Allocator struct {
	etcd           *clientv3.Client
	ipr            ipRange
	ports          portRange
	ips, nodePorts *pool
	keyPrefix      string
	servicesPrefix string
	grace          time.Duration
	now            func() time.Time
	log            *slog.Logger
}

// New checks the ranges and returns an Allocator.
func New(cfg Config) (*Allocator, error) {
	if cfg.Etcd == nil {
		return nil, errors.New("servicealloc: an etcd client is required")
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = DefaultServiceCIDR
	}
	if cfg.NodePortRange == "" {
		cfg.NodePortRange = DefaultNodePortRange
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = "/skiff/serviceallocations/"
	}
	if !strings.HasSuffix(cfg.KeyPrefix, "/") {
		cfg.KeyPrefix += "/"
	}
	if cfg.ServicesPrefix == "" {
		cfg.ServicesPrefix = "/registry/core/services/"
	}
	if cfg.RepairGrace == 0 {
		cfg.RepairGrace = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ipr, err := parseIPRange(cfg.ServiceCIDR)
	if err != nil {
		return nil, err
	}
	ports, err := parsePortRange(cfg.NodePortRange)
	if err != nil {
		return nil, err
	}
	return &Allocator{
		etcd:           cfg.Etcd,
		ipr:            ipr,
		ports:          ports,
		ips:            newIPPool(cfg.KeyPrefix, ipr),
		nodePorts:      newPortPool(cfg.KeyPrefix, ports),
		keyPrefix:      cfg.KeyPrefix,
		servicesPrefix: cfg.ServicesPrefix,
		grace:          cfg.RepairGrace,
		now:            cfg.Now,
		log:            cfg.Logger,
	}, nil
}

// ServiceCIDR is the service CIDR, normalised ("10.96.0.0/16").
func (a *Allocator) ServiceCIDR() string { return a.ipr.prefix.String() }

// NodePortRange is the node port range ("30000-32767").
func (a *Allocator) NodePortRange() string { return a.ports.String() }

// FirstIP is the first address of the service CIDR, which the kubernetes
// Service holds ("10.96.0.1").
func (a *Allocator) FirstIP() netip.Addr { return a.ipr.addr(0) }

// owner names the Service a reservation belongs to.
type owner struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	UID       types.UID `json:"uid"`
}

func (o owner) String() string { return o.Namespace + "/" + o.Name }

// record is the value of a reservation key.
type record struct {
	owner
	ReservedAt time.Time `json:"reservedAt"`
}

func (a *Allocator) key(p *pool, off int) string { return p.prefix + p.name(off) }

func (a *Allocator) encode(o owner) string {
	b, _ := json.Marshal(record{owner: o, ReservedAt: a.now().UTC()})
	return string(b)
}

// reserve creates the key of one offset if it does not exist: the single
// step that makes an address a Service's. It reports whether it won.
func (a *Allocator) reserve(ctx context.Context, p *pool, off int, o owner) (bool, error) {
	key := a.key(p, off)
	resp, err := a.etcd.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, a.encode(o))).
		Commit()
	if err != nil {
		return false, fmt.Errorf("reserve %s %s: %w", p.what, p.name(off), err)
	}
	return resp.Succeeded, nil
}

// reserved reports whether an offset is reserved (dry runs).
func (a *Allocator) reserved(ctx context.Context, p *pool, off int) (bool, error) {
	resp, err := a.etcd.Get(ctx, a.key(p, off), clientv3.WithCountOnly())
	if err != nil {
		return false, fmt.Errorf("read %s %s: %w", p.what, p.name(off), err)
	}
	return resp.Count > 0, nil
}

// taken lists the reserved offsets of a pool (keys only).
func (a *Allocator) taken(ctx context.Context, p *pool) (map[int]bool, error) {
	resp, err := a.etcd.Get(ctx, p.prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("list reserved %ss: %w", p.what, err)
	}
	out := make(map[int]bool, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		if off, ok := p.parse(strings.TrimPrefix(string(kv.Key), p.prefix)); ok {
			out[off] = true
		}
	}
	return out, nil
}

// next reserves a free offset: a random one in the upper band, else in
// the lower band (upstream's strategy), scanning forward from a random
// start. A key another allocator created since the list is skipped. With
// dryRun it returns a free offset without reserving it.
func (a *Allocator) next(ctx context.Context, p *pool, o owner, dryRun bool) (int, error) {
	taken, err := a.taken(ctx, p)
	if err != nil {
		return 0, err
	}
	if len(taken) >= p.size {
		return 0, ErrFull
	}
	for _, band := range [][2]int{{p.band, p.size}, {0, p.band}} {
		lo, n := band[0], band[1]-band[0]
		if n <= 0 {
			continue
		}
		start := rand.IntN(n)
		for i := range n {
			off := lo + (start+i)%n
			if taken[off] {
				continue
			}
			if dryRun {
				return off, nil
			}
			won, err := a.reserve(ctx, p, off, o)
			if err != nil {
				return 0, err
			}
			if won {
				return off, nil
			}
			// Lost a race with another allocator: try the next one.
			taken[off] = true
		}
	}
	return 0, ErrFull
}

// release deletes the key of an offset if it belongs to the Service uid
// (any owner when uid is empty). A key that changed between the read and
// the delete is read again.
func (a *Allocator) release(ctx context.Context, p *pool, off int, uid types.UID) error {
	key := a.key(p, off)
	for range 5 {
		resp, err := a.etcd.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("release %s %s: %w", p.what, p.name(off), err)
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		kv := resp.Kvs[0]
		var r record
		if err := json.Unmarshal(kv.Value, &r); err == nil && uid != "" && r.UID != uid {
			// Someone else's (repair gave it to the Service that holds
			// it): not ours to free.
			return nil
		}
		del, err := a.etcd.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)).
			Then(clientv3.OpDelete(key)).
			Commit()
		if err != nil {
			return fmt.Errorf("release %s %s: %w", p.what, p.name(off), err)
		}
		if del.Succeeded {
			return nil
		}
	}
	return fmt.Errorf("release %s %s: it kept changing", p.what, p.name(off))
}
