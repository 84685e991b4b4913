// Package booking is parkd's booking engine: it holds spots for time windows,
// prices them, confirms, cancels and expires reservations, and reports a lot's
// availability. The store enforces that no spot is booked twice; the engine
// applies the lot's rules around that.
package booking

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"parkd/internal/parking"
)

// PastTolerance is how far in the past a window may start, so that a driver
// booking "from now" is not refused because their clock is a little behind.
// Its end may never lie in the past.
const PastTolerance = 5 * time.Minute

// Store is what the booking engine asks of parkd's storage.
type Store interface {
	parking.LotStore
	parking.ReservationStore
}

// Index answers reads of a lot from memory (live.Hub): its record and its
// spots with their claims, current with every change this instance committed
// and, within its poll, with other instances' changes. The database still
// decides every booking: a stale answer can cost a retry, never a double
// booking. ok false means the index cannot answer that read exactly (it is
// not running, or the window starts before what it loaded): ask the store.
type Index interface {
	Lot(ctx context.Context, lotID string) (lot parking.Lot, ok bool, err error)
	View(ctx context.Context, lotID string, from, to, now time.Time) (v parking.LotView, ok bool, err error)
	// Version names the state a loaded lot's views are read from; "" when
	// the lot is not loaded.
	Version(lotID string) string
	// CountFree counts as parking.LotStore's CountFree does. It never waits
	// for a lot to load: ok is false, and found unchanged, unless every lot
	// of found is loaded with the claims of w (those that are not are loaded
	// for the next count).
	CountFree(found []parking.LotMatch, w parking.LotWindow) (ok bool)
}

// Service is the booking engine.
type Service struct {
	store Store
	clock parking.Clock
	index Index // nil: every read asks the store
}

// New returns a booking engine over store, with time from clock.
func New(store Store, clock parking.Clock) *Service {
	return &Service{store: store, clock: clock}
}

// WithIndex returns a copy of s that reads lots, map reads and "any spot"
// candidates from index rather than the store.
func (s *Service) WithIndex(index Index) *Service {
	c := *s
	c.index = index
	return &c
}

// lot returns a lot's record, from the index when there is one.
func (s *Service) lot(ctx context.Context, lotID string) (parking.Lot, error) {
	if s.index != nil {
		if l, ok, err := s.index.Lot(ctx, lotID); ok || err != nil {
			return l, err
		}
	}
	return s.store.Lot(ctx, lotID)
}

// view returns the lot's spots and the strongest claim on each over
// [from, to) at now: from the index when it can answer, else from the store.
func (s *Service) view(ctx context.Context, lotID string, from, to, now time.Time) (parking.LotView, error) {
	if s.index != nil {
		if v, ok, err := s.index.View(ctx, lotID, from, to, now); ok || err != nil {
			return v, err
		}
	}
	// The two reads are independent: run them side by side, so a call costs
	// the slower of them rather than their sum.
	var bookings []parking.SpotBooking
	var bookingsErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		bookings, bookingsErr = s.store.Bookings(ctx, lotID, from, to, now)
	}()
	spots, err := s.store.Spots(ctx, lotID)
	<-done
	if err != nil {
		return parking.LotView{}, err
	}
	if bookingsErr != nil {
		return parking.LotView{}, bookingsErr
	}
	if len(spots) == 0 { // an empty lot, or none at all
		if _, err := s.store.Lot(ctx, lotID); err != nil {
			return parking.LotView{}, err
		}
	}
	claim := make(map[string]parking.Status, len(bookings))
	for _, b := range bookings {
		claim[b.SpotID] = b.Status
	}
	v := parking.LotView{Spots: spots, Claims: make([]parking.Status, len(spots))}
	for i, sp := range spots {
		v.Claims[i] = claim[sp.ID]
	}
	return v, nil
}

// CountFree sets Total and Free of every lot of found over w (as
// parking.LotStore's CountFree): from the index when it has every lot of
// found, else in one query of the store.
func (s *Service) CountFree(ctx context.Context, found []parking.LotMatch, w parking.LotWindow) error {
	if s.index != nil && s.index.CountFree(found, w) {
		return nil
	}
	return s.store.CountFree(ctx, found, w)
}

// IndexVersion names the state of the lot the next Availability would be
// read from, when the index has the lot loaded; else "". An answer computed
// at one version is the answer at that version until Availability.Until.
func (s *Service) IndexVersion(lotID string) string {
	if s.index == nil {
		return ""
	}
	return s.index.Version(lotID)
}

// HoldRequest asks for a spot over [StartsAt, EndsAt): SpotID for a specific spot,
// or empty for the smallest free spot that fits VehicleSize.
type HoldRequest struct {
	LotID       string
	SpotID      string
	VehicleSize parking.Size
	UserID      string
	VehicleID   string
	Plate       string
	StartsAt    time.Time
	EndsAt      time.Time
	// Amenities, for "any spot", are what the spot must have ("ev",
	// "accessible"); without them "any spot" keeps such spots for those who
	// ask, unless nothing else fits.
	Amenities []string
	// Key, when set, is the idempotency key of the request asking: the hold
	// goes in only while the key is still that request's claim, and completes
	// it with the reservation's id in the same transaction.
	Key *parking.KeyCompletion
}

// Hold places a hold that expires after the lot's hold time unless confirmed.
// The price is computed now and kept on the reservation: by the spot's size for
// a chosen spot, by the vehicle's size for "any spot that fits".
func (s *Service) Hold(ctx context.Context, req HoldRequest) (parking.Reservation, error) {
	now := s.clock.Now()
	if !req.VehicleSize.Valid() {
		return parking.Reservation{}, parking.Errorf(parking.EINVALID, "vehicle size is required")
	}
	lot, err := s.lot(ctx, req.LotID)
	if err != nil {
		return parking.Reservation{}, err
	}
	start, end := req.StartsAt.UTC().Truncate(time.Microsecond), req.EndsAt.UTC().Truncate(time.Microsecond)
	if err := CheckWindow(lot.Policy, start, end, now); err != nil {
		return parking.Reservation{}, err
	}

	priceSize := req.VehicleSize
	var candidates []string
	if req.SpotID != "" {
		spot, err := s.store.Spot(ctx, req.SpotID)
		if err != nil || spot.LotID != lot.ID {
			return parking.Reservation{}, parking.Errorf(parking.ENOTFOUND, "spot %s not found in lot %s", req.SpotID, lot.ID)
		}
		switch {
		case !spot.InService:
			return parking.Reservation{}, parking.Errorf(parking.ESPOTOUTOFSERVICE, "spot %s is out of service", spot.Label)
		case !req.VehicleSize.Fits(spot.Size):
			return parking.Reservation{}, parking.Errorf(parking.EVEHICLETOOLARGE, "a %s vehicle does not fit %s spot %s", req.VehicleSize, spot.Size, spot.Label)
		}
		candidates, priceSize = []string{spot.ID}, spot.Size
	} else {
		candidates, err = s.freeSpots(ctx, lot.ID, req.VehicleSize, req.Amenities, start, end, now)
		if err != nil {
			return parking.Reservation{}, err
		}
	}

	amount, err := lot.Policy.Price(priceSize, start, end)
	if err != nil {
		return parking.Reservation{}, err
	}
	r := parking.Reservation{
		ID: parking.NewID("res"), UserID: req.UserID, VehicleID: req.VehicleID, Plate: req.Plate,
		VehicleSize: req.VehicleSize, LotID: lot.ID, StartsAt: start, EndsAt: end, Status: parking.StatusHeld,
		Amount: amount, Currency: lot.Currency, HoldExpiresAt: lot.Policy.HoldExpiry(now),
		CreatedAt: now, UpdatedAt: now, PriceSize: priceSize,
	}
	err = s.store.Hold(ctx, &r, candidates, req.Key)
	if errors.Is(err, parking.ErrSpotUnavailable) && req.SpotID == "" {
		return parking.Reservation{}, parking.ErrNoSpotAvailable
	}
	return r, err
}

// CheckWindow applies the lot's rules to a window [start, end) asked for at
// now: it starts at most PastTolerance ago, ends after now and within the
// lot's booking horizon, and is no longer than its maximum stay.
func CheckWindow(p parking.Policy, start, end, now time.Time) error {
	switch {
	case start.IsZero() || end.IsZero():
		return parking.Errorf(parking.EINVALIDWINDOW, "starts_at and ends_at are required")
	case !end.After(start):
		return parking.Errorf(parking.EINVALIDWINDOW, "the window must end after it starts")
	case start.Before(now.Add(-PastTolerance)):
		return parking.Errorf(parking.EWINDOWINPAST, "the window starts in the past (more than %s ago)", parking.Duration(PastTolerance).Human())
	case !end.After(now):
		return parking.Errorf(parking.EWINDOWINPAST, "the window has already ended")
	}
	if err := checkHorizon(p, end, now); err != nil {
		return err
	}
	if end.Sub(start) > time.Duration(p.MaxStay) {
		return parking.Errorf(parking.ESTAYTOOLONG, "the window is longer than this lot's maximum stay of %s", p.MaxStay.Human())
	}
	return nil
}

// checkHorizon refuses an end beyond the lot's booking horizon from now.
func checkHorizon(p parking.Policy, end, now time.Time) error {
	if limit := now.Add(p.BookingHorizon()); end.After(limit) {
		return parking.Errorf(parking.EWINDOWTOOFAR, "this lot takes bookings that end at most %s ahead, by %s",
			parking.Duration(p.BookingHorizon()).Human(), limit.UTC().Format(time.RFC3339))
	}
	return nil
}

// freeSpots lists the in-service spots of a lot that fit size, have every one
// of want and no claim in [from, to) at now (a car inside past its window
// claims its spot until it leaves), best first (see rankFree). The store
// still has the last word: a spot listed here may be taken before the hold
// commits.
func (s *Service) freeSpots(ctx context.Context, lotID string, size parking.Size, want []string, from, to, now time.Time) ([]string, error) {
	v, err := s.view(ctx, lotID, from, to, now)
	if err != nil {
		return nil, err
	}
	var free []parking.Spot
	for i, sp := range v.Spots {
		if sp.InService && size.Fits(sp.Size) && sp.HasAmenities(want) && v.Claims[i] == "" {
			free = append(free, sp)
		}
	}
	if len(free) == 0 {
		return nil, parking.ErrNoSpotAvailable
	}
	rankFree(free, want)
	ids := make([]string, len(free))
	for i, sp := range free {
		ids[i] = sp.ID
	}
	return ids, nil
}

// taken is the set of a lot's spots with a claim in [from, to) at now, read
// from the store (moves and extensions decide on it).
func (s *Service) taken(ctx context.Context, lotID string, from, to, now time.Time) (map[string]bool, error) {
	bookings, err := s.store.Bookings(ctx, lotID, from, to, now)
	if err != nil {
		return nil, err
	}
	taken := make(map[string]bool, len(bookings))
	for _, b := range bookings {
		taken[b.SpotID] = true
	}
	return taken, nil
}

// rankFree orders free spots for "any spot": plain spots before those with an
// amenity few spots have (accessible, EV) unless the driver asked for it, so
// those stay free for the drivers who need them; then the smallest size that
// fits, so large spots stay free for large vehicles; then by label.
func rankFree(spots []parking.Spot, want []string) {
	scarce := func(sp parking.Spot) bool {
		for _, a := range parking.ScarceAmenities {
			if sp.HasAmenity(a) && !slices.Contains(want, a) {
				return true
			}
		}
		return false
	}
	slices.SortStableFunc(spots, func(a, b parking.Spot) int {
		if sa, sb := scarce(a), scarce(b); sa != sb {
			if sa {
				return 1
			}
			return -1
		}
		if a.Size != b.Size {
			return int(a.Size) - int(b.Size)
		}
		return strings.Compare(a.Label, b.Label)
	})
}

// Reservation returns the reservation with the given id.
func (s *Service) Reservation(ctx context.Context, id string) (parking.Reservation, error) {
	return s.store.Reservation(ctx, id)
}

// Confirm marks a held reservation paid. A hold that has expired cannot be confirmed.
func (s *Service) Confirm(ctx context.Context, id string) (parking.Reservation, error) {
	return s.change(ctx, id, parking.StatusConfirmed, parking.StatusHeld)
}

// Cancel cancels a held or confirmed reservation; its spot is free at once.
func (s *Service) Cancel(ctx context.Context, id string) (parking.Reservation, error) {
	return s.change(ctx, id, parking.StatusCancelled, parking.StatusHeld, parking.StatusConfirmed)
}

func (s *Service) change(ctx context.Context, id string, to parking.Status, from ...parking.Status) (parking.Reservation, error) {
	now := s.clock.Now()
	r, err := s.store.ChangeStatus(ctx, parking.StatusChange{ID: id, From: from, To: to, At: now})
	if errors.Is(err, parking.ErrInvalidStatus) {
		if r.Status == parking.StatusExpired || r.HoldExpired(now) {
			return r, parking.ErrHoldExpired
		}
		return r, parking.Errorf(parking.ESTATUS, "reservation %s is %s and cannot become %s", r.ID, r.Status, to)
	}
	return r, err
}

// ExpireHolds expires every hold past its expiry and returns how many it expired.
func (s *Service) ExpireHolds(ctx context.Context) (int, error) {
	return s.store.ExpireHolds(ctx, s.clock.Now())
}
