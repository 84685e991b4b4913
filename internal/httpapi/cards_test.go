package httpapi_test

import (
	"testing"

	"parkd/internal/parking"
	"parkd/internal/store/teststore"
)

// TestRefusedPaymentMethods: a payment method that is no token of the gateway
// (a card number above all) is refused with 422 and a clear code before
// anything holds it: no payment row, no saved method, no stored idempotent
// answer or problem that repeats it; and a card number in any other field is
// refused the same way. The database is searched for one at the end.
func TestRefusedPaymentMethods(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		var dsn string
		open := b
		open.Open = func(t testing.TB) parking.Store { dsn = b.DSN(t); return b.OpenDSN(t, dsn) }
		e := newAPI(t, open)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		r := heldReservation(t, e, ada, 5)
		digits := []string{"4242424242424242", "4242 4242 4242 4242", "5555-5555-5555-4444", "378282246310005"}
		refused := func(resp response, code string) {
			t.Helper()
			if resp.status != 422 || resp.problem().Code != code || resp.header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("answer = %d %s; want 422 problem+json %s", resp.status, resp.body, code)
			}
			if parking.FindCardNumber(string(resp.body)) != "" {
				t.Errorf("answer %s repeats the card number", resp.body)
			}
		}
		methods := map[string]string{"pm_made_up": "invalid_payment_method", "tok_visa": "invalid_payment_method",
			"card_1234": "invalid_payment_method", "pm_4242424242424242": "card_number_refused", "x4242424242424242": "invalid_payment_method"}
		for _, d := range digits {
			methods[d] = "card_number_refused"
		}
		for method, code := range methods {
			key := parking.NewID("k")
			body := map[string]string{"payment_method": method}
			refused(ada.do("POST", "/api/v1/reservations/"+r.ID+"/payments", body, "Idempotency-Key", key), code)
			refused(ada.do("POST", "/api/v1/reservations/"+r.ID+"/payments", body, "Idempotency-Key", key), code) // the stored answer
			refused(ada.do("PUT", "/api/v1/users/me/payment-method", map[string]any{"payment_method": method, "consent": true}), code)
		}
		var pays struct{ Payments []parking.Payment }
		ada.must(200, "GET", "/api/v1/users/me/payments", nil).into(t, &pays)
		if len(pays.Payments) != 0 {
			t.Errorf("payments after refused methods = %+v; want none", pays.Payments)
		}
		ada.must(404, "GET", "/api/v1/users/me/payment-method", nil)
		if ps, err := e.store.ReservationPayments(t.Context(), r.ID); err != nil || len(ps) != 0 {
			t.Errorf("ReservationPayments = %+v, %v; want none", ps, err)
		}

		// A card number in any other field is refused too, and nothing echoes it.
		anon := &client{t: t, base: e.srv.URL}
		for _, d := range digits {
			refused(anon.do("POST", "/api/v1/users", map[string]string{"name": "Card " + d, "email": "c@example.com", "password": "correct horse battery"}), "card_number_refused")
			refused(ada.do("POST", "/api/v1/users/me/vehicles", map[string]string{"plate": d, "size": "SUV"}), "card_number_refused")
			body := holdBody(e, e.fixture.Spots[6].ID, 1, 2)
			body["plate"] = d
			refused(ada.do("POST", "/api/v1/reservations", body, "Idempotency-Key", parking.NewID("k")), "card_number_refused")
		}
		// A password is only ever hashed: it may look like anything.
		anon.must(201, "POST", "/api/v1/users", map[string]string{"name": "Bo", "email": "bo@example.com", "password": "4242 4242 4242 4242"})
		anon.must(201, "POST", "/api/v1/sessions", map[string]string{"email": "bo@example.com", "password": "4242 4242 4242 4242"})

		// The right token still pays.
		if resp := pay(ada, r.ID, "pm_card_visa"); resp.status != 201 {
			t.Errorf("pay with pm_card_visa = %d %s; want 201", resp.status, resp.body)
		}
		found, err := teststore.CardNumbers(t.Context(), b, dsn)
		if err != nil || len(found) != 0 {
			t.Errorf("the database after refused card numbers holds %q (%v); want none", found, err)
		}
	})
}
