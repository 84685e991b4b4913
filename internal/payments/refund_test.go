package payments_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"parkd/internal/booking"
	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/payments"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// flakyRefunds is a sandbox whose refunds fail while down is set.
type flakyRefunds struct {
	*payments.Sandbox
	down atomic.Bool
}

func (f *flakyRefunds) Refund(ctx context.Context, r payments.RefundRequest) (payments.RefundResult, error) {
	if f.down.Load() {
		return payments.RefundResult{}, errors.New("gateway timeout")
	}
	return f.Sandbox.Refund(ctx, r)
}

// TestRefundRetried: a refund the gateway does not answer stays pending, the
// cancellation still succeeds, and the retry job settles it once, later.
func TestRefundRetried(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		ctx := context.Background()
		s := b.Open(t)
		clock := parkingtest.NewClock(storetest.T0)
		engine := booking.New(s, clock)
		gw := &flakyRefunds{Sandbox: payments.NewSandbox("whsec_x", clock)}
		svc := payments.New(s, gw, engine, clock, parkingtest.Logger(t))
		f := storetest.MustFixture(t, s)
		u := storetest.MustUser(t, s, "ada@example.com")
		r, err := engine.Hold(ctx, booking.HoldRequest{LotID: f.Lot.ID, SpotID: f.Spots[5].ID, VehicleSize: parking.Standard,
			UserID: u.ID, Plate: "AB1", StartsAt: storetest.T0.Add(time.Hour), EndsAt: storetest.T0.Add(2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Pay(ctx, r, payments.CardVisa); err != nil {
			t.Fatal(err)
		}
		gw.down.Store(true)
		res, refund, err := svc.Cancel(ctx, r)
		if err != nil || res.Status != parking.StatusCancelled || refund == nil || refund.Status != parking.PaymentPending {
			t.Fatalf("Cancel with the gateway down = %+v, %+v, %v; want cancelled, refund pending", res.Status, refund, err)
		}
		if n, err := svc.RetryRefunds(ctx); err != nil || n != 0 {
			t.Errorf("RetryRefunds at once = %d, %v; want 0 (not a minute old)", n, err)
		}
		clock.Advance(2 * time.Minute)
		if n, err := svc.RetryRefunds(ctx); err != nil || n != 0 {
			t.Errorf("RetryRefunds with the gateway still down = %d, %v; want 0", n, err)
		}
		gw.down.Store(false)
		if n, err := svc.RetryRefunds(ctx); err != nil || n != 1 {
			t.Fatalf("RetryRefunds with the gateway back = %d, %v; want 1", n, err)
		}
		if n, _ := svc.RetryRefunds(ctx); n != 0 {
			t.Errorf("RetryRefunds again = %d; want 0 (nothing pending)", n)
		}
		got, _ := s.Payment(ctx, refund.ID)
		charges, _ := gw.Charges(ctx, storetest.T0.Add(-time.Hour))
		if got.Status != parking.PaymentSucceeded || len(charges) != 1 || charges[0].Refunded != r.Amount {
			t.Errorf("after the retry: refund %q, gateway refunded %+v; want succeeded, the full %d once", got.Status, charges, r.Amount)
		}
	})
}

// TestRefundRace: refunds of one reservation racing (an operator's forced
// cancellation, a retried cancel, the retry job) pay back once.
func TestRefundRace(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		ctx := context.Background()
		s := b.Open(t)
		clock := parkingtest.NewClock(storetest.T0)
		engine := booking.New(s, clock)
		gw := payments.NewSandbox("whsec_x", clock)
		svc := payments.New(s, gw, engine, clock, parkingtest.Logger(t))
		f := storetest.MustFixture(t, s)
		u := storetest.MustUser(t, s, "ada@example.com")
		r, err := engine.Hold(ctx, booking.HoldRequest{LotID: f.Lot.ID, SpotID: f.Spots[5].ID, VehicleSize: parking.Standard,
			UserID: u.ID, Plate: "AB1", StartsAt: storetest.T0.Add(time.Hour), EndsAt: storetest.T0.Add(2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Pay(ctx, r, payments.CardVisa); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 8)
		for range 8 {
			go func() {
				_, err := svc.RefundReservation(ctx, r.ID)
				errs <- err
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Errorf("RefundReservation racing = %v", err)
			}
		}
		ps, _ := s.ReservationPayments(ctx, r.ID)
		refunds := 0
		for _, p := range ps {
			if p.Kind == parking.Refund && p.Status != parking.PaymentFailed {
				refunds++
			}
		}
		charges, _ := gw.Charges(ctx, storetest.T0.Add(-time.Hour))
		if refunds != 1 || len(charges) != 1 || charges[0].Refunded != r.Amount {
			t.Errorf("after 8 racing refunds: %d refund rows, gateway refunded %+v; want 1 row and %d refunded once", refunds, charges, r.Amount)
		}
	})
}
