package proxy

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ClusterConfigMap (in kube-system) holds the cluster's network settings,
// published by the server.
const ClusterConfigMap = "skiff-cluster"

// Defaults where the ConfigMap does not say, Kubernetes' own.
const (
	DefaultServiceCIDR   = "10.96.0.0/16"
	DefaultNodePortRange = "30000-32767"
)

// clusterConfig is what the proxy reads of the cluster's settings.
type clusterConfig struct {
	// ClusterCIDR is the pod network; invalid if not published.
	ClusterCIDR netip.Prefix
	// ServiceCIDR is where ClusterIPs come from.
	ServiceCIDR netip.Prefix
	// NodePortMin and NodePortMax bound NodePorts.
	NodePortMin, NodePortMax int
}

// parseClusterConfig reads the keys clusterCIDR, serviceCIDR and
// serviceNodePortRange; the latter two default to Kubernetes' values.
func parseClusterConfig(data map[string]string) (clusterConfig, error) {
	var c clusterConfig
	var err error
	if s := data["clusterCIDR"]; s != "" {
		if c.ClusterCIDR, err = netip.ParsePrefix(s); err != nil || !c.ClusterCIDR.Addr().Is4() {
			return c, fmt.Errorf("clusterCIDR %q: want an IPv4 CIDR", s)
		}
		c.ClusterCIDR = c.ClusterCIDR.Masked()
	}
	s := data["serviceCIDR"]
	if s == "" {
		s = DefaultServiceCIDR
	}
	if c.ServiceCIDR, err = netip.ParsePrefix(s); err != nil || !c.ServiceCIDR.Addr().Is4() {
		return c, fmt.Errorf("serviceCIDR %q: want an IPv4 CIDR", s)
	}
	c.ServiceCIDR = c.ServiceCIDR.Masked()
	s = data["serviceNodePortRange"]
	if s == "" {
		s = DefaultNodePortRange
	}
	lo, hi, ok := strings.Cut(s, "-")
	if c.NodePortMin, err = strconv.Atoi(strings.TrimSpace(lo)); err != nil || !ok {
		return c, fmt.Errorf("serviceNodePortRange %q: want MIN-MAX", s)
	}
	if c.NodePortMax, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil || c.NodePortMin < 1 || c.NodePortMax > 65535 || c.NodePortMin > c.NodePortMax {
		return c, fmt.Errorf("serviceNodePortRange %q: want MIN-MAX within 1-65535", s)
	}
	return c, nil
}

// readClusterConfig reads kube-system/skiff-cluster.
func readClusterConfig(ctx context.Context, client kubernetes.Interface) (clusterConfig, error) {
	cm, err := client.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, ClusterConfigMap, metav1.GetOptions{})
	if err != nil {
		return clusterConfig{}, fmt.Errorf("read the cluster settings (kube-system/%s): %w", ClusterConfigMap, err)
	}
	c, err := parseClusterConfig(cm.Data)
	if err != nil {
		return c, fmt.Errorf("kube-system/%s: %w", ClusterConfigMap, err)
	}
	return c, nil
}
