package storetest

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"sync"
	"testing"
	"time"

	"parkd/internal/parking"
)

// insideTests cover invariant 2 in the store: a car inside holds its spot
// until it leaves, bookings move to other spots, stays are extended.
func insideTests() []namedTest {
	return []namedTest{
		{"CarInsideHoldsSpot", testCarInsideHoldsSpot},
		{"MoveReservation", testMoveReservation},
		{"ExtendReservation", testExtendReservation},
		{"ExtensionChargeFailsBack", testExtensionChargeFailsBack},
		{"Displaced", testDisplaced},
		{"DisplacedUnrefunded", testDisplacedUnrefunded},
	}
}

// testCarInsideHoldsSpot: a car still inside past its window keeps its spot
// from every new claim, over any later window, until its exit scan; then the
// spot is free at once.
func testCarInsideHoldsSpot(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	spot, other := f.SpotsOf(parking.Standard)[0].ID, f.SpotsOf(parking.Standard)[1].ID
	start := T0.Add(time.Hour)
	car := f.MustCheckedIn(t, s, spot, start, start.Add(2*time.Hour))
	now := car.EndsAt.Add(10 * time.Minute) // overstaying

	windows := [][2]time.Time{{now, now.Add(time.Hour)}, {now.Add(24 * time.Hour), now.Add(25 * time.Hour)}}
	for _, w := range windows {
		r := f.NewHold(now, w[0], w[1])
		if err := s.Hold(ctx, r, []string{spot}, nil); !errors.Is(err, parking.ErrSpotUnavailable) {
			t.Errorf("Hold(overstayed spot, [%v, %v)) = %v; want spot_unavailable", w[0], w[1], err)
		}
		bs, err := s.Bookings(ctx, f.Lot.ID, w[0], w[1], now)
		if err != nil || !hasBooking(bs, spot, parking.StatusCheckedIn) {
			t.Errorf("Bookings([%v, %v)) = %v, %v; want the overstayed spot occupied", w[0], w[1], bs, err)
		}
	}
	// "Any spot" skips it, a drive-up cannot take it, and nobody checks in there.
	r := f.NewHold(now, now, now.Add(time.Hour))
	if err := s.Hold(ctx, r, []string{spot, other}, nil); err != nil || r.SpotID != other {
		t.Errorf("Hold(any of [overstayed, free]) = %v on %s; want the free spot %s", err, r.SpotID, other)
	}
	drive := f.NewHold(now, now, now.Add(24*time.Hour))
	drive.Status, drive.CheckedInAt = parking.StatusCheckedIn, &now
	if err := s.Hold(ctx, drive, []string{spot}, nil); !errors.Is(err, parking.ErrSpotUnavailable) {
		t.Errorf("drive-up onto the overstayed spot = %v; want spot_unavailable", err)
	}
	// A booking made before the overstay, for after the car's end: its driver
	// cannot be checked in onto the taken spot.
	f2 := MustFixture(t, s)
	spot2 := f2.SpotsOf(parking.Standard)[0].ID
	car2 := f2.MustCheckedIn(t, s, spot2, start, start.Add(time.Hour))
	next := f2.MustConfirmed(t, s, spot2, car2.EndsAt.Add(30*time.Minute), car2.EndsAt.Add(2*time.Hour))
	_, err := s.ChangeStatus(ctx, parking.StatusChange{ID: next.ID, From: []parking.Status{parking.StatusConfirmed},
		To: parking.StatusCheckedIn, At: next.StartsAt})
	if !errors.Is(err, parking.ErrSpotUnavailable) {
		t.Errorf("check-in onto a spot an overstaying car holds = %v; want spot_unavailable", err)
	}
	// Within its own window the car claims only its window.
	within := car2.StartsAt.Add(10 * time.Minute)
	if bs, _ := s.Bookings(ctx, f2.Lot.ID, car2.EndsAt, car2.EndsAt.Add(time.Hour), within); hasBooking(bs, spot2, parking.StatusCheckedIn) {
		t.Errorf("Bookings(after the end of a car inside its window) = %v; want it not to claim beyond its end yet", bs)
	}
	// SpotReservations lists the car inside, whatever its end.
	rs, err := s.SpotReservations(ctx, spot, now)
	if err != nil || len(rs) != 1 || rs[0].ID != car.ID {
		t.Errorf("SpotReservations(overstayed spot) = %v, %v; want the car inside", ids(rs), err)
	}
	lr, err := s.LotReservations(ctx, f.Lot.ID, now, now.Add(time.Hour))
	if err != nil || !contains(ids(lr), car.ID) {
		t.Errorf("LotReservations(after its end) = %v, %v; want the car inside among them", ids(lr), err)
	}

	// Out at the exit: free at once.
	MustChange(t, s, car.ID, parking.StatusCheckedIn, parking.StatusCompleted, now)
	f.MustHold(t, s, spot, now, now, now.Add(time.Hour))
}

// testMoveReservation: a move goes to the first candidate free for the
// booking's window, records where from and why with an event, and changes
// nothing when no candidate is free or the booking moved on.
func testMoveReservation(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	std := f.SpotsOf(parking.Standard) // S1 S2 S3
	start := T0.Add(2 * time.Hour)
	b := f.MustConfirmed(t, s, std[0].ID, start, start.Add(time.Hour))
	f.MustConfirmed(t, s, std[1].ID, start.Add(30*time.Minute), start.Add(90*time.Minute)) // S2 taken
	if err := s.SetSpotInService(ctx, f.SpotsOf(parking.Large)[0].ID, false, T0); err != nil {
		t.Fatal(err)
	}
	at := T0.Add(time.Minute)
	m := parking.Move{ID: b.ID, From: std[0].ID, Reason: parking.ReasonOverstay, At: at,
		Candidates: []string{std[1].ID, f.SpotsOf(parking.Large)[0].ID, std[2].ID}}
	got, err := s.MoveReservation(ctx, m)
	if err != nil || got.SpotID != std[2].ID || got.MovedFrom != std[0].ID || got.ChangeReason != parking.ReasonOverstay ||
		got.Status != parking.StatusConfirmed || !got.UpdatedAt.Equal(at) {
		t.Fatalf("MoveReservation = %+v, %v; want it on %s, moved from %s for overstay", got, err, std[2].ID, std[0].ID)
	}
	if stored, err := s.Reservation(ctx, b.ID); err != nil || !reflect.DeepEqual(stored, got) {
		t.Errorf("Reservation after the move = %+v, %v; want what MoveReservation returned, %+v", stored, err, got)
	}
	if n := eventCounts(t, s, f.Lot.ID, "reservation.moved")[b.ID]; n != 1 {
		t.Errorf("reservation.moved events = %d; want 1", n)
	}
	// The old spot is free for the window now; the new one is not.
	f.MustHold(t, s, std[0].ID, at, start, start.Add(time.Hour))
	if err := s.Hold(ctx, f.NewHold(at, start, start.Add(time.Hour)), []string{std[2].ID}, nil); !errors.Is(err, parking.ErrSpotUnavailable) {
		t.Errorf("Hold(the spot moved to) = %v; want spot_unavailable", err)
	}
	// Nothing free: unchanged.
	m = parking.Move{ID: b.ID, From: std[2].ID, Reason: parking.ReasonOutOfService, At: at, Candidates: []string{std[0].ID, std[1].ID}}
	if _, err := s.MoveReservation(ctx, m); !errors.Is(err, parking.ErrSpotUnavailable) {
		t.Errorf("MoveReservation(no candidate free) = %v; want spot_unavailable", err)
	}
	if cur, _ := s.Reservation(ctx, b.ID); cur.SpotID != std[2].ID || cur.ChangeReason != parking.ReasonOverstay {
		t.Errorf("after a failed move the booking is %+v; want it unchanged on %s", cur, std[2].ID)
	}
	// Not on the spot named, or no longer live: ErrInvalidStatus, as it is.
	m = parking.Move{ID: b.ID, From: std[0].ID, At: at, Candidates: []string{f.SpotsOf(parking.Large)[1].ID}}
	if cur, err := s.MoveReservation(ctx, m); !errors.Is(err, parking.ErrInvalidStatus) || cur.SpotID != std[2].ID {
		t.Errorf("MoveReservation(from the wrong spot) = %s, %v; want invalid_status and the booking as it is", cur.SpotID, err)
	}
	MustChange(t, s, b.ID, parking.StatusConfirmed, parking.StatusCancelled, at)
	m = parking.Move{ID: b.ID, From: std[2].ID, At: at, Candidates: []string{f.SpotsOf(parking.Large)[1].ID}}
	if _, err := s.MoveReservation(ctx, m); !errors.Is(err, parking.ErrInvalidStatus) {
		t.Errorf("MoveReservation(cancelled) = %v; want invalid_status", err)
	}
}

// testExtendReservation: a later end is taken with the moves it needs and its
// charge in one transaction; an end that overlaps a claim that cannot move
// changes nothing.
func testExtendReservation(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	std := f.SpotsOf(parking.Standard)
	start := T0.Add(time.Hour)
	r := f.MustCheckedIn(t, s, std[0].ID, start, start.Add(2*time.Hour))
	next := f.MustConfirmed(t, s, std[0].ID, r.EndsAt, r.EndsAt.Add(time.Hour))
	at := start.Add(30 * time.Minute)
	newEnd := r.EndsAt.Add(time.Hour)

	// Without moving the next booking, the new end overlaps it.
	if _, _, err := s.ExtendReservation(ctx, parking.Extension{ID: r.ID, From: r.EndsAt, To: newEnd, At: at}); !errors.Is(err, parking.ErrSpotUnavailable) {
		t.Fatalf("ExtendReservation(into the next booking) = %v; want spot_unavailable", err)
	}
	// A move with no free candidate: nothing changes, not even the move.
	f.MustConfirmed(t, s, std[1].ID, next.StartsAt, next.EndsAt)
	x := parking.Extension{ID: r.ID, From: r.EndsAt, To: newEnd, At: at,
		Moves: []parking.Move{{ID: next.ID, From: std[0].ID, Candidates: []string{std[1].ID}, Reason: parking.ReasonExtension}}}
	if _, _, err := s.ExtendReservation(ctx, x); !errors.Is(err, parking.ErrSpotUnavailable) {
		t.Fatalf("ExtendReservation(move finds no spot) = %v; want spot_unavailable", err)
	}
	if cur, _ := s.Reservation(ctx, r.ID); !cur.EndsAt.Equal(r.EndsAt) {
		t.Errorf("after a refused extension the end is %v; want %v", cur.EndsAt, r.EndsAt)
	}
	if cur, _ := s.Reservation(ctx, next.ID); cur.SpotID != std[0].ID {
		t.Errorf("after a refused extension the next booking is on %s; want it back on %s", cur.SpotID, std[0].ID)
	}
	// With a free candidate: moved, extended and charged together.
	x.Moves[0].Candidates = []string{std[1].ID, std[2].ID}
	from, to := r.EndsAt, newEnd
	charge := &parking.Payment{ID: parking.NewID("pay"), ReservationID: r.ID, Kind: parking.Charge, Amount: 300, Currency: "USD",
		Status: parking.PaymentPending, Gateway: "sandbox", PaymentMethod: "pm_card_visa", ExtendsFrom: &from, ExtendsTo: &to,
		CreatedAt: at, UpdatedAt: at}
	x.Charge = charge
	got, moved, err := s.ExtendReservation(ctx, x)
	if err != nil || !got.EndsAt.Equal(newEnd) || len(moved) != 1 || moved[0].SpotID != std[2].ID {
		t.Fatalf("ExtendReservation = %+v, moved %v, %v; want the end %v and the next booking on %s", got, ids(moved), err, newEnd, std[2].ID)
	}
	p, err := s.Payment(ctx, charge.ID)
	if err != nil || p.ExtendsTo == nil || !p.ExtendsTo.Equal(newEnd) || !p.ExtendsFrom.Equal(from) {
		t.Errorf("Payment(extension charge) = %+v, %v; want it stored with its ends", p, err)
	}
	if n := eventCounts(t, s, f.Lot.ID, "reservation.extended")[r.ID]; n != 1 {
		t.Errorf("reservation.extended events = %d; want 1", n)
	}
	// A second extension while the first's charge is pending: a conflict,
	// and nothing changes.
	later := newEnd.Add(time.Hour)
	second := *charge
	second.ID, second.ExtendsFrom, second.ExtendsTo = parking.NewID("pay"), &newEnd, &later
	_, _, err = s.ExtendReservation(ctx, parking.Extension{ID: r.ID, From: newEnd, To: later, Charge: &second, At: at})
	if parking.ErrorCode(err) != parking.ECONFLICT || parking.ErrorMessage(err) != "another extension of this reservation is being paid for" {
		t.Errorf("ExtendReservation(while another extension's charge is pending) = %v; want conflict: another extension of this reservation is being paid for", err)
	}
	// From an end that is no longer the reservation's: invalid_status, as it is.
	cur, _, err := s.ExtendReservation(ctx, parking.Extension{ID: r.ID, From: r.EndsAt, To: later, At: at})
	if !errors.Is(err, parking.ErrInvalidStatus) || !cur.EndsAt.Equal(newEnd) {
		t.Errorf("ExtendReservation(from a stale end) = %v, %v; want invalid_status and the end %v", cur.EndsAt, err, newEnd)
	}
	// Only a paid booking or a car inside.
	held := f.MustHold(t, s, std[1].ID, at, start.Add(10*time.Hour), start.Add(11*time.Hour))
	if _, _, err := s.ExtendReservation(ctx, parking.Extension{ID: held.ID, From: held.EndsAt, To: held.EndsAt.Add(time.Hour), At: at}); !errors.Is(err, parking.ErrInvalidStatus) {
		t.Errorf("ExtendReservation(held) = %v; want invalid_status", err)
	}
}

// testExtensionChargeFailsBack: when an extension's charge fails, the end goes
// back, with an event; when it succeeds, the end stays.
func testExtensionChargeFailsBack(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	spot := f.SpotsOf(parking.Standard)[0].ID
	start := T0.Add(time.Hour)
	for _, outcome := range []string{parking.PaymentFailed, parking.PaymentSucceeded} {
		r := f.MustConfirmed(t, s, spot, start, start.Add(time.Hour))
		from, to := r.EndsAt, r.EndsAt.Add(time.Hour)
		charge := &parking.Payment{ID: parking.NewID("pay"), ReservationID: r.ID, Kind: parking.Charge, Amount: 300, Currency: "USD",
			Status: parking.PaymentPending, Gateway: "sandbox", PaymentMethod: "pm_card_visa", ExtendsFrom: &from, ExtendsTo: &to,
			CreatedAt: T0, UpdatedAt: T0}
		if _, _, err := s.ExtendReservation(ctx, parking.Extension{ID: r.ID, From: from, To: to, Charge: charge, At: T0}); err != nil {
			t.Fatalf("ExtendReservation: %v", err)
		}
		_, res, err := s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: charge.ID, From: []string{parking.PaymentPending},
			To: outcome, At: T0.Add(time.Minute)})
		want := to
		if outcome == parking.PaymentFailed {
			want = from
		}
		if err != nil || !res.EndsAt.Equal(want) {
			t.Errorf("extension charge %s: the end is %v, %v; want %v", outcome, res.EndsAt, err, want)
		}
		MustChange(t, s, r.ID, parking.StatusConfirmed, parking.StatusCancelled, T0.Add(time.Minute))
		start = start.Add(3 * time.Hour)
	}
}

// testDisplaced: the bookings to move are those on a spot out of service or
// behind a car inside past its window, starting before the bound, holding
// their spot.
func testDisplaced(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	std := f.SpotsOf(parking.Standard)
	start := T0.Add(time.Hour)
	car := f.MustCheckedIn(t, s, std[0].ID, start, start.Add(time.Hour))
	soon := f.MustConfirmed(t, s, std[0].ID, car.EndsAt.Add(30*time.Minute), car.EndsAt.Add(90*time.Minute))
	far := f.MustConfirmed(t, s, std[0].ID, car.EndsAt.Add(10*time.Hour), car.EndsAt.Add(11*time.Hour))
	fine := f.MustConfirmed(t, s, std[1].ID, car.EndsAt.Add(30*time.Minute), car.EndsAt.Add(90*time.Minute))
	broken := f.MustConfirmed(t, s, std[2].ID, car.EndsAt.Add(30*time.Minute), car.EndsAt.Add(90*time.Minute))
	if err := s.SetSpotInService(ctx, std[2].ID, false, T0); err != nil {
		t.Fatal(err)
	}
	_ = fine
	by := car.EndsAt.Add(2 * time.Hour)
	// Within its window the car displaces nobody yet.
	got, err := s.Displaced(ctx, f.Lot.ID, by, car.EndsAt.Add(-time.Minute))
	if err != nil || !sameSet(ids(got), []string{broken.ID}) {
		t.Errorf("Displaced(before the car's end) = %v, %v; want only the booking on the spot out of service", ids(got), err)
	}
	now := car.EndsAt.Add(time.Minute)
	got, err = s.Displaced(ctx, f.Lot.ID, by, now)
	if err != nil || !sameSet(ids(got), []string{soon.ID, broken.ID}) {
		t.Errorf("Displaced(overstaying) = %v, %v; want %v (not %s, which starts later)", ids(got), err, []string{soon.ID, broken.ID}, far.ID)
	}
	// Gone: nobody is displaced by it any more.
	MustChange(t, s, car.ID, parking.StatusCheckedIn, parking.StatusCompleted, now)
	if got, _ := s.Displaced(ctx, f.Lot.ID, by, now); !sameSet(ids(got), []string{broken.ID}) {
		t.Errorf("Displaced(after the exit) = %v; want only %s", ids(got), broken.ID)
	}
}

// testDisplacedUnrefunded: a booking the lot cancelled is listed while a
// succeeded charge of it has no live refund.
func testDisplacedUnrefunded(t *testing.T, s parking.Store) {
	f, u, r, charge := mustPendingCharge(t, s)
	if _, _, err := succeedAt(s, charge, T0); err != nil {
		t.Fatal(err)
	}
	driver := heldFor(t, s, f, u, 6)
	if _, _, err := succeedAt(s, mustCharge(t, s, driver), T0); err != nil {
		t.Fatal(err)
	}
	// The driver cancelled: not the lot's doing, not listed.
	MustChange(t, s, driver.ID, parking.StatusConfirmed, parking.StatusCancelled, T0)
	// Nor when the lot had moved the booking before its driver cancelled it:
	// the cancellation is the driver's, and so is the refund policy.
	moved := heldFor(t, s, f, u, 7)
	if _, _, err := succeedAt(s, mustCharge(t, s, moved), T0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MoveReservation(ctx, parking.Move{ID: moved.ID, From: moved.SpotID, Candidates: []string{f.Spots[8].ID},
		Reason: parking.ReasonOverstay, At: T0}); err != nil {
		t.Fatalf("MoveReservation: %v", err)
	}
	if c := MustChange(t, s, moved.ID, parking.StatusConfirmed, parking.StatusCancelled, T0); c.ChangeReason != "" || c.MovedFrom != moved.SpotID {
		t.Errorf("the driver cancelled a moved booking: change_reason %q, moved_from %q; want no reason (not the lot's doing), still moved from %s",
			c.ChangeReason, c.MovedFrom, moved.SpotID)
	}
	if _, err := s.ChangeStatus(ctx, parking.StatusChange{ID: r.ID, From: []parking.Status{parking.StatusConfirmed},
		To: parking.StatusCancelled, At: T0, Reason: parking.ReasonOverstay}); err != nil {
		t.Fatal(err)
	}
	got, err := s.DisplacedUnrefunded(ctx, 10)
	if err != nil || !sameSet(ids(got), []string{r.ID}) || got[0].ChangeReason != parking.ReasonOverstay {
		t.Fatalf("DisplacedUnrefunded = %v, %v; want %s", ids(got), err, r.ID)
	}
	if err := s.CreatePayment(ctx, newRefund(charge, charge.Amount)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.DisplacedUnrefunded(ctx, 10); len(got) != 0 {
		t.Errorf("DisplacedUnrefunded after its refund = %v; want none", ids(got))
	}
}

func hasBooking(bs []parking.SpotBooking, spotID string, st parking.Status) bool {
	for _, b := range bs {
		if b.SpotID == spotID && b.Status == st {
			return true
		}
	}
	return false
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !contains(b, x) {
			return false
		}
	}
	return true
}

// testInsideRace: in every round, 50 holds race for the spots of a lot in
// which one car overstays and another is inside, while the booking behind the
// overstay is moved, the other car's stay is extended (moving the booking
// behind it) and overstays are flagged. Afterwards no two live claims share a
// spot at any instant, counting the cars inside as claiming their spot until
// they leave.
func testInsideRace(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	f.MustAddSpots(t, s, 4)
	std := f.SpotsOf(parking.Standard)
	rounds := max(Rounds(t)/50, 4)
	for round := range rounds {
		base := T0.Add(time.Duration(round) * 72 * time.Hour)
		over := f.MustCheckedIn(t, s, std[0].ID, base, base.Add(time.Hour))
		behind := f.MustConfirmed(t, s, std[0].ID, over.EndsAt.Add(20*time.Minute), over.EndsAt.Add(2*time.Hour))
		stay := f.MustCheckedIn(t, s, std[1].ID, base, base.Add(2*time.Hour))
		after := f.MustConfirmed(t, s, std[1].ID, stay.EndsAt, stay.EndsAt.Add(time.Hour))
		now := over.EndsAt.Add(5 * time.Minute) // over overstays; stay is within its window

		candidates := make([]string, 0, len(std))
		for _, sp := range std[2:] {
			candidates = append(candidates, sp.ID)
		}
		const holders = 50
		var mu sync.Mutex
		var won []parking.Reservation
		moveFailed := false
		errs := race(holders+3, func(i int) error {
			switch i {
			case holders:
				_, err := s.MoveReservation(ctx, parking.Move{ID: behind.ID, From: std[0].ID, Candidates: candidates,
					Reason: parking.ReasonOverstay, At: now})
				if errors.Is(err, parking.ErrSpotUnavailable) {
					moveFailed = true // the holds took every spot first
					return nil
				}
				return err
			case holders + 1:
				_, _, err := s.ExtendReservation(ctx, parking.Extension{ID: stay.ID, From: stay.EndsAt, To: stay.EndsAt.Add(time.Hour), At: now,
					Moves: []parking.Move{{ID: after.ID, From: std[1].ID, Candidates: candidates, Reason: parking.ReasonExtension}}})
				if errors.Is(err, parking.ErrSpotUnavailable) {
					return nil
				}
				return err
			case holders + 2:
				_, err := s.FlagOverstays(ctx, f.Lot.ID, now, now)
				return err
			}
			rng := rand.New(rand.NewPCG(uint64(round), uint64(i)))
			spot := std[rng.IntN(len(std))].ID
			from := now.Add(time.Duration(rng.IntN(180)-30) * time.Minute)
			r := f.NewHold(now, from, from.Add(time.Duration(30+rng.IntN(90))*time.Minute))
			err := s.Hold(ctx, r, []string{spot}, nil)
			if errors.Is(err, parking.ErrSpotUnavailable) {
				return nil
			}
			if err == nil {
				mu.Lock()
				won = append(won, *r)
				mu.Unlock()
			}
			return err
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if moveFailed {
			// As the engine does when no spot fits: the lot cancels it.
			if _, err := s.ChangeStatus(ctx, parking.StatusChange{ID: behind.ID, From: []parking.Status{parking.StatusConfirmed},
				To: parking.StatusCancelled, At: now, Reason: parking.ReasonOverstay}); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range won {
			if r.SpotID == std[0].ID {
				t.Errorf("round %d: hold %s won the spot an overstaying car holds", round, r.ID)
			}
		}
		checkNoSharedInstant(t, s, f, round, now)
		// Clear the round: the cars leave, the rest is cancelled.
		rs, err := s.LotReservations(ctx, f.Lot.ID, base.Add(-time.Hour), base.Add(48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			switch r.Status {
			case parking.StatusCheckedIn:
				MustChange(t, s, r.ID, parking.StatusCheckedIn, parking.StatusCompleted, now)
			case parking.StatusHeld, parking.StatusConfirmed:
				if _, err := s.ChangeStatus(ctx, parking.StatusChange{ID: r.ID, From: []parking.Status{r.Status},
					To: parking.StatusCancelled, At: now}); err != nil && !errors.Is(err, parking.ErrInvalidStatus) {
					t.Fatal(err)
				}
			}
		}
	}
}

// checkNoSharedInstant fails when two reservations of the lot that hold their
// spot at now claim it at one instant (Policy.Claims: a car inside past its
// window claims its spot until it leaves).
func checkNoSharedInstant(t *testing.T, s parking.Store, f Fixture, round int, now time.Time) {
	t.Helper()
	rs, err := s.LotReservations(ctx, f.Lot.ID, now.Add(-48*time.Hour), now.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	bySpot := map[string][]parking.Reservation{}
	for _, r := range rs {
		if f.Lot.Policy.Holds(r, now) {
			bySpot[r.SpotID] = append(bySpot[r.SpotID], r)
		}
	}
	for spot, live := range bySpot {
		for i, a := range live {
			for _, b := range live[i+1:] {
				if parking.Overlaps(a.StartsAt, a.ClaimEnd(now), b.StartsAt, b.ClaimEnd(now)) {
					t.Errorf("round %d: spot %s is claimed twice: %s (%s %v..%v) and %s (%s %v..%v)", round, spot,
						a.ID, a.Status, a.StartsAt, a.ClaimEnd(now), b.ID, b.Status, b.StartsAt, b.ClaimEnd(now))
				}
			}
		}
	}
}
