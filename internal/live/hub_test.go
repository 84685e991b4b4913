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
