package parking

import (
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that the API writes as Go duration text ("5m0s")
// and reads either that way ("15m", "24h") or as people write it ("15 min",
// "1 h 30 min", "2 days"). Pages show it with Human.
type Duration time.Duration

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Human is d as a person writes it: "5 min", "24 h", "1 h 30 min", "7 days",
// "45 s". Parts smaller than a second are dropped.
func (d Duration) Human() string {
	t := time.Duration(d).Truncate(time.Second)
	if t == 0 {
		return "0 min"
	}
	var parts []string
	if t < 0 {
		parts = append(parts, "minus")
		t = -t
	}
	// Whole days read as days from two days up; "24 h" and "36 h" stay hours,
	// as people say them.
	if days := t / (24 * time.Hour); days >= 2 {
		if days == 1 {
			parts = append(parts, "1 day")
		} else {
			parts = append(parts, strconv.Itoa(int(days))+" days")
		}
		t -= days * 24 * time.Hour
	}
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "min"}, {time.Second, "s"}} {
		if n := t / u.unit; n > 0 {
			parts = append(parts, strconv.FormatInt(int64(n), 10)+" "+u.name)
			t -= n * u.unit
		}
	}
	return strings.Join(parts, " ")
}

func (d Duration) String() string { return d.Human() }

// durationUnits are the words ParseDuration takes after a number.
var durationUnits = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
}

// ParseDuration reads Go duration text ("1h30m") or a person's ("1 h 30 min",
// "90 minutes", "2 days").
func ParseDuration(s string) (Duration, error) {
	in := strings.TrimSpace(s)
	if v, err := time.ParseDuration(in); err == nil {
		return Duration(v), nil
	}
	bad := Errorf(EINVALID, "invalid duration %q: want a value like \"15 min\", \"1 h 30 min\" or \"2 days\"", s)
	fields := strings.Fields(strings.ToLower(in))
	// Split "30min" into "30" "min" so both spellings read alike.
	var tokens []string
	for _, f := range fields {
		i := strings.IndexFunc(f, func(r rune) bool { return r < '0' || r > '9' })
		if i > 0 {
			tokens = append(tokens, f[:i], f[i:])
		} else {
			tokens = append(tokens, f)
		}
	}
	if len(tokens) == 0 || len(tokens)%2 != 0 {
		return 0, bad
	}
	var total time.Duration
	for i := 0; i < len(tokens); i += 2 {
		n, err := strconv.ParseInt(tokens[i], 10, 32)
		unit, ok := durationUnits[tokens[i+1]]
		if err != nil || n < 0 || !ok {
			return 0, bad
		}
		total += time.Duration(n) * unit
		if total > 10*366*24*time.Hour { // far beyond any policy, and far from overflow
			return 0, bad
		}
	}
	return Duration(total), nil
}
