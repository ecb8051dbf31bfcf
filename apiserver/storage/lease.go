package storage

import (
	"context"
	"fmt"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// leaseManager hands out etcd leases for objects with a TTL (Events). One
// lease is shared by all writes within a minute whose TTL fits it, as
// kube-apiserver does, so a burst of events does not create a lease each.
type leaseManager struct {
	client *clientv3.Client

	mu      sync.Mutex
	id      clientv3.LeaseID
	expires time.Time
	ttl     int64
}

const leaseReuseWindow = 60 * time.Second

func (m *leaseManager) lease(ctx context.Context, ttl int64) (clientv3.LeaseID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	want := now.Add(time.Duration(ttl) * time.Second)
	// Reuse the current lease if it expires no earlier than asked and no
	// more than the reuse window later.
	if m.id != 0 && m.ttl == ttl && !m.expires.Before(want) && m.expires.Sub(want) <= leaseReuseWindow {
		return m.id, nil
	}
	grantTTL := ttl + int64(leaseReuseWindow/time.Second)
	resp, err := m.client.Grant(ctx, grantTTL)
	if err != nil {
		return 0, fmt.Errorf("grant lease: %w", wrapEtcd(err))
	}
	m.id, m.ttl, m.expires = resp.ID, ttl, now.Add(time.Duration(grantTTL)*time.Second)
	return m.id, nil
}
