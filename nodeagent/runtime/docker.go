package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
)

// DockerOptions configure NewDocker.
type DockerOptions struct {
	// Logger receives one line per notable engine action; nil discards.
	Logger *slog.Logger
	// NodeName is the agent's node. Containers created without a
	// LabelNode label get one with this value, so that an agent can always
	// tell its containers from those of other agents on the same engine.
	NodeName string
	// PauseBinary is the static binary whose `pause` subcommand the
	// sandbox container runs; empty means this process's own executable
	// (os.Executable, read through /proc/self/exe).
	PauseBinary string
	// Labels are added to the images and networks this runtime creates
	// (besides skiff.dev/managed=true), e.g. to let tests find and remove
	// what they made.
	Labels map[string]string
}

// Docker is the Runtime backed by a Docker engine through its HTTP API.
// It is safe for concurrent use.
type Docker struct {
	client      *client.Client
	log         *slog.Logger
	nodeName    string
	pauseBinary string
	labels      map[string]string

	// pauseMu serialises EnsurePauseImage so that concurrent callers in one
	// process import the (large) image once; pauseRef caches the tag
	// derived from the binary, because hashing ~100 MB on every call is
	// wasteful and the binary of a running agent does not change.
	pauseMu  sync.Mutex
	pauseRef string

	// sessionsAttached holds the IDs of containers attached to once
	// (see firstSessionAttach); RemoveContainer forgets them.
	sessionsAttached sync.Map
}

var _ Runtime = (*Docker)(nil)

// NewDocker connects to the engine named by the environment (DOCKER_HOST
// and friends, else the local socket), negotiating the API version so that
// older engines (Debian's speaks 1.41) work. It does not contact the engine;
// the first call does.
func NewDocker(opts DockerOptions) (*Docker, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pause := opts.PauseBinary
	if pause == "" {
		// /proc/self/exe is the running binary even after the file on disk
		// was replaced by a new build (os.Executable would name the new one).
		pause = "/proc/self/exe"
		if _, err := os.Stat(pause); err != nil {
			exe, err := os.Executable()
			if err != nil {
				return nil, fmt.Errorf("find the pause binary (this executable): %w", err)
			}
			pause = exe
		}
	}
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	labels := make(map[string]string, len(opts.Labels))
	for k, v := range opts.Labels {
		labels[k] = v
	}
	return &Docker{
		client:      c,
		log:         log.With("runtime", "docker"),
		nodeName:    opts.NodeName,
		pauseBinary: pause,
		labels:      labels,
	}, nil
}

// Close releases the engine connection.
func (d *Docker) Close() error {
	return d.client.Close()
}

// Version returns "docker" and the engine's version (e.g. "20.10.24+dfsg1").
func (d *Docker) Version(ctx context.Context) (string, string, error) {
	v, err := d.client.ServerVersion(ctx)
	if err != nil {
		return "", "", fmt.Errorf("docker version: %w", engineErr(err))
	}
	return "docker", v.Version, nil
}

// ownLabels are the labels put on images and networks this runtime creates.
func (d *Docker) ownLabels() map[string]string {
	l := map[string]string{LabelManaged: "true"}
	for k, v := range d.labels {
		l[k] = v
	}
	return l
}

// containerLabels copies a container's labels and adds the ones the agent
// relies on to adopt containers after a restart, unless the caller set them.
func (d *Docker) containerLabels(in map[string]string, kind string) map[string]string {
	return withDefaultLabels(in, d.nodeName, kind)
}

// labelFilter selects objects whose labels include all of match.
func labelFilter(match map[string]string) filters.Args {
	f := filters.NewArgs()
	for k, v := range match {
		f.Add("label", k+"="+v)
	}
	return f
}

// typedError keeps the engine's message (for events and logs) while making
// the runtime's sentinel visible to errors.Is; the engine's own error stays
// reachable too, so cerrdefs checks still work on it.
type typedError struct {
	kind error
	err  error
}

func (e *typedError) Error() string   { return e.err.Error() }
func (e *typedError) Unwrap() []error { return []error{e.kind, e.err} }

// engineErr maps the engine's "not found" errors to ErrNotFound by their
// type (never by message), leaving others as they are.
func engineErr(err error) error {
	if err == nil {
		return nil
	}
	if cerrdefs.IsNotFound(err) && !errors.Is(err, ErrNotFound) {
		return &typedError{kind: ErrNotFound, err: err}
	}
	return err
}
