// Package servicealloc reserves the addresses Services are reached at —
// cluster IPs from the service CIDR and node ports from the node port
// range — so that no two Services ever hold the same one, even when
// several API servers share one etcd; and it keeps the reservations true
// to the stored Services (repair) and publishes the API server itself as
// the "kubernetes" Service.
//
// # Reservations
//
// Every allocated IP or port is one etcd key under a Skiff-owned prefix
// (default /skiff/serviceallocations/), e.g.
//
//	/skiff/serviceallocations/clusterips/10.96.12.7
//	/skiff/serviceallocations/nodeports/30417
//
// whose value names the owning Service (namespace, name, UID) and when it
// was reserved. A key is created only by a transaction that succeeds if it
// does not exist (create-if-absent), so two allocators — in one process or
// in two API servers — can never both win the same address. This is the
// design of upstream's MultiCIDRServiceAllocator, where every cluster IP is
// an IPAddress object created with a plain create; Skiff keeps the same
// one-key-per-address shape in its own keyspace instead of serving the
// networking.k8s.io IPAddress API. Upstream's older design (one bitmap
// object per range, updated with compare-and-swap) serialises every
// allocation through one key; this one does not.
//
// A dynamic allocation lists the reserved keys (keys only), picks a random
// free offset and tries to create it, moving on when another allocator got
// there first. As upstream (KEP-3070), ranges are split in two bands: the
// lower band (16 to 256 addresses for IPs, 16 to 128 ports) is used by
// dynamic allocation only when the upper band is full, so a user who asks
// for a specific address in the lower band rarely finds it taken.
//
// # The Service flow (kube-apiserver's service REST storage)
//
// Create: IP families are defaulted and checked (this cluster is
// single-stack IPv4), then cluster IPs, node ports and the health-check
// node port are reserved — requested values if free and in range (else 422
// with upstream's messages), the rest allocated. The caller stores the
// Service and then calls Change.Finish: a failed store gives everything
// back. Update reserves what the new spec adds (a port added to a NodePort
// Service gets a new node port; ExternalName→ClusterIP gets an IP) and, only
// once the update is stored, releases what it drops (NodePort→ClusterIP
// frees the node ports; →ExternalName frees the IP). Delete releases all.
// A release removes a key only if the Service named in it is the one being
// released.
//
// # Repair
//
// A crash between a reservation and the write of the Service (or between
// the delete of a Service and its release) must leak nothing. Repair reads
// the stored Services and every reservation at one etcd revision, then
// re-reserves what a Service holds without a key (e.g. after a restore from
// a backup), hands a key to the Service that holds its address when the key
// names another, and releases keys no Service holds once they are older
// than a grace period (a reservation younger than that may belong to a
// create still in flight). Upstream runs the same pass as its repair
// controllers, on start and every few minutes; so does the API server.
//
// # The kubernetes Service
//
// The first address of the service CIDR (10.96.0.1 by default) is the
// "kubernetes" Service in "default", port "https" 443 → the API server's
// port. Its Endpoints and EndpointSlice list the advertise addresses of
// the live API servers, each of which keeps a key on a short-lived etcd
// lease (upstream's lease endpoint reconciler). One EndpointSlice has one
// port, and upstream assumes all API servers listen on the same one; when
// they do not, every server publishes the same choice (the lowest
// address's port and the servers on it) rather than overwrite the others.
// This package builds the desired objects and keeps the leases; the API
// server writes the objects.
//
// Limits: IPv4 only (an IPv6 or dual-stack service CIDR is refused with a
// clear error, and Services asking for IPv6 get 422 "not configured on this
// cluster"). Dry-run allocations pick a value that is free now without
// reserving it.
package servicealloc
