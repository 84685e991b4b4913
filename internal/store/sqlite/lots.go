package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"parkd/internal/parking"
)

// CreateOperator stores o.
func (s *Store) CreateOperator(ctx context.Context, o *parking.Operator) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO operators (id, name, created_at) VALUES (?, ?, ?)`,
		o.ID, o.Name, micros(o.CreatedAt))
	return classify(err, "operator")
}

// Operator returns the operator with the given id.
func (s *Store) Operator(ctx context.Context, id string) (parking.Operator, error) {
	var o parking.Operator
	var created int64
	err := s.read.QueryRowContext(ctx, `SELECT id, name, created_at FROM operators WHERE id = ?`, id).
		Scan(&o.ID, &o.Name, &created)
	o.CreatedAt = fromMicros(created)
	return o, classify(err, "operator")
}

// CreateLot stores l.
func (s *Store) CreateLot(ctx context.Context, l *parking.Lot) error {
	policy, err := json.Marshal(l.Policy)
	if err != nil {
		return err
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO lots (id, operator_id, name, address, lat, lng, time_zone, currency, policy, no_show_after_us, created_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
		l.ID, l.OperatorID, l.Name, l.Address, l.Lat, l.Lng, l.TimeZone, l.Currency, string(policy), noShowAfter(l.Policy), micros(l.CreatedAt))
	if err == nil {
		l.Version = 1
	}
	return classify(err, "lot")
}

const lotColumns = `id, operator_id, name, address, lat, lng, time_zone, currency, policy, created_at, version`

func scanLot(row interface{ Scan(...any) error }) (parking.Lot, error) {
	var l parking.Lot
	var policy string
	var created int64
	if err := row.Scan(&l.ID, &l.OperatorID, &l.Name, &l.Address, &l.Lat, &l.Lng, &l.TimeZone, &l.Currency, &policy, &created, &l.Version); err != nil {
		return l, err
	}
	l.CreatedAt = fromMicros(created)
	return l, json.Unmarshal([]byte(policy), &l.Policy)
}

// Lot returns the lot with the given id.
func (s *Store) Lot(ctx context.Context, id string) (parking.Lot, error) {
	l, err := scanLot(s.read.QueryRowContext(ctx, `SELECT `+lotColumns+` FROM lots WHERE id = ?`, id))
	return l, classify(err, "lot")
}

// Lots lists every lot by name.
func (s *Store) Lots(ctx context.Context) ([]parking.Lot, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+lotColumns+` FROM lots ORDER BY name, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	lots := []parking.Lot{}
	for rows.Next() {
		l, err := scanLot(rows)
		if err != nil {
			return nil, err
		}
		lots = append(lots, l)
	}
	return lots, rows.Err()
}

// CreateLevel stores l.
func (s *Store) CreateLevel(ctx context.Context, l *parking.Level) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO levels (id, lot_id, name, ordinal, width, height, version) VALUES (?, ?, ?, ?, ?, ?, 1)`,
		l.ID, l.LotID, l.Name, l.Ordinal, l.Width, l.Height)
	if err == nil {
		l.Version = 1
	}
	return classify(err, "level")
}

// Levels lists a lot's levels, lowest first.
func (s *Store) Levels(ctx context.Context, lotID string) ([]parking.Level, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, lot_id, name, ordinal, width, height, version FROM levels WHERE lot_id = ? ORDER BY ordinal, id`, lotID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	levels := []parking.Level{}
	for rows.Next() {
		var l parking.Level
		if err := rows.Scan(&l.ID, &l.LotID, &l.Name, &l.Ordinal, &l.Width, &l.Height, &l.Version); err != nil {
			return nil, err
		}
		levels = append(levels, l)
	}
	return levels, rows.Err()
}

// CreateSpots inserts spots, all or none.
func (s *Store) CreateSpots(ctx context.Context, spots []parking.Spot) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO spots (id, lot_id, level_id, label, size, lat, lng, x, y, amenities, in_service, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, sp := range spots {
			amenities, err := json.Marshal(nonNil(sp.Amenities))
			if err != nil {
				return err
			}
			if _, err := stmt.ExecContext(ctx, sp.ID, sp.LotID, sp.LevelID, sp.Label, sp.Size, sp.Lat, sp.Lng, sp.X, sp.Y, string(amenities), sp.InService); err != nil {
				return classify(err, "spot")
			}
			spots[i].Version = 1
		}
		return nil
	})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const spotColumns = `id, lot_id, level_id, label, size, lat, lng, x, y, amenities, in_service, version`

func scanSpot(row interface{ Scan(...any) error }) (parking.Spot, error) {
	var sp parking.Spot
	var amenities string
	if err := row.Scan(&sp.ID, &sp.LotID, &sp.LevelID, &sp.Label, &sp.Size, &sp.Lat, &sp.Lng, &sp.X, &sp.Y, &amenities, &sp.InService, &sp.Version); err != nil {
		return sp, err
	}
	return sp, json.Unmarshal([]byte(amenities), &sp.Amenities)
}

// Spot returns the spot with the given id.
func (s *Store) Spot(ctx context.Context, id string) (parking.Spot, error) {
	sp, err := scanSpot(s.read.QueryRowContext(ctx, `SELECT `+spotColumns+` FROM spots WHERE id = ?`, id))
	return sp, classify(err, "spot")
}

// Spots lists a lot's spots by size, then label.
func (s *Store) Spots(ctx context.Context, lotID string) ([]parking.Spot, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+spotColumns+` FROM spots WHERE lot_id = ? ORDER BY size, label`, lotID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	spots := []parking.Spot{}
	for rows.Next() {
		sp, err := scanSpot(rows)
		if err != nil {
			return nil, err
		}
		spots = append(spots, sp)
	}
	return spots, rows.Err()
}

// SetSpotInService puts a spot in or out of service and records the event.
func (s *Store) SetSpotInService(ctx context.Context, spotID string, inService bool, at time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var lotID string
		err := tx.QueryRowContext(ctx, `UPDATE spots SET in_service = ?, version = version + 1 WHERE id = ? RETURNING lot_id`, inService, spotID).Scan(&lotID)
		if err != nil {
			return classify(err, "spot")
		}
		typ := "spot.in_service"
		if !inService {
			typ = "spot.out_of_service"
		}
		return insertEvent(ctx, tx, parking.Event{LotID: lotID, Type: typ, SpotID: spotID, At: at})
	})
}

// Events lists a lot's events after seq, oldest first.
func (s *Store) Events(ctx context.Context, lotID string, afterSeq int64, limit int) ([]parking.Event, error) {
	return s.queryEvents(ctx, `SELECT seq, lot_id, type, spot_id, reservation_id, at FROM events
		WHERE lot_id = ? AND seq > ? ORDER BY seq LIMIT ?`, lotID, afterSeq, noLimit(limit))
}

// EventsSince lists every lot's events after afterSeq or in missing. One
// writer numbers SQLite's events in commit order, so missing seqs never turn
// up later; they are looked up all the same, as the contract says.
func (s *Store) EventsSince(ctx context.Context, afterSeq int64, missing []int64, limit int) ([]parking.Event, error) {
	if len(missing) == 0 {
		return s.queryEvents(ctx, `SELECT seq, lot_id, type, spot_id, reservation_id, at FROM events
			WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, noLimit(limit))
	}
	list, err := json.Marshal(missing)
	if err != nil {
		return nil, err
	}
	return s.queryEvents(ctx, `SELECT seq, lot_id, type, spot_id, reservation_id, at FROM events
		WHERE seq > ? OR seq IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?`, afterSeq, string(list), noLimit(limit))
}

// noLimit is limit for a LIMIT clause, where SQLite reads a negative one as no
// limit at all; zero or less means no limit, as on the other backends.
func noLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

// LastEventSeq is the highest event seq.
func (s *Store) LastEventSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := s.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&seq)
	return seq, err
}

func (s *Store) queryEvents(ctx context.Context, query string, args ...any) ([]parking.Event, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	events := []parking.Event{}
	for rows.Next() {
		var e parking.Event
		var at int64
		if err := rows.Scan(&e.Seq, &e.LotID, &e.Type, &e.SpotID, &e.ReservationID, &at); err != nil {
			return nil, err
		}
		e.At = fromMicros(at)
		events = append(events, e)
	}
	return events, rows.Err()
}
