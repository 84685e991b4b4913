package booking_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"parkd/internal/booking"
	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

var ctx = context.Background()

type env struct {
	store   parking.Store
	clock   *parkingtest.Clock
	engine  *booking.Service
	fixture storetest.Fixture
}

func newEnv(t *testing.T, b teststore.Backend) env {
	t.Helper()
	s := b.Open(t)
	clock := parkingtest.NewClock(storetest.T0)
	return env{store: s, clock: clock, engine: booking.New(s, clock), fixture: storetest.MustFixture(t, s)}
}

func (e env) hold(start, end time.Duration, size parking.Size, spotID string) (parking.Reservation, error) {
	now := e.clock.Now()
	return e.engine.Hold(ctx, booking.HoldRequest{LotID: e.fixture.Lot.ID, SpotID: spotID, VehicleSize: size,
		Plate: "AB-123", StartsAt: now.Add(start), EndsAt: now.Add(end)})
}

func TestHoldSpecificSpot(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newEnv(t, b)
		large := e.fixture.SpotsOf(parking.Large)[0]
		r, err := e.hold(time.Hour, 3*time.Hour, parking.Compact, large.ID)
		if err != nil {
			t.Fatalf("Hold = %v", err)
		}
		if r.SpotID != large.ID || r.Status != parking.StatusHeld || r.Amount != 800 || r.Currency != "USD" {
			t.Errorf("Hold = %+v; want held on %s for 800 USD (2h at the large rate)", r, large.ID)
		}
		if want := storetest.T0.Add(5 * time.Minute); !r.HoldExpiresAt.Equal(want) {
			t.Errorf("HoldExpiresAt = %v; want %v", r.HoldExpiresAt, want)
		}
		if _, err := e.hold(2*time.Hour, 4*time.Hour, parking.Compact, large.ID); !errors.Is(err, parking.ErrSpotUnavailable) {
			t.Errorf("second overlapping Hold = %v; want ErrSpotUnavailable", err)
		}
		if _, err := e.hold(3*time.Hour, 4*time.Hour, parking.Compact, large.ID); err != nil {
			t.Errorf("back-to-back Hold = %v; want nil", err)
		}
	})
}

func TestHoldRefusals(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newEnv(t, b)
		moto := e.fixture.SpotsOf(parking.Motorcycle)[0]
		other := e.fixture.Lot
		other.ID = parking.NewID("lot")
		if err := e.store.CreateLot(ctx, &other); err != nil {
			t.Fatal(err)
		}
		offline := e.fixture.SpotsOf(parking.Large)[1]
		if err := e.store.SetSpotInService(ctx, offline.ID, false, storetest.T0); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name       string
			start, end time.Duration
			size       parking.Size
			spot       string
			code       string
		}{
			{"ends before it starts", 2 * time.Hour, time.Hour, parking.Compact, "", parking.EINVALIDWINDOW},
			{"empty window", time.Hour, time.Hour, parking.Compact, "", parking.EINVALIDWINDOW},
			{"in the past", -2 * time.Hour, -time.Hour, parking.Compact, "", parking.EWINDOWINPAST},
			{"longer than the maximum stay", time.Hour, 26 * time.Hour, parking.Compact, "", parking.ESTAYTOOLONG},
			{"vehicle too large", time.Hour, 2 * time.Hour, parking.Standard, moto.ID, parking.EVEHICLETOOLARGE},
			{"no such spot", time.Hour, 2 * time.Hour, parking.Standard, "spt_missing", parking.ENOTFOUND},
			{"out of service", time.Hour, 2 * time.Hour, parking.Standard, offline.ID, parking.ESPOTOUTOFSERVICE},
			{"no size", time.Hour, 2 * time.Hour, 0, "", parking.EINVALID},
		}
		for _, c := range cases {
			if _, err := e.hold(c.start, c.end, c.size, c.spot); parking.ErrorCode(err) != c.code {
				t.Errorf("%s: Hold = %v; want code %s", c.name, err, c.code)
			}
		}
		// A few minutes in the past is tolerated: "from now" with a slow clock.
		if _, err := e.hold(-2*time.Minute, time.Hour, parking.Compact, ""); err != nil {
			t.Errorf("Hold starting 2 minutes ago = %v; want nil", err)
		}
		if _, err := e.engine.Hold(ctx, booking.HoldRequest{LotID: "lot_missing", VehicleSize: parking.Compact,
			StartsAt: storetest.T0.Add(time.Hour), EndsAt: storetest.T0.Add(2 * time.Hour)}); !errors.Is(err, parking.ErrNotFound) {
			t.Errorf("Hold in a missing lot = %v; want ErrNotFound", err)
		}
		if _, err := e.engine.Hold(ctx, booking.HoldRequest{LotID: other.ID, SpotID: moto.ID, VehicleSize: parking.Motorcycle,
			StartsAt: storetest.T0.Add(time.Hour), EndsAt: storetest.T0.Add(2 * time.Hour)}); !errors.Is(err, parking.ErrNotFound) {
			t.Errorf("Hold of another lot's spot = %v; want ErrNotFound", err)
		}
	})
}

// TestHoldAnySmallestFirst: "any spot that fits" fills the smallest fitting
// size first, in label order, and keeps large spots for large vehicles.
func TestHoldAnySmallestFirst(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newEnv(t, b)
		var got []string
		for range 8 { // 3 compact + 3 standard + 2 large fit a compact car
			r, err := e.hold(time.Hour, 2*time.Hour, parking.Compact, "")
			if err != nil {
				t.Fatalf("Hold(any compact) = %v", err)
			}
			if r.Amount != 250 {
				t.Errorf("Hold(any compact) amount = %d; want 250 (the vehicle's rate)", r.Amount)
			}
			sp, _ := e.store.Spot(ctx, r.SpotID)
			got = append(got, sp.Label)
		}
		want := []string{"C1", "C2", "C3", "S1", "S2", "S3", "L1", "L2"}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("spots in order = %v; want %v", got, want)
			}
		}
		if _, err := e.hold(time.Hour, 2*time.Hour, parking.Compact, ""); !errors.Is(err, parking.ErrNoSpotAvailable) {
			t.Errorf("Hold(any) in a full lot = %v; want ErrNoSpotAvailable", err)
		}
		if r, err := e.hold(time.Hour, 2*time.Hour, parking.Motorcycle, ""); err != nil || r.SpotID != e.fixture.Spots[0].ID {
			t.Errorf("Hold(any motorcycle) = %+v, %v; want M1", r, err)
		}
	})
}

func TestConfirmCancelExpire(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newEnv(t, b)
		r, err := e.hold(time.Hour, 2*time.Hour, parking.Standard, "")
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(4 * time.Minute)
		if got, err := e.engine.Confirm(ctx, r.ID); err != nil || got.Status != parking.StatusConfirmed {
			t.Fatalf("Confirm within the hold = %+v, %v; want confirmed", got, err)
		}
		if _, err := e.engine.Confirm(ctx, r.ID); parking.ErrorCode(err) != parking.ESTATUS {
			t.Errorf("Confirm twice = %v; want %s", err, parking.ESTATUS)
		}
		if got, err := e.engine.Cancel(ctx, r.ID); err != nil || got.Status != parking.StatusCancelled {
			t.Errorf("Cancel = %+v, %v; want cancelled", got, err)
		}

		late, _ := e.hold(time.Hour, 2*time.Hour, parking.Standard, "")
		e.clock.Advance(5 * time.Minute) // exactly at the expiry
		if _, err := e.engine.Confirm(ctx, late.ID); !errors.Is(err, parking.ErrHoldExpired) {
			t.Errorf("Confirm at the hold's expiry = %v; want ErrHoldExpired", err)
		}
		// The spot is free again before any sweep ran.
		again, err := e.engine.Hold(ctx, booking.HoldRequest{LotID: e.fixture.Lot.ID, SpotID: late.SpotID, VehicleSize: parking.Standard,
			StartsAt: late.StartsAt, EndsAt: late.EndsAt})
		if err != nil {
			t.Fatalf("Hold of an expired hold's spot = %v; want nil", err)
		}
		if n, err := e.engine.ExpireHolds(ctx); err != nil || n != 0 {
			t.Errorf("ExpireHolds = %d, %v; want 0 (the new hold expired the old one already)", n, err)
		}
		e.clock.Advance(5 * time.Minute)
		if n, err := e.engine.ExpireHolds(ctx); err != nil || n != 1 {
			t.Errorf("ExpireHolds after 5 more minutes = %d, %v; want 1", n, err)
		}
		if _, err := e.engine.Confirm(ctx, again.ID); !errors.Is(err, parking.ErrHoldExpired) {
			t.Errorf("Confirm of a swept hold = %v; want ErrHoldExpired", err)
		}
		if _, err := e.engine.Cancel(ctx, "res_missing"); !errors.Is(err, parking.ErrNotFound) {
			t.Errorf("Cancel(missing) = %v; want ErrNotFound", err)
		}
	})
}

func TestAvailability(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newEnv(t, b)
		f := e.fixture
		std := f.SpotsOf(parking.Standard)
		held, _ := e.hold(time.Hour, 2*time.Hour, parking.Standard, std[0].ID)
		conf, _ := e.hold(time.Hour, 2*time.Hour, parking.Standard, std[1].ID)
		if _, err := e.engine.Confirm(ctx, conf.ID); err != nil {
			t.Fatal(err)
		}
		in, _ := e.hold(time.Hour, 2*time.Hour, parking.Large, f.SpotsOf(parking.Large)[0].ID)
		e.engine.Confirm(ctx, in.ID)
		storetest.MustChange(t, e.store, in.ID, parking.StatusConfirmed, parking.StatusCheckedIn, storetest.T0)
		e.store.SetSpotInService(ctx, f.SpotsOf(parking.Large)[1].ID, false, storetest.T0)

		now := e.clock.Now()
		a, err := e.engine.Availability(ctx, f.Lot.ID, booking.SpotFilter{}, now.Add(time.Hour), now.Add(2*time.Hour))
		if err != nil {
			t.Fatalf("Availability = %v", err)
		}
		if len(a.Spots) != len(f.Spots) {
			t.Fatalf("Availability has %d spots; want %d", len(a.Spots), len(f.Spots))
		}
		status := map[string]booking.SpotStatus{}
		for _, s := range a.Spots {
			status[s.Label] = s.Status
		}
		want := map[string]booking.SpotStatus{"S1": booking.Held, "S2": booking.Reserved, "S3": booking.Available,
			"L1": booking.Occupied, "L2": booking.OutOfService, "C1": booking.Available}
		for label, st := range want {
			if status[label] != st {
				t.Errorf("spot %s is %q; want %q", label, status[label], st)
			}
		}
		if c := a.Counts[parking.Standard]; c != (booking.Counts{Total: 3, Available: 1, Held: 1, Reserved: 1}) {
			t.Errorf("standard counts = %+v", c)
		}
		if c := a.Counts[parking.Large]; c != (booking.Counts{Total: 2, Occupied: 1, OutOfService: 1}) {
			t.Errorf("large counts = %+v", c)
		}

		// Once the hold expires the spot shows available, sweep or not.
		e.clock.Set(held.HoldExpiresAt)
		a, _ = e.engine.Availability(ctx, f.Lot.ID, booking.SpotFilter{Fits: parking.Standard}, now.Add(time.Hour), now.Add(2*time.Hour))
		if len(a.Spots) != 5 { // 3 standard + 2 large fit a standard car
			t.Errorf("spots that fit a standard car = %d; want 5", len(a.Spots))
		}
		for _, s := range a.Spots {
			if s.Label == "S1" && s.Status != booking.Available {
				t.Errorf("S1 after its hold expired = %q; want available", s.Status)
			}
		}
		if _, err := e.engine.Availability(ctx, "lot_missing", booking.SpotFilter{}, now, now.Add(time.Hour)); !errors.Is(err, parking.ErrNotFound) {
			t.Errorf("Availability(missing lot) = %v; want ErrNotFound", err)
		}
	})
}
