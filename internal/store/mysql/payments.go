package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"parkd/internal/parking"
)

// This file holds payments, the webhook events that move them and the
// payment methods drivers saved.

const paymentColumns = `id, reservation_id, user_id, kind, amount, currency, status, gateway, gateway_id,
	payment_method, card_brand, card_last4, failure_code, refund_of, purpose, created_at, updated_at, extends_from, extends_to`

func scanPayment(row scanner) (parking.Payment, error) {
	var p parking.Payment
	var userID, refundOf sql.NullString
	var extendsFrom, extendsTo sql.NullTime
	err := row.Scan(&p.ID, &p.ReservationID, &userID, &p.Kind, &p.Amount, &p.Currency, &p.Status, &p.Gateway, &p.GatewayID,
		&p.PaymentMethod, &p.CardBrand, &p.CardLast4, &p.FailureCode, &refundOf, &p.Purpose, &p.CreatedAt, &p.UpdatedAt,
		&extendsFrom, &extendsTo)
	p.UserID, p.RefundOf = userID.String, refundOf.String
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	p.ExtendsFrom, p.ExtendsTo = fromNull(extendsFrom), fromNull(extendsTo)
	return p, err
}

// CreatePayment stores p. The unique keys over the generated columns refuse a
// second live charge for a reservation and purpose, a second live refund of a
// charge and a gateway id taken, so racing requests cannot both charge or
// refund; classify names the key in the conflict.
func (s *Store) CreatePayment(ctx context.Context, p *parking.Payment) error {
	if p.Status != parking.PaymentSucceeded {
		return classify(retry(ctx, func() error { return insertPayment(ctx, s.db, p) }), "payment")
	}
	return classify(s.inTx(ctx, func(tx *sql.Tx) error { return insertPayment(ctx, tx, p) }), "payment")
}

// insertPayment fills in p's defaults and stores it; one created succeeded
// announces itself, in the same transaction when q is one.
func insertPayment(ctx context.Context, q querier, p *parking.Payment) error {
	p.CreatedAt, p.UpdatedAt = utc(p.CreatedAt), utc(p.UpdatedAt)
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = p.CreatedAt
	}
	if p.Purpose == "" {
		p.Purpose = parking.PurposeBooking
	}
	p.ExtendsFrom, p.ExtendsTo = utcPtr(p.ExtendsFrom), utcPtr(p.ExtendsTo)
	_, err := q.ExecContext(ctx, `INSERT INTO payments (id, reservation_id, user_id, kind, amount, currency, status, gateway,
			gateway_id, payment_method, card_brand, card_last4, failure_code, refund_of, purpose, created_at, updated_at,
			extends_from, extends_to)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.ReservationID, nullable(p.UserID), p.Kind, p.Amount, p.Currency, p.Status, p.Gateway,
		p.GatewayID, p.PaymentMethod, p.CardBrand, p.CardLast4, p.FailureCode, nullable(p.RefundOf), p.Purpose,
		ts(p.CreatedAt), ts(p.UpdatedAt), tsPtr(p.ExtendsFrom), tsPtr(p.ExtendsTo))
	if err != nil || p.Status != parking.PaymentSucceeded {
		return err
	}
	return insertPaymentEvent(ctx, q, *p, p.CreatedAt)
}

// insertPaymentEvent announces that payment p succeeded, as an event of its
// reservation's lot and spot.
func insertPaymentEvent(ctx context.Context, q querier, p parking.Payment, at time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
		SELECT lot_id, ?, spot_id, id, ? FROM reservations WHERE id = ?`, parking.PaymentEventType(p), ts(at), p.ReservationID)
	return err
}

// Payment returns the payment with the given id.
func (s *Store) Payment(ctx context.Context, id string) (parking.Payment, error) {
	p, err := scanPayment(s.db.QueryRowContext(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = ?`, id))
	return p, classify(err, "payment")
}

// PaymentByGatewayID finds a payment by its gateway's id, whichever gateway
// issued it. The id is unique only per gateway; should two gateways ever share
// one, the lookup fails rather than pick either payment.
func (s *Store) PaymentByGatewayID(ctx context.Context, gatewayID string) (parking.Payment, error) {
	// gateway_key is NULL for "", so "" finds nothing.
	ps, err := collect(ctx, s.db, scanPayment, `SELECT `+paymentColumns+` FROM payments WHERE gateway_key = ? LIMIT 2`, gatewayID)
	switch {
	case err != nil:
		return parking.Payment{}, err
	case len(ps) == 0:
		return parking.Payment{}, parking.Errorf(parking.ENOTFOUND, "payment not found")
	case len(ps) > 1:
		return parking.Payment{}, fmt.Errorf("gateway id %q belongs to payments of more than one gateway", gatewayID)
	}
	return ps[0], nil
}

// ReservationPayments lists a reservation's payments, oldest first.
func (s *Store) ReservationPayments(ctx context.Context, reservationID string) ([]parking.Payment, error) {
	return collect(ctx, s.db, scanPayment, `SELECT `+paymentColumns+` FROM payments WHERE reservation_id = ?
		ORDER BY created_at, id`, reservationID)
}

// UserPayments lists a user's payments, newest first.
func (s *Store) UserPayments(ctx context.Context, userID string) ([]parking.Payment, error) {
	return collect(ctx, s.db, scanPayment, `SELECT `+paymentColumns+` FROM payments WHERE user_id = ?
		ORDER BY created_at DESC, id DESC`, userID)
}

// ClaimPendingRefunds leases pending refunds, each to one claimer at a time:
// the rows are picked with a locking read that skips those another claim holds
// (and reads the latest committed lease of the rest), then leased in the same
// transaction.
func (s *Store) ClaimPendingRefunds(ctx context.Context, claimer string, createdBefore, now time.Time, lease time.Duration, limit int) ([]parking.Payment, error) {
	var ps []parking.Payment
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ps = []parking.Payment{}
		ids, err := collect(ctx, tx, func(row scanner) (any, error) {
			var id string
			err := row.Scan(&id)
			return id, err
		}, `SELECT id FROM payments
			WHERE kind = 'refund' AND status = 'pending' AND created_at < ? AND (claimed_until IS NULL OR claimed_until <= ?)
			ORDER BY created_at, id LIMIT ?
			FOR UPDATE SKIP LOCKED`, ts(createdBefore), ts(now), limit)
		if err != nil || len(ids) == 0 {
			return err
		}
		in := placeholders(len(ids))
		if _, err := tx.ExecContext(ctx, `UPDATE payments SET claimed_by = ?, claimed_until = ? WHERE id IN (`+in+`)`,
			append([]any{claimer, ts(now.Add(lease))}, ids...)...); err != nil {
			return err
		}
		ps, err = collect(ctx, tx, scanPayment, `SELECT `+paymentColumns+` FROM payments WHERE id IN (`+in+`) ORDER BY created_at, id`, ids...)
		return err
	})
	return ps, classify(err, "payment")
}

// ReleaseRefundClaim ends claimer's lease on a refund.
func (s *Store) ReleaseRefundClaim(ctx context.Context, id, claimer string) error {
	_, err := s.exec(ctx, `UPDATE payments SET claimed_until = NULL WHERE id = ? AND claimed_by = ?`, id, claimer)
	return err
}

// UpdatePayment applies u in one transaction: it records u's webhook event,
// moves the payment forward and, when asked, confirms its reservation.
//
// The payment's row is locked and tested against u.From, so of racing updates
// exactly one applies (and of racing deliveries of one event, the first: the
// others wait on its webhook_events row and then find it taken).
//
// Once the event is recorded it stays recorded with whatever the update found:
// a payment not in u.From is still committed as handled (ErrInvalidStatus), and
// so is a success whose spot went to someone else (ErrSpotUnavailable, the
// payment updated), so that a redelivery is ErrDuplicateEvent rather than a
// second outcome. Only a missing payment rolls the event back.
func (s *Store) UpdatePayment(ctx context.Context, u parking.PaymentUpdate) (parking.Payment, parking.Reservation, error) {
	at := utc(u.At)
	var p parking.Payment
	var r parking.Reservation
	err := s.inTxKeep(ctx, func(tx *sql.Tx) error {
		p, r = parking.Payment{}, parking.Reservation{}
		if u.EventID != "" {
			_, err := tx.ExecContext(ctx, `INSERT INTO webhook_events (id, received_at) VALUES (?, ?)`, u.EventID, ts(at))
			if isDuplicate(err, "PRIMARY") {
				return parking.ErrDuplicateEvent
			}
			if err != nil {
				return err
			}
		}
		var err error
		p, err = scanPayment(tx.QueryRowContext(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = ? FOR UPDATE`, u.PaymentID))
		if err != nil {
			return classify(err, "payment")
		}
		if !contains(u.From, p.Status) {
			if r, err = reservationIn(ctx, tx, p.ReservationID); err != nil {
				return err
			}
			return keep(parking.ErrInvalidStatus)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE payments SET status = ?, updated_at = ?,
				gateway_id = COALESCE(NULLIF(?, ''), gateway_id), card_brand = COALESCE(NULLIF(?, ''), card_brand),
				card_last4 = COALESCE(NULLIF(?, ''), card_last4), failure_code = COALESCE(NULLIF(?, ''), failure_code)
			WHERE id = ?`, u.To, ts(at), u.GatewayID, u.CardBrand, u.CardLast4, u.FailureCode, p.ID); err != nil {
			return classify(err, "payment")
		}
		p.Status, p.UpdatedAt = u.To, at
		setIf(&p.GatewayID, u.GatewayID)
		setIf(&p.CardBrand, u.CardBrand)
		setIf(&p.CardLast4, u.CardLast4)
		setIf(&p.FailureCode, u.FailureCode)
		if p.Status == parking.PaymentSucceeded {
			if err := insertPaymentEvent(ctx, tx, p, at); err != nil {
				return err
			}
		}
		if p.Status == parking.PaymentFailed && p.ExtendsTo != nil {
			// The extension was not paid for: the end goes back, if it is
			// still where the extension put it. A shorter window claims
			// nothing new, so no spot lock is needed.
			if err := shortenUnpaid(ctx, tx, p, at); err != nil {
				return err
			}
		}
		if !u.Confirm || u.To != parking.PaymentSucceeded {
			r, err = reservationIn(ctx, tx, p.ReservationID)
			return err
		}
		r, err = confirmPaid(ctx, tx, p.ReservationID, at)
		if errors.Is(err, parking.ErrSpotUnavailable) {
			return keep(err) // the payment stands; the caller refunds it
		}
		return err
	})
	if err != nil && !errors.Is(err, parking.ErrInvalidStatus) && !errors.Is(err, parking.ErrSpotUnavailable) {
		return parking.Payment{}, parking.Reservation{}, err
	}
	return p, r, err
}

func setIf(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func contains[T comparable](xs []T, x T) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// shortenUnpaid moves p's reservation's end back from p.ExtendsTo to
// p.ExtendsFrom at at, with its event, when the reservation still ends there.
func shortenUnpaid(ctx context.Context, tx *sql.Tx, p parking.Payment, at time.Time) error {
	r, err := lockReservation(ctx, tx, p.ReservationID)
	if err != nil {
		return err
	}
	if !r.EndsAt.Equal(*p.ExtendsTo) || r.Status != parking.StatusConfirmed && r.Status != parking.StatusCheckedIn {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE reservations SET ends_at = ?, updated_at = ? WHERE id = ?`,
		ts(*p.ExtendsFrom), ts(at), r.ID); err != nil {
		return classify(err, "reservation")
	}
	return insertEvent(ctx, tx, parking.Event{LotID: r.LotID, Type: "reservation.extended", SpotID: r.SpotID,
		ReservationID: r.ID, At: at})
}

// confirmPaid confirms the reservation a succeeded charge paid for: held (its
// hold lapsed or not) or expired. One in any other status (already confirmed,
// or cancelled) is returned as it is.
//
// Confirming is a claim like a hold, so it locks the spot's row first, then
// the reservation's, and releases the lapsed rivals on the spot overlapping
// the window. A reservation that was still held had the spot all along; one
// that had expired gets it back only if no other reservation that holds the
// spot overlaps it (what PostgreSQL's exclusion constraint decides): otherwise
// it is returned as it is with ErrSpotUnavailable, and the rest of tx stands.
func confirmPaid(ctx context.Context, tx *sql.Tx, id string, at time.Time) (parking.Reservation, error) {
	var r parking.Reservation
	err := again(func() error {
		cur, err := reservationIn(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur.Status != parking.StatusHeld && cur.Status != parking.StatusExpired {
			r = cur
			return nil
		}
		if _, _, err := lockSpot(ctx, tx, cur.SpotID, false); err != nil {
			return err
		}
		if r, err = lockReservation(ctx, tx, id); err != nil {
			return err
		}
		if r.SpotID != cur.SpotID {
			return errSpotChanged // moved meanwhile: lock the spot it is on now
		}
		if r.Status != parking.StatusHeld && r.Status != parking.StatusExpired {
			return nil
		}
		rs, err := rivals(ctx, tx, r.SpotID, r.ID, r.StartsAt, r.EndsAt, at, true, false)
		if err != nil {
			return err
		}
		if err := release(ctx, tx, rs, at); err != nil {
			return err
		}
		if r.Status == parking.StatusExpired && blocked(rs, at) {
			return parking.ErrSpotUnavailable
		}
		if _, err := tx.ExecContext(ctx, `UPDATE reservations SET status = 'confirmed', updated_at = ? WHERE id = ?`, ts(at), id); err != nil {
			return classify(err, "reservation")
		}
		r.Status, r.UpdatedAt = parking.StatusConfirmed, at
		return insertEvent(ctx, tx, parking.Event{LotID: r.LotID, Type: "reservation.confirmed", SpotID: r.SpotID,
			ReservationID: r.ID, At: at})
	})
	return r, err
}

// SavePaymentMethod stores or replaces a user's saved payment method.
func (s *Store) SavePaymentMethod(ctx context.Context, m parking.SavedPaymentMethod) error {
	_, err := s.exec(ctx, `INSERT INTO saved_payment_methods (user_id, payment_method, consented_at) VALUES (?, ?, ?)
		ON DUPLICATE KEY UPDATE payment_method = VALUES(payment_method), consented_at = VALUES(consented_at)`,
		m.UserID, m.PaymentMethod, ts(m.ConsentedAt))
	return classify(err, "user")
}

// SavedPaymentMethod returns a user's saved payment method.
func (s *Store) SavedPaymentMethod(ctx context.Context, userID string) (parking.SavedPaymentMethod, error) {
	var m parking.SavedPaymentMethod
	err := s.db.QueryRowContext(ctx, `SELECT user_id, payment_method, consented_at FROM saved_payment_methods WHERE user_id = ?`, userID).
		Scan(&m.UserID, &m.PaymentMethod, &m.ConsentedAt)
	m.ConsentedAt = m.ConsentedAt.UTC()
	return m, classify(err, "saved payment method")
}

// DeletePaymentMethod forgets a user's saved payment method.
func (s *Store) DeletePaymentMethod(ctx context.Context, userID string) error {
	_, err := s.exec(ctx, `DELETE FROM saved_payment_methods WHERE user_id = ?`, userID)
	return err
}
