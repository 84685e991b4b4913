package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"parkd/internal/parking"
)

// This file holds operators, lots, levels and spots.

// CreateOperator stores o.
func (s *Store) CreateOperator(ctx context.Context, o *parking.Operator) error {
	o.CreatedAt = utc(o.CreatedAt)
	_, err := s.exec(ctx, `INSERT INTO operators (id, name, created_at) VALUES (?, ?, ?)`,
		o.ID, o.Name, ts(o.CreatedAt))
	return classify(err, "operator")
}

// Operator returns the operator with the given id.
func (s *Store) Operator(ctx context.Context, id string) (parking.Operator, error) {
	var o parking.Operator
	err := s.db.QueryRowContext(ctx, `SELECT id, name, created_at FROM operators WHERE id = ?`, id).
		Scan(&o.ID, &o.Name, &o.CreatedAt)
	o.CreatedAt = o.CreatedAt.UTC()
	return o, classify(err, "operator")
}

// noShowAfter is the lot column no_show_after_us: the policy's no-show window
// in microseconds, which the queries add to a reservation's start.
func noShowAfter(p parking.Policy) int64 {
	return time.Duration(p.NoShowAfter).Microseconds()
}

// CreateLot stores l.
func (s *Store) CreateLot(ctx context.Context, l *parking.Lot) error {
	policy, err := json.Marshal(l.Policy)
	if err != nil {
		return fmt.Errorf("lot %s: encode policy: %w", l.ID, err)
	}
	l.CreatedAt = utc(l.CreatedAt)
	_, err = s.exec(ctx, `INSERT INTO lots (id, operator_id, name, address, lat, lng, time_zone, currency, policy, no_show_after_us, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.ID, l.OperatorID, l.Name, l.Address, l.Lat, l.Lng, l.TimeZone, l.Currency, string(policy), noShowAfter(l.Policy), ts(l.CreatedAt))
	if err == nil {
		l.Version = 1 // the column's default
	}
	return classify(err, "lot")
}

const lotColumns = `id, operator_id, name, address, lat, lng, time_zone, currency, policy, created_at, version`

func scanLot(row scanner) (parking.Lot, error) {
	var l parking.Lot
	var policy []byte
	if err := row.Scan(&l.ID, &l.OperatorID, &l.Name, &l.Address, &l.Lat, &l.Lng, &l.TimeZone, &l.Currency, &policy, &l.CreatedAt, &l.Version); err != nil {
		return l, err
	}
	p, err := parking.DecodePolicy(policy)
	if err != nil {
		return l, fmt.Errorf("lot %s: decode policy: %w", l.ID, err)
	}
	l.Policy = p
	l.CreatedAt = l.CreatedAt.UTC()
	return l, nil
}

// Lot returns the lot with the given id.
func (s *Store) Lot(ctx context.Context, id string) (parking.Lot, error) {
	l, err := scanLot(s.db.QueryRowContext(ctx, `SELECT `+lotColumns+` FROM lots WHERE id = ?`, id))
	return l, classify(err, "lot")
}

// Lots lists every lot ordered by name.
func (s *Store) Lots(ctx context.Context) ([]parking.Lot, error) {
	return collect(ctx, s.db, scanLot, `SELECT `+lotColumns+` FROM lots ORDER BY name, id`)
}

// UpdateLot saves every field of l but its id, operator and creation time,
// over the version it names.
func (s *Store) UpdateLot(ctx context.Context, l *parking.Lot) error {
	policy, err := json.Marshal(l.Policy)
	if err != nil {
		return fmt.Errorf("lot %s: encode policy: %w", l.ID, err)
	}
	res, err := s.exec(ctx, `UPDATE lots SET name = ?, address = ?, lat = ?, lng = ?, time_zone = ?, currency = ?, policy = ?,
		no_show_after_us = ?, version = version + 1 WHERE id = ? AND version = ?`,
		l.Name, l.Address, l.Lat, l.Lng, l.TimeZone, l.Currency, string(policy), noShowAfter(l.Policy), l.ID, l.Version)
	return s.updatedVersion(ctx, res, err, "lots", l.ID, "lot", &l.Version)
}

// CreateLevel stores l.
func (s *Store) CreateLevel(ctx context.Context, l *parking.Level) error {
	_, err := s.exec(ctx, `INSERT INTO levels (id, lot_id, name, ordinal, width, height) VALUES (?, ?, ?, ?, ?, ?)`,
		l.ID, l.LotID, l.Name, l.Ordinal, l.Width, l.Height)
	if err == nil {
		l.Version = 1 // the column's default
	}
	return classify(err, "level")
}

// Levels lists a lot's levels from the lowest up.
func (s *Store) Levels(ctx context.Context, lotID string) ([]parking.Level, error) {
	return collect(ctx, s.db, func(row scanner) (parking.Level, error) {
		var l parking.Level
		err := row.Scan(&l.ID, &l.LotID, &l.Name, &l.Ordinal, &l.Width, &l.Height, &l.Version)
		return l, err
	}, `SELECT id, lot_id, name, ordinal, width, height, version FROM levels WHERE lot_id = ? ORDER BY ordinal, id`, lotID)
}

// UpdateLevel saves a level's name, ordinal and plan size over its version;
// its lot stays.
func (s *Store) UpdateLevel(ctx context.Context, l *parking.Level) error {
	res, err := s.exec(ctx, `UPDATE levels SET name = ?, ordinal = ?, width = ?, height = ?, version = version + 1
		WHERE id = ? AND version = ?`,
		l.Name, l.Ordinal, l.Width, l.Height, l.ID, l.Version)
	return s.updatedVersion(ctx, res, err, "levels", l.ID, "level", &l.Version)
}

// CreateSpots inserts spots in one transaction, a few hundred rows per
// statement: all or none.
func (s *Store) CreateSpots(ctx context.Context, spots []parking.Spot) error {
	if len(spots) == 0 {
		return nil
	}
	const batch = 200
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(spots); start += batch {
			part := spots[start:min(start+batch, len(spots))]
			args := make([]any, 0, 11*len(part))
			for _, sp := range part {
				amenities, err := json.Marshal(nonNil(sp.Amenities))
				if err != nil {
					return err
				}
				args = append(args, sp.ID, sp.LotID, sp.LevelID, sp.Label, int16(sp.Size), sp.Lat, sp.Lng, sp.X, sp.Y,
					string(amenities), sp.InService)
			}
			rows := strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", len(part))
			_, err := tx.ExecContext(ctx, `INSERT INTO spots (id, lot_id, level_id, label, size, lat, lng, x, y, amenities, in_service)
				VALUES `+strings.TrimSuffix(rows, ", "), args...)
			if err != nil {
				return classify(err, "spot")
			}
		}
		for i := range spots {
			spots[i].Version = 1 // the column's default
		}
		return nil
	})
}

const spotColumns = `id, lot_id, level_id, label, size, lat, lng, x, y, amenities, in_service, version`

func scanSpot(row scanner) (parking.Spot, error) {
	var sp parking.Spot
	var amenities []byte
	if err := row.Scan(&sp.ID, &sp.LotID, &sp.LevelID, &sp.Label, &sp.Size, &sp.Lat, &sp.Lng, &sp.X, &sp.Y, &amenities, &sp.InService, &sp.Version); err != nil {
		return sp, err
	}
	if err := json.Unmarshal(amenities, &sp.Amenities); err != nil {
		return sp, fmt.Errorf("spot %s: decode amenities: %w", sp.ID, err)
	}
	sp.Amenities = nonNil(sp.Amenities)
	return sp, nil
}

// Spot returns the spot with the given id.
func (s *Store) Spot(ctx context.Context, id string) (parking.Spot, error) {
	sp, err := scanSpot(s.db.QueryRowContext(ctx, `SELECT `+spotColumns+` FROM spots WHERE id = ?`, id))
	return sp, classify(err, "spot")
}

// Spots lists a lot's spots ordered by size, then label.
func (s *Store) Spots(ctx context.Context, lotID string) ([]parking.Spot, error) {
	return collect(ctx, s.db, scanSpot, `SELECT `+spotColumns+` FROM spots WHERE lot_id = ? ORDER BY size, label`, lotID)
}

// SetSpotInService records the change and its event in one transaction. The
// lock on the spot's row is the one every claim takes first, so a hold that
// checked the spot was in service commits before the spot goes out of service,
// and one that comes after sees it out of service.
func (s *Store) SetSpotInService(ctx context.Context, spotID string, inService bool, at time.Time) error {
	typ := "spot.out_of_service"
	if inService {
		typ = "spot.in_service"
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var lotID string
		err := tx.QueryRowContext(ctx, `SELECT lot_id FROM spots WHERE id = ? FOR UPDATE`, spotID).Scan(&lotID)
		if err != nil {
			return classify(err, "spot")
		}
		if _, err := tx.ExecContext(ctx, `UPDATE spots SET in_service = ?, version = version + 1 WHERE id = ?`, inService, spotID); err != nil {
			return classify(err, "spot")
		}
		return insertEvent(ctx, tx, parking.Event{LotID: lotID, Type: typ, SpotID: spotID, At: at})
	})
}

// UpdateSpot saves a spot's label, size, position and amenities over its
// version. Its service
// state changes only through SetSpotInService, which records the event that
// change needs; a label taken in the lot is a conflict.
func (s *Store) UpdateSpot(ctx context.Context, sp *parking.Spot) error {
	amenities, err := json.Marshal(nonNil(sp.Amenities))
	if err != nil {
		return err
	}
	res, err := s.exec(ctx, `UPDATE spots SET label = ?, size = ?, lat = ?, lng = ?, x = ?, y = ?, amenities = ?, version = version + 1
		WHERE id = ? AND version = ?`,
		sp.Label, int16(sp.Size), sp.Lat, sp.Lng, sp.X, sp.Y, string(amenities), sp.ID, sp.Version)
	return s.updatedVersion(ctx, res, err, "spots", sp.ID, "spot", &sp.Version)
}

// updated is the outcome of an UPDATE of one row by id: a driver error
// classified, or ErrNotFound when no row had the id (the connection reports
// matched rows, not changed ones: see ParseDSN).
func updated(res sql.Result, err error, what string) error {
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

// collect runs a query and scans every row with scan; no rows is an empty,
// non-nil slice.
func collect[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// nonNil keeps amenities a JSON array rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// updatedVersion is the outcome of an UPDATE of one row of table by id and
// version: a driver error classified; when no row matched, ErrNotFound if none
// has the id, else ErrStale (the version check was the UPDATE's, this read
// only names the failure); on success *version moves on. The connection
// reports matched rows, so a match is 1 whatever the values.
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
	if err := s.db.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE id = ?`, id).Scan(&one); err != nil {
		return classify(err, what)
	}
	return parking.Errorf(parking.EPRECONDITION, "the %s changed since it was read", what)
}

// SearchLots answers q in one query (parking.LotStore). The arguments follow the placeholders in the
// order the query names them.
func (s *Store) SearchLots(ctx context.Context, q parking.LotQuery) ([]parking.LotMatch, error) {
	var args []any
	key := "0"
	if q.Near != nil {
		// parking.DistanceKey, in whole square metres.
		key = `ROUND(((lat - ?) * (lat - ?) + ((lng - ?) * ?) * ((lng - ?) * ?)) * ?)`
		lat, lng, scale := q.Near.Lat, q.Near.Lng, q.Near.Scale()
		args = append(args, lat, lat, lng, scale, lng, scale, parking.MetresPerDegree*parking.MetresPerDegree)
	}
	text := parking.LikePattern(q.Text)
	args = append(args, text, text)
	within, order, after := "TRUE", "name, id", ""
	if q.Near != nil {
		within, order = "k <= ?", "k, id"
		args = append(args, q.Radius*q.Radius)
		if q.After.ID != "" {
			after = " AND (k > ? OR (k = ? AND id > ?))"
			args = append(args, float64(q.After.Key), float64(q.After.Key), q.After.ID)
		}
	} else if q.After.ID != "" {
		after = " AND (name > ? OR (name = ? AND id > ?))"
		args = append(args, q.After.Name, q.After.Name, q.After.ID)
	}
	args = append(args, q.Limit)
	found, err := collect(ctx, s.db, func(row scanner) (parking.LotMatch, error) {
		var k float64
		l, err := scanLot(withKey{row, &k})
		return parking.LotMatch{Lot: l, Key: int64(k)}, err
	}, `SELECT `+lotColumns+`, k FROM (
			SELECT `+lotColumns+`, `+key+` AS k FROM lots
			WHERE LOWER(name) LIKE ? ESCAPE '!' OR LOWER(address) LIKE ? ESCAPE '!') found
		WHERE `+within+after+` ORDER BY `+order+` LIMIT ?`, args...)
	if err != nil {
		return nil, err
	}
	return found, nil
}

// withKey scans a lot's row followed by one more column, its sort key.
type withKey struct {
	row scanner
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
	ids := make([]any, len(found))
	at := make(map[string]int, len(found))
	for i, m := range found {
		ids[i] = m.ID
		at[m.ID] = i
		found[i].Total, found[i].Free = 0, 0
	}
	in := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
	var args []any
	args = append(append(args, ids...), bookedArgs(w.From, w.To, w.Now)...)
	args = append(append(args, ids...), pastEndArgs(w.To, w.Now)...)
	args = append(append(args, ids...), int(w.Size))
	rows, err := s.db.QueryContext(ctx, `SELECT lot_id, COUNT(*), COALESCE(SUM(in_service AND id NOT IN (
			SELECT spot_id FROM reservations WHERE lot_id IN (`+in+`) AND `+claimsBooked+`
			UNION ALL SELECT spot_id FROM reservations WHERE lot_id IN (`+in+`) AND `+claimsPastEnd+`)), 0)
		FROM spots WHERE lot_id IN (`+in+`) AND size >= ? GROUP BY lot_id`, args...)
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
	args := make([]any, len(lotIDs))
	for i, id := range lotIDs {
		args[i] = id
	}
	in := strings.TrimSuffix(strings.Repeat("?, ", len(lotIDs)), ", ")
	type stamped struct {
		id    string
		stamp parking.LotStamp
	}
	found, err := collect(ctx, s.db, func(row scanner) (stamped, error) {
		var v stamped
		return v, row.Scan(&v.id, &v.stamp.Version, &v.stamp.Spots, &v.stamp.SpotVersions)
	}, `SELECT l.id, l.version, COUNT(s.id), COALESCE(SUM(s.version), 0)
		FROM lots l LEFT JOIN spots s ON s.lot_id = l.id WHERE l.id IN (`+in+`) GROUP BY l.id, l.version`, args...)
	for _, v := range found {
		out[v.id] = v.stamp
	}
	return out, err
}
