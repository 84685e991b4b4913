package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"parkd/internal/parking"
)

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

// CreateGate stores g.
func (s *Store) CreateGate(ctx context.Context, g *parking.Gate) error {
	g.CreatedAt = utc(g.CreatedAt)
	_, err := s.pool.Exec(ctx, `INSERT INTO gates (id, lot_id, name, direction, key_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		g.ID, g.LotID, g.Name, string(g.Direction), g.KeyHash, g.CreatedAt)
	return classify(err, "gate")
}

const gateColumns = `id, lot_id, name, direction, key_hash, created_at`

func scanGate(row pgx.CollectableRow) (parking.Gate, error) {
	var g parking.Gate
	err := row.Scan(&g.ID, &g.LotID, &g.Name, &g.Direction, &g.KeyHash, &g.CreatedAt)
	g.CreatedAt = g.CreatedAt.UTC()
	return g, err
}

// Gates lists a lot's gates ordered by name.
func (s *Store) Gates(ctx context.Context, lotID string) ([]parking.Gate, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+gateColumns+` FROM gates WHERE lot_id = $1 ORDER BY name, id`, lotID)
	gs, err := pgx.CollectRows(rows, scanGate)
	return gs, classify(err, "gate")
}

// GateByKeyHash returns the gate whose API key hashes to keyHash.
func (s *Store) GateByKeyHash(ctx context.Context, keyHash string) (parking.Gate, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+gateColumns+` FROM gates WHERE key_hash = $1`, keyHash)
	g, err := pgx.CollectExactlyOneRow(rows, scanGate)
	return g, classify(err, "gate")
}

// SavePassCode records the digest of a reservation's typed code, once.
func (s *Store) SavePassCode(ctx context.Context, digest, reservationID string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO pass_codes (digest, reservation_id) VALUES ($1, $2)
		ON CONFLICT DO NOTHING`, digest, reservationID)
	return classify(err, "pass code")
}

// PassCodeReservations lists the reservations whose typed codes have any of
// digests.
func (s *Store) PassCodeReservations(ctx context.Context, digests []string) ([]string, error) {
	if len(digests) == 0 {
		return []string{}, nil
	}
	rows, _ := s.pool.Query(ctx, `SELECT DISTINCT reservation_id FROM pass_codes WHERE digest = ANY($1) ORDER BY reservation_id`, digests)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if ids == nil {
		ids = []string{}
	}
	return ids, err
}
