package gate

import (
	"context"
	"strings"

	"parkd/internal/parking"
)

// OpenByHand opens gate g without a pass, for an operator with a reason; the
// log keeps who and why.
func (s *Service) OpenByHand(ctx context.Context, g parking.Gate, operator parking.User, reason string) (parking.GateEvent, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return parking.GateEvent{}, &parking.ValidationError{Fields: []parking.FieldError{{Field: "reason", Message: "is required: say why the gate is opened by hand"}}}
	}
	ev := parking.GateEvent{ID: parking.NewID("gev"), LotID: g.LotID, GateID: g.ID, Direction: g.Direction,
		Decision: parking.Open, Reason: ReasonManual + ": " + reason, ActorID: operator.ID, At: s.clock.Now()}
	return ev, s.store.RecordGateEvent(ctx, &ev)
}

// CheckOut ends a stay by an operator's hand (a car that left without
// scanning, a broken exit): the spot is free at once, and nothing is charged.
func (s *Service) CheckOut(ctx context.Context, r parking.Reservation) (parking.Reservation, error) {
	return s.store.ChangeStatus(ctx, parking.StatusChange{ID: r.ID, From: []parking.Status{parking.StatusCheckedIn},
		To: parking.StatusCompleted, At: s.clock.Now()})
}

// MarkNoShow releases a confirmed reservation whose driver will not come.
func (s *Service) MarkNoShow(ctx context.Context, r parking.Reservation) (parking.Reservation, error) {
	return s.store.ChangeStatus(ctx, parking.StatusChange{ID: r.ID, From: []parking.Status{parking.StatusConfirmed},
		To: parking.StatusNoShow, At: s.clock.Now()})
}
