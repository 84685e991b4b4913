package booking

import (
	"context"
	"time"

	"parkd/internal/parking"
)

// ExtensionPlan is what extending a stay to a later end takes: the price of
// the extra time and the bookings to move out of its way.
type ExtensionPlan struct {
	Reservation parking.Reservation
	Lot         parking.Lot
	NewEnd      time.Time
	// Amount is the price of [StartsAt, NewEnd) less that of [StartsAt,
	// EndsAt) under the lot's rates, at the size the booking was priced at:
	// the daily cap applies to the whole stay.
	Amount int64
	// Moves put each booking that starts on the spot before NewEnd on another
	// spot that fits.
	Moves []parking.Move
}

// PlanExtension checks that r can end at newEnd instead and prices it. Only a
// confirmed booking or a car inside can be extended, to a later end that is
// still ahead, within the lot's maximum stay. A booking on the same spot in
// the way must fit another spot; else the answer is spot_unavailable and
// nothing changes.
func (s *Service) PlanExtension(ctx context.Context, r parking.Reservation, newEnd time.Time) (ExtensionPlan, error) {
	now := s.clock.Now()
	newEnd = newEnd.UTC().Truncate(time.Microsecond)
	switch {
	case r.Status != parking.StatusConfirmed && r.Status != parking.StatusCheckedIn:
		return ExtensionPlan{}, parking.Errorf(parking.ENOTEXTENDABLE, "a %s reservation cannot be extended: only a paid booking or a car inside", r.Status)
	case newEnd.IsZero():
		return ExtensionPlan{}, parking.Errorf(parking.EINVALIDWINDOW, "ends_at is required")
	case !newEnd.After(r.EndsAt):
		return ExtensionPlan{}, parking.Errorf(parking.EINVALIDWINDOW, "the new end must be after the current end, %s", r.EndsAt.Format(time.RFC3339))
	case !newEnd.After(now):
		return ExtensionPlan{}, parking.Errorf(parking.EWINDOWINPAST, "the new end has already passed")
	}
	lot, err := s.store.Lot(ctx, r.LotID)
	if err != nil {
		return ExtensionPlan{}, err
	}
	if err := checkHorizon(lot.Policy, newEnd, now); err != nil {
		return ExtensionPlan{}, err
	}
	if newEnd.Sub(r.StartsAt) > time.Duration(lot.Policy.MaxStay) {
		return ExtensionPlan{}, parking.Errorf(parking.ESTAYTOOLONG, "the stay would be longer than this lot's maximum of %s", lot.Policy.MaxStay.Human())
	}
	size := r.PriceSize
	if !size.Valid() {
		size = r.VehicleSize
	}
	longer, err := lot.Policy.Price(size, r.StartsAt, newEnd)
	if err != nil {
		return ExtensionPlan{}, err
	}
	shorter, err := lot.Policy.Price(size, r.StartsAt, r.EndsAt)
	if err != nil {
		return ExtensionPlan{}, err
	}
	plan := ExtensionPlan{Reservation: r, Lot: lot, NewEnd: newEnd, Amount: max(0, longer-shorter)}

	// The bookings in the way: on the same spot, holding it, starting before
	// the new end.
	rs, err := s.store.SpotReservations(ctx, r.SpotID, now)
	if err != nil {
		return ExtensionPlan{}, err
	}
	var spots []parking.Spot
	for _, o := range rs {
		if o.ID == r.ID || !parking.Overlaps(o.StartsAt, o.ClaimEnd(now), r.EndsAt, newEnd) {
			continue
		}
		if o.Inside() {
			return ExtensionPlan{}, parking.Errorf(parking.ESPOTUNAVAILABLE, "the next booking's car is already on this spot: the stay cannot be extended")
		}
		if spots == nil {
			if spots, err = s.store.Spots(ctx, r.LotID); err != nil {
				return ExtensionPlan{}, err
			}
		}
		candidates, err := s.moveCandidates(ctx, spots, o, now)
		if err != nil {
			return ExtensionPlan{}, err
		}
		if len(candidates) == 0 {
			return ExtensionPlan{}, parking.Errorf(parking.ESPOTUNAVAILABLE, "the spot is booked after you and no other spot fits that booking: the stay cannot be extended to then")
		}
		plan.Moves = append(plan.Moves, parking.Move{ID: o.ID, From: o.SpotID, Candidates: candidates, Reason: parking.ReasonExtension})
	}
	return plan, nil
}
