package report

import (
	"context"
	"sort"
	"time"

	"parkd/internal/booking"
	"parkd/internal/parking"
)

// Service answers the reports of a lot to the operators who run it, for the
// pages and their CSV.
type Service struct {
	store  Store
	engine *booking.Service
	clock  parking.Clock
}

// New returns the reports service. engine says who runs which lot.
func New(store Store, engine *booking.Service, clock parking.Clock) *Service {
	return &Service{store: store, engine: engine, clock: clock}
}

// Report is everything an operator sees of a lot over a period of its
// calendar days: money, use and gate traffic by day, use by hour of the day
// and by level.
type Report struct {
	Lot       parking.Lot
	From, To  string // the first and last day, YYYY-MM-DD
	Days      []Day
	Revenue   []Revenue
	Occupancy []Occupancy
	Stays     []Stays
	Gate      []GateDay
	Hours     []Hour     // 24, hour 0 first
	Levels    []LevelUse // in the lot's order
	Total     Total
}

// Stays counts, on one day, the bookings whose drivers did not come (by the
// day they should have started) and the cars that stayed past their window
// (by the day it ended), with the hours they overstayed that day.
type Stays struct {
	Date          string
	NoShows       int
	Overstays     int
	OverstayHours float64
}

// GateDay is one day of the gate log: passes let in and out, and refusals.
type GateDay struct {
	Date                   string
	Entries, Exits, Denied int
}

// Hour is one hour of the day (such as 08:00-09:00, in the lot's zone) over
// the whole period: the hours cars spent inside during it, and so the cars
// inside on average at that hour.
type Hour struct {
	Hour          int
	OccupiedHours float64
	AvgCars       float64
	Pct           float64 // AvgCars as a percentage of the spots in service
}

// LevelUse is how one level was used over the period.
type LevelUse struct {
	Level         parking.Level
	Spots         int // in service now
	SpotHours     float64
	BookedHours   float64
	OccupiedHours float64
}

// OccupiedPct is OccupiedHours as a percentage of SpotHours.
func (l LevelUse) OccupiedPct() float64 { return pct(l.OccupiedHours, l.SpotHours) }

// Total sums the days of a report.
type Total struct {
	Charges, Refunds               int
	Charged, OverstayCharged       int64
	Refunded, Net                  int64
	Bookings, Entries              int
	SpotHours, BookedHours         float64
	OccupiedHours                  float64
	NoShows, Overstays             int
	OverstayHours                  float64
	GateEntries, GateExits, Denied int
}

// OccupiedPct is OccupiedHours as a percentage of SpotHours.
func (t Total) OccupiedPct() float64 { return pct(t.OccupiedHours, t.SpotHours) }

// MaxPeriod bounds a report asked for from a page: the reservations of the
// period are all read at once.
const MaxPeriod = 366

// LotReport returns the report of lot lotID from the first day through the
// last (YYYY-MM-DD, the lot's calendar days) for u, who must run the lot.
// Empty days default to the 7 days ending today.
func (s *Service) LotReport(ctx context.Context, u parking.User, lotID, first, last string) (Report, error) {
	lot, err := s.engine.ManagedLot(ctx, u, lotID)
	if err != nil {
		return Report{}, err
	}
	now := s.clock.Now()
	loc, err := time.LoadLocation(lot.TimeZone)
	if err != nil {
		return Report{}, err
	}
	if last == "" {
		last = now.In(loc).Format(time.DateOnly)
	}
	if first == "" {
		if t, err := time.ParseInLocation(time.DateOnly, last, loc); err == nil {
			first = t.AddDate(0, 0, -6).Format(time.DateOnly)
		}
	}
	days, err := Days(lot, first, last)
	if err != nil {
		return Report{}, parking.Errorf(parking.EINVALID, "%s", err.Error())
	}
	if len(days) > MaxPeriod {
		return Report{}, parking.Errorf(parking.EINVALID, "a report covers at most %d days", MaxPeriod)
	}
	return Compute(ctx, s.store, lot, days, now)
}

// Compute builds lot's report for days as of now.
func Compute(ctx context.Context, s Store, lot parking.Lot, days []Day, now time.Time) (Report, error) {
	rep := Report{Lot: lot, Days: days}
	if len(days) == 0 {
		return rep, nil
	}
	rep.From, rep.To = days[0].Date, days[len(days)-1].Date
	var err error
	if rep.Revenue, err = RevenueByDay(ctx, s, lot, days); err != nil {
		return rep, err
	}
	if rep.Occupancy, err = OccupancyByDay(ctx, s, lot, days, now); err != nil {
		return rep, err
	}
	start, end := days[0].Start, days[len(days)-1].End
	rs, err := s.LotReservations(ctx, lot.ID, start.Add(-lookBack), end)
	if err != nil {
		return rep, err
	}
	spots, err := s.Spots(ctx, lot.ID)
	if err != nil {
		return rep, err
	}
	levels, err := s.Levels(ctx, lot.ID)
	if err != nil {
		return rep, err
	}
	events, err := s.GateEvents(ctx, lot.ID, parking.GateEventFilter{From: start, To: end})
	if err != nil {
		return rep, err
	}
	loc, _ := time.LoadLocation(lot.TimeZone) // Days loaded it already

	rep.Stays = make([]Stays, len(days))
	rep.Gate = make([]GateDay, len(days))
	for i, d := range days {
		rep.Stays[i].Date, rep.Gate[i].Date = d.Date, d.Date
	}
	for _, e := range events {
		i := dayOf(days, e.At)
		if i < 0 {
			continue
		}
		switch {
		case e.Decision != parking.Open:
			rep.Gate[i].Denied++
		case e.Direction == parking.Entry:
			rep.Gate[i].Entries++
		default:
			rep.Gate[i].Exits++
		}
	}

	// Levels, and which level each spot is on.
	sort.SliceStable(levels, func(i, j int) bool { return levels[i].Ordinal < levels[j].Ordinal })
	levelOf := map[string]int{}
	for i, l := range levels {
		rep.Levels = append(rep.Levels, LevelUse{Level: l})
		levelOf[l.ID] = i
	}
	spotLevel := map[string]int{}
	inService := 0
	for _, sp := range spots {
		i, ok := levelOf[sp.LevelID]
		if !ok {
			continue
		}
		spotLevel[sp.ID] = i
		if sp.InService {
			inService++
			rep.Levels[i].Spots++
			rep.Levels[i].SpotHours += end.Sub(start).Hours()
		}
	}

	// Hours of the day: how many times each occurs in the period (a day the
	// clocks go back has two 01:00s), and the hours cars were inside in it.
	rep.Hours = make([]Hour, 24)
	var seen [24]int
	for t := hourStart(start, loc); t.Before(end); t = t.Add(time.Hour) {
		seen[t.In(loc).Hour()]++
	}

	for _, r := range rs {
		switch r.Status {
		case parking.StatusConfirmed, parking.StatusCheckedIn, parking.StatusCompleted, parking.StatusNoShow:
			if l, ok := spotLevel[r.SpotID]; ok {
				rep.Levels[l].BookedHours += overlap(r.StartsAt, r.EndsAt, start, end).Hours()
			}
		}
		if r.Status == parking.StatusNoShow {
			if i := dayOf(days, r.StartsAt); i >= 0 {
				rep.Stays[i].NoShows++
			}
		}
		if r.CheckedInAt == nil {
			continue
		}
		in, out := *r.CheckedInAt, now
		if r.CheckedOutAt != nil {
			out = *r.CheckedOutAt
		}
		if !out.After(in) {
			continue
		}
		if l, ok := spotLevel[r.SpotID]; ok {
			rep.Levels[l].OccupiedHours += overlap(in, out, start, end).Hours()
		}
		from, to := maxTime(in, start), minTime(out, end)
		for t := hourStart(from, loc); t.Before(to); t = t.Add(time.Hour) {
			rep.Hours[t.In(loc).Hour()].OccupiedHours += overlap(from, to, t, t.Add(time.Hour)).Hours()
		}
		if out.After(r.EndsAt) {
			if i := dayOf(days, r.EndsAt); i >= 0 {
				rep.Stays[i].Overstays++
			}
			for i, d := range days {
				rep.Stays[i].OverstayHours += overlap(maxTime(r.EndsAt, in), out, d.Start, d.End).Hours()
			}
		}
	}
	for h := range rep.Hours {
		rep.Hours[h].Hour = h
		if seen[h] > 0 {
			rep.Hours[h].AvgCars = rep.Hours[h].OccupiedHours / float64(seen[h])
			rep.Hours[h].Pct = pct(rep.Hours[h].AvgCars, float64(inService))
		}
	}

	t := &rep.Total
	for i := range days {
		rv, o, st, g := rep.Revenue[i], rep.Occupancy[i], rep.Stays[i], rep.Gate[i]
		t.Charges += rv.Charges
		t.Charged += rv.Charged
		t.OverstayCharged += rv.OverstayCharged
		t.Refunds += rv.Refunds
		t.Refunded += rv.Refunded
		t.Net += rv.Net
		t.Bookings += o.Bookings
		t.Entries += o.Entries
		t.SpotHours += o.SpotHours
		t.BookedHours += o.BookedHours
		t.OccupiedHours += o.OccupiedHours
		t.NoShows += st.NoShows
		t.Overstays += st.Overstays
		t.OverstayHours += st.OverstayHours
		t.GateEntries += g.Entries
		t.GateExits += g.Exits
		t.Denied += g.Denied
	}
	return rep, nil
}

// hourStart is the start of the hour t falls in, by the clocks of loc (which
// may be half an hour off UTC's).
func hourStart(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return t.Add(-time.Duration(l.Minute())*time.Minute - time.Duration(l.Second())*time.Second - time.Duration(l.Nanosecond()))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
