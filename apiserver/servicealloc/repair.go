package servicealloc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
)

// RepairResult counts what one repair pass did.
type RepairResult struct {
	// Services is how many Services were read.
	Services int
	// Restored: addresses a Service held without a reservation, now
	// reserved for it.
	Restored int
	// Transferred: reservations naming another Service, handed to the
	// Service that holds the address.
	Transferred int
	// Released: reservations no Service holds, older than the grace
	// period, deleted.
	Released int
	// Pending: reservations no Service holds yet, younger than the grace
	// period (a create in flight), left for a later pass.
	Pending int
	// Duplicates: addresses held by more than one Service (only one can
	// have the reservation; the others must be recreated).
	Duplicates int
	// OutOfRange: addresses Services hold outside the current ranges (the
	// flags changed); they are not reserved.
	OutOfRange int
}

// Repair makes the reservations match the stored Services, read together
// at one etcd revision. It is idempotent, safe to run on several API
// servers at once (every write is conditional on what was read), and
// safe against concurrent creates (see RepairGrace).
func (a *Allocator) Repair(ctx context.Context) (RepairResult, error) {
	var res RepairResult
	resp, err := a.etcd.Txn(ctx).Then(
		clientv3.OpGet(a.servicesPrefix, clientv3.WithPrefix()),
		clientv3.OpGet(a.ips.prefix, clientv3.WithPrefix()),
		clientv3.OpGet(a.nodePorts.prefix, clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return res, fmt.Errorf("repair: read services and reservations: %w", err)
	}
	services := make([]*corev1.Service, 0, len(resp.Responses[0].GetResponseRange().Kvs))
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		svc := &corev1.Service{}
		if err := json.Unmarshal(kv.Value, svc); err != nil {
			return res, fmt.Errorf("repair: decode %s: %w", kv.Key, err)
		}
		services = append(services, svc)
	}
	res.Services = len(services)
	// The oldest Service keeps a contested address, so the answer does not
	// depend on which server repairs.
	sort.SliceStable(services, func(i, j int) bool {
		ti, tj := services[i].CreationTimestamp, services[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return services[i].Namespace+"/"+services[i].Name < services[j].Namespace+"/"+services[j].Name
	})
	ipClaims, portClaims := map[string][]owner{}, map[string][]owner{}
	for _, svc := range services {
		o := owner{Namespace: svc.Namespace, Name: svc.Name, UID: svc.UID}
		if hasClusterIPs(svc) {
			for _, ip := range clusterIPs(svc) {
				addr, err := netip.ParseAddr(ip)
				if off, ok := a.ipr.offset(addr); err == nil && ok {
					ipClaims[a.ips.name(off)] = append(ipClaims[a.ips.name(off)], o)
				} else {
					res.OutOfRange++
					a.log.Warn("cluster IP is not within the service CIDR; recreate the service to give it one that is",
						"namespace", svc.Namespace, "service", svc.Name, "clusterIP", ip, "serviceCIDR", a.ServiceCIDR())
				}
			}
		}
		ports := nodePorts(svc)
		if svc.Spec.HealthCheckNodePort != 0 {
			ports = append(ports, svc.Spec.HealthCheckNodePort)
		}
		seen := map[string]bool{}
		for _, np := range ports {
			off, ok := a.ports.offset(int(np))
			if !ok {
				res.OutOfRange++
				a.log.Warn("node port is not within the node port range; recreate the service to give it one that is",
					"namespace", svc.Namespace, "service", svc.Name, "nodePort", np, "range", a.NodePortRange())
				continue
			}
			// 53/TCP and 53/UDP share one node port: one claim.
			if name := a.nodePorts.name(off); !seen[name] {
				seen[name] = true
				portClaims[name] = append(portClaims[name], o)
			}
		}
	}
	a.repairPool(ctx, a.ips, ipClaims, resp.Responses[1].GetResponseRange().Kvs, &res)
	a.repairPool(ctx, a.nodePorts, portClaims, resp.Responses[2].GetResponseRange().Kvs, &res)
	return res, ctx.Err()
}

func (a *Allocator) repairPool(ctx context.Context, p *pool, claims map[string][]owner, kvs []*mvccpb.KeyValue, res *RepairResult) {
	type held struct {
		rec record
		rev int64
	}
	reservations := make(map[string]held, len(kvs))
	for _, kv := range kvs {
		var r record
		// An unreadable value counts as owned by nobody, reserved long ago.
		_ = json.Unmarshal(kv.Value, &r)
		reservations[strings.TrimPrefix(string(kv.Key), p.prefix)] = held{r, kv.ModRevision}
	}
	names := make([]string, 0, len(claims))
	for n := range claims {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		holders := claims[name]
		keeper := holders[0]
		for _, other := range holders[1:] {
			res.Duplicates++
			a.log.Error("address is held by more than one service; recreate all but one of them",
				"kind", p.what, "value", name, "kept", keeper.String(), "service", other.String())
		}
		key := p.prefix + name
		h, ok := reservations[name]
		switch {
		case !ok:
			put, err := a.etcd.Txn(ctx).
				If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
				Then(clientv3.OpPut(key, a.encode(keeper))).Commit()
			if err != nil {
				a.log.Warn("repair: reserve failed", "kind", p.what, "value", name, "err", err)
				continue
			}
			if put.Succeeded {
				res.Restored++
				a.log.Info("repair: reserved an address a service held without a reservation",
					"kind", p.what, "value", name, "namespace", keeper.Namespace, "service", keeper.Name)
			}
		case holdsIt(holders, h.rec.owner):
		default:
			put, err := a.etcd.Txn(ctx).
				If(clientv3.Compare(clientv3.ModRevision(key), "=", h.rev)).
				Then(clientv3.OpPut(key, a.encode(keeper))).Commit()
			if err != nil {
				a.log.Warn("repair: transfer failed", "kind", p.what, "value", name, "err", err)
				continue
			}
			if put.Succeeded {
				res.Transferred++
				a.log.Info("repair: handed a reservation to the service that holds the address",
					"kind", p.what, "value", name, "from", h.rec.owner.String(), "to", keeper.String())
			}
		}
	}
	now := a.now()
	for name, h := range reservations {
		if _, ok := claims[name]; ok {
			continue
		}
		if now.Sub(h.rec.ReservedAt) < a.grace {
			res.Pending++
			continue
		}
		key := p.prefix + name
		del, err := a.etcd.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", h.rev)).
			Then(clientv3.OpDelete(key)).Commit()
		if err != nil {
			a.log.Warn("repair: release failed", "kind", p.what, "value", name, "err", err)
			continue
		}
		if del.Succeeded {
			res.Released++
			a.log.Info("repair: released an address no service holds",
				"kind", p.what, "value", name, "namespace", h.rec.Namespace, "service", h.rec.Name)
		}
	}
}

// holdsIt: the reservation's owner is one of the Services holding the
// address (by UID; a Service recreated under the same name is another).
func holdsIt(holders []owner, o owner) bool {
	for _, h := range holders {
		if h.UID == o.UID && h.Namespace == o.Namespace && h.Name == o.Name {
			return true
		}
	}
	return false
}

// RunRepair repairs every interval until ctx ends (the caller runs the
// first pass itself, before serving). Upstream repairs every 3 minutes.
func (a *Allocator) RunRepair(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := a.Repair(ctx)
		if err != nil {
			if ctx.Err() == nil {
				a.log.Warn("service address repair failed; will retry", "err", err)
			}
			continue
		}
		if res != (RepairResult{Services: res.Services, Pending: res.Pending}) {
			a.log.Info("service addresses repaired", "services", res.Services, "restored", res.Restored, "transferred", res.Transferred,
				"released", res.Released, "pending", res.Pending, "duplicates", res.Duplicates, "outOfRange", res.OutOfRange)
		}
	}
}
