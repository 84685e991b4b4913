package parking

import "time"

// Clock is the only source of the current time inside parkd, so that expiry can be
// tested without sleeping.
type Clock interface {
	Now() time.Time
}

// SystemClock reads the machine's clock, in UTC, truncated to microseconds (the
// precision every backend stores).
type SystemClock struct{}

func (SystemClock) Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
