package payments

import (
	"context"
	"errors"
	"time"

	"parkd/internal/parking"
)

// What a signed-in user may do with payments and the reservations they pay
// for. Who may see a reservation is booking.Service.VisibleReservation's rule;
// a payment is visible exactly when its reservation is.

// PayReservation charges u's held reservation id (see Pay). Only the driver
// who booked pays; anyone else who may see it is forbidden, and for everyone
// else it is not found.
func (s *Service) PayReservation(ctx context.Context, u parking.User, id, paymentMethod string) (Result, error) {
	r, err := s.engine.VisibleReservation(ctx, u, id)
	if err != nil {
		return Result{}, err
	}
	if r.UserID != u.ID {
		return Result{}, parking.Errorf(parking.EFORBIDDEN, "only the driver who booked can pay")
	}
	return s.Pay(ctx, r, paymentMethod)
}

// ExtendReservation moves the end of u's reservation id to newEnd and charges
// the difference (see Extend). Only the driver who booked extends.
func (s *Service) ExtendReservation(ctx context.Context, u parking.User, id string, newEnd time.Time, paymentMethod string) (Extension, error) {
	if newEnd.IsZero() {
		return Extension{}, &parking.ValidationError{Fields: []parking.FieldError{{Field: "ends_at", Message: "is required: an RFC 3339 time"}}}
	}
	r, err := s.engine.VisibleReservation(ctx, u, id)
	if err != nil {
		return Extension{}, err
	}
	if r.UserID != u.ID {
		return Extension{}, parking.Errorf(parking.EFORBIDDEN, "only the driver who booked can extend")
	}
	return s.Extend(ctx, r, newEnd, paymentMethod)
}

// CancelReservation cancels reservation id for u, its driver or an operator
// of its lot, and refunds what the lot's policy gives back (see Cancel).
func (s *Service) CancelReservation(ctx context.Context, u parking.User, id string) (parking.Reservation, *parking.Payment, error) {
	r, err := s.engine.VisibleReservation(ctx, u, id)
	if err != nil {
		return parking.Reservation{}, nil, err
	}
	return s.Cancel(ctx, r)
}

// VisiblePayment returns payment id if u may see its reservation; any other
// is not found.
func (s *Service) VisiblePayment(ctx context.Context, u parking.User, id string) (parking.Payment, error) {
	p, _, err := s.visiblePayment(ctx, u, id)
	return p, err
}

func (s *Service) visiblePayment(ctx context.Context, u parking.User, id string) (parking.Payment, parking.Reservation, error) {
	notFound := parking.Errorf(parking.ENOTFOUND, "payment not found")
	p, err := s.store.Payment(ctx, id)
	if err != nil {
		return parking.Payment{}, parking.Reservation{}, notFound
	}
	r, err := s.engine.VisibleReservation(ctx, u, p.ReservationID)
	if err != nil {
		return parking.Payment{}, parking.Reservation{}, notFound
	}
	return p, r, nil
}

// UserPayments lists a driver's payments, newest first.
func (s *Service) UserPayments(ctx context.Context, userID string) ([]parking.Payment, error) {
	return s.store.UserPayments(ctx, userID)
}

// Receipt is what a receipt shows: a payment, what it paid for, and, for a
// charge, the refunds of it that went through.
type Receipt struct {
	Payment     parking.Payment
	Reservation parking.Reservation
	Lot         parking.Lot
	Spot        parking.Spot      // zero when the spot is gone
	Refunds     []parking.Payment // of a charge: its refunds that went through
	Net         int64             // the payment less those refunds
}

// Receipt returns the receipt of payment id, if u may see it (VisiblePayment).
// Whether a payment that did not go through shows one is the caller's choice.
func (s *Service) Receipt(ctx context.Context, u parking.User, id string) (Receipt, error) {
	p, r, err := s.visiblePayment(ctx, u, id)
	if err != nil {
		return Receipt{}, err
	}
	rc := Receipt{Payment: p, Reservation: r, Net: p.Amount}
	if rc.Lot, err = s.store.Lot(ctx, r.LotID); err != nil {
		return Receipt{}, err
	}
	// One spot: not the lot's every spot.
	if sp, err := s.store.Spot(ctx, r.SpotID); err == nil {
		rc.Spot = sp
	} else if !errors.Is(err, parking.ErrNotFound) {
		return Receipt{}, err
	}
	if p.Kind == parking.Charge {
		all, err := s.store.ReservationPayments(ctx, r.ID)
		if err != nil {
			return Receipt{}, err
		}
		for _, q := range all {
			if q.Kind == parking.Refund && q.RefundOf == p.ID && q.Status == parking.PaymentSucceeded {
				rc.Refunds = append(rc.Refunds, q)
				rc.Net -= q.Amount
			}
		}
	}
	return rc, nil
}

// ReconcileFor runs Reconcile for an administrator, since since (zero: 30
// days ago).
func (s *Service) ReconcileFor(ctx context.Context, u parking.User, since time.Time) (Report, error) {
	if !u.IsAdmin() {
		return Report{}, parking.Errorf(parking.EFORBIDDEN, "only administrators reconcile payments")
	}
	if since.IsZero() {
		since = s.clock.Now().Add(-30 * 24 * time.Hour)
	}
	return s.Reconcile(ctx, since)
}
