package runtime

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"
)

// logConfig is set on every container explicitly: Logs reads the engine's
// log store, which only json-file (and local) drivers keep, and the
// daemon's default may be something else (journald, syslog…). The limits
// are the kubelet's defaults, so a chatty pod cannot fill the disk.
func logConfig() container.LogConfig {
	return container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "5"}}
}

// RunSandbox creates and starts the pause container of a pod and returns
// its ID and its IP on cfg.Network (empty with HostNetwork: the pod then
// has the node's addresses). If the container cannot start it is removed,
// so that the caller can retry with the same name.
func (d *Docker) RunSandbox(ctx context.Context, cfg SandboxConfig) (string, string, error) {
	ref, err := d.EnsurePauseImage(ctx)
	if err != nil {
		return "", "", fmt.Errorf("sandbox %s: %w", cfg.Name, err)
	}
	noInit := false
	cc := &container.Config{
		Image:  ref,
		Labels: d.containerLabels(cfg.Labels, KindSandbox),
	}
	hc := &container.HostConfig{
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		LogConfig:     logConfig(),
		Init:          &noInit,
		DNS:           cfg.DNS.Servers,
		DNSSearch:     cfg.DNS.Searches,
		DNSOptions:    cfg.DNS.Options,
		ExtraHosts:    cfg.ExtraHosts,
		Sysctls:       cfg.Sysctls,
		// The pod's containers join this IPC namespace, which the engine
		// allows only from a "shareable" donor (20.10's default is private).
		IpcMode: container.IPCModeShareable,
	}
	var nc *network.NetworkingConfig
	if cfg.HostNetwork {
		// As in Kubernetes, a host-network pod also has the node's hostname
		// (the engine refuses a hostname with a host UTS namespace).
		hc.NetworkMode = network.NetworkHost
		hc.UTSMode = "host"
	} else {
		if cfg.Network == "" {
			return "", "", fmt.Errorf("sandbox %s: no network given", cfg.Name)
		}
		cc.Hostname = cfg.Hostname
		hc.NetworkMode = container.NetworkMode(cfg.Network)
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{cfg.Network: {}}}
	}
	if cfg.HostPID {
		hc.PidMode = "host"
	}
	if cfg.HostIPC {
		hc.IpcMode = container.IPCModeHost
	}
	if len(cfg.Ports) > 0 {
		cc.ExposedPorts = nat.PortSet{}
		hc.PortBindings = nat.PortMap{}
		for _, p := range cfg.Ports {
			proto := strings.ToLower(p.Protocol)
			if proto == "" {
				proto = "tcp"
			}
			port, err := nat.NewPort(proto, strconv.Itoa(int(p.ContainerPort)))
			if err != nil {
				return "", "", fmt.Errorf("sandbox %s: port %d/%s: %w", cfg.Name, p.ContainerPort, proto, err)
			}
			cc.ExposedPorts[port] = struct{}{}
			hc.PortBindings[port] = append(hc.PortBindings[port], nat.PortBinding{HostIP: p.HostIP, HostPort: strconv.Itoa(int(p.HostPort))})
		}
	}

	resp, err := d.client.ContainerCreate(ctx, cc, hc, nc, nil, cfg.Name)
	if err != nil {
		return "", "", fmt.Errorf("create sandbox %s: %w", cfg.Name, engineErr(err))
	}
	d.logWarnings(resp.Warnings, cfg.Name)
	if err := d.client.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		// Use a fresh context: the caller's may be what just failed.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if rerr := d.client.ContainerRemove(rctx, resp.ID, container.RemoveOptions{Force: true}); rerr != nil && !cerrdefs.IsNotFound(rerr) {
			d.log.Warn("remove failed sandbox", "sandbox", cfg.Name, "id", resp.ID, "err", rerr)
		}
		return "", "", fmt.Errorf("start sandbox %s: %w", cfg.Name, engineErr(err))
	}
	ci, err := d.client.ContainerInspect(ctx, resp.ID)
	if err != nil {
		return resp.ID, "", fmt.Errorf("inspect sandbox %s: %w", cfg.Name, engineErr(err))
	}
	// A host-network pod gets the resolv.conf its dnsPolicy asks for too:
	// ClusterFirstWithHostNet means cluster DNS, not the host's file the
	// engine copied. A config with nothing in it (no cluster DNS and no
	// resolvers on the node) leaves the engine's file alone.
	writeDNS := ci.ContainerJSONBase != nil && (len(cfg.DNS.Servers) > 0 || len(cfg.DNS.Searches) > 0 || len(cfg.DNS.Options) > 0)
	if cfg.HostNetwork {
		if writeDNS {
			d.writeResolvConf(cfg, ci.ResolvConfPath)
		}
		return resp.ID, "", nil
	}
	ip := ""
	if ci.NetworkSettings != nil {
		if ep := ci.NetworkSettings.Networks[cfg.Network]; ep != nil {
			ip = ep.IPAddress
		}
	}
	if ip == "" {
		return resp.ID, "", fmt.Errorf("sandbox %s started without an address on network %s", cfg.Name, cfg.Network)
	}
	if writeDNS {
		d.writeResolvConf(cfg, ci.ResolvConfPath)
	}
	return resp.ID, ip, nil
}

// writeResolvConf gives the pod the resolv.conf Kubernetes promises, with
// cfg's name servers in it. On a user-defined network the engine instead
// lists its own resolver (127.0.0.11), which forwards to those servers but
// also answers with the names of every container on the network, and
// carries every pod DNS query through dockerd. As dockershim did, the file
// the engine made for the sandbox is rewritten in place: the pod's
// containers bind-mount that same file. That needs the engine's data
// directory on this host; where it is not (a remote engine), the engine's
// forwarder still resolves through cfg's servers.
func (d *Docker) writeResolvConf(cfg SandboxConfig, path string) {
	var b strings.Builder
	for _, s := range cfg.DNS.Servers {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(cfg.DNS.Searches) > 0 {
		b.WriteString("search " + strings.Join(cfg.DNS.Searches, " ") + "\n")
	}
	if len(cfg.DNS.Options) > 0 {
		b.WriteString("options " + strings.Join(cfg.DNS.Options, " ") + "\n")
	}
	if path == "" {
		d.log.Warn("pod DNS goes through the engine's resolver: no resolv.conf path", "sandbox", cfg.Name)
		return
	}
	// In place (no rename): the sandbox already has this inode mounted.
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		d.log.Warn("pod DNS goes through the engine's resolver: cannot rewrite resolv.conf", "sandbox", cfg.Name, "path", path, "err", err)
	}
}

// CreateContainer creates an app or init container in the namespaces of
// its sandbox: network and IPC always (so localhost and the hostname,
// /etc/hosts and resolv.conf are the pod's), PID with
// ShareProcessNamespace.
func (d *Docker) CreateContainer(ctx context.Context, cfg ContainerConfig) (string, error) {
	if cfg.SandboxID == "" {
		return "", fmt.Errorf("create container %s: no sandbox given", cfg.Name)
	}
	pod := "container:" + cfg.SandboxID
	cc := &container.Config{
		Image:      cfg.Image,
		Labels:     d.containerLabels(cfg.Labels, ""),
		Env:        cfg.Env,
		WorkingDir: cfg.WorkingDir,
		User:       cfg.Security.User,
		Tty:        cfg.TTY,
		OpenStdin:  cfg.Stdin,
		StdinOnce:  cfg.StdinOnce,
		StopSignal: cfg.StopSignal,
	}
	// nil keeps the image's value. An empty entrypoint is sent as [""],
	// as the docker CLI does for --entrypoint "": every engine version
	// reads that as "clear the image's entrypoint".
	if cfg.Entrypoint != nil {
		cc.Entrypoint = cfg.Entrypoint
		if len(cfg.Entrypoint) == 0 {
			cc.Entrypoint = []string{""}
		}
	}
	if cfg.Cmd != nil {
		cc.Cmd = cfg.Cmd
	}
	hc := &container.HostConfig{
		NetworkMode:    container.NetworkMode(pod),
		IpcMode:        container.IpcMode(pod),
		RestartPolicy:  container.RestartPolicy{Name: container.RestartPolicyDisabled},
		LogConfig:      logConfig(),
		Privileged:     cfg.Security.Privileged,
		ReadonlyRootfs: cfg.Security.ReadOnlyRootFS,
		GroupAdd:       cfg.Security.GroupAdd,
		CapAdd:         cfg.Security.CapAdd,
		CapDrop:        cfg.Security.CapDrop,
		Resources: container.Resources{
			NanoCPUs:  cfg.Resources.NanoCPUs,
			CPUShares: cfg.Resources.CPUShares,
			Memory:    cfg.Resources.MemoryBytes,
		},
	}
	if cfg.Resources.MemoryBytes > 0 {
		// No swap on top of the limit: reaching it is an OOM kill, as in
		// Kubernetes, not a slow crawl through swap.
		hc.Resources.MemorySwap = cfg.Resources.MemoryBytes
	}
	if cfg.Security.NoNewPrivileges {
		hc.SecurityOpt = append(hc.SecurityOpt, "no-new-privileges")
	}
	switch {
	case cfg.HostPID:
		hc.PidMode = "host"
	case cfg.ShareProcessNamespace:
		hc.PidMode = container.PidMode(pod)
	case cfg.TargetPID != "":
		hc.PidMode = container.PidMode("container:" + cfg.TargetPID)
	}
	for _, m := range cfg.Mounts {
		if m.Tmpfs {
			hc.Mounts = append(hc.Mounts, mount.Mount{
				Type: mount.TypeTmpfs, Target: m.Target, ReadOnly: m.ReadOnly,
				TmpfsOptions: &mount.TmpfsOptions{SizeBytes: m.SizeBytes},
			})
			continue
		}
		// rprivate is Kubernetes' default (mountPropagation: None): mounts
		// made later on the host do not appear in the container.
		hc.Mounts = append(hc.Mounts, mount.Mount{
			Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly,
			BindOptions: &mount.BindOptions{Propagation: mount.PropagationRPrivate},
		})
	}
	resp, err := d.client.ContainerCreate(ctx, cc, hc, nil, nil, cfg.Name)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", cfg.Name, engineErr(err))
	}
	d.logWarnings(resp.Warnings, cfg.Name)
	return resp.ID, nil
}

func (d *Docker) logWarnings(warnings []string, name string) {
	for _, w := range warnings {
		d.log.Warn("engine warning", "container", name, "warning", w)
	}
}

// StartContainer starts a created (or exited) container.
func (d *Docker) StartContainer(ctx context.Context, id string) error {
	if err := d.client.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return fmt.Errorf("start container %s: %w", id, engineErr(err))
	}
	return nil
}

// StopContainer sends the container's stop signal and SIGKILL after grace
// (whole seconds, rounded up, as the engine counts them); grace ≤ 0 kills
// at once. The call returns when the container has stopped, so ctx must
// outlast grace. Stopping a stopped container is not an error.
func (d *Docker) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	if grace <= 0 {
		err := d.client.ContainerKill(ctx, id, "SIGKILL")
		if err == nil {
			return nil
		}
		// The engine refuses to kill a container that is not running;
		// that is the state we wanted.
		if cerrdefs.IsConflict(err) {
			if ci, ierr := d.client.ContainerInspect(ctx, id); ierr == nil && ci.State != nil && !ci.State.Running {
				return nil
			}
		}
		return fmt.Errorf("kill container %s: %w", id, engineErr(err))
	}
	secs := int(math.Ceil(grace.Seconds()))
	if err := d.client.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs}); err != nil {
		return fmt.Errorf("stop container %s: %w", id, engineErr(err))
	}
	return nil
}

// RemoveContainer removes a container, killing it if it runs, with its
// anonymous volumes.
func (d *Docker) RemoveContainer(ctx context.Context, id string) error {
	if err := d.client.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
		return fmt.Errorf("remove container %s: %w", id, engineErr(err))
	}
	d.sessionsAttached.Delete(id)
	return nil
}

// ListContainers returns every container (running or not) whose labels
// include all of match. The engine's list carries no exit details: ExitCode,
// OOMKilled, Error and the times are zero here; InspectContainer has them.
func (d *Docker) ListContainers(ctx context.Context, match map[string]string) ([]Container, error) {
	list, err := d.client.ContainerList(ctx, container.ListOptions{All: true, Filters: labelFilter(match)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", engineErr(err))
	}
	out := make([]Container, 0, len(list))
	for _, s := range list {
		c := Container{ID: s.ID, Labels: s.Labels, Image: s.Image, ImageID: s.ImageID, State: mapState(s.State)}
		if len(s.Names) > 0 {
			c.Name = strings.TrimPrefix(s.Names[0], "/")
		}
		if s.NetworkSettings != nil {
			c.IP = firstIP(s.NetworkSettings.Networks)
		}
		out = append(out, c)
	}
	return out, nil
}

// InspectContainer returns what the engine knows of one container. A
// container that failed to start stays "created" with Error set (and the
// engine's exit code, e.g. 127 for a missing executable).
func (d *Docker) InspectContainer(ctx context.Context, id string) (*Container, error) {
	ci, err := d.client.ContainerInspect(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", id, engineErr(err))
	}
	if ci.ContainerJSONBase == nil || ci.State == nil {
		return nil, fmt.Errorf("inspect container %s: the engine returned no state", id)
	}
	c := &Container{
		ID:        ci.ID,
		Name:      strings.TrimPrefix(ci.Name, "/"),
		ImageID:   ci.Image,
		State:     mapState(ci.State.Status),
		ExitCode:  ci.State.ExitCode,
		OOMKilled: ci.State.OOMKilled,
		Error:     ci.State.Error,
	}
	if ci.Config != nil {
		c.Labels = ci.Config.Labels
		c.Image = ci.Config.Image
	}
	if c.StartedAt, err = parseEngineTime(ci.State.StartedAt); err != nil {
		return nil, fmt.Errorf("inspect container %s: StartedAt: %w", id, err)
	}
	if c.FinishedAt, err = parseEngineTime(ci.State.FinishedAt); err != nil {
		return nil, fmt.Errorf("inspect container %s: FinishedAt: %w", id, err)
	}
	if ci.NetworkSettings != nil {
		c.IP = firstIP(ci.NetworkSettings.Networks)
	}
	return c, nil
}

// firstIP is a sandbox's address: it is attached to exactly one network.
// App containers share their sandbox's and have none of their own.
func firstIP(nets map[string]*network.EndpointSettings) string {
	for _, ep := range nets {
		if ep != nil && ep.IPAddress != "" {
			return ep.IPAddress
		}
	}
	return ""
}

func mapState(s container.ContainerState) State {
	switch s {
	case container.StateCreated:
		return StateCreated
	case container.StateRunning:
		return StateRunning
	case container.StateExited:
		return StateExited
	}
	return StateUnknown
}

// parseEngineTime parses the engine's RFC 3339 times; it reports "never"
// as 0001-01-01T00:00:00Z, which is the zero time.Time.
func parseEngineTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	if t.Year() <= 1 {
		return time.Time{}, nil
	}
	return t, nil
}
