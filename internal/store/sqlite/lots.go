package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"
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
	p, err := parking.DecodePolicy([]byte(policy))
	l.Policy = p
	return l, err
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

// noShowAfter is the lot column no_show_after_us: the policy's no-show window
// in microseconds, which the availability queries add to a reservation's start.
func noShowAfter(p parking.Policy) int64 {
	return time.Duration(p.NoShowAfter).Microseconds()
}

// UpdateLot saves a lot's editable fields over the version it names.
func (s *Store) UpdateLot(ctx context.Context, l *parking.Lot) error {
	policy, err := json.Marshal(l.Policy)
	if err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx, `UPDATE lots SET name = ?, address = ?, lat = ?, lng = ?, time_zone = ?, currency = ?, policy = ?,
		no_show_after_us = ?, version = version + 1 WHERE id = ? AND version = ?`,
		l.Name, l.Address, l.Lat, l.Lng, l.TimeZone, l.Currency, string(policy), noShowAfter(l.Policy), l.ID, l.Version)
	return s.updatedVersion(ctx, res, err, "lots", l.ID, "lot", &l.Version)
}

// UpdateLevel saves a level's name, ordinal and plan size over its version.
func (s *Store) UpdateLevel(ctx context.Context, l *parking.Level) error {
	res, err := s.write.ExecContext(ctx, `UPDATE levels SET name = ?, ordinal = ?, width = ?, height = ?, version = version + 1
		WHERE id = ? AND version = ?`,
		l.Name, l.Ordinal, l.Width, l.Height, l.ID, l.Version)
	return s.updatedVersion(ctx, res, err, "levels", l.ID, "level", &l.Version)
}

// UpdateSpot saves a spot's label, size, position and amenities over its version.
func (s *Store) UpdateSpot(ctx context.Context, sp *parking.Spot) error {
	amenities, err := json.Marshal(nonNil(sp.Amenities))
	if err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx, `UPDATE spots SET label = ?, size = ?, lat = ?, lng = ?, x = ?, y = ?, amenities = ?, version = version + 1
		WHERE id = ? AND version = ?`,
		sp.Label, sp.Size, sp.Lat, sp.Lng, sp.X, sp.Y, string(amenities), sp.ID, sp.Version)
	return s.updatedVersion(ctx, res, err, "spots", sp.ID, "spot "+sp.Label, &sp.Version)
}

// updatedVersion is the outcome of an UPDATE of one row of table by id and
// version: a driver error classified; when no row matched, ErrNotFound if none
// has the id, else ErrStale (the version check was the UPDATE's, this read
// only names the failure); on success *version moves on.
func (s *Store) updatedVersion(ctx context.Context, res sql.Result, err error, table, id, what string, version *int64) error {
	if err != nil {
		return classify(err, what)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 1 {
		*version++
		return nil
	}
	var one int
	if err := s.write.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE id = ?`, id).Scan(&one); err != nil {
		return classify(err, what)
	}
	return parking.Errorf(parking.EPRECONDITION, "the %s changed since it was read", what)
}

// SearchLots answers q in one query (parking.LotStore).
func (s *Store) SearchLots(ctx context.Context, q parking.LotQuery) ([]parking.LotMatch, error) {
	args := []any{sql.Named("text", parking.LikePattern(q.Text)), sql.Named("limit", q.Limit),
		sql.Named("after_id", q.After.ID), sql.Named("after_name", q.After.Name)}
	key, within, order := "0", "1", "name, id"
	after := "(name > @after_name OR (name = @after_name AND id > @after_id))"
	if q.Near != nil {
		// parking.DistanceKey, in whole square metres.
		key = `ROUND(((lat - @lat) * (lat - @lat) + ((lng - @lng) * @scale) * ((lng - @lng) * @scale)) * @m2)`
		within, order = "k <= @r2", "k, id"
		after = "(k > @after_key OR (k = @after_key AND id > @after_id))"
		args = append(args, sql.Named("lat", q.Near.Lat), sql.Named("lng", q.Near.Lng), sql.Named("scale", q.Near.Scale()),
			sql.Named("m2", parking.MetresPerDegree*parking.MetresPerDegree), sql.Named("r2", q.Radius*q.Radius),
			sql.Named("after_key", q.After.Key))
	}
	if q.After.ID == "" {
		after = "1"
	}
	rows, err := s.read.QueryContext(ctx, `SELECT `+lotColumns+`, k FROM (
			SELECT `+lotColumns+`, `+key+` AS k FROM lots
			WHERE lower(name) LIKE @text ESCAPE '!' OR lower(address) LIKE @text ESCAPE '!')
		WHERE `+within+` AND `+after+` ORDER BY `+order+` LIMIT @limit`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := []parking.LotMatch{}
	for rows.Next() {
		var k float64
		l, err := scanLot(withKey{rows, &k})
		if err != nil {
			return nil, err
		}
		found = append(found, parking.LotMatch{Lot: l, Key: int64(k)})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return found, nil
}

// withKey scans a lot's row followed by one more column, its sort key.
type withKey struct {
	row interface{ Scan(...any) error }
	key any
}

func (w withKey) Scan(dest ...any) error { return w.row.Scan(append(dest, w.key)...) }

// CountFree sets the spot counts of every lot of found over w, in one query:
// the spots w.Size fits, and those of them in service that nothing claims
// (claimsBooked, claimsPastEnd, as Bookings).
func (s *Store) CountFree(ctx context.Context, found []parking.LotMatch, w parking.LotWindow) error {
	if len(found) == 0 {
		return nil
	}
	args := append(window(w.From, w.To, w.Now), sql.Named("size", int(w.Size)))
	in := make([]string, len(found))
	at := make(map[string]int, len(found))
	for i, m := range found {
		in[i] = "@l" + strconv.Itoa(i)
		args = append(args, sql.Named("l"+strconv.Itoa(i), m.ID))
		at[m.ID] = i
		found[i].Total, found[i].Free = 0, 0
	}
	lots := strings.Join(in, ", ")
	rows, err := s.read.QueryContext(ctx, `SELECT lot_id, COUNT(*), SUM(in_service = 1 AND id NOT IN (
			SELECT spot_id FROM reservations WHERE lot_id IN (`+lots+`) AND `+claimsBooked+`
			UNION ALL SELECT spot_id FROM reservations WHERE lot_id IN (`+lots+`) AND `+claimsPastEnd+`))
		FROM spots WHERE lot_id IN (`+lots+`) AND size >= @size GROUP BY lot_id`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var total, free int
		if err := rows.Scan(&id, &total, &free); err != nil {
			return err
		}
		found[at[id]].Total, found[at[id]].Free = total, free
	}
	return rows.Err()
}

// LotStamps answers the stamps of the lots named (parking.LotStore).
func (s *Store) LotStamps(ctx context.Context, lotIDs []string) (map[string]parking.LotStamp, error) {
	out := make(map[string]parking.LotStamp, len(lotIDs))
	if len(lotIDs) == 0 {
		return out, nil
	}
	in := make([]string, len(lotIDs))
	args := make([]any, len(lotIDs))
	for i, id := range lotIDs {
		in[i] = "@l" + strconv.Itoa(i)
		args[i] = sql.Named("l"+strconv.Itoa(i), id)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT l.id, l.version, COUNT(s.id), COALESCE(SUM(s.version), 0)
		FROM lots l LEFT JOIN spots s ON s.lot_id = l.id WHERE l.id IN (`+strings.Join(in, ", ")+`) GROUP BY l.id, l.version`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var st parking.LotStamp
		if err := rows.Scan(&id, &st.Version, &st.Spots, &st.SpotVersions); err != nil {
			return nil, err
		}
		out[id] = st
	}
	return out, rows.Err()
}
