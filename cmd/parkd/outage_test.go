package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"parkd/internal/demo"
	"parkd/internal/httpapi"
	"parkd/internal/parking"
	"parkd/internal/store/postgres/pgtest"
	"parkd/internal/store/teststore"
	"parkd/internal/web"
)

// tcpProxy forwards connections to a database, and can cut them all at once:
// to parkd the database then looks as it does when its host dies or a
// failover is under way (established connections reset, new ones refused).
type tcpProxy struct {
	t      *testing.T
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *tcpProxy) pipe(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, server) {
		return
	}
	go func() { io.Copy(server, client); server.Close() }()
	io.Copy(client, server)
	client.Close()
}

// track records a forwarded pair, or closes it when the proxy was cut meanwhile.
func (p *tcpProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		if p.ln == nil {
			c.Close()
			continue
		}
		p.conns[c] = true
	}
	return p.ln != nil
}

// cut refuses new connections and resets the ones open.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// restore listens again on the same address: the database is back.
func (p *tcpProxy) restore() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}

// viaProxy is dsn with its host and port replaced by the proxy's.
func viaProxy(t *testing.T, dsn string, p *tcpProxy) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.addr
	return u.String()
}

// TestDatabaseOutageAnswers503 is issue 15's acceptance point 4: with the
// database (PostgreSQL, MariaDB) cut off, every route that needs it answers 503 with Retry-After, as
// problem+json (the API) or a readable HTML page (the pages); none answers
// 500; /readyz names the database; and when the database comes back parkd
// serves again without a restart.
func TestDatabaseOutageAnswers503(t *testing.T) {
	for _, be := range teststore.Backends(t) {
		if be.Name == "sqlite" {
			continue // a file, not a server to lose: see sqlite's TestUnavailable
		}
		t.Run(be.Name, func(t *testing.T) { testDatabaseOutage(t, be.DSN(t)) })
	}
}

func testDatabaseOutage(t *testing.T, dsn string) {
	u, _ := url.Parse(dsn)
	proxy := startProxy(t, u.Host)
	base := startParkd(t, "--db", viaProxy(t, dsn, proxy), "--sweep-every", "200ms")

	garage := demoGarage(t, base)
	driver := &api{t: t, base: base}
	var sess struct{ Token string }
	driver.call(201, "POST", "/api/v1/sessions", map[string]string{"email": demo.DriverEmail, "password": demo.DriverPassword}, &sess)
	driver.token = sess.Token
	operator := &api{t: t, base: base}
	operator.call(201, "POST", "/api/v1/sessions", map[string]string{"email": demo.OperatorEmail, "password": demo.OperatorPassword}, &sess)
	operator.token = sess.Token
	var lot struct {
		OperatorID string `json:"operator_id"`
		Levels     []struct{ ID string }
	}
	operator.call(200, "GET", "/api/v1/lots/"+garage, nil, &lot)
	var spots struct{ Spots []struct{ ID string } }
	operator.call(200, "GET", "/api/v1/lots/"+garage+"/spots", nil, &spots)
	var gates struct{ Gates []struct{ ID string } }
	operator.call(200, "GET", "/api/v1/lots/"+garage+"/gates", nil, &gates)
	var vehicles struct{ Vehicles []struct{ ID string } }
	driver.call(200, "GET", "/api/v1/users/me/vehicles", nil, &vehicles)
	var vehicle struct{ ID string }
	driver.call(201, "POST", "/api/v1/users/me/vehicles", map[string]string{"plate": "OUT 503", "size": "standard"}, &vehicle, "Idempotency-Key", "outage-vehicle")
	start := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Minute)
	var hold struct{ ID string }
	driver.call(201, "POST", "/api/v1/reservations", map[string]any{"lot_id": garage, "vehicle_id": vehicle.ID,
		"starts_at": start, "ends_at": start.Add(time.Hour)}, &hold, "Idempotency-Key", "outage-hold")

	params := map[string]string{
		"lot": garage, "level": lot.Levels[0].ID, "spot": spots.Spots[0].ID, "gate": gates.Gates[0].ID,
		"reservation": hold.ID, "payment": "pay_none", "id": "me", "vehicle": vehicle.ID, "operator": lot.OperatorID,
		"file": "app.css", "$": "",
	}
	// Routes that answer without the database whoever asks.
	noDatabase := map[string]bool{
		"GET /healthz": true, "GET /api/openapi.json": true, "GET /static/{file}": true, "GET /favicon.ico": true,
		"GET /signup": true, "GET /signin": true, "GET /signout": true,
	}

	proxy.cut()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, body := outageRequest(t, base, "GET /readyz", params, "", false)
		var p struct {
			Code string
			Down []string
		}
		json.Unmarshal(body, &p)
		if resp.StatusCode == http.StatusServiceUnavailable {
			if p.Code != "unavailable" || len(p.Down) != 1 || p.Down[0] != "database" {
				t.Errorf("GET /readyz with the database cut off = %s; want unavailable, down [database]", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz = %d 10s after the database was cut off; want 503", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}

	routes := append(httpapi.Routes(), web.Patterns()...)
	for _, who := range []struct {
		name, token string
	}{{"anonymous", ""}, {"driver", driver.token}, {"operator", operator.token}, {"gate", demo.EntryGateKey}} {
		unavailable := 0
		for _, route := range routes {
			page := !strings.Contains(route, " /api/") && !strings.HasSuffix(route, "z")
			resp, body := outageRequest(t, base, route, params, who.token, page)
			switch {
			case resp.StatusCode == http.StatusInternalServerError:
				t.Errorf("%s as %s with the database cut off = 500 %s; want 503", route, who.name, body)
			case resp.StatusCode == http.StatusServiceUnavailable:
				unavailable++
				ctype := resp.Header.Get("Content-Type")
				if resp.Header.Get("Retry-After") == "" {
					t.Errorf("%s as %s = 503 without Retry-After", route, who.name)
				}
				if wantType := "application/problem+json"; !page && ctype != wantType {
					t.Errorf("%s as %s = 503 %s; want %s", route, who.name, ctype, wantType)
				}
				if page && !strings.HasPrefix(ctype, "text/html") && !strings.HasPrefix(ctype, "text/plain") {
					t.Errorf("%s as %s = 503 %s; want a page", route, who.name, ctype)
				}
			case who.token != "" && !noDatabase[route]:
				// A signed-in request looks its session up first.
				t.Errorf("%s as %s with the database cut off = %d %.200s; want 503", route, who.name, resp.StatusCode, body)
			}
		}
		t.Logf("as %s: %d of %d routes answered 503", who.name, unavailable, len(routes))
		if unavailable == 0 {
			t.Errorf("as %s no route answered 503 with the database cut off", who.name)
		}
	}

	// The database comes back: parkd serves again, without a restart.
	proxy.restore()
	deadline = time.Now().Add(15 * time.Second)
	for {
		resp, _ := outageRequest(t, base, "GET /api/v1/users/{id}/reservations", params, driver.token, false)
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET my reservations = %d 15s after the database came back; want 200", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
	getJSON(t, base+"/readyz", http.StatusOK, nil)
}

// outageRequest sends one request of route (its pattern, with params filled
// in) as the holder of token; a page is asked for as a browser asks, with the
// token as the session cookie.
func outageRequest(t *testing.T, base, route string, params map[string]string, token string, page bool) (*http.Response, []byte) {
	t.Helper()
	method, path, _ := strings.Cut(route, " ")
	for name, v := range params {
		path = strings.ReplaceAll(path, "{"+name+"}", v)
	}
	var body io.Reader
	if method != "GET" && method != "DELETE" {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Idempotency-Key", "outage-"+method+path)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case page:
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
		if token != "" {
			req.AddCookie(&http.Cookie{Name: httpapi.SessionCookie, Value: token})
		}
	case token != "":
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp, b
}

// TestReadOnlyDatabaseAnswers503 is a PostgreSQL that still answers but
// refuses writes, as a standby does (SQLSTATE 25006): reads go on, and every
// change answers 503 with Retry-After, never 500.
func TestReadOnlyDatabaseAnswers503(t *testing.T) {
	dsn := pgtest.SchemaDSN(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// parkd connects as a role of its own, so that only its sessions turn
	// read-only; a superuser, so that it can migrate like the test user.
	role := "parkd_ro_" + strings.ToLower(parking.NewID("t")[2:])
	if _, err := admin.Exec(ctx, "CREATE ROLE "+role+" LOGIN SUPERUSER"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(ctx)
		c.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
		c.Exec(ctx, "REASSIGN OWNED BY "+role+" TO CURRENT_USER")
		c.Exec(ctx, "DROP OWNED BY "+role)
		if _, err := c.Exec(ctx, "DROP ROLE "+role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	u, _ := url.Parse(dsn)
	u.User = url.User(role)
	base := startParkd(t, "--db", u.String())

	garage := demoGarage(t, base)
	driver := &api{t: t, base: base}
	var sess struct{ Token string }
	driver.call(201, "POST", "/api/v1/sessions", map[string]string{"email": demo.DriverEmail, "password": demo.DriverPassword}, &sess)
	driver.token = sess.Token

	// The primary becomes a standby: new sessions are read-only, and the
	// open ones are ended, as a failover ends them.
	if _, err := admin.Exec(ctx, "ALTER ROLE "+role+" SET default_transaction_read_only = on"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role); err != nil {
		t.Fatal(err)
	}

	start := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Minute)
	writes := []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/reservations", map[string]any{"lot_id": garage, "plate": "RO 1", "size": "standard", "starts_at": start, "ends_at": start.Add(time.Hour)}},
		{"POST", "/api/v1/users/me/vehicles", map[string]string{"plate": "RO 2", "size": "compact"}},
		{"POST", "/api/v1/users", map[string]string{"name": "Ro", "email": "ro@example.com", "password": "correct horse battery"}},
		{"POST", "/api/v1/users/me/notifications/read", map[string]any{"all": true}},
		{"POST", "/api/v1/sessions", map[string]string{"email": demo.OperatorEmail, "password": demo.OperatorPassword}},
	}
	for i, w := range writes {
		// The first request after the sessions ended may meet a dead
		// connection: that is a 503 too. Then the read-only one answers.
		for attempt := range 2 {
			resp, body := sendJSON(t, base, driver.token, w.method, w.path, w.body, fmt.Sprintf("ro-%d-%d", i, attempt))
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
				resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(body), `"unavailable"`) {
				t.Errorf("%s %s on a read-only database = %d %s (Retry-After %q); want 503 unavailable with Retry-After",
					w.method, w.path, resp.StatusCode, body, resp.Header.Get("Retry-After"))
			}
		}
	}
	// Reads go on.
	driver.call(200, "GET", "/api/v1/users/me/reservations", nil, nil)
	driver.call(200, "GET", "/api/v1/lots/"+garage, nil, nil)
}

func sendJSON(t *testing.T, base, token, method, path string, body any, key string) (*http.Response, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest(method, base+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}
