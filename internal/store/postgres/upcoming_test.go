package postgres_test

import (
	"context"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/store/postgres"
	"parkd/internal/store/postgres/pgtest"
	"parkd/internal/store/storetest"
)

func mustOpen(t *testing.T) (*postgres.Store, string) {
	t.Helper()
	dsn := pgtest.SchemaDSN(t)
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dsn
}

// TestUpcoming: each time Upcoming reports is the earliest deadline of its
// kind among the rows stored, and zero when no row calls for one.
func TestUpcoming(t *testing.T) {
	ctx := context.Background()
	s, _ := mustOpen(t)
	t0 := storetest.T0
	lead := parking.MoveLead
	if u, err := s.Upcoming(ctx, t0, lead); err != nil || u != (parking.Upcoming{}) {
		t.Fatalf("Upcoming(empty store) = %+v, %v; want all zero", u, err)
	}
	f := storetest.MustFixture(t, s)
	std := f.SpotsOf(parking.Standard)
	held := f.MustHold(t, s, std[0].ID, t0, t0.Add(2*time.Hour), t0.Add(3*time.Hour))
	f.MustConfirmed(t, s, std[1].ID, t0.Add(time.Hour), t0.Add(2*time.Hour))
	f.MustCheckedIn(t, s, std[2].ID, t0.Add(-time.Hour), t0.Add(30*time.Minute))
	// After the car inside on std[2], and so displaced once it overstays.
	after := f.MustConfirmed(t, s, std[2].ID, t0.Add(4*time.Hour), t0.Add(5*time.Hour))
	// A booking inside the lead is not a future move: it is due now.
	f.MustConfirmed(t, s, std[2].ID, t0.Add(3*time.Hour), t0.Add(4*time.Hour))
	u := storetest.MustUser(t, s, "ada@example.com")
	if _, err := s.AddNotifications(ctx, []parking.Notification{storetest.NewNotification(u, "k:a", t0.Add(20*time.Minute))}, "", 0); err != nil {
		t.Fatal(err)
	}

	got, err := s.Upcoming(ctx, t0, lead)
	want := parking.Upcoming{
		HoldExpiry:     held.HoldExpiresAt,
		NoShow:         t0.Add(time.Hour + time.Duration(f.Lot.Policy.NoShowAfter)),
		End:            t0.Add(30 * time.Minute),
		DisplacedStart: t0.Add(3 * time.Hour),
		Notification:   t0.Add(20 * time.Minute),
	}
	if err != nil || got != want {
		t.Fatalf("Upcoming(T0) = %+v, %v;\nwant %+v", got, err, want)
	}
	// Past T0+2h30m the booking at T0+3h is within the lead: the next move
	// to look for is the one at T0+4h.
	later := t0.Add(150 * time.Minute)
	if got, err := s.Upcoming(ctx, later, lead); err != nil || !got.DisplacedStart.Equal(after.StartsAt) {
		t.Errorf("Upcoming(T0+2h30m).DisplacedStart = %v, %v; want %v", got.DisplacedStart, err, after.StartsAt)
	}
	// A booking on a spot out of service is displaced too.
	large := f.SpotsOf(parking.Large)[0]
	out := f.MustConfirmed(t, s, large.ID, t0.Add(2*time.Hour), t0.Add(3*time.Hour))
	if err := s.SetSpotInService(ctx, large.ID, false, t0); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Upcoming(ctx, t0, lead); err != nil || !got.DisplacedStart.Equal(out.StartsAt) {
		t.Errorf("Upcoming.DisplacedStart with a spot out of service = %v, %v; want %v", got.DisplacedStart, err, out.StartsAt)
	}
	// A claimed notification can be claimed again when its lease runs out.
	claimed, err := s.ClaimNotifications(ctx, t0.Add(25*time.Minute), time.Hour, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimNotifications = %d, %v; want 1", len(claimed), err)
	}
	if got, err := s.Upcoming(ctx, t0, lead); err != nil || !got.Notification.Equal(t0.Add(85*time.Minute)) {
		t.Errorf("Upcoming.Notification of a claimed one = %v, %v; want the lease's end %v", got.Notification, err, t0.Add(85*time.Minute))
	}
}
