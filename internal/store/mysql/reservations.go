package mysql

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"parkd/internal/parking"
)

// This file holds reservations: holds, status changes, moves, extensions, the
// sweeps, and the reads of who claims which spot.
//
// The rule of parking.Policy.Holds and parking.Policy.Claims is written here
// once in SQL (holdsAt, claimsBooked, claimsPastEnd) for the reads. Writers
// decide under the spot's row lock with rivals, release and blocked, which
// restate, in Go around one query, what PostgreSQL's exclusion constraint and
// reservations_car_inside trigger refuse (see rivals).

const reservationColumns = `id, user_id, vehicle_id, plate, vehicle_size, lot_id, spot_id, starts_at, ends_at, status,
	amount, currency, hold_expires_at, created_at, updated_at, checked_in_at, checked_out_at, moved_from, change_reason, price_size`

type scanner interface{ Scan(...any) error }

func scanReservation(row scanner) (parking.Reservation, error) {
	var r parking.Reservation
	var userID, vehicleID sql.NullString
	var checkedIn, checkedOut sql.NullTime
	var priceSize sql.NullInt16
	err := row.Scan(&r.ID, &userID, &vehicleID, &r.Plate, &r.VehicleSize, &r.LotID, &r.SpotID, &r.StartsAt, &r.EndsAt, &r.Status,
		&r.Amount, &r.Currency, &r.HoldExpiresAt, &r.CreatedAt, &r.UpdatedAt, &checkedIn, &checkedOut,
		&r.MovedFrom, &r.ChangeReason, &priceSize)
	r.UserID, r.VehicleID = userID.String, vehicleID.String
	if priceSize.Valid {
		r.PriceSize = parking.Size(priceSize.Int16)
	}
	r.StartsAt, r.EndsAt = r.StartsAt.UTC(), r.EndsAt.UTC()
	r.HoldExpiresAt, r.CreatedAt, r.UpdatedAt = r.HoldExpiresAt.UTC(), r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	r.CheckedInAt, r.CheckedOutAt = fromNull(checkedIn), fromNull(checkedOut)
	return r, err
}

// priceSize stores the size a reservation was priced at, or NULL when unknown.
func priceSize(r *parking.Reservation) any {
	if !r.PriceSize.Valid() {
		return nil
	}
	return int16(r.PriceSize)
}

// lotNoShowUS reads the row's own lot's no-show window, in microseconds.
const lotNoShowUS = `(SELECT no_show_after_us FROM lots WHERE lots.id = reservations.lot_id)`

// holdsAt: the row of reservations holds its spot at now (a hold until it
// expires, a confirmed booking until its no-show deadline, a car inside until
// it leaves). Its arguments are now, twice.
const holdsAt = `(status = 'checked_in'
		OR (status = 'held' AND hold_expires_at > ?)
		OR (status = 'confirmed' AND starts_at + INTERVAL ` + lotNoShowUS + ` MICROSECOND > ?))`

// A row claims some of [from, to) at now when it holds its spot and either its
// window overlaps [from, to) (claimsBooked; arguments from, to, now, now) or
// its car is inside past its window and came in before to (claimsPastEnd;
// arguments now, to). Queries ask the two apart, joined by UNION, so that each
// reads its own index: the windows that end after from, and the few cars
// inside.
const (
	claimsBooked  = `ends_at > ? AND starts_at < ? AND ` + holdsAt
	claimsPastEnd = `status = 'checked_in' AND ends_at <= ? AND starts_at < ?`
)

func bookedArgs(from, to, now time.Time) []any { return []any{ts(from), ts(to), ts(now), ts(now)} }

func pastEndArgs(to, now time.Time) []any { return []any{ts(now), ts(to)} }

// Reservation returns the reservation with the given id.
func (s *Store) Reservation(ctx context.Context, id string) (parking.Reservation, error) {
	return reservationIn(ctx, s.db, id)
}

func reservationIn(ctx context.Context, q querier, id string) (parking.Reservation, error) {
	r, err := scanReservation(q.QueryRowContext(ctx, `SELECT `+reservationColumns+` FROM reservations WHERE id = ?`, id))
	return r, classify(err, "reservation")
}

// lockReservation reads reservation id and locks its row.
func lockReservation(ctx context.Context, tx *sql.Tx, id string) (parking.Reservation, error) {
	r, err := scanReservation(tx.QueryRowContext(ctx, `SELECT `+reservationColumns+` FROM reservations WHERE id = ? FOR UPDATE`, id))
	return r, classify(err, "reservation")
}

// UserReservations lists a user's reservations, newest window first.
func (s *Store) UserReservations(ctx context.Context, userID string) ([]parking.Reservation, error) {
	return collect(ctx, s.db, scanReservation, `SELECT `+reservationColumns+` FROM reservations WHERE user_id = ?
		ORDER BY starts_at DESC, id`, userID)
}

// LotReservations lists a lot's reservations of any status whose window
// overlaps [from, to), and the cars inside that came in before to, by start.
func (s *Store) LotReservations(ctx context.Context, lotID string, from, to time.Time) ([]parking.Reservation, error) {
	return collect(ctx, s.db, scanReservation, `SELECT `+reservationColumns+` FROM reservations FORCE INDEX (reservations_lot_window)
			WHERE lot_id = ? AND ends_at > ? AND starts_at < ?
		UNION
		SELECT `+reservationColumns+` FROM reservations FORCE INDEX (reservations_lot_status)
			WHERE lot_id = ? AND status = 'checked_in' AND starts_at < ?
		ORDER BY starts_at, id`, lotID, ts(from), ts(to), lotID, ts(to))
}

// SpotReservations lists a spot's reservations that hold it at from and claim
// it after from: held, confirmed (until the no-show deadline) and every car
// inside, by start.
func (s *Store) SpotReservations(ctx context.Context, spotID string, from time.Time) ([]parking.Reservation, error) {
	return collect(ctx, s.db, scanReservation, `SELECT `+reservationColumns+` FROM reservations FORCE INDEX (reservations_spot_window)
			WHERE spot_id = ? AND ends_at > ? AND `+holdsAt+`
		UNION
		SELECT `+reservationColumns+` FROM reservations FORCE INDEX (reservations_spot_status)
			WHERE spot_id = ? AND status = 'checked_in'
		ORDER BY starts_at, id`, spotID, ts(from), ts(from), ts(from), spotID)
}

// bookingsQuery is Bookings' one query. Its arguments: lot, from, to, now,
// now, lot, lot, now, to. Each half names its index: the windows of the lot
// that end after from (reservations_lot_window, which holds every column the
// half reads) and the cars inside (reservations_lot_status); left to choose,
// the optimizer takes reservations_held for "status IN (...)" and reads every
// hold of every lot.
const bookingsQuery = `SELECT spot_id, MAX(CASE status WHEN 'checked_in' THEN 3 WHEN 'confirmed' THEN 2 ELSE 1 END)
		FROM (
			SELECT spot_id, status FROM reservations FORCE INDEX (reservations_lot_window)
			WHERE lot_id = ? AND ends_at > ? AND starts_at < ? AND status IN ('held', 'confirmed', 'checked_in')
				AND (status <> 'held' OR hold_expires_at > ?)
				AND (status <> 'confirmed' OR starts_at > CAST(? AS DATETIME(6)) - INTERVAL (SELECT no_show_after_us FROM lots WHERE id = ?) MICROSECOND)
			UNION ALL
			SELECT spot_id, status FROM reservations FORCE INDEX (reservations_lot_status)
			WHERE lot_id = ? AND status = 'checked_in' AND ends_at <= ? AND starts_at < ?
		) claims
		GROUP BY spot_id`

// Bookings returns each spot's strongest claim within [from, to) at now, in
// one query. A confirmed reservation holds its spot until its no-show deadline
// (its start plus the lot's no-show window, read once for the query) whether
// or not MarkNoShows has run; a car inside past its window holds it until it
// leaves.
func (s *Store) Bookings(ctx context.Context, lotID string, from, to, now time.Time) ([]parking.SpotBooking, error) {
	rows, err := s.db.QueryContext(ctx, bookingsQuery,
		lotID, ts(from), ts(to), ts(now), ts(now), lotID, lotID, ts(now), ts(to))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var bs []parking.SpotBooking
	for rows.Next() {
		var b parking.SpotBooking
		var rank int
		if err := rows.Scan(&b.SpotID, &rank); err != nil {
			return nil, err
		}
		b.Status = [...]parking.Status{1: parking.StatusHeld, 2: parking.StatusConfirmed, 3: parking.StatusCheckedIn}[rank]
		bs = append(bs, b)
	}
	return bs, rows.Err()
}

// spotRow is a spot as a writer sees it once it holds the row's lock.
type spotRow struct {
	lotID     string
	inService bool
}

// lockSpot locks spot id's row and returns it; found is false when the spot
// does not exist or, with skip, when another transaction has locked it
// (SKIP LOCKED), which lets racers for "any spot" spread over the spots
// instead of queueing behind one another.
func lockSpot(ctx context.Context, tx *sql.Tx, id string, skip bool) (sp spotRow, found bool, err error) {
	query := `SELECT lot_id, in_service FROM spots WHERE id = ? FOR UPDATE`
	if skip {
		query += ` SKIP LOCKED`
	}
	err = tx.QueryRowContext(ctx, query, id).Scan(&sp.lotID, &sp.inService)
	if errors.Is(err, sql.ErrNoRows) {
		return sp, false, nil
	}
	return sp, err == nil, err
}

// lockSpots locks the rows of the given spots, in id order, and returns those
// that exist. Every transaction that locks several spots at once locks them in
// this one order, so two of them cannot deadlock over their spots.
func lockSpots(ctx context.Context, tx *sql.Tx, ids []string) (map[string]spotRow, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	spots := make(map[string]spotRow, len(ids))
	if len(ids) == 0 {
		return spots, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, lot_id, in_service FROM spots WHERE id IN (`+placeholders(len(ids))+`)
		ORDER BY id FOR UPDATE`, strArgs(ids)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var sp spotRow
		if err := rows.Scan(&id, &sp.lotID, &sp.inService); err != nil {
			return nil, err
		}
		spots[id] = sp
	}
	return spots, rows.Err()
}

// rival is a reservation that stands in the way of a claim on its spot.
type rival struct {
	id, lotID, spotID string
	status            parking.Status
	holdExpires       time.Time
	deadline          time.Time // start plus the lot's no-show window
}

// lapsed reports whether v no longer holds its spot at now: a hold past its
// expiry, or a confirmed reservation nobody checked in by its no-show
// deadline. A writer releases such rivals rather than yield to them.
func (v rival) lapsed(now time.Time) bool {
	switch v.status {
	case parking.StatusHeld:
		return !now.Before(v.holdExpires)
	case parking.StatusConfirmed:
		return !now.Before(v.deadline)
	}
	return false
}

// rivals lists the reservations on spotID, other than except, that stand in
// the way of a claim of [from, to) made at now, as the writer that makes it
// holds the spot's row lock (so none can appear before it commits):
//
//   - with overlap, those in a status that holds a spot whose window overlaps
//     [from, to), lapsed or not: what PostgreSQL's exclusion constraint
//     (reservations_no_overlap) refuses;
//   - with inside, the cars inside past their window at now that came in
//     before to: what its reservations_car_inside trigger refuses.
//
// The writer releases the lapsed ones (release) and gives up if any other is
// left (blocked), as the PostgreSQL store releases lapsed reservations before
// its insert meets the constraint.
func rivals(ctx context.Context, tx *sql.Tx, spotID, except string, from, to, now time.Time, overlap, inside bool) ([]rival, error) {
	const cols = `id, lot_id, spot_id, status, hold_expires_at, starts_at + INTERVAL ` + lotNoShowUS + ` MICROSECOND`
	var parts []string
	var args []any
	if overlap {
		parts = append(parts, `SELECT `+cols+` FROM reservations FORCE INDEX (reservations_spot_window)
			WHERE spot_id = ? AND ends_at > ? AND starts_at < ? AND status IN ('held', 'confirmed', 'checked_in') AND id <> ?`)
		args = append(args, spotID, ts(from), ts(to), except)
	}
	if inside {
		parts = append(parts, `SELECT `+cols+` FROM reservations FORCE INDEX (reservations_spot_status)
			WHERE spot_id = ? AND status = 'checked_in' AND ends_at <= ? AND starts_at < ? AND id <> ?`)
		args = append(args, spotID, ts(now), ts(to), except)
	}
	if len(parts) == 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, strings.Join(parts, " UNION "), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var rs []rival
	for rows.Next() {
		var v rival
		if err := rows.Scan(&v.id, &v.lotID, &v.spotID, &v.status, &v.holdExpires, &v.deadline); err != nil {
			return nil, err
		}
		rs = append(rs, v)
	}
	return rs, rows.Err()
}

// blocked reports whether any of rs, once the lapsed ones are released, still
// stands in the way.
func blocked(rs []rival, now time.Time) bool {
	for _, v := range rs {
		if !v.lapsed(now) {
			return true
		}
	}
	return false
}

// release marks the lapsed reservations among rs released at now, each with
// its event: holds past their expiry become expired, confirmed reservations
// past their no-show deadline become no_show. Their rows are locked (in id
// order) and read again first: one that a sweep or a cancellation moved on
// meanwhile is left alone, so each moves once.
func release(ctx context.Context, tx *sql.Tx, rs []rival, now time.Time) error {
	byID := map[string]rival{}
	var ids []string
	for _, v := range rs {
		if v.lapsed(now) {
			if _, seen := byID[v.id]; !seen {
				ids = append(ids, v.id)
			}
			byID[v.id] = v
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	rows, err := tx.QueryContext(ctx, `SELECT id, status, hold_expires_at FROM reservations WHERE id IN (`+placeholders(len(ids))+`)
		ORDER BY id FOR UPDATE`, strArgs(ids)...)
	if err != nil {
		return err
	}
	var events []parking.Event
	var expired, noShow []string
	for rows.Next() {
		var id string
		var st parking.Status
		var holdExpires time.Time
		if err := rows.Scan(&id, &st, &holdExpires); err != nil {
			rows.Close()
			return err
		}
		v := byID[id]
		v.status, v.holdExpires = st, holdExpires
		if !v.lapsed(now) {
			continue
		}
		e := parking.Event{LotID: v.lotID, SpotID: v.spotID, ReservationID: id, At: now}
		if st == parking.StatusHeld {
			expired, e.Type = append(expired, id), "reservation.expired"
		} else {
			noShow, e.Type = append(noShow, id), "reservation.no_show"
		}
		events = append(events, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for status, ids := range map[parking.Status][]string{parking.StatusExpired: expired, parking.StatusNoShow: noShow} {
		if len(ids) == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE reservations SET status = ?, updated_at = ? WHERE id IN (`+placeholders(len(ids))+`)`,
			append([]any{string(status), ts(now)}, strArgs(ids)...)...); err != nil {
			return err
		}
	}
	return insertEvents(ctx, tx, events)
}

// insertEvents writes several outbox events in one statement, in order.
func insertEvents(ctx context.Context, tx querier, events []parking.Event) error {
	if len(events) == 0 {
		return nil
	}
	args := make([]any, 0, 5*len(events))
	for _, e := range events {
		args = append(args, e.LotID, e.Type, e.SpotID, e.ReservationID, ts(e.At))
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO events (lot_id, type, spot_id, reservation_id, at) VALUES `+
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?), ", len(events)), ", "), args...)
	return err
}

// Hold inserts r on the first candidate spot free for its window.
//
// One candidate: the transaction locks the spot's row (waiting for any other
// writer on it), releases the lapsed reservations in the way, checks that no
// other claim is left and inserts the hold with its event.
//
// Several ("any spot"): a plain read first finds the candidates that look free.
// The transaction then tries them in order of preference, locking each with
// SKIP LOCKED: a spot another transaction is writing on is passed over rather
// than waited for, so racers spread out. A spot it locks is checked as above.
// When every spot that looked free was passed over or taken, the next attempt,
// a new transaction holding no other spot, waits for the first spot that still
// looks free (a spot another writer had locked may be free for this window once
// it is done), and the one after that skips again, as the PostgreSQL store does.
//
// A hold that finds no spot still commits the lapsed reservations it released,
// as on the other backends. With a key, the key's row is locked first (before
// any spot), and the hold goes in only while it is still the caller's claim,
// in flight; the same transaction completes it with the reservation's id.
func (s *Store) Hold(ctx context.Context, r *parking.Reservation, candidates []string, key *parking.KeyCompletion) error {
	if r.Status == "" {
		r.Status = parking.StatusHeld
	}
	r.StartsAt, r.EndsAt, r.HoldExpiresAt = utc(r.StartsAt), utc(r.EndsAt), utc(r.HoldExpiresAt)
	r.CreatedAt, r.UpdatedAt = utc(r.CreatedAt), utc(r.UpdatedAt)
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	r.CheckedInAt, r.CheckedOutAt = utcPtr(r.CheckedInAt), utcPtr(r.CheckedOutAt)
	if len(candidates) == 0 {
		return parking.ErrSpotUnavailable
	}

	var picked string
	var passed bool // the last attempt passed over spots other transactions had locked
	attempt := func(wait bool) error {
		return s.inTxKeep(ctx, func(tx *sql.Tx) error {
			picked, passed = "", false
			if key != nil && key.Record == nil {
				var one int
				err := tx.QueryRowContext(ctx, "SELECT 1 FROM idempotency_keys WHERE user_id = ? AND `key` = ? AND created_at = ? AND status_code IS NULL FOR UPDATE",
					key.UserID, key.Key, ts(key.ClaimedAt)).Scan(&one)
				if errors.Is(err, sql.ErrNoRows) {
					return parking.Errorf(parking.ENOTFOUND, "idempotency key not found")
				}
				if err != nil {
					return err
				}
			}
			var err error
			if len(candidates) == 1 {
				picked, err = holdWaiting(ctx, tx, r, candidates[0])
			} else {
				var free []string
				free, err = freeLooking(ctx, tx, r, candidates)
				switch {
				case err != nil || len(free) == 0:
				case wait:
					picked, err = holdWaiting(ctx, tx, r, free[0])
				default:
					picked, passed, err = holdSkipping(ctx, tx, r, free)
				}
			}
			if err != nil {
				return err
			}
			if picked == "" {
				return keep(parking.ErrSpotUnavailable)
			}
			switch {
			case key == nil:
				return nil
			case key.Record != nil:
				held := *r
				held.SpotID = picked
				return recordKeyWith(ctx, tx, key, held)
			}
			_, err = tx.ExecContext(ctx, "UPDATE idempotency_keys SET status_code = ?, reservation_id = ? WHERE user_id = ? AND `key` = ?",
				key.Status, r.ID, key.UserID, key.Key)
			return classify(err, "idempotency key")
		})
	}
	wait := false
	var err error
	for range len(candidates) + 2 {
		err = attempt(wait)
		if !errors.Is(err, parking.ErrSpotUnavailable) || len(candidates) == 1 {
			break
		}
		switch {
		case wait:
			wait = false // the spot waited for was taken: look again
		case passed:
			wait = true
		default:
			return err // every spot that looked free was checked, and taken
		}
	}
	if err != nil {
		return err
	}
	r.SpotID = picked // only once it is committed
	return nil
}

// holdWaiting locks spot id's row, waiting for any other writer on it, and
// holds r there if it is free, inside tx; it returns the spot, or "".
func holdWaiting(ctx context.Context, tx *sql.Tx, r *parking.Reservation, id string) (string, error) {
	sp, found, err := lockSpot(ctx, tx, id, false)
	if err != nil || !found || !sp.inService {
		return "", err
	}
	ok, err := holdOn(ctx, tx, r, id)
	if err != nil || !ok {
		return "", err
	}
	return id, nil
}

// holdSkipping holds r on the first of candidates that is free, inside tx,
// locking each with SKIP LOCKED, and returns that spot (or ""), and whether it
// passed over spots because another transaction had locked them.
func holdSkipping(ctx context.Context, tx *sql.Tx, r *parking.Reservation, candidates []string) (string, bool, error) {
	passed := false
	for _, id := range candidates {
		sp, found, err := lockSpot(ctx, tx, id, true)
		if err != nil {
			return "", false, err
		}
		switch {
		case !found:
			passed = true // locked by another (or no such spot)
		case sp.inService:
			ok, err := holdOn(ctx, tx, r, id)
			if err != nil {
				return "", false, err
			}
			if ok {
				return id, false, nil
			}
		}
	}
	return "", passed, nil
}

// freeLooking returns the candidates, in order, that a plain read finds in
// service and not claimed for r's window: the ones worth locking.
func freeLooking(ctx context.Context, tx *sql.Tx, r *parking.Reservation, candidates []string) ([]string, error) {
	in := placeholders(len(candidates))
	ids := strArgs(candidates)
	args := append(slices.Clone(ids), append(bookedArgs(r.StartsAt, r.EndsAt, r.CreatedAt), ids...)...)
	args = append(args, append(pastEndArgs(r.EndsAt, r.CreatedAt), ids...)...)
	rows, err := tx.QueryContext(ctx, `SELECT id FROM spots WHERE id IN (`+in+`) AND NOT in_service
		UNION SELECT spot_id FROM reservations FORCE INDEX (reservations_spot_window) WHERE `+claimsBooked+` AND spot_id IN (`+in+`)
		UNION SELECT spot_id FROM reservations FORCE INDEX (reservations_spot_status) WHERE `+claimsPastEnd+` AND spot_id IN (`+in+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	taken := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		taken[id] = true
	}
	var free []string
	for _, id := range candidates {
		if !taken[id] {
			free = append(free, id)
			taken[id] = true // once
		}
	}
	return free, rows.Err()
}

// holdOn puts r on spotID inside tx, which holds the spot's row lock, unless
// something stands in the way: it releases the lapsed rivals (which stays
// done either way) and reports whether r went in.
func holdOn(ctx context.Context, tx *sql.Tx, r *parking.Reservation, spotID string) (bool, error) {
	rs, err := rivals(ctx, tx, spotID, r.ID, r.StartsAt, r.EndsAt, r.CreatedAt, true, true)
	if err != nil {
		return false, err
	}
	if err := release(ctx, tx, rs, r.CreatedAt); err != nil {
		return false, err
	}
	if blocked(rs, r.CreatedAt) {
		return false, nil
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO reservations (id, user_id, vehicle_id, plate, vehicle_size, lot_id, spot_id,
			starts_at, ends_at, status, amount, currency, hold_expires_at, created_at, updated_at, checked_in_at, checked_out_at, price_size)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, nullable(r.UserID), nullable(r.VehicleID), r.Plate, int16(r.VehicleSize), r.LotID, spotID,
		ts(r.StartsAt), ts(r.EndsAt), string(r.Status), r.Amount, r.Currency, ts(r.HoldExpiresAt), ts(r.CreatedAt), ts(r.UpdatedAt),
		tsPtr(r.CheckedInAt), tsPtr(r.CheckedOutAt), priceSize(r))
	if isDuplicate(err, "PRIMARY") {
		// The lapsed reservations it released stay released.
		return false, keep(parking.Errorf(parking.ECONFLICT, "reservation already exists"))
	}
	if err != nil {
		return false, classify(err, "reservation")
	}
	return true, insertEvent(ctx, tx, parking.Event{LotID: r.LotID, Type: "reservation." + string(r.Status),
		SpotID: spotID, ReservationID: r.ID, At: r.CreatedAt})
}

// errSpotChanged is a transaction's signal to start again: the reservation it
// locked a spot for was moved to another spot in the meantime.
var errSpotChanged = errors.New("the reservation moved to another spot meanwhile")

// again runs fn again while it reports errSpotChanged, a few times at most.
func again(fn func() error) error {
	var err error
	for range 5 {
		if err = fn(); !errors.Is(err, errSpotChanged) {
			return err
		}
	}
	return err
}

// ChangeStatus applies c and records its event, in one transaction. The
// reservation's row is locked and tested against c.From (a hold that lapsed by
// c.At does not count as held), so two racing changes cannot both apply.
//
// A change into a status that holds the spot takes the spot's row lock first,
// as every writer of a claim does, and is refused as on PostgreSQL: a
// reservation coming back from an inactive status may not overlap another that
// holds the spot, and a car checking in may not join one still inside past its
// window.
func (s *Store) ChangeStatus(ctx context.Context, c parking.StatusChange) (parking.Reservation, error) {
	at := utc(c.At)
	var r parking.Reservation
	err := again(func() error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			r = parking.Reservation{}
			var spotID string
			if c.To.Active() {
				cur, err := reservationIn(ctx, tx, c.ID)
				if err != nil {
					return err
				}
				spotID = cur.SpotID
				if _, _, err := lockSpot(ctx, tx, spotID, false); err != nil {
					return err
				}
			}
			old, err := lockReservation(ctx, tx, c.ID)
			if err != nil {
				return err
			}
			r = old
			if !slices.Contains(c.From, old.Status) || old.HoldExpired(at) {
				return parking.ErrInvalidStatus
			}
			if c.To.Active() {
				if old.SpotID != spotID {
					return errSpotChanged
				}
				overlap := !old.Status.Active()
				inside := c.To == parking.StatusCheckedIn && old.Status != parking.StatusCheckedIn
				rs, err := rivals(ctx, tx, spotID, old.ID, old.StartsAt, old.EndsAt, at, overlap, inside)
				if err != nil {
					return err
				}
				if len(rs) > 0 {
					return parking.ErrSpotUnavailable
				}
			}
			r.Status, r.UpdatedAt = c.To, at
			switch c.To {
			case parking.StatusCheckedIn:
				r.CheckedInAt = &at
			case parking.StatusCompleted:
				r.CheckedOutAt = &at
			}
			// A cancellation without a reason is the driver's: an earlier
			// move's reason must not make it look like the lot's.
			if c.Reason != "" || c.To == parking.StatusCancelled {
				r.ChangeReason = c.Reason
			}
			if _, err := tx.ExecContext(ctx, `UPDATE reservations SET status = ?, updated_at = ?, checked_in_at = ?, checked_out_at = ?,
					change_reason = ? WHERE id = ?`,
				string(r.Status), ts(at), tsPtr(r.CheckedInAt), tsPtr(r.CheckedOutAt), r.ChangeReason, r.ID); err != nil {
				return classify(err, "reservation")
			}
			return insertEvent(ctx, tx, parking.Event{LotID: r.LotID, Type: "reservation." + string(c.To),
				SpotID: r.SpotID, ReservationID: r.ID, At: at})
		})
	})
	if errors.Is(err, parking.ErrInvalidStatus) {
		return r, err
	}
	if err != nil {
		return parking.Reservation{}, err
	}
	return r, nil
}

// ExpireHolds expires every hold whose expiry is at or before now, one event
// per hold. Instances may run it at once: the rows are locked first, and a row
// another run expired meanwhile no longer matches once its lock is granted
// (a locking read reads the latest version), so each hold moves once.
func (s *Store) ExpireHolds(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+reservationColumns+` FROM reservations
			WHERE status = 'held' AND hold_expires_at <= ? FOR UPDATE`, ts(now))
		if err != nil {
			return err
		}
		rs, err := collectRows(rows)
		if err != nil {
			return err
		}
		n = len(rs)
		return transition(ctx, tx, rs, `status = 'expired', updated_at = ?`, "reservation.expired", now)
	})
	return n, err
}

// transition applies set (its one argument is at) to the locked reservations
// rs and writes an event of type typ for each, in order of start.
func transition(ctx context.Context, tx *sql.Tx, rs []parking.Reservation, set, typ string, at time.Time) error {
	if len(rs) == 0 {
		return nil
	}
	ids := make([]any, len(rs))
	events := make([]parking.Event, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
		events[i] = parking.Event{LotID: r.LotID, Type: typ, SpotID: r.SpotID, ReservationID: r.ID, At: at}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE reservations SET `+set+` WHERE id IN (`+placeholders(len(ids))+`)`,
		append([]any{ts(at)}, ids...)...); err != nil {
		return err
	}
	return insertEvents(ctx, tx, events)
}

// collectRows reads and closes rows of reservationColumns, ordered by start,
// then id.
func collectRows(rows *sql.Rows) ([]parking.Reservation, error) {
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

// MarkNoShows moves the lot's confirmed reservations that started at or before
// startedBy to no_show at at, with their events, and returns them. The rows are
// locked first; one another run moved meanwhile no longer matches once its
// lock is granted, so each moves once, also with several instances.
func (s *Store) MarkNoShows(ctx context.Context, lotID string, startedBy, at time.Time) ([]parking.Reservation, error) {
	at = utc(at)
	var rs []parking.Reservation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+reservationColumns+` FROM reservations
			WHERE status = 'confirmed' AND lot_id = ? AND starts_at <= ? FOR UPDATE`, lotID, ts(startedBy))
		if err != nil {
			return err
		}
		if rs, err = collectRows(rows); err != nil {
			return err
		}
		for i := range rs {
			rs[i].Status, rs[i].UpdatedAt = parking.StatusNoShow, at
		}
		return transition(ctx, tx, rs, `status = 'no_show', updated_at = ?`, "reservation.no_show", at)
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// FlagOverstays flags the lot's checked-in reservations whose end is at or
// before endedBy and that were not flagged before, each exactly once, with a
// "reservation.overstaying" event.
func (s *Store) FlagOverstays(ctx context.Context, lotID string, endedBy, at time.Time) ([]parking.Reservation, error) {
	at = utc(at)
	var rs []parking.Reservation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+reservationColumns+` FROM reservations
			WHERE status = 'checked_in' AND lot_id = ? AND ends_at <= ? AND overstay_flagged_at IS NULL FOR UPDATE`, lotID, ts(endedBy))
		if err != nil {
			return err
		}
		if rs, err = collectRows(rows); err != nil {
			return err
		}
		return transition(ctx, tx, rs, `overstay_flagged_at = ?`, "reservation.overstaying", at)
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// MoveReservation moves a held or confirmed reservation to the first free
// candidate, in one transaction that locks every candidate spot first (in id
// order), then the reservation.
func (s *Store) MoveReservation(ctx context.Context, m parking.Move) (parking.Reservation, error) {
	m.At = utc(m.At)
	var r parking.Reservation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		spots, err := lockSpots(ctx, tx, m.Candidates)
		if err != nil {
			return err
		}
		r, err = moveIn(ctx, tx, m, spots)
		return err
	})
	if errors.Is(err, parking.ErrInvalidStatus) {
		cur, rerr := s.Reservation(ctx, m.ID)
		if rerr != nil {
			return parking.Reservation{}, rerr
		}
		return cur, parking.ErrInvalidStatus
	}
	if err != nil {
		return parking.Reservation{}, err
	}
	return r, nil
}

// moveIn applies m inside tx, which holds the locks on the candidates' rows
// (spots). The reservation must be held or confirmed on m.From and hold it at
// m.At; it goes to the first candidate in service in its lot with nothing in
// the way (lapsed rivals are released), with a "reservation.moved" event.
func moveIn(ctx context.Context, tx *sql.Tx, m parking.Move, spots map[string]spotRow) (parking.Reservation, error) {
	cur, err := lockReservation(ctx, tx, m.ID)
	if errors.Is(err, parking.ErrNotFound) {
		return parking.Reservation{}, parking.ErrInvalidStatus
	}
	if err != nil {
		return parking.Reservation{}, err
	}
	if cur.SpotID != m.From || cur.Status != parking.StatusHeld && cur.Status != parking.StatusConfirmed {
		return parking.Reservation{}, parking.ErrInvalidStatus
	}
	if cur.Status == parking.StatusConfirmed {
		var noShowUS int64
		if err := tx.QueryRowContext(ctx, `SELECT no_show_after_us FROM lots WHERE id = ?`, cur.LotID).Scan(&noShowUS); err != nil {
			return parking.Reservation{}, err
		}
		if !m.At.Before(cur.StartsAt.Add(time.Duration(noShowUS) * time.Microsecond)) {
			return parking.Reservation{}, parking.ErrInvalidStatus
		}
	} else if cur.HoldExpired(m.At) {
		return parking.Reservation{}, parking.ErrInvalidStatus
	}
	for _, id := range m.Candidates {
		sp, found := spots[id]
		if id == m.From || !found || !sp.inService || sp.lotID != cur.LotID {
			continue
		}
		rs, err := rivals(ctx, tx, id, cur.ID, cur.StartsAt, cur.EndsAt, m.At, true, true)
		if err != nil {
			return parking.Reservation{}, err
		}
		if err := release(ctx, tx, rs, m.At); err != nil {
			return parking.Reservation{}, err
		}
		if blocked(rs, m.At) {
			continue
		}
		// MySQL assigns left to right: moved_from reads spot_id before it changes.
		if _, err := tx.ExecContext(ctx, `UPDATE reservations SET moved_from = spot_id, spot_id = ?, change_reason = ?, updated_at = ?
			WHERE id = ?`, id, m.Reason, ts(m.At), cur.ID); err != nil {
			return parking.Reservation{}, classify(err, "reservation")
		}
		moved := cur
		moved.SpotID, moved.MovedFrom, moved.ChangeReason, moved.UpdatedAt = id, cur.SpotID, m.Reason, m.At
		return moved, insertEvent(ctx, tx, parking.Event{LotID: moved.LotID, Type: "reservation.moved",
			SpotID: moved.SpotID, ReservationID: moved.ID, At: m.At})
	}
	return parking.Reservation{}, parking.ErrSpotUnavailable
}

// ExtendReservation applies x in one transaction: it locks the reservation's
// spot and every candidate of its moves (all at once, in id order), applies
// the moves, then the new end (refused when another claim is in the way of
// the longer window), then stores the charge, which
// payments_one_pending_extension keeps to one at a time.
func (s *Store) ExtendReservation(ctx context.Context, x parking.Extension) (parking.Reservation, []parking.Reservation, error) {
	at := utc(x.At)
	from, to := utc(x.From), utc(x.To)
	var r parking.Reservation
	var moved []parking.Reservation
	err := again(func() error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			r, moved = parking.Reservation{}, nil
			var spotID string
			if err := tx.QueryRowContext(ctx, `SELECT spot_id FROM reservations WHERE id = ?`, x.ID).Scan(&spotID); err != nil {
				return classify(err, "reservation")
			}
			lock := []string{spotID}
			for _, m := range x.Moves {
				lock = append(lock, m.Candidates...)
			}
			spots, err := lockSpots(ctx, tx, lock)
			if err != nil {
				return err
			}
			for _, m := range x.Moves {
				m.At = at
				mr, err := moveIn(ctx, tx, m, spots)
				if errors.Is(err, parking.ErrInvalidStatus) {
					return parking.Errorf(parking.ECONFLICT, "a booking in the way changed meanwhile: try again")
				}
				if err != nil {
					return err
				}
				moved = append(moved, mr)
			}
			cur, err := lockReservation(ctx, tx, x.ID)
			if err != nil {
				return err
			}
			if cur.SpotID != spotID {
				return errSpotChanged
			}
			if !cur.EndsAt.Equal(from) || cur.Status != parking.StatusConfirmed && cur.Status != parking.StatusCheckedIn {
				return parking.ErrInvalidStatus
			}
			rs, err := rivals(ctx, tx, spotID, cur.ID, cur.StartsAt, to, at, true, true)
			if err != nil {
				return err
			}
			if err := release(ctx, tx, rs, at); err != nil {
				return err
			}
			if blocked(rs, at) {
				return parking.ErrSpotUnavailable
			}
			if _, err := tx.ExecContext(ctx, `UPDATE reservations SET ends_at = ?, updated_at = ? WHERE id = ?`, ts(to), ts(at), cur.ID); err != nil {
				return classify(err, "reservation")
			}
			r = cur
			r.EndsAt, r.UpdatedAt = to, at
			if err := insertEvent(ctx, tx, parking.Event{LotID: r.LotID, Type: "reservation.extended", SpotID: r.SpotID,
				ReservationID: r.ID, At: at}); err != nil {
				return err
			}
			if x.Charge == nil {
				return nil
			}
			return classify(insertPayment(ctx, tx, x.Charge), "payment") // payments_one_pending_extension: see uniqueMessages
		})
	})
	if errors.Is(err, parking.ErrInvalidStatus) {
		cur, rerr := s.Reservation(ctx, x.ID)
		if rerr != nil {
			return parking.Reservation{}, nil, rerr
		}
		return cur, nil, parking.ErrInvalidStatus
	}
	if err != nil {
		return parking.Reservation{}, nil, err
	}
	return r, moved, nil
}

// Displaced lists the bookings to move: held or confirmed, holding their spot
// at now, starting at or before startsBy, on a spot out of service or with a
// car inside past its window (at now) that came in before they end.
func (s *Store) Displaced(ctx context.Context, lotID string, startsBy, now time.Time) ([]parking.Reservation, error) {
	return collect(ctx, s.db, scanReservation, `SELECT `+reservationColumns+` FROM reservations
		WHERE status IN ('held', 'confirmed') AND lot_id = ? AND starts_at <= ? AND `+holdsAt+`
			AND (EXISTS (SELECT 1 FROM spots s WHERE s.id = reservations.spot_id AND NOT s.in_service)
				OR EXISTS (SELECT 1 FROM reservations c
					WHERE c.status = 'checked_in' AND c.spot_id = reservations.spot_id AND c.id <> reservations.id
						AND c.ends_at <= ? AND c.starts_at < reservations.ends_at))
		ORDER BY starts_at, id`, lotID, ts(startsBy), ts(now), ts(now), ts(now))
}

// DisplacedUnrefunded lists reservations the lot cancelled whose succeeded
// charges are not all refunded.
func (s *Store) DisplacedUnrefunded(ctx context.Context, limit int) ([]parking.Reservation, error) {
	return collect(ctx, s.db, scanReservation, `SELECT `+reservationColumns+` FROM reservations
		WHERE status = 'cancelled' AND change_reason <> '' AND EXISTS (
			SELECT 1 FROM payments p
			WHERE p.reservation_id = reservations.id AND p.kind = 'charge' AND p.status = 'succeeded'
				AND NOT EXISTS (SELECT 1 FROM payments f WHERE f.refund_of = p.id AND f.status IN ('pending', 'succeeded')))
		ORDER BY updated_at, id LIMIT ?`, limit)
}
