package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"parkd/internal/parking"
)

const paymentColumns = `id, reservation_id, COALESCE(user_id, ''), kind, amount, currency, status, gateway, gateway_id,
	payment_method, card_brand, card_last4, failure_code, COALESCE(refund_of, ''), purpose, created_at, updated_at,
	extends_from, extends_to`

func scanPayment(row interface{ Scan(...any) error }) (parking.Payment, error) {
	var p parking.Payment
	var created, updated int64
	var extendsFrom, extendsTo sql.NullInt64
	err := row.Scan(&p.ID, &p.ReservationID, &p.UserID, &p.Kind, &p.Amount, &p.Currency, &p.Status, &p.Gateway, &p.GatewayID,
		&p.PaymentMethod, &p.CardBrand, &p.CardLast4, &p.FailureCode, &p.RefundOf, &p.Purpose, &created, &updated,
		&extendsFrom, &extendsTo)
	p.CreatedAt, p.UpdatedAt = fromMicros(created), fromMicros(updated)
	p.ExtendsFrom, p.ExtendsTo = fromNullMicros(extendsFrom), fromNullMicros(extendsTo)
	return p, err
}

// CreatePayment stores a payment; the payments_one_live_charge index refuses a
// second live charge for a reservation.
func (s *Store) CreatePayment(ctx context.Context, p *parking.Payment) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error { return insertPayment(ctx, tx, p) })
	if p.Kind == parking.Refund {
		return classify(err, "refund")
	}
	return classify(err, "payment")
}

// insertPayment stores p in tx; one created succeeded announces itself.
func insertPayment(ctx context.Context, tx *sql.Tx, p *parking.Payment) error {
	if p.Purpose == "" {
		p.Purpose = parking.PurposeBooking
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO payments (id, reservation_id, user_id, kind, amount, currency, status, gateway,
		gateway_id, payment_method, card_brand, card_last4, failure_code, refund_of, purpose, created_at, updated_at,
		extends_from, extends_to)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.ReservationID, nullString(p.UserID), p.Kind, p.Amount, p.Currency, p.Status, p.Gateway, p.GatewayID,
		p.PaymentMethod, p.CardBrand, p.CardLast4, p.FailureCode, nullString(p.RefundOf), p.Purpose, micros(p.CreatedAt), micros(p.UpdatedAt),
		nullMicros(p.ExtendsFrom), nullMicros(p.ExtendsTo))
	if err != nil || p.Status != parking.PaymentSucceeded {
		return err
	}
	return insertPaymentEvent(ctx, tx, *p, p.CreatedAt)
}

// Payment returns the payment with the given id.
func (s *Store) Payment(ctx context.Context, id string) (parking.Payment, error) {
	p, err := scanPayment(s.read.QueryRowContext(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = ?`, id))
	return p, classify(err, "payment")
}

// PaymentByGatewayID finds a payment by its gateway's id.
func (s *Store) PaymentByGatewayID(ctx context.Context, gatewayID string) (parking.Payment, error) {
	ps, err := s.payments(ctx, `SELECT `+paymentColumns+` FROM payments WHERE gateway_id = ? AND gateway_id <> '' LIMIT 2`, gatewayID)
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

func (s *Store) payments(ctx context.Context, query string, args ...any) ([]parking.Payment, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ps := []parking.Payment{}
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

// ReservationPayments lists a reservation's payments, oldest first.
func (s *Store) ReservationPayments(ctx context.Context, reservationID string) ([]parking.Payment, error) {
	return s.payments(ctx, `SELECT `+paymentColumns+` FROM payments WHERE reservation_id = ? ORDER BY created_at, id`, reservationID)
}

// UserPayments lists a user's payments, newest first.
func (s *Store) UserPayments(ctx context.Context, userID string) ([]parking.Payment, error) {
	return s.payments(ctx, `SELECT `+paymentColumns+` FROM payments WHERE user_id = ? ORDER BY created_at DESC, id`, userID)
}

// UpdatePayment moves a payment forward and, for a success, confirms its
// reservation, all in the single writer's transaction.
func (s *Store) UpdatePayment(ctx context.Context, u parking.PaymentUpdate) (parking.Payment, parking.Reservation, error) {
	var p parking.Payment
	var r parking.Reservation
	var outcome error // returned after a commit: ErrInvalidStatus, ErrSpotUnavailable
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if u.EventID != "" {
			res, err := tx.ExecContext(ctx, `INSERT INTO webhook_events (id, received_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`,
				u.EventID, micros(u.At))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return parking.ErrDuplicateEvent
			}
		}
		args := []any{u.To, micros(u.At), u.GatewayID, u.CardBrand, u.CardLast4, u.FailureCode, u.PaymentID}
		for _, st := range u.From {
			args = append(args, st)
		}
		var err error
		p, err = scanPayment(tx.QueryRowContext(ctx, `UPDATE payments SET status = ?, updated_at = ?,
				gateway_id = COALESCE(NULLIF(?, ''), gateway_id), card_brand = COALESCE(NULLIF(?, ''), card_brand),
				card_last4 = COALESCE(NULLIF(?, ''), card_last4), failure_code = COALESCE(NULLIF(?, ''), failure_code)
			WHERE id = ? AND status IN (`+placeholders(len(u.From))+`) RETURNING `+paymentColumns, args...))
		if errors.Is(err, sql.ErrNoRows) {
			if p, err = scanPayment(tx.QueryRowContext(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = ?`, u.PaymentID)); err != nil {
				return classify(err, "payment")
			}
			outcome = parking.ErrInvalidStatus // the event stays recorded: it was handled
			r, err = scanReservation(tx.QueryRowContext(ctx, `SELECT `+reservationColumns+` FROM reservations WHERE id = ?`, p.ReservationID))
			return err
		}
		if err != nil {
			return classify(err, "payment")
		}
		if p.Status == parking.PaymentSucceeded {
			if err := insertPaymentEvent(ctx, tx, p, u.At); err != nil {
				return err
			}
		}
		if p.Status == parking.PaymentFailed && p.ExtendsTo != nil {
			// The extension was not paid for: the end goes back, if it is
			// still where the extension put it.
			rows, err := tx.QueryContext(ctx, `UPDATE reservations SET ends_at = ?, updated_at = ?
				WHERE id = ? AND ends_at = ? AND status IN ('confirmed', 'checked_in')
				RETURNING id, lot_id, spot_id, 'extended'`,
				micros(*p.ExtendsFrom), micros(u.At), p.ReservationID, micros(*p.ExtendsTo))
			if err != nil {
				return err
			}
			if _, err := insertStatusEvents(ctx, tx, rows, u.At); err != nil {
				return err
			}
		}
		if u.Confirm && u.To == parking.PaymentSucceeded {
			// Lapsed holds and no-shows of others on the spot do not block, as in Hold.
			if r, err = scanReservation(tx.QueryRowContext(ctx, `SELECT `+reservationColumns+` FROM reservations WHERE id = ?`, p.ReservationID)); err != nil {
				return err
			}
			if err := releaseLapsed(ctx, tx, []string{r.SpotID}, r.StartsAt, r.EndsAt, u.At, r.ID); err != nil {
				return err
			}
			r, err = scanReservation(tx.QueryRowContext(ctx, `UPDATE reservations SET status = 'confirmed', updated_at = ?
				WHERE id = ? AND status IN ('held', 'expired') RETURNING `+reservationColumns, micros(u.At), p.ReservationID))
			switch err = classify(err, "reservation"); {
			case err == nil:
				return insertEvent(ctx, tx, parking.Event{LotID: r.LotID, Type: "reservation.confirmed", SpotID: r.SpotID, ReservationID: r.ID, At: u.At})
			case errors.Is(err, parking.ErrSpotUnavailable):
				outcome = parking.ErrSpotUnavailable // the trigger aborted only that statement
			case !errors.Is(err, parking.ErrNotFound):
				return err
			}
		}
		r, err = scanReservation(tx.QueryRowContext(ctx, `SELECT `+reservationColumns+` FROM reservations WHERE id = ?`, p.ReservationID))
		return err
	})
	if err != nil {
		return parking.Payment{}, parking.Reservation{}, err
	}
	return p, r, outcome
}

// SavePaymentMethod stores or replaces a user's saved payment method.
func (s *Store) SavePaymentMethod(ctx context.Context, m parking.SavedPaymentMethod) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO saved_payment_methods (user_id, payment_method, consented_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET payment_method = excluded.payment_method, consented_at = excluded.consented_at`,
		m.UserID, m.PaymentMethod, micros(m.ConsentedAt))
	return classify(err, "user")
}

// SavedPaymentMethod returns a user's saved payment method.
func (s *Store) SavedPaymentMethod(ctx context.Context, userID string) (parking.SavedPaymentMethod, error) {
	var m parking.SavedPaymentMethod
	var at int64
	err := s.read.QueryRowContext(ctx, `SELECT user_id, payment_method, consented_at FROM saved_payment_methods WHERE user_id = ?`, userID).
		Scan(&m.UserID, &m.PaymentMethod, &at)
	m.ConsentedAt = fromMicros(at)
	return m, classify(err, "saved payment method")
}

// DeletePaymentMethod forgets a user's saved payment method.
func (s *Store) DeletePaymentMethod(ctx context.Context, userID string) error {
	_, err := s.write.ExecContext(ctx, `DELETE FROM saved_payment_methods WHERE user_id = ?`, userID)
	return err
}

// ClaimPendingRefunds leases pending refunds, each to one claimer at a time:
// the UPDATE picks and leases them in one statement, and SQLite runs one
// writer at a time, so a refund leased by one is not free to the next.
func (s *Store) ClaimPendingRefunds(ctx context.Context, claimer string, createdBefore, now time.Time, lease time.Duration, limit int) ([]parking.Payment, error) {
	ps := []parking.Payment{}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ps = ps[:0]
		rows, err := tx.QueryContext(ctx, `UPDATE payments SET claimed_by = ?, claimed_until = ?
			WHERE id IN (
				SELECT id FROM payments
				WHERE kind = 'refund' AND status = 'pending' AND created_at < ? AND (claimed_until IS NULL OR claimed_until <= ?)
				ORDER BY created_at, id LIMIT ?
			)
			RETURNING `+paymentColumns, claimer, micros(now.Add(lease)), micros(createdBefore), micros(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			p, err := scanPayment(rows)
			if err != nil {
				return err
			}
			ps = append(ps, p)
		}
		return rows.Err()
	})
	parking.SortPayments(ps) // RETURNING keeps no order
	return ps, err
}

// ReleaseRefundClaim ends claimer's lease on a refund.
func (s *Store) ReleaseRefundClaim(ctx context.Context, id, claimer string) error {
	_, err := s.write.ExecContext(ctx, `UPDATE payments SET claimed_until = NULL WHERE id = ? AND claimed_by = ?`, id, claimer)
	return err
}

// insertPaymentEvent announces, inside tx, that payment p succeeded, as an
// event of its reservation's lot and spot.
func insertPaymentEvent(ctx context.Context, tx *sql.Tx, p parking.Payment, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
		SELECT lot_id, ?, spot_id, id, ? FROM reservations WHERE id = ?`, parking.PaymentEventType(p), micros(at), p.ReservationID)
	return err
}
