package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"parkd/internal/parking"
	"parkd/internal/store/storetest"
)

// BenchmarkBookings measures the availability query on a 450-spot lot with
// 3,000 reservations in the window, with and without 30 days of past
// reservations in the same lot.
func BenchmarkBookings(b *testing.B) {
	for _, historyDays := range []int{0, 30} {
		b.Run(fmt.Sprintf("history=%dd", historyDays), func(b *testing.B) {
			s := mustOpenSchema(b)
			f, spots := storetest.MustBenchLot(b, s, 450)
			lot := f.Lot
			ctx := context.Background()
			t0 := storetest.T0
			from, to := t0, t0.Add(24*time.Hour)
			rows := bookingRows(lot.ID, spots, from, 3000, historyDays)
			if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"reservations"},
				[]string{"id", "plate", "vehicle_size", "lot_id", "spot_id", "starts_at", "ends_at", "status",
					"amount", "currency", "hold_expires_at", "created_at", "updated_at"},
				pgx.CopyFromRows(rows)); err != nil {
				b.Fatalf("load reservations: %v", err)
			}
			// What autovacuum would have done by now: statistics for the
			// planner, and the visibility map that index-only scans need.
			if _, err := s.pool.Exec(ctx, `VACUUM ANALYZE reservations`); err != nil {
				b.Fatalf("vacuum: %v", err)
			}
			bs, err := s.Bookings(ctx, lot.ID, from, to, t0)
			if err != nil || len(bs) != len(spots) {
				b.Fatalf("Bookings() = %d spots, %v; want %d", len(bs), err, len(spots))
			}
			// The plan, not only the time, is what should hold on other machines.
			// Without history the table is small enough that a sequential scan
			// is the right plan; with it, the partial index must serve.
			planRows, _ := s.pool.Query(ctx, `EXPLAIN `+bookingsQuery, lot.ID, from, to, t0)
			plan, err := pgx.CollectRows(planRows, pgx.RowTo[string])
			if err != nil {
				b.Fatalf("explain Bookings: %v", err)
			}
			if text := strings.Join(plan, "\n"); historyDays > 0 && !strings.Contains(text, "Index Only Scan using reservations_lot_window") {
				b.Errorf("Bookings plan does not scan reservations_lot_window alone:\n%s", text)
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

// bookingRows is storetest.BookingLoad as rows of the reservations columns
// the benchmark inserts.
func bookingRows(lotID string, spots []parking.Spot, start time.Time, inWindow, historyDays int) [][]any {
	var rows [][]any
	for _, r := range storetest.BookingLoad(lotID, spots, start, inWindow, historyDays) {
		rows = append(rows, []any{r.ID, r.Plate, int16(r.VehicleSize), r.LotID, r.SpotID, r.StartsAt, r.EndsAt, string(r.Status),
			r.Amount, r.Currency, r.HoldExpiresAt, r.CreatedAt, r.UpdatedAt})
	}
	return rows
}
