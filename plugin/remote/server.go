package remote

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-dev/skiff/manifests/flux"
)

// clusterConfigMap is where the server publishes cluster settings, its
// directory of git repositories among them (kube-system).
const clusterConfigMap = "skiff-cluster"

// ErrNoRemote is a server without the built-in git remote.
var ErrNoRemote = errors.New("this server has no built-in git remote (skiff server runs without a data directory for it, or predates kubectl skiff remote)")

// RepoDir returns the server's directory of built-in repositories, which
// GitRepositories read with file:// URLs; ErrNoRemote when it publishes
// none.
func RepoDir(ctx context.Context, core kubernetes.Interface) (string, error) {
	cm, err := core.CoreV1().ConfigMaps(metav1.NamespaceSystem).Get(ctx, clusterConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", ErrNoRemote
	}
	if err != nil {
		return "", fmt.Errorf("read the cluster settings (kube-system/%s): %w", clusterConfigMap, err)
	}
	dir := cm.Data[flux.GitRemoteDirKey]
	if dir == "" {
		return "", ErrNoRemote
	}
	return dir, nil
}

// URL is the https address of a built-in repository on the API server.
func URL(cfg *rest.Config, namespace, name string) string {
	return strings.TrimSuffix(cfg.Host, "/") + flux.GitRemotePath(namespace, name)
}

// Token is the kubeconfig's bearer token: the built-in remote takes it as
// a password.
func Token(cfg *rest.Config) (string, error) {
	if cfg.BearerToken != "" {
		return cfg.BearerToken, nil
	}
	if cfg.BearerTokenFile != "" {
		b, err := os.ReadFile(cfg.BearerTokenFile)
		if err != nil {
			return "", fmt.Errorf("token file: %w", err)
		}
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
	}
	return "", errors.New("the kubeconfig's user has no bearer token, and the built-in git remote accepts only tokens (the kubeconfig skiff writes has one)")
}

// CAData is the certificate authority the kubeconfig trusts for the
// server, nil when it names none (the system's roots apply).
func CAData(cfg *rest.Config) ([]byte, error) {
	if len(cfg.CAData) > 0 {
		return cfg.CAData, nil
	}
	if cfg.CAFile != "" {
		b, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("certificate authority: %w", err)
		}
		return b, nil
	}
	return nil, nil
}
