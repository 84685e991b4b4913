package mysql

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/store/mysql/mysqltest"
	"parkd/internal/store/storetest"
)

// benchLot creates a lot with n standard spots in a fresh database.
func benchLot(b testing.TB, n int) (*Store, parking.Lot, []parking.Spot) {
	b.Helper()
	s := mustOpen(b, mysqltest.DatabaseDSN(b))
	f := storetest.MustFixture(b, s)
	spots := make([]parking.Spot, n)
	for i := range spots {
		spots[i] = parking.Spot{ID: parking.NewID("spt"), LotID: f.Lot.ID, LevelID: f.Level.ID,
			Label: fmt.Sprintf("B%04d", i), Size: parking.Standard, Amenities: []string{}, InService: true}
	}
	if err := s.CreateSpots(context.Background(), spots); err != nil {
		b.Fatalf("CreateSpots: %v", err)
	}
	return s, f.Lot, spots
}

// BenchmarkHold measures uncontended holds: every hold is on its own spot and
// window, so none waits for another's spot lock.
func BenchmarkHold(b *testing.B) {
	s, lot, spots := benchLot(b, 450)
	ctx := context.Background()
	t0 := storetest.T0
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			spot := spots[i%int64(len(spots))].ID
			start := t0.Add(time.Duration(i/int64(len(spots))) * time.Hour)
			r := &parking.Reservation{ID: parking.NewID("res"), Plate: "BENCH", VehicleSize: parking.Standard, LotID: lot.ID,
				StartsAt: start, EndsAt: start.Add(time.Hour), Status: parking.StatusHeld, Amount: 300, Currency: "USD",
				HoldExpiresAt: t0.Add(5 * time.Minute), CreatedAt: t0}
			if err := s.Hold(ctx, r, []string{spot}, nil); err != nil {
				b.Errorf("Hold: %v", err)
				return
			}
		}
	})
}

// BenchmarkBookings measures the availability query on a 450-spot lot with
// 3,000 reservations in the window, with and without 30 days of past
// reservations in the same lot, and checks that the plan reads the lot's
// window by index rather than the whole table.
func BenchmarkBookings(b *testing.B) {
	for _, historyDays := range []int{0, 30} {
		b.Run(fmt.Sprintf("history=%dd", historyDays), func(b *testing.B) {
			s, lot, spots := benchLot(b, 450)
			ctx := context.Background()
			t0 := storetest.T0
			from, to := t0, t0.Add(24*time.Hour)
			loadReservations(b, s, bookingRows(lot.ID, spots, from, 3000, historyDays))
			if _, err := s.db.ExecContext(ctx, `ANALYZE TABLE reservations`); err != nil {
				b.Fatalf("analyze: %v", err)
			}
			bs, err := s.Bookings(ctx, lot.ID, from, to, t0)
			if err != nil || len(bs) != len(spots) {
				b.Fatalf("Bookings() = %d spots, %v; want %d", len(bs), err, len(spots))
			}
			rows, err := s.db.QueryContext(ctx, `EXPLAIN `+bookingsQuery, lot.ID, ts(from), ts(to), ts(t0), ts(t0), lot.ID, lot.ID, ts(t0), ts(to))
			if err != nil {
				b.Fatalf("explain: %v", err)
			}
			cols, _ := rows.Columns()
			var plan []string // the index each step reads
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					b.Fatal(err)
				}
				for i, c := range cols {
					if c == "key" || c == "Extra" {
						plan = append(plan, fmt.Sprintf("%s", vals[i]))
					}
				}
			}
			rows.Close()
			// The plan, not only the time, is what should hold on other
			// machines: the lot's window read from reservations_lot_window
			// alone, whatever the history beside it.
			if text := strings.Join(plan, " "); !strings.Contains(text, "reservations_lot_window Using where; Using index") {
				b.Errorf("Bookings plan (index, extra per step) = %v; want an index-only scan of reservations_lot_window", plan)
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := s.Bookings(ctx, lot.ID, from, to, t0); err != nil {
					b.Fatalf("Bookings: %v", err)
				}
			}
		})
	}
}

// loadReservations inserts rows (bookingRows) a thousand at a time.
func loadReservations(b testing.TB, s *Store, rows [][]any) {
	b.Helper()
	const batch = 1000
	for start := 0; start < len(rows); start += batch {
		part := rows[start:min(start+batch, len(rows))]
		var args []any
		for _, r := range part {
			args = append(args, r...)
		}
		_, err := s.db.ExecContext(context.Background(), `INSERT INTO reservations (id, plate, vehicle_size, lot_id, spot_id,
				starts_at, ends_at, status, amount, currency, hold_expires_at, created_at, updated_at)
			VALUES `+strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", len(part)), ", "), args...)
		if err != nil {
			b.Fatalf("load reservations: %v", err)
		}
	}
}

// bookingRows returns inWindow reservations spread over the spots in the day
// from start, in a mix of statuses (a fifth of them cancelled or lapsed, so
// not blocking), plus historyDays days of completed reservations before it:
// the same load as the PostgreSQL store's benchmark.
func bookingRows(lotID string, spots []parking.Spot, start time.Time, inWindow, historyDays int) [][]any {
	perSpot := (inWindow + len(spots) - 1) / len(spots)
	slot := 24 * time.Hour / time.Duration(perSpot)
	statuses := []parking.Status{parking.StatusConfirmed, parking.StatusCheckedIn, parking.StatusHeld, parking.StatusHeld, parking.StatusCancelled}
	var rows [][]any
	row := func(spot string, s, e time.Time, status parking.Status, holdExpires time.Time) {
		rows = append(rows, []any{parking.NewID("res"), "BENCH", int16(parking.Standard), lotID, spot, ts(s), ts(e), string(status),
			int64(300), "USD", ts(holdExpires), ts(s.Add(-time.Hour)), ts(s.Add(-time.Hour))})
	}
	for i := range inWindow {
		spot := spots[i%len(spots)].ID
		s := start.Add(time.Duration(i/len(spots)) * slot)
		status := statuses[(i+i/len(spots))%len(statuses)]
		holdExpires := start.Add(5 * time.Minute)
		if (i+i/len(spots))%len(statuses) == 3 {
			holdExpires = start.Add(-time.Minute) // a lapsed hold the sweeper has not reached
		}
		row(spot, s, s.Add(slot), status, holdExpires)
	}
	for d := 1; d <= historyDays; d++ {
		day := start.Add(-time.Duration(d) * 24 * time.Hour)
		for i := range inWindow {
			s := day.Add(time.Duration(i/len(spots)) * slot)
			row(spots[i%len(spots)].ID, s, s.Add(slot), parking.StatusCompleted, s)
		}
	}
	return rows
}
