package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"parkd/internal/auth"
	"parkd/internal/booking"
	"parkd/internal/gate"
	"parkd/internal/httpapi"
	"parkd/internal/live"
	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/pass"
	"parkd/internal/payments"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

type apiEnv struct {
	srv     *httptest.Server
	store   parking.Store
	clock   *parkingtest.Clock
	engine  *booking.Service
	sandbox *payments.Sandbox
	pay     *payments.Service
	gates   *gate.Service
	fixture storetest.Fixture
}

// sandboxSecret signs the test sandbox's webhooks.
const sandboxSecret = "whsec_test_sandbox"

func newAPI(t testing.TB, b teststore.Backend) apiEnv {
	t.Helper()
	return newAPIOn(t, b.Open(t))
}

// newAPIOn serves the whole HTTP interface on store s.
func newAPIOn(t testing.TB, s parking.Store) apiEnv {
	t.Helper()
	clock := parkingtest.NewClock(storetest.T0)
	engine := booking.New(s, clock)
	log := parkingtest.Logger(t)
	sandbox := payments.NewSandbox(sandboxSecret, clock)
	pay := payments.New(s, sandbox, engine, clock, log)
	keys, err := pass.NewKeyring(pass.Key{ID: "t1", Secret: []byte("a test pass key of thirty-two b!")})
	if err != nil {
		t.Fatal(err)
	}
	gates := gate.New(s, engine, pay, keys, clock, log)
	hub := live.NewHub(log, s, clock)
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.WithStore(httpapi.Services{Log: log, Engine: engine, Auth: auth.New(s, clock),
		Payments: pay, Gates: gates, Clock: clock, Live: hub}, s)))
	t.Cleanup(srv.Close)
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); hub.Run(hubCtx, 10*time.Millisecond) }()
	t.Cleanup(func() { stopHub(); <-hubDone }) // before srv.Close, which waits for live streams to end
	sandbox.SetWebhookURL(srv.URL + "/api/v1/payments/webhook")
	return apiEnv{srv: srv, store: s, clock: clock, engine: engine, sandbox: sandbox, pay: pay, gates: gates, fixture: storetest.MustFixture(t, s)}
}

func get(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestSpotsQuery(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		lot := e.fixture.Lot.ID
		if _, err := e.engine.Hold(t.Context(), booking.HoldRequest{LotID: lot, SpotID: e.fixture.Spots[9].ID,
			VehicleSize: parking.Large, StartsAt: storetest.T0.Add(2 * time.Hour), EndsAt: storetest.T0.Add(3 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		var a booking.Availability
		check := func(query string, wantSpots int, wantHeld int) {
			t.Helper()
			resp, body := get(t, e.srv.URL+"/api/v1/lots/"+lot+"/spots"+query)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET spots%s = %d %s; want 200", query, resp.StatusCode, body)
			}
			if err := json.Unmarshal(body, &a); err != nil {
				t.Fatal(err)
			}
			if len(a.Spots) != wantSpots || a.Counts[parking.Large].Held != wantHeld {
				t.Errorf("GET spots%s = %d spots, %d large held; want %d, %d", query, len(a.Spots), a.Counts[parking.Large].Held, wantSpots, wantHeld)
			}
		}
		check("", 10, 0) // default window now..now+1h misses the 2h..3h hold
		if !a.From.Equal(storetest.T0) || !a.To.Equal(storetest.T0.Add(time.Hour)) {
			t.Errorf("default window = [%v, %v); want [T0, T0+1h)", a.From, a.To)
		}
		from := url.QueryEscape(storetest.T0.Add(2 * time.Hour).Format(time.RFC3339))
		check("?from="+from, 10, 1)
		check("?size=medium&from="+from, 5, 1)
		check("?size=large&from="+from+"&to="+url.QueryEscape(storetest.T0.Add(150*time.Minute).Format(time.RFC3339)), 2, 1)
		// An unescaped "+01:00" offset arrives as a space and is still understood.
		check("?from=2030-01-07T11:00:00+01:00", 10, 1)
	})
}

func TestBadRequests(t *testing.T) {
	e := newAPI(t, teststore.Backend{Name: "sqlite", Open: teststore.OpenSQLite})
	lot := e.fixture.Lot.ID
	cases := []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/lots/" + lot + "/spots?size=huge", 400, "invalid"},
		{"/api/v1/lots/" + lot + "/spots?from=tomorrow", 400, "invalid"},
		{"/api/v1/lots/" + lot + "/spots?to=2030-13-01T00:00:00Z", 400, "invalid"},
		{"/api/v1/lots/" + lot + "/spots?from=2030-01-07T10:00:00Z&to=2030-01-07T09:00:00Z", 400, "invalid"},
		{"/api/v1/lots/" + lot + "/spots?from=2030-01-07T10:00:00Z&to=2030-01-07T10:00:00Z", 400, "invalid"},
		{"/api/v1/lots/lot_missing/spots", 404, "not_found"},
		{"/api/v1/lots/lot_missing", 404, "not_found"},
		{"/api/v1/nothing-here", 404, "not_found"},
	}
	for _, c := range cases {
		resp, body := get(t, e.srv.URL+c.path)
		var p httpapi.Problem
		json.Unmarshal(body, &p)
		if resp.StatusCode != c.status || p.Code != c.code || p.Status != c.status || p.Detail == "" ||
			resp.Header.Get("Content-Type") != "application/problem+json" || p.RequestID != resp.Header.Get("X-Request-Id") {
			t.Errorf("GET %s = %d %s %s; want %d problem+json with code %s", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, c.status, c.code)
		}
	}
}

func TestHealth(t *testing.T) {
	s := teststore.OpenSQLite(t)
	clock := parkingtest.NewClock(storetest.T0)
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.WithStore(httpapi.Services{Log: parkingtest.Logger(t),
		Engine: booking.New(s, clock), Auth: auth.New(s, clock), Clock: clock}, s)))
	defer srv.Close()
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp, body := get(t, srv.URL+path); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d %s; want 200", path, resp.StatusCode, body)
		}
	}
	s.Close() // the database is gone: not ready, but still alive
	if resp, _ := get(t, srv.URL+"/readyz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz with the database closed = %d; want 503", resp.StatusCode)
	}
	if resp, _ := get(t, srv.URL+"/healthz"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz with the database closed = %d; want 200", resp.StatusCode)
	}
}
