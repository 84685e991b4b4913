package report_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/report"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// TestReports: two days of a lot in New York (the fixture's zone), with a
// stay, a booking to come, a refunded cancellation and a car inside across
// midnight.
func TestReports(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		ctx := context.Background()
		s := b.Open(t)
		f := storetest.MustFixture(t, s)
		ny, _ := time.LoadLocation(f.Lot.TimeZone)
		at := func(day, hour int) time.Time { return time.Date(2030, 1, day, hour, 0, 0, 0, ny) }
		paid := func(r parking.Reservation, when time.Time) *parking.Payment {
			p := storetest.NewCharge(r, when)
			if err := s.CreatePayment(ctx, p); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: p.ID, From: []string{parking.PaymentPending},
				To: parking.PaymentSucceeded, At: when}); err != nil {
				t.Fatal(err)
			}
			return p
		}
		// A: 04:00-06:00 on the 7th, there and gone; paid at 03:00.
		a := f.MustHold(t, s, f.Spots[5].ID, at(7, 3), at(7, 4), at(7, 6))
		paid(a, at(7, 3))
		storetest.MustChange(t, s, a.ID, parking.StatusHeld, parking.StatusConfirmed, at(7, 3))
		storetest.MustChange(t, s, a.ID, parking.StatusConfirmed, parking.StatusCheckedIn, at(7, 4))
		storetest.MustChange(t, s, a.ID, parking.StatusCheckedIn, parking.StatusCompleted, at(7, 6))
		// B: 10:00-12:00 on the 8th, to come.
		bk := f.MustHold(t, s, f.Spots[6].ID, at(7, 5), at(8, 10), at(8, 12))
		storetest.MustChange(t, s, bk.ID, parking.StatusHeld, parking.StatusConfirmed, at(7, 5))
		// C: paid at 09:00 on the 7th, cancelled at once and refunded at 10:00.
		c := f.MustHold(t, s, f.Spots[7].ID, at(7, 9), at(8, 14), at(8, 16))
		charge := paid(c, at(7, 9))
		storetest.MustChange(t, s, c.ID, parking.StatusHeld, parking.StatusCancelled, at(7, 9).Add(time.Minute))
		refund := &parking.Payment{ID: parking.NewID("pay"), ReservationID: c.ID, Kind: parking.Refund, Amount: 600, Currency: "USD",
			Status: parking.PaymentPending, Gateway: "sandbox", RefundOf: charge.ID, CreatedAt: at(7, 10), UpdatedAt: at(7, 10)}
		if err := s.CreatePayment(ctx, refund); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: refund.ID, From: []string{parking.PaymentPending},
			To: parking.PaymentSucceeded, At: at(7, 10)}); err != nil {
			t.Fatal(err)
		}
		// D: 23:00 on the 7th to 01:00 on the 8th, still inside at 02:00.
		d := f.MustHold(t, s, f.Spots[8].ID, at(7, 20), at(7, 23), at(8, 1))
		storetest.MustChange(t, s, d.ID, parking.StatusHeld, parking.StatusConfirmed, at(7, 20))
		storetest.MustChange(t, s, d.ID, parking.StatusConfirmed, parking.StatusCheckedIn, at(7, 23))
		now := at(8, 2)

		days, err := report.Days(f.Lot, "2030-01-07", "2030-01-08")
		if err != nil || len(days) != 2 {
			t.Fatalf("Days = %v, %v", days, err)
		}
		rev, err := report.RevenueByDay(ctx, s, f.Lot, days)
		want := []report.Revenue{
			{Date: "2030-01-07", Currency: "USD", Charges: 2, Charged: 1200, Refunds: 1, Refunded: 600, Net: 600},
			{Date: "2030-01-08", Currency: "USD"},
		}
		if err != nil || !reflect.DeepEqual(rev, want) {
			t.Errorf("RevenueByDay = %+v, %v;\nwant %+v", rev, err, want)
		}
		occ, err := report.OccupancyByDay(ctx, s, f.Lot, days, now)
		wantOcc := []report.Occupancy{
			// A's 2 hours and D's first; A and D entered; one car at a time.
			{Date: "2030-01-07", Spots: 10, SpotHours: 240, BookedHours: 3, OccupiedHours: 3, Bookings: 2, Entries: 2, PeakCars: 1},
			// D's last booked hour and B's two; D inside from midnight to now.
			{Date: "2030-01-08", Spots: 10, SpotHours: 240, BookedHours: 3, OccupiedHours: 2, Bookings: 1, Entries: 0, PeakCars: 1},
		}
		if err != nil || !reflect.DeepEqual(occ, wantOcc) {
			t.Errorf("OccupancyByDay = %+v, %v;\nwant %+v", occ, err, wantOcc)
		}
		if p := occ[0].OccupiedPct(); p != 1.25 {
			t.Errorf("OccupiedPct = %v; want 1.25", p)
		}
		if _, err := report.Days(f.Lot, "2030-01-08", "2030-01-07"); err == nil {
			t.Errorf("Days(backwards) = nil error")
		}
	})
}

func TestDaysAcrossTheClockChange(t *testing.T) {
	lot := parking.Lot{ID: "lot_x", TimeZone: "America/New_York"}
	days, err := report.Days(lot, "2030-03-09", "2030-03-11")
	if err != nil {
		t.Fatal(err)
	}
	var hours []float64
	for _, d := range days {
		hours = append(hours, d.End.Sub(d.Start).Hours())
	}
	if !reflect.DeepEqual(hours, []float64{24, 23, 24}) {
		t.Errorf("day lengths around the March clock change = %v; want 24 23 24", hours)
	}
}
