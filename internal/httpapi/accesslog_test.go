package httpapi_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"parkd/internal/auth"
	"parkd/internal/booking"
	"parkd/internal/httpapi"
	"parkd/internal/metrics"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(msg string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(s.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func TestAccessLog(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		s := teststore.OpenSQLite(t)
		clock := parkingtest.NewClock(storetest.T0)
		var logs syncBuffer
		log := slog.New(slog.NewJSONHandler(parkingtest.CardWatch(t, &logs), nil))
		m := metrics.New(clock, metrics.Build{})
		srv := httptest.NewServer(httpapi.NewHandler(httpapi.WithStore(httpapi.Services{Log: log, Engine: booking.New(s, clock),
			Auth: auth.New(s, clock), Clock: clock, Metrics: m, AccessLog: enabled}, s)))
		t.Cleanup(srv.Close)
		f := storetest.MustFixture(t, s)
		ada := signUp(t, srv.URL, "Ada", "ada@example.com")
		ada.must(200, "GET", "/api/v1/lots/"+f.Lot.ID, nil, "X-Forwarded-For", "203.0.113.9")
		(&client{t: t, base: srv.URL}).must(404, "GET", "/no/such/route", nil)

		lines := logs.lines("request")
		if !enabled {
			if len(lines) != 0 {
				t.Errorf("access log off: %d request lines; want none", len(lines))
			}
			continue
		}
		var lot, missing map[string]any
		for _, l := range lines {
			switch l["path"] {
			case "/api/v1/lots/" + f.Lot.ID:
				lot = l
			case "/no/such/route":
				missing = l
			}
		}
		if lot == nil || missing == nil {
			t.Fatalf("access log lines %v; want one for each request", lines)
		}
		for k, want := range map[string]any{"route": "GET /api/v1/lots/{lot}", "method": "GET", "status": 200.0,
			"client": "127.0.0.1", "forwarded_for": "203.0.113.9", "level": "INFO"} {
			if lot[k] != want {
				t.Errorf("access log %s = %v; want %v (line %v)", k, lot[k], want, lot)
			}
		}
		if id, _ := lot["user_id"].(string); !strings.HasPrefix(id, "usr_") {
			t.Errorf("access log user_id = %v; want the signed-in user", lot["user_id"])
		}
		if rid, _ := lot["request_id"].(string); len(rid) != 16 || lot["bytes"].(float64) <= 0 || lot["duration"] == nil {
			t.Errorf("access log request_id, bytes, duration = %v, %v, %v", lot["request_id"], lot["bytes"], lot["duration"])
		}
		if missing["route"] != "" || missing["status"] != 404.0 {
			t.Errorf("access log of an unmatched path = %v; want no route, 404", missing)
		}

		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		body, _ := io.ReadAll(rec.Body)
		for _, want := range []string{
			`parkd_http_requests_total{route="GET /api/v1/lots/{lot}",status="200"} 1`,
			`parkd_http_requests_total{route="unmatched",status="404"} 1`,
			`parkd_http_requests_total{route="POST /api/v1/users",status="201"} 1`,
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		if strings.Contains(string(body), f.Lot.ID) {
			t.Errorf("/metrics names a lot id: routes must be patterns, not paths")
		}
	}
}
