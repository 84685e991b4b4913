package booking_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"parkd/internal/booking"
	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// benchLot makes a lot of n standard spots in a fresh store of backend b.
func benchLot(b *testing.B, be teststore.Backend, n int) (*booking.Service, parking.Store, parking.Lot, []parking.Spot) {
	b.Helper()
	s := be.Open(b)
	f := storetest.MustFixture(b, s)
	// A lot of its own, so "any spot" sees only these spots.
	lot := f.Lot
	lot.ID = parking.NewID("lot")
	if err := s.CreateLot(context.Background(), &lot); err != nil {
		b.Fatal(err)
	}
	spots := make([]parking.Spot, n)
	for i := range spots {
		spots[i] = parking.Spot{ID: parking.NewID("spt"), LotID: lot.ID, LevelID: f.Level.ID,
			Label: fmt.Sprintf("B%04d", i), Size: parking.Standard, Amenities: []string{}, InService: true}
	}
	if err := s.CreateSpots(context.Background(), spots); err != nil {
		b.Fatal(err)
	}
	return booking.New(s, parkingtest.NewClock(storetest.T0)), s, lot, spots
}

// BenchmarkHold measures holds through the engine on each backend:
//   - uncontended: every hold is for its own spot and window, so all succeed;
//   - contended: 64 clients ask for "any spot" among 10, twenty at a time for
//     the same window, so about half win and half get 409.
//
// Run: go test -run '^$' -bench BenchmarkHold -benchtime 5s ./internal/booking/
func BenchmarkHold(b *testing.B) {
	for _, be := range teststore.Backends(b) {
		b.Run(be.Name+"/uncontended", func(b *testing.B) {
			engine, _, lot, spots := benchLot(b, be, 450)
			var n atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					start := storetest.T0.Add(time.Duration(i/int64(len(spots))+1) * time.Hour)
					_, err := engine.Hold(context.Background(), booking.HoldRequest{LotID: lot.ID, SpotID: spots[i%int64(len(spots))].ID,
						VehicleSize: parking.Standard, Plate: "BENCH", StartsAt: start, EndsAt: start.Add(time.Hour)})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "holds/s")
		})
		b.Run(be.Name+"/contended", func(b *testing.B) {
			engine, _, lot, _ := benchLot(b, be, 10)
			var n, won atomic.Int64
			b.SetParallelism(32) // 32 x GOMAXPROCS(2) = 64 clients
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					slot := n.Add(1) / 20
					start := storetest.T0.Add(time.Duration(slot+1) * time.Hour)
					_, err := engine.Hold(context.Background(), booking.HoldRequest{LotID: lot.ID,
						VehicleSize: parking.Standard, Plate: "BENCH", StartsAt: start, EndsAt: start.Add(time.Hour)})
					switch {
					case err == nil:
						won.Add(1)
					case !errors.Is(err, parking.ErrNoSpotAvailable):
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "attempts/s")
			b.ReportMetric(float64(won.Load())/b.Elapsed().Seconds(), "holds/s")
			b.ReportMetric(float64(won.Load())/float64(b.N), "won/attempt")
		})
	}
}

// BenchmarkAvailability measures one availability call for a 450-spot lot with
// 3,000 reservations in the asked day (7 three-hour bookings on most spots,
// every other one confirmed), on each backend.
//
// Run: go test -run '^$' -bench BenchmarkAvailability ./internal/booking/
func BenchmarkAvailability(b *testing.B) {
	for _, be := range teststore.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			engine, store, lot, spots := benchLot(b, be, 450)
			ctx := context.Background()
			for i := range 3000 {
				start := storetest.T0.Add(time.Duration(i/len(spots))*3*time.Hour + time.Hour)
				r, err := engine.Hold(ctx, booking.HoldRequest{LotID: lot.ID, SpotID: spots[i%len(spots)].ID,
					VehicleSize: parking.Standard, Plate: "BENCH", StartsAt: start, EndsAt: start.Add(3 * time.Hour)})
				if err != nil {
					b.Fatal(err)
				}
				if i%2 == 0 {
					if _, err := store.ChangeStatus(ctx, parking.StatusChange{ID: r.ID, From: []parking.Status{parking.StatusHeld},
						To: parking.StatusConfirmed, At: storetest.T0}); err != nil {
						b.Fatal(err)
					}
				}
			}
			from, to := storetest.T0, storetest.T0.Add(24*time.Hour)
			b.ResetTimer()
			for b.Loop() {
				a, err := engine.Availability(ctx, lot.ID, booking.SpotFilter{}, from, to)
				if err != nil || len(a.Spots) != 450 {
					b.Fatalf("Availability = %d spots, %v", len(a.Spots), err)
				}
			}
		})
	}
}
