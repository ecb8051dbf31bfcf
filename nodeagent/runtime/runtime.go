package runtime

import (
	"context"
	"errors"
	"io"
	"time"
)

// Labels on every container the agent creates. LabelManaged marks a
// container as Skiff's; LabelNode names the agent (node) that owns it, so
// several agents can share one engine without touching each other's.
const (
	LabelManaged = "skiff.dev/managed" // "true"
	// LabelCluster names the cluster (the first 12 hex digits of its CA's
	// hash), so `skiff reset` removes exactly one cluster's containers.
	LabelCluster      = "skiff.dev/cluster"
	LabelNode         = "skiff.dev/node"
	LabelPodNamespace = "skiff.dev/pod-namespace"
	LabelPodName      = "skiff.dev/pod-name"
	LabelPodUID       = "skiff.dev/pod-uid"
	// LabelContainer is the container's name in the pod spec; empty for a sandbox.
	LabelContainer = "skiff.dev/container"
	// LabelKind is KindSandbox, KindInit or KindApp.
	LabelKind = "skiff.dev/kind"
	// LabelRestartCount is how many times this container was restarted
	// before this instance was created (the pod status restartCount).
	LabelRestartCount = "skiff.dev/restart-count"
	// LabelSpecHash is a hash of the container's spec, to notice changes
	// (e.g. a new image) that require a new container.
	LabelSpecHash = "skiff.dev/spec-hash"
	// LabelSandboxAttempt numbers a pod's sandboxes (0, 1, …); every
	// container carries the attempt of the sandbox it was started in, so
	// a new sandbox starts init containers from the first again.
	LabelSandboxAttempt = "skiff.dev/sandbox-attempt"
)

// Container kinds (LabelKind).
const (
	KindSandbox = "sandbox"
	KindInit    = "init"
	KindApp     = "app"
	// KindEphemeral is a container kubectl debug added to a running pod:
	// started once, never restarted, never part of the pod's readiness.
	KindEphemeral = "ephemeral"
)

// State of a container.
type State string

const (
	StateCreated State = "created"
	StateRunning State = "running"
	StateExited  State = "exited"
	// StateUnknown: the engine reports something else (paused, dead…).
	StateUnknown State = "unknown"
)

// Container is what the engine knows of one container (or sandbox).
type Container struct {
	ID     string
	Name   string
	Labels map[string]string
	// Image is the reference the container was created from; ImageID the
	// resolved image (docker's sha256:… ID).
	Image   string
	ImageID string
	State   State
	// Set once the container has run.
	StartedAt  time.Time
	FinishedAt time.Time
	ExitCode   int
	OOMKilled  bool
	// Error is the engine's message when the container failed to start.
	Error string
	// IP is a sandbox's address on the pod network.
	IP string
}

// Image is a local image.
type Image struct {
	ID   string   // sha256:…
	Tags []string // repo:tag references
	// RepoDigests are repo@sha256:… references, when the image came from a registry.
	RepoDigests []string
	Size        int64
}

// Auth is registry credentials for a pull (from imagePullSecrets).
type Auth struct {
	Username, Password, Auth, ServerAddress, IdentityToken, RegistryToken string
}

// DNSConfig is what a pod's resolv.conf says.
type DNSConfig struct {
	Servers  []string
	Searches []string
	Options  []string
}

// PortMapping publishes a container port on the host (hostPort).
type PortMapping struct {
	ContainerPort int32
	HostPort      int32
	HostIP        string
	Protocol      string // "tcp", "udp" or "sctp"
}

// SandboxConfig describes a pod sandbox: the pause container that owns the
// pod's network namespace (and IPC namespace, and hostname).
type SandboxConfig struct {
	Name     string
	Labels   map[string]string
	Hostname string
	// Network is the engine network the sandbox joins (ignored with HostNetwork).
	Network     string
	HostNetwork bool
	HostPID     bool
	HostIPC     bool
	DNS         DNSConfig
	// ExtraHosts are "name:ip" entries for /etc/hosts.
	ExtraHosts []string
	Ports      []PortMapping
	// Sysctls are namespaced sysctls from the pod security context.
	Sysctls map[string]string
}

// Mount is one bind or tmpfs mount into a container.
type Mount struct {
	// Source is a host path (bind mount); empty with Tmpfs.
	Source   string
	Target   string
	ReadOnly bool
	// Tmpfs mounts an in-memory filesystem of at most SizeBytes (0: default).
	Tmpfs     bool
	SizeBytes int64
}

// Resources are the limits the engine enforces.
type Resources struct {
	// NanoCPUs limits CPU (1e9 = one CPU); 0 means no limit.
	NanoCPUs int64
	// CPUShares weights CPU (from requests); 0 means the default.
	CPUShares int64
	// MemoryBytes limits memory; 0 means no limit.
	MemoryBytes int64
}

// Security is the subset of a container security context the engine applies.
type Security struct {
	User           string // "uid[:gid]" or ""
	GroupAdd       []string
	Privileged     bool
	ReadOnlyRootFS bool
	CapAdd         []string
	CapDrop        []string
	// NoNewPrivileges from allowPrivilegeEscalation=false.
	NoNewPrivileges bool
}

// ContainerConfig describes an app or init container of a pod.
type ContainerConfig struct {
	Name   string
	Labels map[string]string
	Image  string
	// Entrypoint replaces the image's ENTRYPOINT when non-nil (the pod's
	// command); Cmd replaces its CMD when non-nil (the pod's args).
	Entrypoint []string
	Cmd        []string
	Env        []string // "K=V"
	WorkingDir string
	Mounts     []Mount
	// SandboxID is the sandbox whose network, IPC (and with
	// ShareProcessNamespace, PID) namespaces the container joins.
	SandboxID             string
	ShareProcessNamespace bool
	HostPID               bool
	// TargetPID, when set, is the container whose PID namespace this one
	// joins (an ephemeral container's targetContainerName: kubectl debug
	// --target sees the target's processes).
	TargetPID string
	Resources Resources
	Security  Security
	TTY       bool
	Stdin     bool
	StdinOnce bool
	// StopSignal overrides the image's stop signal ("SIGTERM" if empty).
	StopSignal string
}

// LogOptions select what Logs returns.
type LogOptions struct {
	Follow     bool
	Timestamps bool
	// Since, if not zero, starts at this time.
	Since time.Time
	// Tail, if ≥ 0, starts this many lines before the end.
	Tail int64
	// LimitBytes, if > 0, stops after this many bytes.
	LimitBytes int64
}

// ExecOptions describe a command run in a running container.
type ExecOptions struct {
	Cmd    []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer // ignored with TTY
	TTY    bool
	// Resize, if not nil, delivers terminal size changes.
	Resize <-chan TerminalSize
}

// TerminalSize is a TTY's size.
type TerminalSize struct{ Width, Height uint16 }

// AttachOptions connect streams to the main process of a running
// container (kubectl attach). Whether there is a TTY was fixed when the
// container was created; TTY must say the same.
type AttachOptions struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer // ignored with TTY
	TTY    bool
	// Resize, if not nil, delivers terminal size changes.
	Resize <-chan TerminalSize
}

// Event says a container changed state (started, died, was removed…).
// The agent uses events only as hints to resync a pod promptly.
type Event struct {
	ContainerID string
	Labels      map[string]string
	Action      string // "start", "die", "destroy", "oom", …
}

// Typed errors. Test with errors.Is.
var (
	// ErrNotFound: no such container or image.
	ErrNotFound = errors.New("not found")
	// ErrImagePull: the engine could not pull the image (the wrapped
	// message is the engine's, for the pod event).
	ErrImagePull = errors.New("image pull failed")
	// ErrInvalidImageName: the reference cannot be parsed.
	ErrInvalidImageName = errors.New("invalid image name")
	// ErrNotSupported: the runtime cannot do this at all (e.g. a
	// simulated runtime asked to attach to a process it does not run).
	ErrNotSupported = errors.New("not supported")
)

// Runtime is a container engine as the node agent uses it.
type Runtime interface {
	// Name and Version of the engine, for the Node's status (e.g. "docker", "20.10.24").
	Version(ctx context.Context) (name, version string, err error)
	// EnsureNetwork creates the pod network if it is missing (idempotent;
	// shared by every agent on the engine) and returns its gateway address.
	EnsureNetwork(ctx context.Context, name, cidr string) (gateway string, err error)
	// EnsurePauseImage makes the sandbox image available locally (built
	// without any registry) and returns its reference.
	EnsurePauseImage(ctx context.Context) (string, error)

	// ImageStatus returns the local image, or ErrNotFound.
	ImageStatus(ctx context.Context, ref string) (*Image, error)
	// PullImage pulls an image; progress receives human-readable lines.
	PullImage(ctx context.Context, ref string, auth *Auth, progress func(string)) (*Image, error)

	// RunSandbox creates and starts a pod sandbox and returns its ID and IP.
	RunSandbox(ctx context.Context, cfg SandboxConfig) (id, ip string, err error)
	// CreateContainer creates (but does not start) a container.
	CreateContainer(ctx context.Context, cfg ContainerConfig) (string, error)
	StartContainer(ctx context.Context, id string) error
	// StopContainer sends the stop signal, then SIGKILL after grace.
	StopContainer(ctx context.Context, id string, grace time.Duration) error
	// RemoveContainer removes a container (stopping it first if needed);
	// ErrNotFound if it is already gone.
	RemoveContainer(ctx context.Context, id string) error
	// ListContainers returns every container whose labels include all of
	// match (e.g. {LabelManaged: "true", LabelNode: "n1"}), running or not.
	ListContainers(ctx context.Context, match map[string]string) ([]Container, error)
	// InspectContainer returns one container, or ErrNotFound.
	InspectContainer(ctx context.Context, id string) (*Container, error)

	// Exec runs a command in a running container and returns its exit code.
	Exec(ctx context.Context, id string, opts ExecOptions) (int, error)
	// ExecStream runs a command a user asked for (kubectl exec) with the
	// user's streams and returns its exit code. The split from Exec (the
	// agent's own probes and hooks) is CRI's ExecSync/Exec: an engine may
	// serve both the same way, a simulated one must not pretend a user's
	// command ran.
	ExecStream(ctx context.Context, id string, opts ExecOptions) (int, error)
	// Attach connects streams to the main process of a running container
	// until it exits or ctx ends.
	Attach(ctx context.Context, id string, opts AttachOptions) error
	// PortForward connects stream to a TCP port on localhost inside the
	// network namespace of a running sandbox (kubectl port-forward), so
	// that listeners bound to the pod's loopback are reached too. It
	// returns when the pod's side has closed, or stream failed, or ctx ended.
	PortForward(ctx context.Context, sandboxID string, port int32, stream io.ReadWriteCloser) error
	// Logs writes a container's output to w (stdout and stderr merged,
	// in order), as the options select.
	Logs(ctx context.Context, id string, opts LogOptions, w io.Writer) error
	// Events delivers container events for containers whose labels
	// include all of match, until ctx ends.
	Events(ctx context.Context, match map[string]string) (<-chan Event, <-chan error)
}
