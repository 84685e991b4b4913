package parking

import "time"

// LotView is a lot's spots and the claims on them over a window, as known at
// one instant: what a map read, "any spot" and drive-up capacity need. An
// instance's in-memory index (live.Hub) answers it without a query.
type LotView struct {
	Lot   Lot
	Spots []Spot // as LotStore.Spots orders them; shared: never modify
	// Claims[i] is the strongest claim on Spots[i] over the window at the
	// instant asked (ClaimRank), as ReservationStore.Bookings answers it;
	// empty for none.
	Claims []Status
	// Version names the lot's state the view was read from: it changes with
	// every change the index applies to the lot.
	Version string
	// Until is the earliest instant after the one asked at which the view may
	// change by the passing of time alone (a hold expiring, a no-show
	// deadline, a car inside reaching its window's end).
	Until time.Time
}

// ClaimRank orders the statuses that claim a spot: a car inside (3) over a
// confirmed booking (2) over a hold (1); any other status claims nothing (0).
func ClaimRank(s Status) int {
	switch s {
	case StatusCheckedIn:
		return 3
	case StatusConfirmed:
		return 2
	case StatusHeld:
		return 1
	}
	return 0
}

// ClaimChangesAt is the first instant after now at which whether r claims a
// window may change by time alone: its hold's expiry, its no-show deadline, or
// for a car inside, its window's end (from then on it claims its spot until it
// leaves). The zero time when no such instant lies ahead.
func (p Policy) ClaimChangesAt(r Reservation, now time.Time) time.Time {
	var t time.Time
	switch r.Status {
	case StatusHeld:
		t = r.HoldExpiresAt
	case StatusConfirmed:
		t = p.NoShowDeadline(r)
	case StatusCheckedIn:
		t = r.EndsAt
	}
	if !t.After(now) {
		return time.Time{}
	}
	return t
}
