// Package feed follows the events outbox: every state change writes an event
// in its own transaction, and a Tailer hands each one to its reader once, in
// the order they became visible.
//
// Seqs are not always visible in order. On PostgreSQL a transaction takes its
// seq when it inserts the event and may commit after one that took a higher
// seq later; a rolled-back one leaves its seq unused for ever. So a Tailer
// remembers the seqs it skipped and looks for them again until Grace has
// passed, and its Cursor, the low watermark a durable reader stores, never
// passes a seq that might still turn up.
package feed

import (
	"context"
	"slices"
	"time"

	"parkd/internal/parking"
)

// Defaults for a Tailer.
const (
	// DefaultGrace is how long a skipped seq is looked for. A transaction that
	// inserts an event commits well within it, or not at all.
	DefaultGrace = 10 * time.Second
	// DefaultLimit is how many events one query reads.
	DefaultLimit = 1000
	// maxGaps bounds the skipped seqs a Tailer remembers: a jump larger than
	// this (a sequence advanced by hand, say) keeps only the nearest ones.
	maxGaps = 10000
	// lookback is how far Start looks behind the last seq for ones still in
	// flight.
	lookback = 1000
)

// Tailer reads the outbox. It is not safe for concurrent use: one goroutine
// polls it.
type Tailer struct {
	store parking.EventStore
	// Clock times gaps; nil means the system clock.
	Clock parking.Clock
	// Grace is how long a skipped seq is looked for; zero means DefaultGrace.
	Grace time.Duration
	// Limit is the page size of a query; zero means DefaultLimit.
	Limit int

	cursor int64               // every seq up to here was returned or given up on
	max    int64               // the highest seq returned (or the start)
	seen   map[int64]bool      // returned seqs above cursor
	gaps   map[int64]time.Time // skipped seqs above cursor, and when first skipped
}

// NewTailer returns a Tailer that starts after seq after: a durable reader
// passes the Cursor it stored.
func NewTailer(store parking.EventStore, after int64) *Tailer {
	return &Tailer{store: store, cursor: after, max: after, seen: map[int64]bool{}, gaps: map[int64]time.Time{}}
}

// Start returns a Tailer that starts now: it returns only events that become
// visible from now on, including any still in flight whose seq is lower than
// the last one already visible.
func Start(ctx context.Context, store parking.EventStore) (*Tailer, error) {
	last, err := store.LastEventSeq(ctx)
	if err != nil {
		return nil, err
	}
	from := max(last-lookback, 0)
	t := NewTailer(store, from)
	visible, err := store.EventsSince(ctx, from, nil, int(last-from)+1)
	if err != nil {
		return nil, err
	}
	now := t.now()
	for _, e := range visible {
		if e.Seq > last {
			break // committed since: the first Poll returns it
		}
		t.note(e.Seq, now)
		t.seen[e.Seq] = true
	}
	for s := t.max + 1; s <= last; s++ {
		t.gaps[s] = now
	}
	t.max = last
	t.advance(now)
	return t, nil
}

// Cursor is a low watermark: every event with a seq at or below it has been
// returned by Poll, or never will be.
func (t *Tailer) Cursor() int64 { return t.cursor }

// Poll returns the events that became visible since the last call, each once:
// new ones by seq, then any skipped ones that have turned up.
func (t *Tailer) Poll(ctx context.Context) ([]parking.Event, error) {
	limit := t.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	missing := make([]int64, 0, len(t.gaps))
	for s := range t.gaps {
		missing = append(missing, s)
	}
	slices.Sort(missing)
	missing = missing[:min(len(missing), limit)]

	var out []parking.Event
	now := t.now()
	after := t.max
	for {
		batch, err := t.store.EventsSince(ctx, after, missing, limit)
		if err != nil {
			return out, err
		}
		for _, e := range batch {
			if e.Seq <= t.cursor || t.seen[e.Seq] {
				continue
			}
			t.note(e.Seq, now)
			t.seen[e.Seq] = true
			out = append(out, e)
		}
		if len(batch) < limit {
			break
		}
		after, missing = t.max, nil
	}
	t.advance(now)
	return out, nil
}

// note records seq as visible: a seq above the highest so far leaves the
// ones between as gaps; one below fills a gap.
func (t *Tailer) note(seq int64, now time.Time) {
	if seq <= t.max {
		delete(t.gaps, seq)
		return
	}
	for s := max(t.max+1, seq-maxGaps); s < seq; s++ {
		t.gaps[s] = now
	}
	t.max = seq
}

// advance moves the cursor over seqs returned and gaps given up on.
func (t *Tailer) advance(now time.Time) {
	grace := t.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	for t.cursor < t.max {
		next := t.cursor + 1
		if t.seen[next] {
			delete(t.seen, next)
		} else if first, ok := t.gaps[next]; ok && now.Sub(first) >= grace {
			delete(t.gaps, next)
		} else if !ok {
			// Skipped by a jump longer than maxGaps: never looked for. Go
			// straight to the lowest seq remembered.
			t.cursor = t.lowestRemembered() - 1
			continue
		} else {
			return
		}
		t.cursor = next
	}
}

func (t *Tailer) lowestRemembered() int64 {
	low := t.max
	for s := range t.gaps {
		low = min(low, s)
	}
	for s := range t.seen {
		low = min(low, s)
	}
	return low
}

func (t *Tailer) now() time.Time {
	if t.Clock == nil {
		return time.Now()
	}
	return t.Clock.Now()
}
