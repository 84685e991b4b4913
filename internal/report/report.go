// Package report computes operators' reports from the store: a lot's revenue
// by day and its occupancy by day, each day a calendar day of the lot's own
// time zone.
package report

import (
	"context"
	"fmt"
	"sort"
	"time"

	"parkd/internal/parking"
)

// Store is what the reports read.
type Store interface {
	LotPayments(ctx context.Context, lotID string, from, to time.Time) ([]parking.Payment, error)
	LotReservations(ctx context.Context, lotID string, from, to time.Time) ([]parking.Reservation, error)
	Spots(ctx context.Context, lotID string) ([]parking.Spot, error)
	Levels(ctx context.Context, lotID string) ([]parking.Level, error)
	GateEvents(ctx context.Context, lotID string, f parking.GateEventFilter) ([]parking.GateEvent, error)
}

// Day is one calendar day of a lot: [Start, End) in its time zone (23 or 25
// hours long where the clocks change).
type Day struct {
	Date       string // YYYY-MM-DD
	Start, End time.Time
}

// MaxDays is the longest report.
const MaxDays = 3660

// Days lists the calendar days first through last (YYYY-MM-DD) of the lot's
// time zone.
func Days(lot parking.Lot, first, last string) ([]Day, error) {
	loc, err := time.LoadLocation(lot.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("lot %s: time zone %q: %w", lot.ID, lot.TimeZone, err)
	}
	from, err := time.ParseInLocation(time.DateOnly, first, loc)
	if err != nil {
		return nil, fmt.Errorf("%q is not a date such as 2030-01-31", first)
	}
	to, err := time.ParseInLocation(time.DateOnly, last, loc)
	if err != nil {
		return nil, fmt.Errorf("%q is not a date such as 2030-01-31", last)
	}
	if to.Before(from) {
		return nil, fmt.Errorf("the report ends (%s) before it starts (%s)", last, first)
	}
	var days []Day
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		if len(days) == MaxDays {
			return nil, fmt.Errorf("a report covers at most %d days", MaxDays)
		}
		days = append(days, Day{Date: d.Format(time.DateOnly), Start: d, End: d.AddDate(0, 0, 1)})
	}
	return days, nil
}

// dayOf returns the index of the day t falls on, or -1.
func dayOf(days []Day, t time.Time) int {
	i := sort.Search(len(days), func(i int) bool { return days[i].End.After(t) })
	if i < len(days) && !t.Before(days[i].Start) {
		return i
	}
	return -1
}

// Revenue is a lot's money on one day: charges and refunds that succeeded
// that day, in minor units of Currency.
type Revenue struct {
	Date            string
	Currency        string
	Charges         int   // succeeded charges
	Charged         int64 // their total
	OverstayCharged int64 // of which for overstays
	Refunds         int   // succeeded refunds
	Refunded        int64 // their total
	Net             int64 // Charged - Refunded
}

// RevenueByDay reports a lot's revenue for each of days.
func RevenueByDay(ctx context.Context, s Store, lot parking.Lot, days []Day) ([]Revenue, error) {
	out := make([]Revenue, len(days))
	for i, d := range days {
		out[i] = Revenue{Date: d.Date, Currency: lot.Currency}
	}
	if len(days) == 0 {
		return out, nil
	}
	ps, err := s.LotPayments(ctx, lot.ID, days[0].Start, days[len(days)-1].End)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		// A payment moves only forward, so a succeeded one was last
		// updated when it succeeded.
		i := dayOf(days, p.UpdatedAt)
		if i < 0 || p.Status != parking.PaymentSucceeded {
			continue
		}
		r := &out[i]
		switch p.Kind {
		case parking.Charge:
			r.Charges++
			r.Charged += p.Amount
			if p.Purpose == parking.PurposeOverstay {
				r.OverstayCharged += p.Amount
			}
		case parking.Refund:
			r.Refunds++
			r.Refunded += p.Amount
		}
		r.Net = r.Charged - r.Refunded
	}
	return out, nil
}

// Occupancy is how a lot was used on one day.
type Occupancy struct {
	Date string
	// Spots are the lot's spots in service (as they are now: parkd keeps
	// no history of service changes), and SpotHours what they offer in the day.
	Spots     int
	SpotHours float64
	// BookedHours are the hours of the day covered by bookings that kept
	// their spot (confirmed, checked in, completed, or no-shows).
	BookedHours float64
	// OccupiedHours are the hours cars were actually inside: from entry to
	// exit, or to now for a car still inside.
	OccupiedHours float64
	Bookings      int // such bookings starting that day
	Entries       int // cars that entered that day
	PeakCars      int // the most cars inside at once
}

// BookedPct and OccupiedPct are the hours as percentages of SpotHours.
func (o Occupancy) BookedPct() float64   { return pct(o.BookedHours, o.SpotHours) }
func (o Occupancy) OccupiedPct() float64 { return pct(o.OccupiedHours, o.SpotHours) }

func pct(part, whole float64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * part / whole
}

// lookBack is how long before a report's first day a stay may have begun and
// still be counted: a car that entered then may be inside still.
const lookBack = 31 * 24 * time.Hour

// OccupancyByDay reports a lot's occupancy for each of days, as of now.
func OccupancyByDay(ctx context.Context, s Store, lot parking.Lot, days []Day, now time.Time) ([]Occupancy, error) {
	out := make([]Occupancy, len(days))
	if len(days) == 0 {
		return out, nil
	}
	spots, err := s.Spots(ctx, lot.ID)
	if err != nil {
		return nil, err
	}
	inService := 0
	for _, sp := range spots {
		if sp.InService {
			inService++
		}
	}
	for i, d := range days {
		out[i] = Occupancy{Date: d.Date, Spots: inService, SpotHours: float64(inService) * d.End.Sub(d.Start).Hours()}
	}
	rs, err := s.LotReservations(ctx, lot.ID, days[0].Start.Add(-lookBack), days[len(days)-1].End)
	if err != nil {
		return nil, err
	}
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, r := range rs {
		switch r.Status {
		case parking.StatusConfirmed, parking.StatusCheckedIn, parking.StatusCompleted, parking.StatusNoShow:
			for i, d := range days {
				out[i].BookedHours += overlap(r.StartsAt, r.EndsAt, d.Start, d.End).Hours()
			}
			if i := dayOf(days, r.StartsAt); i >= 0 {
				out[i].Bookings++
			}
		}
		if r.CheckedInAt == nil {
			continue
		}
		in, out2 := *r.CheckedInAt, now
		if r.CheckedOutAt != nil {
			out2 = *r.CheckedOutAt
		}
		if !out2.After(in) {
			continue
		}
		if i := dayOf(days, in); i >= 0 {
			out[i].Entries++
		}
		for i, d := range days {
			out[i].OccupiedHours += overlap(in, out2, d.Start, d.End).Hours()
		}
		edges = append(edges, edge{in, +1}, edge{out2, -1})
	}
	// The peak: walk entries and exits in time order (an exit before an
	// entry at the same instant: the spot was handed over).
	sort.Slice(edges, func(i, j int) bool {
		if !edges[i].at.Equal(edges[j].at) {
			return edges[i].at.Before(edges[j].at)
		}
		return edges[i].delta < edges[j].delta
	})
	inside := 0
	for _, e := range edges {
		inside += e.delta
		if e.delta > 0 {
			if i := dayOf(days, e.at); i >= 0 {
				out[i].PeakCars = max(out[i].PeakCars, inside)
			}
		}
	}
	// A day that starts with cars inside has at least them at its peak.
	for i, d := range days {
		n := 0
		for _, e := range edges {
			if !e.at.After(d.Start) {
				n += e.delta
			}
		}
		out[i].PeakCars = max(out[i].PeakCars, n)
	}
	return out, nil
}

func overlap(aStart, aEnd, bStart, bEnd time.Time) time.Duration {
	start, end := aStart, aEnd
	if bStart.After(start) {
		start = bStart
	}
	if bEnd.Before(end) {
		end = bEnd
	}
	if !end.After(start) {
		return 0
	}
	return end.Sub(start)
}
