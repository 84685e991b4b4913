package booking_test

import (
	"testing"
	"time"

	"parkd/internal/booking"
	"parkd/internal/parking"
	"parkd/internal/store/teststore"
)

// TestWindowBounds: a window may start at most PastTolerance (5 minutes) ago,
// must end after now, and must end within the lot's horizon (a year by
// default; the lot's policy may shorten it, and the store keeps it), for a
// chosen spot, "any spot" and an extension alike, on every backend.
func TestWindowBounds(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newEnv(t, b)
		spot := e.fixture.SpotsOf(parking.Large)[0].ID
		year := time.Duration(parking.MaxHorizon)
		cases := []struct {
			name       string
			start, end time.Duration
			spot       string
			code       string // "" for accepted
		}{
			{"ended two minutes ago", -4 * time.Minute, -2 * time.Minute, "", parking.EWINDOWINPAST},
			{"ended two minutes ago, a chosen spot", -4 * time.Minute, -2 * time.Minute, spot, parking.EWINDOWINPAST},
			{"ends now", -4 * time.Minute, 0, "", parking.EWINDOWINPAST},
			{"started six minutes ago", -6 * time.Minute, time.Hour, "", parking.EWINDOWINPAST},
			{"started four minutes ago", -4 * time.Minute, time.Hour, "", ""},
			{"ends a year ahead", year - time.Hour, year, "", ""},
			{"ends a year and a second ahead", year - time.Hour, year + time.Second, "", parking.EWINDOWTOOFAR},
		}
		for _, c := range cases {
			_, err := e.hold(c.start, c.end, parking.Compact, c.spot)
			if c.code == "" && err != nil || c.code != "" && parking.ErrorCode(err) != c.code {
				t.Errorf("%s: Hold = %v; want code %q", c.name, err, c.code)
			}
		}
		// Once booked and charged, but then without a pass (issue 12).
		if _, err := e.engine.Hold(ctx, booking.HoldRequest{LotID: e.fixture.Lot.ID, SpotID: spot, VehicleSize: parking.Compact, Plate: "AB1",
			StartsAt: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), EndsAt: time.Date(9999, 1, 1, 2, 0, 0, 0, time.UTC)}); parking.ErrorCode(err) != parking.EWINDOWTOOFAR {
			t.Errorf("Hold in the year 9999 = %v; want window_too_far", err)
		}

		// The lot shortens its horizon to a week; the store keeps it.
		lot := e.fixture.Lot
		lot.Policy.Horizon = parking.Duration(7 * 24 * time.Hour)
		if err := e.store.UpdateLot(ctx, &lot); err != nil {
			t.Fatal(err)
		}
		if got, err := e.store.Lot(ctx, lot.ID); err != nil || got.Policy.Horizon != lot.Policy.Horizon {
			t.Fatalf("Lot.Policy.Horizon = %v, %v; want a week", got.Policy.Horizon, err)
		}
		week := 7 * 24 * time.Hour
		if _, err := e.hold(week-2*time.Hour, week-time.Hour, parking.Compact, ""); err != nil {
			t.Errorf("Hold ending in 7 days less an hour = %v; want nil", err)
		}
		if _, err := e.hold(week, week+time.Hour, parking.Compact, ""); parking.ErrorCode(err) != parking.EWINDOWTOOFAR {
			t.Errorf("Hold ending a week and an hour ahead = %v; want window_too_far", err)
		}

		// An extension may not end beyond the horizon either.
		t0 := e.clock.Now()
		r := e.fixture.MustConfirmed(t, e.store, e.fixture.SpotsOf(parking.Standard)[0].ID, t0.Add(week-3*time.Hour), t0.Add(week-2*time.Hour))
		if _, err := e.engine.PlanExtension(ctx, r, t0.Add(week-time.Hour)); err != nil {
			t.Errorf("PlanExtension within the horizon = %v; want nil", err)
		}
		if _, err := e.engine.PlanExtension(ctx, r, t0.Add(week+time.Hour)); parking.ErrorCode(err) != parking.EWINDOWTOOFAR {
			t.Errorf("PlanExtension beyond the horizon = %v; want window_too_far", err)
		}
	})
}

func TestPolicyHorizon(t *testing.T) {
	p := parking.DefaultPolicy()
	if p.Horizon != parking.MaxHorizon || p.Validate() != nil {
		t.Fatalf("DefaultPolicy().Horizon = %v, Validate = %v; want %v and valid", p.Horizon, p.Validate(), parking.MaxHorizon)
	}
	for _, h := range []parking.Duration{0, -1, parking.MaxHorizon + 1} {
		p.Horizon = h
		if err := p.Validate(); parking.ErrorCode(err) != parking.EINVALID {
			t.Errorf("Validate with horizon %v = %v; want invalid", h, err)
		}
	}
	// A policy stored before the horizon existed gets the default.
	var old parking.Policy
	if err := old.UnmarshalJSON([]byte(`{"max_stay":"24h"}`)); err != nil || old.Horizon != parking.MaxHorizon {
		t.Errorf("old policy's horizon = %v, %v; want %v", old.Horizon, err, parking.MaxHorizon)
	}
}
