package nodeagent

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// objectSource reads the ConfigMaps and Secrets pods use (for volumes and
// env) straight from the API, with a short cache so a burst of syncs asks
// once. No cluster-wide watch of Secrets on every node: objectWatcher
// watches just the objects mounted here and drops their cached copies
// when they change.
type objectSource struct {
	client kubernetes.Interface
	clock  clock.PassiveClock
	ttl    time.Duration

	mu         sync.Mutex
	configMaps map[string]cached[*corev1.ConfigMap]
	secrets    map[string]cached[*corev1.Secret]
}

type cached[T any] struct {
	obj     T
	err     error
	fetched time.Time
}

func newObjectSource(c kubernetes.Interface, clk clock.PassiveClock) *objectSource {
	return &objectSource{client: c, clock: clk, ttl: 2 * time.Second,
		configMaps: map[string]cached[*corev1.ConfigMap]{}, secrets: map[string]cached[*corev1.Secret]{}}
}

// ConfigMap returns a ConfigMap (or the API's NotFound error).
func (s *objectSource) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	return get(s, s.configMaps, ns+"/"+name, func() (*corev1.ConfigMap, error) {
		return s.client.CoreV1().ConfigMaps(ns).Get(context.Background(), name, metav1.GetOptions{})
	})
}

// Secret returns a Secret (or the API's NotFound error).
func (s *objectSource) Secret(ns, name string) (*corev1.Secret, error) {
	return get(s, s.secrets, ns+"/"+name, func() (*corev1.Secret, error) {
		return s.client.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	})
}

func get[T any](s *objectSource, m map[string]cached[T], key string, fetch func() (T, error)) (T, error) {
	now := s.clock.Now()
	s.mu.Lock()
	if c, ok := m[key]; ok && now.Sub(c.fetched) < s.ttl {
		s.mu.Unlock()
		return c.obj, c.err
	}
	s.mu.Unlock()
	obj, err := fetch()
	s.mu.Lock()
	m[key] = cached[T]{obj: obj, err: err, fetched: now}
	if len(m) > 4096 {
		for k, c := range m {
			if now.Sub(c.fetched) > s.ttl {
				delete(m, k)
			}
		}
	}
	s.mu.Unlock()
	return obj, err
}

// forget drops the cached copy of a watched object that changed, so the
// next read gets the new one instead of waiting out the TTL.
func (s *objectSource) forget(ref objectRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := ref.namespace + "/" + ref.name
	if ref.secret {
		delete(s.secrets, key)
	} else {
		delete(s.configMaps, key)
	}
}
