package retention_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/retention"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// TestOnceAcrossInstances: two instances on one database tick at once; one
// of them runs each due run, in bounded batches, and nothing before it is due.
func TestOnceAcrossInstances(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		ctx := context.Background()
		dsn := b.DSN(t)
		stores := []parking.Store{b.OpenDSN(t, dsn), b.OpenDSN(t, dsn)}
		clock := parkingtest.NewClock(storetest.T0)
		log := parkingtest.Logger(t)
		cfg := retention.Config{Every: time.Hour, Batch: 2, MaxBatches: 2}
		pruners := []*retention.Pruner{retention.New(stores[0], clock, log, cfg), retention.New(stores[1], clock, log, cfg)}

		u := storetest.MustUser(t, stores[0], "ada@example.com")
		for i := range 7 { // 7 sessions that expire at T0
			if err := stores[0].CreateSession(ctx, &parking.Session{TokenHash: fmt.Sprint("h", i), UserID: u.ID,
				CreatedAt: storetest.T0.Add(-time.Hour), ExpiresAt: storetest.T0}); err != nil {
				t.Fatal(err)
			}
		}
		keep := parking.Session{TokenHash: "keep", UserID: u.ID, CreatedAt: storetest.T0, ExpiresAt: storetest.T0.Add(30 * 24 * time.Hour)}
		if err := stores[1].CreateSession(ctx, &keep); err != nil {
			t.Fatal(err)
		}

		tick := func() (ran int, pruned int) {
			t.Helper()
			var mu sync.Mutex
			var wg sync.WaitGroup
			for _, p := range pruners {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res, err := p.RunIfDue(ctx)
					if err != nil {
						t.Errorf("RunIfDue = %v", err)
					}
					mu.Lock()
					defer mu.Unlock()
					if res.Ran {
						ran++
					}
					pruned += res.Pruned[parking.PruneSessions]
				}()
			}
			wg.Wait()
			return ran, pruned
		}
		// A run deletes at most 2 batches of 2: 4 of the 7.
		if ran, pruned := tick(); ran != 1 || pruned != 4 {
			t.Errorf("first tick: %d runs pruned %d sessions; want 1 run of 4 (2 batches of 2)", ran, pruned)
		}
		clock.Advance(30 * time.Minute)
		if ran, _ := tick(); ran != 0 {
			t.Errorf("half an hour later: %d runs; want none, the next is due in an hour", ran)
		}
		clock.Advance(30 * time.Minute)
		if ran, pruned := tick(); ran != 1 || pruned != 3 {
			t.Errorf("an hour later: %d runs pruned %d; want 1 run of the 3 left", ran, pruned)
		}
		if _, err := stores[0].Session(ctx, "keep"); err != nil {
			t.Errorf("the unexpired session: %v; want kept", err)
		}
		if _, err := stores[0].Session(ctx, "h0"); !errors.Is(err, parking.ErrNotFound) {
			t.Errorf("an expired session: %v; want pruned", err)
		}
	})
}
