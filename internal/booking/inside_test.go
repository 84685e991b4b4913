package booking_test

import (
	"errors"
	"testing"
	"time"

	"parkd/internal/booking"
	"parkd/internal/parking"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// inside checks a car in on spotID for [start, end) and returns it.
func (e env) inside(t *testing.T, spotID string, start, end time.Time) parking.Reservation {
	t.Helper()
	return e.fixture.MustCheckedIn(t, e.store, spotID, start, end)
}

// TestOverstayHoldsSpot: a car inside past its end keeps its spot from
// specific holds, "any spot", drive-ups and the map, over any later window,
// until its exit scan; then the spot is free at once.
func TestOverstayHoldsSpot(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newEnv(t, b)
		l1, l2 := e.fixture.SpotsOf(parking.Large)[0], e.fixture.SpotsOf(parking.Large)[1]
		over := e.inside(t, l1.ID, storetest.T0.Add(-2*time.Hour), storetest.T0.Add(-time.Hour)) // an hour past its end
		e.inside(t, l2.ID, storetest.T0.Add(-time.Hour), storetest.T0.Add(3*time.Hour))

		if _, err := e.hold(0, time.Hour, parking.Large, l1.ID); !errors.Is(err, parking.ErrSpotUnavailable) {
			t.Errorf("Hold(the overstayed spot, now) = %v; want spot_unavailable", err)
		}
		if _, err := e.hold(30*time.Hour, 31*time.Hour, parking.Large, l1.ID); !errors.Is(err, parking.ErrSpotUnavailable) {
			t.Errorf("Hold(the overstayed spot, tomorrow) = %v; want spot_unavailable: it is held until the car leaves", err)
		}
		if _, err := e.hold(0, time.Hour, parking.Large, ""); !errors.Is(err, parking.ErrNoSpotAvailable) {
			t.Errorf("Hold(any large spot) = %v; want no_spot_available: both large spots have cars", err)
		}
		if _, err := e.engine.AdmitDriveUp(ctx, e.fixture.Lot.ID, parking.Large, "BIG-1"); !errors.Is(err, booking.ErrLotFull) {
			t.Errorf("AdmitDriveUp(large) = %v; want lot_full: both large spots hold cars, one of them overstaying", err)
		}
		for _, w := range [][2]time.Duration{{0, time.Hour}, {30 * time.Hour, 31 * time.Hour}} {
			now := e.clock.Now()
			a, err := e.engine.Availability(ctx, e.fixture.Lot.ID, booking.SpotFilter{Fits: parking.Large}, now.Add(w[0]), now.Add(w[1]))
			if err != nil {
				t.Fatal(err)
			}
			if st := statusOf(a, l1.ID); st != booking.Occupied {
				t.Errorf("Availability(%v from now): the overstayed spot is %s; want occupied", w[0], st)
			}
			if st, err := e.engine.SpotStatus(ctx, l1, now.Add(w[0]), now.Add(w[1])); err != nil || st != booking.Occupied {
				t.Errorf("SpotStatus(%v from now) = %s, %v; want occupied", w[0], st, err)
			}
		}

		storetest.MustChange(t, e.store, over.ID, parking.StatusCheckedIn, parking.StatusCompleted, e.clock.Now())
		if r, err := e.hold(0, time.Hour, parking.Large, ""); err != nil || r.SpotID != l1.ID {
			t.Errorf("Hold(any large spot) after the exit = %v on %s; want %s at once", err, r.SpotID, l1.ID)
		}
	})
}

func statusOf(a booking.Availability, spotID string) booking.SpotStatus {
	for _, sp := range a.Spots {
		if sp.ID == spotID {
			return sp.Status
		}
	}
	return ""
}

// TestBookingBehindOverstayMoves: a booking an overstaying car stands in front
// of is moved to another spot that fits no later than parking.MoveLead before
// its driver may first enter; with no spot free it is cancelled, and a
// drive-up never takes the spot a displaced booking needs.
func TestBookingBehindOverstayMoves(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newEnv(t, b)
		std := e.fixture.SpotsOf(parking.Standard)
		t0 := storetest.T0
		car := e.inside(t, std[0].ID, t0.Add(time.Hour), t0.Add(2*time.Hour))
		next := e.fixture.MustConfirmed(t, e.store, std[0].ID, t0.Add(3*time.Hour), t0.Add(4*time.Hour))
		entry := e.fixture.Lot.Policy.EarliestEntry(next) // 2:45

		e.clock.Set(car.EndsAt.Add(5 * time.Minute)) // overstaying, its driver may enter in 40 minutes
		sw, err := e.engine.RunLifecycle(ctx)
		if err != nil || len(sw.Moved) != 0 {
			t.Fatalf("RunLifecycle at 2:05 = %+v, %v; want nothing moved yet (entry at %v)", sw, err, entry)
		}
		e.clock.Set(entry.Add(-parking.MoveLead + time.Second))
		sw, err = e.engine.RunLifecycle(ctx)
		if err != nil || len(sw.Moved) != 1 || sw.Moved[0].ID != next.ID {
			t.Fatalf("RunLifecycle at %v = %+v, %v; want %s moved", e.clock.Now(), sw, err, next.ID)
		}
		moved, _ := e.store.Reservation(ctx, next.ID)
		if moved.SpotID != std[1].ID || moved.MovedFrom != std[0].ID || moved.ChangeReason != parking.ReasonOverstay ||
			moved.Status != parking.StatusConfirmed || !moved.UpdatedAt.Before(entry) {
			t.Errorf("the booking behind the overstay = %+v; want it confirmed on %s, moved from %s before %v", moved, std[1].Label, std[0].Label, entry)
		}
		if sw, _ := e.engine.RunLifecycle(ctx); len(sw.Moved)+len(sw.Cancelled) != 0 {
			t.Errorf("a second sweep = %+v; want nothing more to do", sw)
		}

		// The lot full for their windows: the bookings are cancelled at
		// once (their drivers are told, and refunded in full).
		e2 := newEnv(t, b)
		e2.clock.Set(t0)
		std2, large2 := e2.fixture.SpotsOf(parking.Standard), e2.fixture.SpotsOf(parking.Large)
		e2.inside(t, std2[0].ID, t0.Add(time.Hour), t0.Add(2*time.Hour))
		full := e2.fixture.MustConfirmed(t, e2.store, std2[0].ID, t0.Add(3*time.Hour), t0.Add(4*time.Hour))
		fits := e2.fixture.MustConfirmed(t, e2.store, large2[0].ID, t0.Add(3*time.Hour), t0.Add(4*time.Hour))
		// Every other spot a standard car fits is taken then.
		for _, sp := range append(std2[1:], large2[1:]...) {
			e2.fixture.MustConfirmed(t, e2.store, sp.ID, t0.Add(3*time.Hour), t0.Add(4*time.Hour))
		}
		e2.inside(t, large2[0].ID, t0.Add(time.Hour), t0.Add(2*time.Hour))
		e2.clock.Set(t0.Add(2*time.Hour + 20*time.Minute)) // both cars overstay; both bookings behind them are due
		sw, err = e2.engine.RunLifecycle(ctx)
		if err != nil || len(sw.Moved) != 0 || len(sw.Cancelled) != 2 {
			t.Fatalf("RunLifecycle with the lot full = %+v, %v; want both displaced bookings cancelled", sw, err)
		}
		for _, id := range []string{full.ID, fits.ID} {
			if r, _ := e2.store.Reservation(ctx, id); r.Status != parking.StatusCancelled || r.ChangeReason != parking.ReasonOverstay {
				t.Errorf("%s = %s (%q); want cancelled for overstay", id, r.Status, r.ChangeReason)
			}
		}
	})
}

// TestDriveUpAfterDisplaced: a drive-up arriving when a booking is displaced
// (its sweep not run yet) finds that booking already moved to the last spot
// that fits it, and is refused rather than take that spot.
func TestDriveUpAfterDisplaced(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newEnv(t, b)
		t0 := storetest.T0
		l1, l2 := e.fixture.SpotsOf(parking.Large)[0], e.fixture.SpotsOf(parking.Large)[1]
		e.inside(t, l1.ID, t0.Add(-2*time.Hour), t0.Add(-time.Hour))
		// Booked while the car was still within its window.
		booked := t0.Add(-90 * time.Minute)
		next := e.fixture.NewHold(booked, t0.Add(30*time.Minute), t0.Add(2*time.Hour))
		next.VehicleSize = parking.Large // only l2 fits it; it is free
		if err := e.store.Hold(ctx, next, []string{l1.ID}, nil); err != nil {
			t.Fatal(err)
		}
		storetest.MustChange(t, e.store, next.ID, parking.StatusHeld, parking.StatusConfirmed, booked)
		if _, err := e.engine.AdmitDriveUp(ctx, e.fixture.Lot.ID, parking.Large, "BIG-2"); !errors.Is(err, booking.ErrLotFull) {
			t.Errorf("AdmitDriveUp(large) = %v; want lot_full: the free large spot goes to the booking behind the overstay", err)
		}
		if r, _ := e.store.Reservation(ctx, next.ID); r.SpotID != l2.ID {
			t.Errorf("the displaced booking is on %s; want it moved to %s", r.SpotID, l2.Label)
		}
	})
}

// TestAnySpotKeepsScarceSpots: "any spot" gives plain spots before accessible
// or EV ones, unless the driver asks for the amenity.
func TestAnySpotKeepsScarceSpots(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newEnv(t, b)
		std := e.fixture.SpotsOf(parking.Standard) // S1 S2 S3
		for i, a := range []string{parking.AmenityAccessible, parking.AmenityEV} {
			sp := std[i]
			sp.Amenities = []string{a}
			if err := e.store.UpdateSpot(ctx, &sp); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		for range 3 {
			r, err := e.hold(time.Hour, 2*time.Hour, parking.Standard, "")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, r.SpotID)
		}
		large := e.fixture.SpotsOf(parking.Large)
		if want := []string{std[2].ID, large[0].ID, large[1].ID}; !equal(got, want) {
			t.Errorf("three any-spot holds took %v; want S3 then the large spots %v, keeping accessible and EV spots", got, want)
		}
		r, err := e.engine.Hold(ctx, booking.HoldRequest{LotID: e.fixture.Lot.ID, VehicleSize: parking.Standard, Plate: "EV-1",
			StartsAt: e.clock.Now().Add(time.Hour), EndsAt: e.clock.Now().Add(2 * time.Hour), Amenities: []string{parking.AmenityEV}})
		if err != nil || r.SpotID != std[1].ID {
			t.Errorf("Hold(any spot with ev) = %v on %s; want the EV spot %s", err, r.SpotID, std[1].ID)
		}
		a, err := e.engine.Availability(ctx, e.fixture.Lot.ID, booking.SpotFilter{Amenities: []string{parking.AmenityAccessible}},
			e.clock.Now(), e.clock.Now().Add(time.Hour))
		if err != nil || len(a.Spots) != 1 || a.Spots[0].ID != std[0].ID {
			t.Errorf("Availability(amenity accessible) = %v, %v; want only %s", a.Spots, err, std[0].Label)
		}
	})
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPlanExtension: the price of an extension is the difference between the
// longer window's price and the original's; a booking in the way is moved,
// or the extension refused when no spot fits it.
func TestPlanExtension(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newEnv(t, b)
		std := e.fixture.SpotsOf(parking.Standard)
		t0 := storetest.T0
		r := e.fixture.MustConfirmed(t, e.store, std[0].ID, t0.Add(time.Hour), t0.Add(3*time.Hour))
		p := e.fixture.Lot.Policy
		for _, extra := range []time.Duration{10 * time.Minute, time.Hour, 30 * time.Hour} {
			newEnd := r.EndsAt.Add(extra)
			plan, err := e.engine.PlanExtension(ctx, r, newEnd)
			if extra > 20*time.Hour {
				if parking.ErrorCode(err) != parking.ESTAYTOOLONG {
					t.Errorf("PlanExtension(+%v) = %v; want stay_too_long", extra, err)
				}
				continue
			}
			longer, _ := p.Price(parking.Standard, r.StartsAt, newEnd)
			shorter, _ := p.Price(parking.Standard, r.StartsAt, r.EndsAt)
			if err != nil || plan.Amount != longer-shorter || len(plan.Moves) != 0 {
				t.Errorf("PlanExtension(+%v) = %+v, %v; want %d - %d and no moves", extra, plan, err, longer, shorter)
			}
		}
		next := e.fixture.MustConfirmed(t, e.store, std[0].ID, r.EndsAt.Add(30*time.Minute), r.EndsAt.Add(2*time.Hour))
		plan, err := e.engine.PlanExtension(ctx, r, r.EndsAt.Add(time.Hour))
		if err != nil || len(plan.Moves) != 1 || plan.Moves[0].ID != next.ID || plan.Moves[0].Candidates[0] != std[1].ID {
			t.Errorf("PlanExtension(into the next booking) = %+v, %v; want it to move %s, to %s first", plan, err, next.ID, std[1].Label)
		}
		for _, sp := range e.fixture.Spots { // no other spot fits the next booking
			if sp.ID != std[0].ID && parking.Standard.Fits(sp.Size) {
				e.fixture.MustConfirmed(t, e.store, sp.ID, next.StartsAt, next.EndsAt)
			}
		}
		if _, err := e.engine.PlanExtension(ctx, r, r.EndsAt.Add(time.Hour)); !errors.Is(err, parking.ErrSpotUnavailable) {
			t.Errorf("PlanExtension(the next booking fits nowhere else) = %v; want spot_unavailable", err)
		}
		held := e.fixture.MustHold(t, e.store, std[1].ID, t0, t0.Add(20*time.Hour), t0.Add(21*time.Hour))
		if _, err := e.engine.PlanExtension(ctx, held, held.EndsAt.Add(time.Hour)); parking.ErrorCode(err) != parking.ENOTEXTENDABLE {
			t.Errorf("PlanExtension(held) = %v; want not_extendable", err)
		}
		if _, err := e.engine.PlanExtension(ctx, r, r.EndsAt); parking.ErrorCode(err) != parking.EINVALIDWINDOW {
			t.Errorf("PlanExtension(the same end) = %v; want invalid_window", err)
		}
	})
}

// TestOutOfServiceMovesOnSameLevel: taking a spot out of service moves its
// bookings to a free spot that fits on the same level first, even when a spot
// on another level comes first otherwise.
func TestOutOfServiceMovesOnSameLevel(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newEnv(t, b)
		f := e.fixture
		up := parking.Level{ID: parking.NewID("lvl"), LotID: f.Lot.ID, Name: "Roof", Ordinal: 2}
		if err := e.store.CreateLevel(ctx, &up); err != nil {
			t.Fatal(err)
		}
		// "A1" would come first by label: a standard spot one floor up.
		roof := parking.Spot{ID: parking.NewID("spt"), LotID: f.Lot.ID, LevelID: up.ID, Label: "A1", Size: parking.Standard, InService: true}
		if err := e.store.CreateSpots(ctx, []parking.Spot{roof}); err != nil {
			t.Fatal(err)
		}
		std := f.SpotsOf(parking.Standard)
		r := f.MustConfirmed(t, e.store, std[0].ID, storetest.T0.Add(2*time.Hour), storetest.T0.Add(3*time.Hour))
		w, err := e.engine.TakeOutOfService(ctx, std[0], false)
		if err != nil || len(w.Moved) != 1 || len(w.Cancelled) != 0 {
			t.Fatalf("TakeOutOfService = %+v, %v; want the booking moved", w, err)
		}
		if got := w.Moved[0]; got.ID != r.ID || got.SpotID != std[1].ID || got.ChangeReason != parking.ReasonOutOfService {
			t.Errorf("moved %s to %s (%s); want %s on %s, the same level", got.ID, got.SpotID, got.ChangeReason, r.ID, std[1].Label)
		}
	})
}
