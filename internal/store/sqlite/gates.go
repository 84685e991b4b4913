package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"parkd/internal/parking"
)

// noShowAfter is the lot column no_show_after_us: the policy's no-show window
// in microseconds, which the availability queries add to a reservation's start.
func noShowAfter(p parking.Policy) int64 {
	return time.Duration(p.NoShowAfter).Microseconds()
}

// Gate returns the gate with the given id.
func (s *Store) Gate(ctx context.Context, id string) (parking.Gate, error) {
	g, err := scanGate(s.read.QueryRowContext(ctx, `SELECT id, lot_id, name, direction, key_hash, created_at FROM gates WHERE id = ?`, id))
	return g, classify(err, "gate")
}

// RecordGateEvent appends e to its lot's gate log.
func (s *Store) RecordGateEvent(ctx context.Context, e *parking.GateEvent) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO gate_events
		(id, lot_id, gate_id, direction, reservation_id, plate, decision, reason, actor_id, amount_due, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.LotID, e.GateID, string(e.Direction), nullString(e.ReservationID), e.Plate, e.Decision, e.Reason,
		e.ActorID, e.AmountDue, micros(e.At))
	return classify(err, "gate event")
}

// GateEvents reads a lot's gate log, oldest first, narrowed by f.
func (s *Store) GateEvents(ctx context.Context, lotID string, f parking.GateEventFilter) ([]parking.GateEvent, error) {
	where := []string{"lot_id = ?"}
	args := []any{lotID}
	if !f.From.IsZero() {
		where, args = append(where, "at >= ?"), append(args, micros(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "at < ?"), append(args, micros(f.To))
	}
	if f.Plate != "" {
		where, args = append(where, "plate = ?"), append(args, f.Plate)
	}
	if f.ReservationID != "" {
		where, args = append(where, "reservation_id = ?"), append(args, f.ReservationID)
	}
	limit := -1 // SQLite: no limit
	if f.Limit > 0 {
		limit = f.Limit
	}
	args = append(args, limit)
	rows, err := s.read.QueryContext(ctx, `SELECT id, lot_id, gate_id, direction, COALESCE(reservation_id, ''), plate, decision,
			reason, actor_id, amount_due, at
		FROM gate_events WHERE `+strings.Join(where, " AND ")+` ORDER BY at, id LIMIT ?`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	events := []parking.GateEvent{}
	for rows.Next() {
		var e parking.GateEvent
		var at int64
		if err := rows.Scan(&e.ID, &e.LotID, &e.GateID, &e.Direction, &e.ReservationID, &e.Plate, &e.Decision,
			&e.Reason, &e.ActorID, &e.AmountDue, &at); err != nil {
			return nil, err
		}
		e.At = fromMicros(at)
		events = append(events, e)
	}
	return events, rows.Err()
}

// MarkNoShows moves the lot's confirmed reservations that started at or before
// startedBy to no_show, with their events. The single writer runs one such
// transaction at a time, and the status test makes a second run find nothing.
func (s *Store) MarkNoShows(ctx context.Context, lotID string, startedBy, at time.Time) ([]parking.Reservation, error) {
	var rs []parking.Reservation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE reservations SET status = 'no_show', updated_at = ?
			WHERE lot_id = ? AND status = 'confirmed' AND starts_at <= ?
			RETURNING `+reservationColumns, micros(at), lotID, micros(startedBy))
		if err != nil {
			return err
		}
		if rs, err = collectReservations(rows); err != nil {
			return err
		}
		return insertReservationEvents(ctx, tx, rs, "reservation.no_show", at)
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// FlagOverstays flags the lot's checked-in reservations that ended at or
// before endedBy and were not flagged before, with a "reservation.overstaying"
// event each. Being flagged is what keeps a second run from finding them.
func (s *Store) FlagOverstays(ctx context.Context, lotID string, endedBy, at time.Time) ([]parking.Reservation, error) {
	var rs []parking.Reservation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE reservations SET overstay_flagged_at = ?
			WHERE lot_id = ? AND status = 'checked_in' AND ends_at <= ? AND overstay_flagged_at IS NULL
			RETURNING `+reservationColumns, micros(at), lotID, micros(endedBy))
		if err != nil {
			return err
		}
		if rs, err = collectReservations(rows); err != nil {
			return err
		}
		return insertReservationEvents(ctx, tx, rs, "reservation.overstaying", at)
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// collectReservations reads and closes rows of reservationColumns, ordered by
// start then id (RETURNING promises no order).
func collectReservations(rows *sql.Rows) ([]parking.Reservation, error) {
	defer rows.Close()
	rs := []parking.Reservation{}
	for rows.Next() {
		r, err := scanReservation(rows)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(rs, func(a, b parking.Reservation) int {
		if c := a.StartsAt.Compare(b.StartsAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return rs, nil
}

// insertReservationEvents writes one event of type typ for each of rs.
func insertReservationEvents(ctx context.Context, tx *sql.Tx, rs []parking.Reservation, typ string, at time.Time) error {
	for _, r := range rs {
		if err := insertEvent(ctx, tx, parking.Event{LotID: r.LotID, Type: typ, SpotID: r.SpotID, ReservationID: r.ID, At: at}); err != nil {
			return err
		}
	}
	return nil
}

// EnsurePassKey stores k unless a pass key is stored already and returns every
// key, newest first. The write transaction is BEGIN IMMEDIATE, which other
// processes on the file wait for too, so two instances starting at once store
// one key between them.
func (s *Store) EnsurePassKey(ctx context.Context, k parking.PassKey) ([]parking.PassKey, error) {
	keys := []parking.PassKey{}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO pass_keys (id, secret, created_at)
			SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM pass_keys)`, k.ID, k.Secret, micros(k.CreatedAt)); err != nil {
			return classify(err, "pass key")
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, secret, created_at FROM pass_keys ORDER BY created_at DESC, id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var pk parking.PassKey
			var created int64
			if err := rows.Scan(&pk.ID, &pk.Secret, &created); err != nil {
				return err
			}
			pk.CreatedAt = fromMicros(created)
			keys = append(keys, pk)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return keys, nil
}
