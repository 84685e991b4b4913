package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"parkd/internal/parking"
)

// runAccounts covers sessions, vehicles' removal, edits, gates, idempotency keys
// and the listing queries.
func accountTests() []namedTest {
	return []namedTest{
		{"Sessions", testSessions},
		{"DeleteVehicle", testDeleteVehicle},
		{"UpdateLotLevelSpot", testUpdates},
		{"StaleUpdates", testStaleUpdates},
		{"Gates", testGates},
		{"IdempotencyKeys", testIdempotencyKeys},
		{"HoldCompletesKey", testHoldCompletesKey},
		{"HoldKeyOneSpot", testHoldKeyOneSpot},
		{"HoldKeyMissing", testHoldKeyMissing},
		{"HoldKeyTakenOver", testHoldKeyTakenOver},
		{"HoldRecordsKey", testHoldRecordsKey},
		{"HoldRecordsLapsedKey", testHoldRecordsLapsedKey},
		{"LotAndSpotReservations", testLotAndSpotReservations},
		{"UserPaymentsEmpty", testUserPaymentsEmpty},
	}
}

type namedTest struct {
	name string
	fn   func(t *testing.T, s parking.Store)
}

// MustUser creates a driver with the given email.
func MustUser(t testing.TB, s parking.Store, email string) parking.User {
	t.Helper()
	u := parking.User{ID: parking.NewID("usr"), Name: "Test Driver", Email: email, PasswordHash: "h", Role: parking.RoleDriver, CreatedAt: T0}
	if err := s.CreateUser(ctx, &u); err != nil {
		t.Fatalf("CreateUser(%s): %v", email, err)
	}
	return u
}

func testSessions(t *testing.T, s parking.Store) {
	u := MustUser(t, s, "ada@example.com")
	sess := parking.Session{TokenHash: "hash-1", UserID: u.ID, CreatedAt: T0, ExpiresAt: T0.Add(24 * time.Hour)}
	if err := s.CreateSession(ctx, &sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if got, err := s.Session(ctx, "hash-1"); err != nil || got != sess {
		t.Errorf("Session() = %+v, %v; want %+v", got, err, sess)
	}
	if got, gotUser, err := s.UserBySession(ctx, "hash-1"); err != nil || got != sess || gotUser != u {
		t.Errorf("UserBySession() = %+v, %+v, %v; want %+v, %+v", got, gotUser, err, sess, u)
	}
	if _, _, err := s.UserBySession(ctx, "no-such-hash"); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("UserBySession(unknown) = %v; want ErrNotFound", err)
	}
	if err := s.DeleteSession(ctx, "hash-1"); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	if _, err := s.Session(ctx, "hash-1"); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("Session() after delete = %v; want ErrNotFound", err)
	}
	if _, _, err := s.UserBySession(ctx, "hash-1"); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("UserBySession() after delete = %v; want ErrNotFound", err)
	}
	if err := s.DeleteSession(ctx, "hash-1"); err != nil {
		t.Errorf("DeleteSession twice = %v; want nil (signing out is idempotent)", err)
	}
}

func testDeleteVehicle(t *testing.T, s parking.Store) {
	u := MustUser(t, s, "ada@example.com")
	v := parking.Vehicle{ID: parking.NewID("veh"), UserID: u.ID, Plate: "AB123", Size: parking.Compact, CreatedAt: T0}
	if err := s.CreateVehicle(ctx, &v); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteVehicle(ctx, v.ID, T0); err != nil {
		t.Fatalf("DeleteVehicle: %v", err)
	}
	if vs, err := s.Vehicles(ctx, u.ID); err != nil || len(vs) != 0 {
		t.Errorf("Vehicles() after delete = %v, %v; want none", vs, err)
	}
	if got, err := s.Vehicle(ctx, v.ID); err != nil || got.Plate != "AB123" {
		t.Errorf("Vehicle() after delete = %+v, %v; want it still readable", got, err)
	}
	if err := s.DeleteVehicle(ctx, v.ID, T0); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("DeleteVehicle twice = %v; want ErrNotFound", err)
	}
	if err := s.DeleteVehicle(ctx, "veh_missing", T0); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("DeleteVehicle(missing) = %v; want ErrNotFound", err)
	}
}

func testUpdates(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	l := f.Lot
	l.Name, l.Address, l.Lat, l.Lng, l.TimeZone, l.Currency = "Renamed", "2 New St", 51.5, -0.12, "Europe/London", "GBP"
	l.Policy.HoldTTL = parking.Duration(3 * time.Minute)
	if err := s.UpdateLot(ctx, &l); err != nil {
		t.Fatalf("UpdateLot: %v", err)
	}
	if got, _ := s.Lot(ctx, l.ID); !reflect.DeepEqual(got, l) {
		t.Errorf("Lot() after update = %+v; want %+v", got, l)
	}
	missing := l
	missing.ID = "lot_missing"
	if err := s.UpdateLot(ctx, &missing); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("UpdateLot(missing) = %v; want ErrNotFound", err)
	}

	lv := f.Level
	lv.Name, lv.Ordinal, lv.Width, lv.Height = "Ground", 0, 120, 60
	if err := s.UpdateLevel(ctx, &lv); err != nil {
		t.Fatalf("UpdateLevel: %v", err)
	}
	if got, _ := s.Levels(ctx, f.Lot.ID); len(got) != 1 || got[0] != lv {
		t.Errorf("Levels() after update = %+v; want [%+v]", got, lv)
	}

	sp := f.Spots[0]
	sp.Label, sp.Size, sp.X, sp.Y, sp.Amenities = "M9", parking.Compact, 7, 8, []string{"ev"}
	if err := s.UpdateSpot(ctx, &sp); err != nil {
		t.Fatalf("UpdateSpot: %v", err)
	}
	if got, _ := s.Spot(ctx, sp.ID); !reflect.DeepEqual(got, sp) {
		t.Errorf("Spot() after update = %+v; want %+v", got, sp)
	}
	dup := f.Spots[1]
	dup.Label = "M9"
	if err := s.UpdateSpot(ctx, &dup); parking.ErrorCode(err) != parking.ECONFLICT {
		t.Errorf("UpdateSpot to a taken label = %v; want conflict", err)
	}
	gone := sp
	gone.ID = "spt_missing"
	if err := s.UpdateSpot(ctx, &gone); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("UpdateSpot(missing) = %v; want ErrNotFound", err)
	}
}

// testStaleUpdates: an update over a version that moved on (another update,
// or a spot's service change) is ErrStale and changes nothing; each success
// moves the version on by one.
func testStaleUpdates(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	if f.Lot.Version != 1 || f.Level.Version != 1 || f.Spots[0].Version != 1 {
		t.Fatalf("versions after Create* = %d, %d, %d; want 1", f.Lot.Version, f.Level.Version, f.Spots[0].Version)
	}

	a, b := f.Lot, f.Lot
	a.Name = "First"
	if err := s.UpdateLot(ctx, &a); err != nil || a.Version != 2 {
		t.Fatalf("UpdateLot = %v, version %d; want version 2", err, a.Version)
	}
	b.Address = "Lost"
	if err := s.UpdateLot(ctx, &b); !errors.Is(err, parking.ErrStale) || b.Version != 1 {
		t.Errorf("UpdateLot(stale) = %v, version %d; want ErrStale, version 1", err, b.Version)
	}
	if got, _ := s.Lot(ctx, f.Lot.ID); !reflect.DeepEqual(got, a) {
		t.Errorf("Lot() after a stale update = %+v; want %+v", got, a)
	}

	lv, old := f.Level, f.Level
	lv.Name = "Upper"
	if err := s.UpdateLevel(ctx, &lv); err != nil || lv.Version != 2 {
		t.Fatalf("UpdateLevel = %v, version %d; want version 2", err, lv.Version)
	}
	old.Width = 1
	if err := s.UpdateLevel(ctx, &old); !errors.Is(err, parking.ErrStale) {
		t.Errorf("UpdateLevel(stale) = %v; want ErrStale", err)
	}
	if got, _ := s.Levels(ctx, f.Lot.ID); len(got) != 1 || got[0] != lv {
		t.Errorf("Levels() after a stale update = %+v; want [%+v]", got, lv)
	}

	sp := f.Spots[0]
	if err := s.SetSpotInService(ctx, sp.ID, false, T0); err != nil {
		t.Fatal(err)
	}
	sp.X = 42
	if err := s.UpdateSpot(ctx, &sp); !errors.Is(err, parking.ErrStale) {
		t.Errorf("UpdateSpot over a version read before a service change = %v; want ErrStale", err)
	}
	got, _ := s.Spot(ctx, sp.ID)
	if got.X == 42 || got.InService || got.Version != 2 {
		t.Errorf("Spot() = %+v; want x unchanged, out of service, version 2", got)
	}
	got.X = 42
	if err := s.UpdateSpot(ctx, &got); err != nil || got.Version != 3 {
		t.Errorf("UpdateSpot(fresh) = %v, version %d; want version 3", err, got.Version)
	}
	if again, _ := s.Spot(ctx, sp.ID); !reflect.DeepEqual(again, got) {
		t.Errorf("Spot() = %+v; want %+v", again, got)
	}
}

func testGates(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	in := parking.Gate{ID: parking.NewID("gat"), LotID: f.Lot.ID, Name: "North entry", Direction: parking.Entry, KeyHash: "k1", CreatedAt: T0}
	out := parking.Gate{ID: parking.NewID("gat"), LotID: f.Lot.ID, Name: "North exit", Direction: parking.Exit, KeyHash: "k2", CreatedAt: T0}
	for _, g := range []*parking.Gate{&in, &out} {
		if err := s.CreateGate(ctx, g); err != nil {
			t.Fatalf("CreateGate: %v", err)
		}
	}
	if got, err := s.Gates(ctx, f.Lot.ID); err != nil || len(got) != 2 {
		t.Errorf("Gates() = %+v, %v; want 2", got, err)
	}
	if got, err := s.GateByKeyHash(ctx, "k2"); err != nil || got != out {
		t.Errorf("GateByKeyHash(k2) = %+v, %v; want %+v", got, err, out)
	}
	if _, err := s.GateByKeyHash(ctx, "nope"); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("GateByKeyHash(unknown) = %v; want ErrNotFound", err)
	}
}

func testIdempotencyKeys(t *testing.T, s parking.Store) {
	u := MustUser(t, s, "ada@example.com")
	other := MustUser(t, s, "bob@example.com")
	k := parking.IdempotencyKey{UserID: u.ID, Key: "k-1", RequestHash: "h1", CreatedAt: T0, ExpiresAt: T0.Add(24 * time.Hour)}
	stale := T0.Add(-time.Minute)

	got, claimed, err := s.ClaimIdempotencyKey(ctx, k, stale)
	if err != nil || !claimed || got.StatusCode != 0 {
		t.Fatalf("first Claim = %+v, %v, %v; want claimed, in flight", got, claimed, err)
	}
	got, claimed, err = s.ClaimIdempotencyKey(ctx, k, stale)
	if err != nil || claimed || got.StatusCode != 0 || got.RequestHash != "h1" {
		t.Errorf("second Claim while in flight = %+v, %v, %v; want not claimed, in flight", got, claimed, err)
	}
	// Another user's identical key is their own.
	ok := k
	ok.UserID = other.ID
	if _, claimed, err := s.ClaimIdempotencyKey(ctx, ok, stale); err != nil || !claimed {
		t.Errorf("Claim of the same key by another user = %v, %v; want claimed", claimed, err)
	}
	body := []byte(`{"id":"res_1"}` + "\n")
	if err := s.CompleteIdempotencyKey(ctx, u.ID, "k-1", 201, body); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	got, claimed, err = s.ClaimIdempotencyKey(ctx, k, stale)
	if err != nil || claimed || got.StatusCode != 201 || !bytes.Equal(got.Body, body) {
		t.Errorf("Claim after completion = %+v, %v, %v; want the stored 201 response", got, claimed, err)
	}

	// A released key can be claimed again.
	k2 := parking.IdempotencyKey{UserID: u.ID, Key: "k-2", RequestHash: "h2", CreatedAt: T0, ExpiresAt: T0.Add(24 * time.Hour)}
	s.ClaimIdempotencyKey(ctx, k2, stale)
	if err := s.ReleaseIdempotencyKey(ctx, u.ID, "k-2"); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if _, claimed, err := s.ClaimIdempotencyKey(ctx, k2, stale); err != nil || !claimed {
		t.Errorf("Claim after release = %v, %v; want claimed", claimed, err)
	}
	// An abandoned in-flight key is claimed anew once stale.
	later := k2
	later.CreatedAt = T0.Add(2 * time.Minute)
	if got, claimed, err := s.ClaimIdempotencyKey(ctx, later, T0.Add(time.Minute)); err != nil || !claimed || !got.CreatedAt.Equal(later.CreatedAt) {
		t.Errorf("Claim of a stale in-flight key = %+v, %v, %v; want claimed anew", got, claimed, err)
	}

	if n, err := s.Prune(ctx, parking.PruneIdempotencyKeys, T0.Add(25*time.Hour), 100); err != nil || n != 3 {
		t.Errorf("Prune(idempotency keys) = %d, %v; want 3", n, err)
	}
	if _, claimed, _ := s.ClaimIdempotencyKey(ctx, k, stale); !claimed {
		t.Errorf("Claim after expiry: not claimed; want claimed")
	}
}

func testHoldCompletesKey(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	start, end := T0.Add(time.Hour), T0.Add(2*time.Hour)
	k := parking.IdempotencyKey{UserID: u.ID, Key: "hold-1", RequestHash: "h", CreatedAt: T0, ExpiresAt: T0.Add(24 * time.Hour)}
	s.ClaimIdempotencyKey(ctx, k, T0)
	r := f.NewHold(T0, start, end)
	if err := s.Hold(ctx, r, []string{f.Spots[5].ID, f.Spots[6].ID}, completion(u.ID, "hold-1")); err != nil {
		t.Fatalf("Hold: %v", err)
	}
	got, _, _ := s.ClaimIdempotencyKey(ctx, k, T0)
	if got.StatusCode != 201 || got.ReservationID != r.ID || len(got.Body) != 0 {
		t.Errorf("key after Hold = %d %q %q; want 201 with reservation %s and no body yet", got.StatusCode, got.ReservationID, got.Body, r.ID)
	}
	// The response, written after the commit, is stored beside the id.
	body := []byte(`{"id":"` + r.ID + `"}` + "\n")
	if err := s.CompleteIdempotencyKey(ctx, u.ID, "hold-1", 201, body); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if got, _, _ := s.ClaimIdempotencyKey(ctx, k, T0); got.StatusCode != 201 || got.ReservationID != r.ID || !bytes.Equal(got.Body, body) {
		t.Errorf("key after Complete = %d %q %q; want 201, reservation %s, %q", got.StatusCode, got.ReservationID, got.Body, r.ID, body)
	}
	// A key completes once: the same claim books nothing more.
	again := f.NewHold(T0, start, end)
	if err := s.Hold(ctx, again, []string{f.Spots[7].ID}, completion(u.ID, "hold-1")); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("Hold with a completed key = %v; want ErrNotFound", err)
	}
	if _, err := s.Reservation(ctx, again.ID); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("Reservation after Hold with a completed key = %v; want ErrNotFound", err)
	}

	// A hold that fails leaves its key in flight, for the caller to settle.
	k2 := k
	k2.Key = "hold-2"
	s.ClaimIdempotencyKey(ctx, k2, T0)
	if err := s.Hold(ctx, f.NewHold(T0, start, end), []string{f.Spots[5].ID}, completion(u.ID, "hold-2")); !errors.Is(err, parking.ErrSpotUnavailable) {
		t.Fatalf("Hold on a taken spot = %v; want ErrSpotUnavailable", err)
	}
	if got, _, _ := s.ClaimIdempotencyKey(ctx, k2, T0); got.StatusCode != 0 || got.ReservationID != "" {
		t.Errorf("key after a failed Hold = %d %q; want still in flight", got.StatusCode, got.ReservationID)
	}

	// A key claimed anew after its expiry forgets the reservation.
	fresh := k
	fresh.CreatedAt, fresh.ExpiresAt = T0.Add(25*time.Hour), T0.Add(49*time.Hour)
	if got, claimed, err := s.ClaimIdempotencyKey(ctx, fresh, T0.Add(24*time.Hour)); err != nil || !claimed || got.ReservationID != "" {
		t.Errorf("Claim after expiry = %+v, %v, %v; want claimed, no reservation", got, claimed, err)
	}
	if got, _, _ := s.ClaimIdempotencyKey(ctx, fresh, T0.Add(24*time.Hour)); got.StatusCode != 0 || got.ReservationID != "" || len(got.Body) != 0 {
		t.Errorf("key claimed anew = %d %q %q; want in flight, nothing kept", got.StatusCode, got.ReservationID, got.Body)
	}
}

// completion completes a key claimed at T0 (as mustClaimKey claims it) with 201.
func completion(userID, key string) *parking.KeyCompletion {
	return &parking.KeyCompletion{UserID: userID, Key: key, ClaimedAt: T0, Status: 201}
}

// testHoldKeyOneSpot covers the single-candidate path with a key, which
// testHoldCompletesKey reaches only with holds that fail.
func testHoldKeyOneSpot(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	mustClaimKey(t, s, u.ID, "k")
	r := f.NewHold(T0, T0.Add(time.Hour), T0.Add(2*time.Hour))
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

// testHoldKeyMissing: a key that is not recorded cannot be completed, so the
// hold does not go in either; otherwise a retry could claim the key anew and
// book a second spot.
func testHoldKeyMissing(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	for _, candidates := range [][]string{{f.Spots[5].ID}, {f.Spots[5].ID, f.Spots[6].ID}} {
		r := f.NewHold(T0, T0.Add(time.Hour), T0.Add(2*time.Hour))
		if err := s.Hold(ctx, r, candidates, completion(u.ID, "never-claimed")); !errors.Is(err, parking.ErrNotFound) || r.SpotID != "" {
			t.Errorf("Hold(%d candidates) with an unrecorded key = %v on %q; want ErrNotFound, no spot", len(candidates), err, r.SpotID)
		}
		if _, err := s.Reservation(ctx, r.ID); !errors.Is(err, parking.ErrNotFound) {
			t.Errorf("Reservation after Hold with an unrecorded key = %v; want ErrNotFound", err)
		}
	}
}

// testHoldKeyTakenOver: a request whose key a retry claimed anew (the request
// looked abandoned) no longer holds it: its hold does not go in, and the key
// stays the retry's, in flight, for the retry's own hold to complete.
func testHoldKeyTakenOver(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	for i, candidates := range [][]string{{f.Spots[5].ID}, {f.Spots[5].ID, f.Spots[6].ID}} {
		key := fmt.Sprint("k", i)
		mustClaimKey(t, s, u.ID, key)
		retried := parking.IdempotencyKey{UserID: u.ID, Key: key, RequestHash: "h", CreatedAt: T0.Add(3 * time.Minute), ExpiresAt: T0.Add(24 * time.Hour)}
		if _, claimed, err := s.ClaimIdempotencyKey(ctx, retried, T0.Add(time.Minute)); err != nil || !claimed {
			t.Fatalf("Claim of a stale key = %v, %v; want claimed anew", claimed, err)
		}
		first := f.NewHold(T0, T0.Add(time.Hour), T0.Add(2*time.Hour))
		if err := s.Hold(ctx, first, candidates, completion(u.ID, key)); !errors.Is(err, parking.ErrNotFound) || first.SpotID != "" {
			t.Errorf("Hold(%d candidates) with a key taken over = %v on %q; want ErrNotFound, no spot", len(candidates), err, first.SpotID)
		}
		if _, err := s.Reservation(ctx, first.ID); !errors.Is(err, parking.ErrNotFound) {
			t.Errorf("Reservation after Hold with a key taken over = %v; want ErrNotFound", err)
		}
		retryHold := f.NewHold(T0.Add(3*time.Minute), T0.Add(time.Hour), T0.Add(2*time.Hour))
		done := &parking.KeyCompletion{UserID: u.ID, Key: key, ClaimedAt: retried.CreatedAt, Status: 201}
		if err := s.Hold(ctx, retryHold, candidates, done); err != nil {
			t.Fatalf("the retry's Hold(%d candidates) = %v; want nil", len(candidates), err)
		}
		got, _, _ := s.ClaimIdempotencyKey(ctx, retried, T0.Add(time.Minute))
		if got.StatusCode != 201 || got.ReservationID != retryHold.ID {
			t.Errorf("key after the retry's Hold = %d %q; want 201 with %s", got.StatusCode, got.ReservationID, retryHold.ID)
		}
		MustChange(t, s, retryHold.ID, parking.StatusHeld, parking.StatusCancelled, T0.Add(3*time.Minute))
	}
}

// recordKey records a key that nobody claimed (parking.KeyRecord) at T0,
// with a response naming the reservation and its spot.
func recordKey(userID, key string) *parking.KeyCompletion {
	return &parking.KeyCompletion{UserID: userID, Key: key, ClaimedAt: T0, Status: 201, Record: &parking.KeyRecord{
		RequestHash: "h", ExpiresAt: T0.Add(24 * time.Hour), StaleBefore: T0.Add(-time.Minute),
		Body: func(r parking.Reservation) ([]byte, error) { return []byte(r.ID + " on " + r.SpotID), nil },
	}}
}

// mustRecordedKey returns a key's record, which must hold 201 and the
// response recordKey renders of r.
func mustRecordedKey(t *testing.T, s parking.Store, userID, key string, r *parking.Reservation) {
	t.Helper()
	got, err := s.IdempotencyKey(ctx, userID, key)
	if err != nil || got.StatusCode != 201 || got.ReservationID != r.ID || string(got.Body) != r.ID+" on "+r.SpotID ||
		got.RequestHash != "h" || !got.CreatedAt.Equal(T0) || !got.ExpiresAt.Equal(T0.Add(24*time.Hour)) {
		t.Errorf("IdempotencyKey(%s) = %+v, %v; want 201 with %s and %q", key, got, err, r.ID, r.ID+" on "+r.SpotID)
	}
}

// testHoldRecordsKey: a hold records a key nobody claimed in its own
// transaction, completed with the response rendered for the spot it took; a
// key recorded already books nothing more, and a hold that fails records
// nothing.
func testHoldRecordsKey(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	start, end := T0.Add(time.Hour), T0.Add(2*time.Hour)
	for i, candidates := range [][]string{{f.Spots[5].ID}, {f.Spots[6].ID, f.Spots[7].ID}} {
		key := fmt.Sprint("rec-", i)
		r := f.NewHold(T0, start, end)
		if err := s.Hold(ctx, r, candidates, recordKey(u.ID, key)); err != nil || r.SpotID != candidates[0] {
			t.Fatalf("Hold(%d candidates) recording a key = %v on %q; want nil on %s", len(candidates), err, r.SpotID, candidates[0])
		}
		mustRecordedKey(t, s, u.ID, key, r)
		again := f.NewHold(T0, start.Add(4*time.Hour), end.Add(4*time.Hour))
		if err := s.Hold(ctx, again, candidates, recordKey(u.ID, key)); !errors.Is(err, parking.ErrKeyTaken) || again.SpotID != "" {
			t.Errorf("Hold(%d candidates) with a recorded key = %v on %q; want ErrKeyTaken, no spot", len(candidates), err, again.SpotID)
		}
		if _, err := s.Reservation(ctx, again.ID); !errors.Is(err, parking.ErrNotFound) {
			t.Errorf("Reservation after Hold with a recorded key = %v; want ErrNotFound", err)
		}
		mustRecordedKey(t, s, u.ID, key, r)
	}

	// "Any spot" past a taken first choice: the response names the spot taken.
	r := f.NewHold(T0, start, end)
	if err := s.Hold(ctx, r, []string{f.Spots[5].ID, f.Spots[8].ID}, recordKey(u.ID, "rec-next")); err != nil || r.SpotID != f.Spots[8].ID {
		t.Fatalf("Hold past a taken spot = %v on %q; want nil on %s", err, r.SpotID, f.Spots[8].ID)
	}
	mustRecordedKey(t, s, u.ID, "rec-next", r)

	for _, candidates := range [][]string{{f.Spots[5].ID}, {f.Spots[5].ID, f.Spots[6].ID}} {
		failed := f.NewHold(T0, start, end)
		if err := s.Hold(ctx, failed, candidates, recordKey(u.ID, "rec-failed")); !errors.Is(err, parking.ErrSpotUnavailable) {
			t.Fatalf("Hold(%d candidates) on taken spots = %v; want ErrSpotUnavailable", len(candidates), err)
		}
		if got, err := s.IdempotencyKey(ctx, u.ID, "rec-failed"); !errors.Is(err, parking.ErrNotFound) {
			t.Errorf("IdempotencyKey after a failed Hold = %+v, %v; want ErrNotFound", got, err)
		}
	}
	if _, err := s.IdempotencyKey(ctx, other(t, s).ID, "rec-0"); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("IdempotencyKey of another user's key = %v; want ErrNotFound", err)
	}
}

// other creates a second user.
func other(t *testing.T, s parking.Store) parking.User { return MustUser(t, s, "bob@example.com") }

// testHoldRecordsLapsedKey: a record in flight claimed by a request still
// running takes no hold, but one its request abandoned, or one expired, is
// replaced by the hold's.
func testHoldRecordsLapsedKey(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	start, end := T0.Add(time.Hour), T0.Add(2*time.Hour)
	mustClaimKey(t, s, u.ID, "running")
	abandoned := parking.IdempotencyKey{UserID: u.ID, Key: "abandoned", RequestHash: "old", CreatedAt: T0.Add(-10 * time.Minute), ExpiresAt: T0.Add(24 * time.Hour)}
	expired := parking.IdempotencyKey{UserID: u.ID, Key: "expired", RequestHash: "old", CreatedAt: T0.Add(-48 * time.Hour), ExpiresAt: T0}
	for _, k := range []parking.IdempotencyKey{abandoned, expired} {
		if _, claimed, err := s.ClaimIdempotencyKey(ctx, k, k.CreatedAt); err != nil || !claimed {
			t.Fatalf("ClaimIdempotencyKey(%s) = %v, %v", k.Key, claimed, err)
		}
	}
	if err := s.CompleteIdempotencyKey(ctx, u.ID, "expired", 409, []byte("old answer")); err != nil {
		t.Fatalf("CompleteIdempotencyKey: %v", err)
	}
	for _, candidates := range [][]string{{f.Spots[5].ID}, {f.Spots[5].ID, f.Spots[6].ID}} {
		r := f.NewHold(T0, start, end)
		if err := s.Hold(ctx, r, candidates, recordKey(u.ID, "running")); !errors.Is(err, parking.ErrKeyTaken) {
			t.Errorf("Hold(%d candidates) with a key in flight = %v; want ErrKeyTaken", len(candidates), err)
		}
	}
	for i, key := range []string{"abandoned", "expired"} {
		r := f.NewHold(T0, start, end)
		spot := f.Spots[5+i].ID
		if err := s.Hold(ctx, r, []string{spot}, recordKey(u.ID, key)); err != nil {
			t.Fatalf("Hold with an %s key = %v; want nil", key, err)
		}
		mustRecordedKey(t, s, u.ID, key, r)
	}
}

func testLotAndSpotReservations(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	h := func(n int) time.Time { return T0.Add(time.Duration(n) * time.Hour) }
	a := f.MustHold(t, s, f.Spots[5].ID, T0, h(1), h(2))
	b := f.MustHold(t, s, f.Spots[5].ID, T0, h(3), h(4))
	c := f.MustHold(t, s, f.Spots[6].ID, T0, h(1), h(5))
	MustChange(t, s, c.ID, parking.StatusHeld, parking.StatusCancelled, T0)
	got, err := s.LotReservations(ctx, f.Lot.ID, h(0), h(3))
	ids := func(rs []parking.Reservation) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	if err != nil || !reflect.DeepEqual(ids(got), []string{a.ID, c.ID}) && !reflect.DeepEqual(ids(got), []string{c.ID, a.ID}) {
		t.Errorf("LotReservations([0h, 3h)) = %v, %v; want a and the cancelled c", ids(got), err)
	}
	got, err = s.SpotReservations(ctx, f.Spots[5].ID, T0)
	if err != nil || !reflect.DeepEqual(ids(got), []string{a.ID, b.ID}) {
		t.Errorf("SpotReservations(T0) = %v, %v; want [a b]", ids(got), err)
	}
	MustChange(t, s, a.ID, parking.StatusHeld, parking.StatusConfirmed, T0)
	got, err = s.SpotReservations(ctx, f.Spots[5].ID, T0.Add(10*time.Minute)) // b's hold has lapsed
	if err != nil || !reflect.DeepEqual(ids(got), []string{a.ID}) {
		t.Errorf("SpotReservations(T0+10m) = %v, %v; want [a]", ids(got), err)
	}
	if got, _ := s.SpotReservations(ctx, f.Spots[6].ID, T0); len(got) != 0 {
		t.Errorf("SpotReservations of a spot with only a cancelled one = %v; want none", ids(got))
	}
}

func testUserPaymentsEmpty(t *testing.T, s parking.Store) {
	u := MustUser(t, s, "ada@example.com")
	if got, err := s.UserPayments(ctx, u.ID); err != nil || got == nil || len(got) != 0 {
		t.Errorf("UserPayments() = %#v, %v; want an empty, non-nil list", got, err)
	}
}
