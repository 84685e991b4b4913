package httpapi_test

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"parkd/internal/gate"
	"parkd/internal/parking"
	"parkd/internal/store/teststore"
)

// burst sends n requests at once through send and counts the answers by status.
func burst(n int, send func(i int) response) (map[int]int, []response) {
	var wg sync.WaitGroup
	out := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = send(i)
		}()
	}
	wg.Wait()
	counts := map[int]int{}
	for _, r := range out {
		counts[r.status]++
	}
	return counts, out
}

// checkThrottled fails unless every 429 among rs is problem+json
// too_many_requests with a Retry-After of at most limit.
func checkThrottled(t *testing.T, rs []response, limit time.Duration) {
	t.Helper()
	for _, r := range rs {
		if r.status != http.StatusTooManyRequests {
			continue
		}
		secs, err := strconv.Atoi(r.header.Get("Retry-After"))
		if r.header.Get("Content-Type") != "application/problem+json" || r.problem().Code != "too_many_requests" ||
			err != nil || secs <= 0 || time.Duration(secs)*time.Second > limit {
			t.Fatalf("throttled answer = %s %q, Retry-After %q; want problem+json too_many_requests, Retry-After in (0, %s]",
				r.body, r.header.Get("Content-Type"), r.header.Get("Retry-After"), limit)
		}
	}
}

// TestSignInThrottleParallel: guesses sent at once each spend a try. Ten, then
// a hundred parallel wrong passwords for one account get at most five 401s
// between them, and 429 otherwise; the right password is 429 too until the
// window has passed.
func TestSignInThrottleParallel(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		anon := &client{t: t, base: e.srv.URL}
		anon.must(201, "POST", "/api/v1/users", map[string]string{"name": "Ada", "email": "ada@example.com", "password": "correct horse battery"})
		guess := func(int) response {
			return anon.do("POST", "/api/v1/sessions", map[string]string{"email": "ada@example.com", "password": "guess guess guess"})
		}
		total401 := 0
		for _, n := range []int{10, 100} {
			counts, rs := burst(n, guess)
			total401 += counts[401]
			if counts[401]+counts[429] != n {
				t.Fatalf("%d parallel wrong passwords: answers %v; want only 401 and 429", n, counts)
			}
			checkThrottled(t, rs, 15*time.Minute)
		}
		if total401 > 5 {
			t.Errorf("110 parallel wrong passwords: %d answered 401; want at most 5, then 429", total401)
		}
		e.clock.Advance(14 * time.Minute)
		r := anon.do("POST", "/api/v1/sessions", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
		if r.status != 429 {
			t.Fatalf("the right password while locked = %d %s; want 429", r.status, r.body)
		}
		checkThrottled(t, []response{r}, time.Minute)
		e.clock.Advance(time.Minute + time.Second)
		anon.must(201, "POST", "/api/v1/sessions", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
	})
}

// TestSignInThrottlePerAddress: one address guessing at many accounts gets at
// most twenty 401s, however many it sends at once, and then 429 for every
// account, even one it never tried.
func TestSignInThrottlePerAddress(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		anon := &client{t: t, base: e.srv.URL}
		anon.must(201, "POST", "/api/v1/users", map[string]string{"name": "Ada", "email": "ada@example.com", "password": "correct horse battery"})
		counts, rs := burst(60, func(i int) response {
			return anon.do("POST", "/api/v1/sessions", map[string]string{"email": fmt.Sprintf("user%d@example.com", i), "password": "guess guess guess"})
		})
		if counts[401] > 20 || counts[401]+counts[429] != 60 {
			t.Errorf("60 parallel wrong sign-ins at 60 accounts from one address: answers %v; want at most 20 401s, then 429", counts)
		}
		checkThrottled(t, rs, 15*time.Minute)
		r := anon.do("POST", "/api/v1/sessions", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
		if r.status != 429 {
			t.Errorf("a right password from the locked address = %d %s; want 429", r.status, r.body)
		}
		e.clock.Advance(15*time.Minute + time.Second)
		anon.must(201, "POST", "/api/v1/sessions", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
	})
}

// TestSignInSuccessKeepsFailures: a success gives back its own try, not the
// failures before it, so a driver's sign-in never reopens the door to guesses.
func TestSignInSuccessKeepsFailures(t *testing.T) {
	e := newAPI(t, teststore.Backend{Name: "sqlite", Open: teststore.OpenSQLite})
	anon := &client{t: t, base: e.srv.URL}
	anon.must(201, "POST", "/api/v1/users", map[string]string{"name": "Ada", "email": "ada@example.com", "password": "correct horse battery"})
	for range 4 {
		anon.must(401, "POST", "/api/v1/sessions", map[string]string{"email": "ada@example.com", "password": "guess guess guess"})
	}
	for range 3 {
		anon.must(201, "POST", "/api/v1/sessions", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
	}
	anon.must(401, "POST", "/api/v1/sessions", map[string]string{"email": "ada@example.com", "password": "guess guess guess"})
	anon.must(429, "POST", "/api/v1/sessions", map[string]string{"email": "ada@example.com", "password": "guess guess guess"})
}

// TestManualCodeThrottleParallel: codes typed at a gate device are counted
// before they are checked, so ten, then a hundred wrong codes sent at once get
// at most twenty answers between them (deny invalid_pass), and 429 otherwise;
// the right code is 429 too until the window has passed. Another device is not
// held up, and right codes never use up the tries.
func TestManualCodeThrottleParallel(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		in, entry := mustGate(t, e, parking.Entry)
		out, exit := mustGate(t, e, parking.Exit)
		_, p := paidPass(t, e, ada, 5, 1, 3)
		scanAt := func(c *client, g parking.Gate, code string) response {
			return c.do("POST", "/api/v1/gates/"+g.ID+"/scans", map[string]any{"code": code})
		}
		// Right codes give their tries back: many of them never lock the gate.
		for i := range gate.ManualAttempts + 5 {
			if r := scanAt(out, exit, p.ManualCode); r.status != 200 {
				t.Fatalf("right code #%d at the exit = %d %s; want 200", i+1, r.status, r.body)
			}
		}
		answered := 0
		for _, n := range []int{10, 100} {
			counts, rs := burst(n, func(i int) response { return scanAt(in, entry, fmt.Sprintf("ZZZZ-%04d", i)) })
			if counts[200]+counts[429] != n {
				t.Fatalf("%d wrong codes at once: answers %v; want only 200 and 429", n, counts)
			}
			for _, r := range rs {
				var d gate.Decision
				if r.status == 200 {
					if r.into(t, &d); d.Reason != gate.ReasonInvalidPass {
						t.Errorf("a wrong code = %+v; want deny invalid_pass", d)
					}
				}
			}
			answered += counts[200]
			checkThrottled(t, rs, gate.ManualWindow)
		}
		if answered > gate.ManualAttempts {
			t.Errorf("110 wrong codes at once: %d were checked; want at most %d, then 429", answered, gate.ManualAttempts)
		}
		if r := scanAt(in, entry, p.ManualCode); r.status != 429 {
			t.Errorf("the right code at the locked gate = %d %s; want 429", r.status, r.body)
		}
		if r := scanAt(out, exit, "ZZZZ-ZZZZ"); r.status != 200 {
			t.Errorf("a wrong code at another gate = %d %s; want 200 (each device has its own tries)", r.status, r.body)
		}
		e.clock.Advance(gate.ManualWindow + time.Second)
		var d gate.Decision
		in.must(200, "POST", "/api/v1/gates/"+entry.ID+"/scans", map[string]any{"code": p.ManualCode}).into(t, &d)
		if d.Reason == gate.ReasonInvalidPass {
			t.Errorf("the right code after the window = %+v; want it matched", d)
		}
	})
}
