package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"parkd/internal/auth"
	"parkd/internal/parking"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// TestAuthorizationMatrix: a second user tries every object endpoint with the
// first user's ids; every attempt is not found, and nothing of the first
// user's changes.
func TestAuthorizationMatrix(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		bob := signUp(t, e.srv.URL, "Bob", "bob@example.com")
		adaID := mustUserID(t, ada)
		var v parking.Vehicle
		ada.must(201, "POST", "/api/v1/users/me/vehicles", map[string]string{"plate": "ADA1", "size": "compact"}).into(t, &v)
		var res parking.Reservation
		ada.must(201, "POST", "/api/v1/reservations", map[string]any{"lot_id": e.fixture.Lot.ID, "vehicle_id": v.ID,
			"starts_at": storetest.T0.Add(time.Hour), "ends_at": storetest.T0.Add(2 * time.Hour)}, "Idempotency-Key", "ada-1").into(t, &res)

		attempts := []struct{ method, path string }{
			{"GET", "/api/v1/users/" + adaID},
			{"GET", "/api/v1/users/" + adaID + "/vehicles"},
			{"POST", "/api/v1/users/" + adaID + "/vehicles"},
			{"DELETE", "/api/v1/users/" + adaID + "/vehicles/" + v.ID},
			{"DELETE", "/api/v1/users/me/vehicles/" + v.ID},
			{"GET", "/api/v1/users/" + adaID + "/reservations"},
			{"GET", "/api/v1/users/" + adaID + "/payments"},
			{"GET", "/api/v1/reservations/" + res.ID},
			{"POST", "/api/v1/reservations/" + res.ID + "/cancel"},
			{"POST", "/api/v1/reservations"}, // with Ada's vehicle
		}
		bodies := map[string]any{
			"/api/v1/users/" + adaID + "/vehicles": map[string]string{"plate": "BOB1", "size": "compact"},
			"/api/v1/reservations": map[string]any{"lot_id": e.fixture.Lot.ID, "vehicle_id": v.ID,
				"starts_at": storetest.T0.Add(3 * time.Hour), "ends_at": storetest.T0.Add(4 * time.Hour)},
		}
		anon := &client{t: t, base: e.srv.URL}
		for i, a := range attempts {
			var body any
			if a.method == "POST" {
				body = bodies[a.path]
			}
			key := "bob-" + string(rune('a'+i))
			if r := bob.do(a.method, a.path, body, "Idempotency-Key", key); r.status != http.StatusNotFound || r.problem().Code != "not_found" {
				t.Errorf("Bob: %s %s = %d %s; want 404 not_found", a.method, a.path, r.status, r.body)
			}
			if r := anon.do(a.method, a.path, body, "Idempotency-Key", key); r.status != http.StatusUnauthorized {
				t.Errorf("anonymous: %s %s = %d; want 401", a.method, a.path, r.status)
			}
		}
		// Nothing of Ada's changed, and Bob got nothing.
		var vs struct{ Vehicles []parking.Vehicle }
		ada.must(200, "GET", "/api/v1/users/me/vehicles", nil).into(t, &vs)
		if len(vs.Vehicles) != 1 || vs.Vehicles[0].ID != v.ID {
			t.Errorf("Ada's vehicles = %+v; want just %s", vs.Vehicles, v.ID)
		}
		var got parking.Reservation
		ada.must(200, "GET", "/api/v1/reservations/"+res.ID, nil).into(t, &got)
		if got.Status != parking.StatusHeld {
			t.Errorf("Ada's reservation is %q; want still held", got.Status)
		}
		var rs struct{ Reservations []parking.Reservation }
		bob.must(200, "GET", "/api/v1/users/me/reservations", nil).into(t, &rs)
		bob.must(200, "GET", "/api/v1/users/me/vehicles", nil).into(t, &vs)
		if len(rs.Reservations) != 0 || len(vs.Vehicles) != 0 {
			t.Errorf("Bob has %d reservations and %d vehicles; want none", len(rs.Reservations), len(vs.Vehicles))
		}

		// Operators see reservations in their own lots only; admins see all.
		authn := auth.New(e.store, e.clock)
		other := parking.Operator{ID: parking.NewID("opr"), Name: "Elsewhere", CreatedAt: storetest.T0}
		if err := e.store.CreateOperator(t.Context(), &other); err != nil {
			t.Fatal(err)
		}
		staff := func(email string, role parking.Role, operatorID string) *client {
			if _, err := authn.CreateUser(t.Context(), "Staff", email, "correct horse battery", role, operatorID); err != nil {
				t.Fatal(err)
			}
			c := &client{t: t, base: e.srv.URL}
			var s struct{ Token string }
			c.must(201, "POST", "/api/v1/sessions", map[string]string{"email": email, "password": "correct horse battery"}).into(t, &s)
			c.token = s.Token
			return c
		}
		staff("own@example.com", parking.RoleOperator, e.fixture.Operator.ID).must(200, "GET", "/api/v1/reservations/"+res.ID, nil)
		staff("other@example.com", parking.RoleOperator, other.ID).must(404, "GET", "/api/v1/reservations/"+res.ID, nil)
		admin := staff("root@example.com", parking.RoleAdmin, "")
		admin.must(200, "GET", "/api/v1/reservations/"+res.ID, nil)
		admin.must(200, "GET", "/api/v1/users/"+adaID+"/vehicles", nil)
	})
}

// TestBadInputs: every documented bad input answers a 4xx problem and leaves
// the database as it was.
func TestBadInputs(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		var v parking.Vehicle
		ada.must(201, "POST", "/api/v1/users/me/vehicles", map[string]string{"plate": "ADA1", "size": "large"}).into(t, &v)
		lot, moto := e.fixture.Lot.ID, e.fixture.SpotsOf(parking.Motorcycle)[0].ID
		at := func(h float64) string {
			return storetest.T0.Add(time.Duration(h * float64(time.Hour))).Format(time.RFC3339)
		}
		hold := func(fields string) string {
			return `{"lot_id":"` + lot + `","vehicle_id":"` + v.ID + `"` + fields + `}`
		}
		window := `,"starts_at":"` + at(1) + `","ends_at":"` + at(2) + `"`
		huge := `{"name":"` + strings.Repeat("x", 1<<20) + `"}`
		cases := []struct {
			name, method, path, body string
			status                   int
			code                     string
		}{
			{"sign-up: unknown field", "POST", "/api/v1/users", `{"name":"X","email":"x@example.com","password":"correct horse battery","admin":true}`, 400, "invalid"},
			{"sign-up: not JSON", "POST", "/api/v1/users", `name=x`, 400, "invalid"},
			{"sign-up: empty body", "POST", "/api/v1/users", ``, 400, "invalid"},
			{"sign-up: two objects", "POST", "/api/v1/users", `{"name":"X","email":"x@example.com","password":"correct horse battery"}{}`, 400, "invalid"},
			{"sign-up: wrong type", "POST", "/api/v1/users", `{"name":5,"email":"x@example.com","password":"correct horse battery"}`, 400, "invalid"},
			{"sign-up: over 1 MiB", "POST", "/api/v1/users", huge, 413, "too_large"},
			{"sign-up: invalid fields", "POST", "/api/v1/users", `{"name":"","email":"x@","password":"123"}`, 422, "validation_failed"},
			{"sign-in: unknown field", "POST", "/api/v1/sessions", `{"email":"ada@example.com","password":"x","remember":true}`, 400, "invalid"},
			{"vehicle: bad size", "POST", "/api/v1/users/me/vehicles", `{"plate":"AB1","size":"bus"}`, 400, "invalid"},
			{"vehicle: no plate", "POST", "/api/v1/users/me/vehicles", `{"size":"compact"}`, 422, "validation_failed"},
			{"vehicle: bad plate", "POST", "/api/v1/users/me/vehicles", `{"plate":"AB#1!","size":"compact"}`, 422, "validation_failed"},
			{"hold: ends before it starts", "POST", "/api/v1/reservations", hold(`,"starts_at":"` + at(2) + `","ends_at":"` + at(1) + `"`), 422, "invalid_window"},
			{"hold: in the past", "POST", "/api/v1/reservations", hold(`,"starts_at":"` + at(-3) + `","ends_at":"` + at(-2) + `"`), 422, "window_in_past"},
			{"hold: already ended", "POST", "/api/v1/reservations", hold(`,"starts_at":"` + at(-4.0/60) + `","ends_at":"` + at(-2.0/60) + `"`), 422, "window_in_past"},
			{"hold: in the year 9999", "POST", "/api/v1/reservations", hold(`,"starts_at":"9999-01-01T00:00:00Z","ends_at":"9999-01-01T02:00:00Z"`), 422, "window_too_far"},
			{"hold: too long", "POST", "/api/v1/reservations", hold(`,"starts_at":"` + at(1) + `","ends_at":"` + at(30) + `"`), 422, "stay_too_long"},
			{"hold: vehicle too large", "POST", "/api/v1/reservations", hold(`,"spot_id":"` + moto + `"` + window), 422, "vehicle_does_not_fit"},
			{"hold: unknown lot", "POST", "/api/v1/reservations", `{"lot_id":"lot_nope","vehicle_id":"` + v.ID + `"` + window + `}`, 404, "not_found"},
			{"hold: unknown spot", "POST", "/api/v1/reservations", hold(`,"spot_id":"spt_nope"` + window), 404, "not_found"},
			{"hold: unknown vehicle", "POST", "/api/v1/reservations", `{"lot_id":"` + lot + `","vehicle_id":"veh_nope"` + window + `}`, 404, "not_found"},
			{"hold: missing fields", "POST", "/api/v1/reservations", `{}`, 422, "validation_failed"},
			{"hold: plate without size", "POST", "/api/v1/reservations", `{"lot_id":"` + lot + `","plate":"AB1"` + window + `}`, 422, "validation_failed"},
			{"hold: bad time", "POST", "/api/v1/reservations", hold(`,"starts_at":"tomorrow","ends_at":"` + at(2) + `"`), 400, "invalid"},
			{"hold: unknown field", "POST", "/api/v1/reservations", hold(window + `,"price":0`), 400, "invalid"},
			{"hold: bad size", "POST", "/api/v1/reservations", `{"lot_id":"` + lot + `","plate":"AB1","size":"huge"` + window + `}`, 400, "invalid"},
			{"cancel: unknown reservation", "POST", "/api/v1/reservations/res_nope/cancel", ``, 404, "not_found"},
			{"unknown route", "GET", "/api/v1/nope", ``, 404, "not_found"},
			{"wrong method", "DELETE", "/api/v1/lots", ``, 405, "method_not_allowed"},
			{"spots: bad size", "GET", "/api/v1/lots/" + lot + "/spots?size=bus", ``, 400, "invalid"},
			{"spot: other lot's", "GET", "/api/v1/lots/lot_nope/spots/" + moto, ``, 404, "not_found"},
			{"availability: bad window", "GET", "/api/v1/lots/" + lot + "/availability?from=" + at(2) + "&to=" + at(1), ``, 400, "invalid"},
		}
		before := snapshot(t, e, ada)
		for i, c := range cases {
			r := ada.do(c.method, c.path, c.body, "Idempotency-Key", "bad-"+string(rune('A'+i)))
			p := r.problem()
			if r.status != c.status || p.Code != c.code || r.header.Get("Content-Type") != "application/problem+json" || p.Detail == "" {
				t.Errorf("%s: %s %s = %d %s %s; want %d problem+json %s", c.name, c.method, c.path, r.status, r.header.Get("Content-Type"), r.body[:min(len(r.body), 300)], c.status, c.code)
			}
		}
		if r := ada.do("POST", "/api/v1/reservations", hold(window), "Idempotency-Key", strings.Repeat("k", 300)); r.status != 400 {
			t.Errorf("an Idempotency-Key of 300 characters = %d; want 400", r.status)
		}
		if after := snapshot(t, e, ada); after != before {
			t.Errorf("database changed by bad inputs: before %+v, after %+v", before, after)
		}
		if _, err := e.store.UserByEmail(t.Context(), "x@example.com"); err == nil {
			t.Errorf("a refused sign-up created its user")
		}
	})
}

type dbState struct {
	events, vehicles, reservations int
}

// snapshot counts what the bad inputs could have changed.
func snapshot(t *testing.T, e apiEnv, c *client) dbState {
	t.Helper()
	events, err := e.store.Events(t.Context(), e.fixture.Lot.ID, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var vs struct{ Vehicles []parking.Vehicle }
	c.must(200, "GET", "/api/v1/users/me/vehicles", nil).into(t, &vs)
	var rs struct{ Reservations []parking.Reservation }
	c.must(200, "GET", "/api/v1/users/me/reservations", nil).into(t, &rs)
	return dbState{events: len(events), vehicles: len(vs.Vehicles), reservations: len(rs.Reservations)}
}
