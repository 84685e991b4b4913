package httpapi_test

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"testing"

	"parkd/internal/auth"
	"parkd/internal/booking"
	"parkd/internal/httpapi"
	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/payments"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

const stripeWebhookSecret = "whsec_test_stripe"

// TestStripeFlow runs the payment flow with the Stripe adapter against
// stripe-mock: hold, pay (stripe-mock leaves the PaymentIntent needing more,
// so the charge is pending), then Stripe's signed webhook confirms.
func TestStripeFlow(t *testing.T) {
	url := os.Getenv("STRIPE_MOCK_URL")
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("STRIPE_MOCK_URL is not set; CI must run the Stripe flow against stripe-mock (.ci/stripe-mock.sh)")
		}
		t.Skip("set STRIPE_MOCK_URL (run .ci/stripe-mock.sh) to test the Stripe adapter")
	}
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		s := b.Open(t)
		clock := parkingtest.NewClock(storetest.T0)
		engine := booking.New(s, clock)
		log := parkingtest.Logger(t)
		gateway := payments.NewStripe("sk_test_123", stripeWebhookSecret, payments.WithStripeURL(url))
		srv := httptest.NewServer(httpapi.NewHandler(httpapi.WithStore(httpapi.Services{Log: log, Engine: engine, Auth: auth.New(s, clock),
			Payments: payments.New(s, gateway, engine, clock, log), Clock: clock}, s)))
		t.Cleanup(srv.Close)
		e := apiEnv{srv: srv, store: s, clock: clock, engine: engine, fixture: storetest.MustFixture(t, s)}

		ada := signUp(t, srv.URL, "Ada", "ada@example.com")
		r := heldReservation(t, e, ada, 5)
		resp := pay(ada, r.ID, payments.CardVisa)
		var out payResult
		resp.into(t, &out)
		if resp.status != 201 && resp.status != 202 || out.Payment.Gateway != "stripe" || out.Payment.GatewayID == "" {
			t.Fatalf("pay through Stripe = %d %s; want 201 or 202 with a PaymentIntent id", resp.status, resp.body)
		}
		if resp.status == 202 {
			payload, _ := json.Marshal(map[string]any{"id": "evt_stripe_1", "object": "event", "type": "payment_intent.succeeded", "created": clock.Now().Unix(),
				"data": map[string]any{"object": map[string]any{"id": out.Payment.GatewayID, "object": "payment_intent", "status": "succeeded",
					"metadata": map[string]string{"payment_id": out.Payment.ID}}}})
			anon := &client{t: t, base: srv.URL}
			anon.must(200, "POST", "/api/v1/payments/webhook", string(payload), "Stripe-Signature", payments.SignWebhook(stripeWebhookSecret, payload, clock.Now()))
		}
		var got parking.Reservation
		ada.must(200, "GET", "/api/v1/reservations/"+r.ID, nil).into(t, &got)
		if got.Status != parking.StatusConfirmed {
			t.Errorf("after Stripe's webhook the reservation is %q; want confirmed", got.Status)
		}
		// Cancelling before the start refunds through Stripe.
		var cancelled struct{ Refund *parking.Payment }
		ada.must(200, "POST", "/api/v1/reservations/"+r.ID+"/cancel", nil, "Idempotency-Key", "stripe-cancel").into(t, &cancelled)
		if cancelled.Refund == nil || cancelled.Refund.GatewayID == "" {
			t.Errorf("refund through Stripe = %+v; want one with a gateway id", cancelled.Refund)
		}
	})
}
