package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/store/storetest"
)

// racePayments runs fn(i) for i in [0, n) at once and returns their errors.
func racePayments(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Go(func() {
			start.Wait()
			errs[i] = fn(i)
		})
	}
	start.Done()
	done.Wait()
	return errs
}

func mustUser(t *testing.T, s *Store, email string) parking.User {
	t.Helper()
	u := parking.User{ID: parking.NewID("usr"), Name: "Ada", Email: email, PasswordHash: "h", Role: parking.RoleDriver, CreatedAt: storetest.T0}
	if err := s.CreateUser(context.Background(), &u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return u
}

// mustCharge holds spot for [start, end) at now and creates a pending charge for it.
func mustCharge(t *testing.T, s *Store, f storetest.Fixture, spot string, now, start, end time.Time) (parking.Reservation, parking.Payment) {
	t.Helper()
	r := f.MustHold(t, s, spot, now, start, end)
	p := storetest.NewCharge(r, now)
	if err := s.CreatePayment(context.Background(), p); err != nil {
		t.Fatalf("CreatePayment: %v", err)
	}
	return r, *p
}

func succeed(p parking.Payment, eventID string, at time.Time) parking.PaymentUpdate {
	return parking.PaymentUpdate{PaymentID: p.ID, EventID: eventID, From: []string{parking.PaymentPending},
		To: parking.PaymentSucceeded, Confirm: true, At: at}
}

// TestUpdatePaymentRaces: deliveries of one webhook event, and different events
// for one payment, race; exactly one applies each time.
func TestUpdatePaymentRaces(t *testing.T) {
	s := mustOpenSchema(t)
	ctx := context.Background()
	f := storetest.MustFixture(t, s)
	t0 := storetest.T0
	const racers = 8
	tests := []struct {
		name    string
		eventID func(round, i int) string
		losers  error
	}{
		{"same event", func(round, _ int) string { return fmt.Sprintf("evt_%d", round) }, parking.ErrDuplicateEvent},
		{"different events", func(round, i int) string { return fmt.Sprintf("evt_%d_%d", round, i) }, parking.ErrInvalidStatus},
		{"no event", func(int, int) string { return "" }, parking.ErrInvalidStatus},
	}
	round := 0
	for _, tt := range tests {
		for range 10 {
			round++
			base := t0.Add(time.Duration(round) * 4 * time.Hour)
			_, p := mustCharge(t, s, f, f.Spots[5].ID, t0, base, base.Add(time.Hour))
			errs := racePayments(racers, func(i int) error {
				pay, res, err := s.UpdatePayment(ctx, succeed(p, tt.eventID(round, i), t0.Add(time.Minute)))
				if err == nil && (pay.Status != parking.PaymentSucceeded || res.Status != parking.StatusConfirmed) {
					return fmt.Errorf("applied: payment %s, reservation %s", pay.Status, res.Status)
				}
				return err
			})
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, tt.losers):
					t.Fatalf("%s: UpdatePayment racing = %v; want nil or %v", tt.name, err, tt.losers)
				}
			}
			if won != 1 {
				t.Fatalf("%s: %d of %d racing updates applied; want exactly 1", tt.name, won, racers)
			}
		}
	}
}

// TestConfirmRaces: a paid reservation whose hold lapsed races for its spot
// against a new hold, and two expired reservations over one window are paid
// at once; exactly one of each pair gets the spot, and the loser's payment is
// still recorded as succeeded.
func TestConfirmRaces(t *testing.T) {
	s := mustOpenSchema(t)
	ctx := context.Background()
	f := storetest.MustFixture(t, s)
	spot := f.Spots[5].ID
	t0 := storetest.T0
	for round := range 20 {
		base := t0.Add(time.Duration(round) * 4 * time.Hour)
		late := t0.Add(10 * time.Minute) // after every hold made at t0 lapsed

		// A lapsed hold's payment against a new hold.
		_, p := mustCharge(t, s, f, spot, t0, base, base.Add(time.Hour))
		other := f.NewHold(late, base, base.Add(time.Hour))
		errs := racePayments(2, func(i int) error {
			if i == 0 {
				return s.Hold(ctx, other, []string{spot}, nil)
			}
			pay, _, err := s.UpdatePayment(ctx, succeed(p, "", late))
			if pay.Status != parking.PaymentSucceeded {
				return fmt.Errorf("payment %q, %v; want succeeded", pay.Status, err)
			}
			return err
		})
		if won := wins(t, errs); won != 1 {
			t.Fatalf("round %d: hold vs payment: %d won (%v); want exactly 1", round, won, errs)
		}
		checkOneBlocking(t, s, spot, base, late)

		// Two expired reservations over one window, both paid at once.
		base = base.Add(2 * time.Hour)
		_, p1 := mustCharge(t, s, f, spot, t0, base, base.Add(time.Hour))
		if _, err := s.ExpireHolds(ctx, late); err != nil {
			t.Fatalf("ExpireHolds: %v", err)
		}
		_, p2 := mustCharge(t, s, f, spot, late, base, base.Add(time.Hour))
		later := late.Add(10 * time.Minute)
		if _, err := s.ExpireHolds(ctx, later); err != nil {
			t.Fatalf("ExpireHolds: %v", err)
		}
		errs = racePayments(2, func(i int) error {
			pay, _, err := s.UpdatePayment(ctx, succeed([]parking.Payment{p1, p2}[i], "", later))
			if pay.Status != parking.PaymentSucceeded {
				return fmt.Errorf("payment %q, %v; want succeeded", pay.Status, err)
			}
			return err
		})
		if won := wins(t, errs); won != 1 {
			t.Fatalf("round %d: two payments: %d won (%v); want exactly 1", round, won, errs)
		}
		checkOneBlocking(t, s, spot, base, later)
	}
}

func wins(t *testing.T, errs []error) int {
	t.Helper()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, parking.ErrSpotUnavailable):
			t.Fatalf("racer = %v; want nil or ErrSpotUnavailable", err)
		}
	}
	return won
}

func checkOneBlocking(t *testing.T, s *Store, spot string, start, now time.Time) {
	t.Helper()
	rs, err := s.SpotReservations(context.Background(), spot, now)
	n := 0
	for _, r := range rs {
		if r.StartsAt.Equal(start) {
			n++
		}
	}
	if err != nil || n != 1 {
		t.Fatalf("blocking reservations at %v = %d, %v; want 1", start, n, err)
	}
}

func mustReservation(t *testing.T, s *Store, id string) parking.Reservation {
	t.Helper()
	r, err := s.Reservation(context.Background(), id)
	if err != nil {
		t.Fatalf("Reservation(%s) = %v", id, err)
	}
	return r
}

// TestConfirmOverLapsedRival: a lapsed hold that nobody swept yet has not
// taken the spot (Hold would expire it too), so a late payment for an earlier
// reservation of the spot still confirms it.
func TestConfirmOverLapsedRival(t *testing.T) {
	s := mustOpenSchema(t)
	ctx := context.Background()
	f := storetest.MustFixture(t, s)
	spot := f.Spots[5].ID
	t0 := storetest.T0
	start := t0.Add(time.Hour)
	r, p := mustCharge(t, s, f, spot, t0, start, start.Add(time.Hour))
	late := r.HoldExpiresAt.Add(time.Minute)
	if _, err := s.ExpireHolds(ctx, late); err != nil {
		t.Fatalf("ExpireHolds: %v", err)
	}
	rival := f.MustHold(t, s, spot, late, start, start.Add(time.Hour))
	later := rival.HoldExpiresAt.Add(time.Minute)
	_, res, err := s.UpdatePayment(ctx, succeed(p, "", later))
	if err != nil || res.Status != parking.StatusConfirmed {
		t.Fatalf("UpdatePayment over a lapsed rival = %s, %v; want confirmed", res.Status, err)
	}
	if got := mustReservation(t, s, rival.ID); got.Status != parking.StatusExpired {
		t.Errorf("lapsed rival = %s; want expired", got.Status)
	}
	events, _ := s.Events(ctx, f.Lot.ID, 0, 100)
	var types []string
	for _, e := range events[len(events)-2:] {
		types = append(types, e.Type+" "+e.ReservationID)
	}
	if want := []string{"reservation.expired " + rival.ID, "reservation.confirmed " + r.ID}; fmt.Sprint(types) != fmt.Sprint(want) {
		t.Errorf("last events = %v; want %v", types, want)
	}
}

// TestUpdatePaymentMissingForgetsEvent: an event for a payment that does not
// exist changes nothing, so it is not recorded either.
func TestUpdatePaymentMissingForgetsEvent(t *testing.T) {
	s := mustOpenSchema(t)
	ctx := context.Background()
	f := storetest.MustFixture(t, s)
	t0 := storetest.T0
	_, p := mustCharge(t, s, f, f.Spots[5].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	missing := succeed(p, "evt_1", t0)
	missing.PaymentID = "pay_missing"
	if _, _, err := s.UpdatePayment(ctx, missing); !errors.Is(err, parking.ErrNotFound) {
		t.Fatalf("UpdatePayment(missing) = %v; want ErrNotFound", err)
	}
	if _, _, err := s.UpdatePayment(ctx, succeed(p, "evt_1", t0)); err != nil {
		t.Errorf("the same event for an existing payment = %v; want nil (not recorded before)", err)
	}
}

// TestPaymentErrors checks the messages and codes of refused payments, which
// the conformance suite checks only by code or not at all.
func TestPaymentErrors(t *testing.T) {
	s := mustOpenSchema(t)
	ctx := context.Background()
	f := storetest.MustFixture(t, s)
	u := mustUser(t, s, "ada@example.com")
	t0 := storetest.T0
	r, p := mustCharge(t, s, f, f.Spots[5].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	r2, p2 := mustCharge(t, s, f, f.Spots[6].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	for _, up := range []parking.PaymentUpdate{
		{PaymentID: p.ID, From: []string{parking.PaymentPending}, To: parking.PaymentSucceeded, GatewayID: "gw_1", At: t0},
		{PaymentID: p2.ID, From: []string{parking.PaymentPending}, To: parking.PaymentFailed, GatewayID: "gw_2", At: t0},
	} {
		if _, _, err := s.UpdatePayment(ctx, up); err != nil {
			t.Fatalf("UpdatePayment: %v", err)
		}
	}
	second := storetest.NewCharge(r, t0)
	sameGatewayID := storetest.NewCharge(r2, t0)
	sameGatewayID.GatewayID = "gw_1"
	otherGateway := storetest.NewCharge(r2, t0)
	otherGateway.Gateway, otherGateway.GatewayID = "stripe", "gw_1"
	refund := func(of string) *parking.Payment {
		return &parking.Payment{ID: parking.NewID("pay"), ReservationID: r.ID, UserID: u.ID, Kind: parking.Refund, Amount: 600,
			Currency: "USD", Status: parking.PaymentPending, Gateway: "sandbox", RefundOf: of, CreatedAt: t0}
	}
	_, _, gatewayTaken := s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: p2.ID, From: []string{parking.PaymentFailed},
		To: parking.PaymentFailed, GatewayID: "gw_1", At: t0})

	tests := []struct {
		name      string
		err       error
		code, msg string
	}{
		{"second live charge", s.CreatePayment(ctx, second), parking.ECONFLICT, "a payment for this reservation is already pending or succeeded"},
		{"gateway id taken", s.CreatePayment(ctx, sameGatewayID), parking.ECONFLICT, "a payment with that gateway id already exists"},
		{"gateway id taken by update", gatewayTaken, parking.ECONFLICT, "a payment with that gateway id already exists"},
		{"refund of a missing payment", s.CreatePayment(ctx, refund("pay_missing")), parking.EINVALID, "refunded payment not found"},
		{"first refund", s.CreatePayment(ctx, refund(p.ID)), "", ""},
		{"second live refund", s.CreatePayment(ctx, refund(p.ID)), parking.ECONFLICT, "a refund for this payment is already pending or succeeded"},
		{"same gateway id, other gateway", s.CreatePayment(ctx, otherGateway), "", ""},
	}
	for _, tt := range tests {
		switch {
		case tt.code == "" && tt.err != nil:
			t.Errorf("%s: err = %v; want nil", tt.name, tt.err)
		case tt.code != "" && (parking.ErrorCode(tt.err) != tt.code || parking.ErrorMessage(tt.err) != tt.msg):
			t.Errorf("%s: err = %v; want %s: %s", tt.name, tt.err, tt.code, tt.msg)
		}
	}

	// Two gateways now use gw_1: the lookup must not pick one at random.
	if got, err := s.PaymentByGatewayID(ctx, "gw_1"); err == nil || parking.ErrorCode(err) == parking.ENOTFOUND {
		t.Errorf("PaymentByGatewayID(shared id) = %s, %v; want an error", got.ID, err)
	}
	if _, err := s.PaymentByGatewayID(ctx, ""); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("PaymentByGatewayID(\"\") = %v; want ErrNotFound", err)
	}
}
