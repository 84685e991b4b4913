package storetest

import (
	"errors"
	"fmt"
	"os"
	"reflect"
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
	t.Run("MarkNoShowsRace", func(t *testing.T) { testMarkNoShowsRace(t, []parking.Store{open(t)}) })
	t.Run("NoShowHoldRace", func(t *testing.T) { testNoShowHoldRace(t, open(t)) })
	t.Run("FlagOverstaysRace", func(t *testing.T) { testFlagOverstaysRace(t, []parking.Store{open(t)}) })
	t.Run("EnsurePassKeyRace", func(t *testing.T) {
		testEnsurePassKeyRace(t, func(t *testing.T) []parking.Store { return []parking.Store{open(t)} })
	})
	t.Run("ClaimNotificationsRace", func(t *testing.T) { testClaimNotificationsRace(t, []parking.Store{open(t)}) })
}

// Instances opens n stores on one fresh, empty database: n parkd instances
// sharing it. It registers their cleanup.
type Instances func(t *testing.T, n int) []parking.Store

// RunInstances runs the races of the periodic jobs and of start-up with
// several instances on one database, each racer using one of them.
func RunInstances(t *testing.T, open Instances) {
	const n = 4
	t.Run("MarkNoShowsRace", func(t *testing.T) { testMarkNoShowsRace(t, open(t, n)) })
	t.Run("FlagOverstaysRace", func(t *testing.T) { testFlagOverstaysRace(t, open(t, n)) })
	t.Run("EnsurePassKeyRace", func(t *testing.T) {
		testEnsurePassKeyRace(t, func(t *testing.T) []parking.Store { return open(t, n) })
	})
	t.Run("ClaimNotificationsRace", func(t *testing.T) { testClaimNotificationsRace(t, open(t, n)) })
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

// mustDue makes n reservations of f's lot, in the state mk makes (a Fixture
// method such as Fixture.MustConfirmed), spread over the fixture's spots in
// back-to-back two-hour windows from base.
func mustDue(t *testing.T, s parking.Store, f Fixture, n int, base time.Time, mk mustState) map[string]bool {
	t.Helper()
	due := map[string]bool{}
	for i := range n {
		start := base.Add(time.Duration(i/len(f.Spots)) * 2 * time.Hour)
		due[mk(f, t, s, f.Spots[i%len(f.Spots)].ID, start, start.Add(2*time.Hour)).ID] = true
	}
	return due
}

// checkOnce checks that racers, who returned got between them, moved each of
// due exactly once, and that each has exactly one event of type typ.
func checkOnce(t *testing.T, s parking.Store, lotID, typ string, round int, due map[string]bool, got [][]parking.Reservation) {
	t.Helper()
	seen := map[string]int{}
	for _, rs := range got {
		for _, r := range rs {
			seen[r.ID]++
		}
	}
	for id, n := range seen {
		if !due[id] || n != 1 {
			t.Errorf("round %d: %s returned %d times (due: %v); want once if due", round, id, n, due[id])
		}
	}
	if len(seen) != len(due) {
		t.Errorf("round %d: the racers returned %d distinct reservations; want %d", round, len(seen), len(due))
	}
	counts := eventCounts(t, s, lotID, typ)
	for id := range due {
		if counts[id] != 1 {
			t.Errorf("round %d: %d %s events for %s; want 1", round, counts[id], typ, id)
		}
	}
}

// testMarkNoShowsRace: in every round, 8 goroutines mark the no-shows of one
// lot at the same moment, through the stores in turn; each of the 50 due
// reservations moves once.
func testMarkNoShowsRace(t *testing.T, stores []parking.Store) {
	testSweepRace(t, stores, sweep{
		name:  "MarkNoShows",
		event: "reservation.no_show",
		due:   Fixture.MustConfirmed,
		run: func(s parking.Store, lotID string, now time.Time) ([]parking.Reservation, error) {
			return s.MarkNoShows(ctx, lotID, now.Add(-15*time.Minute), now)
		},
	})
}

// testNoShowHoldRace: in every round, at a confirmed reservation's no-show
// deadline, new holds for its spot race with MarkNoShows: one hold wins, and
// the reservation moves to no_show once.
func testNoShowHoldRace(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	spot := f.Spots[5].ID
	rounds := max(Rounds(t)/10, 10)
	for round := range rounds {
		start := T0.Add(time.Duration(round) * 3 * time.Hour)
		r := f.MustConfirmed(t, s, spot, start, start.Add(time.Hour))
		now := start.Add(time.Duration(f.Lot.Policy.NoShowAfter))
		holds := make([]*parking.Reservation, 6)
		var marked []parking.Reservation
		errs := race(len(holds)+1, func(i int) error {
			if i == len(holds) {
				var err error
				marked, err = s.MarkNoShows(ctx, f.Lot.ID, now.Add(-time.Duration(f.Lot.Policy.NoShowAfter)), now)
				return err
			}
			holds[i] = f.NewHold(now, start.Add(30*time.Minute), start.Add(90*time.Minute))
			return s.Hold(ctx, holds[i], []string{spot}, nil)
		})
		if err := errs[len(holds)]; err != nil {
			t.Fatalf("round %d: MarkNoShows = %v", round, err)
		}
		if won := countWins(t, errs[:len(holds)]); won != 1 {
			t.Fatalf("round %d: %d new holds won the spot of a no-show; want exactly 1", round, won)
		}
		if len(marked) > 1 || len(marked) == 1 && marked[0].ID != r.ID {
			t.Fatalf("round %d: MarkNoShows returned %v; want at most %s", round, ids(marked), r.ID)
		}
		if got, _ := s.Reservation(ctx, r.ID); got.Status != parking.StatusNoShow {
			t.Fatalf("round %d: the no-show is %q; want no_show", round, got.Status)
		}
		if n := eventCounts(t, s, f.Lot.ID, "reservation.no_show")[r.ID]; n != 1 {
			t.Fatalf("round %d: %d reservation.no_show events; want 1", round, n)
		}
	}
}

// testFlagOverstaysRace: in every round, 8 goroutines flag the overstays of
// one lot at the same moment, through the stores in turn; each of 50 overdue
// reservations is flagged once.
func testFlagOverstaysRace(t *testing.T, stores []parking.Store) {
	testSweepRace(t, stores, sweep{
		name:  "FlagOverstays",
		event: "reservation.overstaying",
		due:   Fixture.MustCheckedIn,
		run: func(s parking.Store, lotID string, now time.Time) ([]parking.Reservation, error) {
			return s.FlagOverstays(ctx, lotID, now.Add(-10*time.Minute), now)
		},
		// Checked out, so that the next round's spots are free.
		after: func(t *testing.T, s parking.Store, id string, now time.Time) {
			MustChange(t, s, id, parking.StatusCheckedIn, parking.StatusCompleted, now)
		},
	})
}

// mustState makes a reservation of f's lot of spotID for [start, end) in
// some status.
type mustState func(f Fixture, t testing.TB, s parking.Store, spotID string, start, end time.Time) parking.Reservation

// sweep is one of the periodic jobs that move each due reservation of a lot once.
type sweep struct {
	name  string    // the Store method, for messages
	event string    // the event each due reservation gets once
	due   mustState // makes a reservation that is due once it has ended or started
	run   func(s parking.Store, lotID string, now time.Time) ([]parking.Reservation, error)
	// after, if set, runs on each due reservation at the end of a round.
	after func(t *testing.T, s parking.Store, id string, now time.Time)
}

// testSweepRace: in every round, 8 goroutines run sw on one lot at the same
// moment, through the stores in turn; each of the 50 due reservations is
// returned once and gets one event.
func testSweepRace(t *testing.T, stores []parking.Store, sw sweep) {
	s := stores[0]
	f := MustFixture(t, s)
	const racers, due = 8, 50
	rounds := max(Rounds(t)/100, 3)
	for round := range rounds {
		base := T0.Add(time.Duration(round) * 24 * time.Hour)
		want := mustDue(t, s, f, due, base, sw.due)
		now := base.Add(20 * time.Hour)
		got := make([][]parking.Reservation, racers)
		errs := race(racers, func(i int) error {
			var err error
			got[i], err = sw.run(stores[i%len(stores)], f.Lot.ID, now)
			return err
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %s racing = %v", round, sw.name, err)
		}
		checkOnce(t, s, f.Lot.ID, sw.event, round, want, got)
		if sw.after != nil {
			for id := range want {
				sw.after(t, s, id, now)
			}
		}
	}
}

// testEnsurePassKeyRace: on each of a few fresh databases, 8 goroutines
// ensure a pass key at once, each with its own and through the stores open on
// it in turn; all come back with the same single key.
func testEnsurePassKeyRace(t *testing.T, open func(t *testing.T) []parking.Store) {
	const racers = 8
	for round := range max(Rounds(t)/100, 3) {
		stores := open(t)
		got := make([][]parking.PassKey, racers)
		errs := race(racers, func(i int) error {
			var err error
			got[i], err = stores[i%len(stores)].EnsurePassKey(ctx, parking.PassKey{ID: fmt.Sprintf("pk_%d", i), Secret: []byte{byte(i)}, CreatedAt: T0})
			return err
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: EnsurePassKey racing = %v", round, err)
		}
		for i, keys := range got {
			if len(keys) != 1 || !reflect.DeepEqual(keys, got[0]) {
				t.Fatalf("round %d: racer %d got %+v, racer 0 %+v; want the same single key", round, i, keys, got[0])
			}
		}
		if k := got[0][0]; k.ID != fmt.Sprintf("pk_%d", k.Secret[0]) {
			t.Errorf("round %d: stored key %s has the secret of pk_%d; want one racer's key whole", round, k.ID, k.Secret[0])
		}
	}
}
