package nodeagent

import (
	"bufio"
	"context"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// leaseDuration is how long a node lease stays valid without renewal
// (kubelet's default); the node lifecycle controller judges it.
const leaseDuration = 40

func labelsEverything() labels.Selector { return labels.Everything() }

// nodeLabels are the well-known labels the node carries.
func (a *Agent) nodeLabels() map[string]string {
	l := map[string]string{
		corev1.LabelHostname:               a.opts.NodeName,
		corev1.LabelOSStable:               goruntime.GOOS,
		corev1.LabelArchStable:             goruntime.GOARCH,
		"node.kubernetes.io/instance-type": "skiff",
	}
	for k, v := range a.opts.Labels {
		l[k] = v
	}
	return l
}

// registerNode creates the Node, or brings an existing one (a restarted
// agent) up to date, keeping labels and taints others added.
func (a *Agent) registerNode(ctx context.Context, runtimeVersion string) error {
	nodes := a.client.CoreV1().Nodes()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.opts.NodeName, Labels: a.nodeLabels()}}
	_, err := nodes.Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := nodes.Get(ctx, a.opts.NodeName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			changed := false
			if cur.Labels == nil {
				cur.Labels = map[string]string{}
			}
			for k, v := range a.nodeLabels() {
				if cur.Labels[k] != v {
					cur.Labels[k], changed = v, true
				}
			}
			if !changed {
				return nil
			}
			_, err = nodes.Update(ctx, cur, metav1.UpdateOptions{})
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("register node: %w", err)
	}
	return a.updateNodeStatus(ctx, runtimeVersion, true)
}

// heartbeat renews the node's Lease every LeaseInterval and refreshes its
// status every StatusInterval.
func (a *Agent) heartbeat(ctx context.Context, runtimeVersion string) {
	lease := a.clock.NewTicker(a.opts.LeaseInterval)
	defer lease.Stop()
	status := a.clock.NewTicker(a.opts.StatusInterval)
	defer status.Stop()
	a.renewLease(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-lease.C():
			a.renewLease(ctx)
		case <-status.C():
			if err := a.updateNodeStatus(ctx, runtimeVersion, false); err != nil && ctx.Err() == nil {
				a.log.Warn("node status update failed", "err", err)
			}
		}
	}
}

func (a *Agent) renewLease(ctx context.Context) {
	leases := a.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(a.clock.Now())
	l, err := leases.Get(ctx, a.opts.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		l = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: a.opts.NodeName, Namespace: corev1.NamespaceNodeLease},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity: ptr.To(a.opts.NodeName), LeaseDurationSeconds: ptr.To[int32](leaseDuration), RenewTime: &now,
			},
		}
		if node, err := a.client.CoreV1().Nodes().Get(ctx, a.opts.NodeName, metav1.GetOptions{}); err == nil {
			l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}
		}
		if _, err := leases.Create(ctx, l, metav1.CreateOptions{}); err != nil && ctx.Err() == nil {
			a.log.Warn("lease create failed", "err", err)
		}
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("lease read failed", "err", err)
		}
		return
	}
	l.Spec.RenewTime = &now
	l.Spec.HolderIdentity = ptr.To(a.opts.NodeName)
	l.Spec.LeaseDurationSeconds = ptr.To[int32](leaseDuration)
	if _, err := leases.Update(ctx, l, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
		a.log.Warn("lease renew failed", "err", err)
	}
}

// nodeStatusHeartbeat: the status is rewritten at least this often even
// when nothing changed, so lastHeartbeatTime stays fresh.
const nodeStatusHeartbeat = time.Minute

// updateNodeStatus writes the node's status when it changed (or the
// heartbeat is due, or force).
// A conflict (the node lifecycle controller or a user changed the Node
// between the read and the write) is retried at once with a fresh read,
// as kubelet retries its status updates.
func (a *Agent) updateNodeStatus(ctx context.Context, runtimeVersion string, force bool) error {
	nodes := a.client.CoreV1().Nodes()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := nodes.Get(ctx, a.opts.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		want := a.nodeStatus(ctx, node.Status, runtimeVersion)
		if !force && statusEqual(node.Status, want) && a.clock.Since(lastHeartbeat(node.Status)) < nodeStatusHeartbeat {
			return nil
		}
		node.Status = want
		_, err = nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err
	})
}

func lastHeartbeat(st corev1.NodeStatus) time.Time {
	for _, c := range st.Conditions {
		if c.Type == corev1.NodeReady {
			return c.LastHeartbeatTime.Time
		}
	}
	return time.Time{}
}

// statusEqual compares node statuses ignoring heartbeat times.
func statusEqual(a, b corev1.NodeStatus) bool {
	strip := func(s corev1.NodeStatus) corev1.NodeStatus {
		s = *s.DeepCopy()
		for i := range s.Conditions {
			s.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
		return s
	}
	return apiequality.Semantic.DeepEqual(strip(a), strip(b))
}

func (a *Agent) nodeStatus(ctx context.Context, old corev1.NodeStatus, runtimeVersion string) corev1.NodeStatus {
	now := metav1.NewTime(a.clock.Now().Truncate(time.Second))
	capacity := hostCapacity(a.opts)
	_, _, rtErr := a.rt.Version(ctx)
	cond := func(t corev1.NodeConditionType, status corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		c := corev1.NodeCondition{Type: t, Status: status, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
		for _, o := range old.Conditions {
			if o.Type == t && o.Status == status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
		return c
	}
	memPressure, diskPressure, pidPressure := pressures(a.opts.DataDir)
	boolCond := func(t corev1.NodeConditionType, under bool, okReason, okMsg, badReason, badMsg string) corev1.NodeCondition {
		if under {
			return cond(t, corev1.ConditionTrue, badReason, badMsg)
		}
		return cond(t, corev1.ConditionFalse, okReason, okMsg)
	}
	ready := cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status")
	if rtErr != nil {
		ready = cond(corev1.NodeReady, corev1.ConditionFalse, "KubeletNotReady", "container runtime is down: "+rtErr.Error())
	}
	addrs := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: a.opts.NodeIP}, {Type: corev1.NodeHostName, Address: a.opts.NodeName}}
	return corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity,
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{
			boolCond(corev1.NodeMemoryPressure, memPressure, "KubeletHasSufficientMemory", "kubelet has sufficient memory available", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
			boolCond(corev1.NodeDiskPressure, diskPressure, "KubeletHasNoDiskPressure", "kubelet has no disk pressure", "KubeletHasDiskPressure", "kubelet has disk pressure"),
			boolCond(corev1.NodePIDPressure, pidPressure, "KubeletHasSufficientPID", "kubelet has sufficient PID available", "KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
			ready,
		},
		Addresses:       addrs,
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(a.port)}},
		NodeInfo: corev1.NodeSystemInfo{
			MachineID:               readTrim("/etc/machine-id"),
			SystemUUID:              readTrim("/sys/class/dmi/id/product_uuid"),
			BootID:                  readTrim("/proc/sys/kernel/random/boot_id"),
			KernelVersion:           kernelVersion(),
			OSImage:                 osImage(),
			ContainerRuntimeVersion: runtimeVersion,
			KubeletVersion:          a.opts.Version,
			KubeProxyVersion:        "",
			OperatingSystem:         goruntime.GOOS,
			Architecture:            goruntime.GOARCH,
		},
		Images: old.Images,
	}
}

func readTrim(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func kernelVersion() string {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return ""
	}
	b := make([]byte, 0, len(u.Release))
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

func osImage() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return goruntime.GOOS
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return goruntime.GOOS
}

// memTotal is the host's memory in bytes.
func memTotal() int64 {
	if v := meminfo("MemTotal"); v > 0 {
		return v
	}
	return 1 << 30
}

func meminfo(key string) int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == key+":" {
			n, _ := strconv.ParseInt(fields[1], 10, 64)
			return n * 1024
		}
	}
	return 0
}

// diskTotal is the size of the filesystem holding dir.
func diskTotal(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(existingParent(dir), &st); err != nil {
		return 0
	}
	return int64(st.Blocks) * st.Bsize
}

func existingParent(dir string) string {
	for d := dir; d != "" && d != "/"; {
		if _, err := os.Stat(d); err == nil {
			return d
		}
		i := strings.LastIndex(d, "/")
		if i <= 0 {
			break
		}
		d = d[:i]
	}
	return "/"
}

// pressures reports the kubelet's hard eviction signals: less than 100 MiB
// of memory available, less than 10% of the data disk free, more than 90%
// of the PID space used.
func pressures(dataDir string) (mem, disk, pid bool) {
	if avail := meminfo("MemAvailable"); avail > 0 && avail < 100<<20 {
		mem = true
	}
	var st syscall.Statfs_t
	if syscall.Statfs(existingParent(dataDir), &st) == nil && st.Blocks > 0 {
		disk = float64(st.Bavail)/float64(st.Blocks) < 0.10
	}
	if max, err := strconv.Atoi(readTrim("/proc/sys/kernel/pid_max")); err == nil && max > 0 {
		if procs := countProcs(); procs > 0 && float64(procs)/float64(max) > 0.9 {
			pid = true
		}
	}
	return
}

func countProcs() int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err == nil {
			n++
		}
	}
	return n
}
