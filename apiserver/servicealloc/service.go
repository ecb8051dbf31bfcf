package servicealloc

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

var serviceKind = schema.GroupKind{Kind: "Service"}

// slot is one reserved offset of a pool.
type slot struct {
	p   *pool
	off int
}

// Change is what one create or update of a Service reserved and what it
// frees. Finish it once the write of the Service succeeded or failed; a
// nil Change (not a Service) finishes as a no-op.
type Change struct {
	a      *Allocator
	owner  owner
	dryRun bool
	// reserved are given back if the Service is not stored.
	reserved []slot
	// freed are given back once the Service is stored (what an update
	// dropped).
	freed []slot
}

// Finish completes the change: stored says whether the Service was
// written. Releasing is best effort: what fails to be released (etcd
// unreachable) is left to repair, so the caller's write stands.
func (c *Change) Finish(ctx context.Context, stored bool) {
	if c == nil || c.dryRun {
		return
	}
	slots := c.reserved
	if stored {
		slots = c.freed
	}
	c.reserved, c.freed = nil, nil
	c.a.releaseSlots(ctx, slots, c.owner)
}

// Revert gives back what the change reserved (a write that failed or is
// retried).
func (c *Change) Revert(ctx context.Context) { c.Finish(ctx, false) }

func (a *Allocator) releaseSlots(ctx context.Context, slots []slot, o owner) {
	if len(slots) == 0 {
		return
	}
	// The request may be over (client gone) but what it held must go back.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, s := range slots {
		if err := a.release(ctx, s.p, s.off, o.UID); err != nil {
			a.log.Warn("release failed; repair will release it", "namespace", o.Namespace, "service", o.Name, "err", err)
		}
	}
}

func (a *Allocator) newChange(svc *corev1.Service, dryRun bool) *Change {
	return &Change{a: a, dryRun: dryRun, owner: owner{Namespace: svc.Namespace, Name: svc.Name, UID: svc.UID}}
}

// take reserves a requested offset for the change.
func (c *Change) take(ctx context.Context, p *pool, off int) (bool, error) {
	if c.dryRun {
		taken, err := c.a.reserved(ctx, p, off)
		return !taken, err
	}
	won, err := c.a.reserve(ctx, p, off, c.owner)
	if won {
		c.reserved = append(c.reserved, slot{p, off})
	}
	return won, err
}

// next reserves any free offset for the change.
func (c *Change) next(ctx context.Context, p *pool) (int, error) {
	off, err := c.a.next(ctx, p, c.owner, c.dryRun)
	if err == nil && !c.dryRun {
		c.reserved = append(c.reserved, slot{p, off})
	}
	return off, err
}

func (c *Change) free(p *pool, off int) { c.freed = append(c.freed, slot{p, off}) }

// takeIP reserves a requested cluster IP; the error is ErrIPAllocated,
// an *IPNotInRangeError or an etcd failure.
func (c *Change) takeIP(ctx context.Context, ip string) error {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return &IPNotInRangeError{IP: ip, ValidRange: c.a.ServiceCIDR()}
	}
	off, ok := c.a.ipr.offset(addr)
	if !ok {
		return &IPNotInRangeError{IP: ip, ValidRange: c.a.ServiceCIDR()}
	}
	won, err := c.take(ctx, c.a.ips, off)
	if err != nil {
		return err
	}
	if !won {
		return ErrIPAllocated
	}
	return nil
}

// takePort reserves a requested node port; the error is
// ErrPortAllocated, a *PortNotInRangeError or an etcd failure.
func (c *Change) takePort(ctx context.Context, port int) error {
	off, ok := c.a.ports.offset(port)
	if !ok {
		return &PortNotInRangeError{ValidPorts: c.a.NodePortRange()}
	}
	won, err := c.take(ctx, c.a.nodePorts, off)
	if err != nil {
		return err
	}
	if !won {
		return ErrPortAllocated
	}
	return nil
}

func (c *Change) nextPort(ctx context.Context) (int, error) {
	off, err := c.next(ctx, c.a.nodePorts)
	if err != nil {
		return 0, err
	}
	return c.a.ports.port(off), nil
}

func (c *Change) freePort(port int32) {
	if off, ok := c.a.ports.offset(int(port)); ok {
		c.free(c.a.nodePorts, off)
	}
}

func (c *Change) freeIP(ip string) {
	if addr, err := netip.ParseAddr(ip); err == nil {
		if off, ok := c.a.ipr.offset(addr); ok {
			c.free(c.a.ips, off)
		}
	}
}

// allocationFailed wraps an error of a dynamic allocation the way
// upstream does: a full range is an internal error ("failed to allocate a
// serviceIP: range is full"); etcd failures keep their cause so the API
// server maps them (timeouts, unavailability) as it maps storage errors.
func allocationFailed(what string, err error) error {
	if errors.Is(err, ErrFull) {
		return apierrors.NewInternalError(fmt.Errorf("failed to allocate a %s: %v", what, err))
	}
	return fmt.Errorf("failed to allocate a %s: %w", what, err)
}

// requestFailed turns the failure to reserve a requested value into the
// 422 upstream answers, or passes an etcd failure through.
func requestFailed(svc *corev1.Service, path *field.Path, value any, prefix string, err error) error {
	if refused(err) {
		return apierrors.NewInvalid(serviceKind, svc.Name, field.ErrorList{field.Invalid(path, value, prefix+err.Error())})
	}
	return err
}

// refused tells a requested value that cannot be had (taken, out of
// range) from a failure to ask etcd.
func refused(err error) bool {
	var ipRange *IPNotInRangeError
	var portRange *PortNotInRangeError
	return errors.Is(err, ErrIPAllocated) || errors.Is(err, ErrPortAllocated) || errors.As(err, &ipRange) || errors.As(err, &portRange)
}

// Create defaults and checks the IP families of a new Service and
// reserves its cluster IP, node ports and health-check node port, writing
// the allocated values into svc. The caller stores svc and then calls
// Finish on the change. svc.UID must be set: reservations name it.
func (a *Allocator) Create(ctx context.Context, svc *corev1.Service, dryRun bool) (*Change, error) {
	if err := a.initIPFamilies(svc, nil); err != nil {
		return nil, err
	}
	c := a.newChange(svc, dryRun)
	err := c.allocClusterIPs(ctx, svc)
	if err == nil && needsNodePorts(svc) {
		err = c.initNodePorts(ctx, svc)
	}
	if err == nil && needsHealthCheck(svc) {
		err = c.allocHealthCheck(ctx, svc)
	}
	if err != nil {
		c.Revert(ctx)
		return nil, err
	}
	return c, nil
}

// Update reserves what an update of a Service adds and notes what it
// drops, writing allocated values into svc. Run it on the new Service
// after defaults.ServiceForUpdate (which carries over the allocated values
// a client left out) and validation; old is the stored Service.
func (a *Allocator) Update(ctx context.Context, svc, old *corev1.Service, dryRun bool) (*Change, error) {
	if err := a.initIPFamilies(svc, old); err != nil {
		return nil, err
	}
	c := a.newChange(svc, dryRun)
	err := c.updateClusterIPs(ctx, svc, old)
	if err == nil {
		err = c.updateNodePorts(ctx, svc, old)
	}
	if err == nil {
		err = c.updateHealthCheck(ctx, svc, old)
	}
	if err != nil {
		c.Revert(ctx)
		return nil, err
	}
	return c, nil
}

// Release gives back everything a deleted Service held. Failures are
// logged and left to repair.
func (a *Allocator) Release(ctx context.Context, svc *corev1.Service) {
	c := a.newChange(svc, false)
	if hasClusterIPs(svc) {
		for _, ip := range clusterIPs(svc) {
			c.freeIP(ip)
		}
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			c.freePort(p.NodePort)
		}
	}
	if svc.Spec.HealthCheckNodePort != 0 {
		c.freePort(svc.Spec.HealthCheckNodePort)
	}
	c.Finish(ctx, true)
}

func needsNodePorts(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
}

// shouldAllocateNodePorts: a LoadBalancer may opt out of node ports
// (allocateLoadBalancerNodePorts: false); requested ones are still honoured.
func shouldAllocateNodePorts(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return ptr.Deref(svc.Spec.AllocateLoadBalancerNodePorts, true)
	}
	return false
}

func needsHealthCheck(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

func isHeadless(svc *corev1.Service) bool {
	return len(svc.Spec.ClusterIPs) > 0 && svc.Spec.ClusterIPs[0] == corev1.ClusterIPNone
}

// hasClusterIPs: the Service's type gives it cluster IPs and it is not
// headless.
func hasClusterIPs(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && !isHeadless(svc) && svc.Spec.ClusterIP != corev1.ClusterIPNone
}

// clusterIPs are the Service's cluster IPs, from clusterIPs or, for an
// object written before clusterIPs existed, clusterIP.
func clusterIPs(svc *corev1.Service) []string {
	if len(svc.Spec.ClusterIPs) > 0 {
		return svc.Spec.ClusterIPs
	}
	if svc.Spec.ClusterIP != "" {
		return []string{svc.Spec.ClusterIP}
	}
	return nil
}

// allocClusterIPs gives a Service its cluster IP: the requested one if
// free and in range, else any. ExternalName and headless Services get none.
func (c *Change) allocClusterIPs(ctx context.Context, svc *corev1.Service) error {
	if !hasClusterIPs(svc) {
		return nil
	}
	requested := ""
	if ips := clusterIPs(svc); len(ips) > 0 {
		requested = ips[0]
	}
	if requested != "" {
		if err := c.takeIP(ctx, requested); err != nil {
			return requestFailed(svc, field.NewPath("spec", "clusterIPs"), svc.Spec.ClusterIPs,
				fmt.Sprintf("failed to allocate IP %v: ", requested), err)
		}
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = requested, []string{requested}
		return nil
	}
	off, err := c.next(ctx, c.a.ips)
	if err != nil {
		return allocationFailed("serviceIP", err)
	}
	ip := c.a.ipr.addr(off).String()
	svc.Spec.ClusterIP, svc.Spec.ClusterIPs = ip, []string{ip}
	return nil
}

// initNodePorts gives each port of a new NodePort or LoadBalancer Service
// its node port. Ports with the same port number (53/TCP and 53/UDP)
// share one node port, as upstream's; a node port requested for any of
// them is the one they share.
func (c *Change) initNodePorts(ctx context.Context, svc *corev1.Service) error {
	byPort := map[int32]int32{}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		if sp.NodePort == 0 && !shouldAllocateNodePorts(svc) {
			continue
		}
		path := field.NewPath("spec", "ports").Index(i).Child("nodePort")
		shared := byPort[sp.Port]
		if shared == 0 {
			if np := requestedNodePort(sp.Port, svc.Spec.Ports); np != 0 {
				if err := c.takePort(ctx, int(np)); err != nil {
					return requestFailed(svc, path, np, "", err)
				}
				sp.NodePort = np
			} else {
				np, err := c.nextPort(ctx)
				if err != nil {
					return allocationFailed("nodePort", err)
				}
				sp.NodePort = int32(np)
			}
			byPort[sp.Port] = sp.NodePort
			continue
		}
		if sp.NodePort == 0 {
			sp.NodePort = shared
		} else if sp.NodePort != shared {
			if err := c.takePort(ctx, int(sp.NodePort)); err != nil {
				return requestFailed(svc, path, sp.NodePort, "", err)
			}
		}
	}
	return nil
}

// requestedNodePort is the node port requested for any port with this
// port number, or 0.
func requestedNodePort(port int32, ports []corev1.ServicePort) int32 {
	for _, p := range ports {
		if p.Port == port && p.NodePort != 0 {
			return p.NodePort
		}
	}
	return 0
}

// allocHealthCheck gives a LoadBalancer with externalTrafficPolicy Local
// its health-check node port (upstream answers failures with 500).
func (c *Change) allocHealthCheck(ctx context.Context, svc *corev1.Service) error {
	if hc := svc.Spec.HealthCheckNodePort; hc != 0 {
		if err := c.takePort(ctx, int(hc)); err != nil {
			if !refused(err) {
				return err
			}
			return apierrors.NewInternalError(fmt.Errorf("failed to allocate requested HealthCheck NodePort %v: %v", hc, err))
		}
		return nil
	}
	np, err := c.nextPort(ctx)
	if err != nil {
		if errors.Is(err, ErrFull) {
			return apierrors.NewInternalError(fmt.Errorf("failed to allocate a HealthCheck NodePort: %v", err))
		}
		return err
	}
	svc.Spec.HealthCheckNodePort = int32(np)
	return nil
}

// updateClusterIPs: a Service that stops being ExternalName gets a cluster
// IP; one that becomes ExternalName frees its own. The cluster IP of any
// other Service is immutable (validation).
func (c *Change) updateClusterIPs(ctx context.Context, svc, old *corev1.Service) error {
	switch {
	case old.Spec.Type == corev1.ServiceTypeExternalName && svc.Spec.Type != corev1.ServiceTypeExternalName:
		return c.allocClusterIPs(ctx, svc)
	case !hasClusterIPs(old):
		return nil
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		for _, ip := range clusterIPs(old) {
			c.freeIP(ip)
		}
	}
	return nil
}

// updateNodePorts: a Service that no longer needs node ports frees them;
// one that does keeps those it had (defaults.ServiceForUpdate carried them
// over), reserves newly requested ones, gets new ones for added ports and
// frees those no port uses any more.
func (c *Change) updateNodePorts(ctx context.Context, svc, old *corev1.Service) error {
	if needsNodePorts(old) && (svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Type == corev1.ServiceTypeClusterIP) {
		for _, np := range nodePorts(old) {
			c.freePort(np)
		}
	}
	if !needsNodePorts(svc) {
		return nil
	}
	had := map[int32]bool{}
	for _, np := range nodePorts(old) {
		had[np] = true
	}
	taken := map[int32]bool{}
	type protoPort struct {
		proto corev1.Protocol
		port  int32
	}
	seen := map[protoPort]bool{}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		if sp.NodePort == 0 && !shouldAllocateNodePorts(svc) {
			continue
		}
		if sp.NodePort != 0 {
			if !had[sp.NodePort] && !taken[sp.NodePort] {
				if err := c.takePort(ctx, int(sp.NodePort)); err != nil {
					return requestFailed(svc, field.NewPath("spec", "ports").Index(i).Child("nodePort"), sp.NodePort, "", err)
				}
				taken[sp.NodePort] = true
			}
		} else {
			np, err := c.nextPort(ctx)
			if err != nil {
				return allocationFailed("nodePort", err)
			}
			sp.NodePort = int32(np)
		}
		k := protoPort{sp.Protocol, sp.NodePort}
		if seen[k] {
			return apierrors.NewInvalid(serviceKind, svc.Name, field.ErrorList{
				field.Duplicate(field.NewPath("spec", "ports").Index(i).Child("nodePort"), sp.NodePort)})
		}
		seen[k] = true
	}
	now := map[int32]bool{}
	for _, np := range nodePorts(svc) {
		now[np] = true
	}
	for np := range had {
		if !now[np] {
			c.freePort(np)
		}
	}
	return nil
}

// updateHealthCheck: becoming LoadBalancer+Local allocates the health-check
// node port; ceasing to be frees it.
func (c *Change) updateHealthCheck(ctx context.Context, svc, old *corev1.Service) error {
	switch needed, needs := needsHealthCheck(old), needsHealthCheck(svc); {
	case !needed && needs:
		return c.allocHealthCheck(ctx, svc)
	case needed && !needs && old.Spec.HealthCheckNodePort != 0:
		c.freePort(old.Spec.HealthCheckNodePort)
	}
	return nil
}

func nodePorts(svc *corev1.Service) []int32 {
	var out []int32
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			out = append(out, p.NodePort)
		}
	}
	return out
}
