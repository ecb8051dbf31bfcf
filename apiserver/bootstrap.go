package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-dev/skiff/apiserver/storage"
)

// ClusterConfigMap is where the server publishes cluster-wide settings
// that node agents need (the pod network's CIDR), in kube-system.
const ClusterConfigMap = "skiff-cluster"

// DefaultClusterCIDR is the pod network when --cluster-cidr is not given
// (k3s's default, so it is familiar and avoids Docker's 172.17/16).
const DefaultClusterCIDR = "10.42.0.0/16"

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
	data := map[string]string{"clusterCIDR": s.cfg.ClusterCIDR}
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
