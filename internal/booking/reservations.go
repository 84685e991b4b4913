package booking

import (
	"context"
	"errors"
	"time"

	"parkd/internal/parking"
)

// MaxReservationsWindow is the longest window a lot's reservations list
// covers: an operator's list reads every booking in it.
const MaxReservationsWindow = 31 * 24 * time.Hour

// VisibleReservation returns reservation id if u may see it: their own, one
// in a lot they run, or any for admins. Any other is not found, so that the
// ids of other people's reservations are not even confirmed to exist. The API
// and the pages both ask here.
func (s *Service) VisibleReservation(ctx context.Context, u parking.User, id string) (parking.Reservation, error) {
	notFound := parking.Errorf(parking.ENOTFOUND, "reservation not found")
	r, err := s.store.Reservation(ctx, id)
	if errors.Is(err, parking.ErrNotFound) {
		return parking.Reservation{}, notFound
	}
	if err != nil {
		return parking.Reservation{}, err
	}
	if u.Owns(r) {
		return r, nil // the lot is read only when it decides
	}
	if lot, err := s.store.Lot(ctx, r.LotID); err == nil && u.CanSee(r, lot) {
		return r, nil
	}
	return parking.Reservation{}, notFound
}

// ManagedLot returns lot lotID if u runs it. Lots are public, so an existing
// lot that u does not run is forbidden rather than not found.
func (s *Service) ManagedLot(ctx context.Context, u parking.User, lotID string) (parking.Lot, error) {
	lot, err := s.store.Lot(ctx, lotID)
	if err != nil {
		return parking.Lot{}, err
	}
	if !u.Runs(lot) {
		return parking.Lot{}, parking.Errorf(parking.EFORBIDDEN, "you do not run this lot")
	}
	return lot, nil
}

// UserReservations lists a driver's reservations, newest first.
func (s *Service) UserReservations(ctx context.Context, userID string) ([]parking.Reservation, error) {
	return s.store.UserReservations(ctx, userID)
}

// LotReservations is a lot's reservations of any status whose window overlaps
// [From, To).
type LotReservations struct {
	From         time.Time             `json:"from"`
	To           time.Time             `json:"to"`
	Reservations []parking.Reservation `json:"reservations"`
}

// LotReservations lists, for an operator of the lot (or an admin), the lot's
// reservations of any status whose window overlaps [from, to). A zero from is
// a day ago; a zero to is eight days after from. The window is at most
// MaxReservationsWindow.
func (s *Service) LotReservations(ctx context.Context, u parking.User, lotID string, from, to time.Time) (LotReservations, error) {
	lot, err := s.ManagedLot(ctx, u, lotID)
	if err != nil {
		return LotReservations{}, err
	}
	if from.IsZero() {
		from = s.clock.Now().Add(-24 * time.Hour)
	}
	if to.IsZero() {
		to = from.Add(8 * 24 * time.Hour)
	}
	switch {
	case !to.After(from):
		return LotReservations{}, parking.Errorf(parking.EINVALID, "to must be after from")
	case to.Sub(from) > MaxReservationsWindow:
		return LotReservations{}, parking.Errorf(parking.EINVALID, "the window from..to must be at most %d days", int(MaxReservationsWindow/(24*time.Hour)))
	}
	rs, err := s.store.LotReservations(ctx, lot.ID, from, to)
	return LotReservations{From: from, To: to, Reservations: rs}, err
}
