package storetest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"parkd/internal/parking"
)

// MustBenchLot adds n standard spots to a fresh fixture in s and returns the
// fixture and those spots: the 450-spot lot of the seeds' garage for n = 450.
func MustBenchLot(b testing.TB, s parking.Store, n int) (Fixture, []parking.Spot) {
	b.Helper()
	f := MustFixture(b, s)
	before := len(f.Spots)
	f.MustAddSpots(b, s, n)
	return f, f.Spots[before:]
}

// BenchHold measures uncontended holds on a 450-spot lot: every hold is on its
// own spot and window, so none waits for another's.
func BenchHold(b *testing.B, s parking.Store) {
	f, spots := MustBenchLot(b, s, 450)
	ctx := context.Background()
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			spot := spots[i%int64(len(spots))].ID
			start := T0.Add(time.Duration(i/int64(len(spots))) * time.Hour)
			r := &parking.Reservation{ID: parking.NewID("res"), Plate: "BENCH", VehicleSize: parking.Standard, LotID: f.Lot.ID,
				StartsAt: start, EndsAt: start.Add(time.Hour), Status: parking.StatusHeld, Amount: 300, Currency: "USD",
				HoldExpiresAt: T0.Add(5 * time.Minute), CreatedAt: T0}
			if err := s.Hold(ctx, r, []string{spot}, nil); err != nil {
				b.Errorf("Hold: %v", err)
				return
			}
		}
	})
}

// BookingLoad returns inWindow reservations spread over the spots in the day
// from start, in a mix of statuses (a fifth of them cancelled or lapsed, so
// not blocking), plus historyDays days of completed reservations before it:
// the load each backend's availability benchmark inserts its own way.
func BookingLoad(lotID string, spots []parking.Spot, start time.Time, inWindow, historyDays int) []parking.Reservation {
	perSpot := (inWindow + len(spots) - 1) / len(spots)
	slot := 24 * time.Hour / time.Duration(perSpot)
	statuses := []parking.Status{parking.StatusConfirmed, parking.StatusCheckedIn, parking.StatusHeld, parking.StatusHeld, parking.StatusCancelled}
	var rs []parking.Reservation
	add := func(spot string, s, e time.Time, status parking.Status, holdExpires time.Time) {
		rs = append(rs, parking.Reservation{ID: parking.NewID("res"), Plate: "BENCH", VehicleSize: parking.Standard, LotID: lotID,
			SpotID: spot, StartsAt: s, EndsAt: e, Status: status, Amount: 300, Currency: "USD", HoldExpiresAt: holdExpires,
			CreatedAt: s.Add(-time.Hour), UpdatedAt: s.Add(-time.Hour)})
	}
	for i := range inWindow {
		spot := spots[i%len(spots)].ID
		s := start.Add(time.Duration(i/len(spots)) * slot)
		status := statuses[(i+i/len(spots))%len(statuses)]
		holdExpires := start.Add(5 * time.Minute)
		if (i+i/len(spots))%len(statuses) == 3 {
			holdExpires = start.Add(-time.Minute) // a lapsed hold the sweeper has not reached
		}
		add(spot, s, s.Add(slot), status, holdExpires)
	}
	for d := 1; d <= historyDays; d++ {
		day := start.Add(-time.Duration(d) * 24 * time.Hour)
		for i := range inWindow {
			s := day.Add(time.Duration(i/len(spots)) * slot)
			add(spots[i%len(spots)].ID, s, s.Add(slot), parking.StatusCompleted, s)
		}
	}
	return rs
}
