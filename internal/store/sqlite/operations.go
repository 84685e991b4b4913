package sqlite

import (
	"context"
	"database/sql"
	"time"

	"parkd/internal/parking"
)

// ClaimJob claims a periodic job's due run. The upsert's WHERE makes the
// claim one statement: the single writer connection serialises it, and a
// second instance on the same file waits for the file's write lock.
func (s *Store) ClaimJob(ctx context.Context, name, holder string, now, next time.Time) (bool, error) {
	res, err := s.write.ExecContext(ctx, `INSERT INTO job_runs (name, next_run_at, holder, claimed_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET next_run_at = excluded.next_run_at, holder = excluded.holder, claimed_at = excluded.claimed_at
		WHERE job_runs.next_run_at <= ?`,
		name, micros(next), holder, micros(now), micros(now))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// pruneQueries delete one bounded batch of each target: the rows picked by
// an indexed range, at most the limit, by rowid.
var pruneQueries = map[parking.PruneTarget]string{
	parking.PruneIdempotencyKeys: `DELETE FROM idempotency_keys WHERE rowid IN (
		SELECT rowid FROM idempotency_keys WHERE expires_at <= ? LIMIT ?)`,
	parking.PruneSessions: `DELETE FROM sessions WHERE rowid IN (
		SELECT rowid FROM sessions WHERE expires_at <= ? LIMIT ?)`,
	parking.PruneWebhookEvents: `DELETE FROM webhook_events WHERE rowid IN (
		SELECT rowid FROM webhook_events WHERE received_at < ? LIMIT ?)`,
	parking.PruneNotifications: `DELETE FROM notifications WHERE rowid IN (
		SELECT rowid FROM notifications WHERE status <> 'pending' AND created_at < ? LIMIT ?)`,
}

// Prune deletes one batch of lapsed rows of target.
func (s *Store) Prune(ctx context.Context, target parking.PruneTarget, before time.Time, limit int) (int, error) {
	q, ok := pruneQueries[target]
	if !ok {
		return 0, parking.Errorf(parking.EINVALID, "nothing called %q is pruned", target)
	}
	res, err := s.write.ExecContext(ctx, q, micros(before), limit)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Backlog measures the background jobs' unfinished work at now.
func (s *Store) Backlog(ctx context.Context, now time.Time) (parking.Backlog, error) {
	var b parking.Backlog
	at := micros(now)
	for _, q := range []struct {
		query  string
		count  *int
		oldest *time.Time
	}{
		{`SELECT count(*), min(hold_expires_at) FROM reservations WHERE status = 'held' AND hold_expires_at <= ?`,
			&b.LapsedHolds, &b.OldestLapsedHold},
		{`SELECT count(*), min(r.starts_at + l.no_show_after_us) FROM reservations r JOIN lots l ON l.id = r.lot_id
			WHERE r.status = 'confirmed' AND r.starts_at + l.no_show_after_us <= ?`,
			&b.NoShowsDue, &b.OldestNoShowDue},
		{`SELECT count(*), min(due_at) FROM notifications WHERE status = 'pending' AND due_at <= ?`,
			&b.DueNotifications, &b.OldestDueNotification},
	} {
		var oldest sql.NullInt64
		if err := s.read.QueryRowContext(ctx, q.query, at).Scan(q.count, &oldest); err != nil {
			return b, err
		}
		if oldest.Valid {
			*q.oldest = fromMicros(oldest.Int64)
		}
	}
	return b, nil
}

// Operators lists every operator by name.
func (s *Store) Operators(ctx context.Context) ([]parking.Operator, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, name, created_at FROM operators ORDER BY name, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ops := []parking.Operator{}
	for rows.Next() {
		var o parking.Operator
		var created int64
		if err := rows.Scan(&o.ID, &o.Name, &created); err != nil {
			return nil, err
		}
		o.CreatedAt = fromMicros(created)
		ops = append(ops, o)
	}
	return ops, rows.Err()
}

// SetUserRole changes a user's role and operator.
func (s *Store) SetUserRole(ctx context.Context, userID string, role parking.Role, operatorID string) error {
	res, err := s.write.ExecContext(ctx, `UPDATE users SET role = ?, operator_id = ? WHERE id = ?`, role, nullString(operatorID), userID)
	return oneRow(res, err, "user")
}

// SetGateKey replaces a gate's key hash.
func (s *Store) SetGateKey(ctx context.Context, gateID, keyHash string) error {
	res, err := s.write.ExecContext(ctx, `UPDATE gates SET key_hash = ? WHERE id = ?`, keyHash, gateID)
	return oneRow(res, err, "gate")
}

// oneRow is the outcome of an UPDATE of one row by id.
func oneRow(res sql.Result, err error, what string) error {
	if err != nil {
		return classify(err, what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return parking.Errorf(parking.ENOTFOUND, "%s not found", what)
	}
	return nil
}

// LotPayments lists the payments of a lot's reservations updated in [from, to).
func (s *Store) LotPayments(ctx context.Context, lotID string, from, to time.Time) ([]parking.Payment, error) {
	return s.payments(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE updated_at >= ? AND updated_at < ?
		AND EXISTS (SELECT 1 FROM reservations r WHERE r.id = payments.reservation_id AND r.lot_id = ?)
		ORDER BY updated_at, id`, micros(from), micros(to), lotID)
}

// PoolStats describes the write connection and the read pool.
func (s *Store) PoolStats() []parking.PoolStats {
	out := make([]parking.PoolStats, 0, 2)
	for _, p := range []struct {
		name string
		db   *sql.DB
	}{{"write", s.write}, {"read", s.read}} {
		st := p.db.Stats()
		out = append(out, parking.PoolStats{Name: p.name, Max: st.MaxOpenConnections, Open: st.OpenConnections,
			InUse: st.InUse, Idle: st.Idle, WaitCount: st.WaitCount, WaitDuration: st.WaitDuration})
	}
	return out
}
