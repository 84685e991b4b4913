package mysql

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"parkd/internal/parking"
)

// This file holds gate devices, the gate log and the keys that sign passes.

// CreateGate stores g.
func (s *Store) CreateGate(ctx context.Context, g *parking.Gate) error {
	g.CreatedAt = utc(g.CreatedAt)
	_, err := s.exec(ctx, `INSERT INTO gates (id, lot_id, name, direction, key_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		g.ID, g.LotID, g.Name, string(g.Direction), g.KeyHash, ts(g.CreatedAt))
	return classify(err, "gate")
}

const gateColumns = `id, lot_id, name, direction, key_hash, created_at`

func scanGate(row scanner) (parking.Gate, error) {
	var g parking.Gate
	err := row.Scan(&g.ID, &g.LotID, &g.Name, &g.Direction, &g.KeyHash, &g.CreatedAt)
	g.CreatedAt = g.CreatedAt.UTC()
	return g, err
}

// Gate returns the gate with the given id.
func (s *Store) Gate(ctx context.Context, id string) (parking.Gate, error) {
	g, err := scanGate(s.db.QueryRowContext(ctx, `SELECT `+gateColumns+` FROM gates WHERE id = ?`, id))
	return g, classify(err, "gate")
}

// Gates lists a lot's gates ordered by name.
func (s *Store) Gates(ctx context.Context, lotID string) ([]parking.Gate, error) {
	return collect(ctx, s.db, scanGate, `SELECT `+gateColumns+` FROM gates WHERE lot_id = ? ORDER BY name, id`, lotID)
}

// GateByKeyHash returns the gate whose API key hashes to keyHash.
func (s *Store) GateByKeyHash(ctx context.Context, keyHash string) (parking.Gate, error) {
	g, err := scanGate(s.db.QueryRowContext(ctx, `SELECT `+gateColumns+` FROM gates WHERE key_hash = ?`, keyHash))
	return g, classify(err, "gate")
}

// RecordGateEvent appends e to its lot's gate log.
func (s *Store) RecordGateEvent(ctx context.Context, e *parking.GateEvent) error {
	e.At = utc(e.At)
	_, err := s.exec(ctx, `INSERT INTO gate_events
		(id, lot_id, gate_id, direction, reservation_id, plate, decision, reason, actor_id, amount_due, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.LotID, e.GateID, string(e.Direction), nullable(e.ReservationID), e.Plate, e.Decision, e.Reason,
		e.ActorID, e.AmountDue, ts(e.At))
	return classify(err, "gate event")
}

// GateEvents reads a lot's gate log, oldest first, narrowed by f. Only the
// filters given become conditions, so each shape of query gets its own plan
// (gate_events_lot_at for a time range, gate_events_reservation for one
// reservation).
func (s *Store) GateEvents(ctx context.Context, lotID string, f parking.GateEventFilter) ([]parking.GateEvent, error) {
	where := []string{"lot_id = ?"}
	args := []any{lotID}
	if !f.From.IsZero() {
		where, args = append(where, "at >= ?"), append(args, ts(f.From))
	}
	if !f.To.IsZero() {
		where, args = append(where, "at < ?"), append(args, ts(f.To))
	}
	if f.Plate != "" {
		where, args = append(where, "plate = ?"), append(args, f.Plate)
	}
	if f.ReservationID != "" {
		where, args = append(where, "reservation_id = ?"), append(args, f.ReservationID)
	}
	limit := ""
	if f.Limit > 0 {
		limit, args = " LIMIT ?", append(args, f.Limit)
	}
	return collect(ctx, s.db, func(row scanner) (parking.GateEvent, error) {
		var e parking.GateEvent
		err := row.Scan(&e.ID, &e.LotID, &e.GateID, &e.Direction, &e.ReservationID, &e.Plate, &e.Decision,
			&e.Reason, &e.ActorID, &e.AmountDue, &e.At)
		e.At = e.At.UTC()
		return e, err
	}, `SELECT id, lot_id, gate_id, direction, COALESCE(reservation_id, ''), plate, decision, reason, actor_id, amount_due, at
		FROM gate_events WHERE `+strings.Join(where, " AND ")+` ORDER BY at, id`+limit, args...)
}

// EnsurePassKey stores k unless a pass key is stored already and returns every
// key, newest first. A GET_LOCK lock for the database makes instances starting
// at once take turns (a transaction could not: at READ COMMITTED two of them
// would both find the table empty): the first stores its key, the others find
// it.
func (s *Store) EnsurePassKey(ctx context.Context, k parking.PassKey) ([]parking.PassKey, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	name := lockName("passkeys", s.dbName)
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, 30)`, name).Scan(&got); err != nil {
		return nil, err
	}
	if got.Int64 != 1 {
		return nil, errors.New("timed out waiting for another instance's pass key")
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT RELEASE_LOCK(?)`, name)
	if _, err := conn.ExecContext(ctx, `INSERT INTO pass_keys (id, secret, created_at)
		SELECT ?, ?, ? FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM pass_keys)`, k.ID, k.Secret, ts(k.CreatedAt)); err != nil {
		return nil, classify(err, "pass key")
	}
	return collect(ctx, conn, func(row scanner) (parking.PassKey, error) {
		var pk parking.PassKey
		err := row.Scan(&pk.ID, &pk.Secret, &pk.CreatedAt)
		pk.CreatedAt = pk.CreatedAt.UTC()
		return pk, err
	}, `SELECT id, secret, created_at FROM pass_keys ORDER BY created_at DESC, id`)
}

// SavePassCode records the digest of a reservation's typed code, once.
func (s *Store) SavePassCode(ctx context.Context, digest, reservationID string) error {
	_, err := s.exec(ctx, `INSERT INTO pass_codes (digest, reservation_id) VALUES (?, ?)
		ON DUPLICATE KEY UPDATE digest = digest`, digest, reservationID)
	return classify(err, "pass code")
}

// PassCodeReservations lists the reservations whose typed codes have any of
// digests.
func (s *Store) PassCodeReservations(ctx context.Context, digests []string) ([]string, error) {
	if len(digests) == 0 {
		return []string{}, nil
	}
	args := make([]any, len(digests))
	for i, d := range digests {
		args[i] = d
	}
	return collect(ctx, s.db, func(row scanner) (string, error) {
		var id string
		return id, row.Scan(&id)
	}, `SELECT DISTINCT reservation_id FROM pass_codes WHERE digest IN (?`+strings.Repeat(", ?", len(digests)-1)+`) ORDER BY reservation_id`, args...)
}
