// Package parking holds parkd's domain: lots, spots, reservations and their rules,
// the errors every layer shares, and the interfaces storage and time implement.
// It imports nothing of the project.
package parking

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Operator runs one or more lots.
type Operator struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks an operator's fields, as Lot.Validate.
func (o *Operator) Validate() error {
	var ve ValidationError
	checkText(&ve, "name", o.Name, 200)
	return ve.Err()
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

// Validate checks every field of a lot and returns a *ValidationError that
// lists each invalid one, so that a form can show them all at once. The time
// zone must be an IANA name: "Local" would be the server's own zone, whatever
// that happens to be.
func (l *Lot) Validate() error {
	var ve ValidationError
	checkText(&ve, "name", l.Name, 200)
	checkText(&ve, "address", l.Address, 500)
	if l.Lat < -90 || l.Lat > 90 {
		ve.Add("lat", "must be between -90 and 90")
	}
	if l.Lng < -180 || l.Lng > 180 {
		ve.Add("lng", "must be between -180 and 180")
	}
	if !currencyPattern.MatchString(l.Currency) {
		ve.Add("currency", "must be an ISO 4217 code such as USD")
	}
	if _, err := time.LoadLocation(l.TimeZone); err != nil || l.TimeZone == "" || l.TimeZone == "Local" {
		ve.Add("time_zone", "must be an IANA time zone such as America/New_York")
	}
	if err := l.Policy.Validate(); err != nil {
		ve.Add("policy", ErrorMessage(err))
	}
	if l.OperatorID == "" {
		ve.Add("operator_id", "is required: the id of the operator who runs the lot")
	}
	return ve.Err()
}

// checkText adds a problem with a required text field that is empty, or
// longer than max characters.
func checkText(ve *ValidationError, field, v string, max int) {
	switch n := utf8.RuneCountInString(strings.TrimSpace(v)); {
	case n == 0:
		ve.Add(field, "is required")
	case n > max:
		ve.Add(field, fmt.Sprintf("must be at most %d characters", max))
	}
}

// MaxLevelOrdinal bounds a level's ordinal both ways: the databases keep a
// 32-bit integer, and no garage has a thousand floors.
const MaxLevelOrdinal = 1000

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

// Validate checks every field of a level and returns a *ValidationError that
// lists each invalid one.
func (l *Level) Validate() error {
	var ve ValidationError
	checkText(&ve, "name", l.Name, 100)
	if l.Ordinal < -MaxLevelOrdinal || l.Ordinal > MaxLevelOrdinal {
		ve.Add("ordinal", fmt.Sprintf("must be between %d and %d", -MaxLevelOrdinal, MaxLevelOrdinal))
	}
	if l.Width < 0 {
		ve.Add("width", "must not be negative")
	}
	if l.Height < 0 {
		ve.Add("height", "must not be negative")
	}
	return ve.Err()
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

// Spot size problems: a spot without one, and one that names no size.
const (
	SpotSizeRequired = "is required: motorcycle, compact, standard or large"
	SpotSizeUnknown  = "must be motorcycle, compact, standard or large (or small, medium, SUV, ...)"
)

// MaxAmenities is the most amenities one spot may have.
const MaxAmenities = 16

// Validate checks every field of a spot and returns a *ValidationError that
// lists each invalid one. Amenities are checked as CleanAmenities leaves them.
func (s *Spot) Validate() error {
	var ve ValidationError
	checkText(&ve, "label", s.Label, 50)
	switch {
	case s.Size == 0:
		ve.Add("size", SpotSizeRequired)
	case !s.Size.Valid():
		ve.Add("size", SpotSizeUnknown)
	}
	if s.Lat < -90 || s.Lat > 90 {
		ve.Add("lat", "must be between -90 and 90")
	}
	if s.Lng < -180 || s.Lng > 180 {
		ve.Add("lng", "must be between -180 and 180")
	}
	if s.X < 0 {
		ve.Add("x", "must not be negative: it is a position on the level plan")
	}
	if s.Y < 0 {
		ve.Add("y", "must not be negative: it is a position on the level plan")
	}
	if len(s.Amenities) > MaxAmenities {
		ve.Add("amenities", fmt.Sprintf("must hold at most %d amenities", MaxAmenities))
	}
	for _, a := range s.Amenities {
		if a == "" || utf8.RuneCountInString(a) > 32 {
			ve.Add("amenities", "each amenity must be 1 to 32 characters, such as \"ev\" or \"covered\"")
		}
	}
	if s.LotID == "" {
		ve.Add("lot_id", "is required")
	}
	if s.LevelID == "" {
		ve.Add("level_id", "is required")
	}
	return ve.Err()
}

// CleanAmenities lower-cases and trims amenities and drops repeats, so that
// "EV" and "ev " are one amenity. Spot.Validate then checks what is left.
func CleanAmenities(in []string) []string {
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, a := range in {
		a = strings.ToLower(strings.TrimSpace(a))
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
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
func (u User) Runs(lot Lot) bool { return u.WorksFor(lot.OperatorID) }

// WorksFor reports whether u acts for the operator operatorID (its webhook,
// its settings): its own staff, or an admin.
func (u User) WorksFor(operatorID string) bool {
	return u.IsAdmin() || u.Role == RoleOperator && u.OperatorID != "" && u.OperatorID == operatorID
}

// IsAdmin reports whether u administers parkd: every lot and operator.
func (u User) IsAdmin() bool { return u.Role == RoleAdmin }

// ActsFor reports whether u may act as the user userID (their vehicles,
// bookings, notifications): themselves, or an admin for anyone.
func (u User) ActsFor(userID string) bool {
	return u.ID != "" && u.ID == userID || u.IsAdmin()
}

// Owns reports whether r is u's own booking.
func (u User) Owns(r Reservation) bool { return u.ID != "" && r.UserID == u.ID }

// ManagesAny reports whether u runs any lot at all: an admin, or an operator
// of some operator. It is what "a manager" means to the API and the pages.
func (u User) ManagesAny() bool {
	return u.IsAdmin() || u.Role == RoleOperator && u.OperatorID != ""
}

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
