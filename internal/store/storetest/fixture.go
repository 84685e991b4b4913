// Package storetest is the conformance suite every parking.Store backend runs,
// in the spirit of testing/fstest: Run checks behaviour, one fresh store per named
// subtest; RunConcurrency hammers the booking invariant from many goroutines.
//
// Every backend-neutral test of a store lives here. The suites run on every
// backend internal/store/teststore reaches, from this package's own test
// (go test ./internal/store/storetest/ -run 'TestConformance/postgres'); the
// backend packages test only what is theirs: migrations, pools, DSNs,
// triggers, query plans.
//
// It also holds the fixtures every store test starts from (MustFixture,
// MustUser, T0). It opens no store: internal/store/teststore does, for
// this suite and for every other package's tests. In short: storetest says
// what a store must do; teststore hands a test a store to do it with.
package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"parkd/internal/parking"
)

// Opener returns a fresh, empty, migrated store; it registers its own cleanup.
type Opener func(t *testing.T) parking.Store

// T0 is the suite's "now": a fixed instant, so results never depend on the machine's clock.
var T0 = time.Date(2030, 1, 7, 8, 0, 0, 0, time.UTC)

// Fixture is a small lot: one level with spots of every size.
type Fixture struct {
	Operator parking.Operator
	Lot      parking.Lot
	Level    parking.Level
	Spots    []parking.Spot // by size, then label: M1 M2 C1 C2 C3 S1 S2 S3 L1 L2
}

// SpotsOf returns the fixture's spots of one size, in label order.
func (f Fixture) SpotsOf(size parking.Size) []parking.Spot {
	var out []parking.Spot
	for _, s := range f.Spots {
		if s.Size == size {
			out = append(out, s)
		}
	}
	return out
}

// MustFixture creates a fixture lot in s.
func MustFixture(t testing.TB, s parking.Store) Fixture {
	t.Helper()
	ctx := context.Background()
	f := Fixture{Operator: parking.Operator{ID: parking.NewID("opr"), Name: "Test Parking Co", CreatedAt: T0}}
	if err := s.CreateOperator(ctx, &f.Operator); err != nil {
		t.Fatalf("CreateOperator: %v", err)
	}
	f.Lot = parking.Lot{ID: parking.NewID("lot"), OperatorID: f.Operator.ID, Name: "Test Garage", Address: "1 Test St",
		Lat: 40.7, Lng: -74, TimeZone: "America/New_York", Currency: "USD", Policy: parking.DefaultPolicy(), CreatedAt: T0}
	if err := s.CreateLot(ctx, &f.Lot); err != nil {
		t.Fatalf("CreateLot: %v", err)
	}
	f.Level = parking.Level{ID: parking.NewID("lvl"), LotID: f.Lot.ID, Name: "Level 1", Ordinal: 1, Width: 100, Height: 50}
	if err := s.CreateLevel(ctx, &f.Level); err != nil {
		t.Fatalf("CreateLevel: %v", err)
	}
	counts := []struct {
		size   parking.Size
		prefix string
		n      int
	}{{parking.Motorcycle, "M", 2}, {parking.Compact, "C", 3}, {parking.Standard, "S", 3}, {parking.Large, "L", 2}}
	for _, c := range counts {
		for i := 1; i <= c.n; i++ {
			f.Spots = append(f.Spots, parking.Spot{ID: parking.NewID("spt"), LotID: f.Lot.ID, LevelID: f.Level.ID,
				Label: fmt.Sprintf("%s%d", c.prefix, i), Size: c.size, Lat: 40.7, Lng: -74, X: float64(i * 3), Y: 5,
				Amenities: []string{}, InService: true})
		}
	}
	if err := s.CreateSpots(ctx, f.Spots); err != nil {
		t.Fatalf("CreateSpots: %v", err)
	}
	return f
}

// MustAddSpots adds n standard spots to the fixture's lot (none when n <= 0).
func (f *Fixture) MustAddSpots(t testing.TB, s parking.Store, n int) {
	t.Helper()
	var spots []parking.Spot
	for i := range n {
		spots = append(spots, parking.Spot{ID: parking.NewID("spt"), LotID: f.Lot.ID, LevelID: f.Level.ID,
			Label: fmt.Sprintf("X%d", len(f.Spots)+i+1), Size: parking.Standard, Lat: 40.7, Lng: -74, X: float64(i), Y: 20,
			Amenities: []string{}, InService: true})
	}
	if len(spots) == 0 {
		return
	}
	if err := s.CreateSpots(context.Background(), spots); err != nil {
		t.Fatalf("CreateSpots: %v", err)
	}
	f.Spots = append(f.Spots, spots...)
}

// NewHold returns a held reservation for the fixture's lot over [start, end),
// created at now, ready for Store.Hold.
func (f Fixture) NewHold(now, start, end time.Time) *parking.Reservation {
	return &parking.Reservation{
		ID: parking.NewID("res"), Plate: "TEST-1", VehicleSize: parking.Standard, LotID: f.Lot.ID,
		StartsAt: start, EndsAt: end, Status: parking.StatusHeld, Amount: 600, Currency: f.Lot.Currency,
		HoldExpiresAt: now.Add(5 * time.Minute), CreatedAt: now, UpdatedAt: now,
	}
}

// MustHold holds spotID for [start, end) at now, failing the test on error.
func (f Fixture) MustHold(t testing.TB, s parking.Store, spotID string, now, start, end time.Time) parking.Reservation {
	t.Helper()
	r := f.NewHold(now, start, end)
	if err := s.Hold(context.Background(), r, []string{spotID}, nil); err != nil {
		t.Fatalf("Hold(%s, [%v, %v)) = %v; want nil", spotID, start, end, err)
	}
	return *r
}

// MustChange applies a status change, failing the test on error.
func MustChange(t testing.TB, s parking.Store, id string, from, to parking.Status, at time.Time) parking.Reservation {
	t.Helper()
	r, err := s.ChangeStatus(context.Background(), parking.StatusChange{ID: id, From: []parking.Status{from}, To: to, At: at})
	if err != nil {
		t.Fatalf("ChangeStatus(%s, %s->%s) = %v; want nil", id, from, to, err)
	}
	return r
}
