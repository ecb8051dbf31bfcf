// Package dns is the cluster DNS each node agent serves to its pods, and
// the composition of a pod's resolv.conf.
//
// # What it answers
//
// A Server watches Services, EndpointSlices, Pods and Namespaces of the
// whole cluster (client-go informers; pods slimmed to their addresses) and
// answers, per the Kubernetes DNS specification as CoreDNS's kubernetes
// plugin serves it (TTL 5 s):
//
//	<svc>.<ns>.svc.<domain>            A/AAAA: the ClusterIPs; for a headless Service every ready
//	                                   endpoint address; ExternalName: CNAME (+ the target's records)
//	<host>.<svc>.<ns>.svc.<domain>     A/AAAA of one endpoint: the hostname its EndpointSlice carries
//	                                   (StatefulSet pods: hostname + subdomain) or its dashed address
//	_<port>._<proto>.<svc>.<ns>.svc.<domain>
//	                                   SRV of a named port: to <svc>.<ns>.svc.<domain>, or for a
//	                                   headless Service to each endpoint's name; addresses as extra
//	<a-b-c-d>.<ns>.pod.<domain>        A of a pod that has that address in that namespace
//	reverse names of ClusterIPs and endpoint addresses
//	                                   PTR to the Service or endpoint name
//	dns-version.<domain>               TXT "1.1.0"; the zone's SOA and NS at <domain>
//
// A name in the cluster domain that does not exist is NXDOMAIN, a name
// without records of the asked type NODATA, both with the zone's SOA in
// the authority section. Everything else (and PTR of other addresses) is
// forwarded to the resolvers of the node's resolv.conf (the agent's
// --resolv-conf, like the kubelet's), over the transport the client used.
// Over UDP an answer larger than the client accepts is cut with the TC
// bit set, and the client retries over TCP.
//
// The cluster domain is the clusterDomain key of the kube-system/
// skiff-cluster ConfigMap, cluster.local by default.
//
// # Where it listens
//
// Pods reach their node on the pod network's gateway, so the server binds
// <gateway>:53, UDP and TCP. Several agents can share one Docker engine
// and so one host network namespace: each binds with SO_REUSEPORT, the
// kernel spreads queries over all of them, and an agent that dies takes
// its sockets with it. Agents of one cluster answer identically. Agents of
// different clusters on one engine also share the gateway; an agent that
// receives a query from an address that is no pod of its cluster relays it
// over loopback to those agents, and the one whose pod asked answers
// (relay.go). The server starts answering only once its caches are in
// sync; if it cannot serve (the gateway is not on this host, as with a
// remote engine or the fake runtime, or port 53 is taken), pods fall back
// to the node's resolvers with the kubelet's MissingClusterDNS events.
//
// # Pod resolv.conf
//
// PodResolvConf follows the kubelet's rules for dnsPolicy (ClusterFirst,
// ClusterFirstWithHostNet, Default, None), the merge of the pod's
// dnsConfig and the limits on name servers and search domains; see its
// comment for the one deviation (loopback resolvers and Default pods).
//
// # Differences from CoreDNS
//
// No cache, no autopath, no wildcard (*) names, no multicluster or zonal
// names; pod names are answered only for pods that exist ("pods
// verified"). The answers for the names above are CoreDNS's.
package dns
