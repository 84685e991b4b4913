package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/store/postgres/pgtest"
	"parkd/internal/store/storetest"
)

// mustOpenSchema opens a store in a fresh schema of the test database, dropped
// when the test ends, so tests and parallel test processes never see each
// other's rows.
func mustOpenSchema(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), pgtest.SchemaDSN(t))
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPoolSize(t *testing.T) {
	dsn := pgtest.SchemaDSN(t)
	ctx := context.Background()
	s, err := Open(ctx, pgtest.WithParam(dsn, "pool_max_conns", "3"))
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer s.Close()
	if got := s.pool.Config().MaxConns; got != 3 {
		t.Errorf("MaxConns with pool_max_conns=3 = %d; want 3", got)
	}
	s2, err := Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer s2.Close()
	if got := s2.pool.Config().MaxConns; got < 8 {
		t.Errorf("default MaxConns = %d; want at least 8", got)
	}
}

// TestErrorMessages checks the messages classify gives constraint violations,
// which the conformance suite checks only by code.
func TestErrorMessages(t *testing.T) {
	s := mustOpenSchema(t)
	ctx := context.Background()
	f := storetest.MustFixture(t, s)
	u := parking.User{ID: parking.NewID("usr"), Name: "Ada", Email: "ada@example.com", PasswordHash: "h", Role: parking.RoleDriver, CreatedAt: storetest.T0}
	if err := s.CreateUser(ctx, &u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	dupUser := u
	dupUser.ID = parking.NewID("usr")
	dupSpot := f.Spots[0]
	dupSpot.ID = parking.NewID("spt")
	level := parking.Level{ID: parking.NewID("lvl"), LotID: "lot_missing", Name: "X"}
	badSize := f.Spots[0]
	badSize.ID, badSize.Label, badSize.Size = parking.NewID("spt"), "Z9", 9
	t0 := storetest.T0
	held := f.MustHold(t, s, f.Spots[0].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	sameID := f.NewHold(t0, t0.Add(5*time.Hour), t0.Add(6*time.Hour))
	sameID.ID = held.ID
	noSpot := f.NewHold(t0, t0.Add(time.Hour), t0.Add(2*time.Hour))

	tests := []struct {
		name      string
		err       error
		code, msg string
	}{
		{"duplicate email", s.CreateUser(ctx, &dupUser), parking.ECONFLICT, "email already registered"},
		{"duplicate label", s.CreateSpots(ctx, []parking.Spot{dupSpot}), parking.ECONFLICT, "a spot with that label already exists in this lot"},
		{"duplicate id", s.CreateOperator(ctx, &f.Operator), parking.ECONFLICT, "operator already exists"},
		{"missing lot", s.CreateLevel(ctx, &level), parking.ENOTFOUND, "lot not found"},
		{"size out of range", s.CreateSpots(ctx, []parking.Spot{badSize}), parking.EINVALID, "spot has a missing or out-of-range value"},
		// ON CONFLICT DO NOTHING swallows a taken id too; Hold must not call that a busy spot.
		{"duplicate reservation id", s.Hold(ctx, sameID, []string{f.Spots[1].ID}, nil), parking.ECONFLICT, "reservation already exists"},
		// A spot that does not exist (or is out of service) takes no hold.
		{"missing spot", s.Hold(ctx, noSpot, []string{"spt_missing"}, nil), parking.ESPOTUNAVAILABLE, parking.ErrSpotUnavailable.Message},
	}
	for _, tt := range tests {
		if parking.ErrorCode(tt.err) != tt.code || parking.ErrorMessage(tt.err) != tt.msg {
			t.Errorf("%s: err = %v; want %s: %s", tt.name, tt.err, tt.code, tt.msg)
		}
	}
}

// TestReactivateOverlap: moving a reservation back into a blocking status over a
// window someone else now holds is refused by the exclusion constraint.
func TestReactivateOverlap(t *testing.T) {
	s := mustOpenSchema(t)
	ctx := context.Background()
	f := storetest.MustFixture(t, s)
	spot := f.Spots[5].ID
	t0 := storetest.T0
	old := f.MustHold(t, s, spot, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	storetest.MustChange(t, s, old.ID, parking.StatusHeld, parking.StatusCancelled, t0)
	f.MustHold(t, s, spot, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	_, err := s.ChangeStatus(ctx, parking.StatusChange{ID: old.ID, From: []parking.Status{parking.StatusCancelled}, To: parking.StatusConfirmed, At: t0})
	if !errors.Is(err, parking.ErrSpotUnavailable) {
		t.Errorf("re-confirming a cancelled reservation over a taken window = %v; want ErrSpotUnavailable", err)
	}
}

// TestTimesAreUTC: times come back in UTC whatever zone they went in with.
func TestTimesAreUTC(t *testing.T) {
	s := mustOpenSchema(t)
	ctx := context.Background()
	f := storetest.MustFixture(t, s)
	tokyo := time.FixedZone("JST", 9*3600)
	t0 := storetest.T0.In(tokyo)
	r := f.NewHold(t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	if err := s.Hold(ctx, r, []string{f.Spots[0].ID}, nil); err != nil {
		t.Fatalf("Hold: %v", err)
	}
	got, err := s.Reservation(ctx, r.ID)
	if err != nil {
		t.Fatalf("Reservation: %v", err)
	}
	for name, tm := range map[string]time.Time{"starts_at": got.StartsAt, "ends_at": got.EndsAt, "hold_expires_at": got.HoldExpiresAt, "created_at": got.CreatedAt, "updated_at": got.UpdatedAt} {
		if tm.Location() != time.UTC {
			t.Errorf("%s is in %v; want UTC", name, tm.Location())
		}
	}
	if got.StartsAt != r.StartsAt {
		t.Errorf("StartsAt = %v; want %v as Hold left it in r", got.StartsAt, r.StartsAt)
	}
}

// TestEventsNoLimit: a limit of zero or less returns every event after seq.
func TestEventsNoLimit(t *testing.T) {
	s := mustOpenSchema(t)
	ctx := context.Background()
	f := storetest.MustFixture(t, s)
	for i := range 3 {
		if err := s.SetSpotInService(ctx, f.Spots[i].ID, false, storetest.T0); err != nil {
			t.Fatalf("SetSpotInService: %v", err)
		}
	}
	for _, limit := range []int{0, -1} {
		if es, err := s.Events(ctx, f.Lot.ID, 0, limit); err != nil || len(es) != 3 {
			t.Errorf("Events(limit %d) = %d events, %v; want 3", limit, len(es), err)
		}
	}
}
