package live

import (
	"context"
	"time"

	"parkd/internal/parking"
)

// Waking wraps a store so that a change made through it reaches the hub
// before the call returns: the reservations it changed are applied to the
// index at once (read-your-writes: a map read that starts after the request
// answered shows the change), edits of a lot or its spots are read again, a
// commit that wrote events is announced to every instance (Listen), and the
// hub reads the change's events without waiting for its next poll: woken by
// that announcement, or at once when there is none (Hub.changed). Changes
// made by other instances arrive with their announcement or the poll.
func (h *Hub) Waking(s parking.Store) parking.Store { return wakingStore{Store: s, hub: h} }

// wakingStore is a Store whose methods that change reservations, lots or
// spots tell the hub after they return (their transaction has committed by
// then). Holds that lapse, and confirmed bookings past their no-show deadline,
// stop claiming their spots by time alone, so ExpireHolds and the rows Hold
// expires on its way need no apply.
type wakingStore struct {
	parking.Store
	hub *Hub
}

func (w wakingStore) Hold(ctx context.Context, r *parking.Reservation, candidates []string, key *parking.KeyCompletion) error {
	err := w.Store.Hold(ctx, r, candidates, key)
	if err == nil {
		w.hub.applyOwn(*r)
	}
	w.hub.changed(err == nil)
	return err
}

func (w wakingStore) ChangeStatus(ctx context.Context, c parking.StatusChange) (parking.Reservation, error) {
	r, err := w.Store.ChangeStatus(ctx, c)
	if err == nil {
		w.hub.applyOwn(r)
	}
	w.hub.changed(err == nil)
	return r, err
}

func (w wakingStore) UpdatePayment(ctx context.Context, u parking.PaymentUpdate) (parking.Payment, parking.Reservation, error) {
	p, r, err := w.Store.UpdatePayment(ctx, u)
	if err == nil {
		w.hub.applyOwn(r) // r is zero when no reservation changed
	}
	w.hub.changed(err == nil)
	return p, r, err
}

func (w wakingStore) ExpireHolds(ctx context.Context, now time.Time) (int, error) {
	n, err := w.Store.ExpireHolds(ctx, now)
	w.hub.changed(n > 0)
	return n, err
}

func (w wakingStore) SetSpotInService(ctx context.Context, spotID string, inService bool, at time.Time) error {
	if err := w.Store.SetSpotInService(ctx, spotID, inService, at); err != nil {
		w.hub.changed(false)
		return err
	}
	w.hub.changed(true)
	w.hub.respotOwn(ctx, "", spotID)
	return nil
}

func (w wakingStore) MarkNoShows(ctx context.Context, lotID string, startedBy, at time.Time) ([]parking.Reservation, error) {
	rs, err := w.Store.MarkNoShows(ctx, lotID, startedBy, at)
	if err == nil {
		w.hub.applyOwn(rs...)
	}
	w.hub.changed(len(rs) > 0)
	return rs, err
}

func (w wakingStore) FlagOverstays(ctx context.Context, lotID string, endedBy, at time.Time) ([]parking.Reservation, error) {
	rs, err := w.Store.FlagOverstays(ctx, lotID, endedBy, at)
	w.hub.changed(len(rs) > 0)
	return rs, err
}

func (w wakingStore) MoveReservation(ctx context.Context, m parking.Move) (parking.Reservation, error) {
	r, err := w.Store.MoveReservation(ctx, m)
	if err == nil {
		w.hub.applyOwn(r)
	}
	w.hub.changed(err == nil)
	return r, err
}

func (w wakingStore) ExtendReservation(ctx context.Context, x parking.Extension) (parking.Reservation, []parking.Reservation, error) {
	r, moved, err := w.Store.ExtendReservation(ctx, x)
	if err == nil {
		w.hub.applyOwn(append(moved, r)...)
	}
	w.hub.changed(err == nil)
	return r, moved, err
}

func (w wakingStore) UpdateLot(ctx context.Context, l *parking.Lot) error {
	if err := w.Store.UpdateLot(ctx, l); err != nil {
		return err
	}
	w.hub.respotOwn(ctx, l.ID, "")
	return nil
}

func (w wakingStore) CreateSpots(ctx context.Context, spots []parking.Spot) error {
	if err := w.Store.CreateSpots(ctx, spots); err != nil || len(spots) == 0 {
		return err
	}
	w.hub.respotOwn(ctx, spots[0].LotID, "")
	return nil
}

func (w wakingStore) UpdateSpot(ctx context.Context, s *parking.Spot) error {
	if err := w.Store.UpdateSpot(ctx, s); err != nil {
		return err
	}
	w.hub.respotOwn(ctx, "", s.ID)
	return nil
}

// CreatePayment needs no apply (a payment changes no claim), but a payment
// recorded as succeeded writes its event, which is announced.
func (w wakingStore) CreatePayment(ctx context.Context, p *parking.Payment) error {
	err := w.Store.CreatePayment(ctx, p)
	if err == nil && p.Status == parking.PaymentSucceeded {
		w.hub.changed(true)
	}
	return err
}
