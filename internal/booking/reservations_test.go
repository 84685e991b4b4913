package booking_test

import (
	"testing"
	"time"

	"parkd/internal/booking"
	"parkd/internal/parking"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// TestVisibleReservation: the one rule of who sees a reservation, which the
// API and the pages share. Anyone else finds nothing, as for an id that is
// no reservation's.
func TestVisibleReservation(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newEnv(t, b)
		ada := storetest.MustUser(t, e.store, "ada@example.com")
		now := e.clock.Now()
		r, err := e.engine.Hold(ctx, bookingRequest(e, ada.ID, now.Add(time.Hour), now.Add(2*time.Hour)))
		if err != nil {
			t.Fatalf("Hold = %v", err)
		}
		tests := []struct {
			name string
			u    parking.User
			id   string
			want bool
		}{
			{"its driver", ada, r.ID, true},
			{"another driver", parking.User{ID: "usr_other", Role: parking.RoleDriver}, r.ID, false},
			{"an operator of the lot", parking.User{ID: "usr_op", Role: parking.RoleOperator, OperatorID: e.fixture.Operator.ID}, r.ID, true},
			{"an operator of another lot", parking.User{ID: "usr_op2", Role: parking.RoleOperator, OperatorID: "opr_other"}, r.ID, false},
			{"an admin", parking.User{ID: "usr_admin", Role: parking.RoleAdmin}, r.ID, true},
			{"nobody", parking.User{}, r.ID, false},
			{"its driver, no such id", ada, "res_nope", false},
		}
		for _, tt := range tests {
			got, err := e.engine.VisibleReservation(ctx, tt.u, tt.id)
			switch {
			case tt.want && (err != nil || got.ID != r.ID):
				t.Errorf("%s: VisibleReservation = %v, %v; want %s", tt.name, got.ID, err, r.ID)
			case !tt.want && parking.ErrorCode(err) != parking.ENOTFOUND:
				t.Errorf("%s: VisibleReservation = %v, %v; want not_found", tt.name, got.ID, err)
			}
		}
	})
}

// TestLotReservationsWindow: only the lot's operators list its bookings, over
// a window of at most booking.MaxReservationsWindow.
func TestLotReservationsWindow(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newEnv(t, b)
		op := parking.User{ID: "usr_op", Role: parking.RoleOperator, OperatorID: e.fixture.Operator.ID}
		list, err := e.engine.LotReservations(ctx, op, e.fixture.Lot.ID, time.Time{}, time.Time{})
		if err != nil {
			t.Fatalf("LotReservations = %v", err)
		}
		if want := storetest.T0.Add(-24 * time.Hour); !list.From.Equal(want) || !list.To.Equal(want.Add(8*24*time.Hour)) {
			t.Errorf("LotReservations window = %v..%v; want from a day ago for eight days", list.From, list.To)
		}
		from := storetest.T0
		for _, to := range []time.Time{from, from.Add(32 * 24 * time.Hour)} {
			if _, err := e.engine.LotReservations(ctx, op, e.fixture.Lot.ID, from, to); parking.ErrorCode(err) != parking.EINVALID {
				t.Errorf("LotReservations(%v..%v) = %v; want invalid", from, to, err)
			}
		}
		other := parking.User{ID: "usr_op2", Role: parking.RoleOperator, OperatorID: "opr_other"}
		if _, err := e.engine.LotReservations(ctx, other, e.fixture.Lot.ID, time.Time{}, time.Time{}); parking.ErrorCode(err) != parking.EFORBIDDEN {
			t.Errorf("LotReservations by another lot's operator = %v; want forbidden", err)
		}
	})
}

func bookingRequest(e env, userID string, start, end time.Time) booking.HoldRequest {
	return booking.HoldRequest{LotID: e.fixture.Lot.ID, UserID: userID, VehicleSize: parking.Standard, Plate: "AB-123", StartsAt: start, EndsAt: end}
}
