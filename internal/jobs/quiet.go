package jobs

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Changes counts the commits announced to this instance: on PostgreSQL every
// commit that writes events, on any instance, reaches it through LISTEN.
// Jobs that only act on committed rows need not look while none arrives.
type Changes struct {
	seq       atomic.Uint64
	announced atomic.Bool
}

// Changed records a commit (or the chance of one nobody announced).
func (c *Changes) Changed() { c.seq.Add(1) }

// Announced records whether every commit is announced from now on. Either way
// it counts as a change: what committed while nobody listened went unheard.
func (c *Changes) Announced(on bool) {
	c.announced.Store(on)
	c.seq.Add(1)
}

// How long a Quiet job waits at most between runs even when nothing says it
// has work. PolicyFallback is for jobs that read what no announcement covers:
// a lot's policy, which UpdateLot changes without an event (the lifecycle
// sweep reads its no-show window and early arrival). QuietFallback is for the
// rest, whose every input is announced: a backstop only.
const (
	PolicyFallback = time.Minute
	QuietFallback  = 10 * time.Minute
)

// Quiet skips the runs of a job that cannot find work: no commit was
// announced since its last run, the time it gave for its next work has not
// come, and its last run is less than its fallback ago. While commits are not
// announced (Changes.Announced(false)), every run goes ahead.
type Quiet struct {
	changes  *Changes
	fallback time.Duration
	woken    atomic.Uint64

	mu    sync.Mutex
	known bool      // a run completed, so seen, due and ran mean something
	seen  uint64    // the mark that run began at
	due   time.Time // when time alone next gives work; zero: never
	ran   time.Time
}

// NewQuiet returns a Quiet that follows c and runs at least every fallback.
func NewQuiet(c *Changes, fallback time.Duration) *Quiet {
	return &Quiet{changes: c, fallback: fallback}
}

// Wake makes the next run go ahead: work arrived that no announcement covers
// (this instance derived notifications to send).
func (q *Quiet) Wake() { q.woken.Add(1) }

// mark changes whenever a commit is announced, announcing stops or starts,
// or Wake is called.
func (q *Quiet) mark() uint64 { return q.changes.seq.Load() + q.woken.Load() }

// Begin reports whether the run at now must go ahead, and the mark to hand to
// Done when it completes.
func (q *Quiet) Begin(now time.Time) (mark uint64, run bool) {
	mark = q.mark()
	if !q.changes.announced.Load() {
		return mark, true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case !q.known, mark != q.seen, !now.Before(q.ran.Add(q.fallback)):
		return mark, true
	case !q.due.IsZero() && !now.Before(q.due):
		return mark, true
	}
	return mark, false
}

// Done records that the run begun at mark completed at now, and that time
// alone gives the job work again at due (zero: only a change does). A run
// that failed calls nothing: the next run goes ahead.
func (q *Quiet) Done(mark uint64, now, due time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.known, q.seen, q.due, q.ran = true, mark, due, now
}

// Job returns job as a job for Every that runs only when Begin says so: job
// returns when it has work again (zero: only after a change).
func (q *Quiet) Job(now func() time.Time, job func(ctx context.Context, now time.Time) (time.Time, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		at := now()
		mark, run := q.Begin(at)
		if !run {
			return nil
		}
		due, err := job(ctx, at)
		if err == nil {
			q.Done(mark, at, due)
		}
		return err
	}
}

// Earliest returns the earliest of ts that is not zero, or zero.
func Earliest(ts ...time.Time) time.Time {
	var e time.Time
	for _, t := range ts {
		if !t.IsZero() && (e.IsZero() || t.Before(e)) {
			e = t
		}
	}
	return e
}
