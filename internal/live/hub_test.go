package live_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parkd/internal/live"
	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

func startHub(t *testing.T, s parking.Store, clock parking.Clock) *live.Hub {
	t.Helper()
	h := live.NewHub(slog.New(slog.NewTextHandler(io.Discard, nil)), s, clock)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx, 5*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

// receive reads n messages from a subscription, reporting an error after a
// generous bound (a hang, not a speed check). It may run on any goroutine.
func receive(t *testing.T, sub *live.Subscription, n int) []live.Change {
	var out []live.Change
	for len(out) < n {
		select {
		case m, ok := <-sub.C():
			if !ok {
				t.Errorf("subscription closed after %d of %d messages: %v", len(out), n, sub.Err())
				return out
			}
			var c live.Change
			if err := json.Unmarshal(m.Data, &c); err != nil {
				t.Error(err)
				return out
			}
			out = append(out, c)
		case <-time.After(10 * time.Second):
			t.Errorf("got %d of %d messages", len(out), n)
			return out
		}
	}
	return out
}

// TestSlowSubscriberIsDropped: a subscriber that stops reading is dropped when
// its queue fills, with ErrSlow, and the others get every change all the same.
func TestSlowSubscriberIsDropped(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		s := b.Open(t)
		f := storetest.MustFixture(t, s)
		t0 := storetest.T0
		h := startHub(t, s, parkingtest.NewClock(t0))
		ctx := context.Background()
		slow, err := h.Subscribe(ctx, f.Lot.ID, t0, t0.Add(time.Hour), "")
		if err != nil {
			t.Fatal(err)
		}
		fast, err := h.Subscribe(ctx, f.Lot.ID, t0, t0.Add(time.Hour), "")
		if err != nil {
			t.Fatal(err)
		}
		n := live.QueueSize + 20
		// The fast subscriber reads as the changes come; the slow one never does.
		received := make(chan struct{})
		var changes []live.Change
		go func() {
			defer close(received)
			changes = receive(t, fast, n)
		}()
		for i := range n {
			f.MustHold(t, s, f.Spots[0].ID, t0, t0.Add(time.Duration(i+1)*time.Hour), t0.Add(time.Duration(i+2)*time.Hour))
		}
		<-received
		if len(changes) != n {
			t.FailNow()
		}
		for i, c := range changes {
			if c.Type != "claim" || c.Status != "held" || (i > 0 && c.Version == changes[i-1].Version) {
				t.Fatalf("change %d = %+v; want a held claim with its own version", i, c)
			}
		}
		for range slow.C() { // drain what it had queued
		}
		if !errors.Is(slow.Err(), live.ErrSlow) {
			t.Errorf("slow subscriber: Err() = %v; want ErrSlow", slow.Err())
		}
		if _, subs := h.Watched(); subs != 1 {
			t.Errorf("Watched() subscribers = %d; want 1, the fast one", subs)
		}
	})
}

// TestSnapshotWindow: a snapshot carries the claims that overlap the window
// asked for, including those made before the lot was first watched.
func TestSnapshotWindow(t *testing.T) {
	s := teststore.OpenSQLite(t)
	f := storetest.MustFixture(t, s)
	t0 := storetest.T0
	f.MustHold(t, s, f.Spots[0].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	f.MustHold(t, s, f.Spots[1].ID, t0, t0.Add(5*time.Hour), t0.Add(6*time.Hour))
	clock := parkingtest.NewClock(t0)
	h := startHub(t, s, clock)
	sub, err := h.Subscribe(context.Background(), f.Lot.ID, t0, t0.Add(3*time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var snap live.Snapshot
	if err := json.Unmarshal(sub.Backlog[0].Data, &snap); err != nil {
		t.Fatal(err)
	}
	claims := map[string]int{}
	for _, sp := range snap.Spots {
		claims[sp.ID] = len(sp.Claims)
	}
	if len(snap.Spots) != len(f.Spots) || claims[f.Spots[0].ID] != 1 || claims[f.Spots[1].ID] != 0 {
		t.Errorf("snapshot = %d spots, claims %v; want %d spots, one claim on the first", len(snap.Spots), claims, len(f.Spots))
	}

	// Spots added while the lot is watched reach later snapshots.
	added := f.Spots[0]
	added.ID, added.Label = parking.NewID("spt"), "NEW-1"
	if err := s.CreateSpots(context.Background(), []parking.Spot{added}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Second)
	later, err := h.Subscribe(context.Background(), f.Lot.ID, t0, t0.Add(3*time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	defer later.Close()
	if err := json.Unmarshal(later.Backlog[0].Data, &snap); err != nil {
		t.Fatal(err)
	}
	if n := len(snap.Spots); n != len(f.Spots)+1 || snap.Spots[n-1].ID != added.ID {
		t.Errorf("snapshot after adding a spot = %d spots; want %d, the new one last", n, len(f.Spots)+1)
	}

	if _, err := h.Subscribe(context.Background(), "lot_missing", t0, t0.Add(time.Hour), ""); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("Subscribe(missing lot) = %v; want ErrNotFound", err)
	}
}

// TestSubscribeAfterStop: a hub that has stopped turns subscribers away at
// once rather than keeping them waiting.
func TestSubscribeAfterStop(t *testing.T) {
	s := teststore.OpenSQLite(t)
	f := storetest.MustFixture(t, s)
	h := live.NewHub(slog.New(slog.NewTextHandler(io.Discard, nil)), s, parkingtest.NewClock(storetest.T0))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.Run(ctx, time.Millisecond)
	if _, err := h.Subscribe(context.Background(), f.Lot.ID, storetest.T0, storetest.T0.Add(time.Hour), ""); !errors.Is(err, live.ErrStopped) {
		t.Errorf("Subscribe after Run returned = %v; want ErrStopped", err)
	}
}

// TestWakingStore: a change made through Waking's store reaches subscribers
// without waiting for the poll (here, an hour away).
func TestWakingStore(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		s := b.Open(t)
		f := storetest.MustFixture(t, s)
		t0 := storetest.T0
		h := live.NewHub(slog.New(slog.NewTextHandler(io.Discard, nil)), s, parkingtest.NewClock(t0))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); h.Run(ctx, time.Hour) }()
		t.Cleanup(func() { cancel(); <-done })
		sub, err := h.Subscribe(ctx, f.Lot.ID, t0, t0.Add(3*time.Hour), "")
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		f.MustHold(t, h.Waking(s), f.Spots[0].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
		if c := receive(t, sub, 1); len(c) == 1 && (c[0].Type != "claim" || c[0].Status != "held") {
			t.Errorf("change = %+v; want a held claim", c[0])
		}
	})
}

// flakyStore fails its first Reservation read, as a database blip would.
type flakyStore struct {
	parking.Store
	failed atomic.Bool
}

func (f *flakyStore) Reservation(ctx context.Context, id string) (parking.Reservation, error) {
	if f.failed.CompareAndSwap(false, true) {
		return parking.Reservation{}, errors.New("connection reset")
	}
	return f.Store.Reservation(ctx, id)
}

// TestStoreErrorLosesNothing: a change whose row the hub could not read is
// applied at the next poll, not dropped with the batch it came in.
func TestStoreErrorLosesNothing(t *testing.T) {
	s := teststore.OpenSQLite(t)
	f := storetest.MustFixture(t, s)
	t0 := storetest.T0
	h := startHub(t, &flakyStore{Store: s}, parkingtest.NewClock(t0))
	sub, err := h.Subscribe(context.Background(), f.Lot.ID, t0, t0.Add(3*time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	f.MustHold(t, s, f.Spots[0].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	f.MustHold(t, s, f.Spots[1].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	got := map[string]bool{}
	for _, c := range receive(t, sub, 2) {
		got[c.SpotID] = c.Type == "claim" && c.Status == "held"
	}
	if !got[f.Spots[0].ID] || !got[f.Spots[1].ID] {
		t.Errorf("changes = %v; want a held claim on both spots", got)
	}
}

// TestConvergesUnderConcurrentChanges: many writers hold and cancel at once
// (on PostgreSQL their events commit out of seq order); a subscriber that
// applies what it is sent ends with every reservation as the database has it.
func TestConvergesUnderConcurrentChanges(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		s := b.Open(t)
		f := storetest.MustFixture(t, s)
		t0 := storetest.T0
		h := startHub(t, s, parkingtest.NewClock(t0))
		sub, err := h.Subscribe(context.Background(), f.Lot.ID, t0, t0.Add(time.Hour), "")
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()

		const writers, each = 8, 20
		want := make(map[string]string) // claim key → final status
		var mu sync.Mutex
		var wg sync.WaitGroup
		for g := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					start := t0.Add(time.Duration(i+1) * time.Hour)
					r := f.NewHold(t0, start, start.Add(time.Hour))
					if err := s.Hold(context.Background(), r, []string{f.Spots[g].ID}, nil); err != nil {
						t.Errorf("Hold: %v", err)
						return
					}
					status := "held"
					if i%2 == 1 {
						if _, err := s.ChangeStatus(context.Background(), parking.StatusChange{ID: r.ID,
							From: []parking.Status{parking.StatusHeld}, To: parking.StatusCancelled, At: t0}); err != nil {
							t.Errorf("ChangeStatus: %v", err)
							return
						}
						status = "released"
					}
					mu.Lock()
					want[live.ClaimKey(r.ID)] = status
					mu.Unlock()
				}
			}()
		}
		wg.Wait()

		got := map[string]string{}
		matches := func() bool {
			for k, st := range want {
				if got[k] != st {
					return false
				}
			}
			return true
		}
		deadline := time.After(20 * time.Second)
		for !matches() {
			select {
			case m, ok := <-sub.C():
				if !ok {
					t.Fatalf("subscription closed: %v", sub.Err())
				}
				var c live.Change
				if err := json.Unmarshal(m.Data, &c); err != nil {
					t.Fatal(err)
				}
				if c.Type == "claim" {
					got[c.Key] = c.Status
				}
			case <-deadline:
				missing := 0
				for k, st := range want {
					if got[k] != st {
						missing++
					}
				}
				t.Fatalf("after 20 s, %d of %d reservations are not as the database has them", missing, len(want))
			}
		}
	})
}

// TestMoveAndOverstayInSnapshots: a booking the lot moves leaves its old spot
// (a client is sent the claim on its new spot; a later snapshot has it there
// only), and a car inside past its window keeps its spot in every later
// window until it is released.
func TestMoveAndOverstayInSnapshots(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		s := b.Open(t)
		f := storetest.MustFixture(t, s)
		t0 := storetest.T0
		std := f.SpotsOf(parking.Standard)                                                // S1 S2 S3
		car := f.MustCheckedIn(t, s, std[1].ID, t0.Add(-2*time.Hour), t0.Add(-time.Hour)) // an hour past its end at t0
		r := f.MustConfirmed(t, s, std[0].ID, t0.Add(time.Hour), t0.Add(2*time.Hour))
		h := startHub(t, s, parkingtest.NewClock(t0))
		ctx := context.Background()
		claimsOf := func(from, to time.Time) map[string][]live.Claim {
			t.Helper()
			sub, err := h.Subscribe(ctx, f.Lot.ID, from, to, "")
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			var snap live.Snapshot
			if err := json.Unmarshal(sub.Backlog[0].Data, &snap); err != nil {
				t.Fatal(err)
			}
			out := map[string][]live.Claim{}
			for _, sp := range snap.Spots {
				out[sp.ID] = sp.Claims
			}
			return out
		}
		for _, w := range [][2]time.Duration{{time.Hour, 3 * time.Hour}, {24 * time.Hour, 25 * time.Hour}} {
			if c := claimsOf(t0.Add(w[0]), t0.Add(w[1]))[std[1].ID]; len(c) != 1 || c[0].Key != live.ClaimKey(car.ID) || c[0].Status != "checked_in" {
				t.Errorf("snapshot of [%v, %v) on the overstayed spot = %+v; want the car inside", w[0], w[1], c)
			}
		}

		watcher, err := h.Subscribe(ctx, f.Lot.ID, t0, t0.Add(3*time.Hour), "")
		if err != nil {
			t.Fatal(err)
		}
		defer watcher.Close()
		if _, err := s.MoveReservation(ctx, parking.Move{ID: r.ID, From: std[0].ID, Candidates: []string{std[2].ID},
			Reason: parking.ReasonOverstay, At: t0}); err != nil {
			t.Fatal(err)
		}
		if m := receive(t, watcher, 1); len(m) != 1 || m[0].Type != "claim" || m[0].SpotID != std[2].ID || m[0].Key != live.ClaimKey(r.ID) || m[0].Status != "confirmed" {
			t.Errorf("after the move the watcher got %+v; want the claim on %s", m, std[2].Label)
		}
		after := claimsOf(t0, t0.Add(3*time.Hour))
		if len(after[std[0].ID]) != 0 || len(after[std[2].ID]) != 1 {
			t.Errorf("snapshot after the move: %d claims on %s, %d on %s; want the claim on the new spot only",
				len(after[std[0].ID]), std[0].Label, len(after[std[2].ID]), std[2].Label)
		}

		storetest.MustChange(t, s, car.ID, parking.StatusCheckedIn, parking.StatusCompleted, t0)
		if m := receive(t, watcher, 1); len(m) != 1 || m[0].Status != "released" || m[0].SpotID != std[1].ID {
			t.Errorf("after the exit the watcher got %+v; want the car's claim released", m)
		}
		if c := claimsOf(t0.Add(24*time.Hour), t0.Add(25*time.Hour))[std[1].ID]; len(c) != 0 {
			t.Errorf("snapshot after the exit on the overstayed spot = %+v; want it free", c)
		}
	})
}
