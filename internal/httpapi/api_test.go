package httpapi_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"parkd/internal/httpapi"
	"parkd/internal/parking"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// holdBody is a reservation request for the fixture lot, an hour from T0.
func holdBody(e apiEnv, spotID string, startH, endH int) map[string]any {
	return map[string]any{
		"lot_id": e.fixture.Lot.ID, "spot_id": spotID, "plate": "ab-123", "size": "SEDAN",
		"starts_at": storetest.T0.Add(time.Duration(startH) * time.Hour), "ends_at": storetest.T0.Add(time.Duration(endH) * time.Hour),
	}
}

func TestAccounts(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		anon := &client{t: t, base: e.srv.URL}
		r := anon.must(201, "POST", "/api/v1/users", map[string]string{"name": "Ada", "email": " Ada@Example.COM ", "password": "correct horse battery"})
		var u parking.User
		r.into(t, &u)
		if u.Email != "ada@example.com" || u.Role != parking.RoleDriver || strings.Contains(string(r.body), "argon2") {
			t.Errorf("sign-up = %s; want a driver with a normalised email and no hash", r.body)
		}
		if p := anon.must(409, "POST", "/api/v1/users", map[string]string{"name": "Ada", "email": "ada@example.com", "password": "correct horse battery"}).problem(); p.Code != "email_taken" {
			t.Errorf("second sign-up code = %q; want email_taken", p.Code)
		}
		p := anon.must(422, "POST", "/api/v1/users", map[string]string{"name": "", "email": "nope", "password": "short"}).problem()
		if p.Code != "validation_failed" || len(p.Fields) != 3 {
			t.Errorf("invalid sign-up = %+v; want validation_failed naming 3 fields", p)
		}

		// Wrong password and unknown email read the same.
		wrong := anon.must(401, "POST", "/api/v1/sessions", map[string]string{"email": "ada@example.com", "password": "wrong password!"}).problem()
		unknown := anon.must(401, "POST", "/api/v1/sessions", map[string]string{"email": "bob@example.com", "password": "wrong password!"}).problem()
		if wrong.Detail != unknown.Detail || wrong.Code != unknown.Code {
			t.Errorf("wrong password %q vs unknown email %q: want the same answer", wrong.Detail, unknown.Detail)
		}

		var s struct {
			Token     string
			ExpiresAt time.Time `json:"expires_at"`
			User      parking.User
		}
		r = anon.must(201, "POST", "/api/v1/sessions", map[string]string{"email": "ADA@example.com", "password": "correct horse battery"})
		r.into(t, &s)
		cookie := r.header.Get("Set-Cookie")
		if s.Token == "" || s.User.ID != u.ID || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Lax") {
			t.Errorf("sign-in = %s, cookie %q; want a token and an HttpOnly SameSite=Lax cookie", r.body, cookie)
		}
		me := &client{t: t, base: e.srv.URL, token: s.Token}
		me.must(200, "GET", "/api/v1/users/me", nil)
		me.must(200, "GET", "/api/v1/users/"+u.ID, nil)
		// The cookie works as well as the header.
		c := &client{t: t, base: e.srv.URL}
		c.must(200, "GET", "/api/v1/users/me", nil, "Cookie", "parkd_session="+s.Token)
		me.must(204, "DELETE", "/api/v1/sessions/current", nil)
		me.must(401, "GET", "/api/v1/users/me", nil)
		anon.must(401, "GET", "/api/v1/users/me", nil)
		(&client{t: t, base: e.srv.URL, token: "pks_forged"}).must(401, "GET", "/api/v1/users/me", nil)

		// Sessions expire.
		r = anon.must(201, "POST", "/api/v1/sessions", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
		r.into(t, &s)
		e.clock.Set(s.ExpiresAt)
		(&client{t: t, base: e.srv.URL, token: s.Token}).must(401, "GET", "/api/v1/users/me", nil)
	})
}

func TestSignInThrottle(t *testing.T) {
	e := newAPI(t, teststore.Backend{Name: "sqlite", Open: teststore.OpenSQLite})
	anon := &client{t: t, base: e.srv.URL}
	anon.must(201, "POST", "/api/v1/users", map[string]string{"name": "Ada", "email": "ada@example.com", "password": "correct horse battery"})
	for range 5 {
		anon.must(401, "POST", "/api/v1/sessions", map[string]string{"email": "ada@example.com", "password": "guess guess guess"})
	}
	r := anon.must(429, "POST", "/api/v1/sessions", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
	if r.header.Get("Retry-After") == "" || r.problem().Code != "too_many_requests" {
		t.Errorf("throttled sign-in = %s, Retry-After %q; want 429 too_many_requests with Retry-After", r.body, r.header.Get("Retry-After"))
	}
	e.clock.Advance(16 * time.Minute)
	anon.must(201, "POST", "/api/v1/sessions", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
}

func TestVehiclesAndReservations(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		var v parking.Vehicle
		ada.must(201, "POST", "/api/v1/users/me/vehicles", map[string]string{"plate": "ab 12-cd", "size": "SUV"}).into(t, &v)
		if v.Plate != "AB12CD" || v.Size != parking.Large {
			t.Errorf("vehicle = %+v; want plate AB12CD, large", v)
		}
		var res parking.Reservation
		key := "k-" + parking.NewID("x")
		ada.must(201, "POST", "/api/v1/reservations", map[string]any{"lot_id": e.fixture.Lot.ID, "vehicle_id": v.ID,
			"starts_at": storetest.T0.Add(time.Hour), "ends_at": storetest.T0.Add(3 * time.Hour)}, "Idempotency-Key", key).into(t, &res)
		if res.Status != parking.StatusHeld || res.VehicleID != v.ID || res.Amount != 800 || res.SpotID != e.fixture.SpotsOf(parking.Large)[0].ID {
			t.Errorf("hold = %+v; want held on the first large spot for 800", res)
		}
		var got parking.Reservation
		ada.must(200, "GET", "/api/v1/reservations/"+res.ID, nil).into(t, &got)
		var list struct{ Reservations []parking.Reservation }
		ada.must(200, "GET", "/api/v1/users/me/reservations", nil).into(t, &list)
		if len(list.Reservations) != 1 || list.Reservations[0].ID != res.ID {
			t.Errorf("my reservations = %+v; want the hold", list.Reservations)
		}
		ada.must(200, "POST", "/api/v1/reservations/"+res.ID+"/cancel", nil, "Idempotency-Key", "cancel-"+res.ID).into(t, &got)
		if got.Status != parking.StatusCancelled {
			t.Errorf("cancelled = %q", got.Status)
		}
		ada.must(409, "POST", "/api/v1/reservations/"+res.ID+"/cancel", nil, "Idempotency-Key", "cancel-again")
		var pays struct{ Payments []parking.Payment }
		ada.must(200, "GET", "/api/v1/users/me/payments", nil).into(t, &pays)
		ada.must(204, "DELETE", "/api/v1/users/me/vehicles/"+v.ID, nil)
		var vs struct{ Vehicles []parking.Vehicle }
		ada.must(200, "GET", "/api/v1/users/me/vehicles", nil).into(t, &vs)
		if len(vs.Vehicles) != 0 {
			t.Errorf("vehicles after delete = %+v", vs.Vehicles)
		}
		// The cancelled reservation still names its (removed) vehicle.
		ada.must(200, "GET", "/api/v1/reservations/"+res.ID, nil)

		// Conflicts and refusals.
		spot := e.fixture.SpotsOf(parking.Standard)[0].ID
		ada.must(201, "POST", "/api/v1/reservations", holdBody(e, spot, 1, 2), "Idempotency-Key", "a")
		if p := ada.must(409, "POST", "/api/v1/reservations", holdBody(e, spot, 1, 3), "Idempotency-Key", "b").problem(); p.Code != "spot_unavailable" {
			t.Errorf("overlapping hold code = %q; want spot_unavailable", p.Code)
		}
		ada.must(201, "POST", "/api/v1/reservations", holdBody(e, spot, 2, 3), "Idempotency-Key", "c") // back to back
	})
}

// TestIdempotency checks each replay rule of an Idempotency-Key.
func TestIdempotency(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		bob := signUp(t, e.srv.URL, "Bob", "bob@example.com")
		spot := e.fixture.Spots[5].ID

		if p := ada.must(400, "POST", "/api/v1/reservations", holdBody(e, spot, 1, 2)).problem(); p.Code != "idempotency_key_required" {
			t.Errorf("hold without a key = %q; want idempotency_key_required", p.Code)
		}
		first := ada.must(201, "POST", "/api/v1/reservations", holdBody(e, spot, 1, 2), "Idempotency-Key", "key-1")
		again := ada.must(201, "POST", "/api/v1/reservations", holdBody(e, spot, 1, 2), "Idempotency-Key", "key-1")
		if !bytes.Equal(first.body, again.body) || again.header.Get("Idempotent-Replayed") != "true" || first.header.Get("Idempotent-Replayed") != "" {
			t.Errorf("replay = %s (replayed %q); want %s byte for byte, marked replayed", again.body, again.header.Get("Idempotent-Replayed"), first.body)
		}
		if p := ada.must(422, "POST", "/api/v1/reservations", holdBody(e, spot, 3, 4), "Idempotency-Key", "key-1").problem(); p.Code != "idempotency_key_reused" {
			t.Errorf("same key, other body = %q; want idempotency_key_reused", p.Code)
		}
		// Bob's key-1 is his own: it books for him, it does not replay Ada's.
		bobs := bob.must(201, "POST", "/api/v1/reservations", holdBody(e, e.fixture.Spots[6].ID, 1, 2), "Idempotency-Key", "key-1")
		if bytes.Equal(bobs.body, first.body) {
			t.Errorf("another user's key replayed Ada's response")
		}
		// An error answer is replayed too, and books nothing on retry.
		conflict := bob.must(409, "POST", "/api/v1/reservations", holdBody(e, spot, 1, 2), "Idempotency-Key", "key-2")
		if r := bob.must(409, "POST", "/api/v1/reservations", holdBody(e, spot, 1, 2), "Idempotency-Key", "key-2"); !bytes.Equal(r.body, conflict.body) {
			t.Errorf("replayed 409 = %s; want %s", r.body, conflict.body)
		}
		// Keys are kept at least 24 hours.
		e.clock.Advance(23 * time.Hour)
		if r := ada.must(201, "POST", "/api/v1/reservations", holdBody(e, spot, 1, 2), "Idempotency-Key", "key-1"); !bytes.Equal(r.body, first.body) {
			t.Errorf("replay after 23h = %s; want the first response", r.body)
		}
	})
}

func mustUserID(t *testing.T, c *client) string {
	t.Helper()
	var u parking.User
	c.must(200, "GET", "/api/v1/users/me", nil).into(t, &u)
	return u.ID
}

// TestIdempotencyInFlight: a retry while the first request still runs is 409.
func TestIdempotencyInFlight(t *testing.T) {
	e := newAPI(t, teststore.Backend{Name: "sqlite", Open: teststore.OpenSQLite})
	ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
	// The first request's claim, as the middleware makes it, with no answer yet.
	body := `{"name":"x"}`
	hash := httpapi.RequestHash("POST", "/api/v1/reservations", body)
	if _, claimed, err := e.store.ClaimIdempotencyKey(t.Context(), parking.IdempotencyKey{UserID: mustUserID(t, ada), Key: "slow",
		RequestHash: hash, CreatedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(time.Hour)}, e.clock.Now().Add(-time.Minute)); err != nil || !claimed {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	if p := ada.must(409, "POST", "/api/v1/reservations", body, "Idempotency-Key", "slow").problem(); p.Code != "idempotency_key_in_use" {
		t.Errorf("retry while in flight = %q; want idempotency_key_in_use", p.Code)
	}
	// Once abandoned for long enough, the key is claimed afresh.
	e.clock.Advance(3 * time.Minute)
	if r := ada.do("POST", "/api/v1/reservations", body, "Idempotency-Key", "slow"); r.status == 409 {
		t.Errorf("retry of an abandoned key = %d %s; want it to run", r.status, r.body)
	}
}

// TestConcurrentDuplicates: many identical POSTs with one key at once create
// exactly one reservation.
func TestConcurrentDuplicates(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		for round := range 10 {
			key := fmt.Sprintf("dup-%d", round)
			body := holdBody(e, "", 1+2*round, 2+2*round)
			delete(body, "spot_id")
			var wg sync.WaitGroup
			statuses := make([]int, 8)
			for i := range statuses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i] = ada.do("POST", "/api/v1/reservations", body, "Idempotency-Key", key).status
				}()
			}
			wg.Wait()
			for _, s := range statuses {
				if s != 201 && s != 409 {
					t.Fatalf("round %d: statuses %v; want only 201 (first or replay) and 409 (in flight)", round, statuses)
				}
			}
		}
		var list struct{ Reservations []parking.Reservation }
		ada.must(200, "GET", "/api/v1/users/me/reservations", nil).into(t, &list)
		if len(list.Reservations) != 10 {
			t.Errorf("reservations after 10 rounds of 8 duplicates = %d; want 10", len(list.Reservations))
		}
	})
}

// TestSignInThrottleIgnoresSpoofedForwardedFor: without a trusted proxy, a
// client that writes a new X-Forwarded-For on every guess still spends its
// own address's tries.
func TestSignInThrottleIgnoresSpoofedForwardedFor(t *testing.T) {
	e := newAPI(t, teststore.Backend{Name: "sqlite", Open: teststore.OpenSQLite})
	anon := &client{t: t, base: e.srv.URL}
	for i := range 20 {
		anon.must(401, "POST", "/api/v1/sessions", map[string]string{"email": fmt.Sprintf("nobody%d@example.com", i), "password": "guess guess guess"},
			"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
	}
	anon.must(429, "POST", "/api/v1/sessions", map[string]string{"email": "nobody-else@example.com", "password": "guess guess guess"},
		"X-Forwarded-For", "198.51.100.200")
}
