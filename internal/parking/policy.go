package parking

import (
	"encoding/json"
	"fmt"
	"maps"
	"sync"
	"time"
)

// Rate is the price of parking on one spot size, in minor units of the lot's currency.
type Rate struct {
	Hourly   int64 `json:"hourly"`
	DailyMax int64 `json:"daily_max"` // cap per 24 hours; 0 means no cap
}

// Policy holds a lot's rules. DefaultPolicy gives every field a sensible value.
type Policy struct {
	HoldTTL          Duration      `json:"hold_ttl"`          // unpaid holds expire this long after creation
	NoShowAfter      Duration      `json:"no_show_after"`     // no entry by start+this: the spot is released
	EarlyArrival     Duration      `json:"early_arrival"`     // entry allowed from start-this
	MaxStay          Duration      `json:"max_stay"`          // longest window that may be booked
	Horizon          Duration      `json:"horizon"`           // how far ahead a window may end, from now
	OverstayGrace    Duration      `json:"overstay_grace"`    // free minutes after the end before overstay is charged
	CancelCutoff     Duration      `json:"cancel_cutoff"`     // full refund when cancelled at least this long before the start
	BillingIncrement Duration      `json:"billing_increment"` // time is billed in started increments of this
	OverstayPercent  int64         `json:"overstay_percent"`  // overstay price as a percentage of the hourly rate
	Rates            map[Size]Rate `json:"rates"`
	Reminders        bool          `json:"reminders"` // drivers get reminders before the start and the end
}

// DefaultPolicy returns the policy a new lot gets unless told otherwise.
func DefaultPolicy() Policy {
	return Policy{
		HoldTTL:          Duration(5 * time.Minute),
		NoShowAfter:      Duration(15 * time.Minute),
		EarlyArrival:     Duration(15 * time.Minute),
		MaxStay:          Duration(24 * time.Hour),
		Horizon:          MaxHorizon,
		OverstayGrace:    Duration(10 * time.Minute),
		CancelCutoff:     0,
		BillingIncrement: Duration(15 * time.Minute),
		OverstayPercent:  150,
		Reminders:        true,
		Rates: map[Size]Rate{
			Motorcycle: {Hourly: 100, DailyMax: 1000},
			Compact:    {Hourly: 250, DailyMax: 2000},
			Standard:   {Hourly: 300, DailyMax: 2500},
			Large:      {Hourly: 400, DailyMax: 3200},
		},
	}
}

// UnmarshalJSON starts from DefaultPolicy, so a stored or submitted policy that
// omits a field gets its default rather than zero.
func (p *Policy) UnmarshalJSON(b []byte) error {
	type plain Policy
	v := plain(DefaultPolicy())
	v.Rates = nil
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	defaults := DefaultPolicy().Rates
	if v.Rates == nil {
		v.Rates = defaults
	}
	*p = Policy(v)
	return nil
}

// stored remembers the policies DecodePolicy decoded, by their encoding, up
// to storedPolicies of them (then it forgets them all and starts again).
var stored struct {
	sync.Mutex
	decoded map[string]Policy
}

const storedPolicies = 4096

// DecodePolicy decodes a stored policy as UnmarshalJSON does, once per
// encoding: every read of a lot decodes its policy, a search page fifty of
// them. The policy returned is the caller's own (its Rates are a copy).
func DecodePolicy(b []byte) (Policy, error) {
	stored.Lock()
	p, ok := stored.decoded[string(b)]
	stored.Unlock()
	if !ok {
		if err := json.Unmarshal(b, &p); err != nil {
			return Policy{}, err
		}
		stored.Lock()
		if stored.decoded == nil || len(stored.decoded) >= storedPolicies {
			stored.decoded = make(map[string]Policy)
		}
		stored.decoded[string(b)] = p
		stored.Unlock()
	}
	p.Rates = maps.Clone(p.Rates)
	return p, nil
}

// Bounds on a policy: far above any real price or stay, and far below where the
// integer arithmetic of Price and OverstayPrice could overflow.
const (
	MaxRate            = 100_000_000 // minor units per hour or per day
	MaxOverstayPercent = 10_000
	MaxMaxStay         = Duration(366 * 24 * time.Hour)
	// MaxHorizon is how far ahead any booking may end: a year (a leap one,
	// so that the same date next year is always open), and the default. A
	// lot's policy may shorten it.
	MaxHorizon = Duration(366 * 24 * time.Hour)
)

// BookingHorizon returns how far ahead of now a window may end at the lot:
// Horizon, or MaxHorizon when it is not set.
func (p Policy) BookingHorizon() time.Duration {
	if p.Horizon <= 0 || p.Horizon > MaxHorizon {
		return time.Duration(MaxHorizon)
	}
	return time.Duration(p.Horizon)
}

// Validate reports the first field that cannot work.
func (p Policy) Validate() error {
	positive := []struct {
		name string
		d    Duration
	}{
		{"hold_ttl", p.HoldTTL}, {"no_show_after", p.NoShowAfter},
		{"max_stay", p.MaxStay}, {"billing_increment", p.BillingIncrement}, {"horizon", p.Horizon},
	}
	for _, f := range positive {
		if f.d <= 0 {
			return Errorf(EINVALID, "policy %s must be positive", f.name)
		}
	}
	for name, d := range map[string]Duration{"early_arrival": p.EarlyArrival, "overstay_grace": p.OverstayGrace, "cancel_cutoff": p.CancelCutoff} {
		if d < 0 {
			return Errorf(EINVALID, "policy %s must not be negative", name)
		}
	}
	if p.OverstayPercent < 0 || p.OverstayPercent > MaxOverstayPercent {
		return Errorf(EINVALID, "policy overstay_percent must be between 0 and %d", MaxOverstayPercent)
	}
	if p.MaxStay > MaxMaxStay {
		return Errorf(EINVALID, "policy max_stay must be at most %s", MaxMaxStay.Human())
	}
	if p.Horizon > MaxHorizon {
		return Errorf(EINVALID, "policy horizon must be at most %s", MaxHorizon.Human())
	}
	for _, s := range Sizes {
		r, ok := p.Rates[s]
		if !ok {
			return Errorf(EINVALID, "policy rates: missing a rate for %s", s)
		}
		if r.Hourly < 0 || r.DailyMax < 0 || r.Hourly > MaxRate || r.DailyMax > MaxRate {
			return Errorf(EINVALID, "policy rates: %s must be between 0 and %d", s, MaxRate)
		}
	}
	return nil
}

// Price returns the amount in minor units for parking a spot of the given size over
// [start, end). Time is billed in started increments; each full 24 hours costs at
// most the daily cap, and so does the remainder.
func (p Policy) Price(size Size, start, end time.Time) (int64, error) {
	rate, ok := p.Rates[size]
	if !ok {
		return 0, fmt.Errorf("policy has no rate for %s", size)
	}
	if !end.After(start) {
		return 0, nil
	}
	inc := time.Duration(p.BillingIncrement)
	billed := (end.Sub(start) + inc - 1) / inc * inc
	day := 24 * time.Hour
	days, rest := int64(billed/day), billed%day

	dayPrice := capped(rate.Hourly*24, rate.DailyMax)
	secs := int64(rest / time.Second)
	restPrice := capped((rate.Hourly*secs+3599)/3600, rate.DailyMax)
	return days*dayPrice + restPrice, nil
}

// OverstayPrice returns what staying d beyond the grace costs on a spot of the given size.
func (p Policy) OverstayPrice(size Size, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	inc := time.Duration(p.BillingIncrement)
	billed := int64((d + inc - 1) / inc * inc / time.Second)
	hourly := p.Rates[size].Hourly * p.OverstayPercent / 100
	return (hourly*billed + 3599) / 3600
}

func capped(v, limit int64) int64 {
	if limit > 0 && v > limit {
		return limit
	}
	return v
}
