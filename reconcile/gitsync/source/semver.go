package source

// A small semantic-version range parser, so that Skiff does not need a
// dependency for it. It accepts the constraint syntax Flux users write
// (Masterminds/semver style): comparisons =, !=, >, >=, <, <=, ~, ~>, ^,
// wildcards x/X/* ("1.2.x", "1.*", "*"), partial versions ("1.2" means
// 1.2.x), hyphen ranges ("1.2 - 1.4.5"), AND with commas or spaces, OR with
// "||". A pre-release version only matches a clause that itself names a
// pre-release, so "^1.0" never picks "1.5.0-rc.1".

import (
	"fmt"
	"strconv"
	"strings"
)

type version struct {
	major, minor, patch uint64
	pre                 []string // dot-separated pre-release identifiers
}

// parseVersion reads "v1.2.3-rc.1+build", also "1.2" and "1" (missing
// parts are zero), as tags are commonly written.
func parseVersion(s string) (version, error) {
	v, _, err := parsePartial(s, false)
	return v, err
}

// parsePartial parses a version that may have wildcards or missing parts
// (when allowWild); it returns how many leading numeric parts were given.
func parsePartial(s string, allowWild bool) (version, int, error) {
	orig := s
	s = strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V")
	if i := strings.IndexByte(s, '+'); i >= 0 {
		s = s[:i]
	}
	var v version
	if i := strings.IndexByte(s, '-'); i >= 0 {
		pre := s[i+1:]
		s = s[:i]
		if pre == "" {
			return v, 0, fmt.Errorf("invalid version %q: empty pre-release", orig)
		}
		v.pre = strings.Split(pre, ".")
		for _, id := range v.pre {
			if id == "" {
				return v, 0, fmt.Errorf("invalid version %q: empty pre-release identifier", orig)
			}
		}
	}
	fields := strings.Split(s, ".")
	if len(fields) > 3 || s == "" {
		return v, 0, fmt.Errorf("invalid version %q", orig)
	}
	nums := []*uint64{&v.major, &v.minor, &v.patch}
	given := 0
	for i, f := range fields {
		if f == "x" || f == "X" || f == "*" {
			if !allowWild {
				return v, 0, fmt.Errorf("invalid version %q: wildcard", orig)
			}
			for _, g := range fields[i+1:] {
				if g != "x" && g != "X" && g != "*" {
					return v, 0, fmt.Errorf("invalid version %q: number after wildcard", orig)
				}
			}
			break
		}
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return v, 0, fmt.Errorf("invalid version %q: %q is not a number", orig, f)
		}
		*nums[i] = n
		given++
	}
	if given < 3 && len(v.pre) > 0 {
		return v, 0, fmt.Errorf("invalid version %q: pre-release needs major.minor.patch", orig)
	}
	return v, given, nil
}

func cmpIDs(a, b string) int {
	an, aerr := strconv.ParseUint(a, 10, 64)
	bn, berr := strconv.ParseUint(b, 10, 64)
	switch {
	case aerr == nil && berr == nil:
		return cmpU(an, bn)
	case aerr == nil:
		return -1 // numeric identifiers sort before alphanumeric ones
	case berr == nil:
		return 1
	}
	return strings.Compare(a, b)
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (v version) compare(o version) int {
	if c := cmpU(v.major, o.major); c != 0 {
		return c
	}
	if c := cmpU(v.minor, o.minor); c != 0 {
		return c
	}
	if c := cmpU(v.patch, o.patch); c != 0 {
		return c
	}
	switch {
	case len(v.pre) == 0 && len(o.pre) == 0:
		return 0
	case len(v.pre) == 0:
		return 1
	case len(o.pre) == 0:
		return -1
	}
	for i := 0; i < len(v.pre) && i < len(o.pre); i++ {
		if c := cmpIDs(v.pre[i], o.pre[i]); c != 0 {
			return c
		}
	}
	return cmpU(uint64(len(v.pre)), uint64(len(o.pre)))
}

// bound is one comparison: op is one of "<", "<=", ">", ">=", "=", "!=".
type bound struct {
	op string
	v  version
}

func (b bound) ok(v version) bool {
	c := v.compare(b.v)
	switch b.op {
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "=":
		return c == 0
	case "!=":
		return c != 0
	}
	return false
}

// clause is an AND of bounds.
type clause struct {
	bounds    []bound
	allowsPre bool // some bound names a pre-release
}

func (c clause) ok(v version) bool {
	if len(v.pre) > 0 && !c.allowsPre {
		return false
	}
	for _, b := range c.bounds {
		if !b.ok(v) {
			return false
		}
	}
	return true
}

// semverRange is an OR of clauses.
type semverRange []clause

func (r semverRange) ok(v version) bool {
	for _, c := range r {
		if c.ok(v) {
			return true
		}
	}
	return false
}

func parseRange(s string) (semverRange, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty semver range")
	}
	var r semverRange
	for _, alt := range strings.Split(s, "||") {
		c, err := parseClause(alt)
		if err != nil {
			return nil, fmt.Errorf("semver range %q: %w", s, err)
		}
		r = append(r, c)
	}
	return r, nil
}

func parseClause(s string) (clause, error) {
	// Glue operators to their version ("> = 1.2" is not valid, but ">= 1.2"
	// is common), then split on commas and spaces.
	toks := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	var merged []string
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if strings.Trim(t, "<>=!~^") == "" && i+1 < len(toks) {
			t += toks[i+1]
			i++
		}
		merged = append(merged, t)
	}
	if len(merged) == 0 {
		return clause{}, fmt.Errorf("empty clause")
	}
	var c clause
	for i := 0; i < len(merged); i++ {
		// Hyphen range: "A - B".
		if i+2 < len(merged) && merged[i+1] == "-" {
			lo, _, err := parsePartial(merged[i], true)
			if err != nil {
				return c, err
			}
			hi, n, err := parsePartial(merged[i+2], true)
			if err != nil {
				return c, err
			}
			c.bounds = append(c.bounds, bound{">=", lo})
			c.bounds = append(c.bounds, upperOf(hi, n, true))
			c.allowsPre = c.allowsPre || len(lo.pre) > 0 || len(hi.pre) > 0
			i += 2
			continue
		}
		bs, pre, err := parseComparator(merged[i])
		if err != nil {
			return c, err
		}
		c.bounds = append(c.bounds, bs...)
		c.allowsPre = c.allowsPre || pre
	}
	return c, nil
}

// upperOf is the bound "≤ v" where v may be partial: "≤ 1.2" means below
// 1.3.0.
func upperOf(v version, given int, inclusive bool) bound {
	switch {
	case given == 3:
		if inclusive {
			return bound{"<=", v}
		}
		return bound{"<", v}
	case !inclusive:
		return bound{"<", v}
	}
	return bound{"<", bump(v, given)}
}

// bump increments the last given part: bump(1.2, 2) = 1.3.0.
func bump(v version, given int) version {
	switch given {
	case 0:
		return version{major: ^uint64(0)}
	case 1:
		return version{major: v.major + 1}
	case 2:
		return version{major: v.major, minor: v.minor + 1}
	}
	return version{major: v.major, minor: v.minor, patch: v.patch + 1}
}

func parseComparator(t string) ([]bound, bool, error) {
	op := ""
	for _, p := range []string{">=", "=>", "<=", "=<", "!=", "~>", ">", "<", "=", "~", "^"} {
		if strings.HasPrefix(t, p) {
			op, t = p, t[len(p):]
			break
		}
	}
	if t == "" {
		return nil, false, fmt.Errorf("operator %q without a version", op)
	}
	v, n, err := parsePartial(t, true)
	if err != nil {
		return nil, false, err
	}
	pre := len(v.pre) > 0
	any := version{}
	switch op {
	case "", "=":
		if n == 0 {
			return []bound{{">=", any}}, pre, nil
		}
		if n == 3 {
			return []bound{{"=", v}}, pre, nil
		}
		return []bound{{">=", v}, {"<", bump(v, n)}}, pre, nil
	case "!=":
		if n == 3 {
			return []bound{{"!=", v}}, pre, nil
		}
		return nil, false, fmt.Errorf("!= needs a full version, got %q", t)
	case ">":
		if n == 3 {
			return []bound{{">", v}}, pre, nil
		}
		if n == 0 {
			return nil, false, fmt.Errorf("nothing is greater than %q", t)
		}
		return []bound{{">=", bump(v, n)}}, pre, nil
	case ">=", "=>":
		return []bound{{">=", v}}, pre, nil
	case "<":
		if n == 0 {
			return nil, false, fmt.Errorf("nothing is less than %q", t)
		}
		return []bound{{"<", v}}, pre, nil
	case "<=", "=<":
		if n == 0 {
			return []bound{{">=", any}}, pre, nil
		}
		return []bound{upperOf(v, n, true)}, pre, nil
	case "~", "~>":
		// ~1.2.3 := >=1.2.3 <1.3.0; ~1.2 := >=1.2.0 <1.3.0; ~1 := <2.0.0.
		if n == 0 {
			return []bound{{">=", any}}, pre, nil
		}
		hi := bump(v, 2)
		if n == 1 {
			hi = bump(v, 1)
		}
		return []bound{{">=", v}, {"<", hi}}, pre, nil
	case "^":
		// Bump the first non-zero part among those given; ^0.0 := <0.1.0.
		if n == 0 {
			return []bound{{">=", any}}, pre, nil
		}
		var hi version
		switch {
		case v.major > 0 || n == 1:
			hi = bump(v, 1)
		case v.minor > 0 || n == 2:
			hi = bump(v, 2)
		default:
			hi = bump(v, 3)
		}
		return []bound{{">=", v}, {"<", hi}}, pre, nil
	}
	return nil, false, fmt.Errorf("unknown operator %q", op)
}
