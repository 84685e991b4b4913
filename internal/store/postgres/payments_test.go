package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/store/storetest"
)

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
	u := storetest.MustUser(t, s, "ada@example.com")
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
