package parking_test

import (
	"testing"
	"time"

	"parkd/internal/parking"
)

func TestDurationHuman(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0 min"},
		{45 * time.Second, "45 s"},
		{5 * time.Minute, "5 min"},
		{90 * time.Minute, "1 h 30 min"},
		{24 * time.Hour, "24 h"},
		{36 * time.Hour, "36 h"},
		{7 * 24 * time.Hour, "7 days"},
		{49*time.Hour + 5*time.Minute, "2 days 1 h 5 min"},
		{366 * 24 * time.Hour, "366 days"},
		{5*time.Minute + 300*time.Millisecond, "5 min"},
	} {
		d := parking.Duration(c.d)
		if got := d.Human(); got != c.want {
			t.Errorf("Duration(%v).Human() = %q, want %q", c.d, got, c.want)
		}
		// What a page shows reads back as the same duration (to the second).
		back, err := parking.ParseDuration(d.Human())
		if err != nil || back != parking.Duration(c.d.Truncate(time.Second)) {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", d.Human(), time.Duration(back), err, c.d)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"15m": 15 * time.Minute, "24h0m0s": 24 * time.Hour, "15 min": 15 * time.Minute,
		"1 h 30 min": 90 * time.Minute, "90 minutes": 90 * time.Minute, "2 days": 48 * time.Hour,
		"1 day": 24 * time.Hour, "30min": 30 * time.Minute, " 1 Hour ": time.Hour, "1h 30m": 90 * time.Minute,
	} {
		got, err := parking.ParseDuration(in)
		if err != nil || got != parking.Duration(want) {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, time.Duration(got), err, want)
		}
	}
	for _, in := range []string{"", "min", "5", "5 parsecs", "-5 min", "1 h 30", "99999999999 days", "5 min 3"} {
		if _, err := parking.ParseDuration(in); parking.ErrorCode(err) != parking.EINVALID {
			t.Errorf("ParseDuration(%q) = %v; want invalid", in, err)
		}
	}
}
