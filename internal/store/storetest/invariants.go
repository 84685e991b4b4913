package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"parkd/internal/parking"
)

// Violations checks everything a store holds against parkd's invariants and
// describes each violation it finds; none means the data is sound. It reads
// through parking.Store only, so it checks any backend, and any database a
// backup was restored into:
//
//   - no two reservations that hold their spot (held, confirmed, checked in)
//     share it over overlapping windows;
//   - every reservation's spot is in its lot, and its user exists;
//   - nothing lost: every reservation has the event announcing its current
//     status, and every event names a reservation, spot and lot that exist;
//   - money: every payment belongs to its reservation, at most one charge per
//     reservation and purpose is live, and refunds pay back no more than
//     their charge.
func Violations(ctx context.Context, s parking.Store) ([]string, error) {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	lots, err := s.Lots(ctx)
	if err != nil {
		return nil, err
	}
	reservations := map[string]parking.Reservation{}
	spotLot := map[string]string{}
	for _, lot := range lots {
		spots, err := s.Spots(ctx, lot.ID)
		if err != nil {
			return nil, err
		}
		for _, sp := range spots {
			spotLot[sp.ID] = lot.ID
		}
		rs, err := s.LotReservations(ctx, lot.ID, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			return nil, err
		}
		bySpot := map[string][]parking.Reservation{}
		for _, r := range rs {
			reservations[r.ID] = r
			if spotLot[r.SpotID] != lot.ID {
				bad("reservation %s is on spot %s, which is not in its lot %s", r.ID, r.SpotID, lot.ID)
			}
			if r.Status.Active() {
				bySpot[r.SpotID] = append(bySpot[r.SpotID], r)
			}
			if r.UserID != "" {
				if _, err := s.User(ctx, r.UserID); errors.Is(err, parking.ErrNotFound) {
					bad("reservation %s belongs to user %s, who does not exist", r.ID, r.UserID)
				} else if err != nil {
					return nil, err
				}
			}
		}
		for spot, rs := range bySpot {
			sort.Slice(rs, func(i, j int) bool { return rs[i].StartsAt.Before(rs[j].StartsAt) })
			for i := 1; i < len(rs); i++ {
				for j := range i {
					if parking.Overlaps(rs[j].StartsAt, rs[j].EndsAt, rs[i].StartsAt, rs[i].EndsAt) {
						bad("spot %s is double-booked: %s (%s) and %s (%s) overlap", spot, rs[j].ID, rs[j].Status, rs[i].ID, rs[i].Status)
					}
				}
			}
		}
	}

	events, err := s.EventsSince(ctx, 0, nil, 1<<30)
	if err != nil {
		return nil, err
	}
	announced := map[string]bool{} // reservation id + " " + event type
	var last int64
	for _, e := range events {
		if e.Seq <= last {
			bad("event %d follows event %d: seqs must rise", e.Seq, last)
		}
		last = e.Seq
		if e.SpotID != "" && spotLot[e.SpotID] != e.LotID {
			bad("event %d (%s) names spot %s, which is not in lot %s", e.Seq, e.Type, e.SpotID, e.LotID)
		}
		if e.ReservationID == "" {
			continue
		}
		r, ok := reservations[e.ReservationID]
		switch {
		case !ok:
			bad("event %d (%s) names reservation %s, which does not exist", e.Seq, e.Type, e.ReservationID)
		case r.LotID != e.LotID:
			bad("event %d (%s) is in lot %s; its reservation %s is in lot %s", e.Seq, e.Type, e.LotID, r.ID, r.LotID)
		}
		announced[e.ReservationID+" "+e.Type] = true
	}

	ids := make([]string, 0, len(reservations))
	for id := range reservations {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		r := reservations[id]
		if typ := "reservation." + string(r.Status); !announced[r.ID+" "+typ] {
			bad("reservation %s is %s, but no %s event announces it", r.ID, r.Status, typ)
		}
		ps, err := s.ReservationPayments(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		live := map[string]int{}
		charges := map[string]parking.Payment{}
		refunded := map[string]int64{}
		for _, p := range ps {
			if p.ReservationID != r.ID {
				bad("payment %s is listed for reservation %s but names %s", p.ID, r.ID, p.ReservationID)
			}
			switch p.Kind {
			case parking.Charge:
				charges[p.ID] = p
				if p.Status == parking.PaymentPending || p.Status == parking.PaymentSucceeded {
					live[p.Purpose]++
				}
			case parking.Refund:
				if p.Status == parking.PaymentSucceeded {
					refunded[p.RefundOf] += p.Amount
				}
			}
		}
		for purpose, n := range live {
			if n > 1 {
				bad("reservation %s has %d live %s charges; at most one may be", r.ID, n, purpose)
			}
		}
		for _, p := range ps {
			if p.Kind != parking.Refund {
				continue
			}
			if c, ok := charges[p.RefundOf]; !ok {
				bad("refund %s pays back %s, which is no charge of reservation %s", p.ID, p.RefundOf, r.ID)
			} else if refunded[c.ID] > c.Amount {
				bad("charge %s of %d is refunded %d", c.ID, c.Amount, refunded[c.ID])
			}
		}
	}
	return out, nil
}

// withoutEvents is a store that has lost its outbox: Violations must notice.
type withoutEvents struct{ parking.Store }

func (withoutEvents) EventsSince(context.Context, int64, []int64, int) ([]parking.Event, error) {
	return nil, nil
}

func testViolations(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	if v, err := Violations(ctx, s); err != nil || len(v) != 0 {
		t.Fatalf("Violations(fixture) = %q, %v; want none", v, err)
	}
	// A history: a paid and completed stay, a refunded cancellation, a lapsed hold.
	done := f.MustCheckedIn(t, s, f.Spots[5].ID, T0.Add(time.Hour), T0.Add(2*time.Hour))
	MustChange(t, s, done.ID, parking.StatusCheckedIn, parking.StatusCompleted, T0.Add(90*time.Minute))
	r := heldFor(t, s, f, u, 6)
	p := mustCharge(t, s, r)
	if _, _, err := succeedAt(s, p, T0); err != nil {
		t.Fatal(err)
	}
	MustChange(t, s, r.ID, parking.StatusConfirmed, parking.StatusCancelled, T0)
	refund := newRefund(p, p.Amount)
	if err := s.CreatePayment(ctx, refund); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: refund.ID, From: []string{parking.PaymentPending},
		To: parking.PaymentSucceeded, At: T0}); err != nil {
		t.Fatal(err)
	}
	f.MustHold(t, s, f.Spots[7].ID, T0, T0.Add(time.Hour), T0.Add(2*time.Hour))
	if _, err := s.ExpireHolds(ctx, T0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if v, err := Violations(ctx, s); err != nil || len(v) != 0 {
		t.Errorf("Violations(a sound history) = %q, %v; want none", v, err)
	}
	v, err := Violations(ctx, withoutEvents{s})
	if err != nil || len(v) != 3 {
		t.Errorf("Violations(a store without its events) = %q, %v; want the 3 reservations unannounced", v, err)
	}
}
