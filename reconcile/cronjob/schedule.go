package cronjob

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule says when a CronJob runs.
type Schedule interface {
	// Next returns the first activation strictly after t, in t's
	// location, or the zero time if there is none within five years.
	Next(t time.Time) time.Time
}

// ParseSchedule reads a CronJob schedule as Kubernetes does
// (github.com/robfig/cron/v3's ParseStandard, which the API server's
// validation mirrors in manifests/validation.ParseCronSchedule): five
// fields — minute, hour, day of month, month, day of week — of "*", "?",
// numbers, month and weekday names, ranges "a-b", lists "a,b" and steps
// "/n"; or @yearly, @annually, @monthly, @weekly, @daily, @midnight,
// @hourly or "@every <duration>"; optionally after "TZ=<zone> " or
// "CRON_TZ=<zone> ", which overrides loc. Times are read in loc. Error
// texts are robfig's, the ones Kubernetes shows in its events.
func ParseSchedule(spec string, loc *time.Location) (Schedule, error) {
	if spec == "" {
		return nil, fmt.Errorf("empty spec string")
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		eq := strings.Index(spec, "=")
		sp := strings.Index(spec, " ")
		if sp < 0 {
			return nil, fmt.Errorf("provided bad location %s: missing schedule after time zone", spec[eq+1:])
		}
		l, err := time.LoadLocation(spec[eq+1 : sp])
		if err != nil {
			return nil, fmt.Errorf("provided bad location %s: %v", spec[eq+1:sp], err)
		}
		loc, spec = l, strings.TrimSpace(spec[sp:])
	}
	if strings.HasPrefix(spec, "@") {
		return parseDescriptor(spec, loc)
	}
	fields := strings.Fields(spec)
	if len(fields) != len(cronFields) {
		return nil, fmt.Errorf("expected exactly %d fields, found %d: %s", len(cronFields), len(fields), fields)
	}
	s := &specSchedule{loc: loc}
	targets := []*field{&s.minute, &s.hour, &s.dom, &s.month, &s.dow}
	for i, f := range fields {
		v, err := parseField(f, cronFields[i])
		if err != nil {
			return nil, err
		}
		*targets[i] = v
	}
	return s, nil
}

// bounds of one cron field, with its names.
type bounds struct {
	min, max uint
	names    map[string]uint
}

var cronFields = []bounds{
	{min: 0, max: 59},
	{min: 0, max: 23},
	{min: 1, max: 31},
	{min: 1, max: 12, names: map[string]uint{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
	}},
	{min: 0, max: 6, names: map[string]uint{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6,
	}},
}

// field is the set of values one cron field allows, as bits. star records
// that it was written "*" or "?" without a step greater than one, which
// changes how day of month and day of week combine (see dayMatches).
type field struct {
	bits uint64
	star bool
}

func (f field) has(v int) bool { return f.bits&(1<<uint(v)) != 0 }

func allOf(b bounds) field {
	return field{bits: span(b.min, b.max, 1), star: true}
}

func one(v uint) field { return field{bits: 1 << v} }

func span(lo, hi, step uint) uint64 {
	var bits uint64
	for v := lo; v <= hi; v += step {
		bits |= 1 << v
	}
	return bits
}

func parseField(f string, b bounds) (field, error) {
	var out field
	for _, expr := range strings.Split(f, ",") {
		r, err := parseRange(expr, b)
		if err != nil {
			return field{}, err
		}
		out.bits |= r.bits
		out.star = out.star || r.star
	}
	return out, nil
}

// parseRange reads "*", "?", "n", "a-b", each optionally "/step"; "n/step"
// means "n-max/step".
func parseRange(expr string, b bounds) (field, error) {
	rangeAndStep := strings.Split(expr, "/")
	lowAndHigh := strings.Split(rangeAndStep[0], "-")
	var start, end uint
	star := false
	if lowAndHigh[0] == "*" || lowAndHigh[0] == "?" {
		start, end, star = b.min, b.max, true
	} else {
		var err error
		if start, err = intOrName(lowAndHigh[0], b.names); err != nil {
			return field{}, err
		}
		switch len(lowAndHigh) {
		case 1:
			end = start
		case 2:
			if end, err = intOrName(lowAndHigh[1], b.names); err != nil {
				return field{}, err
			}
		default:
			return field{}, fmt.Errorf("too many hyphens: %s", expr)
		}
	}
	step := uint(1)
	switch len(rangeAndStep) {
	case 1:
	case 2:
		var err error
		if step, err = number(rangeAndStep[1]); err != nil {
			return field{}, err
		}
		if len(lowAndHigh) == 1 {
			end = b.max
		}
		if step > 1 {
			star = false
		}
	default:
		return field{}, fmt.Errorf("too many slashes: %s", expr)
	}
	switch {
	case start < b.min:
		return field{}, fmt.Errorf("beginning of range (%d) below minimum (%d): %s", start, b.min, expr)
	case end > b.max:
		return field{}, fmt.Errorf("end of range (%d) above maximum (%d): %s", end, b.max, expr)
	case start > end:
		return field{}, fmt.Errorf("beginning of range (%d) beyond end of range (%d): %s", start, end, expr)
	case step == 0:
		return field{}, fmt.Errorf("step of range should be a positive number: %s", expr)
	}
	return field{bits: span(start, end, step), star: star}, nil
}

func intOrName(expr string, names map[string]uint) (uint, error) {
	if v, ok := names[strings.ToLower(expr)]; ok {
		return v, nil
	}
	return number(expr)
}

func number(expr string) (uint, error) {
	n, err := strconv.Atoi(expr)
	if err != nil {
		return 0, fmt.Errorf("failed to parse int from %s: %s", expr, err)
	}
	if n < 0 {
		return 0, fmt.Errorf("negative number (%d) not allowed: %s", n, expr)
	}
	return uint(n), nil
}

func parseDescriptor(d string, loc *time.Location) (Schedule, error) {
	hour, dom, month, dow := cronFields[1], cronFields[2], cronFields[3], cronFields[4]
	s := &specSchedule{loc: loc, minute: one(0), hour: one(0), dom: allOf(dom), month: allOf(month), dow: allOf(dow)}
	switch d {
	case "@yearly", "@annually":
		s.dom, s.month = one(1), one(1)
	case "@monthly":
		s.dom = one(1)
	case "@weekly":
		s.dow = one(0)
	case "@daily", "@midnight":
	case "@hourly":
		s.hour = allOf(hour)
	default:
		const prefix = "@every "
		if !strings.HasPrefix(d, prefix) {
			return nil, fmt.Errorf("unrecognized descriptor: %s", d)
		}
		dur, err := time.ParseDuration(d[len(prefix):])
		if err != nil {
			return nil, fmt.Errorf("failed to parse duration %s: %s", d, err)
		}
		// Whole seconds, at least one, as robfig's Every.
		dur = max(dur.Truncate(time.Second), time.Second)
		return every(dur), nil
	}
	return s, nil
}

// every is "@every <duration>": a fixed period after the previous run,
// on the whole second.
type every time.Duration

func (e every) Next(t time.Time) time.Time {
	return t.Add(time.Duration(e) - time.Duration(t.Nanosecond()))
}

// specSchedule is a five-field schedule.
type specSchedule struct {
	minute, hour, dom, month, dow field
	loc                           *time.Location
}

// Next returns the first whole minute after t whose wall-clock time in the
// schedule's location matches every field: the schedule fires at each
// instant that shows a matching time. A wall-clock time a daylight-saving
// jump skips does not fire that day, and one a jump back repeats fires
// twice — what cron/v3, and so Kubernetes, does.
//
// It moves forward a field at a time (next month, next day, next hour,
// next minute), so a yearly schedule takes a few dozen steps, not half a
// million minutes.
func (s *specSchedule) Next(t time.Time) time.Time {
	orig := t.Location()
	t = t.In(s.loc)
	t = t.Add(time.Minute - time.Duration(t.Second())*time.Second - time.Duration(t.Nanosecond()))
	limit := t.Year() + 5
	for t.Year() <= limit {
		var next time.Time
		switch {
		case !s.month.has(int(t.Month())):
			next = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, s.loc)
		case !s.dayMatches(t):
			next = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, s.loc)
		case !s.hour.has(t.Hour()):
			// The next hour in elapsed time, not on the wall clock: a
			// skipped hour is never visited, a repeated one twice.
			next = t.Add(time.Hour - time.Duration(t.Minute())*time.Minute)
		case !s.minute.has(t.Minute()):
			next = t.Add(time.Minute)
		default:
			return t.In(orig)
		}
		if !next.After(t) {
			// A date at a daylight-saving jump can resolve to an instant
			// already passed; move on by a minute instead, which always
			// progresses.
			next = t.Add(time.Minute)
		}
		t = next
	}
	return time.Time{}
}

// dayMatches: day of month and day of week must both match when either
// is "*"; otherwise one is enough ("0 0 13 * 5" is every 13th and every
// Friday), as cron has always read them.
func (s *specSchedule) dayMatches(t time.Time) bool {
	dom, dow := s.dom.has(t.Day()), s.dow.has(int(t.Weekday()))
	if s.dom.star || s.dow.star {
		return dom && dow
	}
	return dom || dow
}
