package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"parkd/internal/parking"
)

// Run runs the conformance suite; each subtest gets a fresh store from open.
func Run(t *testing.T, open Opener) {
	tests := []namedTest{
		{"OperatorsAndLots", testOperatorsAndLots},
		{"PolicyRoundTrip", testPolicyRoundTrip},
		{"Levels", testLevels},
		{"Spots", testSpots},
		{"SpotsAllOrNone", testSpotsAllOrNone},
		{"SpotInService", testSpotInService},
		{"Users", testUsers},
		{"Vehicles", testVehicles},
		{"HoldAndRead", testHoldAndRead},
		{"OverlapMatrix", testOverlapMatrix},
		{"InactiveStatusesDoNotBlock", testInactiveStatusesDoNotBlock},
		{"ExpiredHoldDoesNotBlock", testExpiredHoldDoesNotBlock},
		{"HoldCandidates", testHoldCandidates},
		{"HoldOutOfService", testHoldOutOfService},
		{"ChangeStatus", testChangeStatus},
		{"ChangeStatusExpiredHold", testChangeStatusExpiredHold},
		{"ExpireHolds", testExpireHolds},
		{"Bookings", testBookings},
		{"UserReservations", testUserReservations},
		{"Events", testEvents},
		{"EventsSince", testEventsSince},
		{"HostileText", testHostileText},
		{"EventsNoLimit", testEventsNoLimit},
	}
	tests = append(tests, errorTests()...)
	tests = append(tests, accountTests()...)
	tests = append(tests, paymentTests()...)
	tests = append(tests, gateTests()...)
	tests = append(tests, insideTests()...)
	tests = append(tests, notifyTests()...)
	tests = append(tests, operationsTests()...)
	tests = append(tests, searchTests()...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

var ctx = context.Background()

func testOperatorsAndLots(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	op, err := s.Operator(ctx, f.Operator.ID)
	if err != nil || op != f.Operator {
		t.Errorf("Operator(%s) = %+v, %v; want %+v", f.Operator.ID, op, err, f.Operator)
	}
	got, err := s.Lot(ctx, f.Lot.ID)
	if err != nil {
		t.Fatalf("Lot(%s) = %v", f.Lot.ID, err)
	}
	if !reflect.DeepEqual(got, f.Lot) {
		t.Errorf("Lot(%s) = %+v; want %+v", f.Lot.ID, got, f.Lot)
	}
	second := f.Lot
	second.ID, second.Name = parking.NewID("lot"), "A First Lot"
	if err := s.CreateLot(ctx, &second); err != nil {
		t.Fatalf("CreateLot: %v", err)
	}
	lots, err := s.Lots(ctx)
	if err != nil || len(lots) != 2 || lots[0].ID != second.ID || lots[1].ID != f.Lot.ID {
		t.Errorf("Lots() = %+v, %v; want the two lots by name", lots, err)
	}
	for _, fn := range []func() error{
		func() error { _, err := s.Lot(ctx, "lot_missing"); return err },
		func() error { _, err := s.Operator(ctx, "opr_missing"); return err },
	} {
		if err := fn(); !errors.Is(err, parking.ErrNotFound) {
			t.Errorf("lookup of a missing id = %v; want ErrNotFound", err)
		}
	}
	orphan := f.Lot
	orphan.ID, orphan.OperatorID = parking.NewID("lot"), "opr_missing"
	if err := s.CreateLot(ctx, &orphan); err == nil {
		t.Errorf("CreateLot with a missing operator = nil; want an error")
	}
	dup := f.Lot
	if err := s.CreateLot(ctx, &dup); parking.ErrorCode(err) != parking.ECONFLICT {
		t.Errorf("CreateLot with an existing id = %v; want conflict", err)
	}
}

func testPolicyRoundTrip(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	l := f.Lot
	l.ID = parking.NewID("lot")
	l.Policy.HoldTTL = parking.Duration(7 * time.Minute)
	l.Policy.MaxStay = parking.Duration(72 * time.Hour)
	l.Policy.Horizon = parking.Duration(30 * 24 * time.Hour)
	l.Policy.CancelCutoff = parking.Duration(2 * time.Hour)
	l.Policy.Rates = map[parking.Size]parking.Rate{
		parking.Motorcycle: {Hourly: 1, DailyMax: 2}, parking.Compact: {Hourly: 3, DailyMax: 4},
		parking.Standard: {Hourly: 5, DailyMax: 0}, parking.Large: {Hourly: 7, DailyMax: 8},
	}
	if err := s.CreateLot(ctx, &l); err != nil {
		t.Fatalf("CreateLot: %v", err)
	}
	got, err := s.Lot(ctx, l.ID)
	if err != nil || !reflect.DeepEqual(got.Policy, l.Policy) {
		t.Errorf("Lot(%s).Policy = %+v, %v; want %+v", l.ID, got.Policy, err, l.Policy)
	}
}

func testLevels(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	basement := parking.Level{ID: parking.NewID("lvl"), LotID: f.Lot.ID, Name: "Basement", Ordinal: -1, Width: 80, Height: 40}
	if err := s.CreateLevel(ctx, &basement); err != nil {
		t.Fatalf("CreateLevel: %v", err)
	}
	levels, err := s.Levels(ctx, f.Lot.ID)
	want := []parking.Level{basement, f.Level}
	if err != nil || !reflect.DeepEqual(levels, want) {
		t.Errorf("Levels() = %+v, %v; want %+v", levels, err, want)
	}
	if levels, err := s.Levels(ctx, "lot_missing"); err != nil || len(levels) != 0 {
		t.Errorf("Levels(missing lot) = %v, %v; want empty", levels, err)
	}
}

func testSpots(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	got, err := s.Spots(ctx, f.Lot.ID)
	if err != nil || !reflect.DeepEqual(got, f.Spots) {
		t.Errorf("Spots() = %+v, %v; want %+v", got, err, f.Spots)
	}
	ev := parking.Spot{ID: parking.NewID("spt"), LotID: f.Lot.ID, LevelID: f.Level.ID, Label: "E1", Size: parking.Standard,
		Lat: 40.71, Lng: -74.01, X: 1.5, Y: 2.25, Amenities: []string{"ev", "covered"}, InService: false}
	created := []parking.Spot{ev}
	if err := s.CreateSpots(ctx, created); err != nil || created[0].Version != 1 {
		t.Fatalf("CreateSpots = %v, version %d; want version 1", err, created[0].Version)
	}
	ev.Version = 1
	if got, err := s.Spot(ctx, ev.ID); err != nil || !reflect.DeepEqual(got, ev) {
		t.Errorf("Spot(%s) = %+v, %v; want %+v", ev.ID, got, err, ev)
	}
	if _, err := s.Spot(ctx, "spt_missing"); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("Spot(missing) = %v; want ErrNotFound", err)
	}
	dup := ev
	dup.ID = parking.NewID("spt")
	if err := s.CreateSpots(ctx, []parking.Spot{dup}); parking.ErrorCode(err) != parking.ECONFLICT {
		t.Errorf("CreateSpots(duplicate label) = %v; want conflict", err)
	}
}

func testSpotsAllOrNone(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	batch := []parking.Spot{
		{ID: parking.NewID("spt"), LotID: f.Lot.ID, LevelID: f.Level.ID, Label: "N1", Size: parking.Compact, InService: true},
		{ID: parking.NewID("spt"), LotID: f.Lot.ID, LevelID: f.Level.ID, Label: "C1", Size: parking.Compact, InService: true}, // taken
	}
	if err := s.CreateSpots(ctx, batch); err == nil {
		t.Fatalf("CreateSpots with one duplicate label = nil; want an error")
	}
	if _, err := s.Spot(ctx, batch[0].ID); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("Spot(%s) after a failed batch = %v; want ErrNotFound (all or none)", batch[0].ID, err)
	}
}

func testSpotInService(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	sp := f.Spots[0]
	if err := s.SetSpotInService(ctx, sp.ID, false, T0); err != nil {
		t.Fatalf("SetSpotInService: %v", err)
	}
	if got, _ := s.Spot(ctx, sp.ID); got.InService {
		t.Errorf("Spot(%s).InService = true after taking it out of service", sp.ID)
	}
	events, err := s.Events(ctx, f.Lot.ID, 0, 10)
	if err != nil || len(events) != 1 || events[0].Type != "spot.out_of_service" || events[0].SpotID != sp.ID {
		t.Errorf("Events() = %+v, %v; want one spot.out_of_service", events, err)
	}
	if err := s.SetSpotInService(ctx, "spt_missing", false, T0); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("SetSpotInService(missing) = %v; want ErrNotFound", err)
	}
}

func testUsers(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := parking.User{ID: parking.NewID("usr"), Name: "Ada", Email: "ada@example.com", PasswordHash: "$argon2id$x",
		Role: parking.RoleDriver, CreatedAt: T0}
	if err := s.CreateUser(ctx, &u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	op := parking.User{ID: parking.NewID("usr"), Name: "Olga", Email: "olga@example.com", PasswordHash: "h",
		Role: parking.RoleOperator, OperatorID: f.Operator.ID, CreatedAt: T0}
	if err := s.CreateUser(ctx, &op); err != nil {
		t.Fatalf("CreateUser(operator): %v", err)
	}
	if got, err := s.User(ctx, u.ID); err != nil || got != u {
		t.Errorf("User(%s) = %+v, %v; want %+v", u.ID, got, err, u)
	}
	if got, err := s.UserByEmail(ctx, op.Email); err != nil || got != op {
		t.Errorf("UserByEmail(%s) = %+v, %v; want %+v", op.Email, got, err, op)
	}
	again := u
	again.ID = parking.NewID("usr")
	if err := s.CreateUser(ctx, &again); parking.ErrorCode(err) != parking.ECONFLICT {
		t.Errorf("CreateUser(same email) = %v; want conflict", err)
	}
	if _, err := s.UserByEmail(ctx, "nobody@example.com"); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("UserByEmail(unknown) = %v; want ErrNotFound", err)
	}
}

func testVehicles(t *testing.T, s parking.Store) {
	u := parking.User{ID: parking.NewID("usr"), Name: "Ada", Email: "ada@example.com", PasswordHash: "h", Role: parking.RoleDriver, CreatedAt: T0}
	if err := s.CreateUser(ctx, &u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	var want []parking.Vehicle
	for i, size := range []parking.Size{parking.Large, parking.Motorcycle} {
		v := parking.Vehicle{ID: parking.NewID("veh"), UserID: u.ID, Plate: "ABC-12" + string(rune('0'+i)), Size: size, CreatedAt: T0.Add(time.Duration(i) * time.Second)}
		if err := s.CreateVehicle(ctx, &v); err != nil {
			t.Fatalf("CreateVehicle: %v", err)
		}
		want = append(want, v)
	}
	if got, err := s.Vehicles(ctx, u.ID); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Vehicles() = %+v, %v; want %+v", got, err, want)
	}
	if got, err := s.Vehicle(ctx, want[1].ID); err != nil || got != want[1] {
		t.Errorf("Vehicle() = %+v, %v; want %+v", got, err, want[1])
	}
	if _, err := s.Vehicle(ctx, "veh_missing"); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("Vehicle(missing) = %v; want ErrNotFound", err)
	}
}

func testHoldAndRead(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	start := T0.Add(time.Hour + 123456*time.Microsecond) // microseconds survive the round trip
	r := f.NewHold(T0, start, start.Add(2*time.Hour))
	if err := s.Hold(ctx, r, []string{f.Spots[5].ID}, nil); err != nil {
		t.Fatalf("Hold: %v", err)
	}
	if r.SpotID != f.Spots[5].ID {
		t.Errorf("Hold set SpotID = %q; want %q", r.SpotID, f.Spots[5].ID)
	}
	got, err := s.Reservation(ctx, r.ID)
	if err != nil || !reflect.DeepEqual(got, *r) {
		t.Errorf("Reservation(%s) = %+v, %v; want %+v", r.ID, got, err, *r)
	}
	if _, err := s.Reservation(ctx, "res_missing"); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("Reservation(missing) = %v; want ErrNotFound", err)
	}
}

// testOverlapMatrix books [10:00, 12:00) on a spot, then tries windows against it.
func testOverlapMatrix(t *testing.T, s parking.Store) {
	at := func(h, m int) time.Time { return time.Date(2030, 1, 7, h, m, 0, 0, time.UTC) }
	cases := []struct {
		name       string
		start, end time.Time
		free       bool
	}{
		{"identical", at(10, 0), at(12, 0), false},
		{"contained", at(10, 30), at(11, 30), false},
		{"containing", at(9, 0), at(13, 0), false},
		{"overlaps start", at(9, 0), at(10, 1), false},
		{"overlaps end", at(11, 59), at(14, 0), false},
		{"one microsecond", at(11, 59).Add(59*time.Second + 999999*time.Microsecond), at(12, 30), false},
		{"touching before", at(8, 0), at(10, 0), true},
		{"touching after", at(12, 0), at(13, 0), true},
		{"disjoint", at(14, 0), at(15, 0), true},
	}
	for _, status := range []parking.Status{parking.StatusHeld, parking.StatusConfirmed, parking.StatusCheckedIn} {
		t.Run(string(status), func(t *testing.T) {
			f := MustFixture(t, s)
			spot := f.Spots[5].ID
			existing := f.MustHold(t, s, spot, T0, at(10, 0), at(12, 0))
			if status != parking.StatusHeld {
				MustChange(t, s, existing.ID, parking.StatusHeld, parking.StatusConfirmed, T0)
			}
			if status == parking.StatusCheckedIn {
				MustChange(t, s, existing.ID, parking.StatusConfirmed, parking.StatusCheckedIn, T0)
			}
			for _, c := range cases {
				r := f.NewHold(T0, c.start, c.end)
				err := s.Hold(ctx, r, []string{spot}, nil)
				if c.free && err != nil {
					t.Errorf("%s: Hold([%v, %v)) against %s = %v; want nil", c.name, c.start, c.end, status, err)
				}
				if !c.free && !errors.Is(err, parking.ErrSpotUnavailable) {
					t.Errorf("%s: Hold([%v, %v)) against %s = %v; want ErrSpotUnavailable", c.name, c.start, c.end, status, err)
				}
				if err == nil { // release it so cases stay independent
					MustChange(t, s, r.ID, parking.StatusHeld, parking.StatusCancelled, T0)
				}
			}
			other := f.NewHold(T0, at(10, 0), at(12, 0))
			if err := s.Hold(ctx, other, []string{f.Spots[6].ID}, nil); err != nil {
				t.Errorf("Hold on another spot, same window = %v; want nil", err)
			}
		})
	}
}

func testInactiveStatusesDoNotBlock(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	start, end := T0.Add(2*time.Hour), T0.Add(4*time.Hour)
	paths := map[parking.Status][]parking.Status{
		parking.StatusCancelled: {parking.StatusCancelled},
		parking.StatusExpired:   {parking.StatusExpired},
		parking.StatusNoShow:    {parking.StatusConfirmed, parking.StatusNoShow},
		parking.StatusCompleted: {parking.StatusConfirmed, parking.StatusCheckedIn, parking.StatusCompleted},
	}
	for final, path := range paths {
		spot := f.Spots[5].ID
		r := f.MustHold(t, s, spot, T0, start, end)
		from := parking.StatusHeld
		for _, to := range path {
			MustChange(t, s, r.ID, from, to, T0)
			from = to
		}
		next := f.NewHold(T0, start, end)
		if err := s.Hold(ctx, next, []string{spot}, nil); err != nil {
			t.Errorf("Hold over a %s reservation = %v; want nil", final, err)
			continue
		}
		MustChange(t, s, next.ID, parking.StatusHeld, parking.StatusCancelled, T0)
	}
}

func testExpiredHoldDoesNotBlock(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	spot := f.Spots[5].ID
	start, end := T0.Add(time.Hour), T0.Add(3*time.Hour)
	stale := f.MustHold(t, s, spot, T0, start, end)

	// Still live one microsecond before its expiry.
	early := f.NewHold(stale.HoldExpiresAt.Add(-time.Microsecond), start, end)
	if err := s.Hold(ctx, early, []string{spot}, nil); !errors.Is(err, parking.ErrSpotUnavailable) {
		t.Errorf("Hold just before the hold expires = %v; want ErrSpotUnavailable", err)
	}
	// No sweeper has run, yet at its expiry it no longer blocks.
	now := stale.HoldExpiresAt
	fresh := f.NewHold(now, start, end)
	if err := s.Hold(ctx, fresh, []string{spot}, nil); err != nil {
		t.Fatalf("Hold once the old hold expired = %v; want nil", err)
	}
	got, err := s.Reservation(ctx, stale.ID)
	if err != nil || got.Status != parking.StatusExpired {
		t.Errorf("stale hold status = %q, %v; want expired", got.Status, err)
	}
	events, _ := s.Events(ctx, f.Lot.ID, 0, 100)
	var expired int
	for _, e := range events {
		if e.Type == "reservation.expired" && e.ReservationID == stale.ID {
			expired++
		}
	}
	if expired != 1 {
		t.Errorf("reservation.expired events for the stale hold = %d; want 1", expired)
	}
}

func testHoldCandidates(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	start, end := T0.Add(time.Hour), T0.Add(2*time.Hour)
	std := f.SpotsOf(parking.Standard)
	ids := []string{std[0].ID, std[1].ID, std[2].ID}
	f.MustHold(t, s, std[0].ID, T0, start, end)
	r := f.NewHold(T0, start, end)
	if err := s.Hold(ctx, r, ids, nil); err != nil || r.SpotID != std[1].ID {
		t.Errorf("Hold(candidates) = %v on %s; want nil on %s (the first free one)", err, r.SpotID, std[1].ID)
	}
	f.MustHold(t, s, std[2].ID, T0, start, end)
	if err := s.Hold(ctx, f.NewHold(T0, start, end), ids, nil); !errors.Is(err, parking.ErrSpotUnavailable) {
		t.Errorf("Hold with every candidate taken = %v; want ErrSpotUnavailable", err)
	}
	if err := s.Hold(ctx, f.NewHold(T0, start, end), nil, nil); !errors.Is(err, parking.ErrSpotUnavailable) {
		t.Errorf("Hold with no candidates = %v; want ErrSpotUnavailable", err)
	}
}

func testChangeStatus(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	r := f.MustHold(t, s, f.Spots[5].ID, T0, T0.Add(time.Hour), T0.Add(2*time.Hour))
	t1 := T0.Add(time.Minute)
	got := MustChange(t, s, r.ID, parking.StatusHeld, parking.StatusConfirmed, t1)
	if got.Status != parking.StatusConfirmed || !got.UpdatedAt.Equal(t1) {
		t.Errorf("after confirm: status %q updated %v; want confirmed at %v", got.Status, got.UpdatedAt, t1)
	}
	// A second confirm (say a retried webhook) does not apply twice.
	again, err := s.ChangeStatus(ctx, parking.StatusChange{ID: r.ID, From: []parking.Status{parking.StatusHeld}, To: parking.StatusConfirmed, At: t1})
	if !errors.Is(err, parking.ErrInvalidStatus) || again.Status != parking.StatusConfirmed {
		t.Errorf("ChangeStatus(held->confirmed) on a confirmed reservation = %q, %v; want confirmed, ErrInvalidStatus", again.Status, err)
	}
	t2 := T0.Add(time.Hour)
	in := MustChange(t, s, r.ID, parking.StatusConfirmed, parking.StatusCheckedIn, t2)
	if in.CheckedInAt == nil || !in.CheckedInAt.Equal(t2) {
		t.Errorf("CheckedInAt = %v; want %v", in.CheckedInAt, t2)
	}
	t3 := T0.Add(90 * time.Minute)
	out := MustChange(t, s, r.ID, parking.StatusCheckedIn, parking.StatusCompleted, t3)
	if out.CheckedOutAt == nil || !out.CheckedOutAt.Equal(t3) {
		t.Errorf("CheckedOutAt = %v; want %v", out.CheckedOutAt, t3)
	}
	if _, err := s.ChangeStatus(ctx, parking.StatusChange{ID: "res_missing", From: []parking.Status{parking.StatusHeld}, To: parking.StatusCancelled, At: t3}); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("ChangeStatus(missing) = %v; want ErrNotFound", err)
	}
	events, _ := s.Events(ctx, f.Lot.ID, 0, 100)
	var types []string
	for _, e := range events {
		types = append(types, e.Type)
	}
	want := []string{"reservation.held", "reservation.confirmed", "reservation.checked_in", "reservation.completed"}
	if !reflect.DeepEqual(types, want) {
		t.Errorf("event types = %v; want %v", types, want)
	}
}

func testChangeStatusExpiredHold(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	r := f.MustHold(t, s, f.Spots[5].ID, T0, T0.Add(time.Hour), T0.Add(2*time.Hour))
	got, err := s.ChangeStatus(ctx, parking.StatusChange{ID: r.ID, From: []parking.Status{parking.StatusHeld}, To: parking.StatusConfirmed, At: r.HoldExpiresAt})
	if !errors.Is(err, parking.ErrInvalidStatus) || got.Status != parking.StatusHeld {
		t.Errorf("confirming at the hold's expiry = %q, %v; want held, ErrInvalidStatus", got.Status, err)
	}
}

func testExpireHolds(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	start, end := T0.Add(time.Hour), T0.Add(2*time.Hour)
	a := f.MustHold(t, s, f.Spots[5].ID, T0, start, end)
	b := f.MustHold(t, s, f.Spots[6].ID, T0.Add(2*time.Minute), start, end)
	c := f.MustHold(t, s, f.Spots[7].ID, T0, start, end)
	MustChange(t, s, c.ID, parking.StatusHeld, parking.StatusConfirmed, T0)

	if n, err := s.ExpireHolds(ctx, a.HoldExpiresAt.Add(-time.Microsecond)); err != nil || n != 0 {
		t.Errorf("ExpireHolds before any expiry = %d, %v; want 0", n, err)
	}
	if n, err := s.ExpireHolds(ctx, a.HoldExpiresAt); err != nil || n != 1 {
		t.Errorf("ExpireHolds at a's expiry = %d, %v; want 1", n, err)
	}
	if n, err := s.ExpireHolds(ctx, a.HoldExpiresAt); err != nil || n != 0 {
		t.Errorf("ExpireHolds again = %d, %v; want 0 (idempotent)", n, err)
	}
	if n, err := s.ExpireHolds(ctx, T0.Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("ExpireHolds an hour later = %d, %v; want 1 (b)", n, err)
	}
	for id, want := range map[string]parking.Status{a.ID: parking.StatusExpired, b.ID: parking.StatusExpired, c.ID: parking.StatusConfirmed} {
		if got, _ := s.Reservation(ctx, id); got.Status != want {
			t.Errorf("Reservation(%s).Status = %q; want %q", id, got.Status, want)
		}
	}
	events, _ := s.Events(ctx, f.Lot.ID, 0, 100)
	var expired []string
	for _, e := range events {
		if e.Type == "reservation.expired" {
			expired = append(expired, e.ReservationID)
		}
	}
	if !reflect.DeepEqual(expired, []string{a.ID, b.ID}) {
		t.Errorf("expired events = %v; want [%s %s]", expired, a.ID, b.ID)
	}
}

func testBookings(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	h := func(n int) time.Time { return T0.Add(time.Duration(n) * time.Hour) }
	sp := f.Spots
	f.MustHold(t, s, sp[0].ID, T0, h(1), h(2))                      // held
	conf := f.MustHold(t, s, sp[1].ID, T0, h(1), h(2))              // confirmed
	in := f.MustHold(t, s, sp[2].ID, T0, h(1), h(2))                // checked in
	f.MustHold(t, s, sp[3].ID, T0.Add(-10*time.Minute), h(1), h(2)) // hold already expired
	f.MustHold(t, s, sp[4].ID, T0, h(3), h(4))                      // outside the window
	cancelled := f.MustHold(t, s, sp[5].ID, T0, h(1), h(2))         // cancelled
	late := f.MustHold(t, s, sp[6].ID, T0, h(1), h(2))              // held, then confirmed
	MustChange(t, s, conf.ID, parking.StatusHeld, parking.StatusConfirmed, T0)
	MustChange(t, s, in.ID, parking.StatusHeld, parking.StatusConfirmed, T0)
	MustChange(t, s, in.ID, parking.StatusConfirmed, parking.StatusCheckedIn, T0)
	MustChange(t, s, cancelled.ID, parking.StatusHeld, parking.StatusCancelled, T0)
	MustChange(t, s, late.ID, parking.StatusHeld, parking.StatusConfirmed, T0)
	f.MustHold(t, s, sp[6].ID, T0, h(2), h(3)) // a second, held claim on the same spot
	got, err := s.Bookings(ctx, f.Lot.ID, h(1), h(3), T0)
	if err != nil {
		t.Fatalf("Bookings: %v", err)
	}
	gotMap := map[string]parking.Status{}
	for _, b := range got {
		gotMap[b.SpotID] = b.Status
	}
	want := map[string]parking.Status{
		sp[0].ID: parking.StatusHeld, sp[1].ID: parking.StatusConfirmed, sp[2].ID: parking.StatusCheckedIn,
		sp[6].ID: parking.StatusConfirmed,
	}
	if !reflect.DeepEqual(gotMap, want) || len(got) != len(want) {
		t.Errorf("Bookings() = %v; want %v", gotMap, want)
	}
	if got, _ := s.Bookings(ctx, f.Lot.ID, h(2), h(3), T0); len(got) != 1 || got[0].SpotID != sp[6].ID || got[0].Status != parking.StatusHeld {
		t.Errorf("Bookings([2h, 3h)) = %+v; want only %s held (back-to-back windows do not overlap)", got, sp[6].ID)
	}
}

func testUserReservations(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := parking.User{ID: parking.NewID("usr"), Name: "Ada", Email: "ada@example.com", PasswordHash: "h", Role: parking.RoleDriver, CreatedAt: T0}
	if err := s.CreateUser(ctx, &u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	var ids []string
	for i := range 3 {
		r := f.NewHold(T0, T0.Add(time.Duration(i+1)*time.Hour), T0.Add(time.Duration(i+2)*time.Hour))
		r.UserID = u.ID
		if err := s.Hold(ctx, r, []string{f.Spots[5].ID}, nil); err != nil {
			t.Fatalf("Hold: %v", err)
		}
		ids = append([]string{r.ID}, ids...)
	}
	f.MustHold(t, s, f.Spots[6].ID, T0, T0.Add(time.Hour), T0.Add(2*time.Hour)) // someone else's
	got, err := s.UserReservations(ctx, u.ID)
	var gotIDs []string
	for _, r := range got {
		gotIDs = append(gotIDs, r.ID)
	}
	if err != nil || !reflect.DeepEqual(gotIDs, ids) {
		t.Errorf("UserReservations() = %v, %v; want %v (latest first)", gotIDs, err, ids)
	}
}

func testEvents(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	other := f.Lot
	other.ID = parking.NewID("lot")
	if err := s.CreateLot(ctx, &other); err != nil {
		t.Fatalf("CreateLot: %v", err)
	}
	for i := range 5 {
		f.MustHold(t, s, f.Spots[i].ID, T0, T0.Add(time.Hour), T0.Add(2*time.Hour))
	}
	all, err := s.Events(ctx, f.Lot.ID, 0, 100)
	if err != nil || len(all) != 5 {
		t.Fatalf("Events() = %d events, %v; want 5", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Errorf("Events() not in seq order: %d after %d", all[i].Seq, all[i-1].Seq)
		}
	}
	page, _ := s.Events(ctx, f.Lot.ID, all[1].Seq, 2)
	if len(page) != 2 || page[0].Seq != all[2].Seq || page[1].Seq != all[3].Seq {
		t.Errorf("Events(after %d, limit 2) = %+v; want events 3 and 4", all[1].Seq, page)
	}
	if none, _ := s.Events(ctx, other.ID, 0, 100); len(none) != 0 {
		t.Errorf("Events(other lot) = %+v; want none", none)
	}
}

// testEventsSince: the whole outbox in seq order, after a seq or at seqs
// asked for again.
func testEventsSince(t *testing.T, s parking.Store) {
	if last, err := s.LastEventSeq(ctx); err != nil || last != 0 {
		t.Fatalf("LastEventSeq() on an empty store = %d, %v; want 0", last, err)
	}
	f := MustFixture(t, s)
	other := f.Lot
	other.ID = parking.NewID("lot")
	if err := s.CreateLot(ctx, &other); err != nil {
		t.Fatalf("CreateLot: %v", err)
	}
	for i := range 3 {
		f.MustHold(t, s, f.Spots[i].ID, T0, T0.Add(time.Hour), T0.Add(2*time.Hour))
	}
	if err := s.SetSpotInService(ctx, f.Spots[3].ID, false, T0); err != nil {
		t.Fatal(err)
	}
	all, err := s.EventsSince(ctx, 0, nil, 100)
	if err != nil || len(all) != 4 {
		t.Fatalf("EventsSince(0) = %d events, %v; want 4", len(all), err)
	}
	if all[3].Type != "spot.out_of_service" || all[3].SpotID != f.Spots[3].ID {
		t.Errorf("EventsSince(0)[3] = %+v; want spot.out_of_service of spot 3", all[3])
	}
	if last, err := s.LastEventSeq(ctx); err != nil || last != all[3].Seq {
		t.Errorf("LastEventSeq() = %d, %v; want %d", last, err, all[3].Seq)
	}
	got, err := s.EventsSince(ctx, all[2].Seq, []int64{all[0].Seq, all[1].Seq + 1000}, 100)
	if err != nil || len(got) != 2 || got[0].Seq != all[0].Seq || got[1].Seq != all[3].Seq {
		t.Errorf("EventsSince(after %d, missing %d) = %+v, %v; want events 1 and 4", all[2].Seq, all[0].Seq, got, err)
	}
	if page, _ := s.EventsSince(ctx, 0, nil, 2); len(page) != 2 || page[1].Seq != all[1].Seq {
		t.Errorf("EventsSince(0, limit 2) = %+v; want the first 2", page)
	}
}

// testHoldOutOfService: the store itself refuses holds on spots out of service,
// so none can slip in beside an operator's change.
func testHoldOutOfService(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	std := f.SpotsOf(parking.Standard)
	if err := s.SetSpotInService(ctx, std[0].ID, false, T0); err != nil {
		t.Fatal(err)
	}
	start, end := T0.Add(time.Hour), T0.Add(2*time.Hour)
	if err := s.Hold(ctx, f.NewHold(T0, start, end), []string{std[0].ID}, nil); !errors.Is(err, parking.ErrSpotUnavailable) {
		t.Errorf("Hold on a spot out of service = %v; want ErrSpotUnavailable", err)
	}
	r := f.NewHold(T0, start, end)
	if err := s.Hold(ctx, r, []string{std[0].ID, std[1].ID}, nil); err != nil || r.SpotID != std[1].ID {
		t.Errorf("Hold(candidates) past a spot out of service = %v on %s; want %s", err, r.SpotID, std[1].ID)
	}
}

// testEventsNoLimit: a limit of zero or less returns every event after seq,
// from Events and from EventsSince alike.
func testEventsNoLimit(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	for i := range 3 {
		if err := s.SetSpotInService(ctx, f.Spots[i].ID, false, T0); err != nil {
			t.Fatalf("SetSpotInService: %v", err)
		}
	}
	for _, limit := range []int{0, -1} {
		if es, err := s.Events(ctx, f.Lot.ID, 0, limit); err != nil || len(es) != 3 {
			t.Errorf("Events(limit %d) = %d events, %v; want 3", limit, len(es), err)
		}
		if es, err := s.EventsSince(ctx, 0, nil, limit); err != nil || len(es) != 3 {
			t.Errorf("EventsSince(limit %d) = %d events, %v; want 3", limit, len(es), err)
		}
		all, _ := s.Events(ctx, f.Lot.ID, 0, 100)
		if len(all) != 3 {
			continue
		}
		if es, err := s.EventsSince(ctx, all[1].Seq, []int64{all[0].Seq}, limit); err != nil || len(es) != 2 {
			t.Errorf("EventsSince(after the second, missing the first, limit %d) = %d events, %v; want 2", limit, len(es), err)
		}
	}
}
