package storetest

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"parkd/internal/parking"
)

// Rounds is how many contested rounds the one-spot race runs: 1,000 by default,
// 100 with -short, or PARKD_TEST_ROUNDS. The other races run a tenth as many.
func Rounds(t *testing.T) int {
	if v, err := strconv.Atoi(os.Getenv("PARKD_TEST_ROUNDS")); err == nil && v > 0 {
		return v
	}
	if testing.Short() {
		return 100
	}
	return 1000
}

// RunConcurrency hammers invariant 1 (no double booking) from many goroutines.
func RunConcurrency(t *testing.T, open Opener) {
	t.Run("OneSpotRace", func(t *testing.T) { testOneSpotRace(t, open(t)) })
	t.Run("ManyClientsFewSpots", func(t *testing.T) { testManyClientsFewSpots(t, open(t)) })
	t.Run("RaceWithExpiry", func(t *testing.T) { testRaceWithExpiry(t, open(t)) })
}

// race runs fn(i) for i in [0, n) at once and returns their errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			errs[i] = fn(i)
		}()
	}
	start.Done()
	done.Wait()
	return errs
}

// testOneSpotRace: in every round, 8 goroutines race for one spot over
// overlapping windows; exactly one wins, every other gets ErrSpotUnavailable.
func testOneSpotRace(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	spot := f.Spots[5].ID
	const racers = 8
	rounds := Rounds(t)
	for round := range rounds {
		base := T0.Add(time.Duration(round) * 4 * time.Hour)
		errs := race(racers, func(i int) error {
			// Windows differ per racer but all contain [base+1h, base+2h).
			start := base.Add(time.Duration(i%3) * 10 * time.Minute)
			return s.Hold(ctx, f.NewHold(T0, start, base.Add(2*time.Hour+time.Duration(i%2)*time.Hour)), []string{spot}, nil)
		})
		if won := countWins(t, errs); won != 1 {
			t.Fatalf("round %d: %d of %d racers won one spot; want exactly 1", round, won, racers)
		}
	}
	bs, err := s.Bookings(ctx, f.Lot.ID, T0, T0.Add(time.Duration(rounds)*4*time.Hour), T0)
	if err != nil || len(bs) != 1 {
		t.Fatalf("Bookings() = %v, %v; want the one spot", bs, err)
	}
}

// testManyClientsFewSpots: in every round, N clients race for M < N spots of a
// size, each offering all M as candidates; exactly M win, on M different spots.
func testManyClientsFewSpots(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	var candidates []string
	for _, sp := range append(f.SpotsOf(parking.Compact), f.SpotsOf(parking.Standard)...) {
		candidates = append(candidates, sp.ID)
	}
	const clients = 12
	rounds := max(Rounds(t)/10, 10)
	for round := range rounds {
		start := T0.Add(time.Duration(round) * 3 * time.Hour)
		holds := make([]*parking.Reservation, clients)
		errs := race(clients, func(i int) error {
			holds[i] = f.NewHold(T0, start, start.Add(2*time.Hour))
			return s.Hold(ctx, holds[i], candidates, nil)
		})
		if won := countWins(t, errs); won != len(candidates) {
			t.Fatalf("round %d: %d of %d clients won %d spots; want %d", round, won, clients, len(candidates), len(candidates))
		}
		seen := map[string]bool{}
		for i, err := range errs {
			if err != nil {
				continue
			}
			if seen[holds[i].SpotID] {
				t.Fatalf("round %d: spot %s double-booked", round, holds[i].SpotID)
			}
			seen[holds[i].SpotID] = true
			got, err := s.Reservation(ctx, holds[i].ID)
			if err != nil || got.SpotID != holds[i].SpotID {
				t.Fatalf("round %d: Reservation(%s) = %+v, %v; want it on %s", round, holds[i].ID, got, err, holds[i].SpotID)
			}
		}
	}
}

// testRaceWithExpiry: holds that expired race with new holds, confirmations and
// the sweeper; at no point do two blocking reservations share the spot.
func testRaceWithExpiry(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	spot := f.Spots[5].ID
	rounds := max(Rounds(t)/10, 10)
	for round := range rounds {
		start := T0.Add(time.Duration(round) * 3 * time.Hour)
		stale := f.MustHold(t, s, spot, T0, start, start.Add(time.Hour))
		now := stale.HoldExpiresAt.Add(time.Duration(round%3) * time.Microsecond)
		holds := make([]*parking.Reservation, 6)
		errs := race(len(holds)+2, func(i int) error {
			switch i {
			case len(holds):
				_, err := s.ExpireHolds(ctx, now)
				return err
			case len(holds) + 1:
				// A late payment for the stale hold must not revive it.
				_, err := s.ChangeStatus(ctx, parking.StatusChange{ID: stale.ID, From: []parking.Status{parking.StatusHeld}, To: parking.StatusConfirmed, At: now})
				if !errors.Is(err, parking.ErrInvalidStatus) {
					return fmt.Errorf("confirming an expired hold = %v; want ErrInvalidStatus", err)
				}
				return nil
			}
			holds[i] = f.NewHold(now, start.Add(30*time.Minute), start.Add(90*time.Minute))
			return s.Hold(ctx, holds[i], []string{spot}, nil)
		})
		for _, err := range errs[len(holds):] {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if won := countWins(t, errs[:len(holds)]); won != 1 {
			t.Fatalf("round %d: %d new holds won a spot whose old hold expired; want exactly 1", round, won)
		}
		if got, _ := s.Reservation(ctx, stale.ID); got.Status != parking.StatusExpired {
			t.Fatalf("round %d: stale hold is %q; want expired", round, got.Status)
		}
	}
}

// countWins counts nil errors and fails on any error but ErrSpotUnavailable.
func countWins(t *testing.T, errs []error) int {
	t.Helper()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, parking.ErrSpotUnavailable):
			t.Fatalf("racer got %v; want nil or ErrSpotUnavailable", err)
		}
	}
	return won
}
