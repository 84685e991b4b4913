package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"parkd/internal/auth"
	"parkd/internal/httpapi"
	"parkd/internal/parking"
	"parkd/internal/payments"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// publicRoutes answer callers who are not signed in; everything else must not.
var publicRoutes = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /api/openapi.json": true,
	"POST /api/v1/users": true, "POST /api/v1/sessions": true,
	"GET /api/v1/lots": true, "GET /api/v1/lots/{lot}": true, "GET /api/v1/lots/{lot}/spots": true,
	"GET /api/v1/lots/{lot}/spots/{spot}": true, "GET /api/v1/lots/{lot}/availability": true, "GET /api/v1/lots/{lot}/live": true,
	"POST /api/v1/payments/webhook":         true,                                                 // signed by the gateway, not by a session
	"GET /api/v1/notifications/unsubscribe": true, "POST /api/v1/notifications/unsubscribe": true, // signed links
}

// TestAuthorizationSweep sends every route parkd serves, over real HTTP, with
// one driver's and one operator's ids, as no one, as another driver, as
// another company's operator and as another lot's gate: every answer is 401,
// 403 or 404 (never a 2xx, never a 5xx), and the database is as it was.
func TestAuthorizationSweep(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		ctx := context.Background()
		dsn := b.DSN(t)
		e := newAPIOn(t, b.OpenDSN(t, dsn))
		base, lot := e.srv.URL, e.fixture.Lot.ID
		ada := signUp(t, base, "Ada", "ada@example.com")
		bob := signUp(t, base, "Bob", "bob@example.com")
		adaID := mustUserID(t, ada)
		authn := auth.New(e.store, e.clock)
		staff := func(email string, operatorID string) *client {
			if _, err := authn.CreateUser(ctx, "Staff", email, "correct horse battery", parking.RoleOperator, operatorID); err != nil {
				t.Fatal(err)
			}
			c := &client{t: t, base: base}
			var s struct{ Token string }
			c.must(201, "POST", "/api/v1/sessions", map[string]string{"email": email, "password": "correct horse battery"}).into(t, &s)
			c.token = s.Token
			return c
		}
		olga := staff("olga@example.com", e.fixture.Operator.ID)
		other := parking.Operator{ID: parking.NewID("opr"), Name: "Elsewhere", CreatedAt: storetest.T0}
		if err := e.store.CreateOperator(ctx, &other); err != nil {
			t.Fatal(err)
		}
		otto := staff("otto@example.com", other.ID)
		otherLot := parking.Lot{ID: parking.NewID("lot"), OperatorID: other.ID, Name: "Elsewhere Garage", TimeZone: "UTC", Currency: "USD",
			Policy: parking.DefaultPolicy(), CreatedAt: storetest.T0}
		if err := e.store.CreateLot(ctx, &otherLot); err != nil {
			t.Fatal(err)
		}
		gateKey, gateHash := auth.NewGateKey()
		otherGate := parking.Gate{ID: parking.NewID("gat"), LotID: otherLot.ID, Name: "Their entry", Direction: parking.Entry, KeyHash: gateHash, CreatedAt: storetest.T0}
		if err := e.store.CreateGate(ctx, &otherGate); err != nil {
			t.Fatal(err)
		}
		var g struct {
			Gate parking.Gate `json:"gate"`
		}
		olga.must(201, "POST", "/api/v1/lots/"+lot+"/gates", map[string]string{"name": "Entry", "direction": "entry"}).into(t, &g)
		olga.must(200, "PUT", "/api/v1/operators/"+e.fixture.Operator.ID+"/webhook", map[string]string{"url": "https://hooks.example.com/parkd", "secret": "a secret of sixteen+"})
		var v parking.Vehicle
		ada.must(201, "POST", "/api/v1/users/me/vehicles", map[string]string{"plate": "ADA1", "size": "standard"}).into(t, &v)
		ada.must(200, "PUT", "/api/v1/users/me/payment-method", map[string]any{"payment_method": payments.CardVisa, "consent": true})
		var held, paid parking.Reservation
		ada.must(201, "POST", "/api/v1/reservations", holdBody(e, e.fixture.Spots[5].ID, 1, 2), "Idempotency-Key", "ada-1").into(t, &held)
		ada.must(201, "POST", "/api/v1/reservations", holdBody(e, e.fixture.Spots[6].ID, 3, 4), "Idempotency-Key", "ada-2").into(t, &paid)
		if r := pay(ada, paid.ID, payments.CardVisa); r.status != 201 {
			t.Fatalf("pay = %d %s", r.status, r.body)
		}
		var pays struct{ Payments []parking.Payment }
		ada.must(200, "GET", "/api/v1/users/me/payments", nil).into(t, &pays)

		ids := map[string]string{
			"id": adaID, "vehicle": v.ID, "reservation": paid.ID, "payment": pays.Payments[0].ID,
			"lot": lot, "level": e.fixture.Level.ID, "spot": e.fixture.Spots[0].ID, "gate": g.Gate.ID, "operator": e.fixture.Operator.ID,
		}
		at := func(h int) string { return storetest.T0.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
		// Bodies that would succeed for their owner, so that only the
		// authorization check stands between the caller and a change.
		bodies := map[string]string{
			"POST /api/v1/users/{id}/vehicles":                    `{"plate":"EVIL1","size":"compact"}`,
			"PUT /api/v1/users/{id}/payment-method":               `{"payment_method":"pm_card_mastercard","consent":true}`,
			"POST /api/v1/reservations":                           `{"lot_id":"` + lot + `","vehicle_id":"` + v.ID + `","starts_at":"` + at(5) + `","ends_at":"` + at(6) + `"}`,
			"POST /api/v1/reservations/{reservation}/payments":    `{"payment_method":"pm_card_visa"}`,
			"POST /api/v1/reservations/{reservation}/extension":   `{"ends_at":"` + at(5) + `","payment_method":"pm_card_visa"}`,
			"POST /api/v1/gates/{gate}/scans":                     `{"size":"compact"}`,
			"POST /api/v1/gates/{gate}/open":                      `{"reason":"let me in"}`,
			"POST /api/v1/lots":                                   `{"operator_id":"` + e.fixture.Operator.ID + `","name":"Mine","time_zone":"UTC","currency":"usd"}`,
			"PATCH /api/v1/lots/{lot}":                            `{"name":"Mine now"}`,
			"POST /api/v1/lots/{lot}/levels":                      `{"name":"B9","ordinal":-9,"width":10,"height":10}`,
			"PATCH /api/v1/lots/{lot}/levels/{level}":             `{"name":"Mine"}`,
			"POST /api/v1/lots/{lot}/spots":                       `{"spots":[{"level_id":"` + e.fixture.Level.ID + `","label":"Z9","size":"compact"}]}`,
			"PATCH /api/v1/lots/{lot}/spots/{spot}":               `{"label":"Z8"}`,
			"POST /api/v1/lots/{lot}/spots/{spot}/out-of-service": `{"force":true,"reason":"mine"}`,
			"POST /api/v1/lots/{lot}/gates":                       `{"name":"Mine","direction":"exit"}`,
			"POST /api/v1/users/{id}/notifications/read":          `{"all":true}`,
			"PATCH /api/v1/users/{id}/notification-settings":      `{"email":false}`,
			"PUT /api/v1/operators/{operator}/webhook":            `{"url":"https://evil.example.com/","secret":"a secret of sixteen+"}`,
		}
		callers := []struct {
			name, token string
		}{{"no one", ""}, {"another driver", bob.token}, {"another company's operator", otto.token}, {"another lot's gate", gateKey}}
		httpc := &http.Client{Timeout: 10 * time.Second}
		contents := teststore.OpenContents(t, b, dsn)
		before, err := contents.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, route := range httpapi.Routes() {
			method, pattern, _ := strings.Cut(route, " ")
			if publicRoutes[route] || route == "DELETE /api/v1/sessions/current" {
				continue // public, or the caller's own session
			}
			path := pattern
			for name, id := range ids {
				path = strings.ReplaceAll(path, "{"+name+"}", id)
			}
			for _, c := range callers {
				var body io.Reader
				if b, ok := bodies[route]; ok {
					body = strings.NewReader(b)
				} else if method != "GET" && method != "DELETE" {
					body = strings.NewReader(`{}`)
				}
				req, err := http.NewRequest(method, base+path, body)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				n++
				req.Header.Set("Idempotency-Key", "sweep-"+string(rune('a'+n%26))+strings.Repeat("x", n/26))
				if c.token != "" {
					req.Header.Set("Authorization", "Bearer "+c.token)
				}
				resp, err := httpc.Do(req)
				if err != nil {
					t.Errorf("%s as %s: %v", route, c.name, err)
					continue
				}
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
				default:
					t.Errorf("%s %s as %s = %d %s; want 401, 403 or 404", method, path, c.name, resp.StatusCode, answer)
				}
			}
		}
		after, err := contents.Digest(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := before.Diff(after); len(diff) > 0 {
			t.Errorf("the sweep changed the database: %s", strings.Join(diff, ", "))
		}
		t.Logf("%d requests, every one refused", n)
		if n < 150 {
			t.Errorf("the sweep sent %d requests; want every route from every caller", n)
		}
	})
}
