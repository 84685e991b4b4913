package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"parkd/internal/demo"
	"parkd/internal/store/teststore"
)

// scrapeMetrics reads every sample at url, keyed as exposed: `name{labels}`.
func scrapeMetrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
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

// issueGate registers a gate of lot with "parkd gate issue" and returns its id and key.
func issueGate(t *testing.T, db, lot, direction string) (id, key string) {
	t.Helper()
	out, errs, code := runCLI(t, "gate", "issue", "--db", db, "--lot", lot, "--name", direction+" gate", "--direction", direction)
	if code != 0 {
		t.Fatalf("gate issue: exit %d %s", code, errs)
	}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "gate "); ok {
			id, _, _ = strings.Cut(rest, " ")
		}
		if rest, ok := strings.CutPrefix(line, "key: "); ok {
			key = rest
		}
	}
	if id == "" || !strings.HasPrefix(key, "pkg_") {
		t.Fatalf("gate issue printed %q; want the gate's id and key", out)
	}
	return id, key
}

// TestMetricsAfterAVisit is acceptance 1: after a scripted booking, payment,
// gate entry and exit, each counter on /metrics moved by exactly as much as
// the script did.
func TestMetricsAfterAVisit(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		db := b.DSN(t)
		base, logs := startParkdLogs(t, "--db", db)
		metricsURL := "http://" + logged(logs, "metrics listening", "addr") + "/metrics"
		if resp, err := http.Get(base + "/metrics"); err != nil || resp.StatusCode != 404 {
			t.Errorf("GET /metrics on the main address = %v, %v; want 404: metrics are on their own loopback address", resp.StatusCode, err)
		} else {
			resp.Body.Close()
		}
		// The profiler is on the private metrics address only.
		for _, c := range []struct {
			url  string
			want int
		}{
			{strings.TrimSuffix(metricsURL, "/metrics") + "/debug/pprof/goroutine?debug=1", 200},
			{base + "/debug/pprof/goroutine?debug=1", 404},
		} {
			if resp, err := http.Get(c.url); err != nil || resp.StatusCode != c.want {
				t.Errorf("GET %s = %v, %v; want %d", c.url, resp.StatusCode, err, c.want)
			} else {
				resp.Body.Close()
			}
		}
		garage := demoGarage(t, base)
		entryID, entryKey := issueGate(t, db, garage, "entry")
		exitID, exitKey := issueGate(t, db, garage, "exit")
		var spots struct{ Spots []struct{ ID, Size string } }
		getJSON(t, base+"/api/v1/lots/"+garage+"/spots", 200, &spots)
		spot := ""
		for _, s := range spots.Spots {
			if s.Size == "standard" {
				spot = s.ID
				break
			}
		}

		before := scrapeMetrics(t, metricsURL)

		driver := &api{t: t, base: base}
		var sess struct{ Token string }
		driver.call(201, "POST", "/api/v1/sessions", map[string]string{"email": demo.DriverEmail, "password": demo.DriverPassword}, &sess)
		driver.token = sess.Token
		start := time.Now().UTC().Truncate(time.Second)
		hold := map[string]any{"lot_id": garage, "spot_id": spot, "plate": "MTR1", "size": "SEDAN",
			"starts_at": start, "ends_at": start.Add(time.Hour)}
		var r struct{ ID, Status string }
		driver.call(201, "POST", "/api/v1/reservations", hold, &r, "Idempotency-Key", "metrics-hold")
		driver.call(409, "POST", "/api/v1/reservations", hold, nil, "Idempotency-Key", "metrics-hold-again")
		// A card that settles later: the sandbox's signed webhook confirms it.
		driver.call(202, "POST", "/api/v1/reservations/"+r.ID+"/payments", map[string]string{"payment_method": "pm_card_parkd_async_success"}, nil,
			"Idempotency-Key", "metrics-pay")
		deadline := time.Now().Add(20 * time.Second)
		for r.Status != "confirmed" && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			driver.call(200, "GET", "/api/v1/reservations/"+r.ID, nil, &r)
		}
		if r.Status != "confirmed" {
			t.Fatalf("reservation %s is %s 20s after an asynchronous payment; want confirmed by the webhook", r.ID, r.Status)
		}
		forged := &api{t: t, base: base}
		forged.call(400, "POST", "/api/v1/payments/webhook", map[string]string{"id": "evt_forged"}, nil, "Stripe-Signature", "t=1,v1=00")
		var p struct{ Code string }
		driver.call(200, "GET", "/api/v1/reservations/"+r.ID+"/pass", nil, &p)
		scan := func(id, key, code, want string) {
			t.Helper()
			gate := &api{t: t, base: base, token: key}
			var d struct{ Decision, Reason string }
			gate.call(200, "POST", "/api/v1/gates/"+id+"/scans", map[string]string{"code": code}, &d)
			if d.Decision+" "+d.Reason != want {
				t.Fatalf("scan at %s = %s %s; want %s", id, d.Decision, d.Reason, want)
			}
		}
		scan(entryID, entryKey, "P-not-a-pass", "deny invalid_pass")
		scan(entryID, entryKey, p.Code, "open ok")
		scan(exitID, exitKey, p.Code, "open ok")

		want := map[string]float64{
			`parkd_holds_total{outcome="created"}`:                                                             1,
			`parkd_holds_total{outcome="conflict"}`:                                                            1,
			`parkd_holds_total{outcome="expired"}`:                                                             0,
			`parkd_reservation_events_total{event="reservation.held"}`:                                         1,
			`parkd_reservation_events_total{event="reservation.confirmed"}`:                                    1,
			`parkd_reservation_events_total{event="reservation.checked_in"}`:                                   1,
			`parkd_reservation_events_total{event="reservation.completed"}`:                                    1,
			`parkd_reservation_events_total{event="reservation.cancelled"}`:                                    0,
			`parkd_reservation_events_total{event="reservation.no_show"}`:                                      0,
			`parkd_reservation_events_total{event="reservation.moved"}`:                                        0,
			`parkd_payments_total{kind="charge",outcome="created",purpose="booking"}`:                          1,
			`parkd_payments_total{kind="charge",outcome="succeeded",purpose="booking"}`:                        1,
			`parkd_payments_total{kind="charge",outcome="failed",purpose="booking"}`:                           0,
			`parkd_payment_webhooks_total{verdict="applied"}`:                                                  1,
			`parkd_payment_webhooks_total{verdict="refused"}`:                                                  1,
			`parkd_payment_webhooks_total{verdict="duplicate"}`:                                                0,
			`parkd_gate_decisions_total{decision="open",direction="entry",reason="ok"}`:                        1,
			`parkd_gate_decisions_total{decision="open",direction="exit",reason="ok"}`:                         1,
			`parkd_gate_decisions_total{decision="deny",direction="entry",reason="invalid_pass"}`:              1,
			`parkd_http_requests_total{route="POST /api/v1/reservations",status="201"}`:                        1,
			`parkd_http_requests_total{route="POST /api/v1/reservations",status="409"}`:                        1,
			`parkd_http_requests_total{route="POST /api/v1/reservations/{reservation}/payments",status="202"}`: 1,
			`parkd_http_requests_total{route="POST /api/v1/payments/webhook",status="200"}`:                    1,
			`parkd_http_requests_total{route="POST /api/v1/payments/webhook",status="400"}`:                    1,
			`parkd_http_requests_total{route="POST /api/v1/gates/{gate}/scans",status="200"}`:                  3,
			`parkd_http_request_duration_seconds_count{route="POST /api/v1/reservations"}`:                     2,
			`parkd_http_request_duration_seconds_count{route="POST /api/v1/gates/{gate}/scans"}`:               3,
		}
		after := scrapeMetrics(t, metricsURL)
		for key, w := range want {
			if _, ok := after[key]; !ok {
				t.Errorf("%s is not on /metrics", key)
				continue
			}
			if got := after[key] - before[key]; got != w {
				t.Errorf("%s moved by %v; want %v", key, got, w)
			}
		}
		for _, key := range []string{`parkd_live_connections{stream="lot"}`, `parkd_live_dropped_total`, `parkd_db_connections_max{pool="` + map[string]string{"sqlite": "write", "postgres": "pool", "mysql": "pool"}[b.Name] + `"}`,
			`parkd_job_lag_seconds{job="expire_holds"}`, `parkd_job_lag_seconds{job="send_notifications"}`, `parkd_backlog_items{work="notifications"}`,
			`parkd_backlog_age_seconds{work="lapsed_holds"}`, `parkd_backlog_items{work="events"}`, `parkd_retention_pruned_total{target="sessions"}`,
			`parkd_notifications_total{channel="in_app",outcome="sent"}`, `parkd_http_requests_in_flight`, `go_goroutines`, `parkd_backlog_up`} {
			if _, ok := after[key]; !ok {
				t.Errorf("%s is not on /metrics", key)
			}
		}
		if after[`parkd_backlog_up`] != 1 {
			t.Errorf("parkd_backlog_up = %v; want 1", after[`parkd_backlog_up`])
		}
		// The access log has a line for the scans, by route, with the gate.
		found := false
		for _, line := range strings.Split(logs.String(), "\n") {
			if strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"route":"POST /api/v1/gates/{gate}/scans"`) &&
				strings.Contains(line, fmt.Sprintf(`"gate_id":%q`, exitID)) && strings.Contains(line, `"status":200`) {
				found = true
			}
		}
		if !found {
			t.Errorf("no access log line for the exit scan with its route and gate")
		}
	})
}
