package auth

import (
	"sync"
	"time"
)

// Throttle limits failed sign-ins per key (an account, a client address): after
// Limit failures within Window, the key is locked for Window from the last
// failure. A success clears an account's count. It lives in one process's
// memory; several instances each keep their own, which still bounds guessing.
type Throttle struct {
	Limit  int
	Window time.Duration

	mu      sync.Mutex
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	failures []time.Time
}

// maxThrottleKeys bounds the memory an attacker can make the throttle use.
const maxThrottleKeys = 100_000

// NewThrottle returns a throttle allowing limit failures per window.
func NewThrottle(limit int, window time.Duration) *Throttle {
	return &Throttle{Limit: limit, Window: window, entries: map[string]*throttleEntry{}}
}

// Wait reports how long key must wait before trying again at now; zero when it may.
func (t *Throttle) Wait(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[key]
	if e == nil {
		return 0
	}
	e.prune(now, t.Window)
	if len(e.failures) < t.Limit {
		return 0
	}
	return e.failures[len(e.failures)-1].Add(t.Window).Sub(now)
}

// Fail records a failed attempt by key at now.
func (t *Throttle) Fail(key string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[key]
	if e == nil {
		if len(t.entries) >= maxThrottleKeys {
			t.sweep(now)
		}
		e = &throttleEntry{}
		t.entries[key] = e
	}
	e.prune(now, t.Window)
	e.failures = append(e.failures, now)
	if len(e.failures) > t.Limit {
		e.failures = e.failures[len(e.failures)-t.Limit:]
	}
}

// Reset forgets key's failures.
func (t *Throttle) Reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, key)
}

func (e *throttleEntry) prune(now time.Time, window time.Duration) {
	i := 0
	for i < len(e.failures) && !e.failures[i].After(now.Add(-window)) {
		i++
	}
	e.failures = e.failures[i:]
}

// sweep drops entries with no failure left in the window; if that frees too
// little, it starts afresh rather than grow without bound.
func (t *Throttle) sweep(now time.Time) {
	for k, e := range t.entries {
		if e.prune(now, t.Window); len(e.failures) == 0 {
			delete(t.entries, k)
		}
	}
	if len(t.entries) >= maxThrottleKeys {
		t.entries = map[string]*throttleEntry{}
	}
}
