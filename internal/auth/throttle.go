package auth

import (
	"sync"
	"time"
)

// Throttle limits attempts per key (an account, a client address, a gate
// device): Limit attempts within Window lock the key for Window from the last
// one. An attempt counts the moment it is taken, before it is checked, so N
// attempts sent at once spend N tries; a caller gives back (Forgive) the
// attempts that succeeded. It lives in one process's memory; several
// instances each keep their own, which still bounds guessing.
type Throttle struct {
	Limit  int
	Window time.Duration
	// MaxKeys bounds the keys held, and so the memory an attacker can make
	// the throttle use (default 100,000).
	MaxKeys int

	mu      sync.Mutex
	entries map[string]*throttleEntry
}

type throttleEntry struct {
	attempts []time.Time
}

// maxThrottleKeys bounds the memory an attacker can make the throttle use.
const maxThrottleKeys = 100_000

// NewThrottle returns a throttle allowing limit attempts per window.
func NewThrottle(limit int, window time.Duration) *Throttle {
	return &Throttle{Limit: limit, Window: window, entries: map[string]*throttleEntry{}}
}

// Take counts an attempt by key at now and returns zero, or, when key has
// spent its tries, counts nothing and returns how long it must wait. The check
// and the count are one step, so no two attempts can both take the last try.
func (t *Throttle) Take(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[key]
	if e == nil {
		if len(t.entries) >= t.maxKeys() {
			t.sweep(now)
		}
		if len(t.entries) >= t.maxKeys() {
			// Every key held is locked: refuse a new one rather than
			// forget a lock (fail closed) until some window ends.
			return t.Window
		}
		e = &throttleEntry{}
		t.entries[key] = e
	}
	e.prune(now, t.Window)
	if len(e.attempts) >= t.Limit {
		return e.attempts[len(e.attempts)-1].Add(t.Window).Sub(now)
	}
	e.attempts = append(e.attempts, now)
	return 0
}

// Wait reports how long key must wait before trying again at now; zero when
// it may. It counts nothing.
func (t *Throttle) Wait(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[key]
	if e == nil {
		return 0
	}
	e.prune(now, t.Window)
	if len(e.attempts) < t.Limit {
		return 0
	}
	return e.attempts[len(e.attempts)-1].Add(t.Window).Sub(now)
}

// Forgive gives back one attempt key took at at: it succeeded, so it is no
// failure. It gives back only that one: attempts still in flight, and failures
// before it, keep counting, so a success never lets parallel guesses through.
func (t *Throttle) Forgive(key string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[key]
	if e == nil {
		return
	}
	for i := len(e.attempts) - 1; i >= 0; i-- {
		if e.attempts[i].Equal(at) {
			e.attempts = append(e.attempts[:i], e.attempts[i+1:]...)
			break
		}
	}
	if len(e.attempts) == 0 {
		delete(t.entries, key)
	}
}

func (e *throttleEntry) prune(now time.Time, window time.Duration) {
	i := 0
	for i < len(e.attempts) && !e.attempts[i].After(now.Add(-window)) {
		i++
	}
	e.attempts = e.attempts[i:]
}

// sweep drops entries with no attempt left in the window; if that frees too
// little, it drops those that still have tries left. A locked key is never
// forgotten: filling the throttle with new keys must not unlock an account.
func (t *Throttle) sweep(now time.Time) {
	for k, e := range t.entries {
		if e.prune(now, t.Window); len(e.attempts) == 0 {
			delete(t.entries, k)
		}
	}
	if len(t.entries) < t.maxKeys() {
		return
	}
	for k, e := range t.entries {
		if len(e.attempts) < t.Limit {
			delete(t.entries, k)
		}
	}
}

func (t *Throttle) maxKeys() int {
	if t.MaxKeys > 0 {
		return t.MaxKeys
	}
	return maxThrottleKeys
}
