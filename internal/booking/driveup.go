package booking

import (
	"context"
	"errors"
	"time"

	"parkd/internal/parking"
)

// ErrLotFull is the answer to a drive-up when no spot that fits is free.
var ErrLotFull = parking.Errorf(parking.ELOTFULL, "no spot that fits is free: the lot is full")

// AdmitDriveUp admits a car with no reservation: it takes the smallest free spot
// that fits for the lot's maximum stay from now, without touching any future
// reservation, and records the car as checked in there. The spot is the car's
// (the database refuses any overlapping booking), so the admission is a
// guarantee. It is priced at the exit, for the time actually parked.
func (s *Service) AdmitDriveUp(ctx context.Context, lotID string, size parking.Size, plate string) (parking.Reservation, error) {
	now := s.clock.Now()
	lot, err := s.lot(ctx, lotID)
	if err != nil {
		return parking.Reservation{}, err
	}
	// A booking that an overstay displaced gets its new spot before a
	// drive-up can take it: the driver who booked comes first.
	if _, err := s.relocateDisplaced(ctx, lot, now); err != nil {
		return parking.Reservation{}, err
	}
	end := now.Add(time.Duration(lot.Policy.MaxStay))
	candidates, err := s.freeSpots(ctx, lot.ID, size, nil, now, end, now)
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
