package booking

import (
	"context"
	"errors"
	"time"

	"parkd/internal/parking"
)

// ErrLotFull is the answer to a drive-up when no spot that fits is free.
var ErrLotFull = parking.Errorf("lot_full", "no spot that fits is free: the lot is full")

// AdmitDriveUp admits a car with no reservation: it takes the smallest free spot
// that fits for the lot's maximum stay from now, without touching any future
// reservation, and records the car as checked in there. The spot is the car's
// (the database refuses any overlapping booking), so the admission is a
// guarantee. It is priced at the exit, for the time actually parked.
func (s *Service) AdmitDriveUp(ctx context.Context, lotID string, size parking.Size, plate string) (parking.Reservation, error) {
	now := s.clock.Now()
	lot, err := s.store.Lot(ctx, lotID)
	if err != nil {
		return parking.Reservation{}, err
	}
	end := now.Add(time.Duration(lot.Policy.MaxStay))
	candidates, err := s.freeSpots(ctx, lot.ID, size, now, end, now)
	if errors.Is(err, parking.ErrNoSpotAvailable) {
		return parking.Reservation{}, ErrLotFull
	}
	if err != nil {
		return parking.Reservation{}, err
	}
	r := parking.Reservation{
		ID: parking.NewID("res"), Plate: plate, VehicleSize: size, LotID: lot.ID, StartsAt: now, EndsAt: end,
		Status: parking.StatusCheckedIn, Currency: lot.Currency, HoldExpiresAt: now, CreatedAt: now, UpdatedAt: now, CheckedInAt: &now,
	}
	err = s.store.Hold(ctx, &r, candidates, nil)
	if errors.Is(err, parking.ErrSpotUnavailable) {
		return parking.Reservation{}, ErrLotFull
	}
	return r, err
}

// RunLifecycle applies every time-driven transition that is due in every lot:
// no-shows (confirmed, not checked in by the start plus the lot's no-show
// window: the spot is released) and overstays (still inside past the end plus
// the grace: flagged once). Each transition happens exactly once, also when
// several instances run this at the same moment. It returns the reservations
// it moved.
func (s *Service) RunLifecycle(ctx context.Context) (noShows, overstays []parking.Reservation, err error) {
	now := s.clock.Now()
	lots, err := s.store.Lots(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, lot := range lots {
		ns, err := s.store.MarkNoShows(ctx, lot.ID, now.Add(-time.Duration(lot.Policy.NoShowAfter)), now)
		if err != nil {
			return noShows, overstays, err
		}
		noShows = append(noShows, ns...)
		os, err := s.store.FlagOverstays(ctx, lot.ID, now.Add(-time.Duration(lot.Policy.OverstayGrace)), now)
		if err != nil {
			return noShows, overstays, err
		}
		overstays = append(overstays, os...)
	}
	return noShows, overstays, nil
}
