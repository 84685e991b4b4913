package payments

import (
	"context"
	"errors"
	"time"

	"parkd/internal/parking"
)

// Extension is the outcome of extending a stay.
type Extension struct {
	Reservation parking.Reservation `json:"reservation"`
	// Amount is what the extra time cost (zero under a daily cap already
	// reached); Payment is its charge, absent when nothing was due.
	Amount   int64            `json:"amount"`
	Currency string           `json:"currency"`
	Payment  *parking.Payment `json:"payment,omitempty"`
	// Moved counts the bookings that were put on other spots to make room.
	Moved int `json:"moved"`
}

// Extend moves r's end to newEnd and charges the difference in price, to
// paymentMethod or, when that is empty, to the driver's saved payment method.
// The new end is taken before the charge, in one transaction with the moves
// it needs and the pending charge; a charge that is declined moves the end
// back (the moved bookings stay where they went). Requests that race, whatever
// their idempotency keys, charge at most once: a reservation has at most one
// extension charge pending, and a request for the end another already took
// drives that same charge (same gateway idempotency key) instead of making
// another.
func (s *Service) Extend(ctx context.Context, r parking.Reservation, newEnd time.Time, paymentMethod string) (Extension, error) {
	if paymentMethod != "" {
		if err := s.CheckPaymentMethod(paymentMethod); err != nil {
			return Extension{}, err
		}
	}
	newEnd = newEnd.UTC().Truncate(time.Microsecond)
	if r.EndsAt.Equal(newEnd) {
		return s.resumeExtension(ctx, r, paymentMethod)
	}
	plan, err := s.engine.PlanExtension(ctx, r, newEnd)
	if err != nil {
		return Extension{}, err
	}
	var charge *parking.Payment
	if plan.Amount > 0 {
		method, err := s.methodFor(ctx, r.UserID, paymentMethod)
		if err != nil {
			return Extension{}, err
		}
		now := s.clock.Now()
		from, to := r.EndsAt, plan.NewEnd
		charge = &parking.Payment{ID: parking.NewID("pay"), ReservationID: r.ID, UserID: r.UserID, Kind: parking.Charge,
			Purpose: parking.PurposeBooking, Amount: plan.Amount, Currency: r.Currency, Status: parking.PaymentPending,
			Gateway: s.gateway.Name(), PaymentMethod: method, ExtendsFrom: &from, ExtendsTo: &to, CreatedAt: now, UpdatedAt: now}
	}
	res, moved, err := s.store.ExtendReservation(ctx, parking.Extension{ID: r.ID, From: r.EndsAt, To: plan.NewEnd,
		Moves: plan.Moves, Charge: charge, At: s.clock.Now()})
	switch {
	case errors.Is(err, parking.ErrInvalidStatus) && res.EndsAt.Equal(newEnd):
		// Another request took this very end first: settle its charge.
		return s.resumeExtension(ctx, res, paymentMethod)
	case errors.Is(err, parking.ErrInvalidStatus):
		return Extension{}, parking.Errorf(parking.ECONFLICT, "the reservation changed meanwhile (it now ends %s): look again and retry",
			res.EndsAt.Format(time.RFC3339))
	case parking.ErrorCode(err) == parking.ECONFLICT:
		cur, rerr := s.store.Reservation(ctx, r.ID)
		if rerr == nil && cur.EndsAt.Equal(newEnd) {
			return s.resumeExtension(ctx, cur, paymentMethod)
		}
		return Extension{}, parking.Errorf(parking.EINPROGRESS, "another extension of this reservation is being paid for: try again in a moment")
	case err != nil:
		return Extension{}, err
	}
	out := Extension{Reservation: res, Amount: plan.Amount, Currency: r.Currency, Moved: len(moved)}
	if charge == nil {
		return out, nil
	}
	return s.chargeExtension(ctx, out, *charge)
}

// resumeExtension settles the extension that brought r to its current end: a
// repeated request, or one that lost a race to an identical one.
func (s *Service) resumeExtension(ctx context.Context, r parking.Reservation, paymentMethod string) (Extension, error) {
	ps, err := s.store.ReservationPayments(ctx, r.ID)
	if err != nil {
		return Extension{}, err
	}
	out := Extension{Reservation: r, Currency: r.Currency}
	for _, p := range ps {
		if p.Kind != parking.Charge || p.ExtendsTo == nil || !p.ExtendsTo.Equal(r.EndsAt) || p.Status == parking.PaymentFailed {
			continue
		}
		out.Amount = p.Amount
		if p.Status == parking.PaymentSucceeded {
			out.Payment = &p
			return out, nil
		}
		if paymentMethod != "" && paymentMethod != p.PaymentMethod {
			return Extension{}, parking.Errorf(parking.EINPROGRESS, "another payment for this extension is in progress")
		}
		return s.chargeExtension(ctx, out, p)
	}
	// Nothing was due for it, or its charge failed and the end is back.
	return out, nil
}

// chargeExtension sends an extension's pending charge to the gateway and
// settles it. A decline, or an unknown payment method, fails the charge, which
// moves the end back.
func (s *Service) chargeExtension(ctx context.Context, out Extension, p parking.Payment) (Extension, error) {
	res, err := s.gateway.Charge(ctx, ChargeRequest{PaymentID: p.ID, Amount: p.Amount, Currency: p.Currency,
		PaymentMethod: p.PaymentMethod, Description: "Parking extension " + p.ReservationID, IdempotencyKey: p.ID})
	if errors.Is(err, ErrUnknownPaymentMethod) {
		s.settle(ctx, p, parking.PaymentUpdate{To: parking.PaymentFailed, FailureCode: "invalid_payment_method"})
		return Extension{}, err
	}
	if err != nil {
		s.log.ErrorContext(ctx, "extension charge", "payment", p.ID, "err", err)
		return Extension{}, parking.Errorf(parking.EGATEWAY, "the payment gateway did not answer: try again in a moment")
	}
	u := parking.PaymentUpdate{GatewayID: res.GatewayID, CardBrand: res.CardBrand, CardLast4: res.CardLast4}
	switch res.Status {
	case ChargeSucceeded:
		u.To = parking.PaymentSucceeded
	case ChargeDeclined:
		u.To, u.FailureCode = parking.PaymentFailed, res.DeclineCode
	default:
		u.To = parking.PaymentPending // the webhook settles it; a failure then moves the end back
	}
	settled, err := s.settle(ctx, p, u)
	if err != nil {
		return Extension{}, err
	}
	out.Reservation, out.Payment = settled.Reservation, &settled.Payment
	if settled.Payment.Status == parking.PaymentFailed {
		return out, parking.Errorf(parking.EDECLINED, "the card was declined (%s): the stay was not extended", settled.Payment.FailureCode)
	}
	return out, nil
}

// RefundDisplaced refunds in full the bookings the lot cancelled (no spot
// fitted them any more) whose money has not gone back yet: the refunds an
// interrupted sweep or request still owes. It returns how many it refunded.
func (s *Service) RefundDisplaced(ctx context.Context) (int, error) {
	rs, err := s.store.DisplacedUnrefunded(ctx, 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rs {
		if _, err := s.RefundReservation(ctx, r.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
