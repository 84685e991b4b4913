package jobs_test

import (
	"context"
	"testing"
	"time"

	"parkd/internal/jobs"
)

// TestQuiet: a Quiet job runs while commits are not announced; once they are,
// only after a change, a Wake, its due time or QuietFallback; a change made
// during a run makes the next run go ahead; a failed run is run again.
func TestQuiet(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2030, 1, 7, 8, 0, 0, 0, time.UTC)
	now := t0
	var changes jobs.Changes
	q := jobs.NewQuiet(&changes, jobs.QuietFallback)
	runs := 0
	var due time.Time
	var during func()
	var fail error
	job := q.Job(func() time.Time { return now }, func(context.Context, time.Time) (time.Time, error) {
		runs++
		if during != nil {
			during()
			during = nil
		}
		return due, fail
	})
	tick := func(step time.Duration, want bool, what string) {
		t.Helper()
		now = now.Add(step)
		before := runs
		if err := job(ctx); err != fail {
			t.Fatalf("%s: job = %v; want %v", what, err, fail)
		}
		if ran := runs > before; ran != want {
			t.Errorf("%s: ran = %v; want %v", what, ran, want)
		}
	}
	tick(0, true, "not announced")
	tick(time.Second, true, "still not announced")
	changes.Announced(true)
	tick(time.Second, true, "announcing began (what committed before went unheard)")
	tick(time.Second, false, "nothing changed, nothing due")
	changes.Changed()
	tick(time.Second, true, "a change was announced")
	due = now.Add(10 * time.Second)
	changes.Changed()
	tick(time.Second, true, "a change that brings a deadline")
	due = time.Time{}
	tick(5*time.Second, false, "before the deadline")
	tick(5*time.Second, true, "at the deadline")
	tick(time.Second, false, "after the run at the deadline")
	q.Wake()
	tick(time.Second, true, "woken")
	changes.Changed()
	during = changes.Changed
	tick(time.Second, true, "a change, and another during its run")
	tick(time.Second, true, "after a change during the last run")
	tick(time.Second, false, "quiet again")
	tick(jobs.QuietFallback, true, "the fallback")
	fail = context.DeadlineExceeded
	changes.Changed()
	tick(time.Second, true, "a run that fails")
	fail = nil
	tick(time.Second, true, "after a failed run")
	tick(time.Second, false, "quiet after success")
	changes.Announced(false)
	tick(time.Second, true, "announcing stopped")
	tick(time.Second, true, "not announced again")
}

func TestEarliest(t *testing.T) {
	a := time.Date(2030, 1, 7, 8, 0, 0, 0, time.UTC)
	b := a.Add(time.Hour)
	for _, c := range []struct {
		in   []time.Time
		want time.Time
	}{
		{nil, time.Time{}},
		{[]time.Time{{}, {}}, time.Time{}},
		{[]time.Time{b, {}, a}, a},
		{[]time.Time{{}, b}, b},
	} {
		if got := jobs.Earliest(c.in...); !got.Equal(c.want) {
			t.Errorf("Earliest(%v) = %v; want %v", c.in, got, c.want)
		}
	}
}
