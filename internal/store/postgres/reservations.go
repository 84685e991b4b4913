package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"parkd/internal/parking"
)

// The rule of parking.Policy.Holds and parking.Policy.Claims, once, for a row
// of reservations (columns unqualified, the table not aliased). now, from and
// to are SQL expressions (parameters); noShowUS is the lot's no-show window in
// microseconds. Every query that asks "is this spot taken" is built from these.

// holdsIn: the row holds its spot at now (a hold until it expires, a
// confirmed booking until its no-show deadline, a car inside until it leaves).
func holdsIn(now, noShowUS string) string {
	return `status IN ('held', 'confirmed', 'checked_in')
		AND (status <> 'held' OR hold_expires_at > ` + now + `)
		AND (status <> 'confirmed' OR starts_at > ` + now + ` - ` + noShowUS + ` * interval '1 microsecond')`
}

// claimsWindowIn: the row holds its spot at now and claims some of [from, to):
// its window overlaps it, or its car is inside past its window and came in
// before to (Reservation.ClaimEnd).
func claimsWindowIn(from, to, now, noShowUS string) string {
	return holdsIn(now, noShowUS) + `
		AND starts_at < ` + to + ` AND (ends_at > ` + from + ` OR (status = 'checked_in' AND ends_at <= ` + now + `))`
}

// lotNoShowUS reads the row's own lot's no-show window.
const lotNoShowUS = `(SELECT no_show_after_us FROM lots WHERE lots.id = reservations.lot_id)`

func claimsWindow(from, to, now string) string { return claimsWindowIn(from, to, now, lotNoShowUS) }

// priceSize stores the size a reservation was priced at, or NULL when unknown.
func priceSize(r *parking.Reservation) *int16 {
	if !r.PriceSize.Valid() {
		return nil
	}
	v := int16(r.PriceSize)
	return &v
}

// LotReservations lists a lot's reservations of any status whose window
// overlaps [from, to), and the cars inside that came in before to, by start.
// The bound on ends_at is what the lot indexes range-scan, since the
// reservations that end after from are the window's and the future's, not the
// lot's history; reservations_inside finds the cars inside.
func (s *Store) LotReservations(ctx context.Context, lotID string, from, to time.Time) ([]parking.Reservation, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+reservationColumns+` FROM reservations
		WHERE lot_id = $1 AND starts_at < $3 AND (ends_at > $2 OR status = 'checked_in')
		ORDER BY starts_at, id`, lotID, utc(from), utc(to))
	rs, err := pgx.CollectRows(rows, scanReservation)
	return rs, classify(err, "reservation")
}

// SpotReservations lists a spot's reservations that hold it at from and claim
// it after from: held, confirmed (until the no-show deadline) and every car
// inside, by start.
func (s *Store) SpotReservations(ctx context.Context, spotID string, from time.Time) ([]parking.Reservation, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+reservationColumns+` FROM reservations
		WHERE spot_id = $1 AND `+holdsIn("$2", lotNoShowUS)+` AND (ends_at > $2 OR status = 'checked_in')
		ORDER BY starts_at, id`, spotID, utc(from))
	rs, err := pgx.CollectRows(rows, scanReservation)
	return rs, classify(err, "reservation")
}

// lockMovable locks reservation $1 if it is held or confirmed on spot $2 and
// holds it at $3, and returns it.
var lockMovable = `SELECT ` + reservationColumns + ` FROM reservations
	WHERE id = $1 AND spot_id = $2 AND status IN ('held', 'confirmed') AND ` + holdsIn("$3", lotNoShowUS) + `
	FOR NO KEY UPDATE`

// moveTo puts reservation $1 on spot $2 at $4 for reason $3, with its event,
// if that spot is in service; the exclusion constraint and the
// reservations_car_inside trigger decide whether it is free. FOR SHARE waits
// for an operator's change of in_service, as insertHold does.
const moveTo = `WITH m AS (
		UPDATE reservations SET spot_id = $2, moved_from = spot_id, change_reason = $3, updated_at = $4
		WHERE id = $1 AND EXISTS (SELECT 1 FROM spots WHERE id = $2 AND in_service AND lot_id = reservations.lot_id FOR SHARE)
		RETURNING ` + reservationColumns + `
	), e AS (
		INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
		SELECT lot_id, 'reservation.moved', spot_id, id, $4 FROM m
	)
	SELECT ` + reservationColumns + ` FROM m`

// MoveReservation moves a held or confirmed reservation to the first free
// candidate, in one transaction.
func (s *Store) MoveReservation(ctx context.Context, m parking.Move) (parking.Reservation, error) {
	var r parking.Reservation
	err := retry(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var err error
			r, err = moveIn(ctx, tx, m)
			return err
		})
	})
	if errors.Is(err, parking.ErrInvalidStatus) {
		cur, rerr := s.Reservation(ctx, m.ID)
		if rerr != nil {
			return parking.Reservation{}, rerr
		}
		return cur, parking.ErrInvalidStatus
	}
	return r, classify(err, "reservation")
}

// moveIn applies m inside tx: each candidate is tried in a savepoint, so one
// the database refuses leaves the transaction usable for the next.
func moveIn(ctx context.Context, tx pgx.Tx, m parking.Move) (parking.Reservation, error) {
	at := utc(m.At)
	rows, _ := tx.Query(ctx, lockMovable, m.ID, m.From, at)
	cur, err := pgx.CollectExactlyOneRow(rows, scanReservation)
	if errors.Is(err, pgx.ErrNoRows) {
		return parking.Reservation{}, parking.ErrInvalidStatus
	}
	if err != nil {
		return parking.Reservation{}, err
	}
	for _, spotID := range m.Candidates {
		if spotID == m.From {
			continue
		}
		sp, err := tx.Begin(ctx)
		if err != nil {
			return parking.Reservation{}, err
		}
		if _, err := sp.Exec(ctx, releaseOverlapping, at, spotID, cur.StartsAt, cur.EndsAt); err != nil {
			sp.Rollback(ctx)
			return parking.Reservation{}, err
		}
		rows, _ := sp.Query(ctx, moveTo, m.ID, spotID, m.Reason, at)
		moved, err := pgx.CollectExactlyOneRow(rows, scanReservation)
		switch {
		case err == nil:
			return moved, sp.Commit(ctx)
		case errors.Is(err, pgx.ErrNoRows) || errors.Is(classify(err, "reservation"), parking.ErrSpotUnavailable):
			if err := sp.Rollback(ctx); err != nil {
				return parking.Reservation{}, err
			}
		default:
			sp.Rollback(ctx)
			return parking.Reservation{}, err
		}
	}
	return parking.Reservation{}, parking.ErrSpotUnavailable
}

// extendEnd moves reservation $1's end from $2 to $3 at $4, with its event.
const extendEnd = `WITH u AS (
		UPDATE reservations SET ends_at = $3, updated_at = $4
		WHERE id = $1 AND ends_at = $2 AND status IN ('confirmed', 'checked_in')
		RETURNING ` + reservationColumns + `
	), e AS (
		INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
		SELECT lot_id, 'reservation.extended', spot_id, id, $4 FROM u
	)
	SELECT ` + reservationColumns + ` FROM u`

// ExtendReservation applies x in one transaction: the moves, the new end
// (which the exclusion constraint checks against every other claim), the
// charge (which payments_one_pending_extension keeps to one at a time).
func (s *Store) ExtendReservation(ctx context.Context, x parking.Extension) (parking.Reservation, []parking.Reservation, error) {
	at := utc(x.At)
	var r parking.Reservation
	var moved []parking.Reservation
	err := retry(ctx, func() error {
		r, moved = parking.Reservation{}, nil
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			for _, m := range x.Moves {
				m.At = at
				mr, err := moveIn(ctx, tx, m)
				if errors.Is(err, parking.ErrInvalidStatus) {
					return parking.Errorf(parking.ECONFLICT, "a booking in the way changed meanwhile: try again")
				}
				if err != nil {
					return err
				}
				moved = append(moved, mr)
			}
			rows, _ := tx.Query(ctx, `SELECT spot_id FROM reservations WHERE id = $1`, x.ID)
			spotID, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, releaseOverlapping, at, spotID, utc(x.From), utc(x.To)); err != nil {
				return err
			}
			rows, _ = tx.Query(ctx, extendEnd, x.ID, utc(x.From), utc(x.To), at)
			r, err = pgx.CollectExactlyOneRow(rows, scanReservation)
			if errors.Is(err, pgx.ErrNoRows) {
				return parking.ErrInvalidStatus
			}
			if err != nil {
				return err
			}
			if x.Charge != nil {
				_, err = tx.Exec(ctx, createPayment, paymentArgs(x.Charge)...)
			}
			return err
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
		if errors.Is(classify(err, "payment"), parking.ErrConflict) {
			return parking.Reservation{}, nil, parking.Errorf(parking.ECONFLICT, "another extension of this reservation is being paid for")
		}
		return parking.Reservation{}, nil, classify(err, "reservation")
	}
	return r, moved, nil
}

// Displaced lists the bookings to move: held or confirmed, holding their spot
// at $3, starting at or before $2, on a spot out of service or with a car inside
// past its window ($3) that came in before they end.
func (s *Store) Displaced(ctx context.Context, lotID string, startsBy, now time.Time) ([]parking.Reservation, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+reservationColumns+` FROM reservations
		WHERE lot_id = $1 AND status IN ('held', 'confirmed') AND starts_at <= $2 AND `+holdsIn("$3", lotNoShowUS)+`
			AND (EXISTS (SELECT 1 FROM spots s WHERE s.id = reservations.spot_id AND NOT s.in_service)
				OR EXISTS (SELECT 1 FROM reservations c
					WHERE c.spot_id = reservations.spot_id AND c.status = 'checked_in' AND c.id <> reservations.id
						AND c.ends_at <= $3 AND c.starts_at < reservations.ends_at))
		ORDER BY starts_at, id`, lotID, utc(startsBy), utc(now))
	rs, err := pgx.CollectRows(rows, scanReservation)
	return rs, classify(err, "reservation")
}

// DisplacedUnrefunded lists reservations the lot cancelled whose succeeded
// charges are not all refunded.
func (s *Store) DisplacedUnrefunded(ctx context.Context, limit int) ([]parking.Reservation, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+reservationColumns+` FROM reservations
		WHERE status = 'cancelled' AND change_reason <> '' AND EXISTS (
			SELECT 1 FROM payments p
			WHERE p.reservation_id = reservations.id AND p.kind = 'charge' AND p.status = 'succeeded'
				AND NOT EXISTS (SELECT 1 FROM payments f WHERE f.refund_of = p.id AND f.status IN ('pending', 'succeeded')))
		ORDER BY updated_at, id LIMIT $1`, limit)
	rs, err := pgx.CollectRows(rows, scanReservation)
	return rs, classify(err, "reservation")
}
