package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"parkd/internal/parking"
)

// gateTests cover the gate log, no-shows, overstays and pass keys.
func gateTests() []namedTest {
	return []namedTest{
		{"Gate", testGate},
		{"GateEvents", testGateEvents},
		{"MarkNoShows", testMarkNoShows},
		{"NoShowReleasesSpot", testNoShowReleasesSpot},
		{"NoShowWindowFollowsPolicy", testNoShowWindowFollowsPolicy},
		{"UpdatePaymentOverNoShowRival", testConfirmOverNoShowRival},
		{"FlagOverstays", testFlagOverstays},
		{"EnsurePassKey", testEnsurePassKey},
		{"PassCodes", testPassCodes},
		{"GatePairing", testGatePairing},
	}
}

// testGatePairing: a pairing reads back as stored, is used once, and not
// after it expires; an unknown token is ErrNotFound.
func testGatePairing(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	g := parking.Gate{ID: parking.NewID("gat"), LotID: f.Lot.ID, Name: "North", Direction: parking.Entry, KeyHash: "k-pair", CreatedAt: T0}
	if err := s.CreateGate(ctx, &g); err != nil {
		t.Fatal(err)
	}
	p := parking.GatePairing{TokenHash: "tok1", GateID: g.ID, CreatedBy: "usr_op", CreatedAt: T0, ExpiresAt: T0.Add(15 * time.Minute)}
	q := p
	q.TokenHash = "tok2"
	for _, p := range []*parking.GatePairing{&p, &q} {
		if err := s.CreateGatePairing(ctx, p); err != nil {
			t.Fatalf("CreateGatePairing(%s) = %v", p.TokenHash, err)
		}
	}
	if got, err := s.GatePairing(ctx, "tok1"); err != nil || got != p {
		t.Errorf("GatePairing(tok1) = %+v, %v; want %+v", got, err, p)
	}
	if _, err := s.GatePairing(ctx, "nope"); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("GatePairing(unknown) = %v; want ErrNotFound", err)
	}
	at := T0.Add(time.Minute)
	if err := s.UseGatePairing(ctx, "tok1", at); err != nil {
		t.Fatalf("UseGatePairing(tok1) = %v", err)
	}
	if got, err := s.GatePairing(ctx, "tok1"); err != nil || !got.UsedAt.Equal(at) {
		t.Errorf("GatePairing(tok1).UsedAt = %v, %v; want %v", got.UsedAt, err, at)
	}
	if err := s.UseGatePairing(ctx, "tok1", at); !errors.Is(err, parking.ErrConflict) {
		t.Errorf("UseGatePairing(tok1) again = %v; want ErrConflict", err)
	}
	if err := s.UseGatePairing(ctx, "tok2", q.ExpiresAt); !errors.Is(err, parking.ErrConflict) {
		t.Errorf("UseGatePairing(tok2) at expiry = %v; want ErrConflict", err)
	}
	if err := s.UseGatePairing(ctx, "nope", at); !errors.Is(err, parking.ErrConflict) {
		t.Errorf("UseGatePairing(unknown) = %v; want ErrConflict", err)
	}

	// A link redeemed by several kiosks at once pairs exactly one of them.
	r := p
	r.TokenHash = "tok-race"
	if err := s.CreateGatePairing(ctx, &r); err != nil {
		t.Fatal(err)
	}
	used := 0
	for i, err := range race(20, func(int) error { return s.UseGatePairing(ctx, "tok-race", at) }) {
		switch {
		case err == nil:
			used++
		case !errors.Is(err, parking.ErrConflict):
			t.Errorf("redeem %d: %v; want nil or ErrConflict", i, err)
		}
	}
	if used != 1 {
		t.Errorf("20 simultaneous redeems of one link: %d succeeded; want 1", used)
	}
}

// MustConfirmed holds spotID for [start, end) at T0 and confirms it at T0.
func (f Fixture) MustConfirmed(t testing.TB, s parking.Store, spotID string, start, end time.Time) parking.Reservation {
	t.Helper()
	r := f.MustHold(t, s, spotID, T0, start, end)
	return MustChange(t, s, r.ID, parking.StatusHeld, parking.StatusConfirmed, T0)
}

// MustCheckedIn holds, confirms and checks in a reservation of spotID for
// [start, end), checked in at its start.
func (f Fixture) MustCheckedIn(t testing.TB, s parking.Store, spotID string, start, end time.Time) parking.Reservation {
	t.Helper()
	r := f.MustConfirmed(t, s, spotID, start, end)
	return MustChange(t, s, r.ID, parking.StatusConfirmed, parking.StatusCheckedIn, start)
}

// eventCounts counts a lot's events of one type by reservation.
func eventCounts(t testing.TB, s parking.Store, lotID, typ string) map[string]int {
	t.Helper()
	events, err := s.Events(ctx, lotID, 0, 1_000_000)
	if err != nil {
		t.Fatalf("Events(%s) = %v", lotID, err)
	}
	n := map[string]int{}
	for _, e := range events {
		if e.Type == typ {
			n[e.ReservationID]++
		}
	}
	return n
}

func ids(rs []parking.Reservation) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func testGate(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	g := parking.Gate{ID: parking.NewID("gat"), LotID: f.Lot.ID, Name: "South exit", Direction: parking.Exit, KeyHash: "k1", CreatedAt: T0}
	if err := s.CreateGate(ctx, &g); err != nil {
		t.Fatalf("CreateGate: %v", err)
	}
	if got, err := s.Gate(ctx, g.ID); err != nil || got != g {
		t.Errorf("Gate(%s) = %+v, %v; want %+v", g.ID, got, err, g)
	}
	if _, err := s.Gate(ctx, "gat_missing"); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("Gate(missing) = %v; want ErrNotFound", err)
	}
}

func testGateEvents(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	other := mustOneSpotLot(t, s, f, f.Lot.Policy).Lot
	in := parking.Gate{ID: parking.NewID("gat"), LotID: f.Lot.ID, Name: "North entry", Direction: parking.Entry, KeyHash: "k1", CreatedAt: T0}
	out := parking.Gate{ID: parking.NewID("gat"), LotID: f.Lot.ID, Name: "North exit", Direction: parking.Exit, KeyHash: "k2", CreatedAt: T0}
	for _, g := range []*parking.Gate{&in, &out} {
		if err := s.CreateGate(ctx, g); err != nil {
			t.Fatalf("CreateGate: %v", err)
		}
	}
	r := f.MustConfirmed(t, s, f.Spots[5].ID, T0.Add(time.Hour), T0.Add(3*time.Hour))
	at := func(min int) time.Time {
		return T0.Add(time.Hour + time.Duration(min)*time.Minute + 123*time.Microsecond)
	}
	events := []parking.GateEvent{
		{ID: "gev_3", LotID: f.Lot.ID, GateID: in.ID, Direction: parking.Entry, ReservationID: r.ID, Plate: r.Plate,
			Decision: parking.Open, Reason: "pass", At: at(0)},
		{ID: "gev_1", LotID: f.Lot.ID, GateID: in.ID, Direction: parking.Entry, Plate: "NOPE-1",
			Decision: parking.Deny, Reason: "no_reservation", At: at(0)}, // same instant: id breaks the tie
		{ID: "gev_2", LotID: f.Lot.ID, GateID: out.ID, Direction: parking.Exit, ReservationID: r.ID, Plate: r.Plate,
			Decision: parking.Deny, Reason: "amount_due", AmountDue: 450, At: at(150)},
		{ID: "gev_4", LotID: f.Lot.ID, GateID: out.ID, Direction: parking.Exit, ReservationID: r.ID, Plate: r.Plate,
			Decision: parking.Open, Reason: "opened by hand: card reader down", ActorID: "usr_olga", AmountDue: 450, At: at(155)},
		{ID: "gev_5", LotID: other.ID, GateID: "gat_elsewhere", Direction: parking.Entry, Plate: r.Plate,
			Decision: parking.Open, At: at(10)},
	}
	// Recorded out of order: the log is read by time, not by insertion.
	for _, i := range []int{2, 0, 4, 3, 1} {
		e := events[i]
		if err := s.RecordGateEvent(ctx, &e); err != nil {
			t.Fatalf("RecordGateEvent(%s) = %v", e.ID, err)
		}
	}
	dup := events[0]
	if err := s.RecordGateEvent(ctx, &dup); parking.ErrorCode(err) != parking.ECONFLICT {
		t.Errorf("RecordGateEvent(existing id) = %v; want conflict", err)
	}
	orphan := parking.GateEvent{ID: "gev_orphan", LotID: f.Lot.ID, GateID: in.ID, Direction: parking.Entry,
		ReservationID: "res_missing", Decision: parking.Deny, At: at(1)}
	if err := s.RecordGateEvent(ctx, &orphan); parking.ErrorCode(err) != parking.EINVALID {
		t.Errorf("RecordGateEvent(missing reservation) = %v; want invalid", err)
	}

	byID := map[string]parking.GateEvent{}
	for _, e := range events {
		byID[e.ID] = e
	}
	cases := []struct {
		name string
		lot  string
		f    parking.GateEventFilter
		want []string
	}{
		{"all", f.Lot.ID, parking.GateEventFilter{}, []string{"gev_1", "gev_3", "gev_2", "gev_4"}},
		{"from is inclusive", f.Lot.ID, parking.GateEventFilter{From: at(150)}, []string{"gev_2", "gev_4"}},
		{"to is exclusive", f.Lot.ID, parking.GateEventFilter{To: at(150)}, []string{"gev_1", "gev_3"}},
		{"window", f.Lot.ID, parking.GateEventFilter{From: at(0).Add(time.Microsecond), To: at(155).Add(time.Microsecond)}, []string{"gev_2", "gev_4"}},
		{"plate", f.Lot.ID, parking.GateEventFilter{Plate: "NOPE-1"}, []string{"gev_1"}},
		{"reservation", f.Lot.ID, parking.GateEventFilter{ReservationID: r.ID}, []string{"gev_3", "gev_2", "gev_4"}},
		{"reservation and window", f.Lot.ID, parking.GateEventFilter{ReservationID: r.ID, To: at(155)}, []string{"gev_3", "gev_2"}},
		{"limit", f.Lot.ID, parking.GateEventFilter{Limit: 3}, []string{"gev_1", "gev_3", "gev_2"}},
		{"limit after filter", f.Lot.ID, parking.GateEventFilter{Plate: r.Plate, Limit: 2}, []string{"gev_3", "gev_2"}},
		{"nothing matches", f.Lot.ID, parking.GateEventFilter{Plate: "ZZZ"}, []string{}},
		{"other lot", other.ID, parking.GateEventFilter{}, []string{"gev_5"}},
		{"missing lot", "lot_missing", parking.GateEventFilter{}, []string{}},
	}
	for _, c := range cases {
		got, err := s.GateEvents(ctx, c.lot, c.f)
		if err != nil {
			t.Errorf("%s: GateEvents(%+v) = %v", c.name, c.f, err)
			continue
		}
		if got == nil {
			t.Errorf("%s: GateEvents(%+v) = nil; want an empty slice", c.name, c.f)
		}
		want := []parking.GateEvent{}
		for _, id := range c.want {
			want = append(want, byID[id])
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: GateEvents(%+v) =\n%+v; want\n%+v", c.name, c.f, got, want)
		}
	}
}

// mustOneSpotLot creates another lot of f's operator, with policy p and one
// standard spot, and returns it as a fixture.
func mustOneSpotLot(t testing.TB, s parking.Store, f Fixture, p parking.Policy) Fixture {
	t.Helper()
	lot := f.Lot
	lot.ID, lot.Name, lot.Policy = parking.NewID("lot"), "One Spot", p
	if err := s.CreateLot(ctx, &lot); err != nil {
		t.Fatalf("CreateLot: %v", err)
	}
	level := parking.Level{ID: parking.NewID("lvl"), LotID: lot.ID, Name: "Only", Width: 10, Height: 10}
	if err := s.CreateLevel(ctx, &level); err != nil {
		t.Fatalf("CreateLevel: %v", err)
	}
	sp := parking.Spot{ID: parking.NewID("spt"), LotID: lot.ID, LevelID: level.ID, Label: "X1", Size: parking.Standard,
		Amenities: []string{}, InService: true}
	if err := s.CreateSpots(ctx, []parking.Spot{sp}); err != nil {
		t.Fatalf("CreateSpots: %v", err)
	}
	return Fixture{Operator: f.Operator, Lot: lot, Level: level, Spots: []parking.Spot{sp}}
}

func testMarkNoShows(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	other := mustOneSpotLot(t, s, f, f.Lot.Policy)
	h := func(n int) time.Time { return T0.Add(time.Duration(n) * time.Hour) }
	sp := f.Spots
	due := f.MustConfirmed(t, s, sp[0].ID, h(1), h(3))
	dueEarlier := f.MustConfirmed(t, s, sp[1].ID, h(1).Add(-time.Minute), h(3))
	later := f.MustConfirmed(t, s, sp[2].ID, h(1).Add(time.Microsecond), h(3)) // starts just after startedBy
	held := f.MustHold(t, s, sp[3].ID, T0, h(1), h(3))
	inside := f.MustCheckedIn(t, s, sp[4].ID, h(1), h(3))
	cancelled := f.MustHold(t, s, sp[5].ID, T0, h(1), h(3))
	MustChange(t, s, cancelled.ID, parking.StatusHeld, parking.StatusCancelled, T0)
	elsewhere := other.MustConfirmed(t, s, other.Spots[0].ID, h(1), h(3))

	at := h(1).Add(15 * time.Minute)
	got, err := s.MarkNoShows(ctx, f.Lot.ID, h(1), at)
	if err != nil {
		t.Fatalf("MarkNoShows = %v", err)
	}
	if want := []string{dueEarlier.ID, due.ID}; !reflect.DeepEqual(ids(got), want) {
		t.Fatalf("MarkNoShows(startedBy %v) = %v; want %v (by start)", h(1), ids(got), want)
	}
	for _, r := range got {
		if r.Status != parking.StatusNoShow || !r.UpdatedAt.Equal(at) {
			t.Errorf("returned %s: status %q updated %v; want no_show at %v", r.ID, r.Status, r.UpdatedAt, at)
		}
		if stored, _ := s.Reservation(ctx, r.ID); !reflect.DeepEqual(stored, r) {
			t.Errorf("Reservation(%s) = %+v; want what MarkNoShows returned, %+v", r.ID, stored, r)
		}
	}
	for id, want := range map[string]parking.Status{
		later.ID: parking.StatusConfirmed, held.ID: parking.StatusHeld, inside.ID: parking.StatusCheckedIn,
		cancelled.ID: parking.StatusCancelled, elsewhere.ID: parking.StatusConfirmed,
	} {
		if r, _ := s.Reservation(ctx, id); r.Status != want {
			t.Errorf("Reservation(%s).Status = %q; want %q (not due)", id, r.Status, want)
		}
	}
	again, err := s.MarkNoShows(ctx, f.Lot.ID, h(1), at)
	if err != nil || len(again) != 0 {
		t.Errorf("MarkNoShows again = %v, %v; want none (each reservation moves once)", ids(again), err)
	}
	if counts := eventCounts(t, s, f.Lot.ID, "reservation.no_show"); !reflect.DeepEqual(counts, map[string]int{due.ID: 1, dueEarlier.ID: 1}) {
		t.Errorf("reservation.no_show events = %v; want one each for %s and %s", counts, due.ID, dueEarlier.ID)
	}
	if got, err := s.MarkNoShows(ctx, "lot_missing", h(9), h(9)); err != nil || got == nil || len(got) != 0 {
		t.Errorf("MarkNoShows(missing lot) = %v, %v; want an empty slice", got, err)
	}
}

// testNoShowReleasesSpot: a confirmed reservation nobody checked in by its
// start plus the lot's no-show window (15 minutes) stops holding its spot at
// that instant, before any job has marked it.
func testNoShowReleasesSpot(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	if got := time.Duration(f.Lot.Policy.NoShowAfter); got != 15*time.Minute {
		t.Fatalf("fixture lot's NoShowAfter = %v; this test assumes 15m", got)
	}
	std := f.SpotsOf(parking.Standard)
	start, end := T0.Add(time.Hour), T0.Add(3*time.Hour)
	before, deadline := start.Add(14*time.Minute+59*time.Second), start.Add(15*time.Minute)

	// One candidate, and several: the backends may take different paths.
	cases := []struct {
		name       string
		spot       string
		candidates []string
	}{
		{"one candidate", std[0].ID, []string{std[0].ID}},
		{"several candidates", std[1].ID, []string{std[1].ID, std[2].ID}},
	}
	for _, c := range cases {
		r := f.MustConfirmed(t, s, c.spot, start, end)
		if len(c.candidates) > 1 {
			// The other candidate stays taken, so only the no-show's spot can free up.
			f.MustCheckedIn(t, s, c.candidates[1], start, end)
		}

		if !spotBooked(t, s, f, c.spot, start, end, before) {
			t.Errorf("%s: Bookings at %v does not show the confirmed reservation; want it blocking until %v", c.name, before, deadline)
		}
		if rs, err := s.SpotReservations(ctx, c.spot, before); err != nil || !reflect.DeepEqual(ids(rs), []string{r.ID}) {
			t.Errorf("%s: SpotReservations(at %v) = %v, %v; want [%s]", c.name, before, ids(rs), err, r.ID)
		}
		early := f.NewHold(before, start.Add(30*time.Minute), end)
		if err := s.Hold(ctx, early, c.candidates, nil); !errors.Is(err, parking.ErrSpotUnavailable) {
			t.Errorf("%s: Hold at %v over the confirmed reservation = %v on %q; want ErrSpotUnavailable", c.name, before, err, early.SpotID)
		}
		if got, _ := s.Reservation(ctx, r.ID); got.Status != parking.StatusConfirmed {
			t.Errorf("%s: reservation after a refused hold = %q; want confirmed", c.name, got.Status)
		}

		// At the deadline, no job having run, it no longer counts.
		if spotBooked(t, s, f, c.spot, start, end, deadline) {
			t.Errorf("%s: Bookings at the no-show deadline %v still shows the reservation", c.name, deadline)
		}
		if rs, err := s.SpotReservations(ctx, c.spot, deadline); err != nil || len(rs) != 0 {
			t.Errorf("%s: SpotReservations(at the deadline) = %v, %v; want none", c.name, ids(rs), err)
		}
		fresh := f.NewHold(deadline, start.Add(30*time.Minute), end)
		if err := s.Hold(ctx, fresh, c.candidates, nil); err != nil || fresh.SpotID != c.spot {
			t.Fatalf("%s: Hold at the deadline = %v on %q; want nil on %s", c.name, err, fresh.SpotID, c.spot)
		}
		got, err := s.Reservation(ctx, r.ID)
		if err != nil || got.Status != parking.StatusNoShow || !got.UpdatedAt.Equal(deadline) {
			t.Errorf("%s: the no-show after the hold = %q at %v, %v; want no_show at %v", c.name, got.Status, got.UpdatedAt, err, deadline)
		}
		if n := eventCounts(t, s, f.Lot.ID, "reservation.no_show")[r.ID]; n != 1 {
			t.Errorf("%s: reservation.no_show events = %d; want 1", c.name, n)
		}
		if again, err := s.MarkNoShows(ctx, f.Lot.ID, deadline, deadline); err != nil || len(again) != 0 {
			t.Errorf("%s: MarkNoShows after the hold released it = %v, %v; want none", c.name, ids(again), err)
		}
	}
}

// spotBooked reports whether Bookings over [from, to) at now lists spotID.
func spotBooked(t *testing.T, s parking.Store, f Fixture, spotID string, from, to, now time.Time) bool {
	t.Helper()
	bs, err := s.Bookings(ctx, f.Lot.ID, from, to, now)
	if err != nil {
		t.Fatalf("Bookings = %v", err)
	}
	for _, b := range bs {
		if b.SpotID == spotID {
			return true
		}
	}
	return false
}

// testNoShowWindowFollowsPolicy: the deadline is the lot's own window, as
// last saved by CreateLot or UpdateLot.
func testNoShowWindowFollowsPolicy(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	lot := f.Lot
	lot.Policy.NoShowAfter = parking.Duration(40 * time.Minute)
	if err := s.UpdateLot(ctx, &lot); err != nil {
		t.Fatalf("UpdateLot: %v", err)
	}
	spot := f.Spots[5].ID
	start, end := T0.Add(time.Hour), T0.Add(3*time.Hour)
	r := f.MustConfirmed(t, s, spot, start, end)
	for _, c := range []struct {
		after  time.Duration
		blocks bool
	}{{15 * time.Minute, true}, {40*time.Minute - time.Microsecond, true}, {40 * time.Minute, false}} {
		now := start.Add(c.after)
		if got := spotBooked(t, s, f, spot, start, end, now); got != c.blocks {
			t.Errorf("40m window: Bookings at start+%v lists the spot = %v; want %v", c.after, got, c.blocks)
		}
		rs, _ := s.SpotReservations(ctx, spot, now)
		if got := len(rs) == 1 && rs[0].ID == r.ID; got != c.blocks {
			t.Errorf("40m window: SpotReservations at start+%v = %v; want blocking %v", c.after, ids(rs), c.blocks)
		}
	}

	// A lot created with its own window keeps it too.
	p := parking.DefaultPolicy()
	p.NoShowAfter = parking.Duration(5 * time.Minute)
	sf := mustOneSpotLot(t, s, f, p)
	sp := sf.Spots[0]
	sf.MustConfirmed(t, s, sp.ID, start, end)
	if !spotBooked(t, s, sf, sp.ID, start, end, start.Add(5*time.Minute-time.Microsecond)) {
		t.Errorf("5m window: Bookings just before start+5m does not list the spot")
	}
	if spotBooked(t, s, sf, sp.ID, start, end, start.Add(5*time.Minute)) {
		t.Errorf("5m window: Bookings at start+5m still lists the spot")
	}
	if err := s.Hold(ctx, sf.NewHold(start.Add(5*time.Minute), start, end), []string{sp.ID}, nil); err != nil {
		t.Errorf("5m window: Hold at start+5m = %v; want nil", err)
	}
}

// testConfirmOverNoShowRival: a late payment for a lapsed hold confirms it
// when the reservation that took the spot meanwhile is a no-show by then, as
// it does over a lapsed rival hold.
func testConfirmOverNoShowRival(t *testing.T, s parking.Store) {
	f, _, r, p := mustPendingCharge(t, s)
	rival := f.NewHold(r.HoldExpiresAt, r.StartsAt, r.EndsAt) // expires r on the way in
	if err := s.Hold(ctx, rival, []string{r.SpotID}, nil); err != nil {
		t.Fatalf("rival Hold: %v", err)
	}
	MustChange(t, s, rival.ID, parking.StatusHeld, parking.StatusConfirmed, r.HoldExpiresAt)
	late := rival.StartsAt.Add(time.Duration(f.Lot.Policy.NoShowAfter))
	_, res, err := succeedAt(s, p, late)
	if err != nil || res.Status != parking.StatusConfirmed {
		t.Fatalf("late success over a no-show rival = %q, %v; want confirmed", res.Status, err)
	}
	if got, _ := s.Reservation(ctx, rival.ID); got.Status != parking.StatusNoShow {
		t.Errorf("the no-show rival = %q; want no_show", got.Status)
	}
	if n := eventCounts(t, s, f.Lot.ID, "reservation.no_show")[rival.ID]; n != 1 {
		t.Errorf("reservation.no_show events for the rival = %d; want 1", n)
	}
}

func testFlagOverstays(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	h := func(n int) time.Time { return T0.Add(time.Duration(n) * time.Hour) }
	sp := f.Spots
	over := f.MustCheckedIn(t, s, sp[0].ID, h(1), h(2))
	stillIn := f.MustCheckedIn(t, s, sp[1].ID, h(1), h(4))
	neverCame := f.MustConfirmed(t, s, sp[2].ID, h(1), h(2))
	left := f.MustCheckedIn(t, s, sp[3].ID, h(1), h(2))
	MustChange(t, s, left.ID, parking.StatusCheckedIn, parking.StatusCompleted, h(2))

	at := h(2).Add(10 * time.Minute)
	got, err := s.FlagOverstays(ctx, f.Lot.ID, h(2), at)
	if err != nil || !reflect.DeepEqual(ids(got), []string{over.ID}) {
		t.Fatalf("FlagOverstays(endedBy %v) = %v, %v; want [%s]", h(2), ids(got), err, over.ID)
	}
	if got[0].Status != parking.StatusCheckedIn {
		t.Errorf("flagged reservation status = %q; want still checked_in", got[0].Status)
	}
	if stored, _ := s.Reservation(ctx, over.ID); !reflect.DeepEqual(stored, got[0]) {
		t.Errorf("Reservation(%s) = %+v; want what FlagOverstays returned, %+v", over.ID, stored, got[0])
	}
	if again, err := s.FlagOverstays(ctx, f.Lot.ID, h(2), at); err != nil || len(again) != 0 {
		t.Errorf("FlagOverstays again = %v, %v; want none (flagged once)", ids(again), err)
	}
	later, err := s.FlagOverstays(ctx, f.Lot.ID, h(5), h(5))
	if err != nil || !reflect.DeepEqual(ids(later), []string{stillIn.ID}) {
		t.Errorf("FlagOverstays(endedBy %v) = %v, %v; want only [%s]", h(5), ids(later), err, stillIn.ID)
	}
	want := map[string]int{over.ID: 1, stillIn.ID: 1}
	if counts := eventCounts(t, s, f.Lot.ID, "reservation.overstaying"); !reflect.DeepEqual(counts, want) {
		t.Errorf("reservation.overstaying events = %v; want %v", counts, want)
	}
	if r, _ := s.Reservation(ctx, neverCame.ID); r.Status != parking.StatusConfirmed {
		t.Errorf("a confirmed reservation = %q after FlagOverstays; want untouched", r.Status)
	}
	if got, err := s.FlagOverstays(ctx, "lot_missing", h(9), h(9)); err != nil || got == nil || len(got) != 0 {
		t.Errorf("FlagOverstays(missing lot) = %v, %v; want an empty slice", got, err)
	}
}

func testEnsurePassKey(t *testing.T, s parking.Store) {
	first := parking.PassKey{ID: "pk_1", Secret: []byte("first secret \x00\xff"), CreatedAt: T0}
	got, err := s.EnsurePassKey(ctx, first)
	if err != nil || !reflect.DeepEqual(got, []parking.PassKey{first}) {
		t.Fatalf("EnsurePassKey(first) = %+v, %v; want [%+v]", got, err, first)
	}
	second := parking.PassKey{ID: "pk_2", Secret: []byte("second secret"), CreatedAt: T0.Add(time.Hour)}
	got, err = s.EnsurePassKey(ctx, second)
	if err != nil || !reflect.DeepEqual(got, []parking.PassKey{first}) {
		t.Errorf("EnsurePassKey(second) = %+v, %v; want the first key only", got, err)
	}
}

// testPassCodes: a typed code's digest finds its reservations, however often
// it is saved, and two reservations may share one.
func testPassCodes(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	a := f.MustConfirmed(t, s, f.Spots[0].ID, T0.Add(time.Hour), T0.Add(2*time.Hour))
	b := f.MustConfirmed(t, s, f.Spots[1].ID, T0.Add(time.Hour), T0.Add(2*time.Hour))
	for _, c := range []struct{ digest, id string }{{"d1", a.ID}, {"d1", a.ID}, {"d2", b.ID}, {"d3", a.ID}, {"d3", b.ID}} {
		if err := s.SavePassCode(ctx, c.digest, c.id); err != nil {
			t.Fatalf("SavePassCode(%s, %s) = %v", c.digest, c.id, err)
		}
	}
	both := []string{a.ID, b.ID}
	if a.ID > b.ID {
		both = []string{b.ID, a.ID}
	}
	for _, c := range []struct {
		digests []string
		want    []string
	}{
		{[]string{"d1"}, []string{a.ID}},
		{[]string{"d1", "d2"}, both},
		{[]string{"d3"}, both},
		{[]string{"d1", "d3"}, both},
		{[]string{"nope"}, []string{}},
		{nil, []string{}},
	} {
		got, err := s.PassCodeReservations(ctx, c.digests)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("PassCodeReservations(%v) = %v, %v; want %v", c.digests, got, err, c.want)
		}
	}
}
