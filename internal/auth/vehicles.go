package auth

import (
	"context"
	"errors"

	"parkd/internal/parking"
)

// User returns an account. Who may read whose is the caller's rule: the API
// lets a user read their own, and admins anyone's.
func (s *Service) User(ctx context.Context, id string) (parking.User, error) {
	return s.store.User(ctx, id)
}

// Vehicles lists a user's vehicles, leaving out those they removed.
func (s *Service) Vehicles(ctx context.Context, userID string) ([]parking.Vehicle, error) {
	return s.store.Vehicles(ctx, userID)
}

// AddVehicle adds a vehicle to a user's list. The plate is kept as parkd
// writes plates (parking.ParsePlate); a bad plate and a bad size are told
// together.
func (s *Service) AddVehicle(ctx context.Context, userID, plate string, size parking.Size) (parking.Vehicle, error) {
	var ve parking.ValidationError
	plate, err := parking.ParsePlate(plate)
	ve.Merge(err)
	if !size.Valid() {
		ve.Add("size", "is required: motorcycle, compact, standard or large")
	}
	if err := ve.Err(); err != nil {
		return parking.Vehicle{}, err
	}
	v := parking.Vehicle{ID: parking.NewID("veh"), UserID: userID, Plate: plate, Size: size, CreatedAt: s.clock.Now()}
	if err := s.store.CreateVehicle(ctx, &v); err != nil {
		return parking.Vehicle{}, err
	}
	return v, nil
}

// OwnVehicle returns a vehicle of userID's. Another user's is not found, so
// that ids of other people's vehicles are not even confirmed to exist.
func (s *Service) OwnVehicle(ctx context.Context, userID, vehicleID string) (parking.Vehicle, error) {
	v, err := s.store.Vehicle(ctx, vehicleID)
	if errors.Is(err, parking.ErrNotFound) || err == nil && v.UserID != userID {
		return parking.Vehicle{}, parking.Errorf(parking.ENOTFOUND, "vehicle not found")
	}
	return v, err
}

// RemoveVehicle takes a vehicle of userID's off their list; reservations
// made with it keep it. Another user's vehicle, or one removed already, is
// not found.
func (s *Service) RemoveVehicle(ctx context.Context, userID, vehicleID string) error {
	v, err := s.OwnVehicle(ctx, userID, vehicleID)
	if err != nil {
		return err
	}
	return s.store.DeleteVehicle(ctx, v.ID, s.clock.Now())
}
