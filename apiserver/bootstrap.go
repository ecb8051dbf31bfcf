package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-dev/skiff/apiserver/servicealloc"
	"github.com/skiff-dev/skiff/apiserver/storage"
	"github.com/skiff-dev/skiff/manifests/flux"
)

// ClusterConfigMap is where the server publishes cluster-wide settings
// that node agents need (the pod network's CIDR), in kube-system.
const ClusterConfigMap = "skiff-cluster"

// DefaultClusterCIDR is the pod network when --cluster-cidr is not given
// (k3s's default, so it is familiar and avoids Docker's 172.17/16).
const DefaultClusterCIDR = "10.42.0.0/16"

// Service address defaults, and the DNS domain of the cluster, which node
// agents' DNS serves (<svc>.<ns>.svc.cluster.local).
const (
	DefaultServiceCIDR          = servicealloc.DefaultServiceCIDR
	DefaultServiceNodePortRange = servicealloc.DefaultNodePortRange
	ClusterDomain               = "cluster.local"
)

// bootstrap creates what every cluster has from the start: the system
// namespaces and the cluster settings ConfigMap.
func (s *Server) bootstrap(ctx context.Context) error {
	for _, name := range bootstrapNamespaces {
		ns := &corev1.Namespace{TypeMeta: metav1.TypeMeta{Kind: "Namespace", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{Name: name}}
		_, err := s.createObject(ctx, s.namespaces, "", ns, false)
		if err != nil && !apierrors.IsAlreadyExists(toStatusError(err, schema.GroupResource{}, "")) {
			return fmt.Errorf("apiserver: create namespace %s: %w", name, err)
		}
	}
	// The node agents' proxy and DNS read the service settings from here.
	data := map[string]string{
		"clusterCIDR":          s.cfg.ClusterCIDR,
		"serviceCIDR":          s.services.ServiceCIDR(),
		"serviceNodePortRange": s.services.NodePortRange(),
		"clusterDomain":        ClusterDomain,
	}
	// kubectl skiff remote add points GitRepositories at the built-in
	// remote's repositories, which only this server knows the place of.
	if s.git != nil && s.git.cfg.Dir != "" {
		data[flux.GitRemoteDirKey] = s.git.cfg.Dir
	}
	cms := s.resourceByKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: ClusterConfigMap, Namespace: metav1.NamespaceSystem, Labels: map[string]string{"app.kubernetes.io/managed-by": "skiff"}},
		Data:       data,
	}
	_, err := s.createObject(ctx, cms, metav1.NamespaceSystem, cm, false)
	if err == nil || !errors.Is(err, storage.ErrAlreadyExists) {
		if err != nil {
			return fmt.Errorf("apiserver: create %s: %w", ClusterConfigMap, err)
		}
		return nil
	}
	// It exists: bring it up to date with this server's flags.
	_, err = s.guaranteedUpdate(ctx, cms, metav1.NamespaceSystem, ClusterConfigMap, "", false,
		func(cur runtime.Object, _ *storage.Entry) (runtime.Object, error) {
			c := cur.(*corev1.ConfigMap)
			b, _ := json.Marshal(c.Data)
			w, _ := json.Marshal(data)
			if string(b) != string(w) {
				c.Data = data
			}
			return c, nil
		})
	if err != nil {
		return fmt.Errorf("apiserver: update %s: %w", ClusterConfigMap, err)
	}
	return nil
}

// ServeKubernetesService makes the API server reachable from pods as the
// "kubernetes" Service in "default" (the first address of the service
// CIDR, port https 443 → port), with Endpoints and an EndpointSlice that
// list the advertise address of every live API server (see
// servicealloc.APIServerEndpoints): upstream's bootstrap controller and
// lease endpoint reconciler. It writes them now,
// then again every servicealloc.APIServerLeaseRefresh until ctx ends (so
// a deleted kubernetes Service comes back and a dead server's address
// goes). stop removes this server's address at a clean shutdown.
func (s *Server) ServeKubernetesService(ctx context.Context, advertise string, port int) (stop func()) {
	if err := s.reconcileKubernetesService(ctx, advertise, port); err != nil {
		s.log.Warn("kubernetes service: first write failed; will retry", "err", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(servicealloc.APIServerLeaseRefresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := s.reconcileKubernetesService(ctx, advertise, port); err != nil && ctx.Err() == nil {
				s.log.Warn("kubernetes service: write failed; will retry", "err", err)
			}
		}
	}()
	return func() {
		cancel()
		<-done
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.services.RemoveAPIServerLease(ctx, advertise, port); err == nil {
			_ = s.publishKubernetesService(ctx, nil, port)
		}
	}
}

func (s *Server) reconcileKubernetesService(ctx context.Context, advertise string, port int) error {
	if err := s.services.RefreshAPIServerLease(ctx, advertise, port); err != nil {
		return err
	}
	// Should our lease have expired between the write and the read (etcd
	// stalled for its whole TTL), publish ourselves; the next pass
	// corrects it.
	return s.publishKubernetesService(ctx, []string{advertise}, port)
}

// publishKubernetesService writes the kubernetes Service and its endpoints
// as the live leases give them, or as ips and port when none is live.
func (s *Server) publishKubernetesService(ctx context.Context, ips []string, port int) error {
	live, livePort, ok, err := s.services.APIServerEndpoints(ctx)
	if err != nil {
		return err
	}
	if ok {
		ips, port = live, livePort
	}
	want := s.services.KubernetesService(port)
	// Only the ports are kept up to date: the cluster IP is immutable, and
	// anything else is the user's to change, as upstream.
	err = s.ensureObject(ctx, corev1.SchemeGroupVersion.WithKind("Service"), want, func(cur runtime.Object) {
		if c := cur.(*corev1.Service); servicealloc.KubernetesServicePortsDiffer(c, want) {
			c.Spec.Ports = want.Spec.Ports
		}
	})
	if err != nil {
		return fmt.Errorf("kubernetes service: %w", err)
	}
	return s.putKubernetesEndpoints(ctx, ips, port)
}

func (s *Server) putKubernetesEndpoints(ctx context.Context, ips []string, port int) error {
	ep := servicealloc.KubernetesEndpoints(ips, port)
	err := s.ensureObject(ctx, corev1.SchemeGroupVersion.WithKind("Endpoints"), ep, func(cur runtime.Object) {
		c := cur.(*corev1.Endpoints)
		c.Labels, c.Subsets = ep.Labels, ep.Subsets
	})
	if err != nil {
		return fmt.Errorf("kubernetes endpoints: %w", err)
	}
	slice := servicealloc.KubernetesEndpointSlice(ips, port)
	err = s.ensureObject(ctx, discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"), slice, func(cur runtime.Object) {
		c := cur.(*discoveryv1.EndpointSlice)
		c.Labels, c.AddressType, c.Endpoints, c.Ports = slice.Labels, slice.AddressType, slice.Endpoints, slice.Ports
	})
	if err != nil {
		return fmt.Errorf("kubernetes endpointslice: %w", err)
	}
	return nil
}

// ensureObject creates obj, or brings the stored one in line with update
// (an update that changes nothing writes nothing). It reads first: a
// create of an existing Service would fail on its cluster IP before it
// failed on its name.
func (s *Server) ensureObject(ctx context.Context, gvk schema.GroupVersionKind, obj runtime.Object, update func(cur runtime.Object)) error {
	res := s.resourceByKind(gvk)
	m, _ := meta.Accessor(obj)
	_, _, err := s.store.Get(ctx, res.key(m.GetNamespace(), m.GetName()))
	if errors.Is(err, storage.ErrNotFound) {
		_, err = s.createObject(ctx, res, m.GetNamespace(), obj, false)
		if !errors.Is(err, storage.ErrAlreadyExists) {
			return err
		}
	} else if err != nil {
		return err
	}
	_, err = s.guaranteedUpdate(ctx, res, m.GetNamespace(), m.GetName(), "", false,
		func(cur runtime.Object, _ *storage.Entry) (runtime.Object, error) {
			update(cur)
			return cur, nil
		})
	return err
}
