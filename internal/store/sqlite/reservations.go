package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"parkd/internal/parking"
)

const reservationColumns = `id, user_id, vehicle_id, plate, vehicle_size, lot_id, spot_id, starts_at, ends_at, status,
	amount, currency, hold_expires_at, created_at, updated_at, checked_in_at, checked_out_at, moved_from, change_reason, price_size`

// The rule of parking.Policy.Holds and parking.Policy.Claims, once, for a row
// of reservations (columns unqualified, the table not aliased), with the named
// parameters @now, @from and @to. Every query that asks "is this spot taken"
// is built from these.

// holdsAtNow: the row holds its spot at @now (a hold until it expires, a
// confirmed booking until its no-show deadline, a car inside until it leaves).
const holdsAtNow = `(status = 'checked_in'
		OR (status = 'held' AND hold_expires_at > @now)
		OR (status = 'confirmed' AND starts_at + (SELECT no_show_after_us FROM lots WHERE lots.id = reservations.lot_id) > @now))`

// A row claims some of [@from, @to) at @now when it holds its spot and either
// its window overlaps [@from, @to) (claimsBooked) or its car is inside past
// its window and came in before @to (claimsPastEnd; Reservation.ClaimEnd).
// Queries ask the two apart, joined by UNION, so that each reads its own
// index: the windows that end after @from, and the few cars inside.
const (
	claimsBooked  = `ends_at > @from AND starts_at < @to AND ` + holdsAtNow
	claimsPastEnd = `status = 'checked_in' AND ends_at <= @now AND starts_at < @to`
)

// window names the parameters of claimsWindow.
func window(from, to, now time.Time) []any {
	return []any{sql.Named("from", micros(from)), sql.Named("to", micros(to)), sql.Named("now", micros(now))}
}

func scanReservation(row interface{ Scan(...any) error }) (parking.Reservation, error) {
	var r parking.Reservation
	var user, vehicle sql.NullString
	var starts, ends, holdExpires, created, updated int64
	var checkedIn, checkedOut, priceSize sql.NullInt64
	err := row.Scan(&r.ID, &user, &vehicle, &r.Plate, &r.VehicleSize, &r.LotID, &r.SpotID, &starts, &ends, &r.Status,
		&r.Amount, &r.Currency, &holdExpires, &created, &updated, &checkedIn, &checkedOut, &r.MovedFrom, &r.ChangeReason, &priceSize)
	r.UserID, r.VehicleID = user.String, vehicle.String
	if priceSize.Valid {
		r.PriceSize = parking.Size(priceSize.Int64)
	}
	r.StartsAt, r.EndsAt, r.HoldExpiresAt = fromMicros(starts), fromMicros(ends), fromMicros(holdExpires)
	r.CreatedAt, r.UpdatedAt = fromMicros(created), fromMicros(updated)
	r.CheckedInAt, r.CheckedOutAt = fromNullMicros(checkedIn), fromNullMicros(checkedOut)
	return r, err
}

// Hold inserts r on the first free candidate spot. The single write connection
// makes this transaction the only writer, so the free spot it picks stays free
// until it commits; the reservations_no_overlap trigger refuses an overlapping
// insert all the same, so the database has the last word.
func (s *Store) Hold(ctx context.Context, r *parking.Reservation, candidates []string, key *parking.KeyCompletion) error {
	if len(candidates) == 0 {
		return parking.ErrSpotUnavailable
	}
	// r's times as they are stored: in UTC, to the microsecond.
	r.StartsAt, r.EndsAt, r.HoldExpiresAt = stored(r.StartsAt), stored(r.EndsAt), stored(r.HoldExpiresAt)
	r.CreatedAt, r.UpdatedAt = stored(r.CreatedAt), stored(r.UpdatedAt)
	var picked string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := releaseLapsed(ctx, tx, candidates, r.StartsAt, r.EndsAt, r.CreatedAt, ""); err != nil {
			return err
		}
		spotID, err := firstFree(ctx, tx, candidates, r.StartsAt, r.EndsAt, r.CreatedAt)
		if err != nil {
			return err
		}
		var price sql.NullInt64
		if r.PriceSize.Valid() {
			price = sql.NullInt64{Int64: int64(r.PriceSize), Valid: true}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO reservations (id, user_id, vehicle_id, plate, vehicle_size, lot_id, spot_id,
				starts_at, ends_at, status, amount, currency, hold_expires_at, created_at, updated_at, checked_in_at, checked_out_at, price_size)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, nullString(r.UserID), nullString(r.VehicleID), r.Plate, r.VehicleSize, r.LotID, spotID,
			micros(r.StartsAt), micros(r.EndsAt), r.Status, r.Amount, r.Currency, micros(r.HoldExpiresAt),
			micros(r.CreatedAt), micros(r.UpdatedAt), nullMicros(r.CheckedInAt), nullMicros(r.CheckedOutAt), price)
		if err != nil {
			return classify(err, "reservation")
		}
		if err := insertEvent(ctx, tx, parking.Event{LotID: r.LotID, Type: "reservation." + string(r.Status),
			SpotID: spotID, ReservationID: r.ID, At: r.CreatedAt}); err != nil {
			return err
		}
		picked = spotID
		if key == nil {
			return nil
		}
		held := *r
		held.SpotID = spotID
		status, body, err := key.Render(held)
		if err != nil {
			return err
		}
		return completeKey(ctx, tx, key.UserID, key.Key, status, body)
	})
	if err == nil {
		r.SpotID = picked // only once it is committed
	}
	return err
}

// firstFree returns the first of candidates that is in service and has no
// blocking reservation overlapping [from, to), or ErrSpotUnavailable.
func firstFree(ctx context.Context, tx *sql.Tx, candidates []string, from, to, now time.Time) (string, error) {
	taken := map[string]bool{}
	inService := map[string]bool{}
	in, ids := namedList("c", candidates)
	// The candidates' claims (1), and those of them that exist and are in
	// service (0): a spot that does not exist, or is out of service, takes no hold.
	rows, err := tx.QueryContext(ctx, `SELECT spot_id, 1 FROM reservations WHERE `+claimsBooked+` AND spot_id IN (`+in+`)
		UNION SELECT spot_id, 1 FROM reservations WHERE `+claimsPastEnd+` AND spot_id IN (`+in+`)
		UNION SELECT id, 0 FROM spots WHERE in_service = 1 AND id IN (`+in+`)`, append(window(from, to, now), ids...)...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var claim bool
		if err := rows.Scan(&id, &claim); err != nil {
			return "", err
		}
		if claim {
			taken[id] = true
		} else {
			inService[id] = true
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	// Spots out of service take no holds; the single writer orders this read
	// after any change of in_service.
	for _, id := range candidates {
		if inService[id] && !taken[id] {
			return id, nil
		}
	}
	return "", parking.ErrSpotUnavailable
}

// releaseLapsed releases the reservations on the given spots that overlap
// [from, to) but no longer hold their spot at now, so that they cannot block a
// new claim: holds whose expiry has passed become expired, and confirmed
// reservations nobody checked in by their start plus the lot's no-show window
// become no_show, each with its event. The reservation except (if any) is left
// alone.
func releaseLapsed(ctx context.Context, tx *sql.Tx, spotIDs []string, from, to, now time.Time, except string) error {
	args := []any{micros(now), micros(to), micros(from), except, micros(now), micros(now)}
	for _, id := range spotIDs {
		args = append(args, id)
	}
	rows, err := tx.QueryContext(ctx, `UPDATE reservations
		SET status = CASE status WHEN 'held' THEN 'expired' ELSE 'no_show' END, updated_at = ?
		WHERE starts_at < ? AND ends_at > ? AND id <> ?
		  AND ((status = 'held' AND hold_expires_at <= ?)
		       OR (status = 'confirmed' AND starts_at + (SELECT no_show_after_us FROM lots WHERE lots.id = reservations.lot_id) <= ?))
		  AND spot_id IN (`+placeholders(len(spotIDs))+`)
		RETURNING id, lot_id, spot_id, status`, args...)
	if err != nil {
		return err
	}
	_, err = insertStatusEvents(ctx, tx, rows, now)
	return err
}

// insertStatusEvents writes a "reservation.<status>" event for each row (id,
// lot_id, spot_id, status) of rows, which it closes.
func insertStatusEvents(ctx context.Context, tx *sql.Tx, rows *sql.Rows, now time.Time) (int, error) {
	var events []parking.Event
	for rows.Next() {
		e := parking.Event{At: now}
		var status string
		if err := rows.Scan(&e.ReservationID, &e.LotID, &e.SpotID, &status); err != nil {
			rows.Close()
			return 0, err
		}
		e.Type = "reservation." + status
		events = append(events, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, e := range events {
		if err := insertEvent(ctx, tx, e); err != nil {
			return 0, err
		}
	}
	return len(events), nil
}

// LotReservations lists a lot's reservations overlapping [from, to), and the
// cars inside that came in before to, by start.
func (s *Store) LotReservations(ctx context.Context, lotID string, from, to time.Time) ([]parking.Reservation, error) {
	return s.reservations(ctx, `SELECT `+reservationColumns+` FROM reservations
		WHERE lot_id = ? AND starts_at < ? AND (ends_at > ? OR status = 'checked_in') ORDER BY starts_at, id`,
		lotID, micros(to), micros(from))
}

// SpotReservations lists a spot's reservations that hold it at from and claim
// it after from: held, confirmed (until the no-show deadline) and every car
// inside, by start.
func (s *Store) SpotReservations(ctx context.Context, spotID string, from time.Time) ([]parking.Reservation, error) {
	return s.reservations(ctx, `SELECT `+reservationColumns+` FROM reservations
		WHERE spot_id = @spot AND `+holdsAtNow+` AND (ends_at > @now OR status = 'checked_in')
		ORDER BY starts_at, id`, sql.Named("spot", spotID), sql.Named("now", micros(from)))
}

func (s *Store) reservations(ctx context.Context, query string, args ...any) ([]parking.Reservation, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	rs := []parking.Reservation{}
	for rows.Next() {
		r, err := scanReservation(rows)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

// Reservation returns the reservation with the given id.
func (s *Store) Reservation(ctx context.Context, id string) (parking.Reservation, error) {
	r, err := scanReservation(s.read.QueryRowContext(ctx, `SELECT `+reservationColumns+` FROM reservations WHERE id = ?`, id))
	return r, classify(err, "reservation")
}

// UserReservations lists a user's reservations, latest window first.
func (s *Store) UserReservations(ctx context.Context, userID string) ([]parking.Reservation, error) {
	return s.reservations(ctx, `SELECT `+reservationColumns+` FROM reservations WHERE user_id = ? ORDER BY starts_at DESC, id`, userID)
}

// ChangeStatus moves a reservation from one of c.From to c.To and records the event.
func (s *Store) ChangeStatus(ctx context.Context, c parking.StatusChange) (parking.Reservation, error) {
	var r parking.Reservation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		args := []any{c.To, micros(c.At)}
		set := `status = ?, updated_at = ?`
		// A cancellation without a reason is the driver's: an earlier move's
		// reason must not make it look like the lot's (DisplacedUnrefunded).
		if c.Reason != "" || c.To == parking.StatusCancelled {
			set += `, change_reason = ?`
			args = append(args, c.Reason)
		}
		switch c.To {
		case parking.StatusCheckedIn:
			set += `, checked_in_at = ?`
			args = append(args, micros(c.At))
		case parking.StatusCompleted:
			set += `, checked_out_at = ?`
			args = append(args, micros(c.At))
		}
		args = append(args, c.ID)
		for _, st := range c.From {
			args = append(args, st)
		}
		args = append(args, micros(c.At))
		var err error
		r, err = scanReservation(tx.QueryRowContext(ctx, `UPDATE reservations SET `+set+`
			WHERE id = ? AND status IN (`+placeholders(len(c.From))+`) AND (status <> 'held' OR hold_expires_at > ?)
			RETURNING `+reservationColumns, args...))
		if errors.Is(err, sql.ErrNoRows) {
			r, err = scanReservation(tx.QueryRowContext(ctx, `SELECT `+reservationColumns+` FROM reservations WHERE id = ?`, c.ID))
			if err != nil {
				return classify(err, "reservation")
			}
			return parking.ErrInvalidStatus
		}
		if err != nil {
			return classify(err, "reservation")
		}
		return insertEvent(ctx, tx, parking.Event{LotID: r.LotID, Type: "reservation." + string(c.To),
			SpotID: r.SpotID, ReservationID: r.ID, At: c.At})
	})
	return r, err
}

// namedList returns "@p0, @p1, ..." for values, and the named arguments that
// go with it, so a list can appear several times in one query.
func namedList(prefix string, values []string) (string, []any) {
	names := make([]string, len(values))
	args := make([]any, len(values))
	for i, v := range values {
		name := prefix + strconv.Itoa(i)
		names[i], args[i] = "@"+name, sql.Named(name, v)
	}
	if len(values) == 0 {
		return "NULL", nil
	}
	return strings.Join(names, ", "), args
}

func placeholders(n int) string {
	if n == 0 {
		return "NULL"
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// ExpireHolds expires every hold whose expiry has passed by now.
func (s *Store) ExpireHolds(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE reservations SET status = 'expired', updated_at = ?
			WHERE status = 'held' AND hold_expires_at <= ? RETURNING id, lot_id, spot_id, status`, micros(now), micros(now))
		if err != nil {
			return err
		}
		n, err = insertStatusEvents(ctx, tx, rows, now)
		return err
	})
	return n, err
}

// Bookings returns each spot's strongest claim within [from, to) at now. A
// confirmed reservation holds its spot until its no-show deadline, its start
// plus the lot's no-show window, whether or not MarkNoShows has run; a car
// inside past its window holds it until it leaves.
func (s *Store) Bookings(ctx context.Context, lotID string, from, to, now time.Time) ([]parking.SpotBooking, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT spot_id,
			MAX(CASE status WHEN 'checked_in' THEN 3 WHEN 'confirmed' THEN 2 ELSE 1 END)
		FROM (SELECT spot_id, status FROM reservations WHERE lot_id = @lot AND `+claimsBooked+`
			UNION ALL SELECT spot_id, status FROM reservations WHERE lot_id = @lot AND `+claimsPastEnd+`)
		GROUP BY spot_id`, append(window(from, to, now), sql.Named("lot", lotID))...)
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
