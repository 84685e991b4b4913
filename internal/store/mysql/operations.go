package mysql

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"parkd/internal/parking"
)

// This file holds what running parkd needs beside the product: job claims,
// retention, the backlog, the administration commands' changes and reports.

// ClaimJob claims a periodic job's due run. The job's row is locked and read
// again, so of instances racing for it one moves next_run_at and the others
// find the run not due. A job that never ran has no row: racers both insert,
// and the second fails on the primary key once the first commits.
func (s *Store) ClaimJob(ctx context.Context, name, holder string, now, next time.Time) (bool, error) {
	claimed := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		claimed = false
		var due time.Time
		err := tx.QueryRowContext(ctx, `SELECT next_run_at FROM job_runs WHERE name = ? FOR UPDATE`, name).Scan(&due)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, `INSERT INTO job_runs (name, next_run_at, holder, claimed_at) VALUES (?, ?, ?, ?)`,
				name, ts(next), holder, ts(now))
		case err != nil:
			return err
		case due.After(utc(now)):
			return nil // claimed by another until due
		default:
			_, err = tx.ExecContext(ctx, `UPDATE job_runs SET next_run_at = ?, holder = ?, claimed_at = ? WHERE name = ?`,
				ts(next), holder, ts(now), name)
		}
		claimed = err == nil
		return err
	})
	if isDuplicate(err, "PRIMARY") {
		return false, nil // another instance ran it first
	}
	return claimed, classify(err, "job")
}

// prune is how one batch of a target is found: the table, its key and the
// lapse condition (one argument, the cut-off).
type prune struct{ table, key, lapsed string }

var pruneTargets = map[parking.PruneTarget]prune{
	parking.PruneIdempotencyKeys: {"idempotency_keys", "user_id, `key`", `expires_at <= ?`},
	parking.PruneSessions:        {"sessions", "token_hash", `expires_at <= ?`},
	parking.PruneWebhookEvents:   {"webhook_events", "id", `received_at < ?`},
	parking.PruneNotifications:   {"notifications", "id", `created_at < ? AND status <> 'pending'`},
}

// Prune deletes one batch of lapsed rows of target: at most limit rows found
// by an indexed range and locked with SKIP LOCKED, which leaves rows another
// transaction is changing (a key being completed) alone, then deleted by key.
func (s *Store) Prune(ctx context.Context, target parking.PruneTarget, before time.Time, limit int) (int, error) {
	p, ok := pruneTargets[target]
	if !ok {
		return 0, parking.Errorf(parking.EINVALID, "nothing called %q is pruned", target)
	}
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, `SELECT `+p.key+` FROM `+p.table+` WHERE `+p.lapsed+` LIMIT ? FOR UPDATE SKIP LOCKED`,
			ts(before), limit)
		if err != nil {
			return err
		}
		width := strings.Count(p.key, ",") + 1
		var keys []any
		for rows.Next() {
			k := make([]any, width)
			ptrs := make([]any, width)
			for i := range k {
				ptrs[i] = &k[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return err
			}
			keys = append(keys, k...)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(keys) == 0 {
			return err
		}
		tuple := "(" + placeholders(width) + ")"
		res, err := tx.ExecContext(ctx, `DELETE FROM `+p.table+` WHERE (`+p.key+`) IN (`+
			strings.TrimSuffix(strings.Repeat(tuple+", ", len(keys)/width), ", ")+`)`, keys...)
		if err != nil {
			return err
		}
		m, err := res.RowsAffected()
		n = int(m)
		return err
	})
	return n, classify(err, string(target))
}

// Backlog measures the background jobs' unfinished work at now.
func (s *Store) Backlog(ctx context.Context, now time.Time) (parking.Backlog, error) {
	var b parking.Backlog
	for _, q := range []struct {
		query  string
		count  *int
		oldest *time.Time
	}{
		{`SELECT COUNT(*), MIN(hold_expires_at) FROM reservations WHERE status = 'held' AND hold_expires_at <= ?`,
			&b.LapsedHolds, &b.OldestLapsedHold},
		{`SELECT COUNT(*), MIN(r.starts_at + INTERVAL l.no_show_after_us MICROSECOND)
			FROM reservations r JOIN lots l ON l.id = r.lot_id
			WHERE r.status = 'confirmed' AND r.starts_at + INTERVAL l.no_show_after_us MICROSECOND <= ?`,
			&b.NoShowsDue, &b.OldestNoShowDue},
		{`SELECT COUNT(*), MIN(due_at) FROM notifications WHERE status = 'pending' AND due_at <= ?`,
			&b.DueNotifications, &b.OldestDueNotification},
	} {
		var oldest sql.NullTime
		if err := s.db.QueryRowContext(ctx, q.query, ts(now)).Scan(q.count, &oldest); err != nil {
			return b, err
		}
		if oldest.Valid {
			*q.oldest = oldest.Time.UTC()
		}
	}
	return b, nil
}

// Operators lists every operator by name.
func (s *Store) Operators(ctx context.Context) ([]parking.Operator, error) {
	return collect(ctx, s.db, func(row scanner) (parking.Operator, error) {
		var o parking.Operator
		err := row.Scan(&o.ID, &o.Name, &o.CreatedAt)
		o.CreatedAt = o.CreatedAt.UTC()
		return o, err
	}, `SELECT id, name, created_at FROM operators ORDER BY name, id`)
}

// SetUserRole changes a user's role and operator.
func (s *Store) SetUserRole(ctx context.Context, userID string, role parking.Role, operatorID string) error {
	res, err := s.exec(ctx, `UPDATE users SET role = ?, operator_id = ? WHERE id = ?`, string(role), nullable(operatorID), userID)
	return updated(res, err, "user")
}

// SetGateKey replaces a gate's key hash.
func (s *Store) SetGateKey(ctx context.Context, gateID, keyHash string) error {
	res, err := s.exec(ctx, `UPDATE gates SET key_hash = ? WHERE id = ?`, keyHash, gateID)
	return updated(res, err, "gate")
}

// LotPayments lists the payments of a lot's reservations updated in [from, to).
func (s *Store) LotPayments(ctx context.Context, lotID string, from, to time.Time) ([]parking.Payment, error) {
	return collect(ctx, s.db, scanPayment, `SELECT `+paymentColumns+` FROM payments
		WHERE updated_at >= ? AND updated_at < ?
			AND EXISTS (SELECT 1 FROM reservations r WHERE r.id = payments.reservation_id AND r.lot_id = ?)
		ORDER BY updated_at, id`, ts(from), ts(to), lotID)
}

// PoolStats describes the connection pool.
func (s *Store) PoolStats() []parking.PoolStats {
	st := s.db.Stats()
	return []parking.PoolStats{{Name: "pool", Max: st.MaxOpenConnections, Open: st.OpenConnections,
		InUse: st.InUse, Idle: st.Idle, WaitCount: st.WaitCount, WaitDuration: st.WaitDuration}}
}
