package nodeagent

import (
	"context"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	apiruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// objectRef names a ConfigMap or Secret a pod on this node mounts.
type objectRef struct {
	secret    bool
	namespace string
	name      string
}

// objectWatcher keeps one watch on each ConfigMap and Secret that the
// pods on this node mount as volumes, and calls onChange when one changes
// (or appears, or goes): the kubelet's "Watch" change-detection strategy.
// Mounted files then follow an edit within a second, where the periodic
// resync alone takes up to its period (10 s) plus the object cache's TTL;
// and the node still never watches every Secret of the cluster.
//
// Each watch is an informer on a single object (field selector
// metadata.name) that caches only the object's metadata: the data is read
// by the pod sync, through objectSource.
type objectWatcher struct {
	client   kubernetes.Interface
	onChange func(objectRef)

	mu      sync.Mutex
	watches map[objectRef]context.CancelFunc
}

func newObjectWatcher(c kubernetes.Interface, onChange func(objectRef)) *objectWatcher {
	return &objectWatcher{client: c, onChange: onChange, watches: map[objectRef]context.CancelFunc{}}
}

// mountedObjects are the ConfigMaps and Secrets pods mount: volumes and
// projected volumes. Environment variables are read once, when a
// container starts, so they need no watch.
func mountedObjects(pods []*corev1.Pod) map[objectRef]bool {
	refs := map[objectRef]bool{}
	for _, p := range pods {
		add := func(secret bool, name string) {
			if name != "" {
				refs[objectRef{secret: secret, namespace: p.Namespace, name: name}] = true
			}
		}
		for _, v := range p.Spec.Volumes {
			switch {
			case v.ConfigMap != nil:
				add(false, v.ConfigMap.Name)
			case v.Secret != nil:
				add(true, v.Secret.SecretName)
			case v.Projected != nil:
				for _, s := range v.Projected.Sources {
					if s.ConfigMap != nil {
						add(false, s.ConfigMap.Name)
					}
					if s.Secret != nil {
						add(true, s.Secret.Name)
					}
				}
			}
		}
	}
	return refs
}

// set makes the watched objects exactly refs: it starts the missing
// watches and stops those no pod mounts any more.
func (w *objectWatcher) set(ctx context.Context, refs map[objectRef]bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ref, stop := range w.watches {
		if !refs[ref] {
			stop()
			delete(w.watches, ref)
		}
	}
	for ref := range refs {
		if _, ok := w.watches[ref]; ok || ctx.Err() != nil {
			continue
		}
		wctx, stop := context.WithCancel(ctx)
		w.watches[ref] = stop
		go w.watch(wctx, ref)
	}
}

// watched reports how many objects are watched (for tests).
func (w *objectWatcher) watched() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.watches)
}

// watch runs one object's informer until ctx ends. client-go's reflector
// relists after a 410 and backs off on errors.
func (w *objectWatcher) watch(ctx context.Context, ref objectRef) {
	var obj apiruntime.Object
	var lw *cache.ListWatch
	if ref.secret {
		secrets := w.client.CoreV1().Secrets(ref.namespace)
		obj, lw = &corev1.Secret{}, namedListWatch(ref.name, secrets.List, secrets.Watch)
	} else {
		configMaps := w.client.CoreV1().ConfigMaps(ref.namespace)
		obj, lw = &corev1.ConfigMap{}, namedListWatch(ref.name, configMaps.List, configMaps.Watch)
	}
	changed := func(any) { w.onChange(ref) }
	_, informer := cache.NewInformerWithOptions(cache.InformerOptions{
		// As client-go's generated informers do: a client that cannot
		// stream the initial list (the fake one in tests) gets list+watch.
		ListerWatcher: cache.ToListWatcherWithWatchListSemantics(lw, w.client),
		ObjectType:    obj,
		Handler: cache.ResourceEventHandlerDetailedFuncs{
			// The initial list is what the pod's first sync read already.
			AddFunc: func(o any, initial bool) {
				if !initial {
					changed(o)
				}
			},
			UpdateFunc: func(old, cur any) {
				if old.(metav1.Object).GetResourceVersion() != cur.(metav1.Object).GetResourceVersion() {
					changed(cur)
				}
			},
			DeleteFunc: changed,
		},
		// Only the metadata is kept: the values may be large, and Secret
		// values have no business lingering in another cache.
		Transform: func(o any) (any, error) {
			switch v := o.(type) {
			case *corev1.ConfigMap:
				return &corev1.ConfigMap{ObjectMeta: v.ObjectMeta}, nil
			case *corev1.Secret:
				return &corev1.Secret{ObjectMeta: v.ObjectMeta}, nil
			}
			return o, nil
		},
	})
	informer.RunWithContext(ctx)
}

// namedListWatch lists and watches the one object called name through a
// typed client's List and Watch.
func namedListWatch[L apiruntime.Object](name string, list func(context.Context, metav1.ListOptions) (L, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)) *cache.ListWatch {
	selector := fields.OneTermEqualSelector("metadata.name", name).String()
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (apiruntime.Object, error) {
			o.FieldSelector = selector
			return list(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = selector
			return watchFn(ctx, o)
		},
	}
}
