package cronjob

import (
	"testing"
	"time"

	"k8s.io/utils/ptr"
)

func TestPlanRun(t *testing.T) {
	utc := time.UTC
	day := func(h, m, s int) time.Time { return time.Date(2024, 5, 1, h, m, s, 0, utc) }
	tests := []struct {
		name     string
		spec     string
		last     time.Time // last scheduled time, or creation
		now      time.Time
		deadline *int64
		wantRun  *time.Time
		tooMany  bool
		wantNext time.Time
	}{
		{"created mid-minute: nothing due", "* * * * *", day(10, 0, 30), day(10, 0, 50), nil, nil, false, day(10, 1, 0)},
		{"first run due", "* * * * *", day(10, 0, 30), day(10, 1, 5), nil, ptr.To(day(10, 1, 0)), false, day(10, 2, 0)},
		{"exactly on time", "* * * * *", day(10, 0, 30), day(10, 1, 0), nil, ptr.To(day(10, 1, 0)), false, day(10, 2, 0)},
		{"already ran this minute", "* * * * *", day(10, 1, 0), day(10, 1, 40), nil, nil, false, day(10, 2, 0)},
		{"missed runs: only the latest", "* * * * *", day(10, 1, 0), day(10, 5, 10), nil, ptr.To(day(10, 5, 0)), false, day(10, 6, 0)},
		{"latest older than the deadline", "* * * * *", day(10, 1, 0), day(10, 5, 40), ptr.To[int64](30), nil, false, day(10, 6, 0)},
		{"latest within the deadline", "* * * * *", day(10, 1, 0), day(10, 5, 40), ptr.To[int64](60), ptr.To(day(10, 5, 0)), false, day(10, 6, 0)},
		{"zero deadline starts nothing, as in Kubernetes", "* * * * *", day(10, 1, 0), day(10, 5, 0), ptr.To[int64](0), nil, false, day(10, 6, 0)},
		{"100 missed is not too many", "* * * * *", day(10, 0, 0), day(11, 40, 0), nil, ptr.To(day(11, 40, 0)), false, day(11, 41, 0)},
		{"101 missed is too many", "* * * * *", day(10, 0, 0), day(11, 41, 0), nil, ptr.To(day(11, 41, 0)), true, day(11, 42, 0)},
		{"a deadline bounds the count", "* * * * *", day(0, 0, 0), day(11, 41, 0), ptr.To[int64](200), ptr.To(day(11, 41, 0)), false, day(11, 42, 0)},
		{"a year of minutes", "* * * * *", day(0, 0, 0).AddDate(-1, 0, 0), day(11, 41, 30), nil, ptr.To(day(11, 41, 0)), true, day(11, 42, 0)},
		// Weekday mornings, last run months ago, now Monday before 9: the
		// latest is the previous Friday's, across the weekend gap.
		{"sparse schedule after an outage", "0 9 * * 1-5", time.Date(2024, 1, 1, 0, 0, 0, 0, utc), time.Date(2024, 6, 10, 8, 0, 0, 0, utc), nil,
			ptr.To(time.Date(2024, 6, 7, 9, 0, 0, 0, utc)), true, time.Date(2024, 6, 10, 9, 0, 0, 0, utc)},
		{"last run in the future (clock stepped back)", "* * * * *", day(10, 10, 0), day(10, 5, 0), nil, nil, false, day(10, 11, 0)},
		{"every 90 minutes from creation", "@every 90m", day(10, 0, 0), day(11, 30, 0), nil, ptr.To(day(11, 30, 0)), false, day(13, 0, 0)},
		{"hourly, just before", "@hourly", day(9, 0, 0), day(9, 59, 59), nil, nil, false, day(10, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := planRun(mustParse(t, tt.spec, utc), tt.last, tt.now, tt.deadline)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.wantRun == nil && p.run != nil:
				t.Errorf("run %s, want none", p.run)
			case tt.wantRun != nil && (p.run == nil || !p.run.Equal(*tt.wantRun)):
				t.Errorf("run %v, want %s", p.run, tt.wantRun)
			}
			if p.tooManyMissed != tt.tooMany {
				t.Errorf("tooManyMissed %v, want %v", p.tooManyMissed, tt.tooMany)
			}
			if !p.next.Equal(tt.wantNext) {
				t.Errorf("next %s, want %s", p.next, tt.wantNext)
			}
		})
	}
}

func TestPlanRunImpossibleSchedule(t *testing.T) {
	p, err := planRun(mustParse(t, "0 0 31 2 *", time.UTC), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), nil)
	if err == nil || p.run != nil || !p.next.IsZero() {
		t.Fatalf("February 31st: plan %+v, err %v; want an error and nothing to run or wait for", p, err)
	}
}
