package payments

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"parkd/internal/booking"
	"parkd/internal/parking"
)

// Store is what the payment service asks of parkd's storage.
type Store interface {
	parking.LotStore
	parking.ReservationStore
	parking.PaymentStore
}

// Service takes payments for reservations.
type Service struct {
	store   Store
	gateway Gateway
	engine  *booking.Service
	clock   parking.Clock
	log     *slog.Logger
}

// New returns a payment service charging through gateway.
func New(store Store, gateway Gateway, engine *booking.Service, clock parking.Clock, log *slog.Logger) *Service {
	return &Service{store: store, gateway: gateway, engine: engine, clock: clock, log: log}
}

// Gateway returns the gateway payments go through.
func (s *Service) Gateway() Gateway { return s.gateway }

// Result is a payment and its reservation after an attempt to pay.
type Result struct {
	Payment     parking.Payment     `json:"payment"`
	Reservation parking.Reservation `json:"reservation"`
}

// Pay charges a held reservation with a payment method token. A success
// confirms the reservation; a decline leaves the hold to expire; an
// asynchronous charge leaves the payment pending until the gateway's webhook.
// Two attempts that race, whatever their idempotency keys, charge at most once:
// the database admits one live charge per reservation, and the loser drives
// that same charge (same gateway idempotency key) instead of making another.
func (s *Service) Pay(ctx context.Context, r parking.Reservation, paymentMethod string) (Result, error) {
	now := s.clock.Now()
	switch {
	case r.Status == parking.StatusConfirmed || r.Status == parking.StatusCheckedIn || r.Status == parking.StatusCompleted:
		return Result{}, parking.Errorf(parking.EALREADYPAID, "this reservation is already paid")
	case r.Status == parking.StatusExpired || r.HoldExpired(now):
		return Result{}, parking.ErrHoldExpired
	case r.Status != parking.StatusHeld:
		return Result{}, parking.Errorf(parking.ESTATUS, "a %s reservation cannot be paid", r.Status)
	case paymentMethod == "":
		return Result{}, &parking.ValidationError{Fields: []parking.FieldError{{Field: "payment_method", Message: "is required: a token from the card form"}}}
	}
	if err := s.CheckPaymentMethod(paymentMethod); err != nil {
		return Result{}, err
	}
	p := parking.Payment{
		ID: parking.NewID("pay"), ReservationID: r.ID, UserID: r.UserID, Kind: parking.Charge, Amount: r.Amount,
		Currency: r.Currency, Status: parking.PaymentPending, Gateway: s.gateway.Name(), PaymentMethod: paymentMethod,
		CreatedAt: now, UpdatedAt: now,
	}
	err := s.store.CreatePayment(ctx, &p)
	if parking.ErrorCode(err) == parking.ECONFLICT {
		// Another attempt holds the one live charge: settle that one.
		live, lerr := s.liveCharge(ctx, r.ID)
		switch {
		case lerr != nil:
			return Result{}, lerr
		case live.Status == parking.PaymentSucceeded:
			return Result{}, parking.Errorf(parking.EALREADYPAID, "this reservation is already paid")
		case live.PaymentMethod != paymentMethod:
			return Result{}, parking.Errorf(parking.EINPROGRESS, "another payment for this reservation is in progress")
		}
		p, err = live, nil
	}
	if err != nil {
		return Result{}, err
	}
	res, err := s.gateway.Charge(ctx, ChargeRequest{PaymentID: p.ID, Amount: p.Amount, Currency: p.Currency,
		PaymentMethod: p.PaymentMethod, Description: "Parking reservation " + r.ID, IdempotencyKey: p.ID})
	if errors.Is(err, ErrUnknownPaymentMethod) {
		s.settle(ctx, p, parking.PaymentUpdate{To: parking.PaymentFailed, FailureCode: "invalid_payment_method"})
		return Result{}, err
	}
	if err != nil {
		// The outcome is unknown: the payment stays pending, and a retry
		// (or the gateway's webhook) settles it without charging twice.
		s.log.ErrorContext(ctx, "charge", "payment", p.ID, "err", err)
		return Result{}, parking.Errorf(parking.EGATEWAY, "the payment gateway did not answer: try again in a moment")
	}
	u := parking.PaymentUpdate{GatewayID: res.GatewayID, CardBrand: res.CardBrand, CardLast4: res.CardLast4}
	switch res.Status {
	case ChargeSucceeded:
		u.To, u.Confirm = parking.PaymentSucceeded, true
	case ChargeDeclined:
		u.To, u.FailureCode = parking.PaymentFailed, res.DeclineCode
	default:
		u.To = parking.PaymentPending
	}
	out, err := s.settle(ctx, p, u)
	if err != nil {
		return out, err
	}
	if out.Payment.Status == parking.PaymentFailed {
		return out, parking.Errorf(parking.EDECLINED, "the card was declined (%s): try another card before the hold expires", out.Payment.FailureCode)
	}
	return out, nil
}

// CheckPaymentMethod refuses a payment method before anything holds it: one
// that holds a card number (parking.ErrCardNumber), or one that has not the
// shape of the gateway's tokens (ErrUnknownPaymentMethod). Neither error
// repeats what was sent.
func (s *Service) CheckPaymentMethod(method string) error {
	if parking.FindCardNumber(method) != "" {
		return parking.ErrCardNumber
	}
	return s.gateway.CheckPaymentMethod(method)
}

// liveCharge returns the reservation's pending or succeeded charge.
func (s *Service) liveCharge(ctx context.Context, reservationID string) (parking.Payment, error) {
	ps, err := s.store.ReservationPayments(ctx, reservationID)
	if err != nil {
		return parking.Payment{}, err
	}
	for _, p := range ps {
		if p.Kind == parking.Charge && (p.Status == parking.PaymentPending || p.Status == parking.PaymentSucceeded) {
			return p, nil
		}
	}
	return parking.Payment{}, parking.Errorf(parking.EINPROGRESS, "another payment for this reservation is in progress")
}

// settle applies a gateway outcome to payment p (From pending, unless u says),
// refunding a success whose reservation lost its spot meanwhile.
func (s *Service) settle(ctx context.Context, p parking.Payment, u parking.PaymentUpdate) (Result, error) {
	u.PaymentID, u.At = p.ID, s.clock.Now()
	if u.From == nil {
		u.From = []string{parking.PaymentPending}
	}
	pay, res, err := s.store.UpdatePayment(ctx, u)
	switch {
	case errors.Is(err, parking.ErrSpotUnavailable):
		// Paid, but the hold lapsed and the spot went to someone else: the
		// money goes back; the driver is never charged for nothing.
		if _, rerr := s.Refund(ctx, pay, pay.Amount); rerr != nil {
			s.log.ErrorContext(ctx, "refund a payment whose spot was taken", "payment", pay.ID, "err", rerr)
			return Result{Payment: pay, Reservation: res}, rerr
		}
		return Result{Payment: pay, Reservation: res}, parking.Errorf(parking.EHOLDEXPIRED,
			"the hold expired and the spot was booked by someone else; the charge is refunded in full")
	case errors.Is(err, parking.ErrInvalidStatus):
		// Someone else (a racing attempt, a webhook) settled it first.
		return Result{Payment: pay, Reservation: res}, nil
	case err != nil:
		return Result{}, err
	}
	if u.Confirm && pay.Status == parking.PaymentSucceeded && !paidStatuses[res.Status] {
		// The money arrived for a reservation that no longer wants it (the
		// driver cancelled while the charge was pending): it goes back.
		if _, rerr := s.Refund(ctx, pay, pay.Amount); rerr != nil {
			return Result{Payment: pay, Reservation: res}, rerr
		}
	}
	return Result{Payment: pay, Reservation: res}, nil
}

// Refund pays back amount of a succeeded charge, once: a second call finds the
// first refund. The refund is its own payment row.
func (s *Service) Refund(ctx context.Context, charge parking.Payment, amount int64) (parking.Payment, error) {
	now := s.clock.Now()
	refund := parking.Payment{
		ID: parking.NewID("pay"), ReservationID: charge.ReservationID, UserID: charge.UserID, Kind: parking.Refund,
		Amount: amount, Currency: charge.Currency, Status: parking.PaymentPending, Gateway: charge.Gateway,
		RefundOf: charge.ID, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.store.CreatePayment(ctx, &refund); parking.ErrorCode(err) == parking.ECONFLICT {
		ps, lerr := s.store.ReservationPayments(ctx, charge.ReservationID)
		if lerr != nil {
			return parking.Payment{}, lerr
		}
		found := false
		for _, p := range ps {
			if p.Kind == parking.Refund && p.RefundOf == charge.ID && p.Status != parking.PaymentFailed {
				refund, found = p, true
			}
		}
		if !found {
			return parking.Payment{}, err
		}
		if refund.Status == parking.PaymentSucceeded {
			return refund, nil
		}
	} else if err != nil {
		return parking.Payment{}, err
	}
	return s.sendRefund(ctx, refund, charge)
}

// sendRefund asks the gateway for a refund recorded as pending. When the
// gateway does not answer, the refund stays pending (and is returned without
// error): RetryRefunds sends it again with the same idempotency key.
func (s *Service) sendRefund(ctx context.Context, refund, charge parking.Payment) (parking.Payment, error) {
	res, err := s.gateway.Refund(ctx, RefundRequest{RefundID: refund.ID, ChargeID: charge.GatewayID, Amount: refund.Amount,
		Currency: charge.Currency, IdempotencyKey: refund.ID})
	if err != nil {
		s.log.WarnContext(ctx, "refund not answered; it will be retried", "refund", refund.ID, "err", err)
		return refund, nil
	}
	to := parking.PaymentPending
	if res.Status == ChargeSucceeded {
		to = parking.PaymentSucceeded
	}
	out, _, err := s.store.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: refund.ID, From: []string{parking.PaymentPending},
		To: to, GatewayID: res.GatewayID, At: s.clock.Now()})
	if errors.Is(err, parking.ErrInvalidStatus) {
		err = nil
	}
	return out, err
}

// Cancel cancels a reservation and refunds what the lot's policy gives back: the
// full amount until CancelCutoff before the start, nothing after.
func (s *Service) Cancel(ctx context.Context, r parking.Reservation) (parking.Reservation, *parking.Payment, error) {
	now := s.clock.Now()
	res, err := s.engine.Cancel(ctx, r.ID)
	if err != nil {
		return res, nil, err
	}
	lot, err := s.store.Lot(ctx, r.LotID)
	if err != nil {
		return res, nil, err
	}
	if !lot.Policy.RefundsOnCancel(r, now) {
		return res, nil, nil
	}
	// The booking's charge and any extension's: all of it goes back.
	refunds, err := s.RefundReservation(ctx, r.ID)
	if err != nil || len(refunds) == 0 {
		return res, nil, err
	}
	total := refunds[0]
	for _, f := range refunds[1:] {
		total.Amount += f.Amount
	}
	return res, &total, nil
}

// HandleWebhook verifies and applies one gateway event. Events are applied
// once (their ids are recorded with the change), never move a payment or a
// reservation backwards, and a success for a hold whose spot was re-booked is
// refunded. It returns an error only for events that must be sent again.
func (s *Service) HandleWebhook(ctx context.Context, payload []byte, header http.Header) error {
	ev, err := s.gateway.ParseWebhook(payload, header, s.clock.Now())
	if err != nil {
		return parking.Errorf(parking.EWEBHOOK, "webhook refused: %v", err)
	}
	if ev.Type == "" {
		return nil // an event parkd does not act on
	}
	p, err := s.paymentOf(ctx, ev)
	if errors.Is(err, parking.ErrNotFound) {
		s.log.WarnContext(ctx, "webhook for an unknown payment", "event", ev.ID, "gateway_id", ev.GatewayID)
		return nil
	}
	if err != nil {
		return err
	}
	u := parking.PaymentUpdate{EventID: ev.ID, GatewayID: ev.GatewayID, CardBrand: ev.CardBrand, CardLast4: ev.CardLast4}
	switch ev.Type {
	case EventChargeSucceeded:
		// A charge reported failed may still succeed later (a retried
		// authentication): the money moved, so it counts.
		u.From, u.To, u.Confirm = []string{parking.PaymentPending, parking.PaymentFailed}, parking.PaymentSucceeded, true
	case EventChargeFailed:
		u.From, u.To, u.FailureCode = []string{parking.PaymentPending}, parking.PaymentFailed, ev.DeclineCode
	case EventRefundSucceeded:
		u.From, u.To = []string{parking.PaymentPending}, parking.PaymentSucceeded
	}
	_, err = s.settle(ctx, p, u)
	switch {
	case errors.Is(err, parking.ErrDuplicateEvent), parking.ErrorCode(err) == parking.EHOLDEXPIRED:
		return nil // handled before; or handled now by refunding
	case parking.ErrorCode(err) == parking.ECONFLICT:
		// A failed charge succeeded while another charge is live: refund it.
		_, rerr := s.Refund(ctx, p, p.Amount)
		return rerr
	}
	return err
}

func (s *Service) paymentOf(ctx context.Context, ev WebhookEvent) (parking.Payment, error) {
	if ev.PaymentID != "" {
		if p, err := s.store.Payment(ctx, ev.PaymentID); err == nil || !errors.Is(err, parking.ErrNotFound) {
			return p, err
		}
	}
	if ev.GatewayID == "" {
		return parking.Payment{}, parking.ErrNotFound
	}
	return s.store.PaymentByGatewayID(ctx, ev.GatewayID)
}

// RefundReservation refunds in full every succeeded charge of a reservation
// that is not refunded yet: for cancellations that are not the driver's doing.
func (s *Service) RefundReservation(ctx context.Context, reservationID string) ([]parking.Payment, error) {
	ps, err := s.store.ReservationPayments(ctx, reservationID)
	if err != nil {
		return nil, err
	}
	var refunds []parking.Payment
	for _, p := range ps {
		if p.Kind == parking.Charge && p.Status == parking.PaymentSucceeded && p.Purpose == parking.PurposeBooking {
			r, err := s.Refund(ctx, p, p.Amount)
			if err != nil {
				return refunds, err
			}
			refunds = append(refunds, r)
		}
	}
	return refunds, nil
}

// RefundLease is how long a retry holds its claim on a pending refund (see
// RetryRefunds): longer than a gateway call may take, so that another
// instance never sends the refund while one is still sending it. A claim
// whose instance died lapses after it.
const RefundLease = 5 * time.Minute

// RetryRefunds sends again every refund still pending a minute after it was
// made, and returns how many are settled now. Every instance runs it: each
// refund is claimed (Store.ClaimPendingRefunds) by one at a time, so it
// reaches the gateway at most once at a time, and the gateway call carries
// the refund's id as its idempotency key besides. The claim is released
// once the gateway has answered or failed.
func (s *Service) RetryRefunds(ctx context.Context) (int, error) {
	claimer := parking.NewID("clm")
	now := s.clock.Now()
	pending, err := s.store.ClaimPendingRefunds(ctx, claimer, now.Add(-time.Minute), now, RefundLease, 100)
	if err != nil {
		return 0, err
	}
	settled := 0
	for i, refund := range pending {
		out, err := s.retryRefund(ctx, refund, claimer)
		if err != nil {
			// Those not tried yet stay claimed until the lease lapses.
			for _, rest := range pending[i+1:] {
				s.store.ReleaseRefundClaim(context.WithoutCancel(ctx), rest.ID, claimer)
			}
			return settled, err
		}
		if out.Status == parking.PaymentSucceeded {
			settled++
		}
	}
	return settled, nil
}

// retryRefund sends one claimed refund again and releases the claim.
func (s *Service) retryRefund(ctx context.Context, refund parking.Payment, claimer string) (parking.Payment, error) {
	defer s.store.ReleaseRefundClaim(context.WithoutCancel(ctx), refund.ID, claimer)
	charge, err := s.store.Payment(ctx, refund.RefundOf)
	if err != nil {
		return refund, err
	}
	return s.sendRefund(ctx, refund, charge)
}
