package payments

import (
	"context"
	"errors"

	"parkd/internal/parking"
)

// A driver may save one payment method, with their consent, to be charged
// later without the card form: for overstays at the exit and for extensions.

// SaveMethod stores the payment method a driver consents to have charged for
// overstays. Without consent nothing is stored.
func (s *Service) SaveMethod(ctx context.Context, userID, paymentMethod string, consent bool) (parking.SavedPaymentMethod, error) {
	var v parking.ValidationError
	if paymentMethod == "" {
		v.Add("payment_method", "is required: a token from the card form")
	}
	if !consent {
		v.Add("consent", "must be true: the driver agrees to be charged for overstays with this card")
	}
	if err := v.Err(); err != nil {
		return parking.SavedPaymentMethod{}, err
	}
	if err := s.CheckPaymentMethod(paymentMethod); err != nil {
		return parking.SavedPaymentMethod{}, err
	}
	m := parking.SavedPaymentMethod{UserID: userID, PaymentMethod: paymentMethod, ConsentedAt: s.clock.Now()}
	return m, s.store.SavePaymentMethod(ctx, m)
}

// SavedMethod returns the payment method userID saved; parking.ErrNotFound
// when there is none.
func (s *Service) SavedMethod(ctx context.Context, userID string) (parking.SavedPaymentMethod, error) {
	return s.store.SavedPaymentMethod(ctx, userID)
}

// DeleteMethod forgets the payment method userID saved: nothing is charged
// to it any more.
func (s *Service) DeleteMethod(ctx context.Context, userID string) error {
	return s.store.DeletePaymentMethod(ctx, userID)
}

// methodFor is the payment method to charge for user: the one given, else the
// one they saved.
func (s *Service) methodFor(ctx context.Context, userID, given string) (string, error) {
	if given != "" {
		return given, nil
	}
	m, err := s.store.SavedPaymentMethod(ctx, userID)
	if errors.Is(err, parking.ErrNotFound) {
		return "", &parking.ValidationError{Fields: []parking.FieldError{{Field: "payment_method",
			Message: "is required: a token from the card form (or save a card for later charges)"}}}
	}
	return m.PaymentMethod, err
}
