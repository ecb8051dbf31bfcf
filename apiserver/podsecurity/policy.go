package podsecurity

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Level is a Pod Security Standards profile.
type Level string

// The three levels, from least to most strict.
const (
	LevelPrivileged Level = "privileged"
	LevelBaseline   Level = "baseline"
	LevelRestricted Level = "restricted"
)

// ParseLevel parses a level label value. An invalid value yields
// restricted with the error, so a caller that ignores the error fails
// closed (enforce does; warn and audit substitute privileged).
func ParseLevel(s string) (Level, error) {
	switch l := Level(s); l {
	case LevelPrivileged, LevelBaseline, LevelRestricted:
		return l, nil
	}
	return LevelRestricted, fmt.Errorf("must be one of %s, %s, %s", LevelPrivileged, LevelBaseline, LevelRestricted)
}

// strictness orders levels; anything unknown counts as restricted.
func (l Level) strictness() int {
	switch l {
	case LevelPrivileged:
		return 0
	case LevelBaseline:
		return 1
	}
	return 2
}

// Version is the version of the standards a namespace pins: "latest" (the
// zero value) or v1.<minor>, which evaluates the checks as Kubernetes 1.<minor>
// defined them.
type Version struct {
	pinned bool
	minor  int
}

// LatestVersion is the newest definition of every check.
func LatestVersion() Version { return Version{} }

// V1 is the version Kubernetes 1.<minor> defined.
func V1(minor int) Version { return Version{pinned: true, minor: minor} }

// versionPattern is upstream's: v1.0, v1.7, v1.29, never v1.07.
var versionPattern = regexp.MustCompile(`^v1\.(0|[1-9][0-9]*)$`)

// ParseVersion parses a version label value. An invalid value yields
// latest with the error, as upstream.
func ParseVersion(s string) (Version, error) {
	if s == "latest" {
		return LatestVersion(), nil
	}
	m := versionPattern.FindStringSubmatch(s)
	if m == nil {
		return LatestVersion(), fmt.Errorf(`must be "latest" or "v1.x"`)
	}
	minor, err := strconv.Atoi(m[1])
	if err != nil {
		return LatestVersion(), fmt.Errorf(`must be "latest" or "v1.x"`)
	}
	return V1(minor), nil
}

func (v Version) String() string {
	if !v.pinned {
		return "latest"
	}
	return "v1." + strconv.Itoa(v.minor)
}

// effectiveMinor is the minor version whose check definitions apply:
// latest, and versions newer than any definition, mean the newest.
func (v Version) effectiveMinor() int {
	if !v.pinned || v.minor > newestMinor {
		return newestMinor
	}
	return v.minor
}

// LevelVersion is one mode's policy: a level at a version.
type LevelVersion struct {
	Level   Level
	Version Version
}

// String is the form messages quote: "baseline:latest".
func (lv LevelVersion) String() string { return string(lv.Level) + ":" + lv.Version.String() }

// equivalent treats every privileged policy as the same, whatever its
// version, since privileged checks nothing.
func (lv LevelVersion) equivalent(o LevelVersion) bool {
	if lv.Level == LevelPrivileged && o.Level == LevelPrivileged {
		return true
	}
	return lv == o
}

// The namespace labels that choose a namespace's policy.
const (
	labelPrefix         = "pod-security.kubernetes.io/"
	EnforceLevelLabel   = labelPrefix + "enforce"
	EnforceVersionLabel = labelPrefix + "enforce-version"
	AuditLevelLabel     = labelPrefix + "audit"
	AuditVersionLabel   = labelPrefix + "audit-version"
	WarnLevelLabel      = labelPrefix + "warn"
	WarnVersionLabel    = labelPrefix + "warn-version"
)

// Policy is a namespace's policy for each mode.
type Policy struct {
	Enforce LevelVersion
	Audit   LevelVersion
	Warn    LevelVersion
}

func (p Policy) fullyPrivileged() bool {
	return p.Enforce.Level == LevelPrivileged && p.Audit.Level == LevelPrivileged && p.Warn.Level == LevelPrivileged
}

func (p Policy) equivalent(o Policy) bool {
	return p.Enforce.equivalent(o.Enforce) && p.Audit.equivalent(o.Audit) && p.Warn.equivalent(o.Warn)
}

// Config is how the API server applies the standards.
type Config struct {
	// Defaults is the policy of each mode whose label a namespace lacks.
	Defaults Policy
	// ExemptNamespaces are never evaluated.
	ExemptNamespaces []string
}

// DefaultConfig is Skiff's: baseline in every mode for namespaces without
// labels (upstream's built-in default is privileged; a cluster admin
// chooses otherwise, and Skiff chooses baseline because its pods share the
// developer's host), and kube-system exempt, as clusters usually configure.
func DefaultConfig() Config {
	baseline := LevelVersion{Level: LevelBaseline, Version: LatestVersion()}
	return Config{
		Defaults:         Policy{Enforce: baseline, Audit: baseline, Warn: baseline},
		ExemptNamespaces: []string{metav1.NamespaceSystem},
	}
}

func (c Config) exempt(namespace string) bool {
	return namespace != "" && slices.Contains(c.ExemptNamespaces, namespace)
}

var labelsPath = field.NewPath("metadata", "labels")

// PolicyFor resolves a namespace's labels to its policy, falling back to
// the defaults for missing labels. A usable policy is returned even with
// errors: an invalid enforce level enforces restricted (fail closed), an
// invalid warn or audit level turns that mode off (fail open), and an
// invalid version means latest — all as upstream.
func (c Config) PolicyFor(labels map[string]string) (Policy, field.ErrorList) {
	p := c.Defaults
	var errs field.ErrorList
	level := func(key string, into *Level, failOpen bool) {
		v, ok := labels[key]
		if !ok {
			return
		}
		l, err := ParseLevel(v)
		if err != nil {
			errs = append(errs, field.Invalid(labelsPath.Key(key), v, err.Error()))
			if failOpen {
				l = LevelPrivileged
			}
		}
		*into = l
	}
	version := func(key string, into *Version) {
		v, ok := labels[key]
		if !ok {
			return
		}
		ver, err := ParseVersion(v)
		if err != nil {
			errs = append(errs, field.Invalid(labelsPath.Key(key), v, err.Error()))
		}
		*into = ver
	}
	level(EnforceLevelLabel, &p.Enforce.Level, false)
	version(EnforceVersionLabel, &p.Enforce.Version)
	level(AuditLevelLabel, &p.Audit.Level, true)
	version(AuditVersionLabel, &p.Audit.Version)
	level(WarnLevelLabel, &p.Warn.Level, true)
	version(WarnVersionLabel, &p.Warn.Version)
	return p, errs
}

// labelErrorsChanged reports whether an update introduces label errors the
// namespace did not already have: upstream refuses only those, so that a
// namespace with a bad label from before can still be edited otherwise.
func labelErrorsChanged(now, before field.ErrorList) bool {
	return len(now) > 0 && (len(before) == 0 || !reflect.DeepEqual(now, before))
}

// exemptWarning is upstream's notice that labels on an exempt namespace
// have no effect; empty when they ask for nothing beyond the defaults.
func (c Config) exemptWarning(namespace string, p Policy, labels map[string]string) string {
	if p.fullyPrivileged() || p.equivalent(c.Defaults) {
		return ""
	}
	var modes []string
	add := func(mode string, lv LevelVersion, levelLabel, versionLabel string) {
		_, hasLevel := labels[levelLabel]
		_, hasVersion := labels[versionLabel]
		if lv.Level != LevelPrivileged && (hasLevel || hasVersion) {
			modes = append(modes, mode+"="+lv.String())
		}
	}
	add("enforce", p.Enforce, EnforceLevelLabel, EnforceVersionLabel)
	add("audit", p.Audit, AuditLevelLabel, AuditVersionLabel)
	add("warn", p.Warn, WarnLevelLabel, WarnVersionLabel)
	return fmt.Sprintf("namespace %q is exempt from Pod Security, and the policy (%s) will be ignored", namespace, strings.Join(modes, ", "))
}
