package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"parkd/internal/demo"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/store/teststore"
)

// logBuffer collects parkd's log lines for the test to read while it runs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startParkd runs the whole program on a free port and returns its base URL.
// The program is stopped, and must stop cleanly, when the test ends.
func startParkd(t *testing.T, args ...string) string {
	t.Helper()
	base, _ := startParkdLogs(t, args...)
	return base
}

// startParkdLogs is startParkd that also returns the program's log.
func startParkdLogs(t *testing.T, args ...string) (string, *logBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logBuffer{}
	// Registered before the program's stop, so it reads every line: the test
	// fails if one holds a card number.
	out := parkingtest.CardWatch(t, logs)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0"}, args...), func(string) string { return "" }, out, out)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v after shutdown; want nil", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("parkd did not stop within 30s of cancellation")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v\n%s", err, logs)
		default:
		}
		for _, line := range strings.Split(logs.String(), "\n") {
			var entry struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" {
				base := "http://" + entry.Addr
				if resp, err := http.Get(base + "/healthz"); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						return base, logs
					}
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("parkd did not become healthy within 30s; logs:\n%s", logs)
	return "", nil
}

// logged returns the value of field in the first log line with message msg.
func logged(logs *logBuffer, msg, field string) string {
	for _, line := range strings.Split(logs.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil && entry["msg"] == msg {
			s, _ := entry[field].(string)
			return s
		}
	}
	return ""
}

func getJSON(t *testing.T, url string, wantStatus int, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != wantStatus {
		t.Fatalf("GET %s = %d; want %d", url, resp.StatusCode, wantStatus)
	}
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: decode: %v", url, err)
		}
	}
}

// TestDemoGarage is the README's promise: a fresh parkd serves the demo garage.
func TestDemoGarage(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		base := startParkd(t, "--db", b.DSN(t))
		getJSON(t, base+"/readyz", http.StatusOK, nil)

		var lots struct {
			Lots []struct{ ID, Name string }
		}
		getJSON(t, base+"/api/v1/lots", http.StatusOK, &lots)
		if len(lots.Lots) != 2 {
			t.Fatalf("GET /api/v1/lots = %d lots; want the demo garage and mall", len(lots.Lots))
		}
		var garage string
		for _, l := range lots.Lots {
			if strings.Contains(l.Name, "Garage") {
				garage = l.ID
			}
		}
		var spots struct {
			Spots []struct {
				Label, Size, Status string
				Amenities           []string
			}
			Counts map[string]struct{ Total, Available int }
		}
		getJSON(t, base+"/api/v1/lots/"+garage+"/spots", http.StatusOK, &spots)
		if len(spots.Spots) != 450 {
			t.Fatalf("garage spots = %d; want 450", len(spots.Spots))
		}
		amenities := map[string]int{}
		for _, s := range spots.Spots {
			for _, a := range s.Amenities {
				amenities[a]++
			}
			if s.Status != "available" {
				t.Errorf("spot %s is %s in a fresh demo; want available", s.Label, s.Status)
			}
		}
		if amenities["ev"] == 0 || amenities["accessible"] == 0 {
			t.Errorf("demo amenities = %v; want some ev and accessible spots", amenities)
		}
		for _, size := range []string{"motorcycle", "compact", "standard", "large"} {
			if spots.Counts[size].Total == 0 {
				t.Errorf("demo has no %s spots", size)
			}
		}
		var lot struct{ Levels []struct{ Name string } }
		getJSON(t, base+"/api/v1/lots/"+garage, http.StatusOK, &lot)
		if len(lot.Levels) != 3 {
			t.Errorf("garage levels = %d; want 3", len(lot.Levels))
		}
		getJSON(t, base+"/api/v1/lots/"+garage+"/spots?size=SUV", http.StatusOK, &spots)
		for _, s := range spots.Spots {
			if s.Size != "large" {
				t.Fatalf("spots?size=SUV includes a %s spot; want only spots an SUV fits", s.Size)
			}
		}

		// The garage has an entry and an exit gate whose kiosks take the
		// documented demo keys: a drive-up comes in and is asked to pay
		// on the way out.
		op := &api{t: t, base: base}
		var sess struct{ Token string }
		op.call(201, "POST", "/api/v1/sessions", map[string]string{"email": demo.OperatorEmail, "password": demo.OperatorPassword}, &sess)
		op.token = sess.Token
		var gates struct {
			Gates []struct{ ID, Direction string }
		}
		op.call(200, "GET", "/api/v1/lots/"+garage+"/gates", nil, &gates)
		byDir := map[string]string{}
		for _, g := range gates.Gates {
			byDir[g.Direction] = g.ID
		}
		if len(gates.Gates) != 2 || byDir["entry"] == "" || byDir["exit"] == "" {
			t.Fatalf("demo garage gates = %+v; want an entry and an exit", gates.Gates)
		}
		var in struct{ Decision, Reason string }
		(&api{t: t, base: base, token: demo.EntryGateKey}).call(200, "POST", "/api/v1/gates/"+byDir["entry"]+"/scans",
			map[string]string{"plate": "DEMO 1"}, &in, "Idempotency-Key", "demo-in")
		if in.Decision != "open" || in.Reason != "drive_up" {
			t.Errorf("a drive-up at the demo entry = %+v; want open, drive_up", in)
		}
		var out struct{ Decision, Reason string }
		(&api{t: t, base: base, token: demo.ExitGateKey}).call(200, "POST", "/api/v1/gates/"+byDir["exit"]+"/scans",
			map[string]string{"code": "NOSUCHCODE"}, &out, "Idempotency-Key", "demo-out")
		if out.Decision != "deny" || out.Reason != "invalid_pass" {
			t.Errorf("an unknown code at the demo exit = %+v; want deny, invalid_pass", out)
		}
	})
}

// TestRestartKeepsData: a second start on the same database keeps the demo and
// does not create it twice.
func TestRestartKeepsData(t *testing.T) {
	dsn := teststore.SQLiteDSN(t)
	for i := range 2 {
		t.Run(fmt.Sprint("start", i+1), func(t *testing.T) {
			base := startParkd(t, "--db", dsn)
			var lots struct{ Lots []struct{ ID string } }
			getJSON(t, base+"/api/v1/lots", http.StatusOK, &lots)
			if len(lots.Lots) != 2 {
				t.Errorf("start %d: %d lots; want 2", i+1, len(lots.Lots))
			}
		})
	}
}

func TestNoDemo(t *testing.T) {
	base := startParkd(t, "--db", teststore.SQLiteDSN(t), "--no-demo")
	var lots struct{ Lots []struct{ ID string } }
	getJSON(t, base+"/api/v1/lots", http.StatusOK, &lots)
	if len(lots.Lots) != 0 {
		t.Errorf("--no-demo: %d lots; want 0", len(lots.Lots))
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--nope"}, {"--log-level", "loud"}, {"extra"}, {"--map-tiles", "https://tiles.example.com/{z}/{x}.png"}} {
		var out logBuffer
		if err := run(context.Background(), args, func(string) string { return "" }, &out, &out); err == nil {
			t.Errorf("run(%q) = nil; want an error", args)
		}
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	env := map[string]string{"PARKD_ADDR": "127.0.0.1:9999", "PARKD_DB": "postgres://x", "PARKD_NO_DEMO": "true"}
	c, err := parseConfig(nil, func(k string) string { return env[k] })
	if err != nil || c.addr != "127.0.0.1:9999" || c.db != "postgres://x" || !c.noDemo {
		t.Errorf("parseConfig(env) = %+v, %v", c, err)
	}
	c, _ = parseConfig([]string{"--addr", ":1"}, func(k string) string { return env[k] })
	if c.addr != ":1" {
		t.Errorf("flag did not win over PARKD_ADDR: %q", c.addr)
	}
	c, err = parseConfig(nil, func(k string) string { return map[string]string{"PARKD_MAP_TILES": "off"}[k] })
	if err != nil || c.mapTiles != "" {
		t.Errorf("parseConfig(PARKD_MAP_TILES=off) map tiles = %q, %v; want none", c.mapTiles, err)
	}
}
