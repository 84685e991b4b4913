package payments

import (
	"context"

	"parkd/internal/booking"
	"parkd/internal/parking"
)

// TakeOutOfService stops spot from being booked (booking.Service.TakeOutOfService)
// and refunds in full every booking that fitted no other spot: the operator
// cancelled, not the driver, so the money goes back whatever the cancellation
// cut-off. A refund that fails is logged, as it was when the handler did this:
// the spot is out of service either way.
func (s *Service) TakeOutOfService(ctx context.Context, spot parking.Spot, force bool) (booking.Withdrawal, error) {
	w, err := s.engine.TakeOutOfService(ctx, spot, force)
	if err != nil {
		return w, err
	}
	for _, c := range w.Cancelled {
		if _, err := s.RefundReservation(ctx, c.ID); err != nil {
			s.log.ErrorContext(ctx, "refund a reservation cancelled by an operator", "reservation", c.ID, "err", err)
		}
	}
	return w, nil
}
