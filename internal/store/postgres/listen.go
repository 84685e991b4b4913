package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// eventsChannel is where Announce notifies that events have committed.
const eventsChannel = "parkd_events"

// How long ListenEvents waits before connecting again after losing its
// connection: doubling from the first to the last.
const (
	relistenFirst = 100 * time.Millisecond
	relistenMax   = 5 * time.Second
)

// ListenEvents calls wake each time a transaction that wrote events commits,
// on this instance or any other, until ctx ends. It holds one connection of
// its own, outside the pool, that LISTENs on the events channel. state
// reports nil once it listens and the error when it stops listening; it then
// connects again, backing off from relistenFirst to relistenMax. Events that
// commit while it does not listen are not announced: the caller reads the
// outbox when state reports nil again.
func (s *Store) ListenEvents(ctx context.Context, wake func(), state func(error)) error {
	wait := relistenFirst
	for {
		err := s.listen(ctx, wake, func() {
			wait = relistenFirst
			state(nil)
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		state(err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, relistenMax)
	}
}

// listen connects, LISTENs, calls listening and then wake for every
// notification until the connection fails or ctx ends.
func (s *Store) listen(ctx context.Context, wake, listening func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+eventsChannel); err != nil {
		return err
	}
	listening()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}

// Announce tells every instance that listens (ListenEvents), this one too,
// that events have committed: parkd calls it after each of its own commits
// that wrote events (live.Hub.Waking). It returns at once; the NOTIFY goes out
// from a goroutine of the store's own, and announcements asked for while one
// is being sent go out as one after it.
//
// The NOTIFY is a transaction of its own, sent after the commit, on purpose.
// A NOTIFY inside the writing transaction (a trigger on events did it, until
// migration 0016) takes PostgreSQL's one notify lock at commit and holds it
// through that commit's WAL flush and its wait for a synchronous standby, so
// every writing commit on the server waited for the one before it: holds/s
// halved (docs/benchmarks.md). Alone, it writes no WAL and flushes nothing,
// so the lock is held for microseconds. An announcement can be lost (parkd
// stops, the connection fails): every listener also polls at its fallback.
func (s *Store) Announce() {
	select {
	case s.announce <- struct{}{}:
	default: // one is pending already: it will cover this one too
	}
}

// announcing sends Announce's NOTIFYs until ctx ends.
func (s *Store) announcing(ctx context.Context) {
	defer close(s.announced)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.announce:
		}
		// A failure is not retried: the listeners' fallback poll finds what
		// was not announced.
		s.pool.Exec(ctx, "SELECT pg_notify('"+eventsChannel+"', '')")
	}
}
