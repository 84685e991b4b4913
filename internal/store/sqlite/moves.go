package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"parkd/internal/parking"
)

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
