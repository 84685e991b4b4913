package booking

import (
	"context"
	"errors"
	"slices"
	"time"

	"parkd/internal/jobs"
	"parkd/internal/parking"
)

// Sweep is what one run of the time-driven transitions did in every lot.
type Sweep struct {
	NoShows   []parking.Reservation
	Overstays []parking.Reservation
	// Moved are bookings put on another spot before their drivers arrive,
	// because their own spot is still taken by an overstaying car (or is out
	// of service); Cancelled are those for which no spot fit: the lot
	// cancelled them (ChangeReason says why) and owes a full refund.
	Moved     []parking.Reservation
	Cancelled []parking.Reservation
	// EarlyArrival is the longest early arrival of any lot: how long before
	// its start a booking's driver may come (LifecycleDue).
	EarlyArrival time.Duration
}

// RunLifecycle applies every time-driven transition that is due in every lot:
// no-shows (confirmed, not checked in by the start plus the lot's no-show
// window: the spot is released), overstays (still inside past the end plus
// the grace: flagged once), and the bookings an overstaying car stands in
// front of (moved to another spot that fits no later than parking.MoveLead
// before their driver may first enter, or cancelled when none fits). Each
// transition happens exactly once, also when several instances run this at
// the same moment.
func (s *Service) RunLifecycle(ctx context.Context) (Sweep, error) {
	now := s.clock.Now()
	var out Sweep
	lots, err := s.store.Lots(ctx)
	if err != nil {
		return out, err
	}
	for _, lot := range lots {
		out.EarlyArrival = max(out.EarlyArrival, time.Duration(lot.Policy.EarlyArrival))
		ns, err := s.store.MarkNoShows(ctx, lot.ID, now.Add(-time.Duration(lot.Policy.NoShowAfter)), now)
		if err != nil {
			return out, err
		}
		out.NoShows = append(out.NoShows, ns...)
		os, err := s.store.FlagOverstays(ctx, lot.ID, now.Add(-time.Duration(lot.Policy.OverstayGrace)), now)
		if err != nil {
			return out, err
		}
		out.Overstays = append(out.Overstays, os...)
		rel, err := s.relocateDisplaced(ctx, lot, now)
		out.Moved = append(out.Moved, rel.Moved...)
		out.Cancelled = append(out.Cancelled, rel.Cancelled...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// LifecycleDue is the earliest time at which time alone can give
// RunLifecycle work, given u (read after the run sw): a no-show deadline, the
// end of a car inside (flagged after its lot's grace, and displacing the
// bookings after it from then on), or the first moment a booking on a spot
// out of service or occupied may have to move (its start less MoveLead and
// the longest early arrival, which no lot's is later than). Zero: none.
func LifecycleDue(u parking.Upcoming, sw Sweep) time.Time {
	var move time.Time
	if !u.DisplacedStart.IsZero() {
		move = u.DisplacedStart.Add(-parking.MoveLead - sw.EarlyArrival)
	}
	return jobs.Earliest(u.NoShow, u.End, move)
}

// Relocation is what moving displaced bookings did.
type Relocation struct {
	Moved     []parking.Reservation // on their new spot; MovedFrom names the old one
	Cancelled []parking.Reservation // no spot fit: cancelled by the lot
}

// relocateDisplaced moves the lot's bookings whose spot is taken by a car
// inside past its window, or out of service, and whose driver may arrive
// within parking.MoveLead.
func (s *Service) relocateDisplaced(ctx context.Context, lot parking.Lot, now time.Time) (Relocation, error) {
	var out Relocation
	startsBy := now.Add(parking.MoveLead + time.Duration(lot.Policy.EarlyArrival))
	displaced, err := s.store.Displaced(ctx, lot.ID, startsBy, now)
	if err != nil || len(displaced) == 0 {
		return out, err
	}
	spots, err := s.store.Spots(ctx, lot.ID)
	if err != nil {
		return out, err
	}
	for _, r := range displaced {
		reason := parking.ReasonOverstay
		if sp, ok := spotByID(spots, r.SpotID); ok && !sp.InService {
			reason = parking.ReasonOutOfService
		}
		moved, cancelled, err := s.relocate(ctx, spots, r, reason, now)
		if err != nil {
			return out, err
		}
		if moved != nil {
			out.Moved = append(out.Moved, *moved)
		}
		if cancelled != nil {
			out.Cancelled = append(out.Cancelled, *cancelled)
		}
	}
	return out, nil
}

// relocate moves r off its spot for reason, to the best free spot that fits
// (moveCandidates); when none does, it cancels r with that reason. A booking
// that changed meanwhile (its driver cancelled, or it was moved by another
// instance) is left alone: both results are nil.
func (s *Service) relocate(ctx context.Context, spots []parking.Spot, r parking.Reservation, reason string, now time.Time) (moved, cancelled *parking.Reservation, err error) {
	candidates, err := s.moveCandidates(ctx, spots, r, now)
	if err != nil {
		return nil, nil, err
	}
	if len(candidates) > 0 {
		m, err := s.store.MoveReservation(ctx, parking.Move{ID: r.ID, From: r.SpotID, Candidates: candidates, Reason: reason, At: now})
		switch {
		case err == nil:
			return &m, nil, nil
		case errors.Is(err, parking.ErrInvalidStatus):
			return nil, nil, nil
		case !errors.Is(err, parking.ErrSpotUnavailable):
			return nil, nil, err
		}
	}
	c, err := s.store.ChangeStatus(ctx, parking.StatusChange{ID: r.ID, From: []parking.Status{parking.StatusHeld, parking.StatusConfirmed},
		To: parking.StatusCancelled, At: now, Reason: reason})
	if errors.Is(err, parking.ErrInvalidStatus) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return nil, &c, nil
}

// moveCandidates lists the spots r could move to, best first: in service,
// fitting its vehicle, free for its window at now; on the same level and with
// the same amenities as its spot first, then the smallest size that fits,
// plain before scarce amenities it did not have, then by label.
func (s *Service) moveCandidates(ctx context.Context, spots []parking.Spot, r parking.Reservation, now time.Time) ([]string, error) {
	taken, err := s.taken(ctx, r.LotID, r.StartsAt, r.EndsAt, now)
	if err != nil {
		return nil, err
	}
	from, _ := spotByID(spots, r.SpotID)
	var free []parking.Spot
	for _, sp := range spots {
		if sp.ID != r.SpotID && sp.InService && r.VehicleSize.Fits(sp.Size) && !taken[sp.ID] {
			free = append(free, sp)
		}
	}
	rankFree(free, from.Amenities)
	sameAmenities := func(sp parking.Spot) bool {
		return sp.HasAmenities(from.Amenities) && from.HasAmenities(sp.Amenities)
	}
	slices.SortStableFunc(free, func(a, b parking.Spot) int {
		if la, lb := a.LevelID == from.LevelID, b.LevelID == from.LevelID; la != lb {
			return boolFirst(la)
		}
		if aa, ab := sameAmenities(a), sameAmenities(b); aa != ab {
			return boolFirst(aa)
		}
		return 0 // rankFree's order
	})
	ids := make([]string, len(free))
	for i, sp := range free {
		ids[i] = sp.ID
	}
	return ids, nil
}

// boolFirst orders the one of two different booleans that is true first.
func boolFirst(aTrue bool) int {
	if aTrue {
		return -1
	}
	return 1
}

func spotByID(spots []parking.Spot, id string) (parking.Spot, bool) {
	i := slices.IndexFunc(spots, func(sp parking.Spot) bool { return sp.ID == id })
	if i < 0 {
		return parking.Spot{}, false
	}
	return spots[i], true
}

// MoveForArrival moves r, whose driver is at the entry gate, off a spot that
// another car still occupies (overstaying, or not yet gone at the end of its
// own window) to the best free spot that fits. When none is free it returns
// ErrSpotUnavailable and r stays where it is.
func (s *Service) MoveForArrival(ctx context.Context, r parking.Reservation) (parking.Reservation, error) {
	now := s.clock.Now()
	spots, err := s.store.Spots(ctx, r.LotID)
	if err != nil {
		return r, err
	}
	candidates, err := s.moveCandidates(ctx, spots, r, now)
	if err != nil {
		return r, err
	}
	if len(candidates) == 0 {
		return r, parking.ErrSpotUnavailable
	}
	return s.store.MoveReservation(ctx, parking.Move{ID: r.ID, From: r.SpotID, Candidates: candidates, Reason: parking.ReasonArrival, At: now})
}

// Occupant returns the car inside on r's spot other than r's own, if any.
func (s *Service) Occupant(ctx context.Context, r parking.Reservation) (parking.Reservation, bool, error) {
	rs, err := s.store.SpotReservations(ctx, r.SpotID, s.clock.Now())
	if err != nil {
		return parking.Reservation{}, false, err
	}
	for _, o := range rs {
		if o.ID != r.ID && o.Inside() {
			return o, true, nil
		}
	}
	return parking.Reservation{}, false, nil
}
