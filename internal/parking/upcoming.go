package parking

import (
	"context"
	"time"
)

// Upcoming is when time alone can next give the sweeps work, as far as the
// rows committed when it was read tell: a time is zero when no row calls for
// one. Changes committed later (a new hold, a check-in, a spot out of
// service) bring their own earlier times; whoever keeps an Upcoming must read
// it again after each of them.
type Upcoming struct {
	// HoldExpiry is the earliest expiry of a held reservation.
	HoldExpiry time.Time
	// NoShow is the earliest no-show deadline (start plus its lot's no-show
	// window) of a confirmed reservation.
	NoShow time.Time
	// End is the earliest end of a car inside that ends after now or has not
	// been flagged as overstaying yet: at its end plus its lot's grace it is
	// flagged, and from its end on it displaces the bookings after it.
	End time.Time
	// DisplacedStart is the earliest start after now plus the lead passed to
	// UpcomingStore.Upcoming of a held or confirmed reservation on a spot out
	// of service or with another car inside that came in before it ends: it
	// is moved once its start is within MoveLead plus its lot's EarlyArrival.
	DisplacedStart time.Time
	// Notification is the earliest time a pending notification can be
	// claimed: when it is due, or when the lease on it runs out.
	Notification time.Time
}

// UpcomingStore is a store that tells, in one query, when time alone next
// gives the sweeps work (PostgreSQL's, whose LISTEN tells an instance of
// every other change).
type UpcomingStore interface {
	// Upcoming reads the times after now: DisplacedStart counts only
	// reservations starting after now plus lead.
	Upcoming(ctx context.Context, now time.Time, lead time.Duration) (Upcoming, error)
}
