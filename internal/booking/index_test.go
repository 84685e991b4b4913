package booking_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parkd/internal/booking"
	"parkd/internal/live"
	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// instance is one parkd instance's booking engine reading its own hub's
// index, as cmd/parkd wires them.
type instance struct {
	hub    *live.Hub
	engine *booking.Service
}

// startInstance runs a hub over s (the instance's store, which may fail on
// purpose) and an engine that writes through it and reads its index.
func startInstance(t *testing.T, s parking.Store, clock parking.Clock) instance {
	t.Helper()
	hub := live.NewHub(parkingtest.Logger(t), s, clock)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); hub.Run(ctx, 10*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })
	return instance{hub: hub, engine: booking.New(hub.Waking(s), clock).WithIndex(hub)}
}

// statuses is a map read as spot id -> status.
func statuses(t *testing.T, e *booking.Service, lotID string, from, to time.Time) map[string]booking.SpotStatus {
	t.Helper()
	a, err := e.Availability(ctx, lotID, booking.SpotFilter{}, from, to)
	if err != nil {
		t.Fatalf("Availability: %v", err)
	}
	out := map[string]booking.SpotStatus{}
	for _, sp := range a.Spots {
		out[sp.ID] = sp.Status
	}
	return out
}

// TestIndexReadYourWrites: 25 drivers hold "any spot" while 25 readers read
// the map from the index. Every read that starts after a hold returned shows
// that hold's spot taken, no spot is booked twice, and at the end the index
// answers as the database does.
func TestIndexReadYourWrites(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		s := b.Open(t)
		f := storetest.MustFixture(t, s)
		f.MustAddSpots(t, s, 15) // 20 spots a standard car fits
		clock := parkingtest.NewClock(storetest.T0)
		in := startInstance(t, s, clock)
		t0 := storetest.T0
		windows := [][2]time.Time{{t0.Add(time.Hour), t0.Add(3 * time.Hour)}, {t0.Add(2 * time.Hour), t0.Add(4 * time.Hour)}}

		type held struct {
			spotID string
			window int
		}
		var mu sync.Mutex
		var done []held // holds that have returned
		var holds, reads atomic.Int64
		var wg sync.WaitGroup
		for i := range 25 {
			wg.Add(2)
			go func() { // a driver
				defer wg.Done()
				for j := range 3 {
					w := (i + j) % len(windows)
					r, err := in.engine.Hold(ctx, booking.HoldRequest{LotID: f.Lot.ID, VehicleSize: parking.Standard,
						Plate: fmt.Sprintf("IX-%d-%d", i, j), StartsAt: windows[w][0], EndsAt: windows[w][1]})
					if errors.Is(err, parking.ErrNoSpotAvailable) || errors.Is(err, parking.ErrSpotUnavailable) {
						continue // the lot is full, or a race lost: the database decided
					}
					if err != nil {
						t.Errorf("Hold: %v", err)
						return
					}
					holds.Add(1)
					mu.Lock()
					done = append(done, held{r.SpotID, w})
					mu.Unlock()
				}
			}()
			go func() { // a reader
				defer wg.Done()
				for j := range 8 {
					w := (i + j) % len(windows)
					mu.Lock()
					before := slices.Clone(done)
					mu.Unlock()
					got := statuses(t, in.engine, f.Lot.ID, windows[w][0], windows[w][1])
					reads.Add(1)
					for _, h := range before {
						if h.window == w && got[h.spotID] != booking.Held {
							t.Errorf("a read after the hold of %s over window %d shows it %q; want held", h.spotID, w, got[h.spotID])
						}
					}
				}
			}()
		}
		wg.Wait()
		if holds.Load() == 0 || reads.Load() == 0 {
			t.Fatalf("%d holds, %d reads; want some of each", holds.Load(), reads.Load())
		}
		if v, err := storetest.Violations(ctx, s); err != nil || len(v) > 0 {
			t.Errorf("Violations = %v, %v; want none", v, err)
		}
		fromDB := booking.New(s, clock)
		for _, w := range windows {
			if got, want := statuses(t, in.engine, f.Lot.ID, w[0], w[1]), statuses(t, fromDB, f.Lot.ID, w[0], w[1]); !mapsEqual(got, want) {
				t.Errorf("index map over %v = %v; the database's = %v", w, got, want)
			}
		}
	})
}

func mapsEqual(a, b map[string]booking.SpotStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// failingStore fails every read of the outbox and of changed rows while fail
// is set: an instance whose event stream is broken.
type failingStore struct {
	parking.Store
	fail *atomic.Bool
}

var errBroken = errors.New("the event stream is broken (on purpose)")

func (s failingStore) EventsSince(ctx context.Context, after int64, missing []int64, limit int) ([]parking.Event, error) {
	if s.fail.Load() {
		return nil, errBroken
	}
	return s.Store.EventsSince(ctx, after, missing, limit)
}

func (s failingStore) Reservation(ctx context.Context, id string) (parking.Reservation, error) {
	if s.fail.Load() {
		return parking.Reservation{}, errBroken
	}
	return s.Store.Reservation(ctx, id)
}

// TestIndexTwoInstances: a hold made through instance B appears in instance
// A's index within its poll; while A's event stream is broken, B holds,
// confirms, cancels and takes a spot out of service, and once the stream
// works again A's index catches up without missing any of it.
func TestIndexTwoInstances(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		s := b.Open(t)
		f := storetest.MustFixture(t, s)
		clock := parkingtest.NewClock(storetest.T0)
		var broken atomic.Bool
		a := startInstance(t, failingStore{Store: s, fail: &broken}, clock)
		bi := startInstance(t, s, clock)
		fromDB := booking.New(s, clock)
		t0 := storetest.T0
		from, to := t0.Add(time.Hour), t0.Add(2*time.Hour)
		// eventually waits for A's map to be the database's: a hang, not a
		// speed check, fails it.
		eventually := func(what string) {
			t.Helper()
			deadline := time.Now().Add(20 * time.Second)
			for {
				got, want := statuses(t, a.engine, f.Lot.ID, from, to), statuses(t, fromDB, f.Lot.ID, from, to)
				if mapsEqual(got, want) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: A's map = %v; the database's = %v", what, got, want)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		hold := func(in instance, spotID string) parking.Reservation {
			t.Helper()
			r, err := in.engine.Hold(ctx, booking.HoldRequest{LotID: f.Lot.ID, SpotID: spotID, VehicleSize: parking.Compact,
				Plate: "TWO-1", StartsAt: from, EndsAt: to})
			if err != nil {
				t.Fatalf("Hold(%s): %v", spotID, err)
			}
			return r
		}

		statuses(t, a.engine, f.Lot.ID, from, to) // A loads the lot
		r := hold(bi, f.Spots[2].ID)
		eventually("a hold through B")
		if got := statuses(t, a.engine, f.Lot.ID, from, to)[r.SpotID]; got != booking.Held {
			t.Fatalf("A shows B's hold's spot %q; want held", got)
		}

		broken.Store(true)
		r2 := hold(bi, f.Spots[3].ID)
		if _, err := bi.engine.Confirm(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := bi.engine.Cancel(ctx, r2.ID); err != nil {
			t.Fatal(err)
		}
		r3 := hold(bi, f.Spots[4].ID)
		if err := s.SetSpotInService(ctx, f.Spots[5].ID, false, t0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // several failed polls
		broken.Store(false)
		eventually("after the stream came back")
		got := statuses(t, a.engine, f.Lot.ID, from, to)
		if got[r.SpotID] != booking.Reserved || got[r2.SpotID] != booking.Available || got[r3.SpotID] != booking.Held ||
			got[f.Spots[5].ID] != booking.OutOfService {
			t.Errorf("A's map after catching up = %v; want %s reserved, %s available, %s held, %s out of service",
				got, r.SpotID, r2.SpotID, r3.SpotID, f.Spots[5].ID)
		}
	})
}

// TestIndexTimeAlone: a hold lapses in the index at its expiry on the
// injected clock, with no event, as it does in the database's answer.
func TestIndexTimeAlone(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		s := b.Open(t)
		f := storetest.MustFixture(t, s)
		clock := parkingtest.NewClock(storetest.T0)
		in := startInstance(t, s, clock)
		from, to := clock.Now().Add(time.Hour), clock.Now().Add(2*time.Hour)
		r, err := in.engine.Hold(ctx, booking.HoldRequest{LotID: f.Lot.ID, SpotID: f.Spots[2].ID, VehicleSize: parking.Compact,
			Plate: "TIME-1", StartsAt: from, EndsAt: to})
		if err != nil {
			t.Fatal(err)
		}
		a, err := in.engine.Availability(ctx, f.Lot.ID, booking.SpotFilter{}, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if a.Version == "" || !a.Until.Equal(r.HoldExpiresAt) {
			t.Errorf("Availability = version %q, until %v; want an index version, until the hold's expiry %v", a.Version, a.Until, r.HoldExpiresAt)
		}
		clock.Set(r.HoldExpiresAt)
		fromDB := booking.New(s, clock)
		if got, want := statuses(t, in.engine, f.Lot.ID, from, to), statuses(t, fromDB, f.Lot.ID, from, to); !mapsEqual(got, want) || got[r.SpotID] != booking.Available {
			t.Errorf("index map at the hold's expiry = %v; the database's = %v; want the spot available", got, want)
		}
	})
}

// TestIndexCountsAsTheStore: a search's free counts come from the index once
// it has loaded the page's lots (a first count loads them and is answered by
// the store), and then equal the store's for every size, window and moment,
// while drivers hold spots: a count that starts after a hold returned counts
// that spot taken.
func TestIndexCountsAsTheStore(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		s := b.Open(t)
		f := storetest.MustFixture(t, s)
		f.MustAddSpots(t, s, 15) // 20 spots a standard car fits
		other := storetest.MustFixture(t, s)
		t0 := storetest.T0
		h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
		f.MustHold(t, s, f.SpotsOf(parking.Standard)[1].ID, t0.Add(-10*time.Minute), h(1), h(2)) // expired
		hold := f.MustHold(t, s, f.SpotsOf(parking.Standard)[2].ID, t0, h(1), h(2))              // expires at t0+5m
		conf := f.MustHold(t, s, f.SpotsOf(parking.Compact)[0].ID, t0, h(1), h(2))
		storetest.MustChange(t, s, conf.ID, parking.StatusHeld, parking.StatusConfirmed, t0)
		other.MustHold(t, s, other.SpotsOf(parking.Large)[0].ID, t0, h(2), h(3))
		if err := s.SetSpotInService(ctx, other.SpotsOf(parking.Standard)[0].ID, false, t0); err != nil {
			t.Fatal(err)
		}
		clock := parkingtest.NewClock(t0)
		in := startInstance(t, s, clock)
		page := func() []parking.LotMatch {
			return []parking.LotMatch{{Lot: f.Lot}, {Lot: other.Lot}}
		}
		count := func(e interface {
			CountFree(context.Context, []parking.LotMatch, parking.LotWindow) error
		}, w parking.LotWindow) string {
			t.Helper()
			found := page()
			if err := e.CountFree(ctx, found, w); err != nil {
				t.Fatalf("CountFree: %v", err)
			}
			return fmt.Sprint(found[0].Total, found[0].Free, found[1].Total, found[1].Free)
		}
		w := parking.LotWindow{From: h(1), To: h(3), Now: t0, Size: parking.Standard}
		if in.hub.CountFree(page(), w) {
			t.Fatal("the index counted lots it had not loaded")
		}
		for deadline := time.Now().Add(10 * time.Second); !in.hub.CountFree(page(), w); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the lots a count asked for were not loaded within 10 s")
			}
		}

		// Every size, window and moment, as the store counts.
		for _, at := range []time.Time{t0, hold.HoldExpiresAt, h(1).Add(time.Minute)} {
			clock.Set(at)
			for _, size := range []parking.Size{0, parking.Motorcycle, parking.Compact, parking.Standard, parking.Large} {
				for _, win := range [][2]time.Time{{h(1), h(2)}, {h(2), h(3)}, {h(0), h(5)}, {h(4), h(5)}} {
					w := parking.LotWindow{From: win[0], To: win[1], Now: at, Size: size}
					if !in.hub.CountFree(page(), w) {
						t.Fatalf("the index did not count %+v", w)
					}
					if got, want := count(in.engine, w), count(s, w); got != want {
						t.Errorf("counts (total free, other's total free) at %v, size %v, %v..%v: index %s; store %s",
							at.Sub(t0), size, win[0].Sub(t0), win[1].Sub(t0), got, want)
					}
				}
			}
		}

		// Drivers hold while searchers count: a count that starts after a hold
		// returned sees at most as many free spots as the holds left.
		clock.Set(t0)
		w = parking.LotWindow{From: h(6), To: h(8), Now: t0, Size: parking.Standard}
		found := page()
		if err := s.CountFree(ctx, found, w); err != nil {
			t.Fatal(err)
		}
		total := found[0].Free
		var held atomic.Int64
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				for j := range 3 {
					_, err := in.engine.Hold(ctx, booking.HoldRequest{LotID: f.Lot.ID, VehicleSize: parking.Standard,
						Plate: fmt.Sprintf("CT-%d-%d", i, j), StartsAt: w.From, EndsAt: w.To})
					if errors.Is(err, parking.ErrNoSpotAvailable) || errors.Is(err, parking.ErrSpotUnavailable) {
						continue
					}
					if err != nil {
						t.Errorf("Hold: %v", err)
						return
					}
					held.Add(1)
				}
			}()
			go func() {
				defer wg.Done()
				for range 10 {
					before := int(held.Load())
					found := page()
					if err := in.engine.CountFree(ctx, found, w); err != nil {
						t.Errorf("CountFree: %v", err)
						return
					}
					if found[0].Free > total-before {
						t.Errorf("a count after %d holds of %d free spots counts %d free", before, total, found[0].Free)
					}
				}
			}()
		}
		wg.Wait()
		if got, want := count(in.engine, w), count(s, w); got != want || held.Load() == 0 {
			t.Errorf("after %d holds: index counts %s; store %s", held.Load(), got, want)
		}
	})
}

// countingStore counts the index's reads of a lot's spots.
type countingStore struct {
	parking.Store
	spots atomic.Int64
}

func (s *countingStore) Spots(ctx context.Context, lotID string) ([]parking.Spot, error) {
	s.spots.Add(1)
	return s.Store.Spots(ctx, lotID)
}

// TestIndexOtherInstancesEdits: edits of a lot's record and spots by another
// instance write no event; the index finds them within RespotEvery of its
// clock, by the lots' stamps, and reads again only the lot that changed.
func TestIndexOtherInstancesEdits(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		s := b.Open(t)
		f := storetest.MustFixture(t, s)
		quiet := storetest.MustFixture(t, s)
		clock := parkingtest.NewClock(storetest.T0)
		counting := &countingStore{Store: s}
		in := startInstance(t, counting, clock)
		from, to := storetest.T0.Add(time.Hour), storetest.T0.Add(2*time.Hour)
		view := func(lotID string) parking.LotView {
			t.Helper()
			v, ok, err := in.hub.View(ctx, lotID, from, to, clock.Now())
			if !ok || err != nil {
				t.Fatalf("View = %v, %v; want the index's", ok, err)
			}
			return v
		}
		view(f.Lot.ID)
		view(quiet.Lot.ID)

		// Another instance (the store, not this one's waking wrapper) edits
		// a spot, adds one and changes the lot's rates.
		edited := f.Spots[0]
		edited.Size = parking.Large
		if err := s.UpdateSpot(ctx, &edited); err != nil {
			t.Fatal(err)
		}
		f.MustAddSpots(t, s, 1)
		lot := f.Lot
		lot.Policy.Rates = map[parking.Size]parking.Rate{parking.Standard: {Hourly: 777}}
		if err := s.UpdateLot(ctx, &lot); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second) // both lots are read after they were loaded
		if v := view(f.Lot.ID); len(v.Spots) != len(f.Spots)-1 {
			t.Fatalf("the index saw another instance's edits before RespotEvery: %d spots", len(v.Spots))
		}
		view(quiet.Lot.ID)
		before := counting.spots.Load()
		clock.Advance(live.RespotEvery - time.Second)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			v := view(f.Lot.ID)
			var size parking.Size
			for _, sp := range v.Spots {
				if sp.ID == edited.ID {
					size = sp.Size
				}
			}
			if len(v.Spots) == len(f.Spots) && size == parking.Large && v.Lot.Policy.Rates[parking.Standard].Hourly == 777 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("10 s after RespotEvery the index shows %d spots (want %d), the edited one %v, rate %d",
					len(v.Spots), len(f.Spots), size, v.Lot.Policy.Rates[parking.Standard].Hourly)
			}
		}
		view(quiet.Lot.ID)
		if n := counting.spots.Load() - before; n != 1 {
			t.Errorf("the index read spots %d times after RespotEvery; want once, the edited lot's only", n)
		}
	})
}
