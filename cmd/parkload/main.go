// Command parkload drives a running parkd over HTTP and WebSocket with a mix
// of what drivers, gates and map watchers do, for a duration, from a seed; it
// prints a progress line every few seconds and, at the end, each operation's
// count, throughput, latency percentiles and errors by problem code. Then it
// checks parkd's promises over what the run made (no double booking, every
// 201 there, every paid reservation charged exactly once) through the API,
// or through the database with --db, and exits 1 on any violation.
//
//	parkd --db "$DSN" --addr 127.0.0.1:18080 --log-level warn --access-log=false &
//	go run ./cmd/parkload --target http://127.0.0.1:18080 --duration 60s --workers 8 --seed 1
//
// It signs up its own drivers. It needs a lot with an entry and an exit gate
// whose device keys it knows, and an operator of that lot: the demo garage and
// its accounts by default. With --lots it spreads the journeys over more lots,
// read from every page of the lot search: their gates are scanned with the
// operator's session (a gate takes its lot's operators as a kiosk), and a
// visit to a lot whose gates it cannot scan stops at the pass, counted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"parkd/internal/load"
	"parkd/internal/parking"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "parkload:", err)
		os.Exit(1)
	}
}

type config struct {
	target                string
	duration, progress    time.Duration
	rate                  float64
	workers, drivers      int
	subscribers           int
	seed                  uint64
	lot                   string
	lots                  int // lots the journeys spread over; allLots for every one
	operator, operatorPwd string
	entryKey, exitKey     string
	db                    string
}

// mix is how often each journey is started, in parts of the whole: mostly
// looking, then booking in the ways drivers book, and cars through the gates.
var mix = []struct {
	name   string
	weight int
}{
	{"browse", 40},   // the lot list, then a lot's map
	{"book", 20},     // a map for a window, a named free spot held, paid
	{"book_any", 15}, // "any spot" held, paid
	{"cancel", 10},   // "any spot" held, paid, cancelled (refunded by the lot's policy)
	{"visit", 15},    // "any spot" from now, paid, the pass, the entry and exit scans
}

// allLots is --lots all.
const allLots = -1

// lotsValue is --lots: a count, or "all".
type lotsValue struct{ p *int }

func (v lotsValue) String() string {
	if v.p == nil || *v.p != allLots {
		if v.p == nil {
			return "1"
		}
		return strconv.Itoa(*v.p)
	}
	return "all"
}

func (v lotsValue) Set(s string) error {
	if s == "all" {
		*v.p = allLots
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return errors.New(`want a number of lots, at least 1, or "all"`)
	}
	*v.p = n
	return nil
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var c config
	fs := flag.NewFlagSet("parkload", flag.ContinueOnError)
	fs.StringVar(&c.target, "target", "http://127.0.0.1:8080", "parkd's base URL")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "how long to drive load")
	fs.DurationVar(&c.progress, "progress", 5*time.Second, "how often to print a progress line")
	fs.Float64Var(&c.rate, "rate", 0, "journeys started per second (open loop, at most --workers at once; late ones are skipped and counted); 0: each worker starts the next when one ends")
	fs.IntVar(&c.workers, "workers", 8, "journeys at once")
	fs.IntVar(&c.drivers, "drivers", 16, "drivers to sign up; the workers book as them in turn")
	fs.IntVar(&c.subscribers, "subscribers", 20, "WebSocket clients watching the lot's live map")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the journeys, windows and spots chosen")
	fs.StringVar(&c.lot, "lot", "", "lot to load (default: the first the operator runs with an entry and an exit gate); with --lots, the first of them")
	c.lots = 1
	fs.Var(lotsValue{&c.lots}, "lots", `lots to spread the journeys and live subscribers over, or "all": the first is --lot's, the others drawn by --seed from every page of the lot search (without --db, only lots the operator runs, whose reservations it can read)`)
	fs.StringVar(&c.operator, "operator-email", "operator@parkd.test", "an operator of the lot: finds its gates and lists its reservations for the checks")
	fs.StringVar(&c.operatorPwd, "operator-password", "demo-operator-pass", "the operator's password")
	fs.StringVar(&c.entryKey, "entry-key", "pkg_demo-harbor-street-entry", "the first lot's entry gate's device key; empty: scan with the operator's session")
	fs.StringVar(&c.exitKey, "exit-key", "pkg_demo-harbor-street-exit", "the first lot's exit gate's device key; empty: scan with the operator's session")
	fs.StringVar(&c.db, "db", "", "parkd's database (postgres:// URL or SQLite path): check the invariants there rather than through the API")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.workers < 1 || c.drivers < 1 || c.subscribers < 0 || c.duration <= 0 || c.rate < 0 {
		return errors.New("--workers and --drivers must be at least 1, --subscribers at least 0, --duration and --rate positive")
	}

	client := load.NewClient(c.target, c.workers+8)
	st := newStats()
	l := &loader{c: c, client: client, st: st, runID: strconv.FormatInt(time.Now().UnixNano(), 36),
		seen: observed{reservations: map[string]bool{}, payments: map[string]string{}}}
	started := time.Now()
	if err := l.setUp(ctx); err != nil {
		return err
	}
	if l.leftOut > 0 {
		fmt.Fprintf(out, "parkload: %d lots left out: the operator %s does not run them, and without --db their reservations cannot be checked\n", l.leftOut, c.operator)
	}
	fmt.Fprintf(out, "parkload: %s, %d workers, %d drivers, %d live subscribers, rate %s, %v, seed %d\n",
		l.lotsText(), c.workers, c.drivers, c.subscribers, rateText(c.rate), c.duration, c.seed)

	runCtx, stop := context.WithTimeout(ctx, c.duration)
	defer stop()
	liveCtx, stopLive := context.WithCancel(ctx)
	watchers, err := l.subscribe(liveCtx)
	if err != nil {
		stopLive()
		return err
	}
	begin := time.Now()
	done := make(chan struct{})
	go l.printProgress(out, begin, done)
	skipped := l.drive(runCtx)
	elapsed := time.Since(begin)
	close(done)
	stopLive()
	dropped := watchers.wait()

	st.report(out, elapsed)
	if skipped > 0 {
		fmt.Fprintf(out, "%d journeys skipped: every worker was busy when they were due (raise --workers)\n", skipped)
	}
	if n := l.unscanned.Load(); n > 0 {
		fmt.Fprintf(out, "%d visits stopped at the pass: their lot's gates cannot be scanned (the operator does not run it, or it lacks an entry or an exit gate)\n", n)
	}
	var failed []string
	if st.fatal > 0 {
		failed = append(failed, fmt.Sprintf("%d operations failed in parkd (5xx or no answer)", st.fatal))
	}
	if dropped > 0 {
		failed = append(failed, fmt.Sprintf("%d live subscribers were dropped", dropped))
	}

	violations, err := l.check(ctx, started)
	if err != nil {
		return fmt.Errorf("checking the invariants: %w", err)
	}
	fmt.Fprintf(out, "invariants: %d reservations and %d payments answered 201; %d violations\n", len(l.seen.reservations), len(l.seen.payments), len(violations))
	for _, v := range violations {
		fmt.Fprintln(out, "  VIOLATION:", v)
	}
	if len(violations) > 0 {
		failed = append(failed, fmt.Sprintf("%d invariant violations", len(violations)))
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

func rateText(rate float64) string {
	if rate == 0 {
		return "closed loop"
	}
	return fmt.Sprintf("%.1f journeys/s", rate)
}

// loader is one run: its client, what it set up and what it observed.
type loader struct {
	c             config
	client        *load.Client
	st            *stats
	runID         string
	lots          []lotGates // lots[0] is the lot of --lot, or the first found
	operatorToken string
	drivers       []driver
	keys, plates  atomic.Int64
	unscanned     atomic.Int64 // visits to a lot whose gates it cannot scan
	leftOut       int          // lots --lots did not take: not the operator's, and no --db
	mu            sync.Mutex   // guards seen
	seen          observed
}

type driver struct{ id, token string }

// lotGates is a lot the run books in, and how its cars pass its gates: the
// entry and exit gates' ids and the credential each is scanned with (a device
// key, or the operator's session); no gates, no scans.
type lotGates struct {
	id                  string
	entryGate, exitGate string
	entryKey, exitKey   string
}

func (g lotGates) scannable() bool { return g.entryGate != "" && g.exitGate != "" }

// lotsText says which lots the run loads.
func (l *loader) lotsText() string {
	if len(l.lots) == 1 {
		return "lot " + l.lots[0].id
	}
	scannable := 0
	for _, g := range l.lots {
		if g.scannable() {
			scannable++
		}
	}
	return fmt.Sprintf("%d lots from %s (gates scanned on %d: the others' visits stop at the pass)", len(l.lots), l.lots[0].id, scannable)
}

// call does one timed operation and records it.
func (l *loader) call(op, method, path, token string, headers map[string]string, body, into any) error {
	t0 := time.Now()
	_, err := l.client.Do(context.Background(), method, path, token, headers, body, into)
	l.st.record(op, time.Since(t0), err)
	return err
}

// key is a fresh Idempotency-Key.
func (l *loader) key() map[string]string {
	return map[string]string{"Idempotency-Key": fmt.Sprintf("parkload-%s-%d", l.runID, l.keys.Add(1))}
}

// setUp signs the operator in, finds the lot and its gates, and signs up the
// drivers.
func (l *loader) setUp(ctx context.Context) error {
	var sess struct {
		Token string `json:"token"`
	}
	if err := l.call("signin", "POST", "/api/v1/sessions", "", nil,
		map[string]string{"email": l.c.operator, "password": l.c.operatorPwd}, &sess); err != nil {
		return fmt.Errorf("signing in the operator %s (is the demo loaded?): %w", l.c.operator, err)
	}
	l.operatorToken = sess.Token
	var all []string
	if l.c.lot == "" || l.c.lots != 1 {
		var err error
		if all, err = l.allLots(ctx); err != nil {
			return fmt.Errorf("reading the lots: %w", err)
		}
	}
	candidates := all
	if l.c.lot != "" {
		candidates = []string{l.c.lot}
	}
	for _, lot := range candidates {
		g, err := l.gates(ctx, lot)
		if err != nil || !g.scannable() {
			continue // not the operator's lot, or one without both gates
		}
		if l.c.entryKey != "" && l.c.exitKey != "" {
			g.entryKey, g.exitKey = l.c.entryKey, l.c.exitKey
		}
		l.lots = []lotGates{g}
		break
	}
	if len(l.lots) == 0 {
		return fmt.Errorf("no lot the operator %s runs has an entry and an exit gate", l.c.operator)
	}
	if l.c.lots != 1 {
		if err := l.moreLots(ctx, all); err != nil {
			return err
		}
	}
	for i := range l.c.drivers {
		email := fmt.Sprintf("parkload-%s-%d@load.test", l.runID, i)
		password := "parkload-" + l.runID
		var u struct {
			ID string `json:"id"`
		}
		if err := l.call("signup", "POST", "/api/v1/users", "", l.key(),
			map[string]string{"name": fmt.Sprintf("Load driver %d", i), "email": email, "password": password}, &u); err != nil {
			return fmt.Errorf("signing up a driver: %w", err)
		}
		if err := l.call("signin", "POST", "/api/v1/sessions", "", nil, map[string]string{"email": email, "password": password}, &sess); err != nil {
			return fmt.Errorf("signing in a driver: %w", err)
		}
		l.drivers = append(l.drivers, driver{id: u.ID, token: sess.Token})
	}
	return nil
}

// allLots reads every page of the lot search, by name.
func (l *loader) allLots(ctx context.Context) ([]string, error) {
	var ids []string
	cursor := ""
	for {
		q := url.Values{"limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Lots []struct {
				ID string `json:"id"`
			} `json:"lots"`
			NextCursor string `json:"next_cursor"`
		}
		if _, err := l.client.Do(ctx, "GET", "/api/v1/lots?"+q.Encode(), "", nil, nil, &page); err != nil {
			return nil, err
		}
		for _, lot := range page.Lots {
			ids = append(ids, lot.ID)
		}
		if page.NextCursor == "" {
			return ids, nil
		}
		cursor = page.NextCursor
	}
}

// gates finds a lot's entry and exit gates, scanned with the operator's
// session; an error says the operator does not run the lot.
func (l *loader) gates(ctx context.Context, lot string) (lotGates, error) {
	var list struct {
		Gates []parking.Gate `json:"gates"`
	}
	if _, err := l.client.Do(ctx, "GET", "/api/v1/lots/"+url.PathEscape(lot)+"/gates", l.operatorToken, nil, nil, &list); err != nil {
		return lotGates{id: lot}, err
	}
	g := lotGates{id: lot}
	for _, gate := range list.Gates {
		if gate.Direction == parking.Entry && g.entryGate == "" {
			g.entryGate = gate.ID
		}
		if gate.Direction == parking.Exit && g.exitGate == "" {
			g.exitGate = gate.ID
		}
	}
	if !g.scannable() {
		g.entryGate, g.exitGate = "", ""
	}
	g.entryKey, g.exitKey = l.operatorToken, l.operatorToken
	return g, nil
}

// moreLots adds to the first lot the others of --lots, drawn by the seed from
// all. Without --db the invariants are checked through the operator's view of
// each lot, so only lots the operator runs are taken.
func (l *loader) moreLots(ctx context.Context, all []string) error {
	rest := make([]string, 0, len(all))
	for _, id := range all {
		if id != l.lots[0].id {
			rest = append(rest, id)
		}
	}
	rand.New(rand.NewPCG(l.c.seed, 0x6c6f7473)).Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	skipped := 0
	for _, id := range rest {
		if l.c.lots != allLots && len(l.lots) >= l.c.lots {
			break
		}
		g, err := l.gates(ctx, id)
		var le *load.Error
		switch {
		case err == nil:
		case errors.As(err, &le) && (le.Status == 403 || le.Status == 401):
			if l.c.db == "" {
				skipped++
				continue
			}
			g = lotGates{id: id} // read from the database; no gate scans
		default:
			return fmt.Errorf("reading lot %s's gates: %w", id, err)
		}
		l.lots = append(l.lots, g)
	}
	l.leftOut = skipped
	if l.c.lots != allLots && len(l.lots) < l.c.lots {
		return fmt.Errorf("--lots %d: only %d lots to load", l.c.lots, len(l.lots))
	}
	return nil
}

// drive runs the workers until ctx ends and answers how many journeys a rate
// wanted that no worker was free for.
func (l *loader) drive(ctx context.Context) (skipped int) {
	var jobs chan struct{}
	if l.c.rate > 0 {
		jobs = make(chan struct{})
	}
	var wg sync.WaitGroup
	for i := range l.c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{l: l, rng: rand.New(rand.NewPCG(l.c.seed, uint64(i))), d: l.drivers[i%len(l.drivers)]}
			for {
				if jobs != nil {
					select {
					case <-ctx.Done():
						return
					case <-jobs:
					}
				} else if ctx.Err() != nil {
					return
				}
				w.journey()
			}
		}()
	}
	if jobs != nil {
		tick := time.NewTicker(time.Duration(float64(time.Second) / l.c.rate))
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-tick.C:
				select {
				case jobs <- struct{}{}:
				default:
					skipped++
				}
			}
		}
		tick.Stop()
	}
	wg.Wait()
	return skipped
}

func (l *loader) printProgress(out io.Writer, begin time.Time, done <-chan struct{}) {
	t := time.NewTicker(l.c.progress)
	defer t.Stop()
	lastAt, lastTotal := begin, 0
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			total, failures, live := l.st.snapshot()
			fmt.Fprintf(out, "%6.1fs  %7d operations  %7.1f/s now  %5d refused or failed  %7d live messages\n",
				now.Sub(begin).Seconds(), total, float64(total-lastTotal)/now.Sub(lastAt).Seconds(), failures, live)
			lastAt, lastTotal = now, total
		}
	}
}

// watchers are the live subscribers.
type watchers struct {
	wg      sync.WaitGroup
	dropped atomic.Int64
}

// wait waits for every subscriber to close and answers how many the server
// dropped before the end.
func (w *watchers) wait() int {
	w.wg.Wait()
	return int(w.dropped.Load())
}

// subscribe connects the live subscribers to the lot's map; each counts the
// messages it gets until ctx ends.
func (l *loader) subscribe(ctx context.Context) (*watchers, error) {
	ws := &watchers{}
	for i := range l.c.subscribers {
		u := "ws" + strings.TrimPrefix(l.client.Base, "http") + "/api/v1/lots/" + url.PathEscape(l.lots[i%len(l.lots)].id) + "/live"
		t0 := time.Now()
		conn, _, err := websocket.Dial(ctx, u, nil)
		l.st.record("live_connect", time.Since(t0), err)
		if err != nil {
			return nil, fmt.Errorf("connecting a live subscriber: %w", err)
		}
		conn.SetReadLimit(16 << 20) // the snapshot of a big lot
		ws.wg.Add(1)
		go func() {
			defer ws.wg.Done()
			defer conn.CloseNow()
			for {
				if _, _, err := conn.Read(ctx); err != nil {
					if ctx.Err() == nil {
						ws.dropped.Add(1)
					}
					return
				}
				l.st.addLive(1)
			}
		}()
	}
	return ws, nil
}
