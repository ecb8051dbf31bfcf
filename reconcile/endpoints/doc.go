// Package endpoints is Skiff's Endpoints controller: for every Service
// with a selector it keeps the legacy core/v1 Endpoints object of the
// same name, as kube-controller-manager's endpoint controller does, for
// the tools and proxies that still read Endpoints rather than
// EndpointSlices.
//
// The object lists, per set of resolved ports, the addresses of the
// selected pods that are Ready (addresses) and those that are not
// (notReadyAddresses), each with its node and a reference to its pod;
// pods being deleted are left out unless the Service publishes
// not-ready addresses. Past 1,000 addresses it is truncated and marked
// endpoints.kubernetes.io/over-capacity=truncated. It carries the
// endpoints.kubernetes.io/last-change-trigger-time annotation and the
// Service's labels.
//
// Inputs: Services, Pods and Endpoints through the shared informers.
// Output: Endpoints creates, updates and deletes through the API (an
// Endpoints object goes when its Service does: it has no owner reference
// for the garbage collector to follow), and FailedToCreateEndpoint /
// FailedToUpdateEndpoint events. Endpoints of Services without a
// selector belong to whoever manages them and are never touched.
// desiredSubsets, repack and truncate (subsets.go) are the pure part.
package endpoints
