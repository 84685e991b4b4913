package payments

import (
	"context"
	"errors"

	"parkd/internal/parking"
)

// Overstay is the outcome of charging for extra time: either Payment is the
// succeeded charge, or Due is the amount the exit kiosk must collect.
type Overstay struct {
	Amount   int64            `json:"amount"`
	Currency string           `json:"currency"`
	Payment  *parking.Payment `json:"payment,omitempty"`
	Due      int64            `json:"due"`
}

// ChargeOverstay charges amount for reservation r's overstay to its driver's
// saved payment method. With no saved method, a decline, or an answer still
// pending, the amount is due at the kiosk instead. Charging twice for one
// reservation is impossible: its overstay charge is the one live charge of
// that purpose, and a retry finds it.
func (s *Service) ChargeOverstay(ctx context.Context, r parking.Reservation, amount int64) (Overstay, error) {
	out := Overstay{Amount: amount, Currency: r.Currency, Due: amount}
	if amount <= 0 {
		out.Due = 0
		return out, nil
	}
	if r.UserID == "" {
		return out, nil // a drive-up ticket pays at the kiosk
	}
	m, err := s.store.SavedPaymentMethod(ctx, r.UserID)
	if errors.Is(err, parking.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	return s.chargeExit(ctx, r, amount, m.PaymentMethod, parking.PurposeOverstay)
}

// ChargeAtExit charges a payment method presented at the exit kiosk: a
// drive-up's time (purpose booking), or an overstay. A decline, or an answer
// still pending, leaves the amount due.
func (s *Service) ChargeAtExit(ctx context.Context, r parking.Reservation, amount int64, paymentMethod, purpose string) (Overstay, error) {
	if amount <= 0 {
		return Overstay{Amount: amount, Currency: r.Currency}, nil
	}
	if err := s.CheckPaymentMethod(paymentMethod); err != nil {
		return Overstay{}, err
	}
	return s.chargeExit(ctx, r, amount, paymentMethod, purpose)
}

// chargeExit charges amount for r with a payment method, once per reservation
// and purpose: a retry finds the live charge instead of making another.
func (s *Service) chargeExit(ctx context.Context, r parking.Reservation, amount int64, paymentMethod, purpose string) (Overstay, error) {
	out := Overstay{Amount: amount, Currency: r.Currency, Due: amount}
	now := s.clock.Now()
	p := parking.Payment{
		ID: parking.NewID("pay"), ReservationID: r.ID, UserID: r.UserID, Kind: parking.Charge, Purpose: purpose,
		Amount: amount, Currency: r.Currency, Status: parking.PaymentPending, Gateway: s.gateway.Name(),
		PaymentMethod: paymentMethod, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.store.CreatePayment(ctx, &p); parking.ErrorCode(err) == parking.ECONFLICT {
		ps, lerr := s.store.ReservationPayments(ctx, r.ID)
		if lerr != nil {
			return out, lerr
		}
		for _, q := range ps {
			if q.Kind == parking.Charge && q.Purpose == purpose && q.Status != parking.PaymentFailed {
				p = q
			}
		}
		if p.Status == parking.PaymentSucceeded {
			out.Payment, out.Due = &p, 0
			return out, nil
		}
	} else if err != nil {
		return out, err
	}
	res, err := s.gateway.Charge(ctx, ChargeRequest{PaymentID: p.ID, Amount: p.Amount, Currency: p.Currency,
		PaymentMethod: p.PaymentMethod, Description: "Parking at exit, " + purpose + ", " + r.ID, IdempotencyKey: p.ID})
	if err != nil {
		s.log.WarnContext(ctx, "charge at exit", "payment", p.ID, "err", err)
		if errors.Is(err, ErrUnknownPaymentMethod) {
			s.store.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: p.ID, From: []string{parking.PaymentPending},
				To: parking.PaymentFailed, FailureCode: "invalid_payment_method", At: s.clock.Now()})
		}
		return out, nil // collect at the kiosk
	}
	u := parking.PaymentUpdate{PaymentID: p.ID, From: []string{parking.PaymentPending}, GatewayID: res.GatewayID,
		CardBrand: res.CardBrand, CardLast4: res.CardLast4, At: s.clock.Now()}
	switch res.Status {
	case ChargeSucceeded:
		u.To = parking.PaymentSucceeded
	case ChargeDeclined:
		u.To, u.FailureCode = parking.PaymentFailed, res.DeclineCode
	default:
		u.To = parking.PaymentPending
	}
	paid, _, err := s.store.UpdatePayment(ctx, u)
	if err != nil && !errors.Is(err, parking.ErrInvalidStatus) {
		return out, err
	}
	if paid.Status == parking.PaymentSucceeded {
		out.Payment, out.Due = &paid, 0
	}
	return out, nil
}
