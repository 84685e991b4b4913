package live

import (
	"context"
	"time"

	"parkd/internal/parking"
)

// Waking wraps a store so that a change made through it wakes the hub at
// once: the hub then reads the change's events without waiting for its next
// poll. Changes made by other instances still arrive with the poll.
func (h *Hub) Waking(s parking.Store) parking.Store { return wakingStore{Store: s, hub: h} }

// wakingStore is a Store whose methods that write events wake the hub after
// they return (their transaction has committed by then).
type wakingStore struct {
	parking.Store
	hub *Hub
}

func (w wakingStore) Hold(ctx context.Context, r *parking.Reservation, candidates []string, key *parking.KeyCompletion) error {
	defer w.hub.Wake()
	return w.Store.Hold(ctx, r, candidates, key)
}

func (w wakingStore) ChangeStatus(ctx context.Context, c parking.StatusChange) (parking.Reservation, error) {
	defer w.hub.Wake()
	return w.Store.ChangeStatus(ctx, c)
}

func (w wakingStore) UpdatePayment(ctx context.Context, u parking.PaymentUpdate) (parking.Payment, parking.Reservation, error) {
	defer w.hub.Wake()
	return w.Store.UpdatePayment(ctx, u)
}

func (w wakingStore) ExpireHolds(ctx context.Context, now time.Time) (int, error) {
	defer w.hub.Wake()
	return w.Store.ExpireHolds(ctx, now)
}

func (w wakingStore) SetSpotInService(ctx context.Context, spotID string, inService bool, at time.Time) error {
	defer w.hub.Wake()
	return w.Store.SetSpotInService(ctx, spotID, inService, at)
}

func (w wakingStore) MarkNoShows(ctx context.Context, lotID string, startedBy, at time.Time) ([]parking.Reservation, error) {
	defer w.hub.Wake()
	return w.Store.MarkNoShows(ctx, lotID, startedBy, at)
}

func (w wakingStore) FlagOverstays(ctx context.Context, lotID string, endedBy, at time.Time) ([]parking.Reservation, error) {
	defer w.hub.Wake()
	return w.Store.FlagOverstays(ctx, lotID, endedBy, at)
}

func (w wakingStore) MoveReservation(ctx context.Context, m parking.Move) (parking.Reservation, error) {
	defer w.hub.Wake()
	return w.Store.MoveReservation(ctx, m)
}

func (w wakingStore) ExtendReservation(ctx context.Context, x parking.Extension) (parking.Reservation, []parking.Reservation, error) {
	defer w.hub.Wake()
	return w.Store.ExtendReservation(ctx, x)
}
