package podsecurity

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Violation is one control a pod fails, in upstream's words: Control is
// what kubectl users see first ("privileged", "hostPath volumes", "host
// namespaces", "non-default capabilities"…), Detail says which field of
// which container, e.g. `container "c" must not set securityContext.privileged=true`.
type Violation struct {
	Control string
	Detail  string
}

// checkFunc returns the violation of one control, or nil.
type checkFunc func(meta *metav1.ObjectMeta, spec *corev1.PodSpec) *Violation

// revision is one definition of a check, in force from Kubernetes 1.<since>
// until the check's next revision.
type revision struct {
	since int
	fn    checkFunc
	// overrides names the baseline checks this restricted revision
	// replaces at the restricted level, because it forbids a superset.
	overrides []string
}

// check is one control of the standards.
type check struct {
	id        string
	level     Level
	revisions []revision // by ascending since
}

// at returns the revision in force at a minor version, if any.
func (c *check) at(minor int) *revision {
	for i := len(c.revisions) - 1; i >= 0; i-- {
		if c.revisions[i].since <= minor {
			return &c.revisions[i]
		}
	}
	return nil
}

// newestMinor is the newest version any check was revised at: what
// "latest" means (upstream resolves latest to its registry's newest
// revision, not to the server's own minor version).
const newestMinor = 37

// checks is every control, in the order messages list them: upstream sorts
// baseline check IDs, then restricted check IDs, so that the same pod
// always gets the same message. It is a read-only table.
var checks = []check{
	{id: "appArmorProfile", level: LevelBaseline, revisions: []revision{{since: 0, fn: appArmorProfile}}},
	{id: "capabilities_baseline", level: LevelBaseline, revisions: []revision{{since: 0, fn: capabilitiesBaseline}}},
	{id: "hostNamespaces", level: LevelBaseline, revisions: []revision{{since: 0, fn: hostNamespaces}}},
	{id: "hostPathVolumes", level: LevelBaseline, revisions: []revision{{since: 0, fn: hostPathVolumes}}},
	{id: "hostPorts", level: LevelBaseline, revisions: []revision{{since: 0, fn: hostPorts}}},
	{id: "hostProbesAndHostLifecycle", level: LevelBaseline, revisions: []revision{{since: 34, fn: hostProbesAndLifecycle}}},
	{id: "privileged", level: LevelBaseline, revisions: []revision{{since: 0, fn: privileged}}},
	{id: "procMount", level: LevelBaseline, revisions: []revision{{since: 0, fn: procMount}}},
	{id: "seLinuxOptions", level: LevelBaseline, revisions: []revision{
		{since: 0, fn: seLinuxOptions(seLinuxTypes1_0)},
		{since: 31, fn: seLinuxOptions(seLinuxTypes1_31)},
	}},
	{id: "seccompProfile_baseline", level: LevelBaseline, revisions: []revision{
		{since: 0, fn: seccompAnnotations},
		{since: 19, fn: seccompProfileBaseline},
	}},
	{id: "sysctls", level: LevelBaseline, revisions: []revision{
		{since: 0, fn: sysctls(safeSysctls1_0)},
		{since: 27, fn: sysctls(safeSysctls1_27)},
		{since: 29, fn: sysctls(safeSysctls1_29)},
		{since: 32, fn: sysctls(safeSysctls1_32)},
		{since: 37, fn: sysctls(safeSysctls1_37)},
	}},
	{id: "windowsHostProcess", level: LevelBaseline, revisions: []revision{{since: 0, fn: windowsHostProcess}}},

	{id: "allowPrivilegeEscalation", level: LevelRestricted, revisions: []revision{{since: 8, fn: allowPrivilegeEscalation}}},
	{id: "capabilities_restricted", level: LevelRestricted, revisions: []revision{{since: 22, fn: capabilitiesRestricted, overrides: []string{"capabilities_baseline"}}}},
	// Upstream split procMount in 1.35 so that baseline could relax it for
	// user-namespaced pods while restricted does not. Skiff relaxes nothing
	// (see the package doc), so both run the same function; the split
	// remains only so restricted messages list the control where upstream does.
	{id: "procMount_restricted", level: LevelRestricted, revisions: []revision{{since: 35, fn: procMount, overrides: []string{"procMount"}}}},
	{id: "restrictedVolumes", level: LevelRestricted, revisions: []revision{{since: 0, fn: restrictedVolumes, overrides: []string{"hostPathVolumes"}}}},
	{id: "runAsNonRoot", level: LevelRestricted, revisions: []revision{{since: 0, fn: runAsNonRoot}}},
	{id: "runAsUser", level: LevelRestricted, revisions: []revision{{since: 23, fn: runAsUser}}},
	{id: "seccompProfile_restricted", level: LevelRestricted, revisions: []revision{{since: 19, fn: seccompProfileRestricted, overrides: []string{"seccompProfile_baseline"}}}},
}

// Check evaluates a pod spec, and the metadata its annotation-based
// controls read, against a level at a version. It returns the violated
// controls in message order, or nil when the pod is allowed. A level other
// than privileged or baseline is evaluated as restricted.
func Check(lv LevelVersion, spec *corev1.PodSpec, meta *metav1.ObjectMeta) []Violation {
	if lv.Level == LevelPrivileged {
		return nil
	}
	if meta == nil {
		meta = &metav1.ObjectMeta{}
	}
	restricted := lv.Level.strictness() >= LevelRestricted.strictness()
	minor := lv.Version.effectiveMinor()
	var overridden []string
	if restricted {
		for i := range checks {
			if r := checks[i].at(minor); r != nil && checks[i].level == LevelRestricted {
				overridden = append(overridden, r.overrides...)
			}
		}
	}
	var out []Violation
	for i := range checks {
		c := &checks[i]
		if c.level == LevelRestricted && !restricted {
			continue
		}
		if c.level == LevelBaseline && slices.Contains(overridden, c.id) {
			continue
		}
		r := c.at(minor)
		if r == nil {
			continue
		}
		if v := r.fn(meta, spec); v != nil {
			out = append(out, *v)
		}
	}
	return out
}

// Describe words violations as upstream's messages do:
// `control (detail), control (detail)`.
func Describe(vs []Violation) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(v.Control)
		if v.Detail != "" {
			b.WriteString(" (")
			b.WriteString(v.Detail)
			b.WriteString(")")
		}
	}
	return b.String()
}

// controls lists only the controls, the form upstream uses to summarise
// many pods at once.
func controls(vs []Violation) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Control
	}
	return strings.Join(names, ", ")
}

// visitContainers calls f with every container of the pod: init
// containers, containers, then ephemeral containers, the order upstream
// lists them in.
func visitContainers(spec *corev1.PodSpec, f func(*corev1.Container)) {
	for i := range spec.InitContainers {
		f(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		f(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		f((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
}

func pluralize(singular, plural string, n int) string {
	if n == 1 {
		return singular
	}
	return plural
}

// joinQuote quotes each item without escaping, as upstream's messages do.
func joinQuote(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return `"` + strings.Join(items, `", "`) + `"`
}

// containersPhrase is `container "a"` or `containers "a", "b"`.
func containersPhrase(names []string) string {
	return pluralize("container", "containers", len(names)) + " " + joinQuote(names)
}
