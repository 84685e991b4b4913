package main

import (
	"bufio"
	"io"
	"testing"
	"time"
)

// BenchmarkLotHistory draws one lot's year of history (450 spots, about
// 20,000 reservations) and encodes it for COPY, as the PostgreSQL load does:
// the Go side's cost per lot.
func BenchmarkLotHistory(b *testing.B) {
	c := config{lots: 1, levels: 3, perLevel: 150, users: 20000, days: 365, perSpotDay: 0.1217, seed: 1}
	g := newGenerator(c, time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	lot := g.lot(0, "opr_x")
	enc := copyEncoder{w: bufio.NewWriter(io.Discard)}
	var rows int
	for b.Loop() {
		h := g.history(lot, 0)
		for _, part := range [][][]any{h.reservations, h.payments, h.gateEvents} {
			for _, row := range part {
				if err := enc.row(row); err != nil {
					b.Fatal(err)
				}
			}
			rows += len(part)
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
