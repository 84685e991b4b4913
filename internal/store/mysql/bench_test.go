package mysql

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/store/mysql/mysqltest"
	"parkd/internal/store/storetest"
)

// BenchmarkBookings measures the availability query on a 450-spot lot with
// 3,000 reservations in the window, with and without 30 days of past
// reservations in the same lot, and checks that the plan reads the lot's
// window by index rather than the whole table.
func BenchmarkBookings(b *testing.B) {
	for _, historyDays := range []int{0, 30} {
		b.Run(fmt.Sprintf("history=%dd", historyDays), func(b *testing.B) {
			s := mustOpen(b, mysqltest.DatabaseDSN(b))
			f, spots := storetest.MustBenchLot(b, s, 450)
			lot := f.Lot
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

// bookingRows is storetest.BookingLoad as rows of the reservations columns
// the benchmark inserts.
func bookingRows(lotID string, spots []parking.Spot, start time.Time, inWindow, historyDays int) [][]any {
	var rows [][]any
	for _, r := range storetest.BookingLoad(lotID, spots, start, inWindow, historyDays) {
		rows = append(rows, []any{r.ID, r.Plate, int16(r.VehicleSize), r.LotID, r.SpotID, ts(r.StartsAt), ts(r.EndsAt), string(r.Status),
			r.Amount, r.Currency, ts(r.HoldExpiresAt), ts(r.CreatedAt), ts(r.UpdatedAt)})
	}
	return rows
}
