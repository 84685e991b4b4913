package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parkd/deploy/nginx"
	"parkd/internal/demo"
	"parkd/internal/httpapi"
	"parkd/internal/live"
	"parkd/internal/store/postgres/pgtest"
)

// instance is one parkd process of the built binary.
type instance struct {
	addr, metrics string
	cmd           *exec.Cmd
}

// TestBehindNginx is issue 15's acceptance point 3 on the configuration in
// deploy/nginx: three parkd processes, started at once on one empty
// PostgreSQL database, behind a real nginx. Bookings and map reads go
// through nginx; a WebSocket client connected through nginx sees a booking
// made through another instance; when its instance is killed (SIGKILL) it
// reconnects through nginx and misses no change; the sign-in throttle counts
// the client's forwarded address, not nginx's, and not one the client wrote.
func TestBehindNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("builds parkd and runs nginx")
	}
	nginxBin := findNginx(t)
	dsn := pgtest.SchemaDSN(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "parkd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// Started together on an empty database: the demo is made once and
	// every instance starts (issue 15: "create demo: email_taken" before).
	instances := make([]*instance, 3)
	for i := range instances {
		instances[i] = startInstance(t, bin, dir, i, dsn)
	}
	var upstreams []string
	for _, in := range instances {
		waitHealthy(t, "http://"+in.addr, in)
		upstreams = append(upstreams, in.addr)
	}
	front := startNginx(t, nginxBin, dir, upstreams)

	garage := demoGarage(t, front)
	var lots struct{ Lots []struct{ ID string } }
	getJSON(t, front+"/api/v1/lots", http.StatusOK, &lots)
	if len(lots.Lots) != 2 {
		t.Fatalf("lots after 3 instances seeded at once = %d; want the 2 demo lots", len(lots.Lots))
	}
	driver := &api{t: t, base: front}
	var sess struct{ Token string }
	driver.call(201, "POST", "/api/v1/sessions", map[string]string{"email": demo.DriverEmail, "password": demo.DriverPassword}, &sess)
	driver.token = sess.Token
	for range 6 { // every instance serves some
		var spots struct{ Spots []json.RawMessage }
		driver.call(200, "GET", "/api/v1/lots/"+garage+"/spots", nil, &spots)
		if len(spots.Spots) != 450 {
			t.Fatalf("spots through nginx = %d; want 450", len(spots.Spots))
		}
	}

	// A WebSocket through nginx; which instance it landed on is told by the
	// instances' own count of live connections.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	from := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Hour)
	liveURL := "ws" + strings.TrimPrefix(front, "http") + "/api/v1/lots/" + garage + "/live?from=" + from.Format(time.RFC3339) +
		"&to=" + from.Add(24*time.Hour).Format(time.RFC3339)
	conn := dialLive(ctx, t, liveURL)
	var snap liveSnapshot
	readLive(ctx, t, conn, &snap)
	if snap.Type != "snapshot" || len(snap.Spots) != 450 {
		t.Fatalf("first message through nginx = %s with %d spots; want a snapshot of 450", snap.Type, len(snap.Spots))
	}
	a := connectedInstance(t, instances)
	var b *instance
	for _, in := range instances {
		if in != a {
			b = in
			break
		}
	}

	// A booking made through another instance reaches the client.
	book := func(base, plate, key string, at time.Time) string {
		t.Helper()
		c := &api{t: t, base: base, token: driver.token}
		var res struct{ ID string }
		c.call(201, "POST", "/api/v1/reservations", map[string]any{"lot_id": garage, "plate": plate, "size": "standard",
			"starts_at": at, "ends_at": at.Add(time.Hour)}, &res, "Idempotency-Key", key)
		return res.ID
	}
	first := book("http://"+b.addr, "NGX1", "nginx-first", from.Add(time.Hour))
	var msg liveMessage
	readLive(ctx, t, conn, &msg)
	if msg.Type != "claim" || msg.Key != live.ClaimKey(first) || msg.Status != "held" {
		t.Fatalf("message after a booking through another instance = %+v; want the held claim of %s", msg, first)
	}

	// The client's instance dies. A booking made meanwhile through nginx
	// (which steps over the dead instance) is not missed: the client
	// reconnects through nginx with its last version and is brought up to
	// date (another process answers with a fresh snapshot, docs/live.md).
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	a.cmd.Wait()
	if _, _, err := conn.Read(ctx); err == nil {
		t.Fatalf("the live connection outlived its instance")
	}
	second := book(front, "NGX2", "nginx-second", from.Add(3*time.Hour))
	conn = dialLive(ctx, t, liveURL+"&since="+msg.Version)
	readLive(ctx, t, conn, &snap)
	claims := map[string]bool{}
	for _, sp := range snap.Spots {
		for _, c := range sp.Claims {
			claims[c.Key] = true
		}
	}
	if snap.Type != "snapshot" || !claims[live.ClaimKey(first)] {
		t.Fatalf("after reconnecting: %s holding %d claims; want a snapshot with the claim of %s", snap.Type, len(claims), first)
	}
	// The booking made while the client was away is in the snapshot, or
	// follows it: the instance that answers may have the lot in its index
	// already, and hears of another instance's commit within the live poll
	// (at once with LISTEN/NOTIFY). Either way it is not missed.
	for !claims[live.ClaimKey(second)] {
		readLive(ctx, t, conn, &msg)
		if msg.Type != "claim" || (msg.Key != live.ClaimKey(second) && !claims[msg.Key]) {
			t.Fatalf("after reconnecting, before the booking made meanwhile: %+v; want the claim of %s", msg, second)
		}
		claims[msg.Key] = true
	}
	third := book(front, "NGX3", "nginx-third", from.Add(5*time.Hour))
	// The new instance may also send a change its snapshot already holds
	// (applying a message twice is harmless, docs/live.md); then the new one.
	for {
		readLive(ctx, t, conn, &msg)
		if msg.Type == "claim" && msg.Key == live.ClaimKey(third) {
			break
		}
		if msg.Type != "claim" || !claims[msg.Key] {
			t.Fatalf("message after reconnecting and booking = %+v; want the claim of %s", msg, third)
		}
	}
	conn.Close(websocket.StatusNormalClosure, "")

	// Retried on another instance only when safe: a request that reached
	// the dead instance's address was refused and moved on, so all answer.
	for i := range 6 {
		getJSON(t, front+"/api/v1/lots/"+garage, http.StatusOK, nil)
		book(front, fmt.Sprintf("NGXR%d", i), fmt.Sprintf("nginx-retry-%d", i), from.Add(time.Duration(7+2*i)*time.Hour))
	}

	// The sign-in throttle: a client at 127.0.0.5 that writes its own
	// X-Forwarded-For on every guess is throttled by its real address (each
	// live instance keeps its own count, so it takes up to 20 per instance);
	// a client at 127.0.0.6 behind the same nginx is not.
	guesser, other := clientFrom(t, "127.0.0.5"), clientFrom(t, "127.0.0.6")
	throttled := false
	for i := 0; i < 20*len(instances)+1 && !throttled; i++ {
		status := signInAs(t, guesser, front, fmt.Sprintf("nobody%d@example.com", i), fmt.Sprintf("198.51.100.%d", i%250))
		switch status {
		case http.StatusTooManyRequests:
			throttled = true
		case http.StatusUnauthorized:
		default:
			t.Fatalf("a wrong sign-in through nginx = %d; want 401 or 429", status)
		}
	}
	if !throttled {
		t.Fatalf("%d wrong sign-ins from one address through nginx were never throttled", 20*len(instances)+1)
	}
	for i := range len(instances) {
		if status := signInAs(t, other, front, fmt.Sprintf("someone%d@example.com", i), ""); status != http.StatusUnauthorized {
			t.Errorf("a wrong sign-in from another client through the same nginx = %d; want 401 (its own budget)", status)
		}
	}
}

func findNginx(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("nginx is not installed; CI must run the nginx test (apt-get install nginx)")
	}
	t.Skip("nginx is not installed")
	return ""
}

// freeAddr returns a loopback address with a port nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startInstance(t *testing.T, bin, dir string, i int, dsn string) *instance {
	t.Helper()
	in := &instance{addr: freeAddr(t), metrics: freeAddr(t)}
	logFile, err := os.Create(filepath.Join(dir, fmt.Sprintf("parkd-%d.log", i)))
	if err != nil {
		t.Fatal(err)
	}
	in.cmd = exec.Command(bin, "--db", dsn, "--addr", in.addr, "--metrics-addr", in.metrics,
		"--trusted-proxies", "127.0.0.1/32,::1/128", "--live-poll", "10ms", "--log-level", "warn")
	in.cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	in.cmd.Stdout, in.cmd.Stderr = logFile, logFile
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if in.cmd.ProcessState == nil {
			in.cmd.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { in.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				in.cmd.Process.Kill()
			}
		}
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("parkd %d (%s) log:\n%s", i, in.addr, b)
		}
	})
	return in
}

func waitHealthy(t *testing.T, base string, in *instance) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if in != nil && in.cmd.ProcessState != nil {
			t.Fatalf("parkd at %s exited: %v", base, in.cmd.ProcessState)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not ready within 60s", base)
}

// startNginx runs nginx, unprivileged, from its own prefix directory with the
// configuration parkd nginx-config makes, and returns its base URL.
func startNginx(t *testing.T, nginxBin, dir string, upstreams []string) string {
	t.Helper()
	prefix := filepath.Join(dir, "nginx")
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		t.Fatal(err)
	}
	listen := freeAddr(t)
	conf, err := nginx.Render(nginx.Config{Listen: listen, Upstreams: upstreams, Prefix: prefix, RetryAfter: httpapi.RetryAfterSeconds})
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, conf, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginxBin, "-p", prefix, "-e", filepath.Join(prefix, "error.log"), "-c", confPath,
		"-g", "daemon off; pid "+filepath.Join(prefix, "nginx.pid")+";")
	out, err := os.Create(filepath.Join(prefix, "stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt) // nginx: fast shutdown
		cmd.Wait()
		out.Close()
		if t.Failed() {
			for _, f := range []string{"stderr.log", "error.log"} {
				b, _ := os.ReadFile(filepath.Join(prefix, f))
				t.Logf("nginx %s:\n%s", f, b)
			}
		}
	})
	base := "http://" + listen
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(prefix, "stderr.log"))
	t.Fatalf("nginx did not answer within 20s:\n%s", b)
	return ""
}

type liveSnapshot struct {
	Type    string
	Version string
	Spots   []struct {
		ID     string
		Claims []struct{ Key string }
	}
}

type liveMessage struct {
	Type, Version, Key, Status string
}

func dialLive(ctx context.Context, t *testing.T, url string) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("WebSocket through nginx: %v", err)
	}
	conn.SetReadLimit(1 << 22)
	t.Cleanup(func() { conn.CloseNow() })
	return conn
}

func readLive(ctx context.Context, t *testing.T, conn *websocket.Conn, v any) {
	t.Helper()
	_, data, err := conn.Read(ctx)
	if err != nil {
		t.Fatalf("read the live feed: %v", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %.200s: %v", data, err)
	}
}

// connectedInstance is the instance that counts one live map connection.
func connectedInstance(t *testing.T, instances []*instance) *instance {
	t.Helper()
	for _, in := range instances {
		resp, err := http.Get("http://" + in.metrics + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if sc.Text() == `parkd_live_connections{stream="lot"} 1` {
				resp.Body.Close()
				return in
			}
		}
		resp.Body.Close()
	}
	t.Fatal("no instance counts the live connection")
	return nil
}

// clientFrom is an HTTP client whose connections come from the loopback
// address local, so that nginx sees it as a client of its own.
func clientFrom(t *testing.T, local string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// signInAs tries a wrong password for email and returns the status; spoof,
// when set, is an X-Forwarded-For the client writes itself.
func signInAs(t *testing.T, c *http.Client, base, email, spoof string) int {
	t.Helper()
	body := fmt.Sprintf(`{"email":%q,"password":"not the password"}`, email)
	req, err := http.NewRequest("POST", base+"/api/v1/sessions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if spoof != "" {
		req.Header.Set("X-Forwarded-For", spoof)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("sign in through nginx: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
