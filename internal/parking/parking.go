// Package parking holds parkd's domain: lots, spots, reservations and their rules,
// the errors every layer shares, and the interfaces storage and time implement.
// It imports nothing of the project.
package parking

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

// Operator runs one or more lots.
type Operator struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Lot is a garage or car park.
type Lot struct {
	ID         string    `json:"id"`
	OperatorID string    `json:"operator_id"`
	Name       string    `json:"name"`
	Address    string    `json:"address"`
	Lat        float64   `json:"lat"`
	Lng        float64   `json:"lng"`
	TimeZone   string    `json:"time_zone"`
	Currency   string    `json:"currency"` // ISO 4217, e.g. "USD"
	Policy     Policy    `json:"policy"`
	CreatedAt  time.Time `json:"created_at"`
	// Version moves on with every change; UpdateLot writes only over the
	// version it names (else ErrStale). The API answers it as the ETag.
	Version int64 `json:"version"`
}

var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// Validate checks the fields a lot cannot work without.
func (l *Lot) Validate() error {
	switch {
	case strings.TrimSpace(l.Name) == "":
		return Errorf(EINVALID, "lot name is required")
	case l.OperatorID == "":
		return Errorf(EINVALID, "lot operator is required")
	case !currencyPattern.MatchString(l.Currency):
		return Errorf(EINVALID, "lot currency must be an ISO 4217 code such as USD")
	case l.Lat < -90 || l.Lat > 90 || l.Lng < -180 || l.Lng > 180:
		return Errorf(EINVALID, "lot coordinates are out of range")
	}
	if _, err := time.LoadLocation(l.TimeZone); err != nil || l.TimeZone == "" {
		return Errorf(EINVALID, "lot time zone %q is not an IANA time zone", l.TimeZone)
	}
	return l.Policy.Validate()
}

// Level is one floor of a lot, with the size of its plan in plan units.
type Level struct {
	ID      string  `json:"id"`
	LotID   string  `json:"lot_id"`
	Name    string  `json:"name"`
	Ordinal int     `json:"ordinal"` // 0 ground, negative below, positive above
	Width   float64 `json:"width"`
	Height  float64 `json:"height"`
	Version int64   `json:"version"` // as Lot.Version
}

// Spot is one parking space.
type Spot struct {
	ID        string   `json:"id"`
	LotID     string   `json:"lot_id"`
	LevelID   string   `json:"level_id"`
	Label     string   `json:"label"` // e.g. "L1-A07"
	Size      Size     `json:"size"`
	Lat       float64  `json:"lat"`
	Lng       float64  `json:"lng"`
	X         float64  `json:"x"` // position on the level plan
	Y         float64  `json:"y"`
	Amenities []string `json:"amenities"` // "ev", "accessible", "covered", ...
	InService bool     `json:"in_service"`
	Version   int64    `json:"version"` // as Lot.Version; SetSpotInService moves it on too
}

// Validate checks a spot's own fields.
func (s *Spot) Validate() error {
	switch {
	case strings.TrimSpace(s.Label) == "":
		return Errorf(EINVALID, "spot label is required")
	case !s.Size.Valid():
		return Errorf(EINVALID, "spot %s: size is required", s.Label)
	case s.LotID == "" || s.LevelID == "":
		return Errorf(EINVALID, "spot %s: lot and level are required", s.Label)
	}
	return nil
}

// Role says what a user may do.
type Role string

const (
	RoleDriver   Role = "driver"
	RoleOperator Role = "operator"
	RoleAdmin    Role = "admin"
)

// User is a person with an account.
type User struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Email        string    `json:"email"`
	PasswordHash string    `json:"-"`
	Role         Role      `json:"role"`
	OperatorID   string    `json:"operator_id,omitempty"` // for operators: whose lots they run
	CreatedAt    time.Time `json:"created_at"`
}

// Runs reports whether u runs lot: admins run every lot, operators their own
// operator's.
func (u User) Runs(lot Lot) bool {
	return u.Role == RoleAdmin || u.Role == RoleOperator && u.OperatorID != "" && u.OperatorID == lot.OperatorID
}

// Owns reports whether r is u's own booking.
func (u User) Owns(r Reservation) bool { return u.ID != "" && r.UserID == u.ID }

// CanSee reports whether u may see (and act on) r, whose lot is lot: their own
// booking, or one in a lot they run; admins run every lot. Callers read the lot
// only when u does not own r.
func (u User) CanSee(r Reservation, lot Lot) bool {
	return u.Owns(r) || lot.ID == r.LotID && u.Runs(lot)
}

// Vehicle belongs to a user.
type Vehicle struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Plate     string    `json:"plate"`
	Size      Size      `json:"size"`
	CreatedAt time.Time `json:"created_at"`
}

// Status is where a reservation is in its lifecycle.
type Status string

const (
	StatusHeld      Status = "held"
	StatusConfirmed Status = "confirmed"
	StatusCheckedIn Status = "checked_in"
	StatusCompleted Status = "completed"
	StatusCancelled Status = "cancelled"
	StatusExpired   Status = "expired"
	StatusNoShow    Status = "no_show"
)

// Active reports whether a reservation in this status holds its spot. A held
// reservation holds it only until its hold expires: see Reservation.Blocks.
func (s Status) Active() bool {
	return s == StatusHeld || s == StatusConfirmed || s == StatusCheckedIn
}

// Reservation is a claim on one spot for a half-open window [StartsAt, EndsAt).
type Reservation struct {
	ID            string     `json:"id"`
	UserID        string     `json:"user_id,omitempty"` // empty for drive-up tickets
	VehicleID     string     `json:"vehicle_id,omitempty"`
	Plate         string     `json:"plate"`
	VehicleSize   Size       `json:"vehicle_size"`
	LotID         string     `json:"lot_id"`
	SpotID        string     `json:"spot_id"`
	StartsAt      time.Time  `json:"starts_at"`
	EndsAt        time.Time  `json:"ends_at"`
	Status        Status     `json:"status"`
	Amount        int64      `json:"amount"` // minor units
	Currency      string     `json:"currency"`
	HoldExpiresAt time.Time  `json:"hold_expires_at"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	CheckedInAt   *time.Time `json:"checked_in_at,omitempty"`
	CheckedOutAt  *time.Time `json:"checked_out_at,omitempty"`
	// MovedFrom is the spot the lot last moved this booking from, and
	// ChangeReason why the lot (not the driver) last moved or cancelled it:
	// ReasonOverstay, ReasonOutOfService, ReasonExtension or ReasonArrival.
	MovedFrom    string `json:"moved_from_spot_id,omitempty"`
	ChangeReason string `json:"change_reason,omitempty"`
	// PriceSize is the size the window was priced at: the chosen spot's, or
	// the vehicle's for "any spot"; zero when not recorded (older bookings).
	// An extension is priced at it too.
	PriceSize Size `json:"-"`
}

// HoldExpired reports whether r is a hold whose time to pay has run out by now:
// it no longer holds its spot, whether or not a sweep has marked it expired.
func (r *Reservation) HoldExpired(now time.Time) bool {
	return r.Status == StatusHeld && !now.Before(r.HoldExpiresAt)
}

// Overlaps reports whether two half-open windows share any instant.
// Back-to-back windows do not overlap.
func Overlaps(aStart, aEnd, bStart, bEnd time.Time) bool {
	return aStart.Before(bEnd) && bStart.Before(aEnd)
}

// Payment kinds.
const (
	Charge = "charge"
	Refund = "refund"
)

// What a charge pays for.
const (
	PurposeBooking  = "booking"
	PurposeOverstay = "overstay"
)

// SavedPaymentMethod is a payment method a driver saved, with consent, to be
// charged without them at the screen: for an overstay at the exit.
type SavedPaymentMethod struct {
	UserID        string    `json:"user_id"`
	PaymentMethod string    `json:"payment_method"`
	ConsentedAt   time.Time `json:"consented_at"`
}

// Payment statuses. A payment only moves forward: pending to succeeded or
// failed; never back.
const (
	PaymentPending   = "pending"
	PaymentSucceeded = "succeeded"
	PaymentFailed    = "failed"
)

// Payment is a charge or refund through the card gateway. Amounts are integer
// minor units of Currency. At most one charge per reservation is pending or
// succeeded at a time: the database refuses a second.
type Payment struct {
	ID            string    `json:"id"`
	ReservationID string    `json:"reservation_id"`
	UserID        string    `json:"user_id,omitempty"`
	Kind          string    `json:"kind"` // Charge or Refund
	Amount        int64     `json:"amount"`
	Currency      string    `json:"currency"`
	Status        string    `json:"status"`
	Gateway       string    `json:"gateway"`
	GatewayID     string    `json:"gateway_id,omitempty"`
	PaymentMethod string    `json:"payment_method,omitempty"` // the gateway's token, never a card number
	CardBrand     string    `json:"card_brand,omitempty"`
	CardLast4     string    `json:"card_last4,omitempty"`
	FailureCode   string    `json:"failure_code,omitempty"`
	RefundOf      string    `json:"refund_of,omitempty"` // for refunds: the charge refunded
	Purpose       string    `json:"purpose"`             // PurposeBooking or PurposeOverstay
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// ExtendsFrom and ExtendsTo mark a booking charge that pays for extending
	// the reservation's end from one to the other. Should the charge fail,
	// the end goes back.
	ExtendsFrom *time.Time `json:"extends_from,omitempty"`
	ExtendsTo   *time.Time `json:"extends_to,omitempty"`
}

// SortPayments orders ps oldest first (by creation, then id).
func SortPayments(ps []Payment) {
	slices.SortFunc(ps, func(a, b Payment) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// PaymentUpdate moves a payment forward, in one transaction with what follows
// from it.
type PaymentUpdate struct {
	PaymentID string
	// EventID, when set, is a gateway webhook event's id: it is recorded in the
	// same transaction, and an event seen before changes nothing (ErrDuplicateEvent).
	EventID     string
	From        []string // statuses the payment may be in; otherwise ErrInvalidStatus
	To          string
	GatewayID   string // kept when empty
	CardBrand   string
	CardLast4   string
	FailureCode string
	// Confirm, for a charge that succeeded, confirms its reservation: from held
	// (even if the hold has lapsed) or expired, provided no other reservation
	// took the spot. When one did, the payment is still updated and committed,
	// and ErrSpotUnavailable is returned so that the caller refunds.
	Confirm bool
	At      time.Time
}

// ErrDuplicateEvent is a webhook event seen before.
var ErrDuplicateEvent = &Error{Code: "duplicate_event", Message: "this event was handled before"}

// Event announces a state change. It is written in the same transaction as the
// change (an outbox), so nothing is announced that did not happen and nothing
// that happened goes unannounced. Seq orders events.
type Event struct {
	Seq           int64     `json:"seq"`
	LotID         string    `json:"lot_id"`
	Type          string    `json:"type"` // e.g. "reservation.held"
	SpotID        string    `json:"spot_id,omitempty"`
	ReservationID string    `json:"reservation_id,omitempty"`
	At            time.Time `json:"at"`
}

// SpotBooking is the strongest claim on a spot within a window: the status of its
// most advanced blocking reservation (checked_in > confirmed > held).
type SpotBooking struct {
	SpotID string
	Status Status
}

// StatusChange moves one reservation from one of From to To at time At. A held
// reservation whose hold has expired by At does not count as held.
type StatusChange struct {
	ID   string
	From []Status
	To   Status
	At   time.Time
	// Reason, for a cancellation that is the lot's doing, says why
	// (Reservation.ChangeReason).
	Reason string
}

// Move asks to put reservation ID, held or confirmed on spot From, on the
// first of Candidates (spot ids, in order of preference) that is free for its
// window, because of Reason.
type Move struct {
	ID         string
	From       string
	Candidates []string
	Reason     string
	At         time.Time
}

// Extension moves the end of reservation ID (confirmed or checked in) from
// From to To, after moving each booking in Moves out of the way, and stores
// Charge, the pending charge that pays for it, all in one transaction.
type Extension struct {
	ID     string
	From   time.Time
	To     time.Time
	Moves  []Move
	Charge *Payment
	At     time.Time
}
