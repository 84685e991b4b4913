package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
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
		switch {
		case key == nil:
			return nil
		case key.Record != nil:
			held := *r
			held.SpotID = spotID
			return recordKeyWith(ctx, tx, key, held)
		}
		return completeKeyWith(ctx, tx, key, r.ID)
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

// MarkNoShows moves the lot's confirmed reservations that started at or before
// startedBy to no_show, with their events. The single writer runs one such
// transaction at a time, and the status test makes a second run find nothing.
func (s *Store) MarkNoShows(ctx context.Context, lotID string, startedBy, at time.Time) ([]parking.Reservation, error) {
	return s.transition(ctx, `UPDATE reservations SET status = 'no_show', updated_at = ?
		WHERE lot_id = ? AND status = 'confirmed' AND starts_at <= ?
		RETURNING `+reservationColumns, "reservation.no_show", lotID, startedBy, at)
}

// FlagOverstays flags the lot's checked-in reservations that ended at or
// before endedBy and were not flagged before, with a "reservation.overstaying"
// event each. Being flagged is what keeps a second run from finding them.
func (s *Store) FlagOverstays(ctx context.Context, lotID string, endedBy, at time.Time) ([]parking.Reservation, error) {
	return s.transition(ctx, `UPDATE reservations SET overstay_flagged_at = ?
		WHERE lot_id = ? AND status = 'checked_in' AND ends_at <= ? AND overstay_flagged_at IS NULL
		RETURNING `+reservationColumns, "reservation.overstaying", lotID, endedBy, at)
}

// transition runs MarkNoShows' or FlagOverstays' update (its parameters: at,
// the lot, by) and writes an event of type event for each row it changed, in
// one transaction.
func (s *Store) transition(ctx context.Context, update, event, lotID string, by, at time.Time) ([]parking.Reservation, error) {
	var rs []parking.Reservation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, update, micros(at), lotID, micros(by))
		if err != nil {
			return err
		}
		if rs, err = collectReservations(rows); err != nil {
			return err
		}
		return insertReservationEvents(ctx, tx, rs, event, at)
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// collectReservations reads and closes rows of reservationColumns, ordered by
// start then id (RETURNING promises no order).
func collectReservations(rows *sql.Rows) ([]parking.Reservation, error) {
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

// insertReservationEvents writes one event of type typ for each of rs.
func insertReservationEvents(ctx context.Context, tx *sql.Tx, rs []parking.Reservation, typ string, at time.Time) error {
	for _, r := range rs {
		if err := insertEvent(ctx, tx, parking.Event{LotID: r.LotID, Type: typ, SpotID: r.SpotID, ReservationID: r.ID, At: at}); err != nil {
			return err
		}
	}
	return nil
}

// MoveReservation moves a held or confirmed reservation to the first free
// candidate, in one transaction of the single writer.
func (s *Store) MoveReservation(ctx context.Context, m parking.Move) (parking.Reservation, error) {
	var r parking.Reservation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		r, err = moveIn(ctx, tx, m)
		return err
	})
	if errors.Is(err, parking.ErrInvalidStatus) {
		cur, rerr := s.Reservation(ctx, m.ID)
		if rerr != nil {
			return parking.Reservation{}, rerr
		}
		return cur, parking.ErrInvalidStatus
	}
	return r, err
}

// moveIn applies m inside tx. A candidate the triggers refuse aborts only that
// statement, so the next is tried in the same transaction.
func moveIn(ctx context.Context, tx *sql.Tx, m parking.Move) (parking.Reservation, error) {
	cur, err := scanReservation(tx.QueryRowContext(ctx, `SELECT `+reservationColumns+` FROM reservations
		WHERE id = @id AND spot_id = @spot AND status IN ('held', 'confirmed') AND `+holdsAtNow,
		sql.Named("id", m.ID), sql.Named("spot", m.From), sql.Named("now", micros(m.At))))
	if errors.Is(err, sql.ErrNoRows) {
		return parking.Reservation{}, parking.ErrInvalidStatus
	}
	if err != nil {
		return parking.Reservation{}, err
	}
	for _, spotID := range m.Candidates {
		if spotID == m.From {
			continue
		}
		if err := releaseLapsed(ctx, tx, []string{spotID}, cur.StartsAt, cur.EndsAt, m.At, cur.ID); err != nil {
			return parking.Reservation{}, err
		}
		moved, err := scanReservation(tx.QueryRowContext(ctx, `UPDATE reservations
			SET spot_id = ?, moved_from = spot_id, change_reason = ?, updated_at = ?
			WHERE id = ? AND EXISTS (SELECT 1 FROM spots WHERE id = ? AND in_service AND lot_id = reservations.lot_id)
			RETURNING `+reservationColumns, spotID, m.Reason, micros(m.At), m.ID, spotID))
		switch err = classify(err, "reservation"); {
		case err == nil:
			return moved, insertEvent(ctx, tx, parking.Event{LotID: moved.LotID, Type: "reservation.moved",
				SpotID: moved.SpotID, ReservationID: moved.ID, At: m.At})
		case errors.Is(err, parking.ErrNotFound), errors.Is(err, parking.ErrSpotUnavailable):
			// Out of service, or taken: the next candidate.
		default:
			return parking.Reservation{}, err
		}
	}
	return parking.Reservation{}, parking.ErrSpotUnavailable
}

// ExtendReservation applies x in one transaction: the moves, the new end
// (which the triggers check against every other claim), the charge (which
// payments_one_pending_extension keeps to one at a time).
func (s *Store) ExtendReservation(ctx context.Context, x parking.Extension) (parking.Reservation, []parking.Reservation, error) {
	var r parking.Reservation
	var moved []parking.Reservation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, m := range x.Moves {
			m.At = x.At
			mr, err := moveIn(ctx, tx, m)
			if errors.Is(err, parking.ErrInvalidStatus) {
				return parking.Errorf(parking.ECONFLICT, "a booking in the way changed meanwhile: try again")
			}
			if err != nil {
				return err
			}
			moved = append(moved, mr)
		}
		var spotID string
		if err := tx.QueryRowContext(ctx, `SELECT spot_id FROM reservations WHERE id = ?`, x.ID).Scan(&spotID); err != nil {
			return classify(err, "reservation")
		}
		if err := releaseLapsed(ctx, tx, []string{spotID}, x.From, x.To, x.At, x.ID); err != nil {
			return err
		}
		var err error
		r, err = scanReservation(tx.QueryRowContext(ctx, `UPDATE reservations SET ends_at = ?, updated_at = ?
			WHERE id = ? AND ends_at = ? AND status IN ('confirmed', 'checked_in') RETURNING `+reservationColumns,
			micros(x.To), micros(x.At), x.ID, micros(x.From)))
		if errors.Is(err, sql.ErrNoRows) {
			return parking.ErrInvalidStatus
		}
		if err != nil {
			return classify(err, "reservation")
		}
		if err := insertEvent(ctx, tx, parking.Event{LotID: r.LotID, Type: "reservation.extended", SpotID: r.SpotID,
			ReservationID: r.ID, At: x.At}); err != nil {
			return err
		}
		if x.Charge == nil {
			return nil
		}
		if err := insertPayment(ctx, tx, x.Charge); err != nil {
			return classify(err, "payment") // payments_one_pending_extension: see uniqueMessages
		}
		return nil
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
// at now, starting at or before startsBy, on a spot out of service or with a car
// inside past its window that came in before they end.
func (s *Store) Displaced(ctx context.Context, lotID string, startsBy, now time.Time) ([]parking.Reservation, error) {
	return s.reservations(ctx, `SELECT `+reservationColumns+` FROM reservations
		WHERE lot_id = @lot AND status IN ('held', 'confirmed') AND starts_at <= @by AND `+holdsAtNow+`
			AND (EXISTS (SELECT 1 FROM spots s WHERE s.id = reservations.spot_id AND NOT s.in_service)
				OR EXISTS (SELECT 1 FROM reservations c
					WHERE c.spot_id = reservations.spot_id AND c.status = 'checked_in' AND c.id <> reservations.id
						AND c.ends_at <= @now AND c.starts_at < reservations.ends_at))
		ORDER BY starts_at, id`, sql.Named("lot", lotID), sql.Named("by", micros(startsBy)), sql.Named("now", micros(now)))
}

// DisplacedUnrefunded lists reservations the lot cancelled whose succeeded
// charges are not all refunded.
func (s *Store) DisplacedUnrefunded(ctx context.Context, limit int) ([]parking.Reservation, error) {
	return s.reservations(ctx, `SELECT `+reservationColumns+` FROM reservations
		WHERE status = 'cancelled' AND change_reason <> '' AND EXISTS (
			SELECT 1 FROM payments p
			WHERE p.reservation_id = reservations.id AND p.kind = 'charge' AND p.status = 'succeeded'
				AND NOT EXISTS (SELECT 1 FROM payments f WHERE f.refund_of = p.id AND f.status IN ('pending', 'succeeded')))
		ORDER BY updated_at, id LIMIT ?`, limit)
}

// stored is t as it comes back from the database: in UTC, cut to the microsecond.
func stored(t time.Time) time.Time { return fromMicros(micros(t)) }
