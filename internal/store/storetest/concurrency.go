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
	t.Run("UpdatePaymentRaces", func(t *testing.T) { testUpdatePaymentRaces(t, open(t)) })
	t.Run("ConfirmRaces", func(t *testing.T) { testConfirmRaces(t, open(t)) })
	t.Run("HoldKeyRace", func(t *testing.T) { testHoldKeyRace(t, open(t)) })
	t.Run("HoldRecordKeyRace", func(t *testing.T) { testHoldRecordKeyRace(t, open(t)) })
	t.Run("ClaimKeyRace", func(t *testing.T) { testClaimKeyRace(t, open(t)) })
	t.Run("InsideRace", func(t *testing.T) { testInsideRace(t, open(t)) })
	t.Run("ClaimJobRace", func(t *testing.T) { testClaimJobRace(t, []parking.Store{open(t)}) })
	t.Run("ClaimRefundsRace", func(t *testing.T) { testClaimRefundsRace(t, []parking.Store{open(t)}) })
	t.Run("ExpireConfirmRace", func(t *testing.T) { testExpireConfirmRace(t, []parking.Store{open(t)}) })
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
	t.Run("ClaimJobRace", func(t *testing.T) { testClaimJobRace(t, open(t, n)) })
	t.Run("ClaimRefundsRace", func(t *testing.T) { testClaimRefundsRace(t, open(t, n)) })
	t.Run("ExpireConfirmRace", func(t *testing.T) { testExpireConfirmRace(t, open(t, n)) })
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
		// A car inside holds its spot until it leaves: one car per spot.
		spots: 50,
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
	// spots, if set, is how many spots the lot needs.
	spots int
}

// testSweepRace: in every round, 8 goroutines run sw on one lot at the same
// moment, through the stores in turn; each of the 50 due reservations is
// returned once and gets one event.
func testSweepRace(t *testing.T, stores []parking.Store, sw sweep) {
	s := stores[0]
	f := MustFixture(t, s)
	f.MustAddSpots(t, s, sw.spots-len(f.Spots))
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

// testUpdatePaymentRaces: deliveries of one webhook event, and different
// events for one payment, race; exactly one applies each time.
func testUpdatePaymentRaces(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	const racers = 8
	tests := []struct {
		name    string
		eventID func(round, i int) string
		losers  error
	}{
		{"same event", func(round, _ int) string { return fmt.Sprintf("evt_%d", round) }, parking.ErrDuplicateEvent},
		{"different events", func(round, i int) string { return fmt.Sprintf("evt_%d_%d", round, i) }, parking.ErrInvalidStatus},
		{"no event", func(int, int) string { return "" }, parking.ErrInvalidStatus},
	}
	round := 0
	for _, tt := range tests {
		for range 10 {
			round++
			base := T0.Add(time.Duration(round) * 4 * time.Hour)
			p := mustCharge(t, s, f.MustHold(t, s, f.Spots[5].ID, T0, base, base.Add(time.Hour)))
			errs := race(racers, func(i int) error {
				pay, res, err := s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: p.ID, EventID: tt.eventID(round, i),
					From: []string{parking.PaymentPending}, To: parking.PaymentSucceeded, Confirm: true, At: T0.Add(time.Minute)})
				if err == nil && (pay.Status != parking.PaymentSucceeded || res.Status != parking.StatusConfirmed) {
					return fmt.Errorf("applied: payment %s, reservation %s", pay.Status, res.Status)
				}
				return err
			})
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, tt.losers):
					t.Fatalf("%s: UpdatePayment racing = %v; want nil or %v", tt.name, err, tt.losers)
				}
			}
			if won != 1 {
				t.Fatalf("%s: %d of %d racing updates applied; want exactly 1", tt.name, won, racers)
			}
		}
	}
}

// testConfirmRaces: a paid reservation whose hold lapsed races for its spot
// against a new hold, and two expired reservations over one window are paid
// at once; exactly one of each pair gets the spot, and the loser's payment is
// still recorded as succeeded.
func testConfirmRaces(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	spot := f.Spots[5].ID
	for round := range 20 {
		base := T0.Add(time.Duration(round) * 4 * time.Hour)
		late := T0.Add(10 * time.Minute) // after every hold made at T0 lapsed

		// A lapsed hold's payment against a new hold.
		p := mustCharge(t, s, f.MustHold(t, s, spot, T0, base, base.Add(time.Hour)))
		other := f.NewHold(late, base, base.Add(time.Hour))
		errs := race(2, func(i int) error {
			if i == 0 {
				return s.Hold(ctx, other, []string{spot}, nil)
			}
			return paidAnyway(succeedAt(s, p, late))
		})
		if won := countWins(t, errs); won != 1 {
			t.Fatalf("round %d: hold vs payment: %d won (%v); want exactly 1", round, won, errs)
		}
		checkOneBlocking(t, s, spot, base, late)

		// Two expired reservations over one window, both paid at once.
		base = base.Add(2 * time.Hour)
		p1 := mustCharge(t, s, f.MustHold(t, s, spot, T0, base, base.Add(time.Hour)))
		if _, err := s.ExpireHolds(ctx, late); err != nil {
			t.Fatalf("ExpireHolds: %v", err)
		}
		p2 := mustCharge(t, s, f.MustHold(t, s, spot, late, base, base.Add(time.Hour)))
		later := late.Add(10 * time.Minute)
		if _, err := s.ExpireHolds(ctx, later); err != nil {
			t.Fatalf("ExpireHolds: %v", err)
		}
		errs = race(2, func(i int) error {
			return paidAnyway(succeedAt(s, []*parking.Payment{p1, p2}[i], later))
		})
		if won := countWins(t, errs); won != 1 {
			t.Fatalf("round %d: two payments: %d won (%v); want exactly 1", round, won, errs)
		}
		checkOneBlocking(t, s, spot, base, later)
	}
}

// testExpireConfirmRace: in every round a lapsed hold's payment is confirmed
// on one instance while two others sweep expired holds and a fourth books the
// same spot over the same window. Either the payment confirms the hold (it is
// not expired, the rival gets ErrSpotUnavailable), or the hold is expired
// and rebooked and the confirmation is refused with ErrSpotUnavailable (the
// payment recorded, for the caller to refund): never a confirmed booking
// whose spot went to another, never a success without a booking.
func testExpireConfirmRace(t *testing.T, stores []parking.Store) {
	at := func(i int) parking.Store { return stores[i%len(stores)] }
	f := MustFixture(t, stores[0])
	spot := f.Spots[5].ID
	late := T0.Add(10 * time.Minute) // after every hold made at T0 lapsed
	rounds := max(Rounds(t)/10, 10)
	confirmed, rebooked := 0, 0
	for round := range rounds {
		base := T0.Add(time.Hour + time.Duration(round)*2*time.Hour)
		h := f.MustHold(t, stores[0], spot, T0, base, base.Add(time.Hour))
		p := mustCharge(t, stores[0], h)
		rival := f.NewHold(late, base.Add(30*time.Minute), base.Add(90*time.Minute))
		errs := race(4, func(i int) error {
			switch i {
			case 0:
				return paidAnyway(succeedAt(at(0), p, late))
			case 1:
				return at(1).Hold(ctx, rival, []string{spot}, nil)
			default:
				_, err := at(i).ExpireHolds(ctx, late)
				return err
			}
		})
		confirmErr, rivalErr := errs[0], errs[1]
		for i, err := range errs[2:] {
			if err != nil {
				t.Fatalf("round %d: ExpireHolds #%d = %v", round, i+1, err)
			}
		}
		got, err := stores[0].Reservation(ctx, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		pay, err := stores[0].Payment(ctx, p.ID)
		if err != nil || pay.Status != parking.PaymentSucceeded {
			t.Fatalf("round %d: payment %q, %v; want succeeded either way", round, pay.Status, err)
		}
		switch {
		case confirmErr == nil && rivalErr != nil:
			confirmed++
			if got.Status != parking.StatusConfirmed || !errors.Is(rivalErr, parking.ErrSpotUnavailable) {
				t.Fatalf("round %d: confirmation won, yet the hold is %q and the rival got %v; want confirmed, ErrSpotUnavailable",
					round, got.Status, rivalErr)
			}
		case errors.Is(confirmErr, parking.ErrSpotUnavailable) && rivalErr == nil:
			rebooked++
			if got.Status != parking.StatusExpired {
				t.Fatalf("round %d: the spot was rebooked and the confirmation refused, yet the hold is %q; want expired", round, got.Status)
			}
		default:
			t.Fatalf("round %d: confirmation %v, rival %v (hold now %q); want exactly one to win", round, confirmErr, rivalErr, got.Status)
		}
		rs, err := stores[0].SpotReservations(ctx, spot, late)
		if err != nil {
			t.Fatal(err)
		}
		var claims []string
		for _, r := range rs {
			if parking.Overlaps(r.StartsAt, r.EndsAt, base, rival.EndsAt) {
				claims = append(claims, r.ID+" "+string(r.Status))
			}
		}
		if len(claims) != 1 {
			t.Fatalf("round %d: the spot is claimed by %v over the window; want exactly one claim", round, claims)
		}
	}
	t.Logf("%d rounds: payment confirmed %d times, spot rebooked first %d times", rounds, confirmed, rebooked)
}

// paidAnyway returns UpdatePayment's error, or an error if the payment was
// not recorded as succeeded whether or not its reservation got the spot.
func paidAnyway(pay parking.Payment, _ parking.Reservation, err error) error {
	if pay.Status != parking.PaymentSucceeded {
		return fmt.Errorf("payment %q, %v; want succeeded", pay.Status, err)
	}
	return err
}

// checkOneBlocking checks that exactly one reservation blocking spot at now
// starts at start.
func checkOneBlocking(t *testing.T, s parking.Store, spot string, start, now time.Time) {
	t.Helper()
	rs, err := s.SpotReservations(ctx, spot, now)
	n := 0
	for _, r := range rs {
		if r.StartsAt.Equal(start) {
			n++
		}
	}
	if err != nil || n != 1 {
		t.Fatalf("blocking reservations at %v = %d, %v; want 1", start, n, err)
	}
}

// mustClaimKey claims a fresh idempotency key for user, made at T0.
func mustClaimKey(t *testing.T, s parking.Store, userID, key string) {
	t.Helper()
	k := parking.IdempotencyKey{UserID: userID, Key: key, RequestHash: "h", CreatedAt: T0, ExpiresAt: T0.Add(24 * time.Hour)}
	if _, claimed, err := s.ClaimIdempotencyKey(ctx, k, T0); err != nil || !claimed {
		t.Fatalf("ClaimIdempotencyKey(%s) = %v, %v; want claimed", key, claimed, err)
	}
}

// keyStatus returns the stored status of a key claimed by mustClaimKey, as a
// retry claiming it again sees it; 0 is in flight.
func keyStatus(t *testing.T, s parking.Store, userID, key string) int {
	t.Helper()
	k := parking.IdempotencyKey{UserID: userID, Key: key, RequestHash: "h", CreatedAt: T0, ExpiresAt: T0.Add(24 * time.Hour)}
	got, claimed, err := s.ClaimIdempotencyKey(ctx, k, T0.Add(-time.Minute))
	if err != nil || claimed {
		t.Fatalf("ClaimIdempotencyKey(%s) again = %v, %v; want the stored record", key, claimed, err)
	}
	return got.StatusCode
}

// testHoldKeyRace: many keyed holds race for few spots; exactly the winners'
// keys are completed, each with its own spot, and the losers' stay in flight.
func testHoldKeyRace(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	std := f.SpotsOf(parking.Standard)
	candidates := []string{std[0].ID, std[1].ID, std[2].ID}
	const clients = 24
	holds := make([]*parking.Reservation, clients)
	for i := range clients {
		mustClaimKey(t, s, u.ID, fmt.Sprint("k", i))
		holds[i] = f.NewHold(T0, T0.Add(time.Hour), T0.Add(2*time.Hour))
	}
	errs := race(clients, func(i int) error {
		cands := candidates
		if i%2 == 1 {
			cands = candidates[i%3 : i%3+1] // single-spot holds race the any-spot ones
		}
		return s.Hold(ctx, holds[i], cands, completion(u.ID, fmt.Sprint("k", i)))
	})
	won := map[string]bool{}
	for i, err := range errs {
		status := keyStatus(t, s, u.ID, fmt.Sprint("k", i))
		switch {
		case err == nil:
			if won[holds[i].SpotID] {
				t.Errorf("spot %s won twice", holds[i].SpotID)
			}
			won[holds[i].SpotID] = true
			if status != 201 {
				t.Errorf("winner %d: key status %d; want 201", i, status)
			}
		case errors.Is(err, parking.ErrSpotUnavailable):
			if status != 0 {
				t.Errorf("loser %d: key status %d; want in flight", i, status)
			}
		default:
			t.Errorf("Hold #%d = %v; want nil or ErrSpotUnavailable", i, err)
		}
	}
	if len(won) != len(candidates) {
		t.Errorf("%d spots won; want %d", len(won), len(candidates))
	}
}

// testHoldRecordKeyRace: requests retried at once, all recording one key
// nobody claimed, hold exactly one spot between them, and the key records
// that one; the others find the key taken, or their one spot taken.
func testHoldRecordKeyRace(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	std := f.SpotsOf(parking.Standard)
	candidates := []string{std[0].ID, std[1].ID, std[2].ID}
	for round := range 5 {
		key := fmt.Sprint("race-", round)
		start := T0.Add(time.Duration(round+1) * time.Hour)
		const racers = 12
		holds := make([]*parking.Reservation, racers)
		for i := range holds {
			holds[i] = f.NewHold(T0, start, start.Add(time.Hour))
		}
		errs := race(racers, func(i int) error {
			cands := candidates
			if i%2 == 1 {
				cands = candidates[i%3 : i%3+1]
			}
			return s.Hold(ctx, holds[i], cands, recordKey(u.ID, key))
		})
		var winner *parking.Reservation
		for i, err := range errs {
			switch {
			case err == nil && winner != nil:
				t.Fatalf("round %d: holds %s and %s both went in with one key", round, winner.ID, holds[i].ID)
			case err == nil:
				winner = holds[i]
			case errors.Is(err, parking.ErrKeyTaken), errors.Is(err, parking.ErrSpotUnavailable):
				if _, err := s.Reservation(ctx, holds[i].ID); !errors.Is(err, parking.ErrNotFound) {
					t.Errorf("round %d: loser %d's reservation = %v; want ErrNotFound", round, i, err)
				}
			default:
				t.Errorf("round %d: Hold #%d = %v; want nil, ErrKeyTaken or ErrSpotUnavailable", round, i, err)
			}
		}
		if winner == nil {
			t.Fatalf("round %d: no hold went in", round)
		}
		mustRecordedKey(t, s, u.ID, key, winner)
	}
}

// testClaimKeyRace: of many requests claiming one key at once, exactly one
// claims it and every other sees the record in flight. On PostgreSQL, claims
// that wait on the winner's insert are the case where the statement's
// snapshot misses the row and ClaimIdempotencyKey runs it again.
func testClaimKeyRace(t *testing.T, s parking.Store) {
	u := MustUser(t, s, "ada@example.com")
	for round := range 20 {
		k := parking.IdempotencyKey{UserID: u.ID, Key: fmt.Sprint("race-", round), RequestHash: "h", CreatedAt: T0, ExpiresAt: T0.Add(time.Hour)}
		const racers = 16
		claimed := make([]bool, racers)
		errs := race(racers, func(i int) error {
			got, ok, err := s.ClaimIdempotencyKey(ctx, k, T0.Add(-time.Minute))
			claimed[i] = ok
			if err == nil && (got.RequestHash != "h" || got.StatusCode != 0 || !got.CreatedAt.Equal(T0)) {
				return fmt.Errorf("record %+v; want the in-flight claim", got)
			}
			return err
		})
		n := 0
		for i := range racers {
			if errs[i] != nil {
				t.Fatalf("round %d: Claim #%d = %v", round, i, errs[i])
			}
			if claimed[i] {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("round %d: %d of %d racers claimed one key; want 1", round, n, racers)
		}
	}
}
