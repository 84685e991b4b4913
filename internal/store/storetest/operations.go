package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"parkd/internal/parking"
)

func operationsTests() []namedTest {
	return []namedTest{
		{"ClaimJob", testClaimJob},
		{"PruneIdempotencyKeys", testPruneIdempotencyKeys},
		{"PruneSessions", testPruneSessions},
		{"PruneWebhookEvents", testPruneWebhookEvents},
		{"PruneNotifications", testPruneNotifications},
		{"PruneUnknownTarget", testPruneUnknownTarget},
		{"Backlog", testBacklog},
		{"Operators", testOperators},
		{"SetUserRole", testSetUserRole},
		{"SetGateKey", testSetGateKey},
		{"LotPayments", testLotPayments},
		{"Violations", testViolations},
	}
}

func testClaimJob(t *testing.T, s parking.Store) {
	claim := func(name, holder string, now, next time.Time, want bool) {
		t.Helper()
		got, err := s.ClaimJob(ctx, name, holder, now, next)
		if err != nil || got != want {
			t.Errorf("ClaimJob(%s, %s, now %v) = %v, %v; want %v, nil", name, holder, now.Sub(T0), got, err, want)
		}
	}
	claim("prune", "a", T0, T0.Add(time.Hour), true)                               // never ran: due
	claim("prune", "b", T0, T0.Add(time.Hour), false)                              // claimed for this hour
	claim("prune", "b", T0.Add(59*time.Minute), T0.Add(2*time.Hour), false)        // not due yet
	claim("other", "b", T0, T0.Add(time.Hour), true)                               // jobs are independent
	claim("prune", "b", T0.Add(time.Hour), T0.Add(2*time.Hour), true)              // due at its next run
	claim("prune", "a", T0.Add(time.Hour+time.Second), T0.Add(3*time.Hour), false) // b has it
}

// prune deletes target's lapsed rows in batches of limit and returns the
// batch sizes, until a batch comes back short.
func prune(t *testing.T, s parking.Store, target parking.PruneTarget, before time.Time, limit int) []int {
	t.Helper()
	var batches []int
	for range 100 {
		n, err := s.Prune(ctx, target, before, limit)
		if err != nil {
			t.Fatalf("Prune(%s) = %v", target, err)
		}
		batches = append(batches, n)
		if n < limit {
			return batches
		}
	}
	t.Fatalf("Prune(%s) never finished: %v", target, batches)
	return nil
}

func testPruneIdempotencyKeys(t *testing.T, s parking.Store) {
	u := MustUser(t, s, "ada@example.com")
	for i, expires := range []time.Duration{-2 * time.Hour, -time.Hour, 0, time.Minute, time.Hour} {
		k := parking.IdempotencyKey{UserID: u.ID, Key: "k" + string(rune('a'+i)), RequestHash: "h",
			CreatedAt: T0.Add(expires - 24*time.Hour), ExpiresAt: T0.Add(expires)}
		if _, claimed, err := s.ClaimIdempotencyKey(ctx, k, T0.Add(-48*time.Hour)); err != nil || !claimed {
			t.Fatalf("ClaimIdempotencyKey(%s) = %v, %v", k.Key, claimed, err)
		}
		if i%2 == 0 {
			if err := s.CompleteIdempotencyKey(ctx, u.ID, k.Key, 201, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Expired at or before T0: the first three, finished or not.
	if got := prune(t, s, parking.PruneIdempotencyKeys, T0, 2); !reflect.DeepEqual(got, []int{2, 1}) {
		t.Errorf("Prune(idempotency keys, limit 2) batches = %v; want [2 1]", got)
	}
	for i, want := range []bool{true, true, true, false, false} {
		key := "k" + string(rune('a'+i))
		// A key that is gone is claimed anew; one that stayed is not.
		_, claimed, err := s.ClaimIdempotencyKey(ctx, parking.IdempotencyKey{UserID: u.ID, Key: key, RequestHash: "h",
			CreatedAt: T0, ExpiresAt: T0.Add(24 * time.Hour)}, T0.Add(-48*time.Hour))
		if err != nil || claimed != want {
			t.Errorf("after pruning, ClaimIdempotencyKey(%s) claimed = %v, %v; want %v (pruned: %v)", key, claimed, err, want, want)
		}
	}
}

func testPruneSessions(t *testing.T, s parking.Store) {
	u := MustUser(t, s, "ada@example.com")
	offsets := []time.Duration{-time.Hour, -time.Second, 0, time.Second, time.Hour}
	for i, d := range offsets {
		if err := s.CreateSession(ctx, &parking.Session{TokenHash: "h" + string(rune('a'+i)), UserID: u.ID,
			CreatedAt: T0.Add(-time.Hour), ExpiresAt: T0.Add(d)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := prune(t, s, parking.PruneSessions, T0, 10); !reflect.DeepEqual(got, []int{3}) {
		t.Errorf("Prune(sessions) batches = %v; want [3]", got)
	}
	for i, d := range offsets {
		_, err := s.Session(ctx, "h"+string(rune('a'+i)))
		if gone := errors.Is(err, parking.ErrNotFound); gone != (d <= 0) {
			t.Errorf("session expiring at T0%+v: Session = %v; want pruned %v", d, err, d <= 0)
		}
	}
}

func testPruneWebhookEvents(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	var pays []*parking.Payment
	for i := range 3 {
		r := heldFor(t, s, f, u, 5+i)
		pays = append(pays, mustCharge(t, s, r))
	}
	// Three webhook events received 40, 20 and 1 days before T0.
	for i, ago := range []int{40, 20, 1} {
		at := T0.Add(-time.Duration(ago) * 24 * time.Hour)
		if _, _, err := s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: pays[i].ID, EventID: "evt_" + string(rune('a'+i)),
			From: []string{parking.PaymentPending}, To: parking.PaymentFailed, At: at}); err != nil {
			t.Fatalf("UpdatePayment(event %d): %v", i, err)
		}
	}
	// Keep 30 days: only the first goes.
	if got := prune(t, s, parking.PruneWebhookEvents, T0.Add(-30*24*time.Hour), 10); !reflect.DeepEqual(got, []int{1}) {
		t.Errorf("Prune(webhook events older than 30 days) batches = %v; want [1]", got)
	}
	// The kept ones still drop a redelivery.
	if _, _, err := s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: pays[1].ID, EventID: "evt_b",
		From: []string{parking.PaymentPending, parking.PaymentFailed}, To: parking.PaymentSucceeded, At: T0}); !errors.Is(err, parking.ErrDuplicateEvent) {
		t.Errorf("redelivered kept event = %v; want ErrDuplicateEvent", err)
	}
	if got := prune(t, s, parking.PruneWebhookEvents, T0, 10); !reflect.DeepEqual(got, []int{2}) {
		t.Errorf("Prune(webhook events before T0) batches = %v; want [2]", got)
	}
}

func testPruneNotifications(t *testing.T, s parking.Store) {
	u := MustUser(t, s, "ada@example.com")
	old := func(key string) parking.Notification {
		n := NewNotification(u, key, T0.Add(-60*24*time.Hour))
		n.CreatedAt = T0.Add(-60 * 24 * time.Hour)
		return n
	}
	sent, failed, skipped, pending := old("sent"), old("failed"), old("skipped"), old("pending")
	pending.DueAt = T0.Add(time.Hour) // due later: stays pending through the claims below
	recent := NewNotification(u, "recent", T0.Add(-time.Hour))
	recent.CreatedAt = T0.Add(-time.Hour)
	mustAdd(t, s, sent, failed, skipped, pending, recent)
	claimed, err := s.ClaimNotifications(ctx, T0, time.Minute, 10)
	if err != nil || len(claimed) != 4 {
		t.Fatalf("ClaimNotifications = %d, %v; want 4", len(claimed), err)
	}
	outcome := map[string]string{"sent": parking.NotificationSent, "failed": parking.NotificationFailed,
		"skipped": parking.NotificationSkipped, "recent": parking.NotificationSent}
	for _, n := range claimed {
		if err := s.FinishNotification(ctx, parking.NotificationOutcome{ID: n.ID, ClaimToken: n.ClaimToken,
			Status: outcome[n.DedupeKey], At: T0}); err != nil {
			t.Fatalf("FinishNotification(%s): %v", n.DedupeKey, err)
		}
	}
	if got := prune(t, s, parking.PruneNotifications, T0.Add(-30*24*time.Hour), 2); !reflect.DeepEqual(got, []int{2, 1}) {
		t.Errorf("Prune(notifications older than 30 days) batches = %v; want [2 1]", got)
	}
	for _, n := range []parking.Notification{sent, failed, skipped, pending, recent} {
		_, err := s.Notification(ctx, n.ID)
		wantGone := n.DedupeKey != "pending" && n.DedupeKey != "recent"
		if gone := errors.Is(err, parking.ErrNotFound); gone != wantGone {
			t.Errorf("notification %s: Notification = %v; want pruned %v", n.DedupeKey, err, wantGone)
		}
	}
}

func testPruneUnknownTarget(t *testing.T, s parking.Store) {
	if _, err := s.Prune(ctx, "reservations", T0, 10); parking.ErrorCode(err) != parking.EINVALID {
		t.Errorf("Prune(reservations) = %v; want invalid: reservations are never pruned", err)
	}
}

func testBacklog(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	b, err := s.Backlog(ctx, T0)
	if err != nil || b != (parking.Backlog{}) {
		t.Errorf("Backlog(empty) = %+v, %v; want nothing", b, err)
	}
	// Two holds that lapse at T0+5m (made at T0), one made later.
	f.MustHold(t, s, f.Spots[5].ID, T0, T0.Add(time.Hour), T0.Add(2*time.Hour))
	f.MustHold(t, s, f.Spots[6].ID, T0, T0.Add(time.Hour), T0.Add(2*time.Hour))
	f.MustHold(t, s, f.Spots[7].ID, T0.Add(10*time.Minute), T0.Add(time.Hour), T0.Add(2*time.Hour))
	// A confirmed booking starting at T0+1h: a no-show from T0+1h15m (the default policy).
	f.MustConfirmed(t, s, f.Spots[8].ID, T0.Add(time.Hour), T0.Add(2*time.Hour))
	n := NewNotification(u, "due", T0.Add(2*time.Minute))
	mustAdd(t, s, n)

	now := T0.Add(90 * time.Minute)
	b, err = s.Backlog(ctx, now)
	want := parking.Backlog{LapsedHolds: 3, OldestLapsedHold: T0.Add(5 * time.Minute),
		NoShowsDue: 1, OldestNoShowDue: T0.Add(75 * time.Minute),
		DueNotifications: 1, OldestDueNotification: T0.Add(2 * time.Minute)}
	if err != nil || !backlogEqual(b, want) {
		t.Errorf("Backlog(T0+90m) = %+v, %v; want %+v", b, err, want)
	}
	b, err = s.Backlog(ctx, T0.Add(6*time.Minute))
	want = parking.Backlog{LapsedHolds: 2, OldestLapsedHold: T0.Add(5 * time.Minute),
		DueNotifications: 1, OldestDueNotification: T0.Add(2 * time.Minute)}
	if err != nil || !backlogEqual(b, want) {
		t.Errorf("Backlog(T0+6m) = %+v, %v; want %+v", b, err, want)
	}
}

func backlogEqual(a, b parking.Backlog) bool {
	return a.LapsedHolds == b.LapsedHolds && a.OldestLapsedHold.Equal(b.OldestLapsedHold) &&
		a.NoShowsDue == b.NoShowsDue && a.OldestNoShowDue.Equal(b.OldestNoShowDue) &&
		a.DueNotifications == b.DueNotifications && a.OldestDueNotification.Equal(b.OldestDueNotification)
}

func testOperators(t *testing.T, s parking.Store) {
	ops, err := s.Operators(ctx)
	if err != nil || len(ops) != 0 {
		t.Errorf("Operators(empty) = %v, %v; want none", ops, err)
	}
	f := MustFixture(t, s)
	other := parking.Operator{ID: parking.NewID("opr"), Name: "A First Co", CreatedAt: T0}
	if err := s.CreateOperator(ctx, &other); err != nil {
		t.Fatal(err)
	}
	ops, err = s.Operators(ctx)
	if err != nil || !reflect.DeepEqual(ops, []parking.Operator{other, f.Operator}) {
		t.Errorf("Operators() = %+v, %v; want both by name", ops, err)
	}
}

func testSetUserRole(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	if err := s.SetUserRole(ctx, u.ID, parking.RoleOperator, f.Operator.ID); err != nil {
		t.Fatalf("SetUserRole(operator) = %v", err)
	}
	got, err := s.User(ctx, u.ID)
	if err != nil || got.Role != parking.RoleOperator || got.OperatorID != f.Operator.ID {
		t.Errorf("User after SetUserRole(operator) = %+v, %v", got, err)
	}
	if err := s.SetUserRole(ctx, u.ID, parking.RoleAdmin, ""); err != nil {
		t.Fatalf("SetUserRole(admin) = %v", err)
	}
	if got, err := s.User(ctx, u.ID); err != nil || got.Role != parking.RoleAdmin || got.OperatorID != "" {
		t.Errorf("User after SetUserRole(admin) = %+v, %v", got, err)
	}
	if err := s.SetUserRole(ctx, "usr_missing", parking.RoleAdmin, ""); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("SetUserRole(missing user) = %v; want ErrNotFound", err)
	}
	if err := s.SetUserRole(ctx, u.ID, parking.RoleOperator, "opr_missing"); parking.ErrorCode(err) != parking.EINVALID {
		t.Errorf("SetUserRole(missing operator) = %v; want invalid", err)
	}
	if err := s.SetUserRole(ctx, u.ID, "emperor", ""); parking.ErrorCode(err) != parking.EINVALID {
		t.Errorf("SetUserRole(emperor) = %v; want invalid", err)
	}
}

func testSetGateKey(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	g := parking.Gate{ID: parking.NewID("gat"), LotID: f.Lot.ID, Name: "North", Direction: parking.Entry, KeyHash: "old", CreatedAt: T0}
	if err := s.CreateGate(ctx, &g); err != nil {
		t.Fatal(err)
	}
	if err := s.SetGateKey(ctx, g.ID, "new"); err != nil {
		t.Fatalf("SetGateKey = %v", err)
	}
	if _, err := s.GateByKeyHash(ctx, "old"); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("GateByKeyHash(old key) = %v; want ErrNotFound", err)
	}
	if got, err := s.GateByKeyHash(ctx, "new"); err != nil || got.ID != g.ID {
		t.Errorf("GateByKeyHash(new key) = %+v, %v; want gate %s", got, err, g.ID)
	}
	if err := s.SetGateKey(ctx, "gat_missing", "other"); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("SetGateKey(missing gate) = %v; want ErrNotFound", err)
	}
}

func testLotPayments(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	other := MustFixture(t, s)
	mk := func(f Fixture, spot int, at time.Time) *parking.Payment {
		r := f.NewHold(T0, T0.Add(time.Hour), T0.Add(2*time.Hour))
		r.UserID = u.ID
		if err := s.Hold(ctx, r, []string{f.Spots[spot].ID}, nil); err != nil {
			t.Fatal(err)
		}
		p := NewCharge(*r, at)
		if err := s.CreatePayment(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := mk(f, 5, T0)
	b := mk(f, 6, T0.Add(time.Hour))
	mk(f, 7, T0.Add(2*time.Hour)) // at the end of the range: outside it
	mk(other, 5, T0)              // another lot's
	if _, _, err := succeedAt(s, a, T0.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	ps, err := s.LotPayments(ctx, f.Lot.ID, T0, T0.Add(2*time.Hour))
	if err != nil || len(ps) != 2 || ps[0].ID != a.ID || ps[1].ID != b.ID || ps[0].Status != parking.PaymentSucceeded {
		t.Errorf("LotPayments(lot, [T0, T0+2h)) = %+v, %v; want %s (succeeded) then %s", ps, err, a.ID, b.ID)
	}
	if ps, err := s.LotPayments(ctx, f.Lot.ID, T0.Add(45*time.Minute), T0.Add(90*time.Minute)); err != nil || len(ps) != 1 || ps[0].ID != b.ID {
		t.Errorf("LotPayments(lot, [T0+45m, T0+90m)) = %+v, %v; want only %s", ps, err, b.ID)
	}
	if ps, err := s.LotPayments(ctx, "lot_missing", T0, T0.Add(time.Hour)); err != nil || ps == nil || len(ps) != 0 {
		t.Errorf("LotPayments(missing lot) = %#v, %v; want an empty list", ps, err)
	}
}

// testClaimJobRace: in every round, 8 racers (on the given instances, in
// turn) claim the same due run of a job; exactly one gets it.
func testClaimJobRace(t *testing.T, stores []parking.Store) {
	rounds := max(Rounds(t)/20, 5)
	for round := range rounds {
		now := T0.Add(time.Duration(round) * time.Hour)
		wins := make([]bool, 8)
		errs := race(len(wins), func(i int) error {
			var err error
			wins[i], err = stores[i%len(stores)].ClaimJob(ctx, "race", fmt.Sprint("racer", i), now, now.Add(time.Hour))
			return err
		})
		n := 0
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: ClaimJob = %v", round, err)
			}
			if wins[i] {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("round %d: %d racers claimed the run; want exactly 1", round, n)
		}
	}
}
