package report_test

import (
	"context"
	"math"
	"math/rand"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/report"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// TestReportOfAGeneratedDay generates a day of a lot on every backend —
// bookings kept, overstayed, not used and cancelled, their charges, overstay
// charges and refunds, and the gate's log — and checks the report against
// sums the test makes itself from what it generated, minute by minute.
func TestReportOfAGeneratedDay(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		ctx := context.Background()
		s := b.Open(t)
		f := storetest.MustFixture(t, s)
		ny, _ := time.LoadLocation(f.Lot.TimeZone)
		dayStart := time.Date(2030, 1, 7, 0, 0, 0, 0, ny)
		dayEnd := dayStart.AddDate(0, 0, 1)
		at := func(min int) time.Time { return dayStart.Add(time.Duration(min) * time.Minute) }
		now := at(25 * 60) // 01:00 the next day

		// A second level, so that the report has two.
		l2 := parking.Level{ID: parking.NewID("lvl"), LotID: f.Lot.ID, Name: "Level 2", Ordinal: 2, Width: 100, Height: 50}
		if err := s.CreateLevel(ctx, &l2); err != nil {
			t.Fatal(err)
		}
		var up []parking.Spot
		for i := range 4 {
			up = append(up, parking.Spot{ID: parking.NewID("spt"), LotID: f.Lot.ID, LevelID: l2.ID, Label: "U" + string(rune('1'+i)),
				Size: parking.Standard, Lat: 40.7, Lng: -74, Amenities: []string{}, InService: true})
		}
		if err := s.CreateSpots(ctx, up); err != nil {
			t.Fatal(err)
		}
		spots := append(append([]parking.Spot{}, f.Spots...), up...)
		entry := parking.Gate{ID: parking.NewID("gat"), LotID: f.Lot.ID, Name: "In", Direction: parking.Entry, KeyHash: parking.NewID("k"), CreatedAt: storetest.T0}
		exit := parking.Gate{ID: parking.NewID("gat"), LotID: f.Lot.ID, Name: "Out", Direction: parking.Exit, KeyHash: parking.NewID("k"), CreatedAt: storetest.T0}
		for _, g := range []*parking.Gate{&entry, &exit} {
			if err := s.CreateGate(ctx, g); err != nil {
				t.Fatal(err)
			}
		}

		// What the test expects, summed as it generates.
		var charged, overstayCharged, refunded int64
		var charges, refunds, noShows, overstays, bookings, gateIn, gateOut, denied int
		var insideByMinute [24 * 60]int   // cars inside in each minute of the day
		insideByLevel := map[string]int{} // car minutes per level
		bookedByLevel := map[string]int{} // booked minutes per level
		onDay := func(t time.Time) bool { return !t.Before(dayStart) && t.Before(dayEnd) }
		pay := func(r parking.Reservation, kind, purpose string, amount int64, when time.Time) *parking.Payment {
			p := storetest.NewCharge(r, when)
			p.Kind, p.Purpose, p.Amount = kind, purpose, amount
			if err := s.CreatePayment(ctx, p); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: p.ID, From: []string{parking.PaymentPending},
				To: parking.PaymentSucceeded, At: when}); err != nil {
				t.Fatal(err)
			}
			if onDay(when) {
				if kind == parking.Refund {
					refunds++
					refunded += amount
				} else {
					charges++
					charged += amount
					if purpose == parking.PurposeOverstay {
						overstayCharged += amount
					}
				}
			}
			return p
		}
		gateEvent := func(g parking.Gate, r parking.Reservation, decision string, when time.Time) {
			ev := parking.GateEvent{ID: parking.NewID("gev"), LotID: f.Lot.ID, GateID: g.ID, Direction: g.Direction, ReservationID: r.ID,
				Decision: decision, Reason: "ok", At: when}
			if err := s.RecordGateEvent(ctx, &ev); err != nil {
				t.Fatal(err)
			}
			switch {
			case !onDay(when):
			case decision != parking.Open:
				denied++
			case g.Direction == parking.Entry:
				gateIn++
			default:
				gateOut++
			}
		}
		stay := func(level string, in, out time.Time) {
			// Whole minutes: every time the test makes is on one.
			from, to := max(0, int(in.Sub(dayStart).Minutes())), min(len(insideByMinute), int(out.Sub(dayStart).Minutes()))
			for m := from; m < to; m++ {
				insideByMinute[m]++
				insideByLevel[level]++
			}
		}

		rnd := rand.New(rand.NewSource(17))
		for si, sp := range spots {
			// Each spot's bookings follow one another from the evening before.
			cursor := -120 + rnd.Intn(8)*15
			for k := 0; cursor < 22*60; k++ {
				start := cursor + rnd.Intn(8)*15
				end := start + 60 + rnd.Intn(12)*15
				created := start - 180
				r := f.MustHold(t, s, sp.ID, at(created), at(start), at(end))
				kind := (si + k) % 5
				if si == 0 && end > 22*60 {
					kind = 5 // the last car of spot 0 is still inside
				}
				if kind == 3 { // cancelled while held: no charge, no booking kept
					storetest.MustChange(t, s, r.ID, parking.StatusHeld, parking.StatusCancelled, at(created+1))
					cursor = end
					continue
				}
				charge := pay(r, parking.Charge, parking.PurposeBooking, r.Amount, at(created))
				storetest.MustChange(t, s, r.ID, parking.StatusHeld, parking.StatusConfirmed, at(created))
				bookedMin := min(end, 24*60) - max(start, 0)
				if bookedMin > 0 {
					bookedByLevel[sp.LevelID] += bookedMin
				}
				if onDay(at(start)) {
					bookings++
				}
				out := end
				switch kind {
				case 2: // no-show, refunded in part
					storetest.MustChange(t, s, r.ID, parking.StatusConfirmed, parking.StatusNoShow, at(start+30))
					if onDay(at(start)) {
						noShows++
					}
					if r.Amount > 0 {
						pay(r, parking.Refund, parking.PurposeBooking, r.Amount/2, at(start+31)).RefundOf = charge.ID
					}
					cursor = end
					continue
				case 1: // overstays, and pays for it at the exit
					out = end + 10 + rnd.Intn(80)
				case 4: // a refused try first
					gateEvent(entry, r, parking.Deny, at(start-90))
				}
				in := start + rnd.Intn(20)
				storetest.MustChange(t, s, r.ID, parking.StatusConfirmed, parking.StatusCheckedIn, at(in))
				gateEvent(entry, r, parking.Open, at(in))
				if kind == 5 {
					stay(sp.LevelID, at(in), now)
					if now.After(at(end)) && onDay(at(end)) {
						overstays++
					}
					cursor = 24 * 60
					break
				}
				storetest.MustChange(t, s, r.ID, parking.StatusCheckedIn, parking.StatusCompleted, at(out))
				if out > end {
					pay(r, parking.Charge, parking.PurposeOverstay, int64(100+out-end), at(out))
					if onDay(at(end)) {
						overstays++
					}
				}
				gateEvent(exit, r, parking.Open, at(out))
				stay(sp.LevelID, at(in), at(out))
				cursor = out
			}
			if si == 0 && cursor < 22*60 {
				t.Fatal("spot 0 has no car inside at the end of the day")
			}
		}

		days, err := report.Days(f.Lot, "2030-01-07", "2030-01-07")
		if err != nil {
			t.Fatal(err)
		}
		rep, err := report.Compute(ctx, s, f.Lot, days, now)
		if err != nil {
			t.Fatalf("Compute = %v", err)
		}
		tot := rep.Total
		ints := []struct {
			name      string
			got, want int64
		}{
			{"charged", tot.Charged, charged},
			{"charges", int64(tot.Charges), int64(charges)},
			{"overstay charged", tot.OverstayCharged, overstayCharged},
			{"refunded", tot.Refunded, refunded},
			{"refunds", int64(tot.Refunds), int64(refunds)},
			{"net", tot.Net, charged - refunded},
			{"bookings", int64(tot.Bookings), int64(bookings)},
			{"no-shows", int64(tot.NoShows), int64(noShows)},
			{"overstays", int64(tot.Overstays), int64(overstays)},
			{"gate entries", int64(tot.GateEntries), int64(gateIn)},
			{"gate exits", int64(tot.GateExits), int64(gateOut)},
			{"gate refusals", int64(tot.Denied), int64(denied)},
		}
		for _, c := range ints {
			if c.got != c.want {
				t.Errorf("report %s = %d; want %d", c.name, c.got, c.want)
			}
		}
		if charges == 0 || refunds == 0 || noShows == 0 || overstays == 0 || denied == 0 || overstayCharged == 0 {
			t.Fatalf("the generated day lacks a case: %d charges, %d refunds, %d no-shows, %d overstays, %d refusals", charges, refunds, noShows, overstays, denied)
		}
		near := func(name string, got float64, wantMinutes int) {
			t.Helper()
			if want := float64(wantMinutes) / 60; math.Abs(got-want) > 1e-6 {
				t.Errorf("report %s = %.4f h; want %.4f h", name, got, want)
			}
		}
		carMinutes := 0
		for h := range 24 {
			m := 0
			for _, n := range insideByMinute[h*60 : h*60+60] {
				m += n
			}
			carMinutes += m
			near("occupied hours at "+time.Duration(h*int(time.Hour)).String(), rep.Hours[h].OccupiedHours, m)
		}
		near("occupied hours", tot.OccupiedHours, carMinutes)
		if len(rep.Levels) != 2 {
			t.Fatalf("report levels = %d; want 2", len(rep.Levels))
		}
		booked := 0
		for _, l := range rep.Levels {
			near(l.Level.Name+" occupied hours", l.OccupiedHours, insideByLevel[l.Level.ID])
			near(l.Level.Name+" booked hours", l.BookedHours, bookedByLevel[l.Level.ID])
			booked += bookedByLevel[l.Level.ID]
		}
		near("booked hours", tot.BookedHours, booked)
		if got, want := rep.Levels[1].Spots, len(up); got != want {
			t.Errorf("Level 2 spots = %d; want %d", got, want)
		}
		near("spot hours", tot.SpotHours, len(spots)*24*60)
	})
}
