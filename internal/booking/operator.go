package booking

import (
	"context"
	"errors"

	"parkd/internal/parking"
)

// Withdrawal reports what taking a spot out of service did.
type Withdrawal struct {
	Spot parking.Spot
	// Cancelled are the held and confirmed reservations that were cancelled.
	Cancelled []parking.Reservation
	// Parked are checked-in reservations: their cars are in the spot now and
	// leave through the exit gate as usual; nothing can cancel them.
	Parked []parking.Reservation
}

// TakeOutOfService stops spot from being booked. A spot with reservations
// blocking now or later is refused with a conflict that says how many, unless
// force is set: then its held and confirmed reservations are cancelled.
func (s *Service) TakeOutOfService(ctx context.Context, spot parking.Spot, force bool) (Withdrawal, error) {
	now := s.clock.Now()
	rs, err := s.store.SpotReservations(ctx, spot.ID, now)
	if err != nil {
		return Withdrawal{}, err
	}
	if len(rs) > 0 && !force {
		return Withdrawal{}, hasReservations(spot, len(rs))
	}
	if spot.InService {
		if err := s.store.SetSpotInService(ctx, spot.ID, false, now); err != nil {
			return Withdrawal{}, err
		}
	}
	// Holds check the service state before they insert, so one may have landed
	// between the look above and the change: look again now that no new hold
	// can pass that check.
	if rs, err = s.store.SpotReservations(ctx, spot.ID, now); err != nil {
		return Withdrawal{}, err
	}
	if len(rs) > 0 && !force {
		if spot.InService {
			if err := s.store.SetSpotInService(ctx, spot.ID, true, now); err != nil {
				return Withdrawal{}, err
			}
		}
		return Withdrawal{}, hasReservations(spot, len(rs))
	}

	out := Withdrawal{Cancelled: []parking.Reservation{}, Parked: []parking.Reservation{}}
	for _, r := range rs {
		if r.Status == parking.StatusCheckedIn {
			out.Parked = append(out.Parked, r)
			continue
		}
		// The caller refunds what was paid (the HTTP handler, through the
		// payment service): the engine knows nothing of money.
		c, err := s.Cancel(ctx, r.ID)
		switch {
		case err == nil:
			out.Cancelled = append(out.Cancelled, c)
		case errors.Is(err, parking.ErrHoldExpired):
			// The hold lapsed meanwhile: it no longer blocks anything.
		case parking.ErrorCode(err) == parking.ESTATUS:
			// Its driver cancelled, or checked in, meanwhile.
			if c.Status == parking.StatusCheckedIn {
				out.Parked = append(out.Parked, c)
			}
		default:
			return Withdrawal{}, err
		}
	}
	if out.Spot, err = s.store.Spot(ctx, spot.ID); err != nil {
		return Withdrawal{}, err
	}
	return out, nil
}

// ESPOTHASRESERVATIONS: the spot has reservations now or later.
const ESPOTHASRESERVATIONS = "spot_has_reservations"

// hasReservations refuses to take a spot with reservations out of service
// unless forced.
func hasReservations(spot parking.Spot, n int) error {
	noun := "reservations"
	if n == 1 {
		noun = "reservation"
	}
	return parking.Errorf(ESPOTHASRESERVATIONS,
		"spot %s has %d %s now or later: cancel them first, or send \"force\": true to cancel them and take the spot out of service",
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

// UpdateSpot saves a spot's label, size, position and amenities. Making a spot
// smaller than a vehicle booked on it now or later is refused with a conflict:
// that driver would arrive to a spot their car does not fit.
func (s *Service) UpdateSpot(ctx context.Context, old, updated parking.Spot) error {
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
	return s.store.UpdateSpot(ctx, &updated)
}
