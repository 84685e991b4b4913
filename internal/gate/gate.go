// Package gate decides at the lot's gates: it issues the signed passes drivers
// show, opens the entry for a paid reservation in its window or for a drive-up
// when a spot is guaranteed, opens the exit once what is due is paid, and logs
// every scan. The server decides; the device only shows the answer.
package gate

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"parkd/internal/auth"
	"parkd/internal/booking"
	"parkd/internal/parking"
	"parkd/internal/pass"
	"parkd/internal/payments"
)

// Reasons a gate gives, stable for devices and logs.
const (
	ReasonOK              = "ok"
	ReasonDriveUp         = "drive_up"
	ReasonInvalidPass     = "invalid_pass"
	ReasonWrongLot        = "wrong_lot"
	ReasonWrongGate       = "wrong_direction"
	ReasonPassExpired     = "pass_expired"
	ReasonTooEarly        = "too_early"
	ReasonNoShow          = "no_show"
	ReasonNotPaid         = "not_paid"
	ReasonCancelled       = "cancelled"
	ReasonAlreadyInside   = "already_inside"
	ReasonNotInside       = "not_inside"
	ReasonAlreadyLeft     = "already_left"
	ReasonLotFull         = "lot_full"
	ReasonPaymentRequired = "payment_required"
	ReasonManual          = "manual"
	ReasonBookingEnded    = "booking_ended"
	ReasonSpotOccupied    = "spot_occupied"
)

// reasonTexts say each reason in words, for operators' logs and screens.
var reasonTexts = map[string]string{
	ReasonOK:              "Pass accepted",
	ReasonDriveUp:         "Drive-up admitted",
	ReasonInvalidPass:     "Not a valid pass",
	ReasonWrongLot:        "Pass for another car park",
	ReasonWrongGate:       "Wrong gate for this direction",
	ReasonPassExpired:     "Pass expired",
	ReasonTooEarly:        "Too early for the booking",
	ReasonNoShow:          "Booking released as a no-show",
	ReasonNotPaid:         "Booking not paid",
	ReasonCancelled:       "Booking cancelled",
	ReasonAlreadyInside:   "Already inside",
	ReasonNotInside:       "Did not come in",
	ReasonAlreadyLeft:     "Already left",
	ReasonLotFull:         "Car park full",
	ReasonPaymentRequired: "Payment due",
	ReasonManual:          "Opened by staff",
	ReasonBookingEnded:    "Booking already ended",
	ReasonSpotOccupied:    "Spot still taken, none free",
}

// ReasonText is a gate reason in words ("Pass expired"), or the code itself
// for one this version does not know.
func ReasonText(reason string) string {
	if t, ok := reasonTexts[reason]; ok {
		return t
	}
	return reason
}

// passValidity is how long after its window a pass still opens the exit, so a
// long overstay can still leave (and pay).
const passValidity = 7 * 24 * time.Hour

// Store is what the gate service asks of parkd's storage.
type Store interface {
	parking.LotStore
	parking.ReservationStore
	parking.GateStore
	// SetGateKey gives a paired kiosk the gate's new key.
	SetGateKey(ctx context.Context, gateID, keyHash string) error
}

// Service runs the gates.
type Service struct {
	store  Store
	engine *booking.Service
	pay    *payments.Service
	keys   *pass.Keyring
	clock  parking.Clock
	log    *slog.Logger
	// manual counts the codes typed at each gate device: a manual code has
	// only 40 bits, so guessing must stay slow.
	manual *auth.Throttle
}

// Typed codes: ManualAttempts per ManualWindow per gate device, counted
// before the code is checked; the right ones are given back.
const (
	ManualAttempts = 20
	ManualWindow   = 15 * time.Minute
)

// New returns the gate service.
func New(store Store, engine *booking.Service, pay *payments.Service, keys *pass.Keyring, clock parking.Clock, log *slog.Logger) *Service {
	return &Service{store: store, engine: engine, pay: pay, keys: keys, clock: clock, log: log,
		manual: auth.NewThrottle(ManualAttempts, ManualWindow)}
}

// Pass is what a driver shows: the QR code's text and a short code to type.
type Pass struct {
	ReservationID string    `json:"reservation_id"`
	Code          string    `json:"code"`
	ManualCode    string    `json:"manual_code"`
	ValidFrom     time.Time `json:"valid_from"`
	ValidUntil    time.Time `json:"valid_until"`
}

// ErrNoPass: only paid reservations (and cars inside) have a pass.
var ErrNoPass = parking.Errorf(parking.ESTATUS, "a pass is issued once the reservation is paid")

// PassOf issues the pass of reservation id to u, who may see it
// (booking.Service.VisibleReservation): its driver, or an operator of its lot.
func (s *Service) PassOf(ctx context.Context, u parking.User, id string) (Pass, error) {
	r, err := s.engine.VisibleReservation(ctx, u, id)
	if err != nil {
		return Pass{}, err
	}
	return s.PassFor(ctx, r)
}

// PassFor issues the pass of a confirmed or checked-in reservation: valid from
// the lot's early-arrival time before the start.
func (s *Service) PassFor(ctx context.Context, r parking.Reservation) (Pass, error) {
	switch r.Status {
	case parking.StatusConfirmed, parking.StatusCheckedIn:
	case parking.StatusHeld:
		return Pass{}, ErrNoPass
	default:
		return Pass{}, parking.Errorf(parking.ESTATUS, "this reservation is %s: it has no pass any more", r.Status)
	}
	lot, err := s.store.Lot(ctx, r.LotID)
	if err != nil {
		return Pass{}, err
	}
	from := lot.Policy.EarliestEntry(r).Truncate(time.Second)
	until := r.EndsAt.Add(passValidity).Truncate(time.Second)
	code, err := s.keys.Issue(pass.Claims{ReservationID: r.ID, LotID: r.LotID, ValidFrom: from, ValidUntil: until})
	if err != nil {
		return Pass{}, err
	}
	// The typed code's digest is kept, so that the code finds its
	// reservation whenever it is typed, as the QR code does.
	if err := s.store.SavePassCode(ctx, s.keys.ManualDigest(r.ID), r.ID); err != nil {
		return Pass{}, err
	}
	return Pass{ReservationID: r.ID, Code: code, ManualCode: s.keys.ManualCode(r.ID), ValidFrom: from, ValidUntil: until}, nil
}

// Scan is what a gate device sends.
type Scan struct {
	Code          string       `json:"code"`           // a pass's code or manual code; empty at an entry for a drive-up
	Size          parking.Size `json:"size"`           // drive-up: the vehicle's size (default standard)
	Plate         string       `json:"plate"`          // from a plate camera, when there is one
	PaymentMethod string       `json:"payment_method"` // at an exit, to pay what is due
}

// Decision is the gate's answer.
type Decision struct {
	Decision      string `json:"decision"` // open or deny
	Reason        string `json:"reason"`
	Message       string `json:"message"` // for the screen beside the barrier
	ReservationID string `json:"reservation_id,omitempty"`
	SpotID        string `json:"spot_id,omitempty"`
	SpotLabel     string `json:"spot_label,omitempty"`
	AmountDue     int64  `json:"amount_due,omitempty"`
	Currency      string `json:"currency,omitempty"`
	Paid          int64  `json:"paid,omitempty"`
	Ticket        *Pass  `json:"ticket,omitempty"` // a drive-up's pass, to leave with
}

func deny(reason, message string) Decision {
	return Decision{Decision: parking.Deny, Reason: reason, Message: message}
}

// Scan decides one scan at gate g and logs it, whatever the answer.
func (s *Service) Scan(ctx context.Context, g parking.Gate, sc Scan) (Decision, error) {
	var d Decision
	var r parking.Reservation
	var err error
	if strings.TrimSpace(sc.Plate) != "" {
		// What the plate camera read is logged and, for a drive-up, kept. A
		// misread (a smudge read as "AB\ufffd12") must not keep a driver
		// with a good pass out: the scan goes on as if no plate was read.
		plate, err := parking.ParsePlate(sc.Plate)
		if err != nil {
			s.log.WarnContext(ctx, "gate: unreadable plate dropped", "gate", g.ID, "err", err)
		}
		sc.Plate = plate
	} else {
		sc.Plate = ""
	}
	if g.Direction == parking.Entry {
		d, r, err = s.entry(ctx, g, sc)
	} else {
		d, r, err = s.exit(ctx, g, sc)
	}
	if err != nil {
		return Decision{}, err
	}
	plate := sc.Plate
	if plate == "" {
		plate = r.Plate
	}
	ev := parking.GateEvent{ID: parking.NewID("gev"), LotID: g.LotID, GateID: g.ID, Direction: g.Direction,
		ReservationID: r.ID, Plate: plate, Decision: d.Decision, Reason: d.Reason, AmountDue: d.AmountDue, At: s.clock.Now()}
	if err := s.store.RecordGateEvent(context.WithoutCancel(ctx), &ev); err != nil {
		return Decision{}, err
	}
	return d, nil
}

// reservationOf finds the reservation a code names: a signed pass, or a manual
// code matched against the lot's current reservations.
func (s *Service) reservationOf(ctx context.Context, g parking.Gate, code string) (parking.Reservation, *Decision, error) {
	now := s.clock.Now()
	code = strings.TrimSpace(code)
	if strings.HasPrefix(code, "P") && strings.Contains(code, ".") {
		c, err := s.keys.Verify(code, g.LotID, now)
		err = atGate(g, err)
		if d := passDenial(err); d != nil {
			// A genuine pass at the wrong place or time names its
			// reservation, so the log can say whose it was.
			return parking.Reservation{ID: c.ReservationID}, d, nil
		}
		if err != nil {
			d := deny(ReasonInvalidPass, "This code is not a valid pass.")
			return parking.Reservation{}, &d, nil
		}
		r, err := s.store.Reservation(ctx, c.ReservationID)
		if errors.Is(err, parking.ErrNotFound) {
			d := deny(ReasonInvalidPass, "This code is not a valid pass.")
			return parking.Reservation{}, &d, nil
		}
		return r, nil, err
	}
	// A typed code: it takes one of the gate's tries before it is checked,
	// so codes typed at once cannot all slip past the limit; a right one
	// gives its try back.
	if wait := s.manual.Take(g.ID, now); wait > 0 {
		s.log.WarnContext(ctx, "typed codes throttled", "gate", g.ID, "lot", g.LotID)
		return parking.Reservation{}, nil, &auth.TooManyAttempts{RetryAfter: wait,
			Detail: "too many wrong codes typed at this gate: scan the pass, or try again later"}
	}
	typed, why, err := s.typedPass(ctx, g, code, now)
	if err != nil {
		s.manual.Forgive(g.ID, now)
		return parking.Reservation{}, nil, err
	}
	if typed.ID != "" {
		s.manual.Forgive(g.ID, now)
		return typed, why, nil
	}
	// A pass issued before typed codes were kept: compare the code with the
	// passes of the lot's current reservations.
	rs, err := s.store.LotReservations(ctx, g.LotID, now.Add(-passValidity), now.Add(24*time.Hour))
	if err != nil {
		s.manual.Forgive(g.ID, now)
		return parking.Reservation{}, nil, err
	}
	for _, r := range rs {
		if (r.Status == parking.StatusConfirmed || r.Status == parking.StatusCheckedIn) && s.keys.MatchManual(code, r.ID) {
			s.manual.Forgive(g.ID, now)
			return r, nil, nil
		}
	}
	d := deny(ReasonInvalidPass, "This code is not a valid pass.")
	return parking.Reservation{}, &d, nil
}

// passDenial is the gate's answer to a genuine pass shown at the wrong lot or
// time (pass.Verify's errors), or nil for any other error.
func passDenial(err error) *Decision {
	var d Decision
	switch {
	case errors.Is(err, pass.ErrWrongLot):
		d = deny(ReasonWrongLot, "This pass is for another car park.")
	case errors.Is(err, pass.ErrExpired):
		d = deny(ReasonPassExpired, "This pass has expired.")
	case errors.Is(err, pass.ErrNotYetValid):
		d = deny(ReasonTooEarly, "Too early: this pass opens the gate closer to your booking.")
	default:
		return nil
	}
	return &d
}

// typedPass finds the reservation a typed code names by its stored digest
// and checks it as pass.Verify checks a QR code: the lot, then the pass's
// window (PassFor's), so the same pass gets the same answer typed or
// scanned. It returns a zero reservation when no kept code matches.
func (s *Service) typedPass(ctx context.Context, g parking.Gate, code string, now time.Time) (parking.Reservation, *Decision, error) {
	ids, err := s.store.PassCodeReservations(ctx, s.keys.ManualDigests(code))
	if err != nil {
		return parking.Reservation{}, nil, err
	}
	var found []parking.Reservation
	for _, id := range ids {
		// The digest is 128 bits of the code's HMAC: a match is the code,
		// checked again against the reservation to be sure.
		if !s.keys.MatchManual(code, id) {
			continue
		}
		r, err := s.store.Reservation(ctx, id)
		if errors.Is(err, parking.ErrNotFound) {
			continue
		}
		if err != nil {
			return parking.Reservation{}, nil, err
		}
		found = append(found, r)
	}
	if len(found) == 0 {
		return parking.Reservation{}, nil, nil
	}
	// Two reservations may share a 40-bit code: this lot's first, and of
	// those the one whose pass is valid now, else the nearest to come.
	best := -1
	var bestErr error
	for i, r := range found {
		if r.LotID != g.LotID {
			continue
		}
		lot, err := s.store.Lot(ctx, r.LotID)
		if err != nil {
			return parking.Reservation{}, nil, err
		}
		verr := atGate(g, passWindow(lot, r, now))
		if best < 0 || (bestErr != nil && verr == nil) ||
			(bestErr != nil && verr != nil && errors.Is(verr, pass.ErrNotYetValid) && !errors.Is(bestErr, pass.ErrNotYetValid)) {
			best, bestErr = i, verr
		}
	}
	if best < 0 {
		return parking.Reservation{ID: found[0].ID}, passDenial(pass.ErrWrongLot), nil
	}
	if d := passDenial(bestErr); d != nil {
		return parking.Reservation{ID: found[best].ID}, d, nil
	}
	return found[best], nil, nil
}

// atGate is a pass's error as gate g sees it: an exit lets a pass it opens
// too early go on to the booking's state, since a car cannot be inside before
// its pass opens the entry, and "not inside" tells the driver more there.
func atGate(g parking.Gate, err error) error {
	if g.Direction == parking.Exit && errors.Is(err, pass.ErrNotYetValid) {
		return nil
	}
	return err
}

// passWindow checks now against the window PassFor gives r's pass.
func passWindow(lot parking.Lot, r parking.Reservation, now time.Time) error {
	switch {
	case now.Before(lot.Policy.EarliestEntry(r).Truncate(time.Second)):
		return pass.ErrNotYetValid
	case !now.Before(r.EndsAt.Add(passValidity).Truncate(time.Second)):
		return pass.ErrExpired
	}
	return nil
}

func (s *Service) entry(ctx context.Context, g parking.Gate, sc Scan) (Decision, parking.Reservation, error) {
	if strings.TrimSpace(sc.Code) == "" {
		return s.driveUp(ctx, g, sc)
	}
	r, d, err := s.reservationOf(ctx, g, sc.Code)
	if err != nil || d != nil {
		return deref(d), r, err
	}
	lot, err := s.store.Lot(ctx, r.LotID)
	if err != nil {
		return Decision{}, r, err
	}
	now := s.clock.Now()
	switch r.Status {
	case parking.StatusHeld:
		return deny(ReasonNotPaid, "This booking is not paid."), r, nil
	case parking.StatusCancelled, parking.StatusExpired:
		return deny(ReasonCancelled, "This booking was cancelled."), r, nil
	case parking.StatusNoShow:
		return deny(ReasonNoShow, "This booking was released: it was not used in time."), r, nil
	case parking.StatusCheckedIn:
		return deny(ReasonAlreadyInside, "This pass is already inside."), r, nil
	case parking.StatusCompleted:
		return deny(ReasonAlreadyLeft, "This booking has ended."), r, nil
	}
	if now.Before(lot.Policy.EarliestEntry(r)) {
		return deny(ReasonTooEarly, "Too early: come back closer to your booking."), r, nil
	}
	if !now.Before(lot.Policy.NoShowDeadline(r)) {
		return deny(ReasonNoShow, "This booking was released: it was not used in time."), r, nil
	}
	if !now.Before(r.EndsAt) {
		return deny(ReasonBookingEnded, "This booking has already ended."), r, nil
	}
	// A car may still be on the spot: one staying past its time (the sweep
	// moves bookings away from those before their drivers come, but a
	// driver can be early), or one whose own window has not ended yet. The
	// arriving driver gets another spot that fits rather than a taken one.
	message := "Welcome. Your spot is "
	if _, taken, err := s.engine.Occupant(ctx, r); err != nil {
		return Decision{}, r, err
	} else if taken {
		moved, err := s.engine.MoveForArrival(ctx, r)
		switch {
		case errors.Is(err, parking.ErrSpotUnavailable):
			return deny(ReasonSpotOccupied, "Your spot is still taken and no other spot is free: please wait a moment or call the attendant."), r, nil
		case errors.Is(err, parking.ErrInvalidStatus):
			return deny(ReasonAlreadyInside, "This pass is already inside."), r, nil
		case err != nil:
			return Decision{}, r, err
		}
		r, message = moved, "Welcome. Your spot has changed: please park at "
	}
	in, err := s.store.ChangeStatus(ctx, parking.StatusChange{ID: r.ID, From: []parking.Status{parking.StatusConfirmed}, To: parking.StatusCheckedIn, At: now})
	if errors.Is(err, parking.ErrInvalidStatus) {
		return deny(ReasonAlreadyInside, "This pass is already inside."), r, nil // a second scan raced this one
	}
	if errors.Is(err, parking.ErrSpotUnavailable) {
		// A car checked in on the spot meanwhile and is past its window.
		return deny(ReasonSpotOccupied, "Your spot is still taken: please scan again."), r, nil
	}
	if err != nil {
		return Decision{}, r, err
	}
	return s.opened(ctx, in, ReasonOK, message), in, nil
}

func (s *Service) driveUp(ctx context.Context, g parking.Gate, sc Scan) (Decision, parking.Reservation, error) {
	size := sc.Size
	if !size.Valid() {
		size = parking.Standard
	}
	r, err := s.engine.AdmitDriveUp(ctx, g.LotID, size, sc.Plate)
	if errors.Is(err, booking.ErrLotFull) {
		return deny(ReasonLotFull, "Sorry, the car park is full."), r, nil
	}
	if err != nil {
		return Decision{}, r, err
	}
	d := s.opened(ctx, r, ReasonDriveUp, "Welcome. Your spot is ")
	ticket, err := s.PassFor(ctx, r)
	if err != nil {
		return Decision{}, r, err
	}
	d.Ticket = &ticket
	return d, r, nil
}

// opened is an open decision naming the reservation's spot.
func (s *Service) opened(ctx context.Context, r parking.Reservation, reason, message string) Decision {
	sp, err := s.store.Spot(ctx, r.SpotID)
	if err != nil {
		return Decision{Decision: parking.Open, Reason: reason, ReservationID: r.ID, SpotID: r.SpotID, Currency: r.Currency, Message: "Welcome."}
	}
	return openedAt(r, sp, reason, message)
}

// openedAt is an open decision naming spot, which the caller has read already.
func openedAt(r parking.Reservation, spot parking.Spot, reason, message string) Decision {
	return Decision{Decision: parking.Open, Reason: reason, ReservationID: r.ID, SpotID: r.SpotID, Currency: r.Currency,
		SpotLabel: spot.Label, Message: message + spot.Label + "."}
}

// amountDue is what r, parked on spot in lot, owes at the exit at now: a
// drive-up's time, or a booking's overstay past its end plus the grace
// (charged from the end).
func amountDue(lot parking.Lot, spot parking.Spot, r parking.Reservation, now time.Time) (amount int64, purpose string, err error) {
	if r.UserID == "" { // a drive-up pays for the time it stayed
		from := r.StartsAt
		if r.CheckedInAt != nil {
			from = *r.CheckedInAt
		}
		amount, err := lot.Policy.Price(spot.Size, from, now)
		return amount, parking.PurposeBooking, err
	}
	if now.After(lot.Policy.OverstayChargedAfter(r)) {
		return lot.Policy.OverstayPrice(spot.Size, now.Sub(r.EndsAt)), parking.PurposeOverstay, nil
	}
	return 0, parking.PurposeOverstay, nil
}

func (s *Service) exit(ctx context.Context, g parking.Gate, sc Scan) (Decision, parking.Reservation, error) {
	if strings.TrimSpace(sc.Code) == "" {
		return deny(ReasonInvalidPass, "Scan your pass or ticket to leave."), parking.Reservation{}, nil
	}
	r, d, err := s.reservationOf(ctx, g, sc.Code)
	if err != nil || d != nil {
		return deref(d), r, err
	}
	switch r.Status {
	case parking.StatusCompleted:
		return deny(ReasonAlreadyLeft, "This pass has already left."), r, nil
	case parking.StatusCheckedIn:
	default:
		return deny(ReasonNotInside, "This pass did not come in."), r, nil
	}
	now := s.clock.Now()
	lot, err := s.store.Lot(ctx, r.LotID)
	if err != nil {
		return Decision{}, r, err
	}
	spot, err := s.store.Spot(ctx, r.SpotID)
	if err != nil {
		return Decision{}, r, err
	}
	amount, purpose, err := amountDue(lot, spot, r, now)
	if err != nil {
		return Decision{}, r, err
	}
	var paid int64
	if amount > 0 {
		var out payments.Overstay
		switch {
		case sc.PaymentMethod != "":
			out, err = s.pay.ChargeAtExit(ctx, r, amount, sc.PaymentMethod, purpose)
		case purpose == parking.PurposeOverstay:
			out, err = s.pay.ChargeOverstay(ctx, r, amount)
		default:
			out = payments.Overstay{Amount: amount, Currency: r.Currency, Due: amount}
		}
		if err != nil {
			return Decision{}, r, err
		}
		if out.Due > 0 {
			d := deny(ReasonPaymentRequired, "Please pay "+parking.FormatMoney(out.Due, r.Currency)+" to leave.")
			d.ReservationID, d.AmountDue, d.Currency = r.ID, out.Due, r.Currency
			return d, r, nil
		}
		paid = amount
	}
	out, err := s.store.ChangeStatus(ctx, parking.StatusChange{ID: r.ID, From: []parking.Status{parking.StatusCheckedIn}, To: parking.StatusCompleted, At: now})
	if errors.Is(err, parking.ErrInvalidStatus) {
		return deny(ReasonAlreadyLeft, "This pass has already left."), r, nil
	}
	if err != nil {
		return Decision{}, r, err
	}
	d2 := openedAt(out, spot, ReasonOK, "Goodbye. You parked at ")
	d2.Paid = paid
	return d2, out, nil
}

func deref(d *Decision) Decision {
	if d == nil {
		return Decision{}
	}
	return *d
}
