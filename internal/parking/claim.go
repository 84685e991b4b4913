package parking

import "time"

// This file is the one home of the rules about when a reservation holds its
// spot and what a lot's deadlines are. The stores restate "holds its spot" in
// SQL, once per backend (the claim fragments of each store); everything
// written in Go calls these.

// UntilExit is the end of the claim of a car that is still inside past its
// window: it holds its spot until its exit scan, which nobody can date in
// advance. It lies past every window parkd accepts.
var UntilExit = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// MoveLead is how long before a driver's earliest entry a booking whose spot is
// still taken by an overstaying car is moved to another spot. It is longer than
// any sweep interval, so the move always happens before the driver may arrive,
// and long enough to tell them first.
const MoveLead = 30 * time.Minute

// Amenities that few spots have and some drivers need: "any spot" gives these
// spots to others only when no plain spot fits.
const (
	AmenityAccessible = "accessible"
	AmenityEV         = "ev"
)

// ScarceAmenities are the amenities "any spot" keeps for those who ask for them.
var ScarceAmenities = []string{AmenityAccessible, AmenityEV}

// Why the lot, not its driver, moved or cancelled a reservation.
const (
	ReasonOverstay     = "overstay"       // a car stayed on the spot past its window
	ReasonOutOfService = "out_of_service" // the operator took the spot out of service
	ReasonExtension    = "extension"      // the driver before extended their stay
	ReasonArrival      = "arrival"        // the driver arrived while the spot was still taken
)

// ReasonText says why the lot moved or cancelled a booking, in words for its
// driver ("... because <ReasonText>").
func ReasonText(reason string) string {
	switch reason {
	case ReasonOverstay:
		return "the car parked there before you is staying past its time"
	case ReasonOutOfService:
		return "the spot was taken out of service"
	case ReasonExtension:
		return "the driver before you extended their stay"
	case ReasonArrival:
		return "your spot was still taken when you arrived"
	}
	return "the lot had to change it"
}

// Inside reports whether r's car is in the lot now: checked in and not out.
func (r *Reservation) Inside() bool { return r.Status == StatusCheckedIn }

// Overstaying reports whether r's car is still inside at now, past its window.
func (r *Reservation) Overstaying(now time.Time) bool {
	return r.Inside() && !now.Before(r.EndsAt)
}

// ClaimEnd is the end of the time r holds its spot, as known at now: its
// window's end, or UntilExit for a car still inside past it.
func (r *Reservation) ClaimEnd(now time.Time) time.Time {
	if r.Overstaying(now) {
		return UntilExit
	}
	return r.EndsAt
}

// Claims reports whether r keeps [from, to) of its spot from anyone else at now:
// it holds its spot (Policy.Holds) and its claim overlaps the window.
func (p Policy) Claims(r Reservation, from, to, now time.Time) bool {
	return p.Holds(r, now) && Overlaps(r.StartsAt, r.ClaimEnd(now), from, to)
}

// Holds reports whether r holds its spot at now: a hold until it expires, a
// confirmed booking until its no-show deadline, a car inside until it leaves.
func (p Policy) Holds(r Reservation, now time.Time) bool {
	switch r.Status {
	case StatusHeld:
		return now.Before(r.HoldExpiresAt)
	case StatusConfirmed:
		return now.Before(p.NoShowDeadline(r))
	case StatusCheckedIn:
		return true
	}
	return false
}

// HoldExpiry is when a hold placed at now lapses unless paid.
func (p Policy) HoldExpiry(now time.Time) time.Time { return now.Add(time.Duration(p.HoldTTL)) }

// NoShowDeadline is when a confirmed booking nobody checked in is released.
func (p Policy) NoShowDeadline(r Reservation) time.Time {
	return r.StartsAt.Add(time.Duration(p.NoShowAfter))
}

// EarliestEntry is when r's driver may first enter.
func (p Policy) EarliestEntry(r Reservation) time.Time {
	return r.StartsAt.Add(-time.Duration(p.EarlyArrival))
}

// OverstayChargedAfter is when a car inside starts to owe for overstaying.
func (p Policy) OverstayChargedAfter(r Reservation) time.Time {
	return r.EndsAt.Add(time.Duration(p.OverstayGrace))
}

// RefundsOnCancel reports whether a driver who cancels r at now gets their
// money back: in full until CancelCutoff before the start, nothing after.
func (p Policy) RefundsOnCancel(r Reservation, now time.Time) bool {
	return !now.After(r.StartsAt.Add(-time.Duration(p.CancelCutoff)))
}

// HasAmenities reports whether s has every one of want.
func (s *Spot) HasAmenities(want []string) bool {
	for _, w := range want {
		if !s.HasAmenity(w) {
			return false
		}
	}
	return true
}

// HasAmenity reports whether s has amenity a.
func (s *Spot) HasAmenity(a string) bool {
	for _, have := range s.Amenities {
		if have == a {
			return true
		}
	}
	return false
}

// Scarce reports whether s has an amenity that "any spot" keeps for those who
// ask for it.
func (s *Spot) Scarce() bool {
	for _, a := range ScarceAmenities {
		if s.HasAmenity(a) {
			return true
		}
	}
	return false
}
