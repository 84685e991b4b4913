package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"parkd/internal/metrics"
	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// scrape reads every sample the handler serves, keyed as exposed:
// `name{label="value",...}`.
func scrape(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	body, _ := io.ReadAll(rec.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func TestCountingStore(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		ctx := context.Background()
		clock := parkingtest.NewClock(storetest.T0)
		m := metrics.New(clock, metrics.Build{Version: "test", Revision: "abc"})
		raw := b.Open(t)
		s := m.Store(raw)
		f := storetest.MustFixture(t, s)
		start, end := storetest.T0.Add(time.Hour), storetest.T0.Add(2*time.Hour)

		r := f.MustHold(t, s, f.Spots[5].ID, storetest.T0, start, end)
		if err := s.Hold(ctx, f.NewHold(storetest.T0, start, end), []string{f.Spots[5].ID}, nil); !errors.Is(err, parking.ErrSpotUnavailable) {
			t.Fatalf("second Hold = %v; want ErrSpotUnavailable", err)
		}
		p := storetest.NewCharge(r, storetest.T0)
		if err := s.CreatePayment(ctx, p); err != nil {
			t.Fatal(err)
		}
		wctx, seen := metrics.WatchWebhook(ctx)
		u := parking.PaymentUpdate{PaymentID: p.ID, EventID: "evt_1", From: []string{parking.PaymentPending},
			To: parking.PaymentSucceeded, Confirm: true, At: storetest.T0}
		if _, _, err := s.UpdatePayment(wctx, u); err != nil {
			t.Fatal(err)
		}
		if got := seen(); got != "applied" {
			t.Errorf("webhook seen = %q; want applied", got)
		}
		wctx, seen = metrics.WatchWebhook(ctx)
		if _, _, err := s.UpdatePayment(wctx, u); !errors.Is(err, parking.ErrDuplicateEvent) {
			t.Fatalf("UpdatePayment(same event) = %v; want ErrDuplicateEvent", err)
		}
		if got := seen(); got != "duplicate" {
			t.Errorf("webhook seen = %q; want duplicate", got)
		}
		storetest.MustChange(t, s, r.ID, parking.StatusConfirmed, parking.StatusCheckedIn, start)
		if err := s.RecordGateEvent(ctx, &parking.GateEvent{ID: parking.NewID("gev"), LotID: f.Lot.ID, GateID: "g",
			Direction: parking.Entry, ReservationID: r.ID, Decision: parking.Open, Reason: "ok", At: start}); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordGateEvent(ctx, &parking.GateEvent{ID: parking.NewID("gev"), LotID: f.Lot.ID, GateID: "g",
			Direction: parking.Exit, Decision: parking.Open, Reason: "manual: barrier stuck", At: start}); err != nil {
			t.Fatal(err)
		}
		// Two holds lapse; the sweeper expires them.
		f.MustHold(t, s, f.Spots[6].ID, storetest.T0, start, end)
		f.MustHold(t, s, f.Spots[7].ID, storetest.T0, start, end)
		if n, err := s.ExpireHolds(ctx, storetest.T0.Add(time.Hour)); err != nil || n != 2 {
			t.Fatalf("ExpireHolds = %d, %v; want 2", n, err)
		}
		// A booking moved to another spot.
		mv := f.MustConfirmed(t, s, f.Spots[9].ID, start.Add(5*time.Hour), end.Add(5*time.Hour))
		if _, err := s.MoveReservation(ctx, parking.Move{ID: mv.ID, From: f.Spots[9].ID, Candidates: []string{f.Spots[8].ID},
			Reason: "test", At: storetest.T0}); err != nil {
			t.Fatalf("MoveReservation = %v", err)
		}
		// A change made beside the wrapper (another instance) is not counted.
		other := f.MustHold(t, raw, f.Spots[8].ID, storetest.T0.Add(time.Hour), start, end)
		storetest.MustChange(t, raw, other.ID, parking.StatusHeld, parking.StatusCancelled, storetest.T0.Add(time.Hour))

		got := scrape(t, m)
		for key, want := range map[string]float64{
			`parkd_holds_total{outcome="created"}`:                                         4,
			`parkd_holds_total{outcome="conflict"}`:                                        1,
			`parkd_holds_total{outcome="expired"}`:                                         2,
			`parkd_reservation_events_total{event="reservation.held"}`:                     4,
			`parkd_reservation_events_total{event="reservation.confirmed"}`:                2,
			`parkd_reservation_events_total{event="reservation.checked_in"}`:               1,
			`parkd_reservation_events_total{event="reservation.expired"}`:                  2,
			`parkd_reservation_events_total{event="reservation.cancelled"}`:                0,
			`parkd_reservation_events_total{event="reservation.moved"}`:                    1,
			`parkd_payments_total{kind="charge",outcome="created",purpose="booking"}`:      1,
			`parkd_payments_total{kind="charge",outcome="succeeded",purpose="booking"}`:    1,
			`parkd_gate_decisions_total{decision="open",direction="entry",reason="ok"}`:    1,
			`parkd_gate_decisions_total{decision="open",direction="exit",reason="manual"}`: 1,
			`parkd_build_info{revision="abc",version="test"}`:                              1,
			`parkd_retention_pruned_total{target="sessions"}`:                              0,
			`parkd_payment_webhooks_total{verdict="applied"}`:                              0, // counted by the HTTP handler
		} {
			if got[key] != want {
				t.Errorf("%s = %v; want %v", key, got[key], want)
			}
		}
	})
}

func TestJobLag(t *testing.T) {
	clock := parkingtest.NewClock(storetest.T0)
	m := metrics.New(clock, metrics.Build{})
	fail := true
	job := m.Job("sweep", func(context.Context) error {
		if fail {
			return errors.New("database down")
		}
		return nil
	})
	clock.Advance(time.Minute)
	job(context.Background())
	got := scrape(t, m)
	if got[`parkd_job_lag_seconds{job="sweep"}`] != 60 || got[`parkd_job_runs_total{job="sweep",result="error"}`] != 1 ||
		got[`parkd_job_last_success_timestamp_seconds{job="sweep"}`] != 0 {
		t.Errorf("after a failure a minute in: lag %v, errors %v, last success %v; want 60, 1, 0",
			got[`parkd_job_lag_seconds{job="sweep"}`], got[`parkd_job_runs_total{job="sweep",result="error"}`],
			got[`parkd_job_last_success_timestamp_seconds{job="sweep"}`])
	}
	fail = false
	job(context.Background())
	clock.Advance(5 * time.Second)
	got = scrape(t, m)
	if got[`parkd_job_lag_seconds{job="sweep"}`] != 5 || got[`parkd_job_runs_total{job="sweep",result="ok"}`] != 1 {
		t.Errorf("5s after a success: lag %v, ok runs %v; want 5, 1", got[`parkd_job_lag_seconds{job="sweep"}`], got[`parkd_job_runs_total{job="sweep",result="ok"}`])
	}
}

func TestBacklog(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		clock := parkingtest.NewClock(storetest.T0)
		m := metrics.New(clock, metrics.Build{})
		s := b.Open(t)
		m.WatchBacklog(s, "notifications")
		m.WatchPools(s.(metrics.Pools))
		f := storetest.MustFixture(t, s)
		f.MustHold(t, s, f.Spots[5].ID, storetest.T0, storetest.T0.Add(time.Hour), storetest.T0.Add(2*time.Hour))
		clock.Advance(7 * time.Minute) // the hold lapsed 2 minutes ago
		got := scrape(t, m)
		if got[`parkd_backlog_items{work="lapsed_holds"}`] != 1 || got[`parkd_backlog_age_seconds{work="lapsed_holds"}`] != 120 {
			t.Errorf("lapsed holds = %v, age %v; want 1, 120", got[`parkd_backlog_items{work="lapsed_holds"}`], got[`parkd_backlog_age_seconds{work="lapsed_holds"}`])
		}
		if got[`parkd_backlog_items{work="events"}`] != 1 || got[`parkd_backlog_up`] != 1 {
			t.Errorf("events not read by the notifier = %v (up %v); want 1", got[`parkd_backlog_items{work="events"}`], got[`parkd_backlog_up`])
		}
		pools := 0
		for k := range got {
			if strings.HasPrefix(k, "parkd_db_connections_max{") {
				pools++
			}
		}
		if pools == 0 {
			t.Errorf("no parkd_db_connections_max series")
		}
	})
}

// TestCountsWhatWakes: every store method the live map is woken after (each
// writes events) is one the counting store counts, so that a new kind of
// change (a move, an extension) cannot be added to one and forgotten in the
// other.
func TestCountsWhatWakes(t *testing.T) {
	// The methods that wake the hub: changes that write outbox events. The
	// wrapper's other methods (lot and spot edits) only refresh the lot in
	// the availability index; metrics count no shape edits.
	waking := methodsOf(t, "../live/waking.go", "wakingStore", "changed")
	counting := methodsOf(t, "store.go", "countingStore", "")
	if len(waking) == 0 {
		t.Fatal("found no methods of live's wakingStore")
	}
	var missing []string
	for name := range waking {
		if !counting[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("live.Hub.Waking wakes after %v, which metrics.Store does not count: add them to internal/metrics/store.go", missing)
	}
}

// methodsOf names receiver's methods in file; with calling, only those whose
// body calls a method of that name.
func methodsOf(t *testing.T, file, receiver, calling string) map[string]bool {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv == nil || len(fd.Recv.List) != 1 {
			continue
		}
		typ := fd.Recv.List[0].Type
		if star, ok := typ.(*ast.StarExpr); ok {
			typ = star.X
		}
		if id, ok := typ.(*ast.Ident); ok && id.Name == receiver && (calling == "" || calls(fd, calling)) {
			out[fd.Name.Name] = true
		}
	}
	return out
}

type fakeLive struct{}

func (fakeLive) Watched() (int, int) { return 1, 2 }
func (fakeLive) Dropped() int64      { return 0 }
func (fakeLive) Connections() int    { return 3 }

type fakePools struct{}

func (fakePools) PoolStats() []parking.PoolStats { return []parking.PoolStats{{Name: "pool", Max: 8}} }

// TestDashboardUsesRealMetrics: every metric the Grafana dashboard in deploy/
// queries is one parkd exposes.
func TestDashboardUsesRealMetrics(t *testing.T) {
	m := metrics.New(parkingtest.NewClock(storetest.T0), metrics.Build{})
	m.WatchLive(fakeLive{}, fakeLive{})
	m.WatchPools(fakePools{})
	m.WatchBacklog(teststore.OpenSQLite(t), "notifications")
	m.Job("expire_holds", func(context.Context) error { return nil })
	m.RequestStarted()("GET /healthz", 200) // series of vectors appear once they have a value
	m.GateDecision(parking.Entry, parking.Open, "ok")
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	exposed := map[string]bool{}
	for _, f := range families {
		exposed[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exposed[f.GetName()+s] = true
			}
		}
	}
	raw, err := os.ReadFile("../../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("deploy/grafana-dashboard.json: %v", err)
	}
	names := regexp.MustCompile(`\b(parkd|go|process)_[a-z_]+\b`)
	queried := 0
	for _, p := range dash.Panels {
		for _, q := range p.Targets {
			for _, name := range names.FindAllString(q.Expr, -1) {
				queried++
				if !exposed[name] {
					t.Errorf("panel %q queries %s, which parkd does not expose", p.Title, name)
				}
			}
		}
	}
	if queried < 20 {
		t.Errorf("the dashboard queries %d metrics; want it to show parkd's", queried)
	}
}

// calls reports whether fd's body calls a method named name.
func calls(fd *ast.FuncDecl, name string) bool {
	found := false
	ast.Inspect(fd, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			if sel, ok := c.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == name {
				found = true
			}
		}
		return !found
	})
	return found
}
