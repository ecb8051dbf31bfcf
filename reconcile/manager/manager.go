// Package manager runs Skiff's controllers: one shared informer factory,
// one event broadcaster, and leader election through a Lease so that of
// several servers sharing one etcd only one runs the controllers at a time.
package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
)

// Controller is one control loop. Its constructor registers the informers
// it needs on the shared factories; Run blocks until ctx ends.
type Controller interface {
	Name() string
	Run(ctx context.Context) error
}

// Deps is what controllers are built from.
type Deps struct {
	Client   kubernetes.Interface
	Metadata metadata.Interface
	// Informers and MetadataInformers are shared by all controllers and
	// started by the manager once it leads.
	Informers         informers.SharedInformerFactory
	MetadataInformers metadatainformer.SharedInformerFactory
	// Dynamic and DynamicInformers reach resources client-go has no
	// typed client for (Flux's GitRepository and Kustomization) and any
	// kind a GitOps revision applies. New sets both; NewDeps leaves them
	// nil, for tests to fill in when the controller under test needs them.
	Dynamic          dynamic.Interface
	DynamicInformers dynamicinformer.DynamicSharedInformerFactory
	Logger           *slog.Logger
	Clock            clock.WithTicker
	broadcaster      record.EventBroadcaster
}

// Recorder returns an event recorder reporting as component (e.g.
// "deployment-controller"), as kube-controller-manager's controllers do.
func (d *Deps) Recorder(component string) record.EventRecorder {
	return d.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
}

// Options configure a Manager.
type Options struct {
	Logger *slog.Logger
	Clock  clock.WithTicker
	// Identity names this server in the leader lease (default: hostname+pid).
	Identity string
	// LeaseDuration, RenewDeadline, RetryPeriod tune leader election
	// (kube-controller-manager's defaults 15 s / 10 s / 2 s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Resync is the informers' resync period (default 0: none; every
	// controller is level-triggered on events and its own requeues).
	Resync time.Duration
}

// Manager runs controllers.
type Manager struct {
	opts        Options
	deps        *Deps
	mu          sync.Mutex
	controllers []Controller
	broadcaster record.EventBroadcaster
	leading     chan struct{}
}

// New builds a manager and the dependencies controllers are built from.
func New(cfg *rest.Config, opts Options) (*Manager, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Identity == "" {
		hn, _ := os.Hostname()
		opts.Identity = fmt.Sprintf("%s_%d", hn, os.Getpid())
	}
	if opts.LeaseDuration == 0 {
		opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod = 15*time.Second, 10*time.Second, 2*time.Second
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	m := &Manager{opts: opts, leading: make(chan struct{})}
	m.deps = NewDeps(client, md, opts.Logger, opts.Clock, opts.Resync)
	m.deps.Dynamic = dyn
	m.deps.DynamicInformers = dynamicinformer.NewDynamicSharedInformerFactory(dyn, opts.Resync)
	m.broadcaster = m.deps.broadcaster
	return m, nil
}

// NewDeps builds controller dependencies over given clients — what New
// does, exposed so tests can build controllers over fake clients. The
// event broadcaster is not started: events are recorded once a manager
// (or the test) starts it with StartEvents.
func NewDeps(client kubernetes.Interface, md metadata.Interface, log *slog.Logger, clk clock.WithTicker, resync time.Duration) *Deps {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	d := &Deps{
		Client:      client,
		Metadata:    md,
		Informers:   informers.NewSharedInformerFactory(client, resync),
		Logger:      log,
		Clock:       clk,
		broadcaster: record.NewBroadcaster(),
	}
	if md != nil {
		d.MetadataInformers = metadatainformer.NewSharedInformerFactory(md, resync)
	}
	return d
}

// StartEvents sends recorded events to the API until ctx ends.
func (d *Deps) StartEvents(ctx context.Context) {
	d.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: d.Client.CoreV1().Events("")})
	go func() {
		<-ctx.Done()
		d.broadcaster.Shutdown()
	}()
}

// Deps returns what controllers are built from.
func (m *Manager) Deps() *Deps { return m.deps }

// Add registers a controller; call before Start.
func (m *Manager) Add(c Controller) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.controllers = append(m.controllers, c)
}

// Leading is closed once this manager leads and its controllers run.
func (m *Manager) Leading() <-chan struct{} { return m.leading }

// Start campaigns for leadership and, while leading, runs every
// controller. It blocks until ctx ends or the lease is lost. Losing the
// lease stops the controllers and their informers (a new leader takes
// over) and returns an error; a manager runs one term only, because its
// informers cannot be restarted — reconcile.Start builds a new one and
// campaigns again, where kube-controller-manager would exit the process.
func (m *Manager) Start(ctx context.Context) error {
	log := m.opts.Logger
	// The event broadcaster lives as long as this term.
	ctx, endTerm := context.WithCancel(ctx)
	defer endTerm()
	m.deps.StartEvents(ctx)
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: "skiff-controller-manager"},
		Client:     m.deps.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: m.opts.Identity},
	}
	var lost error
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   m.opts.LeaseDuration,
		RenewDeadline:   m.opts.RenewDeadline,
		RetryPeriod:     m.opts.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            "skiff-controller-manager",
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				log.Info("leading: starting controllers", "identity", m.opts.Identity)
				m.runControllers(ctx)
			},
			OnStoppedLeading: func() {
				if ctx.Err() == nil {
					lost = errors.New("lost the controller-manager lease")
					log.Error("lost the controller-manager lease")
				}
			},
		},
	})
	if err != nil {
		return err
	}
	le.Run(ctx)
	return lost
}

func (m *Manager) runControllers(ctx context.Context) {
	m.deps.Informers.Start(ctx.Done())
	m.deps.Informers.WaitForCacheSync(ctx.Done())
	if m.deps.MetadataInformers != nil {
		m.deps.MetadataInformers.Start(ctx.Done())
		m.deps.MetadataInformers.WaitForCacheSync(ctx.Done())
	}
	if m.deps.DynamicInformers != nil {
		m.deps.DynamicInformers.Start(ctx.Done())
		m.deps.DynamicInformers.WaitForCacheSync(ctx.Done())
	}
	m.mu.Lock()
	cs := append([]Controller(nil), m.controllers...)
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func(c Controller) {
			defer wg.Done()
			if err := c.Run(ctx); err != nil && ctx.Err() == nil {
				m.opts.Logger.Error("controller stopped", "controller", c.Name(), "err", err)
			}
		}(c)
	}
	close(m.leading)
	wg.Wait()
}
