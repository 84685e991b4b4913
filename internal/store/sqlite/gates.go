package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"parkd/internal/parking"
)

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

// CreateGate stores a gate device.
func (s *Store) CreateGate(ctx context.Context, g *parking.Gate) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO gates (id, lot_id, name, direction, key_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		g.ID, g.LotID, g.Name, g.Direction, g.KeyHash, micros(g.CreatedAt))
	return classify(err, "gate")
}

func scanGate(row interface{ Scan(...any) error }) (parking.Gate, error) {
	var g parking.Gate
	var created int64
	err := row.Scan(&g.ID, &g.LotID, &g.Name, &g.Direction, &g.KeyHash, &created)
	g.CreatedAt = fromMicros(created)
	return g, err
}

// Gates lists a lot's gates by name.
func (s *Store) Gates(ctx context.Context, lotID string) ([]parking.Gate, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, lot_id, name, direction, key_hash, created_at FROM gates WHERE lot_id = ? ORDER BY name, id`, lotID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	gates := []parking.Gate{}
	for rows.Next() {
		g, err := scanGate(rows)
		if err != nil {
			return nil, err
		}
		gates = append(gates, g)
	}
	return gates, rows.Err()
}

// GateByKeyHash finds the gate a device key belongs to.
func (s *Store) GateByKeyHash(ctx context.Context, keyHash string) (parking.Gate, error) {
	g, err := scanGate(s.read.QueryRowContext(ctx, `SELECT id, lot_id, name, direction, key_hash, created_at FROM gates WHERE key_hash = ?`, keyHash))
	return g, classify(err, "gate")
}

// SavePassCode records the digest of a reservation's typed code, once.
func (s *Store) SavePassCode(ctx context.Context, digest, reservationID string) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO pass_codes (digest, reservation_id) VALUES (?, ?)
		ON CONFLICT DO NOTHING`, digest, reservationID)
	return classify(err, "pass code")
}

// PassCodeReservations lists the reservations whose typed codes have any of
// digests.
func (s *Store) PassCodeReservations(ctx context.Context, digests []string) ([]string, error) {
	ids := []string{}
	if len(digests) == 0 {
		return ids, nil
	}
	args := make([]any, len(digests))
	for i, d := range digests {
		args[i] = d
	}
	rows, err := s.read.QueryContext(ctx, `SELECT DISTINCT reservation_id FROM pass_codes
		WHERE digest IN (?`+strings.Repeat(", ?", len(digests)-1)+`) ORDER BY reservation_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
