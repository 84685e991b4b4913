package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/store/storetest"
)

// mustClaim claims a fresh idempotency key for user.
func mustClaim(t testing.TB, s *Store, userID, key string) {
	t.Helper()
	k := parking.IdempotencyKey{UserID: userID, Key: key, RequestHash: "h", CreatedAt: storetest.T0, ExpiresAt: storetest.T0.Add(24 * time.Hour)}
	if _, claimed, err := s.ClaimIdempotencyKey(context.Background(), k, storetest.T0); err != nil || !claimed {
		t.Fatalf("ClaimIdempotencyKey(%s) = %v, %v; want claimed", key, claimed, err)
	}
}

// keyStatus returns the stored status of a key; 0 is in flight.
func keyStatus(t testing.TB, s *Store, userID, key string) int {
	t.Helper()
	var status *int32
	if err := s.pool.QueryRow(context.Background(), `SELECT status_code FROM idempotency_keys WHERE user_id = $1 AND key = $2`, userID, key).Scan(&status); err != nil {
		t.Fatalf("read key %s: %v", key, err)
	}
	if status == nil {
		return 0
	}
	return int(*status)
}

func completion(userID, key string) *parking.KeyCompletion {
	return &parking.KeyCompletion{UserID: userID, Key: key, Render: func(r parking.Reservation) (int, []byte, error) {
		return 201, []byte(r.SpotID), nil
	}}
}

// TestHoldKeyOneSpot covers the single-candidate path with a key, which the
// conformance suite reaches only with holds that fail.
func TestHoldKeyOneSpot(t *testing.T) {
	s := mustOpenSchema(t)
	ctx := context.Background()
	f := storetest.MustFixture(t, s)
	u := storetest.MustUser(t, s, "ada@example.com")
	t0 := storetest.T0
	mustClaim(t, s, u.ID, "k")
	r := f.NewHold(t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	if err := s.Hold(ctx, r, []string{f.Spots[5].ID}, completion(u.ID, "k")); err != nil || r.SpotID != f.Spots[5].ID {
		t.Fatalf("Hold = %v on %q; want nil on %s", err, r.SpotID, f.Spots[5].ID)
	}
	if got := keyStatus(t, s, u.ID, "k"); got != 201 {
		t.Errorf("key status after Hold = %d; want 201", got)
	}
	if _, err := s.Reservation(ctx, r.ID); err != nil {
		t.Errorf("Reservation after Hold = %v; want it stored", err)
	}
}

// TestHoldKeyMissing: a key that is not recorded cannot be completed, so the
// hold does not go in either; otherwise a retry could claim the key anew and
// book a second spot.
func TestHoldKeyMissing(t *testing.T) {
	s := mustOpenSchema(t)
	ctx := context.Background()
	f := storetest.MustFixture(t, s)
	u := storetest.MustUser(t, s, "ada@example.com")
	t0 := storetest.T0
	for _, candidates := range [][]string{{f.Spots[5].ID}, {f.Spots[5].ID, f.Spots[6].ID}} {
		r := f.NewHold(t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
		if err := s.Hold(ctx, r, candidates, completion(u.ID, "never-claimed")); !errors.Is(err, parking.ErrNotFound) || r.SpotID != "" {
			t.Errorf("Hold(%d candidates) with an unrecorded key = %v on %q; want ErrNotFound, no spot", len(candidates), err, r.SpotID)
		}
		if _, err := s.Reservation(ctx, r.ID); !errors.Is(err, parking.ErrNotFound) {
			t.Errorf("Reservation after Hold with an unrecorded key = %v; want ErrNotFound", err)
		}
	}
}

// TestHoldKeyCancelled: a request abandoned while Render runs commits nothing,
// and leaves no connection in the pool inside a transaction.
func TestHoldKeyCancelled(t *testing.T) {
	s := mustOpenSchema(t)
	f := storetest.MustFixture(t, s)
	u := storetest.MustUser(t, s, "ada@example.com")
	t0 := storetest.T0
	mustClaim(t, s, u.ID, "k")
	ctx, cancel := context.WithCancel(context.Background())
	key := &parking.KeyCompletion{UserID: u.ID, Key: "k", Render: func(r parking.Reservation) (int, []byte, error) {
		cancel()
		return 201, nil, nil
	}}
	r := f.NewHold(t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	if err := s.Hold(ctx, r, []string{f.Spots[5].ID}, key); err == nil {
		t.Fatalf("Hold cancelled during Render = nil; want an error")
	}
	bg := context.Background()
	if _, err := s.Reservation(bg, r.ID); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("Reservation after a cancelled Hold = %v; want ErrNotFound", err)
	}
	if got := keyStatus(t, s, u.ID, "k"); got != 0 {
		t.Errorf("key status after a cancelled Hold = %d; want in flight", got)
	}
	// The spot is free again for the next request.
	mustClaim(t, s, u.ID, "k2")
	if err := s.Hold(bg, f.NewHold(t0, t0.Add(time.Hour), t0.Add(2*time.Hour)), []string{f.Spots[5].ID}, completion(u.ID, "k2")); err != nil {
		t.Errorf("Hold after a cancelled Hold = %v; want nil", err)
	}
	if n := s.pool.Stat().AcquiredConns(); n != 0 {
		t.Errorf("acquired connections after Hold = %d; want 0", n)
	}
}
