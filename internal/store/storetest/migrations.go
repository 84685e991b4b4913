package storetest

import (
	"encoding/json"
	"io"
	"sync"
	"testing"
	"time"

	"parkd/internal/parking"
)

// NoShowBackfill is a lot policy as stores wrote it before the no-show window
// had a column of its own (JSON only), and the window in the column the
// migration that adds it must give that lot.
type NoShowBackfill struct {
	Policy string
	Want   time.Duration
}

// NoShowBackfills are the cases every backend whose migrations backfill
// no_show_after_us checks its backfill against.
var NoShowBackfills = []NoShowBackfill{
	{`{"no_show_after": "15m0s"}`, 15 * time.Minute},
	{`{"no_show_after": "30m0s"}`, 30 * time.Minute},
	{`{"no_show_after": "1h30m0s"}`, 90 * time.Minute},
	{`{"no_show_after": "26h0m0s"}`, 26 * time.Hour},
	{`{"no_show_after": "1h0m45s"}`, time.Hour + 45*time.Second},
	{`{"no_show_after": "45s"}`, 45 * time.Second},
	{`{"no_show_after": "1m30.5s"}`, 90*time.Second + 500*time.Millisecond},
	{`{"no_show_after": "500ms"}`, 500 * time.Millisecond},
	{`{"no_show_after": "250µs"}`, 250 * time.Microsecond},
	{`{"hold_ttl": "5m0s"}`, 15 * time.Minute},       // missing: the policy's default
	{`{"no_show_after": "100ns"}`, 15 * time.Minute}, // below a microsecond: left at the default
	{`{"no_show_after": "bogus"}`, 15 * time.Minute}, // unreadable: left at the default
}

// CheckNoShowBackfill checks the microseconds us a backfill gave the lot of
// case c, and that what the store writes from now on (noShowAfter, its
// function from a policy to the column) agrees with it.
func CheckNoShowBackfill(t *testing.T, c NoShowBackfill, us int64, noShowAfter func(parking.Policy) int64) {
	t.Helper()
	if want := c.Want.Microseconds(); us != want {
		t.Errorf("policy %s: no_show_after_us = %d; want %d", c.Policy, us, want)
	}
	var p parking.Policy
	if json.Unmarshal([]byte(c.Policy), &p) == nil && p.NoShowAfter >= parking.Duration(time.Millisecond) && noShowAfter(p) != us {
		t.Errorf("policy %s: noShowAfter() = %d; backfill %d", c.Policy, noShowAfter(p), us)
	}
}

// OpenConcurrently opens n stores at once with open, as parkd instances
// starting together on one empty database would, and closes them: each must
// open (its migrations taking turns with the others'). The backend's own test
// then checks that each migration was applied once.
func OpenConcurrently(t *testing.T, n int, open func() (io.Closer, error)) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range errs {
		wg.Go(func() {
			s, err := open()
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open() #%d = %v; want nil", i, err)
		}
	}
}
