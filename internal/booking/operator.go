package booking

import (
	"context"

	"parkd/internal/parking"
)

// Withdrawal reports what taking a spot out of service did.
type Withdrawal struct {
	Spot parking.Spot
	// Moved are the held and confirmed reservations put on another spot that
	// fits (MovedFrom names this one, ChangeReason says why).
	Moved []parking.Reservation
	// Cancelled are those for which no spot fit: cancelled by the lot, and
	// owed a full refund.
	Cancelled []parking.Reservation
	// Parked are cars inside on the spot now: they leave through the exit gate
	// as usual, and the spot is out of service from then on.
	Parked []parking.Reservation
}

// TakeOutOfService stops spot from being booked and moves its held and
// confirmed reservations to other spots that fit (the same level and
// amenities first). A reservation no spot fits is cancelled, but only with
// force: without it, the spot is left as it is and the answer is a conflict
// that says how many could not be moved. A car inside stays until it leaves.
func (s *Service) TakeOutOfService(ctx context.Context, spot parking.Spot, force bool) (Withdrawal, error) {
	now := s.clock.Now()
	spots, err := s.store.Spots(ctx, spot.LotID)
	if err != nil {
		return Withdrawal{}, err
	}
	// moveCandidates never offers a booking's own spot, and ranks the others
	// by that spot's level and amenities: it gets the whole list.
	if !force {
		rs, err := s.store.SpotReservations(ctx, spot.ID, now)
		if err != nil {
			return Withdrawal{}, err
		}
		stuck := 0
		for _, r := range rs {
			if r.Inside() {
				continue
			}
			candidates, err := s.moveCandidates(ctx, spots, r, now)
			if err != nil {
				return Withdrawal{}, err
			}
			if len(candidates) == 0 {
				stuck++
			}
		}
		if stuck > 0 {
			return Withdrawal{}, cannotMove(spot, stuck)
		}
	}
	if spot.InService {
		if err := s.store.SetSpotInService(ctx, spot.ID, false, now); err != nil {
			return Withdrawal{}, err
		}
	}
	// Holds check the service state as they insert, so none can land after
	// the change: what is on the spot now is all there is to move.
	rs, err := s.store.SpotReservations(ctx, spot.ID, now)
	if err != nil {
		return Withdrawal{}, err
	}
	out := Withdrawal{Moved: []parking.Reservation{}, Cancelled: []parking.Reservation{}, Parked: []parking.Reservation{}}
	for _, r := range rs {
		if r.Inside() {
			out.Parked = append(out.Parked, r)
			continue
		}
		moved, cancelled, err := s.relocate(ctx, spots, r, parking.ReasonOutOfService, now)
		if err != nil {
			return Withdrawal{}, err
		}
		if moved != nil {
			out.Moved = append(out.Moved, *moved)
		}
		if cancelled != nil {
			out.Cancelled = append(out.Cancelled, *cancelled)
		}
	}
	if out.Spot, err = s.store.Spot(ctx, spot.ID); err != nil {
		return Withdrawal{}, err
	}
	return out, nil
}

// cannotMove refuses to take a spot out of service when some of its
// reservations fit no other spot, unless forced.
func cannotMove(spot parking.Spot, n int) error {
	noun := "reservations fit"
	if n == 1 {
		noun = "reservation fits"
	}
	return parking.Errorf(parking.ESPOTHASRESERVATIONS,
		"spot %s: %d %s no other free spot; confirm to cancel and refund them in full, or free a spot first",
		spot.Label, n, noun)
}

// ReturnToService lets spot be booked again.
func (s *Service) ReturnToService(ctx context.Context, spot parking.Spot) (parking.Spot, error) {
	if !spot.InService {
		if err := s.store.SetSpotInService(ctx, spot.ID, true, s.clock.Now()); err != nil {
			return parking.Spot{}, err
		}
	}
	return s.store.Spot(ctx, spot.ID)
}

// UpdateSpot saves a spot's label, size, position and amenities over
// updated.Version (Store.UpdateSpot), which it moves on. Making a spot
// smaller than a vehicle booked on it now or later is refused with a conflict:
// that driver would arrive to a spot their car does not fit.
func (s *Service) UpdateSpot(ctx context.Context, old parking.Spot, updated *parking.Spot) error {
	if updated.Size < old.Size {
		rs, err := s.store.SpotReservations(ctx, old.ID, s.clock.Now())
		if err != nil {
			return err
		}
		misfits := 0
		for _, r := range rs {
			if !r.VehicleSize.Fits(updated.Size) {
				misfits++
			}
		}
		if misfits > 0 {
			return parking.Errorf(parking.ECONFLICT,
				"spot %s cannot become %s: %d reservation(s) now or later are for larger vehicles; cancel or move them first",
				old.Label, updated.Size, misfits)
		}
	}
	return s.store.UpdateSpot(ctx, updated)
}
