package booking_test

import (
	"testing"
	"time"

	"parkd/internal/booking"
	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// TestLifecycleTwoInstances: two parkd instances on one database run the
// time-driven jobs at the same moment; each no-show and each overstay happens
// exactly once.
func TestLifecycleTwoInstances(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		dsn := b.DSN(t)
		one, two := b.OpenDSN(t, dsn), b.OpenDSN(t, dsn)
		clock := parkingtest.NewClock(storetest.T0)
		f := storetest.MustFixture(t, one)
		// 8 paid reservations that nobody uses, 2 cars that stay too long.
		var due []string
		for i := range 8 {
			r := f.MustHold(t, one, f.Spots[i].ID, storetest.T0, storetest.T0.Add(time.Hour), storetest.T0.Add(2*time.Hour))
			storetest.MustChange(t, one, r.ID, parking.StatusHeld, parking.StatusConfirmed, storetest.T0)
			due = append(due, r.ID)
		}
		for i := 8; i < 10; i++ {
			r := f.MustHold(t, one, f.Spots[i].ID, storetest.T0, storetest.T0.Add(time.Hour), storetest.T0.Add(2*time.Hour))
			storetest.MustChange(t, one, r.ID, parking.StatusHeld, parking.StatusConfirmed, storetest.T0)
			storetest.MustChange(t, one, r.ID, parking.StatusConfirmed, parking.StatusCheckedIn, storetest.T0.Add(time.Hour))
		}
		clock.Set(storetest.T0.Add(3 * time.Hour)) // past every no-show deadline and every grace
		engines := []*booking.Service{booking.New(one, clock), booking.New(two, clock)}
		for round := range 3 {
			type result struct {
				noShows, overstays int
				err                error
			}
			results := make(chan result, 8)
			for i := range 8 {
				go func() {
					sw, err := engines[i%2].RunLifecycle(t.Context())
					results <- result{len(sw.NoShows), len(sw.Overstays), err}
				}()
			}
			var noShows, overstays int
			for range 8 {
				r := <-results
				if r.err != nil {
					t.Fatalf("round %d: RunLifecycle: %v", round, r.err)
				}
				noShows, overstays = noShows+r.noShows, overstays+r.overstays
			}
			want := [2]int{8, 2}
			if round > 0 {
				want = [2]int{0, 0}
			}
			if noShows != want[0] || overstays != want[1] {
				t.Errorf("round %d: %d no-shows and %d overstays across 8 concurrent runs; want %d and %d", round, noShows, overstays, want[0], want[1])
			}
		}
		events, err := one.Events(t.Context(), f.Lot.ID, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, e := range events {
			if e.Type == "reservation.no_show" || e.Type == "reservation.overstaying" {
				count[e.Type+" "+e.ReservationID]++
			}
		}
		for _, id := range due {
			if n := count["reservation.no_show "+id]; n != 1 {
				t.Errorf("no-show events for %s = %d; want exactly 1", id, n)
			}
		}
		if len(count) != 10 {
			t.Errorf("distinct transitions = %d; want 10", len(count))
		}
	})
}
