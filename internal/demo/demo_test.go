package demo_test

import (
	"context"
	"sync"
	"testing"

	"parkd/internal/auth"
	"parkd/internal/demo"
	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// TestSeedConcurrently is three parkd instances started at once on one empty
// database: each seeds, none fails, and the demo exists once.
func TestSeedConcurrently(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		dsn := b.DSN(t)
		const instances = 3
		stores := make([]parking.Store, instances)
		var wg sync.WaitGroup
		for i := range stores {
			wg.Add(1)
			go func() { defer wg.Done(); stores[i] = b.OpenDSN(t, dsn) }()
		}
		wg.Wait()
		if t.Failed() {
			return
		}

		ctx := context.Background()
		clock := parkingtest.NewClock(storetest.T0)
		created := make([]bool, instances)
		errs := make([]error, instances)
		start := make(chan struct{})
		for i, s := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, created[i], errs[i] = demo.Seed(ctx, s, auth.New(s, clock), clock)
			}()
		}
		close(start)
		wg.Wait()
		creators := 0
		for i, err := range errs {
			if err != nil {
				t.Errorf("instance %d: Seed = %v; want nil", i, err)
			}
			if created[i] {
				creators++
			}
		}
		if creators > 1 {
			t.Errorf("%d instances say they created the demo; want at most one", creators)
		}

		s := stores[0]
		lots, err := s.Lots(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(lots) != 2 {
			t.Fatalf("Lots after 3 seeds = %d; want the garage and the mall once", len(lots))
		}
		wantSpots := map[string]int{"Harbor Street Garage": 450, "Riverside Mall Car Park": 120}
		for _, l := range lots {
			spots, err := s.Spots(ctx, l.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(spots) != wantSpots[l.Name] {
				t.Errorf("%s has %d spots; want %d", l.Name, len(spots), wantSpots[l.Name])
			}
			levels, err := s.Levels(ctx, l.ID)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]int{"Harbor Street Garage": 3, "Riverside Mall Car Park": 2}[l.Name]; len(levels) != want {
				t.Errorf("%s has %d levels; want %d", l.Name, len(levels), want)
			}
		}
		for _, email := range []string{demo.DriverEmail, demo.OperatorEmail} {
			if _, err := s.UserByEmail(ctx, email); err != nil {
				t.Errorf("UserByEmail(%s) = %v; want the demo account", email, err)
			}
		}

		// A later start finds the demo and leaves it alone.
		if _, again, err := demo.Seed(ctx, s, auth.New(s, clock), clock); err != nil || again {
			t.Errorf("Seed on a seeded database = %v, created %v; want nil, false", err, again)
		}
	})
}
