package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// eventsChannel is where every transaction that writes events notifies when
// it commits and inserted an event (migrations 0014, 0015).
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
