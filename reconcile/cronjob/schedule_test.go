package cronjob

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/skiff-dev/skiff/manifests/validation"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustParse(t *testing.T, spec string, loc *time.Location) Schedule {
	t.Helper()
	s, err := ParseSchedule(spec, loc)
	if err != nil {
		t.Fatalf("%q: %v", spec, err)
	}
	return s
}

// at reads "2006-01-02 15:04[:05]" in loc; a "Z07:00" suffix picks one of
// the two instants a wall-clock time names when the clocks go back.
func at(t *testing.T, s string, loc *time.Location) time.Time {
	t.Helper()
	for _, layout := range []string{"2006-01-02 15:04Z07:00", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if v, err := time.ParseInLocation(layout, s, loc); err == nil {
			return v
		}
	}
	t.Fatalf("bad time %q", s)
	return time.Time{}
}

func TestNextTable(t *testing.T) {
	utc := time.UTC
	ny := mustLoad(t, "America/New_York")
	kolkata := mustLoad(t, "Asia/Kolkata")
	tests := []struct {
		name, spec string
		loc        *time.Location
		from       string
		want       []string // successive activations, in loc
	}{
		{"every minute", "* * * * *", utc, "2024-05-01 10:00", []string{"2024-05-01 10:01", "2024-05-01 10:02"}},
		{"mid-minute start", "* * * * *", utc, "2024-05-01 10:00:30", []string{"2024-05-01 10:01", "2024-05-01 10:02"}},
		{"every 15 minutes", "*/15 * * * *", utc, "2024-05-01 10:07", []string{"2024-05-01 10:15", "2024-05-01 10:30", "2024-05-01 10:45", "2024-05-01 11:00"}},
		{"offset step", "5/20 * * * *", utc, "2024-05-01 10:00", []string{"2024-05-01 10:05", "2024-05-01 10:25", "2024-05-01 10:45", "2024-05-01 11:05"}},
		{"list and range", "0 9-11,15 * * *", utc, "2024-05-01 10:30", []string{"2024-05-01 11:00", "2024-05-01 15:00", "2024-05-02 09:00"}},
		{"weekdays by name", "30 8 * * MON-FRI", utc, "2024-05-03 09:00", []string{"2024-05-06 08:30", "2024-05-07 08:30"}},
		{"month names", "0 0 1 jan,jul *", utc, "2024-02-10 00:00", []string{"2024-07-01 00:00", "2025-01-01 00:00"}},
		{"question mark", "0 12 ? * 0", utc, "2024-05-01 00:00", []string{"2024-05-05 12:00", "2024-05-12 12:00"}},
		// Day of month and day of week: either, when both are restricted.
		{"13th or Friday", "0 0 13 * 5", utc, "2024-09-01 00:00", []string{"2024-09-06 00:00", "2024-09-13 00:00", "2024-09-20 00:00"}},
		// Both, when one is "*" (here a star with step 1 still counts as star).
		{"Fridays only", "0 0 */1 * 5", utc, "2024-09-01 00:00", []string{"2024-09-06 00:00", "2024-09-13 00:00"}},
		// A stepped star is no longer a star: the days combine with "or".
		{"odd days or Mondays", "0 0 */2 * 1", utc, "2024-09-01 00:00", []string{"2024-09-02 00:00", "2024-09-03 00:00", "2024-09-05 00:00", "2024-09-07 00:00", "2024-09-09 00:00"}},
		{"leap day", "0 0 29 2 *", utc, "2024-03-01 00:00", []string{"2028-02-29 00:00"}},
		{"31st skips short months", "0 0 31 * *", utc, "2024-04-01 00:00", []string{"2024-05-31 00:00", "2024-07-31 00:00"}},
		{"hourly", "@hourly", utc, "2024-05-01 10:59", []string{"2024-05-01 11:00", "2024-05-01 12:00"}},
		{"daily", "@daily", utc, "2024-05-01 00:00", []string{"2024-05-02 00:00"}},
		{"midnight", "@midnight", utc, "2024-12-31 23:59", []string{"2025-01-01 00:00"}},
		{"weekly is Sunday", "@weekly", utc, "2024-05-01 00:00", []string{"2024-05-05 00:00", "2024-05-12 00:00"}},
		{"monthly", "@monthly", utc, "2024-05-15 00:00", []string{"2024-06-01 00:00", "2024-07-01 00:00"}},
		{"yearly", "@yearly", utc, "2024-05-15 00:00", []string{"2025-01-01 00:00"}},
		{"annually", "@annually", utc, "2024-01-01 00:00", []string{"2025-01-01 00:00"}},
		{"every duration", "@every 90m", utc, "2024-05-01 10:00", []string{"2024-05-01 11:30", "2024-05-01 13:00"}},
		{"half-hour zone", "0 0 * * *", kolkata, "2024-05-01 12:00", []string{"2024-05-02 00:00", "2024-05-03 00:00"}},
		// New York springs forward at 02:00 on 2024-03-10: 02:30 does not
		// exist that day and is not run.
		{"spring forward skips", "30 2 * * *", ny, "2024-03-09 03:00", []string{"2024-03-11 02:30", "2024-03-12 02:30"}},
		{"spring forward hourly", "0 * * * *", ny, "2024-03-10 00:30", []string{"2024-03-10 01:00", "2024-03-10 03:00", "2024-03-10 04:00"}},
		// New York falls back at 02:00 on 2024-11-03: 01:30 happens twice.
		{"fall back repeats", "30 1 * * *", ny, "2024-11-03 00:00", []string{"2024-11-03 01:30-04:00", "2024-11-03 01:30-05:00", "2024-11-04 01:30"}},
		{"fall back other hours once", "30 3 * * *", ny, "2024-11-02 12:00", []string{"2024-11-03 03:30", "2024-11-04 03:30"}},
		{"CRON_TZ prefix", "CRON_TZ=Asia/Kolkata 0 9 * * *", utc, "2024-05-01 00:00", []string{"2024-05-01 03:30", "2024-05-02 03:30"}},
		{"TZ prefix overrides loc", "TZ=UTC 0 9 * * *", ny, "2024-05-01 00:00Z", []string{"2024-05-01 09:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.spec, tt.loc)
			cur := at(t, tt.from, tt.loc)
			for _, w := range tt.want {
				got := s.Next(cur)
				want := at(t, w, tt.loc)
				if !got.Equal(want) {
					t.Fatalf("Next(%s) = %s, want %s", cur.In(tt.loc), got.In(tt.loc), want.In(tt.loc))
				}
				if got.Location() != cur.Location() {
					t.Fatalf("Next returned location %s, want the argument's %s", got.Location(), cur.Location())
				}
				cur = got
			}
		})
	}
}

func TestNextImpossibleScheduleIsZero(t *testing.T) {
	s := mustParse(t, "0 0 30 2 *", time.UTC)
	if got := s.Next(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)); !got.IsZero() {
		t.Fatalf("February 30th fired at %s", got)
	}
}

// bruteNext is the definition Next must meet: the first whole minute after
// t, in elapsed time, whose wall clock in loc matches the fields.
func bruteNext(s *specSchedule, t time.Time, limit time.Time) time.Time {
	c := t.Truncate(time.Minute).Add(time.Minute)
	for ; !c.After(limit); c = c.Add(time.Minute) {
		l := c.In(s.loc)
		if s.month.has(int(l.Month())) && s.dayMatches(l) && s.hour.has(l.Hour()) && s.minute.has(l.Minute()) {
			return c
		}
	}
	return time.Time{}
}

// TestNextMatchesMinuteByMinute compares Next with a minute-by-minute
// search around the year's daylight-saving changes of zones that shift at
// odd times: midnight (Santiago, Havana), half an hour (Lord Howe), in
// the southern hemisphere, and with non-hour offsets.
func TestNextMatchesMinuteByMinute(t *testing.T) {
	zones := []string{"America/New_York", "Europe/London", "America/Santiago", "America/Havana",
		"Australia/Lord_Howe", "Asia/Kathmandu", "Asia/Kolkata", "Pacific/Chatham", "UTC"}
	specs := []string{"* * * * *", "*/7 * * * *", "30 * * * *", "0 0 * * *", "30 1 * * *", "30 2 * * *",
		"0 23 * * *", "15 0,12 * * *", "45 1-3 * * *", "0 * * * 0", "0 0 1,15 * *", "59 23 * * *", "*/20 0-3 * * *"}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, zn := range zones {
		loc := mustLoad(t, zn)
		// Instants around each offset change in 2024 and 2025, plus random ones.
		var starts []time.Time
		for c := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC); c.Year() < 2026; c = c.Add(6 * time.Hour) {
			_, o1 := c.In(loc).Zone()
			_, o2 := c.Add(6 * time.Hour).In(loc).Zone()
			if o1 != o2 {
				for d := -26 * time.Hour; d <= 30*time.Hour; d += 157 * time.Minute {
					starts = append(starts, c.Add(d))
				}
			}
		}
		for range 20 {
			starts = append(starts, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(2*365*24*time.Hour)))))
		}
		for _, spec := range specs {
			s := mustParse(t, spec, loc).(*specSchedule)
			for _, st := range starts {
				got := s.Next(st)
				limit := st.Add(50 * time.Hour)
				want := bruteNext(s, st, limit)
				if want.IsZero() {
					// Beyond the search: Next must not have found anything earlier.
					if !got.After(limit) {
						t.Fatalf("%s %q: Next(%s) = %s, but no minute up to %s matches", zn, spec, st.In(loc), got.In(loc), limit.In(loc))
					}
					continue
				}
				if !got.Equal(want) {
					t.Fatalf("%s %q: Next(%s) = %s, minute-by-minute %s", zn, spec, st.In(loc), got.In(loc), want.In(loc))
				}
			}
		}
	}
}

// TestParseAgreesWithValidation: the API server accepts exactly the
// schedules this controller can run, and the messages match.
func TestParseAgreesWithValidation(t *testing.T) {
	specs := []string{
		"* * * * *", "*/5 * * * *", "0 0 * * 0", "30 2 1,15 * *", "0 9-17/2 * * MON-FRI", "0 0 1 jan,Jul ?",
		"5 4 * * sun", "  0   3 * *   *  ", "*-5 * * * *", "5/15 * * * *", "@hourly", "@daily", "@midnight",
		"@weekly", "@monthly", "@yearly", "@annually", "@every 1h30m", "@every 500ms", "CRON_TZ=UTC 0 0 * * *",
		"TZ=Europe/Paris @daily",
		"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 7",
		"5-1 * * * *", "*/0 * * * *", "1-2-3 * * * *", "*/2/3 * * * *", "x * * * *", "* * * FOO *", "-1 * * * *",
		"@fortnightly", "@every 1 hour", "TZ=Nowhere/Land * * * * *", "CRON_TZ=UTC", "1,,2 * * * *",
	}
	for _, spec := range specs {
		vErr := validation.ParseCronSchedule(spec)
		_, pErr := ParseSchedule(spec, time.UTC)
		if (vErr == nil) != (pErr == nil) {
			t.Errorf("%q: validation says %v, controller says %v", spec, vErr, pErr)
			continue
		}
		if vErr != nil && vErr.Error() != pErr.Error() {
			t.Errorf("%q: validation %q, controller %q", spec, vErr, pErr)
		}
	}
}

func TestEveryRoundsToWholeSeconds(t *testing.T) {
	s := mustParse(t, "@every 500ms", time.UTC)
	from := time.Date(2024, 5, 1, 10, 0, 0, 300, time.UTC)
	if got, want := s.Next(from), time.Date(2024, 5, 1, 10, 0, 1, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("@every 500ms from %s: %s, want %s (at least a second, on the second)", from, got, want)
	}
}
