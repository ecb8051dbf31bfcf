package podsecurity

import (
	"testing"
)

func TestParseLevelAndVersion(t *testing.T) {
	levels := []struct {
		in   string
		want Level
		err  bool
	}{
		{"privileged", LevelPrivileged, false},
		{"baseline", LevelBaseline, false},
		{"restricted", LevelRestricted, false},
		{"Baseline", LevelRestricted, true},
		{"", LevelRestricted, true},
		{"default", LevelRestricted, true},
	}
	for _, c := range levels {
		got, err := ParseLevel(c.in)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("ParseLevel(%q) = %q, %v; want %q, error %v", c.in, got, err, c.want, c.err)
		}
	}
	versions := []struct {
		in, want string
		err      bool
	}{
		{"latest", "latest", false},
		{"v1.0", "v1.0", false},
		{"v1.25", "v1.25", false},
		{"v1.999", "v1.999", false},
		{"v1.07", "latest", true},
		{"v2.0", "latest", true},
		{"1.25", "latest", true},
		{"v1.", "latest", true},
		{"v1.25.3", "latest", true},
		{"Latest", "latest", true},
		{"", "latest", true},
	}
	for _, c := range versions {
		got, err := ParseVersion(c.in)
		if got.String() != c.want || (err != nil) != c.err {
			t.Errorf("ParseVersion(%q) = %s, %v; want %s, error %v", c.in, got, err, c.want, c.err)
		}
	}
	if s := (LevelVersion{Level: LevelBaseline}).String(); s != "baseline:latest" {
		t.Errorf("zero version prints %q, want baseline:latest", s)
	}
	if s := (LevelVersion{Level: LevelRestricted, Version: V1(29)}).String(); s != "restricted:v1.29" {
		t.Errorf("pinned version prints %q", s)
	}
}

func TestPolicyFor(t *testing.T) {
	cfg := DefaultConfig()
	cases := []struct {
		name                 string
		labels               map[string]string
		enforce, warn, audit string
		errs                 []string
	}{
		{"no labels: Skiff's baseline default", nil, "baseline:latest", "baseline:latest", "baseline:latest", nil},
		{"unrelated labels", map[string]string{"team": "a"}, "baseline:latest", "baseline:latest", "baseline:latest", nil},
		{"enforce privileged leaves warn at the default", map[string]string{EnforceLevelLabel: "privileged"},
			"privileged:latest", "baseline:latest", "baseline:latest", nil},
		{"every mode set, with versions", map[string]string{
			EnforceLevelLabel: "restricted", EnforceVersionLabel: "v1.25",
			WarnLevelLabel: "privileged", AuditLevelLabel: "restricted", AuditVersionLabel: "latest",
		}, "restricted:v1.25", "privileged:latest", "restricted:latest", nil},
		{"a version alone pins the default level", map[string]string{WarnVersionLabel: "v1.30"},
			"baseline:latest", "baseline:v1.30", "baseline:latest", nil},
		{"invalid enforce fails closed", map[string]string{EnforceLevelLabel: "bogus"},
			"restricted:latest", "baseline:latest", "baseline:latest",
			[]string{`metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "bogus": must be one of privileged, baseline, restricted`}},
		{"invalid warn and audit fail open", map[string]string{WarnLevelLabel: "loud", AuditLevelLabel: "yes"},
			"baseline:latest", "privileged:latest", "privileged:latest",
			[]string{
				`metadata.labels[pod-security.kubernetes.io/audit]: Invalid value: "yes": must be one of privileged, baseline, restricted`,
				`metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: "loud": must be one of privileged, baseline, restricted`,
			}},
		{"invalid version means latest", map[string]string{EnforceLevelLabel: "restricted", EnforceVersionLabel: "1.29"},
			"restricted:latest", "baseline:latest", "baseline:latest",
			[]string{`metadata.labels[pod-security.kubernetes.io/enforce-version]: Invalid value: "1.29": must be "latest" or "v1.x"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, errs := cfg.PolicyFor(c.labels)
			if p.Enforce.String() != c.enforce || p.Warn.String() != c.warn || p.Audit.String() != c.audit {
				t.Errorf("policy = enforce %s, warn %s, audit %s; want %s, %s, %s", p.Enforce, p.Warn, p.Audit, c.enforce, c.warn, c.audit)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if len(got) != len(c.errs) {
				t.Fatalf("errors = %q, want %q", got, c.errs)
			}
			for i := range got {
				if got[i] != c.errs[i] {
					t.Errorf("error %d = %q, want %q", i, got[i], c.errs[i])
				}
			}
		})
	}
}
