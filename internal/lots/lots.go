// Package lots runs the shape of a car park: its lots, their levels and their
// spots. It decides who may change them (parking.User's rules), what a valid
// change is (the domain's Validate), and serves the reads the API and the
// pages share, so that neither reaches the store itself.
//
// It is a package of its own rather than methods on booking.Service: booking
// decides claims on spots over time, this decides what the spots are. Where a
// change of shape meets bookings (a spot that shrinks, or leaves service) it
// asks booking, and payments for the refunds that follow.
package lots

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"parkd/internal/booking"
	"parkd/internal/parking"
	"parkd/internal/payments"
)

// Limits on what one request may change.
const (
	// MaxSpotsPerRequest is the most spots one bulk create may hold.
	MaxSpotsPerRequest = 5000
	// maxFieldErrors: a batch with thousands of bad rows answers with the
	// first problems, not a megabyte of them.
	maxFieldErrors = 100
)

// Store is what the service reads and writes of parkd's storage: the lot
// part, less what only booking changes (a spot's size against its bookings,
// its service state).
type Store interface {
	Operator(ctx context.Context, id string) (parking.Operator, error)
	Operators(ctx context.Context) ([]parking.Operator, error)
	CreateOperator(ctx context.Context, o *parking.Operator) error
	CreateLot(ctx context.Context, l *parking.Lot) error
	Lot(ctx context.Context, id string) (parking.Lot, error)
	Lots(ctx context.Context) ([]parking.Lot, error)
	SearchLots(ctx context.Context, q parking.LotQuery) ([]parking.LotMatch, error)
	UpdateLot(ctx context.Context, l *parking.Lot) error
	CreateLevel(ctx context.Context, l *parking.Level) error
	Levels(ctx context.Context, lotID string) ([]parking.Level, error)
	UpdateLevel(ctx context.Context, l *parking.Level) error
	CreateSpots(ctx context.Context, spots []parking.Spot) error
	Spot(ctx context.Context, id string) (parking.Spot, error)
	Spots(ctx context.Context, lotID string) ([]parking.Spot, error)
	// Invitations make an existing account an operator's staff.
	UserByEmail(ctx context.Context, email string) (parking.User, error)
	SetUserRole(ctx context.Context, userID string, role parking.Role, operatorID string) error
}

// Service runs lots, levels and spots.
type Service struct {
	store  Store
	engine *booking.Service
	pay    *payments.Service
	clock  parking.Clock
}

// New returns the service over store. engine checks changes of spots against
// their bookings; pay refunds the bookings taking a spot out of service
// cancels.
func New(store Store, engine *booking.Service, pay *payments.Service, clock parking.Clock) *Service {
	return &Service{store: store, engine: engine, pay: pay, clock: clock}
}

// Match checks a versioned write: nil to write over version, or an error
// (parking.EPRECONDITION) to write nothing. The API's If-Match is one.
type Match func(version int64) error

// Lots lists every lot. Lots are public.
func (s *Service) Lots(ctx context.Context) ([]parking.Lot, error) { return s.store.Lots(ctx) }

// Lot returns one lot.
func (s *Service) Lot(ctx context.Context, id string) (parking.Lot, error) {
	return s.store.Lot(ctx, id)
}

// Levels lists a lot's levels.
func (s *Service) Levels(ctx context.Context, lotID string) ([]parking.Level, error) {
	return s.store.Levels(ctx, lotID)
}

// Spots lists a lot's spots, by size, then label.
func (s *Service) Spots(ctx context.Context, lotID string) ([]parking.Spot, error) {
	return s.store.Spots(ctx, lotID)
}

// Spot returns one spot, of whatever lot.
func (s *Service) Spot(ctx context.Context, id string) (parking.Spot, error) {
	return s.store.Spot(ctx, id)
}

// LotSpot returns the spot spotID if it belongs to lot lotID: a spot of
// another lot is not found, as in the API's paths /lots/{lot}/spots/{spot}.
func (s *Service) LotSpot(ctx context.Context, lotID, spotID string) (parking.Spot, error) {
	sp, err := s.store.Spot(ctx, spotID)
	if errors.Is(err, parking.ErrNotFound) || err == nil && sp.LotID != lotID {
		return parking.Spot{}, parking.Errorf(parking.ENOTFOUND, "spot not found in this lot")
	}
	return sp, err
}

// Detail is a lot with its levels.
type Detail struct {
	parking.Lot
	Levels []parking.Level `json:"levels"`
}

// LotDetail returns a lot with its levels.
func (s *Service) LotDetail(ctx context.Context, id string) (Detail, error) {
	lot, err := s.store.Lot(ctx, id)
	if err != nil {
		return Detail{}, err
	}
	levels, err := s.store.Levels(ctx, lot.ID)
	if err != nil {
		return Detail{}, err
	}
	return Detail{Lot: lot, Levels: levels}, nil
}

// SpotStatus returns the spot spotID of lot lotID with its status over
// [from, to).
func (s *Service) SpotStatus(ctx context.Context, lotID, spotID string, from, to time.Time) (booking.SpotAvailability, error) {
	sp, err := s.LotSpot(ctx, lotID, spotID)
	if err != nil {
		return booking.SpotAvailability{}, err
	}
	status, err := s.engine.SpotStatus(ctx, sp, from, to)
	if err != nil {
		return booking.SpotAvailability{}, err
	}
	return booking.SpotAvailability{Spot: sp, Status: status}, nil
}

// ManagedLot returns lot lotID if u runs it. Lots are public, so an existing
// lot that u does not run is forbidden rather than not found. The rule is the
// booking engine's, which the lot's reservations and gates answer by too.
func (s *Service) ManagedLot(ctx context.Context, u parking.User, lotID string) (parking.Lot, error) {
	return s.engine.ManagedLot(ctx, u, lotID)
}

// ManagedLots lists the lots u runs; someone who runs none at all is
// forbidden.
func (s *Service) ManagedLots(ctx context.Context, u parking.User) ([]parking.Lot, error) {
	if !u.ManagesAny() {
		return nil, parking.Errorf(parking.EFORBIDDEN, "operators only")
	}
	all, err := s.store.Lots(ctx)
	if err != nil {
		return nil, err
	}
	var mine []parking.Lot
	for _, l := range all {
		if u.Runs(l) {
			mine = append(mine, l)
		}
	}
	return mine, nil
}

// Operators lists the operators u may create lots for, by name: every one
// for an admin, who must choose; the operator's own for an operator; none for
// a driver. The "New lot" form offers them.
func (s *Service) Operators(ctx context.Context, u parking.User) ([]parking.Operator, error) {
	if !u.ManagesAny() {
		return nil, nil
	}
	if !u.IsAdmin() {
		o, err := s.store.Operator(ctx, u.OperatorID)
		if err != nil {
			return nil, err
		}
		return []parking.Operator{o}, nil
	}
	return s.store.Operators(ctx)
}

// CreateOperator creates an operator, the company lots belong to. Only
// admins create them: an installation's first lot needs one, and the
// administrator may set it up from the browser.
func (s *Service) CreateOperator(ctx context.Context, u parking.User, name string) (parking.Operator, error) {
	if !u.IsAdmin() {
		return parking.Operator{}, parking.Errorf(parking.EFORBIDDEN, "only admins create operators")
	}
	o := parking.Operator{ID: parking.NewID("opr"), Name: strings.TrimSpace(name), CreatedAt: s.clock.Now()}
	if err := o.Validate(); err != nil {
		return parking.Operator{}, err
	}
	if err := s.store.CreateOperator(ctx, &o); err != nil {
		return parking.Operator{}, err
	}
	return o, nil
}

// AddMember makes the account with email an operator of operatorID, at
// once: u must work for that operator (or be an admin). Invitations need no
// email link because the account must already exist; an admin, or another
// operator's staff, is refused rather than silently moved.
func (s *Service) AddMember(ctx context.Context, u parking.User, operatorID, email string) (parking.User, error) {
	if !u.WorksFor(operatorID) {
		return parking.User{}, parking.Errorf(parking.EFORBIDDEN, "you invite people only to your own operator")
	}
	op, err := s.store.Operator(ctx, operatorID)
	if err != nil {
		return parking.User{}, err
	}
	email = parking.NormalizeEmail(email)
	if email == "" {
		var ve parking.ValidationError
		ve.Add("email", "is required")
		return parking.User{}, ve.Err()
	}
	m, err := s.store.UserByEmail(ctx, email)
	if errors.Is(err, parking.ErrNotFound) {
		return parking.User{}, parking.Errorf(parking.ENOTFOUND, "no account uses %s: ask them to sign up first, then invite them again", email)
	}
	if err != nil {
		return parking.User{}, err
	}
	switch {
	case m.IsAdmin():
		return parking.User{}, parking.Errorf(parking.ECONFLICT, "%s is an administrator, who runs every lot already", email)
	case m.Role == parking.RoleOperator && m.OperatorID == op.ID:
		return m, nil
	case m.Role == parking.RoleOperator:
		return parking.User{}, parking.Errorf(parking.ECONFLICT, "%s already works for another operator", email)
	}
	if err := s.store.SetUserRole(ctx, m.ID, parking.RoleOperator, op.ID); err != nil {
		return parking.User{}, err
	}
	m.Role, m.OperatorID = parking.RoleOperator, op.ID
	return m, nil
}

// PolicyChange makes a lot's policy from a base: the defaults for a new lot,
// the current policy for an edit. The API's is a JSON object merged over the
// base, so that the fields it omits keep their values.
type PolicyChange func(base parking.Policy) (parking.Policy, error)

// NewLot is a lot to create. Lat and Lng are required: nil is not 0.
type NewLot struct {
	OperatorID string // empty for an operator's own operator; admins must name one
	Name       string
	Address    string
	Lat, Lng   *float64
	TimeZone   string
	Currency   string
	Policy     PolicyChange // nil: the default policy
}

// CreateLot creates a lot. Operators create lots of their own operator;
// admins must name the operator.
func (s *Service) CreateLot(ctx context.Context, u parking.User, n NewLot) (parking.Lot, error) {
	if !u.ManagesAny() {
		return parking.Lot{}, parking.Errorf(parking.EFORBIDDEN, "only operators and admins manage lots")
	}
	lot := parking.Lot{
		ID: parking.NewID("lot"), OperatorID: strings.TrimSpace(n.OperatorID), Name: strings.TrimSpace(n.Name),
		Address: strings.TrimSpace(n.Address), TimeZone: strings.TrimSpace(n.TimeZone),
		Currency: strings.ToUpper(strings.TrimSpace(n.Currency)), Policy: parking.DefaultPolicy(), CreatedAt: s.clock.Now(),
	}
	if u.Role == parking.RoleOperator {
		if lot.OperatorID != "" && lot.OperatorID != u.OperatorID {
			return parking.Lot{}, parking.Errorf(parking.EFORBIDDEN, "you may create lots only for your own operator")
		}
		lot.OperatorID = u.OperatorID
	}
	if n.Policy != nil {
		p, err := n.Policy(parking.DefaultPolicy())
		if err != nil {
			return parking.Lot{}, err
		}
		lot.Policy = p
	}
	set(&lot.Lat, n.Lat)
	set(&lot.Lng, n.Lng)
	var ve parking.ValidationError
	ve.Merge(lot.Validate())
	if n.Lat == nil {
		ve.Add("lat", "is required")
	}
	if n.Lng == nil {
		ve.Add("lng", "is required")
	}
	if lot.OperatorID != "" {
		if _, err := s.store.Operator(ctx, lot.OperatorID); errors.Is(err, parking.ErrNotFound) {
			ve.Add("operator_id", "no operator has this id")
		} else if err != nil {
			return parking.Lot{}, err
		}
	}
	if err := ve.Err(); err != nil {
		return parking.Lot{}, err
	}
	if err := s.store.CreateLot(ctx, &lot); err != nil {
		return parking.Lot{}, err
	}
	return lot, nil
}

// LotChange names the fields of a lot to change; nil leaves one as it is. The
// operator and creation time never change.
type LotChange struct {
	Name, Address      *string
	Lat, Lng           *float64
	TimeZone, Currency *string
	Policy             PolicyChange // over the current policy
}

// UpdateLot changes the fields c names of lot lotID, which u must run, over
// the version read if match allows it. A write that loses a race to another
// is parking.ErrStale: the caller may try again.
func (s *Service) UpdateLot(ctx context.Context, u parking.User, lotID string, c LotChange, match Match) (parking.Lot, error) {
	lot, err := s.ManagedLot(ctx, u, lotID)
	if err != nil {
		return parking.Lot{}, err
	}
	if err := match(lot.Version); err != nil {
		return parking.Lot{}, err
	}
	setTrimmed(&lot.Name, c.Name)
	setTrimmed(&lot.Address, c.Address)
	setTrimmed(&lot.TimeZone, c.TimeZone)
	if c.Currency != nil {
		lot.Currency = strings.ToUpper(strings.TrimSpace(*c.Currency))
	}
	set(&lot.Lat, c.Lat)
	set(&lot.Lng, c.Lng)
	if c.Policy != nil {
		if lot.Policy, err = c.Policy(lot.Policy); err != nil {
			return parking.Lot{}, err
		}
	}
	if err := lot.Validate(); err != nil {
		return parking.Lot{}, err
	}
	if err := s.store.UpdateLot(ctx, &lot); err != nil {
		return parking.Lot{}, err
	}
	return lot, nil
}

// NewLevel is a level to add to a lot.
type NewLevel struct {
	Name          string
	Ordinal       int
	Width, Height float64
}

// CreateLevel adds a level to lot lotID, which u must run.
func (s *Service) CreateLevel(ctx context.Context, u parking.User, lotID string, n NewLevel) (parking.Level, error) {
	lot, err := s.ManagedLot(ctx, u, lotID)
	if err != nil {
		return parking.Level{}, err
	}
	lv := parking.Level{ID: parking.NewID("lvl"), LotID: lot.ID, Name: strings.TrimSpace(n.Name), Ordinal: n.Ordinal, Width: n.Width, Height: n.Height}
	if err := lv.Validate(); err != nil {
		return parking.Level{}, err
	}
	if err := s.store.CreateLevel(ctx, &lv); err != nil {
		return parking.Level{}, err
	}
	return lv, nil
}

// LevelChange names the fields of a level to change; nil leaves one as it is.
type LevelChange struct {
	Name          *string
	Ordinal       *int
	Width, Height *float64
}

// UpdateLevel changes the fields c names of level levelID of lot lotID,
// which u must run, as UpdateLot.
func (s *Service) UpdateLevel(ctx context.Context, u parking.User, lotID, levelID string, c LevelChange, match Match) (parking.Level, error) {
	lot, err := s.ManagedLot(ctx, u, lotID)
	if err != nil {
		return parking.Level{}, err
	}
	lv, err := s.lotLevel(ctx, lot.ID, levelID)
	if err != nil {
		return parking.Level{}, err
	}
	if err := match(lv.Version); err != nil {
		return parking.Level{}, err
	}
	setTrimmed(&lv.Name, c.Name)
	set(&lv.Ordinal, c.Ordinal)
	set(&lv.Width, c.Width)
	set(&lv.Height, c.Height)
	if err := lv.Validate(); err != nil {
		return parking.Level{}, err
	}
	if err := s.store.UpdateLevel(ctx, &lv); err != nil {
		return parking.Level{}, err
	}
	return lv, nil
}

// lotLevel returns the level levelID if it belongs to lot lotID.
func (s *Service) lotLevel(ctx context.Context, lotID, levelID string) (parking.Level, error) {
	levels, err := s.store.Levels(ctx, lotID)
	if err != nil {
		return parking.Level{}, err
	}
	for _, l := range levels {
		if l.ID == levelID {
			return l, nil
		}
	}
	return parking.Level{}, parking.Errorf(parking.ENOTFOUND, "level not found in this lot")
}

// SpotChange names the fields of a spot to change; nil leaves one as it is.
// The size is text, as sent ("SUV" is large), so that one that names no size
// is reported with the others.
type SpotChange struct {
	Label, Size    *string
	Lat, Lng, X, Y *float64
	Amenities      *[]string
}

// notASize stands for a size that was sent but names none, so that
// Spot.Validate reports it.
const notASize parking.Size = -1

func (c SpotChange) apply(sp *parking.Spot) {
	setTrimmed(&sp.Label, c.Label)
	if c.Size != nil {
		size, err := parking.ParseSize(*c.Size)
		if err != nil {
			size = notASize
		}
		sp.Size = size
	}
	set(&sp.Lat, c.Lat)
	set(&sp.Lng, c.Lng)
	set(&sp.X, c.X)
	set(&sp.Y, c.Y)
	if c.Amenities != nil {
		sp.Amenities = parking.CleanAmenities(*c.Amenities)
	}
}

// NewSpot is a spot to create: label and size are required.
type NewSpot struct {
	LevelID string
	SpotChange
	InService *bool // default true
}

// CreateSpots creates up to MaxSpotsPerRequest spots in lot lotID, which u
// must run, all or none. Every problem of every spot is reported with its
// index ("spots[3].label").
func (s *Service) CreateSpots(ctx context.Context, u parking.User, lotID string, in []NewSpot) ([]parking.Spot, error) {
	lot, err := s.ManagedLot(ctx, u, lotID)
	if err != nil {
		return nil, err
	}
	switch n := len(in); {
	case n == 0:
		return nil, &parking.ValidationError{Fields: []parking.FieldError{{Field: "spots", Message: "give at least one spot"}}}
	case n > MaxSpotsPerRequest:
		return nil, &parking.ValidationError{Fields: []parking.FieldError{{Field: "spots",
			Message: fmt.Sprintf("holds %d spots; send at most %d per request", n, MaxSpotsPerRequest)}}}
	}
	levels, err := s.store.Levels(ctx, lot.ID)
	if err != nil {
		return nil, err
	}
	existing, err := s.store.Spots(ctx, lot.ID)
	if err != nil {
		return nil, err
	}
	ofLot := make(map[string]bool, len(levels))
	for _, l := range levels {
		ofLot[l.ID] = true
	}
	taken := make(map[string]bool, len(existing))
	for _, sp := range existing {
		taken[sp.Label] = true
	}

	var ve parking.ValidationError
	labels := make(map[string]int, len(in))
	spots := make([]parking.Spot, len(in))
	for i, n := range in {
		if len(ve.Fields) >= maxFieldErrors {
			ve.Add("spots", fmt.Sprintf("stopped at spots[%d] after %d problems: fix these and send again", i, len(ve.Fields)))
			break
		}
		prefix := fmt.Sprintf("spots[%d].", i)
		sp := parking.Spot{ID: parking.NewID("spt"), LotID: lot.ID, LevelID: n.LevelID, Amenities: []string{}, InService: true}
		set(&sp.InService, n.InService)
		n.apply(&sp)
		mergePrefixed(&ve, prefix, sp.Validate())
		if sp.LevelID != "" && !ofLot[sp.LevelID] {
			ve.Add(prefix+"level_id", "is not a level of this lot")
		}
		if j, dup := labels[sp.Label]; dup && sp.Label != "" {
			ve.Add(prefix+"label", fmt.Sprintf("%q repeats spots[%d].label: labels are unique in a lot", sp.Label, j))
		} else if taken[sp.Label] {
			ve.Add(prefix+"label", fmt.Sprintf("%q is already the label of a spot in this lot", sp.Label))
		} else {
			labels[sp.Label] = i
		}
		spots[i] = sp
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	if err := s.store.CreateSpots(ctx, spots); err != nil {
		return nil, err
	}
	return spots, nil
}

// mergePrefixed adds the fields of err, a *parking.ValidationError, to ve
// with prefix before each name.
func mergePrefixed(ve *parking.ValidationError, prefix string, err error) {
	var v *parking.ValidationError
	if errors.As(err, &v) {
		for _, f := range v.Fields {
			ve.Add(prefix+f.Field, f.Message)
		}
	}
}

// UpdateSpot changes the fields c names of spot spotID of lot lotID, which u
// must run, as UpdateLot. A spot cannot shrink below a vehicle booked on it
// now or later (booking.Service.UpdateSpot); its level and service state do
// not change here.
func (s *Service) UpdateSpot(ctx context.Context, u parking.User, lotID, spotID string, c SpotChange, match Match) (parking.Spot, error) {
	lot, err := s.ManagedLot(ctx, u, lotID)
	if err != nil {
		return parking.Spot{}, err
	}
	old, err := s.LotSpot(ctx, lot.ID, spotID)
	if err != nil {
		return parking.Spot{}, err
	}
	if err := match(old.Version); err != nil {
		return parking.Spot{}, err
	}
	sp := old
	sp.Amenities = append([]string{}, old.Amenities...)
	c.apply(&sp)
	if err := sp.Validate(); err != nil {
		return parking.Spot{}, err
	}
	if sp.Label != old.Label {
		others, err := s.store.Spots(ctx, lot.ID)
		if err != nil {
			return parking.Spot{}, err
		}
		var ve parking.ValidationError
		for _, o := range others {
			if o.Label == sp.Label && o.ID != sp.ID {
				ve.Add("label", fmt.Sprintf("%q is already the label of a spot in this lot", sp.Label))
			}
		}
		if err := ve.Err(); err != nil {
			return parking.Spot{}, err
		}
	}
	if err := s.engine.UpdateSpot(ctx, old, &sp); err != nil {
		return parking.Spot{}, err
	}
	return sp, nil
}

// MaxReasonLen bounds the reason an operator gives for taking a spot out of
// service.
const MaxReasonLen = 500

// TakeOutOfService stops spot spotID of lot lotID, which u must run, from
// being booked and moves its bookings to other spots that fit. Those no spot
// fits make it a conflict, unless force: then they are cancelled and refunded
// in full (payments.Service.TakeOutOfService). reason, optional, is checked
// for length only: the store keeps no reason, the caller's log does.
func (s *Service) TakeOutOfService(ctx context.Context, u parking.User, lotID, spotID string, force bool, reason string) (booking.Withdrawal, error) {
	lot, err := s.ManagedLot(ctx, u, lotID)
	if err != nil {
		return booking.Withdrawal{}, err
	}
	sp, err := s.LotSpot(ctx, lot.ID, spotID)
	if err != nil {
		return booking.Withdrawal{}, err
	}
	if utf8.RuneCountInString(strings.TrimSpace(reason)) > MaxReasonLen {
		return booking.Withdrawal{}, &parking.ValidationError{Fields: []parking.FieldError{{Field: "reason",
			Message: fmt.Sprintf("must be at most %d characters", MaxReasonLen)}}}
	}
	if s.pay == nil {
		return booking.Withdrawal{}, errors.New("lots: no payment service to refund what taking a spot out of service cancels")
	}
	return s.pay.TakeOutOfService(ctx, sp, force)
}

// ReturnToService lets spot spotID of lot lotID, which u must run, be booked
// again.
func (s *Service) ReturnToService(ctx context.Context, u parking.User, lotID, spotID string) (parking.Spot, error) {
	lot, err := s.ManagedLot(ctx, u, lotID)
	if err != nil {
		return parking.Spot{}, err
	}
	sp, err := s.LotSpot(ctx, lot.ID, spotID)
	if err != nil {
		return parking.Spot{}, err
	}
	return s.engine.ReturnToService(ctx, sp)
}

// set copies *v to *dst when v is given.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func setTrimmed(dst *string, v *string) {
	if v != nil {
		*dst = strings.TrimSpace(*v)
	}
}
