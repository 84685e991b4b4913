package httpapi_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/payments"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// TestHostileText sends, on every backend, the requests that once made
// PostgreSQL answer 500 (a NUL or invalid UTF-8 in ids, paths, queries and
// bodies) and their kin (control and bidirectional-override characters):
// each is refused with 400 invalid_text before any handler or store sees it,
// and nothing changes.
func TestHostileText(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		var v parking.Vehicle
		ada.must(201, "POST", "/api/v1/users/me/vehicles", map[string]string{"plate": "ADA1", "size": "large"}).into(t, &v)
		res, _ := paidPass(t, e, ada, 5, 1, 2)
		entry, g := mustGate(t, e, parking.Entry)
		lot, spot := e.fixture.Lot.ID, e.fixture.Spots[0].ID
		at := func(h int) string { return storetest.T0.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
		window := `"starts_at":"` + at(3) + `","ends_at":"` + at(4) + `"`

		cases := []struct {
			name, method, path, body string
			headers                  []string
			where                    string // in the detail
			c                        *client
		}{
			{"lot: NUL", "GET", "/api/v1/lots/a%00b", ``, nil, "the path", nil},
			{"lot: invalid UTF-8", "GET", "/api/v1/lots/a%ffb", ``, nil, "the path", nil},
			{"lot: RTL override", "GET", "/api/v1/lots/a%E2%80%AEb", ``, nil, "the path", nil},
			{"lot: C1 control", "GET", "/api/v1/lots/a%C2%85b", ``, nil, "the path", nil},
			{"spots", "GET", "/api/v1/lots/" + lot + "/spots/a%00b", ``, nil, "the path", nil},
			{"spots: size query", "GET", "/api/v1/lots/" + lot + "/spots?size=a%00b", ``, nil, `query parameter size`, nil},
			{"spots: query name", "GET", "/api/v1/lots/" + lot + "/spots?a%ffb=1", ``, nil, `a query parameter name`, nil},
			{"availability: newline", "GET", "/api/v1/lots/" + lot + "/availability?from=a%0Ab", ``, nil, `query parameter from`, nil},
			{"reservation", "GET", "/api/v1/reservations/a%00b", ``, nil, "the path", ada},
			{"gate events", "GET", "/api/v1/lots/" + lot + "/gate-events?plate=a%00b", ``, nil, "query parameter plate", ada},
			{"pass", "GET", "/api/v1/reservations/a%ffb/pass", ``, nil, "the path", ada},
			{"cancel", "POST", "/api/v1/reservations/a%00b/cancel", ``, []string{"Idempotency-Key", "k1"}, "the path", ada},
			{"payments", "POST", "/api/v1/reservations/a%00b/payments", `{"payment_method":"` + payments.CardVisa + `"}`, []string{"Idempotency-Key", "k2"}, "the path", ada},
			{"payment method NUL", "POST", "/api/v1/reservations/" + res.ID + "/payments", `{"payment_method":"pm\u0000x"}`, []string{"Idempotency-Key", "k3"}, "field payment_method", ada},
			{"checkout", "POST", "/api/v1/reservations/a%00b/checkout", ``, nil, "the path", ada},
			{"vehicle delete", "DELETE", "/api/v1/users/me/vehicles/a%00b", ``, nil, "the path", ada},
			{"scans: path", "POST", "/api/v1/gates/a%00b/scans", `{"code":"x"}`, nil, "the path", entry},
			{"scans: code", "POST", "/api/v1/gates/" + g.ID + "/scans", `{"code":"a\u0000b"}`, nil, "field code", entry},
			{"open", "POST", "/api/v1/gates/a%ffb/open", `{}`, nil, "the path", ada},
			{"sign-up: NUL in name", "POST", "/api/v1/users", `{"name":"A\u0000da","email":"x@example.com","password":"correct horse battery"}`, nil, "field name", nil},
			{"sign-up: override in name", "POST", "/api/v1/users", `{"name":"A\u202Eda","email":"x@example.com","password":"correct horse battery"}`, nil, "field name", nil},
			{"sign-up: invalid UTF-8 in name", "POST", "/api/v1/users", "{\"name\":\"A\xffda\",\"email\":\"x@example.com\",\"password\":\"correct horse battery\"}", nil, "field name", nil},
			{"sign-up: bell in a key", "POST", "/api/v1/users", `{"na\u0007me":"Ada"}`, nil, "a field name in (the top level)", nil},
			{"sign-in: NUL in email", "POST", "/api/v1/sessions", `{"email":"ada@example.com\u0000","password":"correct horse battery"}`, nil, "field email", nil},
			{"hold: NUL in lot_id", "POST", "/api/v1/reservations", `{"lot_id":"a\u0000b","vehicle_id":"` + v.ID + `",` + window + `}`, []string{"Idempotency-Key", "k4"}, "field lot_id", ada},
			{"hold: NUL in vehicle_id", "POST", "/api/v1/reservations", `{"lot_id":"` + lot + `","vehicle_id":"a\u0000b",` + window + `}`, []string{"Idempotency-Key", "k5"}, "field vehicle_id", ada},
			{"hold: isolate in spot_id", "POST", "/api/v1/reservations", `{"lot_id":"` + lot + `","spot_id":"` + spot + `\u2066","vehicle_id":"` + v.ID + `",` + window + `}`, []string{"Idempotency-Key", "k6"}, "field spot_id", ada},
			{"hold: amenity in an array", "POST", "/api/v1/reservations", `{"lot_id":"` + lot + `","amenities":["ev","a\u0000"],"vehicle_id":"` + v.ID + `",` + window + `}`, []string{"Idempotency-Key", "k7"}, "field amenities[1]", ada},
			{"hold: bad Idempotency-Key", "POST", "/api/v1/reservations", `{"lot_id":"` + lot + `","vehicle_id":"` + v.ID + `",` + window + `}`, []string{"Idempotency-Key", "k\xe2\x80\xaey"}, "header Idempotency-Key", ada},
			{"web page", "GET", "/lots/a%00b", ``, nil, "the path", nil},
			{"web query", "GET", "/operator/lots/" + lot + "/log?plate=%E2%81%A6", ``, nil, "query parameter plate", ada},
		}
		anon := &client{t: t, base: e.srv.URL}
		before := snapshot(t, e, ada)
		for _, c := range cases {
			cl := c.c
			if cl == nil {
				cl = anon
			}
			r := cl.do(c.method, c.path, c.body, c.headers...)
			p := r.problem()
			if r.status != 400 || p.Code != "invalid_text" || r.header.Get("Content-Type") != "application/problem+json" || !strings.HasPrefix(p.Detail, c.where+" holds ") {
				t.Errorf("%s: %s %s = %d %s %s; want 400 problem+json invalid_text naming %s", c.name, c.method, c.path,
					r.status, r.header.Get("Content-Type"), r.body[:min(len(r.body), 300)], c.where)
			}
		}
		if after := snapshot(t, e, ada); after != before {
			t.Errorf("database changed by hostile text: before %+v, after %+v", before, after)
		}
		if _, err := e.store.UserByEmail(t.Context(), "x@example.com"); err == nil {
			t.Errorf("a refused sign-up created its user")
		}

		// Text where it belongs passes: tabs and newlines in a body's text,
		// letters of any script, and a body that is not JSON reaches its
		// handler untouched.
		ada.must(201, "POST", "/api/v1/users", map[string]string{"name": "Zoë\t李 عربي", "email": "zoe@example.com", "password": "correct horse battery"})
		if p := ada.must(400, "POST", "/api/v1/users", "name=x").problem(); p.Code != "invalid" {
			t.Errorf("a form body = %q; want the handler's invalid", p.Code)
		}
	})
}

// TestHostileTextWebhook: the webhook's body is the gateway's, signed byte for
// byte; parkd passes it on unexamined, so a genuine event verifies and is
// handled whatever text it holds.
func TestHostileTextWebhook(t *testing.T) {
	e := newAPI(t, teststore.Backend{Name: "sqlite", Open: teststore.OpenSQLite})
	now := e.clock.Now()
	// Refused anywhere else: a NUL and a right-to-left override.
	payload := []byte(`{"id":"evt_text_1","type":"charge.updated","created":` + fmt.Sprint(now.Unix()) +
		`,"data":{"object":{"id":"ch_1","object":"charge","description":"a\u0000b \u202e"}}}`)
	c := &client{t: t, base: e.srv.URL}
	r := c.do("POST", "/api/v1/payments/webhook", string(payload), "Stripe-Signature", payments.SignWebhook(sandboxSecret, payload, now))
	if r.status != 200 {
		t.Errorf("signed webhook holding odd text = %d %s; want 200 (verified, ignored)", r.status, r.body)
	}
	// Forged, it is still refused by the verification, not by the edge.
	r = c.do("POST", "/api/v1/payments/webhook", string(payload), "Stripe-Signature", payments.SignWebhook("whsec_forged", payload, now))
	if p := r.problem(); r.status != 400 || p.Code == "invalid_text" {
		t.Errorf("forged webhook = %d %s; want 400 from the verification", r.status, r.body)
	}
}

// TestPlates: every way a plate comes in (a vehicle, a reservation's plate, a
// plate camera at the gate, the log's search) reads it with
// parking.ParsePlate, on every backend: letters and digits of any script,
// normalised so that the spellings of one plate match; anything else is 422
// naming the plate (or, for a bidirectional override, 400 at the edge).
func TestPlates(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		lot := e.fixture.Lot.ID
		var v parking.Vehicle
		ada.must(201, "POST", "/api/v1/users/me/vehicles", map[string]string{"plate": "ｋａ-１２ ab", "size": "compact"}).into(t, &v)
		if v.Plate != "KA12AB" {
			t.Errorf("vehicle plate = %q; want KA12AB", v.Plate)
		}
		ada.must(201, "POST", "/api/v1/users/me/vehicles", map[string]string{"plate": "京a 12345", "size": "compact"}).into(t, &v)
		if v.Plate != "京A12345" {
			t.Errorf("vehicle plate = %q; want 京A12345", v.Plate)
		}
		body := holdBody(e, e.fixture.Spots[5].ID, 1, 2)
		body["plate"] = "أ ب ٣٤٥"
		var res parking.Reservation
		ada.must(201, "POST", "/api/v1/reservations", body, "Idempotency-Key", "p1").into(t, &res)
		if res.Plate != "أب٣٤٥" {
			t.Errorf("reservation plate = %q; want أب٣٤٥", res.Plate)
		}

		// A drive-up's plate, from the camera, is found by any spelling.
		entry, g := mustGate(t, e, parking.Entry)
		if d := scan(t, entry, g, map[string]any{"size": "compact", "plate": "müller-1"}); d.Decision != "open" {
			t.Fatalf("drive-up = %+v; want open", d)
		}
		op := &client{t: t, base: e.srv.URL, token: mustSignIn(t, e, parking.RoleOperator, e.fixture.Operator.ID).token}
		var log struct{ Events []parking.GateEvent }
		op.must(200, "GET", "/api/v1/lots/"+lot+"/gate-events?plate=M%C3%9CLLER+1", nil).into(t, &log)
		if len(log.Events) != 1 || log.Events[0].Plate != "MÜLLER1" {
			t.Errorf("gate events for MÜLLER 1 = %+v; want the drive-up, plate MÜLLER1", log.Events)
		}

		for _, plate := range []string{"AB\ufffd12", "AB🚗", "A.B", "1234567890abcdefg", "--"} {
			for _, r := range []response{
				ada.do("POST", "/api/v1/users/me/vehicles", map[string]string{"plate": plate, "size": "compact"}),
				ada.do("POST", "/api/v1/reservations", map[string]any{"lot_id": lot, "plate": plate, "size": "compact",
					"starts_at": storetest.T0.Add(3 * time.Hour), "ends_at": storetest.T0.Add(4 * time.Hour)}, "Idempotency-Key", "bad-"+plate),
				op.do("GET", "/api/v1/lots/"+lot+"/gate-events?plate="+url.QueryEscape(plate), nil),
			} {
				p := r.problem()
				if r.status != 422 || p.Code != "validation_failed" || len(p.Fields) != 1 || p.Fields[0].Field != "plate" {
					t.Errorf("plate %q = %d %s; want 422 validation_failed naming plate", plate, r.status, r.body)
				}
			}
		}
		// A camera's misread is not the driver's fault: the gate decides as
		// if it read no plate.
		if d := scan(t, entry, g, map[string]any{"code": "NOSUCHCODE", "plate": "AB\ufffd12"}); d.Decision != "deny" || d.Reason != "invalid_pass" {
			t.Errorf("a scan with a misread plate = %+v; want it decided on its code (deny, invalid_pass)", d)
		}
		if p := ada.do("POST", "/api/v1/users/me/vehicles", map[string]string{"plate": "AB\u202e12", "size": "compact"}).problem(); p.Status != 400 || p.Code != "invalid_text" {
			t.Errorf("plate with an RTL override = %+v; want 400 invalid_text", p)
		}
	})
}
