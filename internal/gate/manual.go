package gate

import (
	"context"
	"errors"
	"strings"

	"parkd/internal/parking"
)

// OpenByHand opens gate gateID without a pass, for an operator of its lot with
// a reason; the log keeps who and why.
func (s *Service) OpenByHand(ctx context.Context, operator parking.User, gateID, reason string) (parking.GateEvent, error) {
	g, err := s.operatedGate(ctx, operator, gateID)
	if err != nil {
		return parking.GateEvent{}, err
	}
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
func (s *Service) CheckOut(ctx context.Context, operator parking.User, reservationID string) (parking.Reservation, error) {
	return s.byHand(ctx, operator, reservationID, parking.StatusCheckedIn, parking.StatusCompleted)
}

// MarkNoShow releases a confirmed reservation whose driver will not come.
func (s *Service) MarkNoShow(ctx context.Context, operator parking.User, reservationID string) (parking.Reservation, error) {
	return s.byHand(ctx, operator, reservationID, parking.StatusConfirmed, parking.StatusNoShow)
}

// byHand moves reservation id from one status to another for an operator of
// its lot (or an admin). Its driver is forbidden; anyone else finds nothing.
func (s *Service) byHand(ctx context.Context, operator parking.User, id string, from, to parking.Status) (parking.Reservation, error) {
	r, err := s.engine.VisibleReservation(ctx, operator, id)
	if err != nil {
		return r, err
	}
	if operator.Role == parking.RoleDriver {
		return r, parking.Errorf(parking.EFORBIDDEN, "only the lot's operators do this")
	}
	r, err = s.store.ChangeStatus(ctx, parking.StatusChange{ID: r.ID, From: []parking.Status{from}, To: to, At: s.clock.Now()})
	if errors.Is(err, parking.ErrInvalidStatus) {
		err = parking.Errorf(parking.ESTATUS, "reservation %s is %s", r.ID, r.Status)
	}
	return r, err
}
