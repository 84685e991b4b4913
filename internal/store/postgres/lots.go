package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"parkd/internal/parking"
)

// CreateOperator stores o.
func (s *Store) CreateOperator(ctx context.Context, o *parking.Operator) error {
	o.CreatedAt = utc(o.CreatedAt)
	_, err := s.pool.Exec(ctx, `INSERT INTO operators (id, name, created_at) VALUES ($1, $2, $3)`,
		o.ID, o.Name, o.CreatedAt)
	return classify(err, "operator")
}

// Operator returns the operator with the given id.
func (s *Store) Operator(ctx context.Context, id string) (parking.Operator, error) {
	var o parking.Operator
	err := s.pool.QueryRow(ctx, `SELECT id, name, created_at FROM operators WHERE id = $1`, id).
		Scan(&o.ID, &o.Name, &o.CreatedAt)
	o.CreatedAt = o.CreatedAt.UTC()
	return o, classify(err, "operator")
}

// CreateLot stores l.
func (s *Store) CreateLot(ctx context.Context, l *parking.Lot) error {
	policy, err := json.Marshal(l.Policy)
	if err != nil {
		return fmt.Errorf("lot %s: encode policy: %w", l.ID, err)
	}
	l.CreatedAt = utc(l.CreatedAt)
	_, err = s.pool.Exec(ctx, `INSERT INTO lots (id, operator_id, name, address, lat, lng, time_zone, currency, policy, no_show_after_us, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		l.ID, l.OperatorID, l.Name, l.Address, l.Lat, l.Lng, l.TimeZone, l.Currency, policy, noShowAfter(l.Policy), l.CreatedAt)
	if err == nil {
		l.Version = 1 // the column's default
	}
	return classify(err, "lot")
}

const lotColumns = `id, operator_id, name, address, lat, lng, time_zone, currency, policy, created_at, version`

func scanLot(row pgx.CollectableRow) (parking.Lot, error) {
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
	rows, _ := s.pool.Query(ctx, `SELECT `+lotColumns+` FROM lots WHERE id = $1`, id)
	l, err := pgx.CollectExactlyOneRow(rows, scanLot)
	return l, classify(err, "lot")
}

// Lots lists every lot ordered by name.
func (s *Store) Lots(ctx context.Context) ([]parking.Lot, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+lotColumns+` FROM lots ORDER BY name, id`)
	ls, err := pgx.CollectRows(rows, scanLot)
	return ls, classify(err, "lot")
}

// CreateLevel stores l.
func (s *Store) CreateLevel(ctx context.Context, l *parking.Level) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO levels (id, lot_id, name, ordinal, width, height) VALUES ($1, $2, $3, $4, $5, $6)`,
		l.ID, l.LotID, l.Name, l.Ordinal, l.Width, l.Height)
	if err == nil {
		l.Version = 1
	}
	return classify(err, "level")
}

// Levels lists a lot's levels from the lowest up.
func (s *Store) Levels(ctx context.Context, lotID string) ([]parking.Level, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, lot_id, name, ordinal, width, height, version FROM levels WHERE lot_id = $1 ORDER BY ordinal, id`, lotID)
	ls, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parking.Level, error) {
		var l parking.Level
		err := row.Scan(&l.ID, &l.LotID, &l.Name, &l.Ordinal, &l.Width, &l.Height, &l.Version)
		return l, err
	})
	return ls, classify(err, "level")
}

// CreateSpots inserts spots with one COPY, which is a single statement and so
// all or nothing.
func (s *Store) CreateSpots(ctx context.Context, spots []parking.Spot) error {
	if len(spots) == 0 {
		return nil
	}
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"spots"},
		[]string{"id", "lot_id", "level_id", "label", "size", "lat", "lng", "x", "y", "amenities", "in_service"},
		pgx.CopyFromSlice(len(spots), func(i int) ([]any, error) {
			sp := &spots[i]
			return []any{sp.ID, sp.LotID, sp.LevelID, sp.Label, int16(sp.Size), sp.Lat, sp.Lng, sp.X, sp.Y, nonNil(sp.Amenities), sp.InService}, nil
		}))
	if err == nil {
		for i := range spots {
			spots[i].Version = 1 // the column's default
		}
	}
	return classify(err, "spot")
}

const spotColumns = `id, lot_id, level_id, label, size, lat, lng, x, y, amenities, in_service, version`

func scanSpot(row pgx.CollectableRow) (parking.Spot, error) {
	var sp parking.Spot
	var size int16
	err := row.Scan(&sp.ID, &sp.LotID, &sp.LevelID, &sp.Label, &size, &sp.Lat, &sp.Lng, &sp.X, &sp.Y, &sp.Amenities, &sp.InService, &sp.Version)
	sp.Size = parking.Size(size)
	sp.Amenities = nonNil(sp.Amenities)
	return sp, err
}

// Spot returns the spot with the given id.
func (s *Store) Spot(ctx context.Context, id string) (parking.Spot, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+spotColumns+` FROM spots WHERE id = $1`, id)
	sp, err := pgx.CollectExactlyOneRow(rows, scanSpot)
	return sp, classify(err, "spot")
}

// Spots lists a lot's spots ordered by size, then label.
func (s *Store) Spots(ctx context.Context, lotID string) ([]parking.Spot, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+spotColumns+` FROM spots WHERE lot_id = $1 ORDER BY size, label`, lotID)
	sps, err := pgx.CollectRows(rows, scanSpot)
	return sps, classify(err, "spot")
}

// SetSpotInService records the change and its event in one statement.
func (s *Store) SetSpotInService(ctx context.Context, spotID string, inService bool, at time.Time) error {
	typ := "spot.out_of_service"
	if inService {
		typ = "spot.in_service"
	}
	tag, err := s.pool.Exec(ctx, `WITH u AS (
			UPDATE spots SET in_service = $2, version = version + 1 WHERE id = $1 RETURNING lot_id, id
		)
		INSERT INTO events (lot_id, type, spot_id, at)
		SELECT lot_id, $3, id, $4 FROM u`,
		spotID, inService, typ, utc(at))
	if err != nil {
		return classify(err, "spot")
	}
	if tag.RowsAffected() == 0 {
		return parking.Errorf(parking.ENOTFOUND, "spot not found")
	}
	return nil
}

// noShowAfter is the lot column no_show_after_us: the policy's no-show window
// in microseconds, which the availability queries add to a reservation's start.
func noShowAfter(p parking.Policy) int64 {
	return time.Duration(p.NoShowAfter).Microseconds()
}

// UpdateLot saves every field of l but its id, operator and creation time,
// over the version it names.
func (s *Store) UpdateLot(ctx context.Context, l *parking.Lot) error {
	policy, err := json.Marshal(l.Policy)
	if err != nil {
		return fmt.Errorf("lot %s: encode policy: %w", l.ID, err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE lots SET name = $2, address = $3, lat = $4, lng = $5, time_zone = $6, currency = $7, policy = $8,
		no_show_after_us = $9, version = version + 1 WHERE id = $1 AND version = $10`,
		l.ID, l.Name, l.Address, l.Lat, l.Lng, l.TimeZone, l.Currency, policy, noShowAfter(l.Policy), l.Version)
	return s.updatedVersion(ctx, tag.RowsAffected(), err, "lots", l.ID, "lot", &l.Version)
}

// UpdateLevel saves a level's name, ordinal and plan size over its version;
// its lot stays.
func (s *Store) UpdateLevel(ctx context.Context, l *parking.Level) error {
	tag, err := s.pool.Exec(ctx, `UPDATE levels SET name = $2, ordinal = $3, width = $4, height = $5, version = version + 1
		WHERE id = $1 AND version = $6`,
		l.ID, l.Name, l.Ordinal, l.Width, l.Height, l.Version)
	return s.updatedVersion(ctx, tag.RowsAffected(), err, "levels", l.ID, "level", &l.Version)
}

// UpdateSpot saves a spot's label, size, position and amenities over its
// version. Its service state changes only through SetSpotInService, which
// records the event that change needs; a label taken in the lot is a conflict.
func (s *Store) UpdateSpot(ctx context.Context, sp *parking.Spot) error {
	tag, err := s.pool.Exec(ctx, `UPDATE spots SET label = $2, size = $3, lat = $4, lng = $5, x = $6, y = $7, amenities = $8,
			version = version + 1
		WHERE id = $1 AND version = $9`,
		sp.ID, sp.Label, int16(sp.Size), sp.Lat, sp.Lng, sp.X, sp.Y, nonNil(sp.Amenities), sp.Version)
	return s.updatedVersion(ctx, tag.RowsAffected(), err, "spots", sp.ID, "spot", &sp.Version)
}

// updatedVersion is the outcome of an UPDATE of one row of table by id and
// version: a driver error classified; when no row matched, ErrNotFound if none
// has the id, else ErrStale (the version check was the UPDATE's, this read
// only names the failure); on success *version moves on.
func (s *Store) updatedVersion(ctx context.Context, rows int64, err error, table, id, what string, version *int64) error {
	if err != nil {
		return classify(err, what)
	}
	if rows == 1 {
		*version++
		return nil
	}
	var one int
	if err := s.pool.QueryRow(ctx, `SELECT 1 FROM `+table+` WHERE id = $1`, id).Scan(&one); err != nil {
		return classify(err, what)
	}
	return parking.Errorf(parking.EPRECONDITION, "the %s changed since it was read", what)
}

// SearchLots answers q in one query (parking.LotStore).
func (s *Store) SearchLots(ctx context.Context, q parking.LotQuery) ([]parking.LotMatch, error) {
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	text := arg(parking.LikePattern(q.Text))
	key, within, order := "0::float8", "true", "name, id"
	var after string
	if q.Near != nil {
		lat, lng, scale := arg(q.Near.Lat)+"::float8", arg(q.Near.Lng)+"::float8", arg(q.Near.Scale())+"::float8"
		// parking.DistanceKey, in whole square metres.
		key = `round(((lat - ` + lat + `) * (lat - ` + lat + `) + ((lng - ` + lng + `) * ` + scale + `) * ((lng - ` + lng + `) * ` + scale + `)) * ` +
			arg(parking.MetresPerDegree*parking.MetresPerDegree) + `::float8)`
		within, order = "k <= "+arg(q.Radius*q.Radius)+"::float8", "k, id"
		if q.After.ID != "" {
			k, id := arg(float64(q.After.Key))+"::float8", arg(q.After.ID)
			after = " AND (k > " + k + " OR (k = " + k + " AND id > " + id + "))"
		}
	} else if q.After.ID != "" {
		name, id := arg(q.After.Name), arg(q.After.ID)
		after = " AND (name > " + name + " OR (name = " + name + " AND id > " + id + "))"
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+lotColumns+`, k FROM (
			SELECT `+lotColumns+`, `+key+` AS k FROM lots
			WHERE lower(name) LIKE `+text+` ESCAPE '!' OR lower(address) LIKE `+text+` ESCAPE '!') found
		WHERE `+within+after+` ORDER BY `+order+` LIMIT `+arg(q.Limit), args...)
	found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parking.LotMatch, error) {
		var k float64
		l, err := scanLot(withKey{row, &k})
		return parking.LotMatch{Lot: l, Key: int64(k)}, err
	})
	if err != nil {
		return nil, classify(err, "lot")
	}
	if found == nil {
		found = []parking.LotMatch{}
	}
	return found, nil
}

// withKey scans a lot's row followed by one more column, its sort key.
type withKey struct {
	pgx.CollectableRow
	key any
}

func (w withKey) Scan(dest ...any) error { return w.CollectableRow.Scan(append(dest, w.key)...) }

// CountFree sets the spot counts of every lot of found over w, in one query:
// the spots w.Size fits, and those of them in service that nothing claims
// (claimsWindow, as Bookings).
func (s *Store) CountFree(ctx context.Context, found []parking.LotMatch, w parking.LotWindow) error {
	if len(found) == 0 {
		return nil
	}
	ids := make([]string, len(found))
	at := make(map[string]int, len(found))
	for i, m := range found {
		ids[i] = m.ID
		at[m.ID] = i
		found[i].Total, found[i].Free = 0, 0
	}
	rows, _ := s.pool.Query(ctx, `SELECT lot_id, count(*), count(*) FILTER (WHERE in_service AND id NOT IN (
			SELECT spot_id FROM reservations WHERE lot_id = ANY($1) AND `+claimsWindow("$2", "$3", "$4")+`))
		FROM spots WHERE lot_id = ANY($1) AND size >= $5 GROUP BY lot_id`, ids, utc(w.From), utc(w.To), utc(w.Now), int16(w.Size))
	var id string
	var total, free int
	_, err := pgx.ForEachRow(rows, []any{&id, &total, &free}, func() error {
		found[at[id]].Total, found[at[id]].Free = total, free
		return nil
	})
	return classify(err, "lot")
}

// LotStamps answers the stamps of the lots named (parking.LotStore).
func (s *Store) LotStamps(ctx context.Context, lotIDs []string) (map[string]parking.LotStamp, error) {
	out := make(map[string]parking.LotStamp, len(lotIDs))
	if len(lotIDs) == 0 {
		return out, nil
	}
	// Each lot's spots by the index spots_lot_version: as a join PostgreSQL
	// read every spot of every lot.
	rows, _ := s.pool.Query(ctx, `SELECT l.id, l.version, s.n, s.v FROM lots l,
		LATERAL (SELECT count(*), coalesce(sum(version), 0)::bigint FROM spots WHERE spots.lot_id = l.id) s(n, v)
		WHERE l.id = ANY($1)`, lotIDs)
	var id string
	var st parking.LotStamp
	_, err := pgx.ForEachRow(rows, []any{&id, &st.Version, &st.Spots, &st.SpotVersions}, func() error {
		out[id] = st
		return nil
	})
	return out, classify(err, "lot")
}
