//go:build drill

package drill

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"parkd/internal/load"
)

// A booking client behaves as parkd asks clients to: every hold and payment
// carries an Idempotency-Key, and an answer that says "try again" (no
// answer, 502, 503, 504, or the key still in flight) is retried with the same
// key until it gets a final answer or the retry deadline passes.
const (
	retryPause = 250 * time.Millisecond
	// retryFor is how long one write (a hold, a payment) may be retried:
	// longer than a failover on a busy machine, with the wait for a
	// standby in sync with the new primary (69 s seen at load average 23).
	retryFor = 150 * time.Second
	// stuckAfter ends the retries of a key that stays "in flight": its
	// request died with the instance that ran it, and parkd frees such a
	// key only once it is idempotency.Stale (2 minutes) old.
	stuckAfter = 20 * time.Second
)

// booking is what one client was told about one booking: the reservation
// and payment answered 201 (or the payment refused as already made: an
// earlier attempt of it went through), or the final refusal.
type booking struct {
	plate       string
	reservation string
	payment     string
	paid        bool
	refused     string
	retries     int
	stuck       bool // its key stayed in flight (see stuckAfter)
}

// answer is one request's outcome, at the time it came.
type answer struct {
	sent  time.Time
	at    time.Time
	write bool
	path  string
	key   string // a write's Idempotency-Key
	ok    bool
	what  string // "2xx", "503 unavailable", "no answer": for the figures
}

// loadRun drives bookings and map reads at the cluster through nginx.
type loadRun struct {
	client  *load.Client
	lot     string
	tokens  []string
	runID   string
	mu      sync.Mutex
	booked  []booking
	answers []answer
}

// mustLoad signs up drivers and finds a lot to book in.
func mustLoad(t *testing.T, base string, drivers int) *loadRun {
	t.Helper()
	ctx := context.Background()
	l := &loadRun{client: load.NewClient(base, 64), runID: fmt.Sprintf("%x", time.Now().UnixNano())}
	l.client.HTTP.Timeout = 30 * time.Second // past the write bound: a refusal, not a client timeout
	var lots struct {
		Lots []struct {
			ID string `json:"id"`
		} `json:"lots"`
	}
	if _, err := l.client.Do(ctx, "GET", "/api/v1/lots", "", nil, nil, &lots); err != nil || len(lots.Lots) == 0 {
		t.Fatalf("GET /api/v1/lots = %v, %d lots; want the demo lots", err, len(lots.Lots))
	}
	l.lot = lots.Lots[0].ID
	for i := range drivers {
		email := fmt.Sprintf("drill-%s-%d@drill.test", l.runID, i)
		password := "drill-password-" + l.runID
		if _, err := l.client.Do(ctx, "POST", "/api/v1/users", "", map[string]string{"Idempotency-Key": "drillsignup" + l.runID + fmt.Sprint(i)},
			map[string]string{"name": "Drill driver", "email": email, "password": password}, nil); err != nil {
			t.Fatalf("signing up a driver: %v", err)
		}
		var sess struct {
			Token string `json:"token"`
		}
		if _, err := l.client.Do(ctx, "POST", "/api/v1/sessions", "", nil, map[string]string{"email": email, "password": password}, &sess); err != nil {
			t.Fatalf("signing in a driver: %v", err)
		}
		l.tokens = append(l.tokens, sess.Token)
	}
	return l
}

// run books with workers and reads the map with readers until stop is
// closed; bookings begun by then are retried to their end.
func (l *loadRun) run(workers, readers int, stop <-chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(i)))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				b := l.book(rng, l.tokens[i%len(l.tokens)], fmt.Sprintf("DR%s%dX%d", strings.ToUpper(l.runID[len(l.runID)-6:]), i, n))
				l.mu.Lock()
				l.booked = append(l.booked, b)
				l.mu.Unlock()
			}
		}()
	}
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent := time.Now()
				_, err := l.client.Do(context.Background(), "GET", "/api/v1/lots/"+l.lot+"/spots", "", nil, nil, nil)
				l.note(sent, "", "", err)
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	return &wg
}

// book holds any standard spot for an hour in the coming week, then pays.
func (l *loadRun) book(rng *rand.Rand, token, plate string) booking {
	b := booking{plate: plate}
	from := time.Now().UTC().Truncate(15 * time.Minute).Add(2*time.Hour + time.Duration(rng.IntN(7*24*4))*15*time.Minute)
	body := map[string]any{"lot_id": l.lot, "plate": plate, "size": "standard",
		"starts_at": from.Format(time.RFC3339), "ends_at": from.Add(time.Hour).Format(time.RFC3339)}
	var r struct {
		ID string `json:"id"`
	}
	code := l.retry(&b, time.Now().Add(retryFor), "POST", "/api/v1/reservations", token, "hold"+plate, body, &r)
	if code != "" {
		b.refused = "hold: " + code
		return b
	}
	b.reservation = r.ID
	var p struct {
		Payment struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"payment"`
	}
	switch code := l.retry(&b, time.Now().Add(retryFor), "POST", "/api/v1/reservations/"+r.ID+"/payments", token, "pay"+plate,
		map[string]string{"payment_method": "pm_card_visa"}, &p); code {
	case "":
		b.payment, b.paid = p.Payment.ID, p.Payment.Status == "succeeded"
	case "already_paid":
		b.paid = true // an attempt whose answer was lost went through
	default:
		b.refused = "pay: " + code
	}
	return b
}

// retry sends a write until it gets a final answer: "" for a 2xx, else the
// problem's code (or "gave_up" past giveUp).
func (l *loadRun) retry(b *booking, giveUp time.Time, method, path, token, key string, body, into any) string {
	var inUseSince time.Time
	for {
		sent := time.Now()
		_, err := l.client.Do(context.Background(), method, path, token, map[string]string{"Idempotency-Key": key}, body, into)
		l.note(sent, method+" "+path, key, err)
		if err == nil {
			return ""
		}
		var e *load.Error
		final := errors.As(err, &e) && !retryable(e)
		if final {
			return e.Code
		}
		if e != nil && e.Code == "idempotency_key_in_use" {
			if inUseSince.IsZero() {
				inUseSince = sent
			}
			if time.Since(inUseSince) > stuckAfter {
				b.stuck = true
				return e.Code
			}
		} else {
			inUseSince = time.Time{}
		}
		if time.Now().After(giveUp) {
			return "gave_up"
		}
		b.retries++
		time.Sleep(retryPause)
	}
}

// retryable says whether an answer asks to try again with the same key. A
// 500 is retried too, so that the drill goes on, but is a failure: parkd
// must answer 503 when the database cannot serve (see mustHold).
func retryable(e *load.Error) bool {
	switch e.Status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return e.Code == "idempotency_key_in_use" || e.Code == "payment_in_progress"
}

// note records an answer; write is the write's method and path, "" for a read.
func (l *loadRun) note(sent time.Time, write, key string, err error) {
	a := answer{sent: sent, at: time.Now(), write: write != "", path: write, key: key, ok: err == nil, what: "2xx"}
	var e *load.Error
	switch {
	case err == nil:
	case errors.As(err, &e):
		a.what = fmt.Sprintf("%d %s", e.Status, e.Code)
	default:
		a.what = "no answer"
	}
	l.mu.Lock()
	l.answers = append(l.answers, a)
	l.mu.Unlock()
}

// figures sums up the answers: counts of each failed kind (a refusal such
// as spot_unavailable is an answer, not a failure), the first and last
// failure after since, and the first write sent after since that was
// acknowledged (when its answer came).
type figures struct {
	writes, reads, failed int
	kinds                 map[string]int
	firstFail, lastFail   time.Time
	firstWriteOK          time.Time
}

func (l *loadRun) figures(since time.Time) figures {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := figures{kinds: map[string]int{}}
	for _, a := range l.answers {
		if a.write {
			f.writes++
		} else {
			f.reads++
		}
		if a.at.Before(since) {
			continue
		}
		if a.ok && a.write && !a.sent.Before(since) && (f.firstWriteOK.IsZero() || a.at.Before(f.firstWriteOK)) {
			f.firstWriteOK = a.at
		}
		failure := !a.ok && (a.what == "no answer" || strings.HasPrefix(a.what, "5"))
		if failure {
			f.failed++
			f.kinds[a.what]++
			if f.firstFail.IsZero() {
				f.firstFail = a.at
			}
			f.lastFail = a.at
		}
	}
	return f
}

func (f figures) kindsText() string {
	var parts []string
	for k, n := range f.kinds {
		parts = append(parts, fmt.Sprintf("%d × %s", n, k))
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// since is t's distance from origin in seconds, or "-" when t is zero.
func since(origin, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return fmt.Sprintf("%.1f s", t.Sub(origin).Seconds())
}

// mustHold checks, in the database, what the clients were told: every
// reservation and payment answered 201 is there, no plate (one per
// Idempotency-Key) has two reservations, no spot is booked twice at once,
// and every paid reservation has exactly one successful charge. It answers
// the counts (held).
func (l *loadRun) mustHold(t *testing.T, dsn string) held {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to the database for the checks: %v", err)
	}
	defer conn.Close(ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	var h held
	acked, paid, refused, retried, stuck := 0, 0, 0, 0, 0
	var reservations, payments, paidIDs []string
	for _, b := range l.booked {
		if b.retries > 0 {
			retried++
		}
		if b.reservation != "" {
			acked++
			reservations = append(reservations, b.reservation)
		}
		if b.payment != "" {
			payments = append(payments, b.payment)
		}
		if b.paid {
			paid++
			paidIDs = append(paidIDs, b.reservation)
		}
		if b.stuck {
			stuck++
		} else if b.refused != "" {
			refused++
		}
		if strings.HasSuffix(b.refused, "gave_up") {
			t.Errorf("booking %s: still refused %s after retrying for %v", b.plate, b.refused, retryFor)
		}
	}
	// Clients have one rule for "try again": 503 with Retry-After, from
	// parkd (its database cannot serve) or from nginx (no instance answers).
	internal, gateway := 0, 0
	for _, a := range l.answers {
		switch a.what {
		case "500 internal":
			internal++
		case "502 http_502", "504 http_504":
			gateway++
		}
	}
	if internal > 0 {
		t.Errorf("%d answers were 500: a database that cannot serve must answer 503 unavailable", internal)
	}
	if gateway > 0 {
		t.Errorf("%d answers were nginx's bare 502 or 504: no instance answering must answer 503 unavailable", gateway)
	}
	prefix := "DR" + strings.ToUpper(l.runID[len(l.runID)-6:]) + "%"
	checks := []struct {
		what  string
		count *int
		query string
		args  []any
	}{
		{"reservations answered 201 but missing", &h.lost, `SELECT id FROM unnest($1::text[]) AS id WHERE id NOT IN (SELECT id FROM reservations)`, []any{reservations}},
		{"payments answered 201 but missing or not succeeded", &h.lostPayments, `SELECT id FROM unnest($1::text[]) AS id
			WHERE id NOT IN (SELECT id FROM payments WHERE kind = 'charge' AND status = 'succeeded')`, []any{payments}},
		{"plates (one Idempotency-Key each) with more than one reservation", &h.doubleBooked, `SELECT plate FROM reservations WHERE plate LIKE $1 GROUP BY plate HAVING count(*) > 1`, []any{prefix}},
		{"double bookings", &h.doubleBooked, `SELECT a.id || ' and ' || b.id FROM reservations a JOIN reservations b
			ON a.spot_id = b.spot_id AND a.id < b.id AND tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)
			WHERE a.status IN ('confirmed', 'checked_in') AND b.status IN ('confirmed', 'checked_in')`, nil},
		{"reservations charged more than once", &h.doubleCharged, `SELECT reservation_id FROM payments WHERE kind = 'charge' AND status = 'succeeded'
			GROUP BY reservation_id HAVING count(*) > 1`, nil},
		{"paid reservations without exactly one successful charge", &h.doubleCharged, `SELECT r.id FROM unnest($1::text[]) AS r (id)
			WHERE (SELECT count(*) FROM payments p WHERE p.reservation_id = r.id AND p.kind = 'charge' AND p.status = 'succeeded') <> 1`, []any{paidIDs}},
	}
	for _, c := range checks {
		rows, err := conn.Query(ctx, c.query, c.args...)
		if err != nil {
			t.Fatalf("checking %s: %v", c.what, err)
		}
		bad, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("checking %s: %v", c.what, err)
		}
		*c.count += len(bad)
		if len(bad) > 0 {
			t.Errorf("%d %s, such as %v", len(bad), c.what, bad[:min(len(bad), 5)])
		}
	}
	h.acked, h.paid, h.refused, h.retried, h.stuck = acked, paid, refused, retried, stuck
	return h
}

// held is what mustHold counted: bookings acknowledged (and paid), refused,
// retried and left with their key in flight, and what it found wrong.
type held struct {
	acked, paid, refused, retried, stuck int
	lost, lostPayments                   int // acknowledged (201) but not in the database
	doubleBooked, doubleCharged          int
}

func (h held) String() string {
	return fmt.Sprintf("bookings: %d acknowledged (%d paid), %d refused, %d needed a retry, %d left with their key in flight (freed after 2 min); acknowledged bookings lost: %d, acknowledged payments lost: %d, double bookings: %d, double charges: %d",
		h.acked, h.paid, h.refused, h.retried, h.stuck, h.lost, h.lostPayments, h.doubleBooked, h.doubleCharged)
}

// lateWrite is a write answered 2xx while no standby was up.
type lateWrite struct {
	visible bool // what it wrote was in the database before the standbys returned
	text    string
}

// late finds the writes answered 2xx after stopped (every standby down) and
// before back, and reads, before the standbys return, whether what each
// wrote is in the database and whether its Idempotency-Key's record is still
// in flight (the answer went out before the record was written). Times are
// given from origin.
func (l *loadRun) late(t *testing.T, dsn string, stopped, back, origin time.Time) []lateWrite {
	t.Helper()
	l.mu.Lock()
	var as []answer
	for _, a := range l.answers {
		if a.write && a.ok && a.at.After(stopped) && a.at.Before(back) {
			as = append(as, a)
		}
	}
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to the database to check the writes answered while no standby was up: %v", err)
	}
	defer conn.Close(ctx)
	// The commits waiting for a standby now, on the primary: what the
	// requests cut at the bound left behind.
	var waitingText string
	if err := conn.QueryRow(ctx, `SELECT coalesce(string_agg(n || ' × ' || q, '; '), 'none') FROM (
			SELECT left(regexp_replace(query, '\s+', ' ', 'g'), 60) AS q, count(*) AS n FROM pg_stat_activity
			WHERE wait_event = 'SyncRep' GROUP BY 1 ORDER BY 2 DESC) w`).Scan(&waitingText); err != nil {
		t.Fatalf("reading the commits waiting for a standby: %v", err)
	}
	t.Logf("commits waiting for a standby before they return: %s", waitingText)
	var out []lateWrite
	for _, a := range as {
		seen, err := visible(ctx, conn, a)
		if err != nil {
			t.Fatalf("checking %s: %v", a.path, err)
		}
		var inFlight bool
		if err := conn.QueryRow(ctx, `SELECT status_code IS NULL FROM idempotency_keys WHERE key = $1`, a.key).Scan(&inFlight); err != nil {
			t.Fatalf("reading key %s: %v", a.key, err)
		}
		out = append(out, lateWrite{visible: seen, text: fmt.Sprintf(
			"%s (key %s) sent %+.1f s, answered 2xx %+.1f s, the last standby down at %+.1f s; before the standbys returned: in the database %v, its key's record in flight %v",
			a.path, a.key, a.sent.Sub(origin).Seconds(), a.at.Sub(origin).Seconds(), stopped.Sub(origin).Seconds(), seen, inFlight)})
	}
	return out
}

// longestWriteGap answers the longest time after since in which no write
// was acknowledged: the write outage. It starts at since at the earliest;
// a write the killed primary's last backends still committed (they outlive
// the postmaster for a moment, and a standby still confirms) only moves its
// start.
func (l *loadRun) longestWriteGap(since time.Time) (from, to time.Time) {
	l.mu.Lock()
	var acks []time.Time
	for _, a := range l.answers {
		if a.write && a.ok && a.at.After(since) {
			acks = append(acks, a.at)
		}
	}
	l.mu.Unlock()
	slices.SortFunc(acks, func(a, b time.Time) int { return a.Compare(b) })
	prev := since
	for _, at := range acks {
		if at.Sub(prev) > to.Sub(from) {
			from, to = prev, at
		}
		prev = at
	}
	return from, to
}
