package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"parkd/internal/parking"
)

// noShowAfter is the lot column no_show_after_us: the policy's no-show window
// in microseconds, which the availability queries add to a reservation's start.
func noShowAfter(p parking.Policy) int64 {
	return time.Duration(p.NoShowAfter).Microseconds()
}

// Gate returns the gate with the given id.
func (s *Store) Gate(ctx context.Context, id string) (parking.Gate, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+gateColumns+` FROM gates WHERE id = $1`, id)
	g, err := pgx.CollectExactlyOneRow(rows, scanGate)
	return g, classify(err, "gate")
}

// RecordGateEvent appends e to its lot's gate log.
func (s *Store) RecordGateEvent(ctx context.Context, e *parking.GateEvent) error {
	e.At = utc(e.At)
	_, err := s.pool.Exec(ctx, `INSERT INTO gate_events
		(id, lot_id, gate_id, direction, reservation_id, plate, decision, reason, actor_id, amount_due, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		e.ID, e.LotID, e.GateID, string(e.Direction), nullable(e.ReservationID), e.Plate, e.Decision, e.Reason,
		e.ActorID, e.AmountDue, e.At)
	return classify(err, "gate event")
}

// GateEvents reads a lot's gate log, oldest first, narrowed by f. Only the
// filters given become conditions, so each shape of query gets its own plan
// (gate_events_lot_at for a time range, gate_events_reservation for one
// reservation).
func (s *Store) GateEvents(ctx context.Context, lotID string, f parking.GateEventFilter) ([]parking.GateEvent, error) {
	where := []string{"lot_id = $1"}
	args := []any{lotID}
	cond := func(expr string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(expr, len(args)))
	}
	if !f.From.IsZero() {
		cond("at >= $%d", utc(f.From))
	}
	if !f.To.IsZero() {
		cond("at < $%d", utc(f.To))
	}
	if f.Plate != "" {
		cond("plate = $%d", f.Plate)
	}
	if f.ReservationID != "" {
		cond("reservation_id = $%d", f.ReservationID)
	}
	var limit *int
	if f.Limit > 0 {
		limit = &f.Limit
	}
	args = append(args, limit)
	rows, _ := s.pool.Query(ctx, fmt.Sprintf(`SELECT id, lot_id, gate_id, direction, COALESCE(reservation_id, ''), plate, decision,
			reason, actor_id, amount_due, at
		FROM gate_events WHERE %s ORDER BY at, id LIMIT $%d`, strings.Join(where, " AND "), len(args)), args...)
	es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parking.GateEvent, error) {
		var e parking.GateEvent
		err := row.Scan(&e.ID, &e.LotID, &e.GateID, &e.Direction, &e.ReservationID, &e.Plate, &e.Decision,
			&e.Reason, &e.ActorID, &e.AmountDue, &e.At)
		e.At = e.At.UTC()
		return e, err
	})
	if err != nil {
		return nil, classify(err, "gate event")
	}
	if es == nil {
		es = []parking.GateEvent{}
	}
	return es, nil
}

// markNoShows moves a lot's ($1) confirmed reservations that started at or
// before $2 to no_show at $3, with their events, and returns them.
//
// Instances may run it at once and each reservation still moves once: the
// rows are locked first, in id order as Hold and ExpireHolds lock them (so
// none of them deadlock), and a row another run moved meanwhile no longer
// passes the status test once its lock is granted. NO KEY UPDATE leaves
// foreign-key checks (a payment or gate event naming the reservation)
// unblocked.
const markNoShows = `WITH x AS (
		UPDATE reservations SET status = 'no_show', updated_at = $3
		WHERE status = 'confirmed' AND id IN (
			SELECT id FROM reservations
			WHERE lot_id = $1 AND status = 'confirmed' AND starts_at <= $2
			ORDER BY id FOR NO KEY UPDATE
		)
		RETURNING ` + reservationColumns + `
	), ev AS (
		INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
		SELECT lot_id, 'reservation.no_show', spot_id, id, $3 FROM x
	)
	SELECT ` + reservationColumns + ` FROM x ORDER BY starts_at, id`

// MarkNoShows moves the lot's confirmed reservations whose start is at or
// before startedBy to no_show, each exactly once, in one statement.
func (s *Store) MarkNoShows(ctx context.Context, lotID string, startedBy, at time.Time) ([]parking.Reservation, error) {
	return s.transition(ctx, markNoShows, lotID, startedBy, at)
}

// flagOverstays flags a lot's ($1) checked-in reservations that ended at or
// before $2 and were not flagged before, at $3, with a
// "reservation.overstaying" event each, and returns them. It locks and
// re-tests rows as markNoShows does, so each is flagged once.
const flagOverstays = `WITH x AS (
		UPDATE reservations SET overstay_flagged_at = $3
		WHERE status = 'checked_in' AND overstay_flagged_at IS NULL AND id IN (
			SELECT id FROM reservations
			WHERE lot_id = $1 AND status = 'checked_in' AND ends_at <= $2 AND overstay_flagged_at IS NULL
			ORDER BY id FOR NO KEY UPDATE
		)
		RETURNING ` + reservationColumns + `
	), ev AS (
		INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
		SELECT lot_id, 'reservation.overstaying', spot_id, id, $3 FROM x
	)
	SELECT ` + reservationColumns + ` FROM x ORDER BY starts_at, id`

// FlagOverstays flags the lot's checked-in reservations whose end is at or
// before endedBy and that were not flagged before, each exactly once.
func (s *Store) FlagOverstays(ctx context.Context, lotID string, endedBy, at time.Time) ([]parking.Reservation, error) {
	return s.transition(ctx, flagOverstays, lotID, endedBy, at)
}

// transition runs markNoShows or flagOverstays, again if PostgreSQL broke a
// deadlock by aborting it.
func (s *Store) transition(ctx context.Context, query, lotID string, by, at time.Time) ([]parking.Reservation, error) {
	var rs []parking.Reservation
	err := retry(ctx, func() error {
		rows, _ := s.pool.Query(ctx, query, lotID, utc(by), utc(at))
		var err error
		rs, err = pgx.CollectRows(rows, scanReservation)
		return err
	})
	if err != nil {
		return nil, classify(err, "reservation")
	}
	if rs == nil {
		rs = []parking.Reservation{}
	}
	return rs, nil
}

// EnsurePassKey stores k unless a pass key is stored already and returns every
// key, newest first. The table lock (SHARE ROW EXCLUSIVE conflicts with itself
// and with inserts, not with reads) makes instances starting at once take
// turns: the first stores its key, the others find it. A lock on the table
// rather than an advisory key keeps schemas of one database apart.
func (s *Store) EnsurePassKey(ctx context.Context, k parking.PassKey) ([]parking.PassKey, error) {
	var keys []parking.PassKey
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE pass_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO pass_keys (id, secret, created_at)
			SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM pass_keys)`, k.ID, k.Secret, utc(k.CreatedAt)); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT id, secret, created_at FROM pass_keys ORDER BY created_at DESC, id`)
		var err error
		keys, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (parking.PassKey, error) {
			var pk parking.PassKey
			err := row.Scan(&pk.ID, &pk.Secret, &pk.CreatedAt)
			pk.CreatedAt = pk.CreatedAt.UTC()
			return pk, err
		})
		return err
	})
	if err != nil {
		return nil, classify(err, "pass key")
	}
	if keys == nil {
		keys = []parking.PassKey{}
	}
	return keys, nil
}
