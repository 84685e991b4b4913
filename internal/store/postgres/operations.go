package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"parkd/internal/parking"
)

// ClaimJob claims a periodic job's due run in one statement. Two instances
// that race on the row serialise on its lock; the second then sees the first's
// next_run_at, finds the run not due and changes nothing.
func (s *Store) ClaimJob(ctx context.Context, name, holder string, now, next time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO job_runs (name, next_run_at, holder, claimed_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET next_run_at = excluded.next_run_at, holder = excluded.holder, claimed_at = excluded.claimed_at
		WHERE job_runs.next_run_at <= excluded.claimed_at`,
		name, utc(next), holder, utc(now))
	if err != nil {
		return false, classify(err, "job")
	}
	return tag.RowsAffected() == 1, nil
}

// pruneQueries delete one bounded batch of each target: the rows picked by an
// indexed range, at most the limit, by their physical address. SKIP LOCKED
// leaves rows another transaction is changing (a key being completed) alone.
var pruneQueries = map[parking.PruneTarget]string{
	parking.PruneIdempotencyKeys: `DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`,
	parking.PruneSessions: `DELETE FROM sessions WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM sessions WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`,
	parking.PruneWebhookEvents: `DELETE FROM webhook_events WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM webhook_events WHERE received_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`,
	parking.PruneNotifications: `DELETE FROM notifications WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM notifications WHERE status <> 'pending' AND created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`,
}

// Prune deletes one batch of lapsed rows of target.
func (s *Store) Prune(ctx context.Context, target parking.PruneTarget, before time.Time, limit int) (int, error) {
	q, ok := pruneQueries[target]
	if !ok {
		return 0, parking.Errorf(parking.EINVALID, "nothing called %q is pruned", target)
	}
	tag, err := s.pool.Exec(ctx, q, utc(before), limit)
	if err != nil {
		return 0, classify(err, string(target))
	}
	return int(tag.RowsAffected()), nil
}

// Backlog measures the background jobs' unfinished work at now.
func (s *Store) Backlog(ctx context.Context, now time.Time) (parking.Backlog, error) {
	var b parking.Backlog
	for _, q := range []struct {
		query  string
		count  *int
		oldest *time.Time
	}{
		{`SELECT count(*), min(hold_expires_at) FROM reservations WHERE status = 'held' AND hold_expires_at <= $1`,
			&b.LapsedHolds, &b.OldestLapsedHold},
		{`SELECT count(*), min(r.starts_at + l.no_show_after_us * interval '1 microsecond')
			FROM reservations r JOIN lots l ON l.id = r.lot_id
			WHERE r.status = 'confirmed' AND r.starts_at + l.no_show_after_us * interval '1 microsecond' <= $1`,
			&b.NoShowsDue, &b.OldestNoShowDue},
		{`SELECT count(*), min(due_at) FROM notifications WHERE status = 'pending' AND due_at <= $1`,
			&b.DueNotifications, &b.OldestDueNotification},
	} {
		var oldest *time.Time
		if err := s.pool.QueryRow(ctx, q.query, utc(now)).Scan(q.count, &oldest); err != nil {
			return b, err
		}
		if oldest != nil {
			*q.oldest = oldest.UTC()
		}
	}
	return b, nil
}

// Operators lists every operator by name.
func (s *Store) Operators(ctx context.Context) ([]parking.Operator, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, name, created_at FROM operators ORDER BY name, id`)
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (parking.Operator, error) {
		var o parking.Operator
		err := row.Scan(&o.ID, &o.Name, &o.CreatedAt)
		o.CreatedAt = o.CreatedAt.UTC()
		return o, err
	})
}

// SetUserRole changes a user's role and operator.
func (s *Store) SetUserRole(ctx context.Context, userID string, role parking.Role, operatorID string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE users SET role = $1, operator_id = $2 WHERE id = $3`, string(role), nullable(operatorID), userID)
	return updated(tag.RowsAffected(), err, "user")
}

// SetGateKey replaces a gate's key hash.
func (s *Store) SetGateKey(ctx context.Context, gateID, keyHash string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE gates SET key_hash = $1 WHERE id = $2`, keyHash, gateID)
	return updated(tag.RowsAffected(), err, "gate")
}

// LotPayments lists the payments of a lot's reservations updated in [from, to).
func (s *Store) LotPayments(ctx context.Context, lotID string, from, to time.Time) ([]parking.Payment, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE updated_at >= $1 AND updated_at < $2
		AND EXISTS (SELECT 1 FROM reservations r WHERE r.id = payments.reservation_id AND r.lot_id = $3)
		ORDER BY updated_at, id`, utc(from), utc(to), lotID)
	ps, err := pgx.CollectRows(rows, scanPayment)
	if ps == nil {
		ps = []parking.Payment{}
	}
	return ps, err
}

// PoolStats describes the connection pool.
func (s *Store) PoolStats() []parking.PoolStats {
	st := s.pool.Stat()
	return []parking.PoolStats{{Name: "pool", Max: int(st.MaxConns()), Open: int(st.TotalConns()),
		InUse: int(st.AcquiredConns()), Idle: int(st.IdleConns()),
		WaitCount: st.EmptyAcquireCount(), WaitDuration: st.EmptyAcquireWaitTime()}}
}
