package source

import "testing"

func TestSemverRanges(t *testing.T) {
	cases := []struct {
		rng string
		in  []string
		out []string
	}{
		{"1.2.3", []string{"1.2.3", "v1.2.3"}, []string{"1.2.4", "1.2.3-rc.1"}},
		{"=1.2", []string{"1.2.0", "1.2.9"}, []string{"1.3.0", "1.1.9"}},
		{"1.2.x", []string{"1.2.0", "1.2.99"}, []string{"1.3.0"}},
		{"1.*", []string{"1.0.0", "1.9.9"}, []string{"2.0.0", "0.9.0"}},
		{"*", []string{"0.0.1", "9.9.9"}, []string{"1.0.0-alpha"}},
		{">1.2", []string{"1.3.0"}, []string{"1.2.9"}},
		{">1.2.3", []string{"1.2.4"}, []string{"1.2.3"}},
		{">=1.2.3 <2", []string{"1.2.3", "1.99.0"}, []string{"2.0.0", "1.2.2"}},
		{">= 1.2.3, < 2.0.0", []string{"1.5.0"}, []string{"2.0.0"}},
		{"<=1.2", []string{"1.2.9", "0.1.0"}, []string{"1.3.0"}},
		{"!=1.2.3", []string{"1.2.4"}, []string{"1.2.3"}},
		{"~1.2.3", []string{"1.2.3", "1.2.9"}, []string{"1.3.0", "1.2.2"}},
		{"~1.2", []string{"1.2.0", "1.2.9"}, []string{"1.3.0"}},
		{"~1", []string{"1.0.0", "1.9.0"}, []string{"2.0.0"}},
		{"~>1.2", []string{"1.2.5"}, []string{"1.3.0"}},
		{"^1.2.3", []string{"1.2.3", "1.9.0"}, []string{"2.0.0", "1.2.2"}},
		{"^0.2.3", []string{"0.2.3", "0.2.9"}, []string{"0.3.0"}},
		{"^0.0.3", []string{"0.0.3"}, []string{"0.0.4"}},
		{"^0.0", []string{"0.0.9"}, []string{"0.1.0"}},
		{"^0", []string{"0.9.0"}, []string{"1.0.0"}},
		{"1.2 - 1.4.5", []string{"1.2.0", "1.4.5"}, []string{"1.4.6", "1.1.9"}},
		{"1.2 - 1.4", []string{"1.4.9"}, []string{"1.5.0"}},
		{"<1.0 || >=2.1", []string{"0.9.0", "2.1.0"}, []string{"1.5.0", "2.0.9"}},
		{">=1.0.0-0", []string{"1.0.0-rc.1", "1.0.0", "2.0.0-beta"}, []string{"0.9.0"}},
		{">=1.0.0-rc.2", []string{"1.0.0-rc.10", "1.0.0"}, []string{"1.0.0-rc.1", "1.0.0-beta"}},
	}
	for _, c := range cases {
		r, err := parseRange(c.rng)
		if err != nil {
			t.Errorf("%q: %v", c.rng, err)
			continue
		}
		for _, v := range c.in {
			pv, err := parseVersion(v)
			if err != nil || !r.ok(pv) {
				t.Errorf("%q should match %s (err %v)", c.rng, v, err)
			}
		}
		for _, v := range c.out {
			pv, err := parseVersion(v)
			if err != nil || r.ok(pv) {
				t.Errorf("%q should not match %s (err %v)", c.rng, v, err)
			}
		}
	}
	for _, bad := range []string{"", "banana", ">", "1.2.3.4", "1.x.3", "||", ">=1.0 ||"} {
		if _, err := parseRange(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
