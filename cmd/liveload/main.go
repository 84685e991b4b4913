// Command liveload measures the live map's fan-out: it connects many WebSocket
// clients to one lot's live feed, makes reservations through the API at a
// steady rate, and reports how long each change took from the request that
// committed it to every client, and how much memory the server holds per
// connection.
//
//	liveload --target http://127.0.0.1:18080 --clients 5000 --changes 200 --rate 10 --pid 1234
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"parkd/internal/live"
	"parkd/internal/load"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "liveload:", err)
		os.Exit(1)
	}
}

type config struct {
	target   string
	lot      string
	clients  int
	changes  int
	rate     float64
	dialers  int
	pid      int
	email    string
	password string
}

func run(args []string, out io.Writer) error {
	var c config
	fs := flag.NewFlagSet("liveload", flag.ContinueOnError)
	fs.StringVar(&c.target, "target", "http://127.0.0.1:8080", "parkd's base URL")
	fs.StringVar(&c.lot, "lot", "", "lot to watch (default: the lot with the most spots)")
	fs.IntVar(&c.clients, "clients", 1000, "WebSocket clients watching the lot")
	fs.IntVar(&c.changes, "changes", 100, "reservations to make while they watch")
	fs.Float64Var(&c.rate, "rate", 10, "reservations per second")
	fs.IntVar(&c.dialers, "dialers", 50, "connections opened at once")
	fs.IntVar(&c.pid, "pid", 0, "parkd's process id, to read its memory (0: skip)")
	fs.StringVar(&c.email, "email", "driver@parkd.test", "driver who makes the reservations")
	fs.StringVar(&c.password, "password", "demo-driver-pass", "their password")
	cpuProfile := fs.String("cpuprofile", "", "write the tool's own CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api := &apiClient{Client: load.NewClient(c.target, 4)}
	if err := api.signIn(c.email, c.password); err != nil {
		return err
	}
	if c.lot == "" {
		lot, err := api.biggestLot()
		if err != nil {
			return err
		}
		c.lot = lot
	}
	api.lot = c.lot

	rssBefore := rss(c.pid)
	fmt.Fprintf(out, "liveload: %d clients on lot %s, %d reservations at %.0f/s\n", c.clients, c.lot, c.changes, c.rate)
	clients, snapBytes, took, err := connect(ctx, c)
	if err != nil {
		return err
	}
	rssConnected := rss(c.pid)
	fmt.Fprintf(out, "connected %d clients in %v; snapshot %d bytes\n", len(clients), took.Round(time.Millisecond), snapBytes)

	// The writer makes reservations at the rate asked; sent maps each one's
	// claim key to when its request left.
	var sent sync.Map
	start := time.Now()
	tick := time.NewTicker(time.Duration(float64(time.Second) / c.rate))
	failed := 0
	for i := range c.changes {
		<-tick.C
		at := time.Now()
		id, err := api.hold(ctx, i)
		if err != nil {
			failed++
			continue
		}
		sent.Store(live.ClaimKey(id), at)
	}
	tick.Stop()
	writing := time.Since(start)
	made := c.changes - failed

	// Wait until every client has every change, or a generous bound.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		done := true
		for _, cl := range clients {
			if int(cl.held.Load()) < made {
				done = false
				break
			}
		}
		if done {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	rssAfter := rss(c.pid)
	cancel()

	var lat, fromRequest []time.Duration
	missing, dropped := 0, 0
	for _, cl := range clients {
		cl.mu.Lock()
		for key, a := range cl.arrived {
			if at, ok := sent.Load(key); ok {
				lat = append(lat, a.got.Sub(a.changed))
				fromRequest = append(fromRequest, a.got.Sub(at.(time.Time)))
			}
		}
		missing += made - len(cl.arrived)
		failedClient := cl.err != nil
		cl.mu.Unlock()
		if failedClient {
			dropped++
		}
	}
	slices.Sort(lat)
	slices.Sort(fromRequest)
	pct := func(lat []time.Duration, p float64) time.Duration {
		return load.Percentile(lat, p).Round(10 * time.Microsecond)
	}
	fmt.Fprintf(out, "reservations: %d made (%d failed) in %v\n", made, failed, writing.Round(time.Millisecond))
	fmt.Fprintf(out, "deliveries: %d of %d (%d missing, %d clients dropped)\n", len(lat), made*len(clients), missing, dropped)
	fmt.Fprintf(out, "latency from the change to the client: p50 %v  p90 %v  p99 %v  max %v\n", pct(lat, 0.50), pct(lat, 0.90), pct(lat, 0.99), pct(lat, 1))
	fmt.Fprintf(out, "latency from the request to the client: p50 %v  p90 %v  p99 %v  max %v\n",
		pct(fromRequest, 0.50), pct(fromRequest, 0.90), pct(fromRequest, 0.99), pct(fromRequest, 1))
	if c.pid != 0 {
		per := func(after int64) string {
			return strconv.FormatFloat(float64(after-rssBefore)/float64(len(clients))/1024, 'f', 1, 64) + " KiB"
		}
		fmt.Fprintf(out, "parkd RSS: %d MiB before, %d MiB connected (%s per connection), %d MiB after the changes (%s per connection)\n",
			rssBefore>>20, rssConnected>>20, per(rssConnected), rssAfter>>20, per(rssAfter))
	}
	if missing > 0 {
		return fmt.Errorf("%d deliveries missing", missing)
	}
	return nil
}

// watcher is one WebSocket client and when each claim reached it.
type watcher struct {
	held    atomic.Int64
	mu      sync.Mutex
	arrived map[string]arrival
	err     error
}

// arrival is when a claim reached a client, and when the server says the
// change happened (inside the transaction that committed it).
type arrival struct {
	got, changed time.Time
}

func connect(ctx context.Context, c config) ([]*watcher, int, time.Duration, error) {
	u := "ws" + strings.TrimPrefix(strings.TrimRight(c.target, "/"), "http") + "/api/v1/lots/" + c.lot + "/live"
	clients := make([]*watcher, c.clients)
	var snapBytes atomic.Int64
	errs := make(chan error, c.clients)
	sem := make(chan struct{}, c.dialers)
	var ready sync.WaitGroup
	start := time.Now()
	for i := range clients {
		w := &watcher{arrived: map[string]arrival{}}
		clients[i] = w
		ready.Add(1)
		sem <- struct{}{}
		go func() {
			conn, _, err := websocket.Dial(ctx, u, nil)
			<-sem
			if err != nil {
				errs <- err
				ready.Done()
				return
			}
			conn.SetReadLimit(4 << 20)
			_, snap, err := conn.Read(ctx)
			ready.Done()
			if err != nil {
				errs <- err
				return
			}
			snapBytes.Store(int64(len(snap)))
			if err := w.read(ctx, conn); ctx.Err() == nil {
				w.mu.Lock()
				w.err = err // the server dropped this client before the end
				w.mu.Unlock()
			}
		}()
	}
	ready.Wait()
	took := time.Since(start)
	select {
	case err := <-errs:
		return nil, 0, 0, fmt.Errorf("connecting: %w", err)
	default:
	}
	return clients, int(snapBytes.Load()), took, nil
}

func (w *watcher) read(ctx context.Context, conn *websocket.Conn) error {
	defer conn.CloseNow()
	// Reads take no context (each would cost a timer); ending ctx closes the
	// connection instead. A claim is picked apart by hand rather than
	// decoded: the tool shares the machine with the server it measures, so it
	// keeps its own work per message small.
	stop := context.AfterFunc(ctx, func() { conn.CloseNow() })
	defer stop()
	buf := make([]byte, 0, 1024)
	for {
		_, r, err := conn.Reader(context.Background())
		if err != nil {
			return err
		}
		buf = buf[:0]
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
		}
		now := time.Now()
		if !bytes.Contains(buf, []byte(`"type":"claim"`)) || !bytes.Contains(buf, []byte(`"status":"held"`)) {
			continue
		}
		key, at := field(buf, "key"), field(buf, "at")
		changed, err := time.Parse(time.RFC3339Nano, at)
		if err != nil || key == "" {
			return fmt.Errorf("a claim without key or time: %s", buf)
		}
		w.mu.Lock()
		if _, seen := w.arrived[key]; !seen {
			w.arrived[key] = arrival{got: now, changed: changed}
			w.held.Add(1)
		}
		w.mu.Unlock()
	}
}

// field returns a string field's value from a flat JSON object, or "".
func field(data []byte, name string) string {
	tag := []byte(`"` + name + `":"`)
	i := bytes.Index(data, tag)
	if i < 0 {
		return ""
	}
	rest := data[i+len(tag):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// rss is a process's resident memory in bytes, or 0.
func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// apiClient makes the reservations through parkd's API, as the demo driver.
type apiClient struct {
	*load.Client
	token string
	lot   string
	run   string
}

func (a *apiClient) do(ctx context.Context, method, path string, body any, headers map[string]string, into any) error {
	_, err := a.Do(ctx, method, path, a.token, headers, body, into)
	return err
}

func (a *apiClient) signIn(email, password string) error {
	var s struct{ Token string }
	if err := a.do(context.Background(), "POST", "/api/v1/sessions", map[string]string{"email": email, "password": password}, nil, &s); err != nil {
		return fmt.Errorf("sign in as %s (is the demo loaded?): %w", email, err)
	}
	a.token = s.Token
	a.run = strconv.FormatInt(time.Now().UnixNano(), 36)
	return nil
}

// biggestLot is the lot with the most spots in service, read from every
// page of the lot search (whose counts of a window say each lot's total).
func (a *apiClient) biggestLot() (string, error) {
	from := time.Now().UTC().Truncate(time.Hour).Add(time.Hour)
	best, most, cursor := "", -1, ""
	for {
		q := url.Values{"limit": {"100"}, "from": {from.Format(time.RFC3339)}, "to": {from.Add(time.Hour).Format(time.RFC3339)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Lots []struct {
				ID    string `json:"id"`
				Total int    `json:"total"`
			} `json:"lots"`
			NextCursor string `json:"next_cursor"`
		}
		if err := a.do(context.Background(), "GET", "/api/v1/lots?"+q.Encode(), nil, nil, &page); err != nil {
			return "", err
		}
		for _, l := range page.Lots {
			if l.Total > most {
				best, most = l.ID, l.Total
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if best == "" {
		return "", errors.New("no lots")
	}
	a.lot = best
	return best, nil
}

// hold reserves any spot that fits a sedan, each in a window of its own so
// that the lot never fills, and returns the reservation's id.
func (a *apiClient) hold(ctx context.Context, i int) (string, error) {
	start := time.Now().UTC().Truncate(time.Hour).Add(48*time.Hour + time.Duration(i/300)*2*time.Hour)
	var r struct {
		ID string `json:"id"`
	}
	err := a.do(ctx, "POST", "/api/v1/reservations", map[string]any{
		"lot_id": a.lot, "plate": "LOAD" + strconv.Itoa(i), "size": "standard",
		"starts_at": start, "ends_at": start.Add(time.Hour),
	}, map[string]string{"Idempotency-Key": "liveload-" + a.run + "-" + strconv.Itoa(i)}, &r)
	return r.ID, err
}
