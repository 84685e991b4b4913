package main

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"parkd/internal/parking"
)

// observed is what the run was told: the reservations answered 201 and the
// payments answered 201, by id, with their reservation.
type observed struct {
	reservations map[string]bool
	payments     map[string]string // payment id -> reservation id
}

// checkInvariants answers every violation of parkd's promises in what a lot
// holds at now: rs (the lot's reservations over the run's windows), payments
// by reservation (of every reservation in ours, the run's drivers), and what
// the run observed.
//
//   - No double booking: no two reservations that hold their spot (held and
//     not lapsed, confirmed, checked in) overlap on one spot.
//   - Every 201 is there: each reservation and payment answered 201 exists.
//   - Money matches: a confirmed, checked-in or completed reservation has
//     exactly one successful booking charge that is not refunded; no
//     reservation has more than one.
func checkInvariants(now time.Time, rs []parking.Reservation, payments map[string][]parking.Payment, ours map[string]bool, seen observed) []string {
	var bad []string
	bySpot := map[string][]parking.Reservation{}
	byID := map[string]parking.Reservation{}
	for _, r := range rs {
		byID[r.ID] = r
		if !r.Status.Active() || r.HoldExpired(now) || r.SpotID == "" {
			continue
		}
		bySpot[r.SpotID] = append(bySpot[r.SpotID], r)
	}
	for _, spot := range slices.Sorted(maps.Keys(bySpot)) {
		claims := bySpot[spot]
		slices.SortFunc(claims, func(a, b parking.Reservation) int { return a.StartsAt.Compare(b.StartsAt) })
		// Sorted by start, a claim overlaps an earlier one exactly when it
		// starts before the latest end so far.
		last := claims[0]
		for _, c := range claims[1:] {
			if c.StartsAt.Before(last.EndsAt) {
				bad = append(bad, fmt.Sprintf("double booking on spot %s: %s (%s, %s..%s) and %s (%s, %s..%s)", spot,
					last.ID, last.Status, last.StartsAt.Format(time.RFC3339), last.EndsAt.Format(time.RFC3339),
					c.ID, c.Status, c.StartsAt.Format(time.RFC3339), c.EndsAt.Format(time.RFC3339)))
			}
			if c.EndsAt.After(last.EndsAt) {
				last = c
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(seen.reservations)) {
		if _, ok := byID[id]; !ok {
			bad = append(bad, fmt.Sprintf("reservation %s was answered 201 but is not in the lot", id))
		}
	}
	found := map[string]parking.Payment{}
	for _, ps := range payments {
		for _, p := range ps {
			found[p.ID] = p
		}
	}
	for _, id := range slices.Sorted(maps.Keys(seen.payments)) {
		p, ok := found[id]
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("payment %s (reservation %s) was answered 201 but is not there", id, seen.payments[id]))
		case p.Status != parking.PaymentSucceeded || p.Kind != parking.Charge:
			bad = append(bad, fmt.Sprintf("payment %s was answered 201 but is a %s %s", id, p.Status, p.Kind))
		}
	}
	for _, r := range rs {
		if !ours[r.UserID] {
			continue
		}
		kept := keptCharges(payments[r.ID])
		paid := r.Status == parking.StatusConfirmed || r.Status == parking.StatusCheckedIn || r.Status == parking.StatusCompleted
		switch {
		case paid && kept != 1:
			bad = append(bad, fmt.Sprintf("reservation %s is %s with %d successful charges not refunded; want exactly 1", r.ID, r.Status, kept))
		case kept > 1:
			bad = append(bad, fmt.Sprintf("reservation %s (%s) was charged %d times", r.ID, r.Status, kept))
		}
	}
	return bad
}

// keptCharges counts a reservation's successful booking charges that no
// refund (succeeded, or pending: parkd retries it) returns.
func keptCharges(ps []parking.Payment) int {
	refunded := map[string]bool{}
	for _, p := range ps {
		if p.Kind == parking.Refund && p.Status != parking.PaymentFailed {
			refunded[p.RefundOf] = true
		}
	}
	n := 0
	for _, p := range ps {
		if p.Kind == parking.Charge && p.Purpose != parking.PurposeOverstay && p.Status == parking.PaymentSucceeded && !refunded[p.ID] {
			n++
		}
	}
	return n
}
