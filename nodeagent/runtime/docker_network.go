package runtime

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"
)

// mtuOption is the bridge driver's MTU option.
const mtuOption = "com.docker.network.driver.mtu"

// EnsureNetwork creates the pod network, a bridge with the subnet cidr,
// unless it exists; every agent on the engine calls it, so a create that
// fails because another agent just made the network is not an error. A
// network of that name with another subnet is: pods would get addresses
// outside the cluster CIDR.
func (d *Docker) EnsureNetwork(ctx context.Context, name, cidr string) (string, error) {
	want, err := netip.ParsePrefix(cidr)
	if err != nil || !want.Addr().Is4() {
		return "", fmt.Errorf("network %s: invalid IPv4 CIDR %q", name, cidr)
	}
	want = want.Masked()
	if gw, found, err := d.inspectNetwork(ctx, name, want); found || err != nil {
		return gw, err
	}

	gateway := want.Addr().Next()
	opts := network.CreateOptions{
		Driver: "bridge",
		IPAM: &network.IPAM{
			Driver: "default",
			Config: []network.IPAMConfig{{Subnet: want.String(), Gateway: gateway.String()}},
		},
		Labels: d.ownLabels(),
	}
	// The engine's MTU setting (daemon.json "mtu") applies only to its
	// default bridge; copy it, or pods on hosts whose uplink has a small
	// MTU (VMs, tunnels) stall on large packets leaving the host.
	if def, err := d.client.NetworkInspect(ctx, "bridge", network.InspectOptions{}); err == nil {
		if mtu := def.Options[mtuOption]; mtu != "" {
			opts.Options = map[string]string{mtuOption: mtu}
		}
	}
	_, cerr := d.client.NetworkCreate(ctx, name, opts)
	if cerr == nil {
		d.log.Info("network created", "network", name, "subnet", want.String(), "gateway", gateway.String())
		return gateway.String(), nil
	}
	// Another agent may be creating it at this moment: the engine then
	// answers with a name conflict, or with "pool overlaps" while the
	// other network holds the subnet but is not yet visible by name.
	// Wait for it briefly, unless the subnet is plainly someone else's.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if gw, found, err := d.inspectNetwork(ctx, name, want); found || err != nil {
			return gw, err
		}
		if other := d.overlappingNetwork(ctx, name, want); other != "" {
			return "", fmt.Errorf("create network %s: subnet %s overlaps network %s: %w", name, want, other, engineErr(cerr))
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("create network %s (%s): %w", name, want, engineErr(cerr))
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("create network %s: %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// overlappingNetwork names another network whose subnet overlaps want.
func (d *Docker) overlappingNetwork(ctx context.Context, name string, want netip.Prefix) string {
	list, err := d.client.NetworkList(ctx, network.ListOptions{})
	if err != nil {
		return ""
	}
	for _, n := range list {
		if n.Name == name {
			continue
		}
		for _, c := range n.IPAM.Config {
			if p, err := netip.ParsePrefix(c.Subnet); err == nil && p.Overlaps(want) {
				return fmt.Sprintf("%s (%s)", n.Name, p)
			}
		}
	}
	return ""
}

// inspectNetwork reports whether the network exists and, if it does, its
// gateway, or an error when its subnet is not want.
func (d *Docker) inspectNetwork(ctx context.Context, name string, want netip.Prefix) (string, bool, error) {
	n, err := d.client.NetworkInspect(ctx, name, network.InspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("inspect network %s: %w", name, engineErr(err))
	}
	// The engine also resolves IDs and ID prefixes; only the name counts here.
	if n.Name != name {
		return "", false, nil
	}
	var subnets []string
	for _, c := range n.IPAM.Config {
		p, err := netip.ParsePrefix(c.Subnet)
		if err != nil || p.Masked() != want {
			subnets = append(subnets, c.Subnet)
			continue
		}
		if c.Gateway != "" {
			return c.Gateway, true, nil
		}
		return want.Addr().Next().String(), true, nil
	}
	return "", true, fmt.Errorf("network %s exists with subnet %v, not %s: remove it (docker network rm %s) or use its subnet as the cluster CIDR", name, subnets, want, name)
}

// RemoveNetwork removes a network Skiff created. The engine refuses while
// containers (of other clusters sharing it) are still attached; that
// error is returned as is. ErrNotFound when it does not exist.
func (d *Docker) RemoveNetwork(ctx context.Context, name string) error {
	if err := d.client.NetworkRemove(ctx, name); err != nil {
		return fmt.Errorf("remove network %s: %w", name, engineErr(err))
	}
	return nil
}
