package runtime

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/distribution/reference"
)

// FakeOptions configure NewFake.
type FakeOptions struct {
	// NodeName labels containers created without LabelNode, as Docker does.
	NodeName string
	// CIDR is where sandbox addresses come from (default 10.244.0.0/16).
	// Fakes of several simulated nodes should get disjoint CIDRs, or share
	// one Fake (it is safe for concurrent use), to keep pod IPs unique.
	CIDR string
	// MissingImages are references that are not present until pulled.
	MissingImages []string
	// PullError, if set, decides every pull: a non-nil error fails it
	// (wrapped in ErrImagePull), as the engine's message would.
	PullError func(ref string) error
	// LogLine is the one line Logs returns for a container that has run
	// (default "fake log line").
	LogLine string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Fake is an in-memory Runtime for scale tests and benchmarks, like kwok:
// containers start at once and run until stopped or until a test hook
// makes them exit. It mirrors the engine where the agent could notice a
// difference: names are unique, a missing image fails the create,
// ListContainers leaves exit details to InspectContainer, and an app
// container cannot start when its sandbox is not running.
type Fake struct {
	nodeName string
	logLine  string
	now      func() time.Time

	mu         sync.Mutex
	seq        uint64
	containers map[string]*fakeContainer
	names      map[string]string // container name → ID
	missing    map[string]bool   // normalised references
	pullError  func(string) error
	networks   map[string]netip.Prefix
	ips        ipPool
	subs       map[*fakeSub]struct{}
}

type fakeContainer struct {
	c         Container
	seq       uint64
	sandboxID string // for app containers
	execExit  int
	// running is closed when the container stops, ending Logs' follow.
	running chan struct{}
}

var _ Runtime = (*Fake)(nil)

// fakePauseImage is the reference a Fake's sandboxes are created from.
const fakePauseImage = PauseImageRepo + ":fake"

// NewFake returns an empty fake engine. Like regexp.MustCompile it panics
// on options no program should pass (a malformed CIDR or image reference):
// they are written by tests and benchmarks, not typed by users.
func NewFake(opts FakeOptions) *Fake {
	cidr := opts.CIDR
	if cidr == "" {
		cidr = "10.244.0.0/16"
	}
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p.Bits() > 30 {
		panic(fmt.Sprintf("runtime.NewFake: CIDR %q is not an IPv4 prefix of /30 or larger", cidr))
	}
	f := &Fake{
		nodeName:   opts.NodeName,
		logLine:    opts.LogLine,
		now:        opts.Now,
		containers: map[string]*fakeContainer{},
		names:      map[string]string{},
		missing:    map[string]bool{},
		pullError:  opts.PullError,
		networks:   map[string]netip.Prefix{},
		ips:        newIPPool(p.Masked()),
		subs:       map[*fakeSub]struct{}{},
	}
	if f.logLine == "" {
		f.logLine = "fake log line"
	}
	if f.now == nil {
		f.now = time.Now
	}
	for _, ref := range opts.MissingImages {
		key, err := imageKey(ref)
		if err != nil {
			panic(fmt.Sprintf("runtime.NewFake: missing image: %v", err))
		}
		f.missing[key] = true
	}
	return f
}

// Version returns "fake".
func (f *Fake) Version(context.Context) (string, string, error) {
	return "fake", "0.0.0-fake", nil
}

// EnsureNetwork records the network; like Docker's, a second network of
// one name with another subnet is an error.
func (f *Fake) EnsureNetwork(_ context.Context, name, cidr string) (string, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return "", fmt.Errorf("network %s: invalid IPv4 CIDR %q", name, cidr)
	}
	p = p.Masked()
	f.mu.Lock()
	defer f.mu.Unlock()
	if have, ok := f.networks[name]; ok && have != p {
		return "", fmt.Errorf("network %s exists with subnet %s, not %s", name, have, p)
	}
	f.networks[name] = p
	return p.Addr().Next().String(), nil
}

// EnsurePauseImage returns the fake pause image, which is always present.
func (f *Fake) EnsurePauseImage(context.Context) (string, error) {
	return fakePauseImage, nil
}

// imageKey normalises a reference so that "busybox" and
// "docker.io/library/busybox:latest" name one image; IDs pass unchanged.
func imageKey(ref string) (string, error) {
	r, err := reference.ParseAnyReference(ref)
	if err != nil {
		return "", fmt.Errorf("%q: %w: %v", ref, ErrInvalidImageName, err)
	}
	if named, ok := r.(reference.Named); ok {
		return reference.TagNameOnly(named).String(), nil
	}
	return r.String(), nil
}

func fakeImage(key string) *Image {
	sum := sha256.Sum256([]byte(key))
	return &Image{ID: "sha256:" + hex.EncodeToString(sum[:]), Tags: []string{key}, Size: 1 << 20}
}

// ImageStatus reports every image present except the missing ones.
func (f *Fake) ImageStatus(_ context.Context, ref string) (*Image, error) {
	key, err := imageKey(ref)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.missing[key] {
		return nil, fmt.Errorf("image %s: %w", ref, ErrNotFound)
	}
	return fakeImage(key), nil
}

// PullImage makes a missing image present, unless the pull hook fails it.
func (f *Fake) PullImage(_ context.Context, ref string, _ *Auth, progress func(string)) (*Image, error) {
	if _, err := reference.ParseNormalizedNamed(ref); err != nil {
		return nil, fmt.Errorf("pull %q: %w: %v", ref, ErrInvalidImageName, err)
	}
	key, err := imageKey(ref)
	if err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	f.mu.Lock()
	hook := f.pullError
	f.mu.Unlock()
	if hook != nil {
		if err := hook(ref); err != nil {
			return nil, &typedError{kind: ErrImagePull, err: fmt.Errorf("pull %s: %w", ref, err)}
		}
	}
	f.mu.Lock()
	delete(f.missing, key)
	f.mu.Unlock()
	if progress != nil {
		progress("Status: Downloaded newer image for " + key)
	}
	return fakeImage(key), nil
}

// SetImageMissing makes an image absent (until pulled) or present.
func (f *Fake) SetImageMissing(ref string, missing bool) error {
	key, err := imageKey(ref)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if missing {
		f.missing[key] = true
	} else {
		delete(f.missing, key)
	}
	return nil
}

// SetPullError replaces the pull hook (nil: pulls succeed).
func (f *Fake) SetPullError(hook func(ref string) error) {
	f.mu.Lock()
	f.pullError = hook
	f.mu.Unlock()
}

// newContainer registers a created container; f.mu must be held.
func (f *Fake) newContainer(name, image string, labels map[string]string) (*fakeContainer, error) {
	if name != "" {
		if id, taken := f.names[name]; taken {
			return nil, fmt.Errorf("create %s: the container name is already in use by container %s", name, id)
		}
	}
	key, err := imageKey(image)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	if f.missing[key] {
		return nil, fmt.Errorf("create %s: no such image %s: %w", name, image, ErrNotFound)
	}
	f.seq++
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], f.seq)
	sum := sha256.Sum256(append([]byte(f.nodeName+"\x00"), b[:]...))
	id := hex.EncodeToString(sum[:])
	fc := &fakeContainer{
		seq: f.seq,
		c: Container{
			ID: id, Name: name, Labels: labels, Image: image,
			ImageID: fakeImage(key).ID, State: StateCreated,
		},
	}
	f.containers[id] = fc
	if name != "" {
		f.names[name] = id
	}
	f.publish(fc, "create")
	return fc, nil
}

// RunSandbox creates a running sandbox with the next free address (none
// with HostNetwork, as with Docker). The address comes from the Fake's
// CIDR, whatever the network's subnet: the network only has to exist.
func (f *Fake) RunSandbox(_ context.Context, cfg SandboxConfig) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ip netip.Addr
	if !cfg.HostNetwork {
		if cfg.Network == "" {
			return "", "", fmt.Errorf("sandbox %s: no network given", cfg.Name)
		}
		// As with the engine, the network must have been ensured first.
		if _, ok := f.networks[cfg.Network]; !ok {
			return "", "", fmt.Errorf("sandbox %s: network %s not found: %w", cfg.Name, cfg.Network, ErrNotFound)
		}
		var err error
		if ip, err = f.ips.get(); err != nil {
			return "", "", fmt.Errorf("sandbox %s: %w", cfg.Name, err)
		}
	}
	fc, err := f.newContainer(cfg.Name, fakePauseImage, withDefaultLabels(cfg.Labels, f.nodeName, KindSandbox))
	if err != nil {
		if ip.IsValid() {
			f.ips.put(ip)
		}
		return "", "", err
	}
	if ip.IsValid() {
		fc.c.IP = ip.String()
	}
	f.start(fc)
	return fc.c.ID, fc.c.IP, nil
}

// CreateContainer creates a container in a sandbox that must exist.
func (f *Fake) CreateContainer(_ context.Context, cfg ContainerConfig) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.containers[cfg.SandboxID]; !ok {
		// The engine answers 400, not 404, for a missing namespace donor.
		return "", fmt.Errorf("create container %s: no such container: %s", cfg.Name, cfg.SandboxID)
	}
	fc, err := f.newContainer(cfg.Name, cfg.Image, withDefaultLabels(cfg.Labels, f.nodeName, ""))
	if err != nil {
		return "", err
	}
	fc.sandboxID = cfg.SandboxID
	return fc.c.ID, nil
}

// start runs a container; f.mu must be held.
func (f *Fake) start(fc *fakeContainer) {
	fc.c.State = StateRunning
	fc.c.StartedAt = f.now()
	fc.c.FinishedAt = time.Time{}
	fc.c.ExitCode = 0
	fc.c.OOMKilled = false
	fc.c.Error = ""
	fc.running = make(chan struct{})
	f.publish(fc, "start")
}

// exit ends a running container; f.mu must be held.
func (f *Fake) exit(fc *fakeContainer, code int, oom bool) {
	if fc.c.State != StateRunning {
		return
	}
	if oom {
		f.publish(fc, "oom")
	}
	fc.c.State = StateExited
	fc.c.ExitCode = code
	fc.c.OOMKilled = oom
	fc.c.FinishedAt = f.now()
	close(fc.running)
	f.publish(fc, "die")
}

// lookup returns a container or ErrNotFound; f.mu must be held.
func (f *Fake) lookup(op, id string) (*fakeContainer, error) {
	fc, ok := f.containers[id]
	if !ok {
		return nil, fmt.Errorf("%s %s: no such container: %w", op, id, ErrNotFound)
	}
	return fc, nil
}

// StartContainer starts a created or exited container. As with the engine,
// an app container whose sandbox is not running fails to start and stays
// created with Error set and exit code 128.
func (f *Fake) StartContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc, err := f.lookup("start container", id)
	if err != nil {
		return err
	}
	if fc.c.State == StateRunning {
		return nil
	}
	if fc.sandboxID != "" {
		if sb, ok := f.containers[fc.sandboxID]; !ok || sb.c.State != StateRunning {
			fc.c.Error = "cannot join network of a non running container: " + fc.sandboxID
			fc.c.ExitCode = 128
			return fmt.Errorf("start container %s: %s", id, fc.c.Error)
		}
	}
	f.start(fc)
	return nil
}

// StopContainer stops a running container: exit code 143 (it honoured
// SIGTERM) with a grace period, 137 (SIGKILL) without.
func (f *Fake) StopContainer(_ context.Context, id string, grace time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc, err := f.lookup("stop container", id)
	if err != nil {
		return err
	}
	code := 143
	if grace <= 0 {
		code = 137
	}
	f.exit(fc, code, false)
	return nil
}

// RemoveContainer removes a container, killing it if it runs, and frees a
// sandbox's address.
func (f *Fake) RemoveContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc, err := f.lookup("remove container", id)
	if err != nil {
		return err
	}
	f.exit(fc, 137, false)
	if fc.c.IP != "" {
		if ip, err := netip.ParseAddr(fc.c.IP); err == nil {
			f.ips.put(ip)
		}
	}
	delete(f.containers, id)
	if f.names[fc.c.Name] == id {
		delete(f.names, fc.c.Name)
	}
	f.publish(fc, "destroy")
	return nil
}

// ListContainers returns the matching containers, newest first, with only
// what the engine's list has (no exit code, OOM, error or times), so the
// agent is tested against what Docker really gives it.
func (f *Fake) ListContainers(_ context.Context, match map[string]string) ([]Container, error) {
	f.mu.Lock()
	found := make([]*fakeContainer, 0, 16)
	for _, fc := range f.containers {
		if labelsMatch(fc.c.Labels, match) {
			found = append(found, fc)
		}
	}
	slices.SortFunc(found, func(a, b *fakeContainer) int { return cmp.Compare(b.seq, a.seq) })
	out := make([]Container, 0, len(found))
	for _, fc := range found {
		c := fc.c
		out = append(out, Container{
			ID: c.ID, Name: c.Name, Labels: copyLabels(c.Labels),
			Image: c.Image, ImageID: c.ImageID, State: c.State, IP: c.IP,
		})
	}
	f.mu.Unlock()
	return out, nil
}

// InspectContainer returns a container, or ErrNotFound.
func (f *Fake) InspectContainer(_ context.Context, id string) (*Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc, err := f.lookup("inspect container", id)
	if err != nil {
		return nil, err
	}
	c := fc.c
	c.Labels = copyLabels(c.Labels)
	return &c, nil
}

func copyLabels(in map[string]string) map[string]string {
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// Exec "runs" a command in a running container: it writes nothing and
// returns the container's exec exit code (0 unless SetExecExitCode).
func (f *Fake) Exec(_ context.Context, id string, opts ExecOptions) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc, err := f.lookup("exec in", id)
	if err != nil {
		return -1, err
	}
	if len(opts.Cmd) == 0 {
		return -1, fmt.Errorf("exec in %s: no command", id)
	}
	if fc.c.State != StateRunning {
		return -1, fmt.Errorf("exec in %s: container is not running", id)
	}
	return fc.execExit, nil
}

// Logs writes the fake log line, once the container has started, as the
// options select; with Follow it then waits until the container stops or
// ctx ends.
func (f *Fake) Logs(ctx context.Context, id string, opts LogOptions, w io.Writer) error {
	f.mu.Lock()
	fc, err := f.lookup("logs of", id)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	started, running := fc.c.StartedAt, fc.running
	if fc.c.State != StateRunning {
		running = nil
	}
	f.mu.Unlock()

	if !started.IsZero() && opts.Tail != 0 && (opts.Since.IsZero() || !started.Before(opts.Since)) {
		line := f.logLine + "\n"
		if opts.Timestamps {
			line = started.UTC().Format(time.RFC3339Nano) + " " + line
		}
		if _, err := io.WriteString(limitLogWriter(w, opts.LimitBytes), line); err != nil {
			if errors.Is(err, errLimitReached) {
				return nil
			}
			return fmt.Errorf("logs of %s: %w", id, err)
		}
	}
	if !opts.Follow || running == nil {
		return nil
	}
	select {
	case <-running:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("logs of %s: %w", id, ctx.Err())
	}
}

// Exit makes a running container exit with code, as if its process ended.
func (f *Fake) Exit(id string, code int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc, err := f.lookup("exit", id)
	if err != nil {
		return err
	}
	if fc.c.State != StateRunning {
		return fmt.Errorf("exit %s: container is not running", id)
	}
	f.exit(fc, code, false)
	return nil
}

// OOMKill makes a running container die as the kernel's OOM killer makes
// it: exit code 137, OOMKilled, and an "oom" event before "die".
func (f *Fake) OOMKill(id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc, err := f.lookup("oom kill", id)
	if err != nil {
		return err
	}
	if fc.c.State != StateRunning {
		return fmt.Errorf("oom kill %s: container is not running", id)
	}
	f.exit(fc, 137, true)
	return nil
}

// SetExecExitCode sets what Exec returns in a container (e.g. to fail an
// exec probe).
func (f *Fake) SetExecExitCode(id string, code int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc, err := f.lookup("set exec exit code", id)
	if err != nil {
		return err
	}
	fc.execExit = code
	return nil
}

// Events delivers events for containers whose labels include match, in
// order, until ctx ends; then the event channel closes. A slow reader
// delays only itself: events queue for it without bound. The error
// channel never carries an error (the fake's stream cannot fail) and
// closes with the event channel.
func (f *Fake) Events(ctx context.Context, match map[string]string) (<-chan Event, <-chan error) {
	s := &fakeSub{match: copyLabels(match), wake: make(chan struct{}, 1)}
	f.mu.Lock()
	f.subs[s] = struct{}{}
	f.mu.Unlock()
	out := make(chan Event)
	errc := make(chan error)
	go func() {
		defer close(errc)
		defer close(out)
		defer func() {
			f.mu.Lock()
			delete(f.subs, s)
			f.mu.Unlock()
		}()
		for {
			s.mu.Lock()
			queue := s.queue
			s.queue = nil
			s.mu.Unlock()
			for _, ev := range queue {
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-s.wake:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, errc
}

type fakeSub struct {
	match map[string]string
	wake  chan struct{}
	mu    sync.Mutex
	queue []Event
}

// publish queues an event for every interested subscriber; f.mu must be
// held, which keeps the events of one container in order.
func (f *Fake) publish(fc *fakeContainer, action string) {
	for s := range f.subs {
		if !labelsMatch(fc.c.Labels, s.match) {
			continue
		}
		s.mu.Lock()
		s.queue = append(s.queue, Event{ContainerID: fc.c.ID, Labels: copyLabels(fc.c.Labels), Action: action})
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// ipPool hands out the addresses of a prefix, skipping the network
// address, the gateway (the first host) and the broadcast address, and
// reusing released ones.
type ipPool struct {
	prefix netip.Prefix
	next   netip.Addr
	last   netip.Addr
	free   []netip.Addr
}

func newIPPool(p netip.Prefix) ipPool {
	// The last address of p: the base with every host bit set.
	base := p.Addr().As4()
	n := binary.BigEndian.Uint32(base[:]) | (1<<(32-p.Bits()) - 1)
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return ipPool{prefix: p, next: p.Addr().Next().Next(), last: netip.AddrFrom4(b)}
}

func (p *ipPool) get() (netip.Addr, error) {
	if n := len(p.free); n > 0 {
		ip := p.free[n-1]
		p.free = p.free[:n-1]
		return ip, nil
	}
	if p.next.Compare(p.last) >= 0 {
		return netip.Addr{}, fmt.Errorf("no free address left in %s", p.prefix)
	}
	ip := p.next
	p.next = p.next.Next()
	return ip, nil
}

func (p *ipPool) put(ip netip.Addr) {
	p.free = append(p.free, ip)
}
