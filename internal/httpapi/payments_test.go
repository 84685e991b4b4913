package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"parkd/internal/auth"
	"parkd/internal/parking"
	"parkd/internal/payments"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

type payResult struct {
	Payment     parking.Payment
	Reservation parking.Reservation
}

// heldReservation holds spot i of the fixture for Ada, an hour from now.
func heldReservation(t *testing.T, e apiEnv, c *client, spot int) parking.Reservation {
	t.Helper()
	var r parking.Reservation
	c.must(201, "POST", "/api/v1/reservations", holdBody(e, e.fixture.Spots[spot].ID, 1, 3), "Idempotency-Key", parking.NewID("k")).into(t, &r)
	return r
}

func pay(c *client, resID, method string) response {
	return c.do("POST", "/api/v1/reservations/"+resID+"/payments", map[string]string{"payment_method": method}, "Idempotency-Key", parking.NewID("k"))
}

// TestPayFlows: hold, pay, confirmed; declined, then the hold expires; async,
// then the webhook confirms.
func TestPayFlows(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")

		r := heldReservation(t, e, ada, 5)
		var out payResult
		resp := pay(ada, r.ID, payments.CardVisa)
		if resp.status != 201 {
			t.Fatalf("pay with visa = %d %s; want 201", resp.status, resp.body)
		}
		resp.into(t, &out)
		if out.Reservation.Status != parking.StatusConfirmed || out.Payment.Status != parking.PaymentSucceeded ||
			out.Payment.Amount != r.Amount || out.Payment.CardLast4 != "4242" {
			t.Errorf("paid = %+v; want confirmed, succeeded for %d by visa 4242", out, r.Amount)
		}
		if p := pay(ada, r.ID, payments.CardVisa).problem(); p.Code != parking.EALREADYPAID {
			t.Errorf("paying twice = %q; want %s", p.Code, parking.EALREADYPAID)
		}
		var hist struct {
			Payments []struct {
				ID, Status string
				ReceiptURL string `json:"receipt_url"`
			}
		}
		ada.must(200, "GET", "/api/v1/users/me/payments", nil).into(t, &hist)
		if len(hist.Payments) != 1 || hist.Payments[0].ReceiptURL == "" {
			t.Fatalf("payment history = %+v", hist)
		}
		receipt := ada.must(200, "GET", hist.Payments[0].ReceiptURL, nil)
		if !strings.Contains(string(receipt.body), "4242") || !strings.HasPrefix(receipt.header.Get("Content-Type"), "text/html") {
			t.Errorf("receipt = %s", receipt.body)
		}

		// Declined: 402, the hold stays, then expires after 5 minutes.
		d := heldReservation(t, e, ada, 6)
		resp = pay(ada, d.ID, payments.CardDeclined)
		if resp.status != 402 || resp.problem().Code != parking.EDECLINED {
			t.Fatalf("declined card = %d %s; want 402 payment_declined", resp.status, resp.body)
		}
		if p := pay(ada, d.ID, payments.CardInsufficientFunds); p.status != 402 || !strings.Contains(p.problem().Detail, "insufficient_funds") {
			t.Errorf("insufficient funds = %d %s", p.status, p.body)
		}
		var still parking.Reservation
		ada.must(200, "GET", "/api/v1/reservations/"+d.ID, nil).into(t, &still)
		if still.Status != parking.StatusHeld {
			t.Errorf("after a decline the hold is %q; want held", still.Status)
		}
		e.clock.Advance(5 * time.Minute)
		if n, err := e.engine.ExpireHolds(t.Context()); err != nil || n != 1 {
			t.Errorf("ExpireHolds after 5 minutes = %d, %v; want 1", n, err)
		}
		if p := pay(ada, d.ID, payments.CardVisa).problem(); p.Code != parking.EHOLDEXPIRED {
			t.Errorf("paying an expired hold = %q; want hold_expired", p.Code)
		}

		// Asynchronous: 202, then the webhook confirms.
		a := heldReservation(t, e, ada, 7)
		resp = pay(ada, a.ID, payments.CardAsyncSuccess)
		if resp.status != 202 {
			t.Fatalf("async card = %d %s; want 202", resp.status, resp.body)
		}
		e.clock.Advance(payments.SandboxDelay)
		if n, err := e.sandbox.Deliver(t.Context()); err != nil || n != 1 {
			t.Fatalf("Deliver = %d, %v; want 1 webhook", n, err)
		}
		ada.must(200, "GET", "/api/v1/reservations/"+a.ID, nil).into(t, &still)
		if still.Status != parking.StatusConfirmed {
			t.Errorf("after the webhook the reservation is %q; want confirmed", still.Status)
		}

		// Asynchronous decline: the payment fails, the hold stays until expiry.
		ad := heldReservation(t, e, ada, 8)
		pay(ada, ad.ID, payments.CardAsyncDecline)
		e.clock.Advance(payments.SandboxDelay)
		e.sandbox.Deliver(t.Context())
		var ps struct{ Payments []parking.Payment }
		ada.must(200, "GET", "/api/v1/users/me/payments", nil).into(t, &ps)
		if ps.Payments[0].Status != parking.PaymentFailed || ps.Payments[0].FailureCode != "card_declined" {
			t.Errorf("async decline = %+v; want failed, card_declined", ps.Payments[0])
		}

		// Cancelling a paid reservation before its start refunds it in full.
		var cancelled struct {
			Status string
			Refund *parking.Payment
		}
		ada.must(200, "POST", "/api/v1/reservations/"+r.ID+"/cancel", nil, "Idempotency-Key", "cancel-paid").into(t, &cancelled)
		if cancelled.Refund == nil || cancelled.Refund.Amount != r.Amount || cancelled.Refund.Status != parking.PaymentSucceeded {
			t.Errorf("cancel of a paid reservation = %+v; want a full refund", cancelled)
		}
	})
}

// webhook posts a Stripe-shaped event to the server, signed at `at`.
func webhook(t *testing.T, e apiEnv, secret, id, typ, gatewayID, paymentID string, at time.Time) response {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"id": id, "type": typ, "created": at.Unix(),
		"data": map[string]any{"object": map[string]any{"id": gatewayID, "object": "payment_intent", "status": "succeeded",
			"metadata": map[string]string{"payment_id": paymentID}}}})
	c := &client{t: t, base: e.srv.URL}
	return c.do("POST", "/api/v1/payments/webhook", string(payload), "Stripe-Signature", payments.SignWebhook(secret, payload, at))
}

// TestWebhookMatrix: forged, stale, duplicate and out-of-order events, and a
// success after the hold expired and the spot was re-booked.
func TestWebhookMatrix(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		bob := signUp(t, e.srv.URL, "Bob", "bob@example.com")
		r := heldReservation(t, e, ada, 5)
		var out payResult
		pay(ada, r.ID, payments.CardAsyncSuccess).into(t, &out)
		p := out.Payment
		now := e.clock.Now()

		if resp := webhook(t, e, "whsec_forged", "evt_1", "payment_intent.succeeded", p.GatewayID, p.ID, now); resp.status != 400 {
			t.Errorf("forged signature = %d; want 400", resp.status)
		}
		if resp := webhook(t, e, sandboxSecret, "evt_1", "payment_intent.succeeded", p.GatewayID, p.ID, now.Add(-301*time.Second)); resp.status != 400 {
			t.Errorf("stale timestamp = %d; want 400", resp.status)
		}
		var got parking.Reservation
		ada.must(200, "GET", "/api/v1/reservations/"+r.ID, nil).into(t, &got)
		if got.Status != parking.StatusHeld {
			t.Fatalf("after refused webhooks the reservation is %q; want held", got.Status)
		}
		webhook(t, e, sandboxSecret, "evt_ok", "payment_intent.succeeded", p.GatewayID, p.ID, now)
		if resp := webhook(t, e, sandboxSecret, "evt_ok", "payment_intent.succeeded", p.GatewayID, p.ID, now); resp.status != 200 {
			t.Errorf("duplicate event = %d; want 200", resp.status)
		}
		// A failure arriving after the success does not move anything back.
		webhook(t, e, sandboxSecret, "evt_late_fail", "payment_intent.payment_failed", p.GatewayID, p.ID, now)
		ada.must(200, "GET", "/api/v1/reservations/"+r.ID, nil).into(t, &got)
		var pays struct{ Payments []parking.Payment }
		ada.must(200, "GET", "/api/v1/users/me/payments", nil).into(t, &pays)
		if got.Status != parking.StatusConfirmed || len(pays.Payments) != 1 || pays.Payments[0].Status != parking.PaymentSucceeded {
			t.Errorf("after success, duplicate and late failure: reservation %q, payments %+v; want confirmed, one succeeded", got.Status, pays.Payments)
		}
		// The sandbox's own delivery of the same success changes nothing either.
		e.clock.Advance(payments.SandboxDelay)
		e.sandbox.Deliver(t.Context())

		// Success after the hold expired and someone else booked the spot: refunded.
		late := heldReservation(t, e, ada, 6)
		pay(ada, late.ID, payments.CardAsyncSuccess).into(t, &out)
		e.clock.Advance(6 * time.Minute)
		bob.must(201, "POST", "/api/v1/reservations", holdBody(e, e.fixture.Spots[6].ID, 1, 3), "Idempotency-Key", "bob-takes-it")
		if resp := webhook(t, e, sandboxSecret, "evt_late_ok", "payment_intent.succeeded", out.Payment.GatewayID, out.Payment.ID, e.clock.Now()); resp.status != 200 {
			t.Fatalf("late success = %d %s; want 200", resp.status, resp.body)
		}
		ada.must(200, "GET", "/api/v1/reservations/"+late.ID, nil).into(t, &got)
		ada.must(200, "GET", "/api/v1/users/me/payments", nil).into(t, &pays)
		var charged, refunded int64
		for _, p := range pays.Payments {
			if p.ReservationID == late.ID && p.Status == parking.PaymentSucceeded {
				if p.Kind == parking.Refund {
					refunded += p.Amount
				} else {
					charged += p.Amount
				}
			}
		}
		if got.Status != parking.StatusExpired || charged != late.Amount || refunded != late.Amount {
			t.Errorf("late success on a re-booked spot: reservation %q, charged %d, refunded %d; want expired, %d both", got.Status, charged, refunded, late.Amount)
		}
		var bobs struct{ Reservations []parking.Reservation }
		bob.must(200, "GET", "/api/v1/users/me/reservations", nil).into(t, &bobs)
		if len(bobs.Reservations) != 1 || bobs.Reservations[0].Status != parking.StatusHeld {
			t.Errorf("Bob's booking = %+v; want untouched", bobs.Reservations)
		}
		// The same late success again: still one refund.
		webhook(t, e, sandboxSecret, "evt_late_ok_2", "payment_intent.succeeded", out.Payment.GatewayID, out.Payment.ID, e.clock.Now())
		ps, _ := e.store.ReservationPayments(t.Context(), late.ID)
		if len(ps) != 2 {
			t.Errorf("payments of the late reservation = %d; want a charge and one refund", len(ps))
		}

		// Success after the hold lapsed but with the spot still free: confirmed.
		free := heldReservation(t, e, ada, 7)
		pay(ada, free.ID, payments.CardAsyncSuccess).into(t, &out)
		e.clock.Advance(6 * time.Minute)
		e.engine.ExpireHolds(t.Context())
		webhook(t, e, sandboxSecret, "evt_free_ok", "payment_intent.succeeded", out.Payment.GatewayID, out.Payment.ID, e.clock.Now())
		ada.must(200, "GET", "/api/v1/reservations/"+free.ID, nil).into(t, &got)
		if got.Status != parking.StatusConfirmed {
			t.Errorf("late success on a free spot = %q; want confirmed", got.Status)
		}
		// A pending charge that succeeds after the driver cancelled is refunded.
		gone := heldReservation(t, e, ada, 8)
		pay(ada, gone.ID, payments.CardAsyncSuccess).into(t, &out)
		ada.must(200, "POST", "/api/v1/reservations/"+gone.ID+"/cancel", nil, "Idempotency-Key", "cancel-pending")
		webhook(t, e, sandboxSecret, "evt_after_cancel", "payment_intent.succeeded", out.Payment.GatewayID, out.Payment.ID, e.clock.Now())
		ps, _ = e.store.ReservationPayments(t.Context(), gone.ID)
		refunds := 0
		for _, p := range ps {
			if p.Kind == parking.Refund && p.Status == parking.PaymentSucceeded && p.Amount == gone.Amount {
				refunds++
			}
		}
		if len(ps) != 2 || refunds != 1 {
			t.Errorf("payments of a reservation cancelled while its charge was pending = %+v; want the charge and its refund", ps)
		}

		// Unknown payments and unknown event types are acknowledged and ignored.
		if resp := webhook(t, e, sandboxSecret, "evt_unknown", "payment_intent.succeeded", "pi_nope", "pay_nope", e.clock.Now()); resp.status != 200 {
			t.Errorf("event for an unknown payment = %d; want 200", resp.status)
		}
		if resp := webhook(t, e, sandboxSecret, "evt_other", "customer.created", "cus_1", "", e.clock.Now()); resp.status != 200 {
			t.Errorf("an event type parkd ignores = %d; want 200", resp.status)
		}
	})
}

// TestConcurrentPayments: 100 payment attempts on one reservation, with mixed
// idempotency keys, charge exactly once.
func TestConcurrentPayments(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		r := heldReservation(t, e, ada, 5)
		var wg sync.WaitGroup
		statuses := make([]int, 100)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := fmt.Sprintf("pay-%d", i%7) // some share keys, most do not
				statuses[i] = ada.do("POST", "/api/v1/reservations/"+r.ID+"/payments", map[string]string{"payment_method": payments.CardVisa},
					"Idempotency-Key", key).status
			}()
		}
		wg.Wait()
		for _, s := range statuses {
			if s != http.StatusCreated && s != http.StatusConflict {
				t.Fatalf("statuses = %v; want only 201 and 409", statuses)
			}
		}
		ps, err := e.store.ReservationPayments(t.Context(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		succeeded := 0
		for _, p := range ps {
			if p.Status == parking.PaymentSucceeded {
				succeeded++
			}
		}
		charges, _ := e.sandbox.Charges(t.Context(), storetest.T0.Add(-time.Hour))
		if succeeded != 1 || len(ps) != 1 || len(charges) != 1 {
			t.Errorf("after 100 attempts: %d payment rows, %d succeeded, %d gateway charges; want exactly 1 of each", len(ps), succeeded, len(charges))
		}
		var got parking.Reservation
		ada.must(200, "GET", "/api/v1/reservations/"+r.ID, nil).into(t, &got)
		if got.Status != parking.StatusConfirmed {
			t.Errorf("reservation = %q; want confirmed", got.Status)
		}
	})
}

// TestReconcile: reconciliation finds a gateway charge parkd does not know, a
// paid reservation with no charge, and nothing for payments that are in order.
func TestReconcile(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		if _, err := auth.New(e.store, e.clock).CreateUser(t.Context(), "Root", "root@example.com", "correct horse battery", parking.RoleAdmin, ""); err != nil {
			t.Fatal(err)
		}
		admin := &client{t: t, base: e.srv.URL}
		var s struct{ Token string }
		admin.must(201, "POST", "/api/v1/sessions", map[string]string{"email": "root@example.com", "password": "correct horse battery"}).into(t, &s)
		admin.token = s.Token

		var rep payments.Report
		paid := heldReservation(t, e, ada, 5)
		pay(ada, paid.ID, payments.CardVisa)
		refunded := heldReservation(t, e, ada, 6)
		pay(ada, refunded.ID, payments.CardVisa)
		ada.must(200, "POST", "/api/v1/reservations/"+refunded.ID+"/cancel", nil, "Idempotency-Key", "c1")
		admin.must(200, "GET", "/api/v1/admin/payments/reconcile", nil).into(t, &rep)
		if !rep.Clean() || rep.GatewayCharges != 2 {
			t.Fatalf("reconcile of clean books = %+v; want clean with 2 charges", rep)
		}

		// A charge nobody recorded, and a reservation confirmed without paying.
		e.sandbox.Charge(t.Context(), payments.ChargeRequest{PaymentID: "pay_ghost", Amount: 999, Currency: "USD", PaymentMethod: payments.CardVisa, IdempotencyKey: "ghost"})
		free := heldReservation(t, e, ada, 7)
		if _, err := e.engine.Confirm(t.Context(), free.ID); err != nil {
			t.Fatal(err)
		}
		admin.must(200, "GET", "/api/v1/admin/payments/reconcile", nil).into(t, &rep)
		if len(rep.UnmatchedCharges) != 1 || rep.UnmatchedCharges[0].PaymentID != "pay_ghost" ||
			len(rep.PaidWithoutCharges) != 1 || rep.PaidWithoutCharges[0].ID != free.ID {
			t.Errorf("reconcile = %+v; want the ghost charge and the unpaid confirmation", rep)
		}
		ada.must(403, "GET", "/api/v1/admin/payments/reconcile", nil)
	})
}

// TestOverstayCharges: an overstay is charged to the card the driver saved with
// consent, once; without one, or when it is declined, the amount is due at the
// exit kiosk.
func TestOverstayCharges(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		r := heldReservation(t, e, ada, 5)
		pay(ada, r.ID, payments.CardVisa)

		if out, err := e.pay.ChargeOverstay(t.Context(), r, 450); err != nil || out.Due != 450 || out.Payment != nil {
			t.Errorf("overstay with no saved card = %+v, %v; want 450 due", out, err)
		}
		if p := ada.must(422, "PUT", "/api/v1/users/me/payment-method", map[string]any{"payment_method": payments.CardVisa}).problem(); len(p.Fields) != 1 || p.Fields[0].Field != "consent" {
			t.Errorf("saving without consent = %+v; want consent required", p)
		}
		ada.must(200, "PUT", "/api/v1/users/me/payment-method", map[string]any{"payment_method": payments.CardMastercard, "consent": true})
		ada.must(200, "GET", "/api/v1/users/me/payment-method", nil)
		out, err := e.pay.ChargeOverstay(t.Context(), r, 450)
		if err != nil || out.Due != 0 || out.Payment == nil || out.Payment.Purpose != parking.PurposeOverstay || out.Payment.CardLast4 != "4444" {
			t.Fatalf("overstay with a saved card = %+v, %v; want charged to the mastercard", out, err)
		}
		before, _ := e.sandbox.Charges(t.Context(), storetest.T0.Add(-time.Hour))
		again, err := e.pay.ChargeOverstay(t.Context(), r, 450)
		after, _ := e.sandbox.Charges(t.Context(), storetest.T0.Add(-time.Hour))
		if err != nil || again.Payment == nil || again.Payment.ID != out.Payment.ID || len(after) != len(before) {
			t.Errorf("overstay charged again = %+v, %v (%d -> %d gateway charges); want the same payment, no new charge", again, err, len(before), len(after))
		}

		other := heldReservation(t, e, ada, 6)
		pay(ada, other.ID, payments.CardVisa)
		ada.must(200, "PUT", "/api/v1/users/me/payment-method", map[string]any{"payment_method": payments.CardDeclined, "consent": true})
		if out, err := e.pay.ChargeOverstay(t.Context(), other, 300); err != nil || out.Due != 300 {
			t.Errorf("overstay on a declined card = %+v, %v; want 300 due", out, err)
		}
		ada.must(204, "DELETE", "/api/v1/users/me/payment-method", nil)
		ada.must(404, "GET", "/api/v1/users/me/payment-method", nil)
	})
}

// TestForcedOutOfServiceRefunds: when an operator forces a spot out of service,
// the paid reservations no other spot fits are cancelled and refunded in full.
func TestForcedOutOfServiceRefunds(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		r := heldReservation(t, e, ada, 5)
		pay(ada, r.ID, payments.CardVisa)
		for _, sp := range e.fixture.Spots { // every other spot that fits is taken
			if sp.ID != r.SpotID && r.VehicleSize.Fits(sp.Size) {
				e.fixture.MustConfirmed(t, e.store, sp.ID, r.StartsAt, r.EndsAt)
			}
		}
		op := mustSignIn(t, e, parking.RoleOperator, e.fixture.Operator.ID)
		op.call("POST", "/api/v1/lots/"+e.fixture.Lot.ID+"/spots/"+r.SpotID+"/out-of-service", map[string]any{"force": true},
			"Idempotency-Key", "force-1")
		ps, _ := e.store.ReservationPayments(t.Context(), r.ID)
		var refunded int64
		for _, p := range ps {
			if p.Kind == parking.Refund && p.Status == parking.PaymentSucceeded {
				refunded += p.Amount
			}
		}
		if refunded != r.Amount {
			t.Errorf("refunded %d after a forced out-of-service; want the full %d", refunded, r.Amount)
		}
	})
}
