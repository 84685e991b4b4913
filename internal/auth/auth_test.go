package auth_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parkd/internal/auth"
)

func TestPasswordHash(t *testing.T) {
	h := auth.HashPassword("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash = %q; want argon2id with OWASP's parameters", h)
	}
	if h == auth.HashPassword("correct horse battery") {
		t.Errorf("two hashes of one password are equal; want a fresh salt each time")
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		if ok, err := auth.CheckPassword(h, pw); err != nil || ok != want {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=18$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA", "$argon2id$v=19$m=1,t=1,p=1$!!$AA"} {
		if _, err := auth.CheckPassword(bad, "x"); err == nil {
			t.Errorf("CheckPassword(%q) = nil error; want the hash refused", bad)
		}
	}
}

func TestTokens(t *testing.T) {
	tok, hash := auth.NewToken("pks_")
	if !strings.HasPrefix(tok, "pks_") || len(tok) < 40 || auth.HashToken(tok) != hash || strings.Contains(hash, tok) {
		t.Errorf("NewToken = %q, %q", tok, hash)
	}
	if other, _ := auth.NewToken("pks_"); other == tok {
		t.Errorf("two tokens are equal")
	}
}

func TestThrottle(t *testing.T) {
	th := auth.NewThrottle(3, 15*time.Minute)
	t0 := time.Date(2030, 1, 7, 8, 0, 0, 0, time.UTC)
	for i := range 3 {
		if w := th.Take("a", t0.Add(time.Duration(i)*time.Minute)); w != 0 {
			t.Fatalf("attempt %d: Take = %s; want 0", i+1, w)
		}
	}
	if w := th.Take("a", t0.Add(3*time.Minute)); w != 14*time.Minute {
		t.Errorf("fourth attempt: Take = %s; want 14m (15m from the last one)", w)
	}
	if w := th.Wait("a", t0.Add(3*time.Minute)); w != 14*time.Minute {
		t.Errorf("after 3 attempts Wait = %s; want 14m", w)
	}
	if w := th.Take("b", t0); w != 0 {
		t.Errorf("another key: Take = %s; want 0", w)
	}
	if w := th.Take("a", t0.Add(17*time.Minute)); w != 0 {
		t.Errorf("after the window: Take = %s; want 0", w)
	}
	// Forgive gives back one attempt, not the others.
	th.Take("c", t0)
	th.Take("c", t0)
	th.Take("c", t0)
	th.Forgive("c", t0)
	if w := th.Wait("c", t0); w != 0 {
		t.Errorf("after one Forgive Wait = %s; want 0", w)
	}
	if w := th.Take("c", t0); w != 0 {
		t.Errorf("the try given back: Take = %s; want 0", w)
	}
	if w := th.Take("c", t0); w == 0 {
		t.Errorf("a fourth attempt after a Forgive: Take = 0; want a wait")
	}
}

// TestThrottleParallel: however many attempts arrive at once, Limit of them
// get through.
func TestThrottleParallel(t *testing.T) {
	for _, n := range []int{10, 100, 1000} {
		th := auth.NewThrottle(5, 15*time.Minute)
		t0 := time.Date(2030, 1, 7, 8, 0, 0, 0, time.UTC)
		var wg sync.WaitGroup
		var passed atomic.Int64
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if th.Take("a", t0) == 0 {
					passed.Add(1)
				}
			}()
		}
		wg.Wait()
		if passed.Load() != 5 {
			t.Errorf("%d attempts at once: %d passed; want 5", n, passed.Load())
		}
	}
}

// TestThrottleFull: filling the throttle with new keys never unlocks a locked
// one; when every key held is locked, a new key is refused until a window ends.
func TestThrottleFull(t *testing.T) {
	t0 := time.Date(2030, 1, 7, 8, 0, 0, 0, time.UTC)
	th := auth.NewThrottle(2, 15*time.Minute)
	th.MaxKeys = 10
	th.Take("victim", t0)
	th.Take("victim", t0)
	if th.Wait("victim", t0) == 0 {
		t.Fatal("victim not locked after its tries")
	}
	// An attacker sprays new keys, some locked themselves.
	for i := range 50 {
		th.Take(fmt.Sprint("spray", i), t0)
		if i%2 == 0 {
			th.Take(fmt.Sprint("spray", i), t0)
		}
	}
	if th.Wait("victim", t0.Add(time.Minute)) == 0 {
		t.Errorf("the victim's lock was forgotten when the throttle filled up")
	}
	if w := th.Take("newcomer", t0.Add(time.Minute)); w == 0 {
		t.Errorf("a new key was taken while every key held is locked; want it refused")
	}
	if w := th.Take("newcomer", t0.Add(16*time.Minute)); w != 0 {
		t.Errorf("a new key after the windows ended = wait %v; want taken", w)
	}
}
