package storetest

import (
	"testing"
	"time"

	"parkd/internal/parking"
)

// hostileTexts are what the HTTP layer refuses before a store sees them; a
// store that gets them anyway answers a domain error (or takes them, as SQLite
// does), never an internal one.
var hostileTexts = []string{"a\x00b", "a\xffb", "\xc3\x28"}

// testHostileText: a NUL or invalid UTF-8 in an id looked up, a value stored
// or a JSON document is not_found or invalid, never internal (PostgreSQL
// refuses them with SQLSTATE 22021 or 22P05, MySQL with error 1366).
func testHostileText(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	check := func(what string, err error) {
		t.Helper()
		if err != nil && parking.ErrorCode(err) == parking.EINTERNAL {
			t.Errorf("%s = %v; want nil, not_found or invalid, never internal", what, err)
		}
	}
	for i, bad := range hostileTexts {
		_, err := s.Lot(ctx, bad)
		check("Lot", err)
		_, err = s.Spot(ctx, bad)
		check("Spot", err)
		_, err = s.Reservation(ctx, bad)
		check("Reservation", err)
		_, err = s.Vehicle(ctx, bad)
		check("Vehicle", err)
		_, err = s.User(ctx, bad)
		check("User", err)
		_, err = s.UserByEmail(ctx, bad)
		check("UserByEmail", err)
		_, err = s.Payment(ctx, bad)
		check("Payment", err)
		_, err = s.Gate(ctx, bad)
		check("Gate", err)
		_, err = s.Session(ctx, bad)
		check("Session", err)
		_, err = s.UserReservations(ctx, bad)
		check("UserReservations", err)
		_, err = s.GateEvents(ctx, f.Lot.ID, parking.GateEventFilter{Plate: bad})
		check("GateEvents by plate", err)

		user := parking.User{ID: parking.NewID("usr"), Name: "Ada " + bad, Email: "x" + string(rune('a'+i)) + bad + "@example.com",
			PasswordHash: "h", Role: parking.RoleDriver, CreatedAt: T0}
		check("CreateUser", s.CreateUser(ctx, &user))
		check("CreateVehicle", s.CreateVehicle(ctx, &parking.Vehicle{ID: parking.NewID("veh"), UserID: u.ID, Plate: "AB" + bad,
			Size: parking.Compact, CreatedAt: T0}))
		lot := f.Lot
		lot.Name = "Garage " + bad
		check("UpdateLot", s.UpdateLot(ctx, &lot))
		hold := *f.NewHold(T0, T0.Add(time.Duration(2*i+1)*time.Hour), T0.Add(time.Duration(2*i+2)*time.Hour))
		hold.Plate = "AB" + bad
		check("Hold", s.Hold(ctx, &hold, []string{f.Spots[0].ID}, nil))
		check("Hold on a bad spot id", s.Hold(ctx, &hold, []string{bad}, nil))
	}
}
