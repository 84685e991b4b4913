package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"parkd/internal/auth"
	"parkd/internal/booking"
	"parkd/internal/httpapi"
	"parkd/internal/parking"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// opCaller is a client with the call shapes the operator tests use.
type opCaller struct{ *client }

func newOpCaller(t *testing.T, base string) opCaller { return opCaller{&client{t: t, base: base}} }

// call sends body as JSON (a string is sent as is); headers are name, value pairs.
func (c opCaller) call(method, path string, body any, headers ...string) response {
	c.t.Helper()
	return c.do(method, path, body, headers...)
}

// must calls and decodes the answer into v (when not nil), failing unless the status is want.
func (c opCaller) must(want int, v any, method, path string, body any, headers ...string) response {
	c.t.Helper()
	r := c.client.must(want, method, path, body, headers...)
	if v != nil {
		r.into(c.t, v)
	}
	return r
}

// problem calls and checks that the answer is problem+json with status and code.
func (c opCaller) problem(status int, code, method, path string, body any, headers ...string) httpapi.Problem {
	c.t.Helper()
	r := c.call(method, path, body, headers...)
	var p httpapi.Problem
	json.Unmarshal(r.body, &p)
	if r.status != status || p.Code != code || r.header.Get("Content-Type") != "application/problem+json" {
		c.t.Errorf("%s %s = %d %s %s; want %d problem+json with code %s", method, path, r.status, r.header.Get("Content-Type"), r.body, status, code)
	}
	return p
}

// mustSignIn creates a user with the role and signs them in through the API.
func mustSignIn(t *testing.T, e apiEnv, role parking.Role, operatorID string) opCaller {
	t.Helper()
	email := parking.NewID(string(role)) + "@example.com"
	if _, err := auth.New(e.store, e.clock).CreateUser(t.Context(), "Test "+string(role), email, "correct horse battery", role, operatorID); err != nil {
		t.Fatalf("CreateUser(%s) = %v", role, err)
	}
	c := newOpCaller(t, e.srv.URL)
	var s struct{ Token string }
	c.must(http.StatusCreated, &s, "POST", "/api/v1/sessions", map[string]string{"email": email, "password": "correct horse battery"})
	c.token = s.Token
	return c
}

// mustOtherOperator creates a second operator, with none of the fixture's lots.
func mustOtherOperator(t *testing.T, e apiEnv) parking.Operator {
	t.Helper()
	o := parking.Operator{ID: parking.NewID("opr"), Name: "Rival Parking", CreatedAt: storetest.T0}
	if err := e.store.CreateOperator(t.Context(), &o); err != nil {
		t.Fatalf("CreateOperator: %v", err)
	}
	return o
}

func hasField(p httpapi.Problem, field string) bool {
	for _, f := range p.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

func rfc3339(t time.Time) string { return url.QueryEscape(t.Format(time.RFC3339)) }

func TestOperatorRunsALot(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		op := mustSignIn(t, e, parking.RoleOperator, e.fixture.Operator.ID)
		driver := mustSignIn(t, e, parking.RoleDriver, "")

		var lot parking.Lot
		op.must(http.StatusCreated, &lot, "POST", "/api/v1/lots", map[string]any{
			"name": "Harbour Garage", "address": "9 Quay St", "lat": 51.5, "lng": -0.12,
			"time_zone": "Europe/London", "currency": "gbp", "policy": map[string]any{"hold_ttl": "7m"},
		})
		want := parking.DefaultPolicy()
		want.HoldTTL = parking.Duration(7 * time.Minute)
		if lot.OperatorID != e.fixture.Operator.ID || lot.Currency != "GBP" || !reflect.DeepEqual(lot.Policy, want) {
			t.Errorf("POST lots = %+v; want the operator's own lot in GBP with hold_ttl 7m and default rates", lot)
		}
		if got, err := e.store.Lot(t.Context(), lot.ID); err != nil || !reflect.DeepEqual(got, lot) {
			t.Errorf("Lot(%s) = %+v, %v; want %+v", lot.ID, got, err, lot)
		}
		path := "/api/v1/lots/" + lot.ID

		var level parking.Level
		op.must(http.StatusCreated, &level, "POST", path+"/levels", map[string]any{"name": "Level 1", "ordinal": 1, "width": 300, "height": 120})
		op.must(http.StatusOK, &level, "PATCH", path+"/levels/"+level.ID, map[string]any{"name": "Ground"})
		if level.Name != "Ground" || level.Ordinal != 1 || level.Width != 300 {
			t.Errorf("PATCH level = %+v; want renamed Ground, the rest kept", level)
		}

		// 450 spots in one request: the seeds' garage.
		sizes := []string{"small", "medium", "SEDAN", "large", "MOTOR_CYCLE", "suv"}
		batch := make([]map[string]any, 450)
		for i := range batch {
			batch[i] = map[string]any{"level_id": level.ID, "label": fmt.Sprintf("G-%03d", i+1), "size": sizes[i%len(sizes)],
				"lat": 51.5, "lng": -0.12, "x": i % 30 * 10, "y": i / 30 * 8, "amenities": []string{"covered"}}
		}
		batch[7]["in_service"] = false
		var created struct{ Spots []parking.Spot }
		op.must(http.StatusCreated, &created, "POST", path+"/spots", map[string]any{"spots": batch}, "Idempotency-Key", "spots-1")
		stored, err := e.store.Spots(t.Context(), lot.ID)
		if err != nil || len(created.Spots) != 450 || len(stored) != 450 {
			t.Fatalf("POST 450 spots: answered %d, stored %d (%v); want 450", len(created.Spots), len(stored), err)
		}
		if s := created.Spots[0]; s.Size != parking.Compact || s.Label != "G-001" || !s.InService || s.LotID != lot.ID {
			t.Errorf("first spot = %+v; want G-001, compact (from \"small\"), in service", s)
		}
		if created.Spots[7].InService {
			t.Errorf("spot sent with in_service false is in service")
		}
		// A retry of the batch replays the answer and creates nothing more.
		if r := op.must(http.StatusCreated, nil, "POST", path+"/spots", map[string]any{"spots": batch}, "Idempotency-Key", "spots-1"); r.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retried batch was not replayed")
		}
		if stored, _ := e.store.Spots(t.Context(), lot.ID); len(stored) != 450 {
			t.Errorf("after a retried batch the lot has %d spots; want 450", len(stored))
		}

		spot := created.Spots[1] // G-002, standard
		var edited parking.Spot
		op.must(http.StatusOK, &edited, "PATCH", path+"/spots/"+spot.ID, map[string]any{"label": "G-002A", "size": "SUV", "amenities": []string{" EV ", "ev", "covered"}})
		if got, _ := e.store.Spot(t.Context(), spot.ID); got.Label != "G-002A" || got.Size != parking.Large ||
			!reflect.DeepEqual(got.Amenities, []string{"ev", "covered"}) || got.X != spot.X || !reflect.DeepEqual(got, edited) {
			t.Errorf("spot after PATCH = %+v (answered %+v); want G-002A, large, [ev covered], position kept", got, edited)
		}

		// A new price applies to new holds.
		hold := func(key string) parking.Reservation {
			var r parking.Reservation
			driver.must(http.StatusCreated, &r, "POST", "/api/v1/reservations", map[string]any{
				"lot_id": lot.ID, "plate": "AB" + key, "size": "standard",
				"starts_at": storetest.T0.Add(time.Hour), "ends_at": storetest.T0.Add(2 * time.Hour),
			}, "Idempotency-Key", key)
			return r
		}
		if r := hold("123"); r.Amount != 300 || r.Currency != "GBP" {
			t.Errorf("hold before the rate change = %d %s; want 300 GBP", r.Amount, r.Currency)
		}
		rates := map[string]any{
			"motorcycle": map[string]int{"hourly": 100}, "compact": map[string]int{"hourly": 250},
			"standard": map[string]int{"hourly": 600, "daily_max": 5000}, "large": map[string]int{"hourly": 800},
		}
		op.must(http.StatusOK, &lot, "PATCH", path, map[string]any{"name": "Harbour Garage East", "policy": map[string]any{"rates": rates}})
		if lot.Name != "Harbour Garage East" || lot.Address != "9 Quay St" || lot.Policy.Rates[parking.Standard].Hourly != 600 ||
			lot.Policy.HoldTTL != parking.Duration(7*time.Minute) {
			t.Errorf("PATCH lot = %+v; want renamed, address kept, standard 600/h, hold_ttl kept at 7m", lot)
		}
		second := hold("456")
		if second.Amount != 600 {
			t.Errorf("hold after the rate change = %d; want 600", second.Amount)
		}

		// A gate's key is shown once; only its hash is kept.
		var g struct {
			Gate parking.Gate
			Key  string
		}
		r := op.must(http.StatusCreated, &g, "POST", path+"/gates", map[string]string{"name": "North entry", "direction": "entry"})
		if !strings.HasPrefix(g.Key, "pkg_") || g.Gate.LotID != lot.ID || r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("POST gates = %s; want the gate and a pkg_ key, not cached", r.body)
		}
		if got, err := auth.New(e.store, e.clock).AuthenticateGate(t.Context(), g.Key); err != nil || got.ID != g.Gate.ID {
			t.Errorf("AuthenticateGate(key) = %+v, %v; want gate %s", got, err, g.Gate.ID)
		}
		var gates struct{ Gates []parking.Gate }
		r = op.must(http.StatusOK, &gates, "GET", path+"/gates", nil)
		if len(gates.Gates) != 1 || strings.Contains(string(r.body), g.Key) || strings.Contains(string(r.body), "key") {
			t.Errorf("GET gates = %s; want one gate and no key", r.body)
		}

		var list struct {
			Reservations []parking.Reservation
			From, To     time.Time
		}
		op.must(http.StatusOK, &list, "GET", path+"/reservations", nil)
		if len(list.Reservations) != 2 || list.Reservations[0].ID != second.ID && list.Reservations[1].ID != second.ID ||
			!list.From.Equal(storetest.T0.Add(-24*time.Hour)) || !list.To.Equal(storetest.T0.Add(7*24*time.Hour)) {
			t.Errorf("GET reservations = %d from %v to %v; want both holds over [now-24h, now+7d)", len(list.Reservations), list.From, list.To)
		}
		op.must(http.StatusOK, &list, "GET", path+"/reservations?from="+rfc3339(storetest.T0.Add(3*time.Hour))+"&to="+rfc3339(storetest.T0.Add(5*time.Hour)), nil)
		if len(list.Reservations) != 0 {
			t.Errorf("GET reservations after both windows = %d; want 0", len(list.Reservations))
		}
	})
}

func TestOperatorAdmin(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		admin := mustSignIn(t, e, parking.RoleAdmin, "")
		body := map[string]any{"name": "Depot", "address": "1 Depot Rd", "lat": 0, "lng": 0, "time_zone": "UTC", "currency": "EUR"}
		if p := admin.problem(422, parking.EVALIDATION, "POST", "/api/v1/lots", body); !hasField(p, "operator_id") {
			t.Errorf("admin POST lots without operator_id: fields %+v; want operator_id", p.Fields)
		}
		body["operator_id"] = "opr_missing"
		if p := admin.problem(422, parking.EVALIDATION, "POST", "/api/v1/lots", body); !hasField(p, "operator_id") {
			t.Errorf("admin POST lots for an unknown operator: fields %+v; want operator_id", p.Fields)
		}
		other := mustOtherOperator(t, e)
		body["operator_id"] = other.ID
		var lot parking.Lot
		admin.must(http.StatusCreated, &lot, "POST", "/api/v1/lots", body)
		if lot.OperatorID != other.ID {
			t.Errorf("admin POST lots = operator %s; want %s", lot.OperatorID, other.ID)
		}
		// Admins run every lot.
		admin.must(http.StatusOK, nil, "PATCH", "/api/v1/lots/"+e.fixture.Lot.ID, map[string]string{"address": "2 Test St"})
		if lots, _ := e.store.Lots(t.Context()); len(lots) != 2 {
			t.Errorf("lots = %d; want 2", len(lots))
		}
	})
}

// opSnapshot is what the operator API can change in the fixture's lot.
type opSnapshot struct {
	Lots   []parking.Lot
	Levels []parking.Level
	Spots  []parking.Spot
	Gates  []parking.Gate
	Res    []parking.Reservation
}

func mustOpSnapshot(t *testing.T, e apiEnv) opSnapshot {
	t.Helper()
	ctx, lot := t.Context(), e.fixture.Lot.ID
	var s opSnapshot
	var err [5]error
	s.Lots, err[0] = e.store.Lots(ctx)
	s.Levels, err[1] = e.store.Levels(ctx, lot)
	s.Spots, err[2] = e.store.Spots(ctx, lot)
	s.Gates, err[3] = e.store.Gates(ctx, lot)
	s.Res, err[4] = e.store.LotReservations(ctx, lot, storetest.T0.Add(-time.Hour), storetest.T0.Add(30*24*time.Hour))
	for _, e := range err {
		if e != nil {
			t.Fatal(e)
		}
	}
	return s
}

func TestOperatorForbidden(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		f := e.fixture
		res := f.MustHold(t, e.store, f.Spots[5].ID, storetest.T0, storetest.T0.Add(time.Hour), storetest.T0.Add(2*time.Hour))
		rival := mustSignIn(t, e, parking.RoleOperator, mustOtherOperator(t, e).ID)
		driver := mustSignIn(t, e, parking.RoleDriver, "")
		before := mustOpSnapshot(t, e)

		lot := "/api/v1/lots/" + f.Lot.ID
		spot := lot + "/spots/" + f.Spots[5].ID
		requests := []struct {
			method, path string
			body         any
		}{
			{"PATCH", lot, map[string]any{"name": "Mine now"}},
			{"POST", lot + "/levels", map[string]any{"name": "Roof", "ordinal": 9, "width": 1, "height": 1}},
			{"PATCH", lot + "/levels/" + f.Level.ID, map[string]any{"name": "Mine"}},
			{"POST", lot + "/spots", map[string]any{"spots": []map[string]any{{"level_id": f.Level.ID, "label": "X1", "size": "compact"}}}},
			{"PATCH", spot, map[string]any{"size": "motorcycle"}},
			{"POST", spot + "/out-of-service", map[string]any{"force": true}},
			{"POST", spot + "/in-service", nil},
			{"POST", lot + "/gates", map[string]any{"name": "Back door", "direction": "entry"}},
			{"GET", lot + "/gates", nil},
			{"GET", lot + "/reservations", nil},
		}
		for _, who := range []struct {
			name string
			c    opCaller
		}{{"another operator", rival}, {"a driver", driver}} {
			for _, rq := range requests {
				if p := who.c.problem(403, parking.EFORBIDDEN, rq.method, rq.path, rq.body, "Idempotency-Key", parking.NewID("key")); p.Code != parking.EFORBIDDEN {
					t.Errorf("(the request above was sent by %s)", who.name)
				}
			}
		}
		// Creating a lot: drivers never, operators only for themselves.
		newLot := map[string]any{"name": "Sneaky", "address": "1 Side St", "lat": 1, "lng": 1, "time_zone": "UTC", "currency": "USD"}
		driver.problem(403, parking.EFORBIDDEN, "POST", "/api/v1/lots", newLot)
		newLot["operator_id"] = f.Operator.ID
		rival.problem(403, parking.EFORBIDDEN, "POST", "/api/v1/lots", newLot)
		// Nobody signed in: 401; an unknown lot: 404.
		anonymous := newOpCaller(t, e.srv.URL)
		anonymous.problem(401, parking.EUNAUTHORIZED, "PATCH", lot, map[string]any{"name": "x"})
		anonymous.problem(401, parking.EUNAUTHORIZED, "GET", lot+"/reservations", nil)
		rival.problem(404, parking.ENOTFOUND, "PATCH", "/api/v1/lots/lot_missing", map[string]any{"name": "x"})

		if after := mustOpSnapshot(t, e); !reflect.DeepEqual(after, before) {
			t.Errorf("refused requests changed the store:\nbefore %+v\nafter  %+v", before, after)
		}
		if r, _ := e.store.Reservation(t.Context(), res.ID); r.Status != parking.StatusHeld {
			t.Errorf("reservation after refused requests is %s; want held", r.Status)
		}
	})
}

func TestOperatorBadInputs(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		f := e.fixture
		op := mustSignIn(t, e, parking.RoleOperator, f.Operator.ID)
		rivalLot := parking.Lot{ID: parking.NewID("lot"), OperatorID: mustOtherOperator(t, e).ID, Name: "Rival", TimeZone: "UTC", Currency: "USD", Policy: parking.DefaultPolicy(), CreatedAt: storetest.T0}
		rivalLevel := parking.Level{ID: parking.NewID("lvl"), LotID: rivalLot.ID, Name: "R1"}
		if err := e.store.CreateLot(t.Context(), &rivalLot); err != nil {
			t.Fatal(err)
		}
		if err := e.store.CreateLevel(t.Context(), &rivalLevel); err != nil {
			t.Fatal(err)
		}
		before := mustOpSnapshot(t, e)

		lot := "/api/v1/lots/" + f.Lot.ID
		goodLot := func(change map[string]any) map[string]any {
			m := map[string]any{"name": "New", "address": "3 New St", "lat": 1, "lng": 2, "time_zone": "UTC", "currency": "USD"}
			for k, v := range change {
				m[k] = v
			}
			return m
		}
		spots := func(labels ...string) map[string]any {
			var out []map[string]any
			for _, l := range labels {
				out = append(out, map[string]any{"level_id": f.Level.ID, "label": l, "size": "compact"})
			}
			return map[string]any{"spots": out}
		}
		badSize := spots("N1", "N2")
		badSize["spots"].([]map[string]any)[1]["size"] = "huge"
		foreignLevel := spots("N1")
		foreignLevel["spots"].([]map[string]any)[0]["level_id"] = rivalLevel.ID

		cases := []struct {
			name, method, path string
			body               any
			status             int
			code, field        string
		}{
			{"unknown field", "POST", "/api/v1/lots", goodLot(map[string]any{"colour": "red"}), 400, parking.EINVALID, ""},
			{"not JSON", "POST", "/api/v1/lots", "{name: x", 400, parking.EINVALID, ""},
			{"bad currency", "POST", "/api/v1/lots", goodLot(map[string]any{"currency": "dollars"}), 422, parking.EVALIDATION, "currency"},
			{"bad time zone", "POST", "/api/v1/lots", goodLot(map[string]any{"time_zone": "Mars/Olympus_Mons"}), 422, parking.EVALIDATION, "time_zone"},
			{"no coordinates", "POST", "/api/v1/lots", map[string]any{"name": "N", "address": "A", "time_zone": "UTC", "currency": "USD"}, 422, parking.EVALIDATION, "lat"},
			{"misspelt policy field", "POST", "/api/v1/lots", goodLot(map[string]any{"policy": map[string]any{"hold_tl": "7m"}}), 400, parking.EINVALID, ""},
			{"bad policy duration", "PATCH", lot, map[string]any{"policy": map[string]any{"hold_ttl": "soon"}}, 400, parking.EINVALID, ""},
			{"rate out of bounds", "PATCH", lot, map[string]any{"policy": map[string]any{"rates": map[string]any{"standard": map[string]int64{"hourly": parking.MaxRate + 1}}}}, 422, parking.EVALIDATION, "policy"},
			{"patch bad currency", "PATCH", lot, map[string]any{"name": "Fine", "currency": "US"}, 422, parking.EVALIDATION, "currency"},
			{"patch bad time zone", "PATCH", lot, map[string]any{"time_zone": "Nowhere"}, 422, parking.EVALIDATION, "time_zone"},
			{"patch empty name", "PATCH", lot, map[string]any{"name": "  "}, 422, parking.EVALIDATION, "name"},
			{"patch unknown field", "PATCH", lot, map[string]any{"operator_id": "opr_x"}, 400, parking.EINVALID, ""},
			{"level without name", "POST", lot + "/levels", map[string]any{"ordinal": 2}, 422, parking.EVALIDATION, "name"},
			{"unknown level", "PATCH", lot + "/levels/lvl_missing", map[string]any{"name": "x"}, 404, parking.ENOTFOUND, ""},
			{"another lot's level", "PATCH", lot + "/levels/" + rivalLevel.ID, map[string]any{"name": "x"}, 404, parking.ENOTFOUND, ""},
			{"bad size", "POST", lot + "/spots", badSize, 422, parking.EVALIDATION, "spots[1].size"},
			{"duplicate label", "POST", lot + "/spots", spots("N1", "N2", "N3", "N1"), 422, parking.EVALIDATION, "spots[3].label"},
			{"label taken", "POST", lot + "/spots", spots("N1", "C2"), 422, parking.EVALIDATION, "spots[1].label"},
			{"another lot's level for a spot", "POST", lot + "/spots", foreignLevel, 422, parking.EVALIDATION, "spots[0].level_id"},
			{"no spots", "POST", lot + "/spots", map[string]any{"spots": []any{}}, 422, parking.EVALIDATION, "spots"},
			{"too many spots", "POST", lot + "/spots", spots(make([]string, httpapi.MaxSpotsPerRequest+1)...), 422, parking.EVALIDATION, "spots"},
			{"spot size as a number", "POST", lot + "/spots", map[string]any{"spots": []map[string]any{{"level_id": f.Level.ID, "label": "N1", "size": 2}}}, 400, parking.EINVALID, ""},
			{"patch bad size", "PATCH", lot + "/spots/" + f.Spots[0].ID, map[string]any{"size": "huge"}, 422, parking.EVALIDATION, "size"},
			{"patch taken label", "PATCH", lot + "/spots/" + f.Spots[0].ID, map[string]any{"label": "M2"}, 422, parking.EVALIDATION, "label"},
			{"patch level", "PATCH", lot + "/spots/" + f.Spots[0].ID, map[string]any{"level_id": f.Level.ID}, 400, parking.EINVALID, ""},
			{"unknown spot", "PATCH", lot + "/spots/spt_missing", map[string]any{"label": "x"}, 404, parking.ENOTFOUND, ""},
			{"bad gate direction", "POST", lot + "/gates", map[string]any{"name": "Side", "direction": "sideways"}, 422, parking.EVALIDATION, "direction"},
			{"bad from", "GET", lot + "/reservations?from=yesterday", nil, 400, parking.EINVALID, ""},
			{"window too long", "GET", lot + "/reservations?from=2030-01-01T00:00:00Z&to=2030-06-01T00:00:00Z", nil, 400, parking.EINVALID, ""},
			{"out of service without a key", "POST", lot + "/spots/" + f.Spots[0].ID + "/out-of-service", map[string]any{}, 400, "idempotency_key_required", ""},
		}
		for _, c := range cases {
			p := op.problem(c.status, c.code, c.method, c.path, c.body)
			if c.field != "" && !hasField(p, c.field) {
				t.Errorf("%s: fields %+v; want one naming %s", c.name, p.Fields, c.field)
			}
		}
		if after := mustOpSnapshot(t, e); !reflect.DeepEqual(after, before) {
			t.Errorf("refused requests changed the store:\nbefore %+v\nafter  %+v", before, after)
		}
		if got, _ := e.store.Lot(t.Context(), f.Lot.ID); !reflect.DeepEqual(got, f.Lot) {
			t.Errorf("lot after refused requests = %+v; want %+v", got, f.Lot)
		}
	})
}

func TestOutOfService(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		f := e.fixture
		op := mustSignIn(t, e, parking.RoleOperator, f.Operator.ID)
		h := func(n int) time.Time { return storetest.T0.Add(time.Duration(n) * time.Hour) }
		s1, s2 := f.SpotsOf(parking.Standard)[0], f.SpotsOf(parking.Standard)[1]
		held := f.MustHold(t, e.store, s1.ID, storetest.T0, h(1), h(2))
		paid := f.MustHold(t, e.store, s1.ID, storetest.T0, h(5), h(6))
		storetest.MustChange(t, e.store, paid.ID, parking.StatusHeld, parking.StatusConfirmed, storetest.T0)
		path := "/api/v1/lots/" + f.Lot.ID + "/spots/" + s1.ID

		// Free spots that fit: every booking moves, none is cancelled.
		var out struct {
			Spot                     parking.Spot
			Moved, Cancelled, Parked []string
			Message                  string
		}
		body := map[string]any{"reason": "light broken"}
		op.must(http.StatusOK, &out, "POST", path+"/out-of-service", body, "Idempotency-Key", "oos-1")
		if out.Spot.InService || !reflect.DeepEqual(out.Moved, []string{held.ID, paid.ID}) || len(out.Cancelled) != 0 || len(out.Parked) != 0 {
			t.Errorf("out-of-service = %+v; want the spot out of service and both reservations moved", out)
		}
		if !strings.Contains(out.Message, "2 bookings were moved") {
			t.Errorf("message = %q; want it to say 2 bookings were moved", out.Message)
		}
		for _, id := range []string{held.ID, paid.ID} {
			r, _ := e.store.Reservation(t.Context(), id)
			if r.SpotID != s2.ID || r.MovedFrom != s1.ID || r.ChangeReason != parking.ReasonOutOfService || r.Status == parking.StatusCancelled {
				t.Errorf("reservation %s = %+v; want it moved from %s to %s (the same level and amenities, smallest fit first), not cancelled",
					id, r, s1.Label, s2.Label)
			}
		}
		if r := op.must(http.StatusOK, nil, "POST", path+"/out-of-service", body, "Idempotency-Key", "oos-1"); r.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("a retry was not replayed")
		}
		if _, err := e.engine.Hold(t.Context(), booking.HoldRequest{LotID: f.Lot.ID, SpotID: s1.ID, VehicleSize: parking.Standard,
			StartsAt: h(8), EndsAt: h(9)}); parking.ErrorCode(err) != parking.ESPOTOUTOFSERVICE {
			t.Errorf("Hold on the spot out of service = %v; want %s", err, parking.ESPOTOUTOFSERVICE)
		}
		var sp parking.Spot
		op.must(http.StatusOK, &sp, "POST", path+"/in-service", nil)
		if got, _ := e.store.Spot(t.Context(), s1.ID); !sp.InService || !got.InService {
			t.Errorf("in-service answered %+v, stored %+v; want in service", sp, got)
		}

		// A large vehicle no other free spot fits: refused without force,
		// and nothing changes; with force, cancelled.
		l1, l2 := f.SpotsOf(parking.Large)[0], f.SpotsOf(parking.Large)[1]
		big := f.NewHold(storetest.T0, h(10), h(11))
		big.VehicleSize = parking.Large
		if err := e.store.Hold(t.Context(), big, []string{l1.ID}, nil); err != nil {
			t.Fatal(err)
		}
		f.MustHold(t, e.store, l2.ID, storetest.T0, h(10), h(11))
		lpath := "/api/v1/lots/" + f.Lot.ID + "/spots/" + l1.ID
		p := op.problem(409, parking.ESPOTHASRESERVATIONS, "POST", lpath+"/out-of-service", body, "Idempotency-Key", "oos-2")
		if !strings.Contains(p.Detail, "1 reservation fits no other free spot") {
			t.Errorf("refusal detail = %q; want it to say how many reservations fit no other spot", p.Detail)
		}
		if sp, _ := e.store.Spot(t.Context(), l1.ID); !sp.InService {
			t.Errorf("refused out-of-service took the spot out of service")
		}
		op.must(http.StatusOK, &out, "POST", lpath+"/out-of-service", map[string]any{"force": true}, "Idempotency-Key", "oos-3")
		if !reflect.DeepEqual(out.Cancelled, []string{big.ID}) || len(out.Moved) != 0 {
			t.Errorf("forced out-of-service = %+v; want the large booking cancelled", out)
		}
		if r, _ := e.store.Reservation(t.Context(), big.ID); r.Status != parking.StatusCancelled || r.ChangeReason != parking.ReasonOutOfService {
			t.Errorf("the large booking is %s (%q); want cancelled for out_of_service", r.Status, r.ChangeReason)
		}

		// A car parked in the spot stays; the spot takes no more bookings,
		// and the answer says it leaves service when the car leaves.
		parked := f.MustHold(t, e.store, s2.ID, storetest.T0, storetest.T0, h(1))
		storetest.MustChange(t, e.store, parked.ID, parking.StatusHeld, parking.StatusConfirmed, storetest.T0)
		storetest.MustChange(t, e.store, parked.ID, parking.StatusConfirmed, parking.StatusCheckedIn, storetest.T0)
		op.must(http.StatusOK, &out, "POST", "/api/v1/lots/"+f.Lot.ID+"/spots/"+s2.ID+"/out-of-service", body, "Idempotency-Key", "oos-4")
		if out.Spot.InService || len(out.Cancelled) != 0 || !reflect.DeepEqual(out.Parked, []string{parked.ID}) ||
			!strings.Contains(out.Message, "once that car leaves") {
			t.Errorf("out-of-service with a car parked = %+v; want out of service, nothing cancelled, the car listed and the message saying so", out)
		}
	})
}

func TestSpotShrink(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		f := e.fixture
		op := mustSignIn(t, e, parking.RoleOperator, f.Operator.ID)
		large := f.SpotsOf(parking.Large)[0]
		if _, err := e.engine.Hold(t.Context(), booking.HoldRequest{LotID: f.Lot.ID, SpotID: large.ID, VehicleSize: parking.Standard,
			StartsAt: storetest.T0.Add(time.Hour), EndsAt: storetest.T0.Add(2 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		path := "/api/v1/lots/" + f.Lot.ID + "/spots/" + large.ID
		op.problem(409, parking.ECONFLICT, "PATCH", path, map[string]any{"size": "compact"})
		if sp, _ := e.store.Spot(t.Context(), large.ID); sp.Size != parking.Large {
			t.Errorf("refused shrink changed the size to %s", sp.Size)
		}
		var sp parking.Spot
		op.must(http.StatusOK, &sp, "PATCH", path, map[string]any{"size": "standard"}) // the standard car still fits
		if sp.Size != parking.Standard {
			t.Errorf("PATCH size standard = %s", sp.Size)
		}
		// Once the hold lapses, nothing stands in the way.
		e.clock.Advance(10 * time.Minute)
		op.must(http.StatusOK, &sp, "PATCH", path, map[string]any{"size": "motorcycle"})
	})
}

// TestPolicyPatchMerges: editing one policy field keeps the others, and a rate
// for one size leaves the other sizes' rates alone.
func TestPolicyPatchMerges(t *testing.T) {
	e := newAPI(t, teststore.Backend{Name: "sqlite", Open: teststore.OpenSQLite})
	op := mustSignIn(t, e, parking.RoleOperator, e.fixture.Operator.ID)
	path := "/api/v1/lots/" + e.fixture.Lot.ID
	op.must(200, nil, "PATCH", path, map[string]any{"policy": map[string]any{"rates": map[string]any{"large": map[string]int{"hourly": 900, "daily_max": 5000}}}})
	op.must(200, nil, "PATCH", path, map[string]any{"policy": map[string]any{"hold_ttl": "7m"}})
	got, err := e.store.Lot(t.Context(), e.fixture.Lot.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := parking.DefaultPolicy()
	want.HoldTTL = parking.Duration(7 * time.Minute)
	want.Rates[parking.Large] = parking.Rate{Hourly: 900, DailyMax: 5000}
	if !reflect.DeepEqual(got.Policy, want) {
		t.Errorf("policy after two edits = %+v; want %+v", got.Policy, want)
	}
}
