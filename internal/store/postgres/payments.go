package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"parkd/internal/parking"
)

const paymentColumns = `id, reservation_id, user_id, kind, amount, currency, status, gateway, gateway_id,
	payment_method, card_brand, card_last4, failure_code, refund_of, purpose, created_at, updated_at, extends_from, extends_to`

func scanPayment(row pgx.CollectableRow) (parking.Payment, error) {
	var p parking.Payment
	var userID, refundOf *string
	err := row.Scan(&p.ID, &p.ReservationID, &userID, &p.Kind, &p.Amount, &p.Currency, &p.Status, &p.Gateway, &p.GatewayID,
		&p.PaymentMethod, &p.CardBrand, &p.CardLast4, &p.FailureCode, &refundOf, &p.Purpose, &p.CreatedAt, &p.UpdatedAt,
		&p.ExtendsFrom, &p.ExtendsTo)
	p.UserID, p.RefundOf = deref(userID), deref(refundOf)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	p.ExtendsFrom, p.ExtendsTo = utcPtr(p.ExtendsFrom), utcPtr(p.ExtendsTo)
	return p, err
}

// CreatePayment stores p. The unique index payments_one_live_charge refuses a
// second pending or succeeded charge for a reservation, so two racing payment
// requests cannot both charge; classify names the index in the conflict.
func (s *Store) CreatePayment(ctx context.Context, p *parking.Payment) error {
	_, err := s.pool.Exec(ctx, createPayment, paymentArgs(p)...)
	return classify(err, "payment")
}

// createPayment inserts a payment; one created succeeded announces itself in
// the same statement.
const createPayment = `WITH p AS (
		INSERT INTO payments (id, reservation_id, user_id, kind, amount, currency, status, gateway,
			gateway_id, payment_method, card_brand, card_last4, failure_code, refund_of, purpose, created_at, updated_at,
			extends_from, extends_to)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $19, $20)
		RETURNING reservation_id, status
	)
	INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
	SELECT r.lot_id, $18, r.spot_id, r.id, $16 FROM reservations r, p WHERE r.id = p.reservation_id AND p.status = 'succeeded'`

// paymentArgs fills in p's defaults and returns createPayment's arguments.
func paymentArgs(p *parking.Payment) []any {
	p.CreatedAt, p.UpdatedAt = utc(p.CreatedAt), utc(p.UpdatedAt)
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = p.CreatedAt
	}
	if p.Purpose == "" {
		p.Purpose = parking.PurposeBooking
	}
	p.ExtendsFrom, p.ExtendsTo = utcPtr(p.ExtendsFrom), utcPtr(p.ExtendsTo)
	return []any{p.ID, p.ReservationID, nullable(p.UserID), p.Kind, p.Amount, p.Currency, p.Status, p.Gateway,
		p.GatewayID, p.PaymentMethod, p.CardBrand, p.CardLast4, p.FailureCode, nullable(p.RefundOf), p.Purpose, p.CreatedAt, p.UpdatedAt,
		parking.PaymentEventType(*p), p.ExtendsFrom, p.ExtendsTo}
}

// Payment returns the payment with the given id.
func (s *Store) Payment(ctx context.Context, id string) (parking.Payment, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1`, id)
	p, err := pgx.CollectExactlyOneRow(rows, scanPayment)
	return p, classify(err, "payment")
}

// PaymentByGatewayID finds a payment by its gateway's id, whichever gateway
// issued it. The id is unique only per gateway; should two gateways ever share
// one, the lookup fails rather than pick either payment.
func (s *Store) PaymentByGatewayID(ctx context.Context, gatewayID string) (parking.Payment, error) {
	// gateway_id <> '' is the index's predicate, written out so that the
	// planner may use payments_gateway_id, and so that "" finds nothing.
	rows, _ := s.pool.Query(ctx, `SELECT `+paymentColumns+` FROM payments WHERE gateway_id = $1 AND gateway_id <> '' LIMIT 2`,
		gatewayID)
	p, err := pgx.CollectExactlyOneRow(rows, scanPayment)
	if errors.Is(err, pgx.ErrTooManyRows) {
		return parking.Payment{}, fmt.Errorf("gateway id %q belongs to payments of more than one gateway", gatewayID)
	}
	return p, classify(err, "payment")
}

// ReservationPayments lists a reservation's payments, oldest first; none is an
// empty list.
func (s *Store) ReservationPayments(ctx context.Context, reservationID string) ([]parking.Payment, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+paymentColumns+` FROM payments WHERE reservation_id = $1
		ORDER BY created_at, id`, reservationID)
	ps, err := pgx.CollectRows(rows, scanPayment)
	if err != nil {
		return nil, classify(err, "payment")
	}
	return ps, nil
}

// UserPayments lists a user's payments, newest first; none is an empty list.
func (s *Store) UserPayments(ctx context.Context, userID string) ([]parking.Payment, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+paymentColumns+` FROM payments WHERE user_id = $1
		ORDER BY created_at DESC, id DESC`, userID)
	ps, err := pgx.CollectRows(rows, scanPayment)
	if err != nil {
		return nil, classify(err, "payment")
	}
	return ps, nil
}

// updatePayment is UpdatePayment's guarded step: the status test in the WHERE
// clause, re-evaluated on the locked row when another update got there first,
// keeps payments moving forward only. Empty gateway details keep what is stored.
const updatePayment = `UPDATE payments SET
		status = $2,
		updated_at = $3,
		gateway_id = COALESCE(NULLIF($4::text, ''), gateway_id),
		card_brand = COALESCE(NULLIF($5::text, ''), card_brand),
		card_last4 = COALESCE(NULLIF($6::text, ''), card_last4),
		failure_code = COALESCE(NULLIF($7::text, ''), failure_code)
	WHERE id = $1 AND status = ANY($8::text[])
	RETURNING ` + paymentColumns

// UpdatePayment applies u in one transaction: it records u's webhook event,
// moves the payment forward and, when asked, confirms its reservation.
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
	var outcome error // committed with the transaction, returned after it
	err := retry(ctx, func() error {
		p, r, outcome = parking.Payment{}, parking.Reservation{}, nil
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if u.EventID != "" {
				// A concurrent delivery of the same event waits here for this
				// transaction, then inserts nothing: exactly one applies.
				tag, err := tx.Exec(ctx, `INSERT INTO webhook_events (id, received_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
					u.EventID, at)
				if err != nil {
					return err
				}
				if tag.RowsAffected() == 0 {
					return parking.ErrDuplicateEvent
				}
			}
			rows, _ := tx.Query(ctx, updatePayment, u.PaymentID, u.To, at, u.GatewayID, u.CardBrand, u.CardLast4, u.FailureCode, u.From)
			var err error
			p, err = pgx.CollectExactlyOneRow(rows, scanPayment)
			if errors.Is(err, pgx.ErrNoRows) {
				if p, err = paymentIn(ctx, tx, u.PaymentID); err != nil {
					return err
				}
				outcome = parking.ErrInvalidStatus
				r, err = reservationIn(ctx, tx, p.ReservationID)
				return err
			}
			if err != nil {
				return err
			}
			if p.Status == parking.PaymentSucceeded {
				if _, err := tx.Exec(ctx, insertPaymentEvent, parking.PaymentEventType(p), at, p.ReservationID); err != nil {
					return err
				}
			}
			if p.Status == parking.PaymentFailed && p.ExtendsTo != nil {
				// The extension was not paid for: the end goes back, if it
				// is still where the extension put it.
				if _, err := tx.Exec(ctx, shortenUnpaid, p.ReservationID, *p.ExtendsFrom, *p.ExtendsTo, at); err != nil {
					return err
				}
			}
			if !u.Confirm || u.To != parking.PaymentSucceeded {
				r, err = reservationIn(ctx, tx, p.ReservationID)
				return err
			}
			r, err = confirmPaid(ctx, tx, p.ReservationID, at)
			if errors.Is(err, parking.ErrSpotUnavailable) {
				outcome, err = err, nil // the payment stands; the caller refunds it
			}
			return err
		})
	})
	if err != nil {
		return parking.Payment{}, parking.Reservation{}, classify(err, "payment")
	}
	return p, r, outcome
}

// releaseRivals prepares confirmPaid's reservation ($2), when it is held or
// expired: it releases the other reservations on its spot that overlap its
// window but no longer hold the spot at $1 (holds that lapsed become expired,
// confirmed reservations past their no-show deadline become no_show), as Hold
// does before it inserts. It locks the reservation together with those rivals,
// in id order as Hold, ExpireHolds and MarkNoShows lock them, so that
// confirming cannot deadlock with them; NO KEY UPDATE leaves foreign-key checks
// (a payment being created for the reservation) unblocked. The final count
// reads every locked row, so all are locked whatever the plan. The rivals'
// spot and window are scalar subqueries of r, so that PostgreSQL looks them
// up in the exclusion constraint's index by spot and window whatever it
// estimates: as a join it scanned the whole index (every active reservation
// of every lot) when its statistics said the index was small, 106 ms a
// payment on issue 16's data set (docs/benchmarks.md).
const releaseRivals = `WITH r AS (
		SELECT id, spot_id, starts_at, ends_at FROM reservations WHERE id = $2 AND status IN ('held', 'expired')
	), locked AS (
		SELECT id FROM reservations
		WHERE id IN (
			SELECT id FROM r
			UNION ALL
			SELECT o.id FROM reservations o
			WHERE o.spot_id = (SELECT spot_id FROM r) AND o.status IN ('held', 'confirmed')
				AND CASE o.status
					WHEN 'held' THEN o.hold_expires_at
					ELSE o.starts_at + (SELECT no_show_after_us FROM lots WHERE lots.id = o.lot_id) * interval '1 microsecond'
				END <= $1
				AND tstzrange(o.starts_at, o.ends_at, '[)') && (SELECT tstzrange(starts_at, ends_at, '[)') FROM r)
		)
		ORDER BY id FOR NO KEY UPDATE
	), x AS (
		UPDATE reservations SET status = CASE status WHEN 'held' THEN 'expired' ELSE 'no_show' END, updated_at = $1
		WHERE id IN (SELECT id FROM locked WHERE id <> $2) AND status IN ('held', 'confirmed') AND ` + lapsedBy + `
		RETURNING lot_id, spot_id, id, status
	), ev AS (
		INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
		SELECT lot_id, 'reservation.' || status, spot_id, id, $1 FROM x
	)
	SELECT count(*) FROM locked`

// confirmReservation confirms a held (lapsed or not) or expired reservation
// and records its event. The exclusion constraint decides whether the spot is
// still free for it.
const confirmReservation = `WITH c AS (
		UPDATE reservations SET status = 'confirmed', updated_at = $2
		WHERE id = $1 AND status IN ('held', 'expired')
		RETURNING ` + reservationColumns + `
	), e AS (
		INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
		SELECT lot_id, 'reservation.confirmed', spot_id, id, $2 FROM c
	)
	SELECT ` + reservationColumns + ` FROM c`

// confirmPaid confirms the reservation a succeeded charge paid for. One that is
// neither held nor expired (already confirmed, or cancelled) is returned as it
// is. When another reservation has taken the spot, only the confirmation is
// undone, back to a savepoint, and the reservation is returned as it is with
// ErrSpotUnavailable; the rest of tx stands.
func confirmPaid(ctx context.Context, tx pgx.Tx, id string, at time.Time) (parking.Reservation, error) {
	if _, err := tx.Exec(ctx, releaseRivals, at, id); err != nil {
		return parking.Reservation{}, err
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return parking.Reservation{}, err
	}
	rows, _ := sp.Query(ctx, confirmReservation, id, at)
	r, err := pgx.CollectExactlyOneRow(rows, scanReservation)
	switch {
	case err == nil:
		return r, sp.Commit(ctx)
	case errors.Is(err, pgx.ErrNoRows):
		if err := sp.Commit(ctx); err != nil {
			return parking.Reservation{}, err
		}
		return reservationIn(ctx, tx, id)
	case errors.Is(classify(err, "reservation"), parking.ErrSpotUnavailable):
		if err := sp.Rollback(ctx); err != nil {
			return parking.Reservation{}, err
		}
		r, err := reservationIn(ctx, tx, id)
		if err != nil {
			return parking.Reservation{}, err
		}
		return r, parking.ErrSpotUnavailable
	}
	return parking.Reservation{}, err
}

func paymentIn(ctx context.Context, tx pgx.Tx, id string) (parking.Payment, error) {
	rows, _ := tx.Query(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1`, id)
	p, err := pgx.CollectExactlyOneRow(rows, scanPayment)
	return p, classify(err, "payment")
}

func reservationIn(ctx context.Context, tx pgx.Tx, id string) (parking.Reservation, error) {
	rows, _ := tx.Query(ctx, `SELECT `+reservationColumns+` FROM reservations WHERE id = $1`, id)
	r, err := pgx.CollectExactlyOneRow(rows, scanReservation)
	return r, classify(err, "reservation")
}

// SavePaymentMethod stores or replaces a user's saved payment method.
func (s *Store) SavePaymentMethod(ctx context.Context, m parking.SavedPaymentMethod) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO saved_payment_methods (user_id, payment_method, consented_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET payment_method = EXCLUDED.payment_method, consented_at = EXCLUDED.consented_at`,
		m.UserID, m.PaymentMethod, utc(m.ConsentedAt))
	return classify(err, "user")
}

// SavedPaymentMethod returns a user's saved payment method.
func (s *Store) SavedPaymentMethod(ctx context.Context, userID string) (parking.SavedPaymentMethod, error) {
	var m parking.SavedPaymentMethod
	err := s.pool.QueryRow(ctx, `SELECT user_id, payment_method, consented_at FROM saved_payment_methods WHERE user_id = $1`, userID).
		Scan(&m.UserID, &m.PaymentMethod, &m.ConsentedAt)
	m.ConsentedAt = m.ConsentedAt.UTC()
	return m, classify(err, "saved payment method")
}

// DeletePaymentMethod forgets a user's saved payment method.
func (s *Store) DeletePaymentMethod(ctx context.Context, userID string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM saved_payment_methods WHERE user_id = $1`, userID)
	return err
}

// claimPendingRefunds leases refunds in one statement: the rows it picks are
// locked, SKIP LOCKED passes over those another claim holds, and a row whose
// lease another claim committed meanwhile is re-checked and left out.
const claimPendingRefunds = `UPDATE payments SET claimed_by = $1, claimed_until = $2
	WHERE id IN (
		SELECT id FROM payments
		WHERE kind = 'refund' AND status = 'pending' AND created_at < $3 AND (claimed_until IS NULL OR claimed_until <= $4)
		ORDER BY created_at, id LIMIT $5
		FOR UPDATE SKIP LOCKED
	)
	RETURNING ` + paymentColumns

// ClaimPendingRefunds leases pending refunds, each to one claimer at a time.
func (s *Store) ClaimPendingRefunds(ctx context.Context, claimer string, createdBefore, now time.Time, lease time.Duration, limit int) ([]parking.Payment, error) {
	rows, _ := s.pool.Query(ctx, claimPendingRefunds, claimer, utc(now.Add(lease)), utc(createdBefore), utc(now), limit)
	ps, err := pgx.CollectRows(rows, scanPayment)
	if ps == nil {
		ps = []parking.Payment{}
	}
	parking.SortPayments(ps) // RETURNING keeps no order
	return ps, classify(err, "payment")
}

// ReleaseRefundClaim ends claimer's lease on a refund.
func (s *Store) ReleaseRefundClaim(ctx context.Context, id, claimer string) error {
	_, err := s.pool.Exec(ctx, `UPDATE payments SET claimed_until = NULL WHERE id = $1 AND claimed_by = $2`, id, claimer)
	return err
}

// shortenUnpaid moves reservation $1's end back from $3 to $2 at $4, with its
// event, when an extension's charge failed.
const shortenUnpaid = `WITH u AS (
		UPDATE reservations SET ends_at = $2, updated_at = $4
		WHERE id = $1 AND ends_at = $3 AND status IN ('confirmed', 'checked_in')
		RETURNING lot_id, spot_id, id
	)
	INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
	SELECT lot_id, 'reservation.extended', spot_id, id, $4 FROM u`

// insertPaymentEvent announces that a payment succeeded ($1 the event type, $2
// the time), as an event of its reservation's ($3) lot and spot.
const insertPaymentEvent = `INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
	SELECT lot_id, $1, spot_id, id, $2 FROM reservations WHERE id = $3`
