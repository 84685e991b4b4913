package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"parkd/internal/parking"
)

// Report is what reconciliation found: money the gateway took that parkd does
// not account for, and reservations parkd holds as paid with no charge.
type Report struct {
	Since              time.Time             `json:"since"`
	GatewayCharges     int                   `json:"gateway_charges"`
	UnmatchedCharges   []Discrepancy         `json:"unmatched_charges"`
	PaidWithoutCharges []parking.Reservation `json:"paid_without_charges"`
}

// Discrepancy is a gateway charge and why it does not match.
type Discrepancy struct {
	GatewayCharge
	Reason string `json:"reason"`
}

// Clean reports whether nothing was found.
func (r Report) Clean() bool { return len(r.UnmatchedCharges) == 0 && len(r.PaidWithoutCharges) == 0 }

// paidStatuses are the reservation statuses that keep the money.
var paidStatuses = map[parking.Status]bool{
	parking.StatusConfirmed: true, parking.StatusCheckedIn: true, parking.StatusCompleted: true, parking.StatusNoShow: true,
}

// Reconcile compares the gateway's charges since a time with parkd's records,
// both ways: every succeeded gateway charge must be a succeeded payment whose
// reservation kept it (or that was refunded), and every paid reservation
// starting since then must have a succeeded charge.
func (s *Service) Reconcile(ctx context.Context, since time.Time) (Report, error) {
	rep := Report{Since: since, UnmatchedCharges: []Discrepancy{}, PaidWithoutCharges: []parking.Reservation{}}
	charges, err := s.gateway.Charges(ctx, since)
	if err != nil {
		s.log.ErrorContext(ctx, "list gateway charges", "err", err)
		return rep, parking.Errorf(parking.EGATEWAY, "the payment gateway did not list its charges: try again later")
	}
	rep.GatewayCharges = len(charges)
	for _, gc := range charges {
		if gc.Status != ChargeSucceeded {
			continue
		}
		reason, err := s.chargeMismatch(ctx, gc)
		if err != nil {
			return rep, err
		}
		if reason != "" {
			rep.UnmatchedCharges = append(rep.UnmatchedCharges, Discrepancy{GatewayCharge: gc, Reason: reason})
		}
	}
	lots, err := s.store.Lots(ctx)
	if err != nil {
		return rep, err
	}
	for _, lot := range lots {
		rs, err := s.store.LotReservations(ctx, lot.ID, since, s.clock.Now().Add(366*24*time.Hour))
		if err != nil {
			return rep, err
		}
		for _, r := range rs {
			if !paidStatuses[r.Status] || r.UserID == "" || r.Amount == 0 {
				continue
			}
			paid, err := s.hasSucceededCharge(ctx, r.ID)
			if err != nil {
				return rep, err
			}
			if !paid {
				rep.PaidWithoutCharges = append(rep.PaidWithoutCharges, r)
			}
		}
	}
	return rep, nil
}

// chargeMismatch says why a succeeded gateway charge is not accounted for, or "".
func (s *Service) chargeMismatch(ctx context.Context, gc GatewayCharge) (string, error) {
	p, err := s.paymentOf(ctx, WebhookEvent{PaymentID: gc.PaymentID, GatewayID: gc.GatewayID})
	if errors.Is(err, parking.ErrNotFound) {
		return "no payment in parkd for this charge", nil
	}
	if err != nil {
		return "", err
	}
	if gc.Refunded >= gc.Amount {
		return "", nil // returned in full, whatever parkd's row says
	}
	if p.Status != parking.PaymentSucceeded {
		return fmt.Sprintf("the gateway charged it, parkd has it %s", p.Status), nil
	}
	r, err := s.store.Reservation(ctx, p.ReservationID)
	if err != nil {
		return "", err
	}
	if paidStatuses[r.Status] {
		return "", nil
	}
	if r.Status == parking.StatusCancelled {
		// Cancelled after the cut-off: the policy keeps the money.
		lot, err := s.store.Lot(ctx, r.LotID)
		if err != nil {
			return "", err
		}
		if !lot.Policy.RefundsOnCancel(r, r.UpdatedAt) {
			return "", nil
		}
	}
	ps, err := s.store.ReservationPayments(ctx, r.ID)
	if err != nil {
		return "", err
	}
	for _, q := range ps {
		if q.Kind == parking.Refund && q.RefundOf == p.ID && q.Status == parking.PaymentSucceeded {
			return "", nil
		}
	}
	return fmt.Sprintf("the reservation is %s and the charge was not refunded", r.Status), nil
}

func (s *Service) hasSucceededCharge(ctx context.Context, reservationID string) (bool, error) {
	ps, err := s.store.ReservationPayments(ctx, reservationID)
	if err != nil {
		return false, err
	}
	for _, p := range ps {
		if p.Kind == parking.Charge && p.Status == parking.PaymentSucceeded {
			return true, nil
		}
	}
	return false, nil
}
