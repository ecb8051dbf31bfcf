package cronjob

import (
	"fmt"
	"time"
)

// maxMissed: more unmet times than this since the last run points at a
// wrong clock or a long outage, and Kubernetes warns (TooManyMissedTimes).
const maxMissed = 100

// plan is what a schedule asks for at one moment.
type plan struct {
	// run is the scheduled time of the Job to start now, if any: the most
	// recent scheduled time after the last run and not after now, unless
	// it is older than startingDeadlineSeconds. Older unmet times are
	// dropped, not caught up: one late run stands for all of them.
	run *time.Time
	// tooManyMissed: more than maxMissed scheduled times went unmet.
	tooManyMissed bool
	// next is the first scheduled time after now (and after the last
	// run): when to look again. Zero if the schedule never fires again.
	next time.Time
}

// planRun is the scheduling decision, a pure function of the schedule, the
// last scheduled time (the CronJob's creation before its first run), the
// current time and startingDeadlineSeconds.
func planRun(s Schedule, last, now time.Time, startingDeadlineSeconds *int64) (plan, error) {
	var p plan
	from := last
	if now.After(from) {
		from = now
	}
	// A last run "in the future" (a clock stepped back) waits for it.
	p.next = s.Next(from)

	earliest := last
	if startingDeadlineSeconds != nil {
		if d := now.Add(-time.Duration(*startingDeadlineSeconds) * time.Second); d.After(earliest) {
			earliest = d
		}
	}
	first := s.Next(earliest)
	if first.IsZero() {
		return p, fmt.Errorf("no scheduled time within five years after %s", earliest.UTC().Format(time.RFC3339))
	}
	if first.After(now) {
		return p, nil
	}
	cur := first
	for n := 1; n <= maxMissed; n++ {
		nx := s.Next(cur)
		if nx.IsZero() || nx.After(now) {
			p.run = &cur
			return p, nil
		}
		cur = nx
	}
	p.tooManyMissed = true
	latest := latestBefore(s, cur, now)
	p.run = &latest
	return p, nil
}

// latestBefore returns the last scheduled time not after now, given one
// such time, known. Instead of walking every time since (a minutely
// schedule missed for a year is half a million), it looks back from now
// over windows of doubling length until one holds a scheduled time, and
// walks only that window.
func latestBefore(s Schedule, known, now time.Time) time.Time {
	for back := time.Minute; ; back *= 2 {
		start := now.Add(-back)
		if !start.After(known) {
			start = known
		}
		t := s.Next(start)
		if t.IsZero() || t.After(now) {
			if start.Equal(known) {
				return known
			}
			continue
		}
		for {
			nx := s.Next(t)
			if nx.IsZero() || nx.After(now) {
				return t
			}
			t = nx
		}
	}
}
