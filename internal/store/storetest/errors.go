package storetest

import (
	"errors"
	"testing"
	"time"

	"parkd/internal/parking"
)

// errorTests check the code and the message of what a store refuses: every
// backend words the same refusal the same way, whatever its driver reports.
func errorTests() []namedTest {
	return []namedTest{
		{"ErrorMessages", testErrorMessages},
		{"PaymentErrors", testPaymentErrors},
		{"ReactivateOverlap", testReactivateOverlap},
		{"TimesAreUTC", testTimesAreUTC},
	}
}

// wantErr is one refusal: err should carry code and msg; an empty code wants nil.
type wantErr struct {
	name      string
	err       error
	code, msg string
}

func checkErrors(t *testing.T, tests []wantErr) {
	t.Helper()
	for _, tt := range tests {
		switch {
		case tt.code == "" && tt.err != nil:
			t.Errorf("%s: err = %v; want nil", tt.name, tt.err)
		case tt.code != "" && (parking.ErrorCode(tt.err) != tt.code || parking.ErrorMessage(tt.err) != tt.msg):
			t.Errorf("%s: err = %v; want %s: %s", tt.name, tt.err, tt.code, tt.msg)
		}
	}
}

func testErrorMessages(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	dupUser := u
	dupUser.ID = parking.NewID("usr")
	dupSpot := f.Spots[0]
	dupSpot.ID = parking.NewID("spt")
	level := parking.Level{ID: parking.NewID("lvl"), LotID: "lot_missing", Name: "X"}
	badSize := f.Spots[0]
	badSize.ID, badSize.Label, badSize.Size = parking.NewID("spt"), "Z9", 9
	t0 := T0
	held := f.MustHold(t, s, f.Spots[0].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	sameID := f.NewHold(t0, t0.Add(5*time.Hour), t0.Add(6*time.Hour))
	sameID.ID = held.ID
	noSpot := f.NewHold(t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	vehicle := parking.Vehicle{ID: parking.NewID("veh"), UserID: "usr_missing", Plate: "X", Size: parking.Compact, CreatedAt: t0}

	checkErrors(t, []wantErr{
		{"duplicate email", s.CreateUser(ctx, &dupUser), parking.ECONFLICT, "email already registered"},
		{"duplicate label", s.CreateSpots(ctx, []parking.Spot{dupSpot}), parking.ECONFLICT, "a spot with that label already exists in this lot"},
		{"duplicate id", s.CreateOperator(ctx, &f.Operator), parking.ECONFLICT, "operator already exists"},
		{"missing lot", s.CreateLevel(ctx, &level), parking.ENOTFOUND, "lot not found"},
		{"missing user", s.CreateVehicle(ctx, &vehicle), parking.ENOTFOUND, "user not found"},
		{"size out of range", s.CreateSpots(ctx, []parking.Spot{badSize}), parking.EINVALID, "spot has a missing or out-of-range value"},
		// ON CONFLICT DO NOTHING swallows a taken id too; Hold must not call that a busy spot.
		{"duplicate reservation id", s.Hold(ctx, sameID, []string{f.Spots[1].ID}, nil), parking.ECONFLICT, "reservation already exists"},
		// A spot that does not exist (or is out of service) takes no hold.
		{"missing spot", s.Hold(ctx, noSpot, []string{"spt_missing"}, nil), parking.ESPOTUNAVAILABLE, parking.ErrSpotUnavailable.Message},
	})
}

// mustChargeOn holds spot for [start, end) at now and creates a pending charge for it.
func mustChargeOn(t *testing.T, s parking.Store, f Fixture, spot string, now, start, end time.Time) (parking.Reservation, parking.Payment) {
	t.Helper()
	r := f.MustHold(t, s, spot, now, start, end)
	p := NewCharge(r, now)
	if err := s.CreatePayment(ctx, p); err != nil {
		t.Fatalf("CreatePayment: %v", err)
	}
	return r, *p
}

// testPaymentErrors checks the messages and codes of refused payments.
func testPaymentErrors(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	t0 := T0
	r, p := mustChargeOn(t, s, f, f.Spots[5].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	r2, p2 := mustChargeOn(t, s, f, f.Spots[6].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	for _, up := range []parking.PaymentUpdate{
		{PaymentID: p.ID, From: []string{parking.PaymentPending}, To: parking.PaymentSucceeded, GatewayID: "gw_1", At: t0},
		{PaymentID: p2.ID, From: []string{parking.PaymentPending}, To: parking.PaymentFailed, GatewayID: "gw_2", At: t0},
	} {
		if _, _, err := s.UpdatePayment(ctx, up); err != nil {
			t.Fatalf("UpdatePayment: %v", err)
		}
	}
	second := NewCharge(r, t0)
	sameGatewayID := NewCharge(r2, t0)
	sameGatewayID.GatewayID = "gw_1"
	otherGateway := NewCharge(r2, t0)
	otherGateway.Gateway, otherGateway.GatewayID = "stripe", "gw_1"
	refund := func(of string) *parking.Payment {
		return &parking.Payment{ID: parking.NewID("pay"), ReservationID: r.ID, UserID: u.ID, Kind: parking.Refund, Amount: 600,
			Currency: "USD", Status: parking.PaymentPending, Gateway: "sandbox", RefundOf: of, CreatedAt: t0}
	}
	_, _, gatewayTaken := s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: p2.ID, From: []string{parking.PaymentFailed},
		To: parking.PaymentFailed, GatewayID: "gw_1", At: t0})

	checkErrors(t, []wantErr{
		{"second live charge", s.CreatePayment(ctx, second), parking.ECONFLICT, "a payment for this reservation is already pending or succeeded"},
		{"gateway id taken", s.CreatePayment(ctx, sameGatewayID), parking.ECONFLICT, "a payment with that gateway id already exists"},
		{"gateway id taken by update", gatewayTaken, parking.ECONFLICT, "a payment with that gateway id already exists"},
		{"refund of a missing payment", s.CreatePayment(ctx, refund("pay_missing")), parking.EINVALID, "refunded payment not found"},
		{"first refund", s.CreatePayment(ctx, refund(p.ID)), "", ""},
		{"second live refund", s.CreatePayment(ctx, refund(p.ID)), parking.ECONFLICT, "a refund for this payment is already pending or succeeded"},
		{"same gateway id, other gateway", s.CreatePayment(ctx, otherGateway), "", ""},
	})

	// Two gateways now use gw_1: the lookup must not pick one at random.
	if got, err := s.PaymentByGatewayID(ctx, "gw_1"); err == nil || parking.ErrorCode(err) == parking.ENOTFOUND {
		t.Errorf("PaymentByGatewayID(shared id) = %s, %v; want an error", got.ID, err)
	}
	if _, err := s.PaymentByGatewayID(ctx, ""); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("PaymentByGatewayID(\"\") = %v; want ErrNotFound", err)
	}
}

// testReactivateOverlap: moving a reservation back into a blocking status over
// a window someone else now holds is refused by the database.
func testReactivateOverlap(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	spot := f.Spots[5].ID
	t0 := T0
	old := f.MustHold(t, s, spot, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	MustChange(t, s, old.ID, parking.StatusHeld, parking.StatusCancelled, t0)
	f.MustHold(t, s, spot, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	_, err := s.ChangeStatus(ctx, parking.StatusChange{ID: old.ID, From: []parking.Status{parking.StatusCancelled}, To: parking.StatusConfirmed, At: t0})
	if !errors.Is(err, parking.ErrSpotUnavailable) {
		t.Errorf("re-confirming a cancelled reservation over a taken window = %v; want ErrSpotUnavailable", err)
	}
}

// testTimesAreUTC: times come back in UTC whatever zone they went in with, cut
// (not rounded) to the microsecond, as Hold leaves them in r; the zero time
// is kept as the zero time.
func testTimesAreUTC(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	tokyo := time.FixedZone("JST", 9*3600)
	t0 := T0.In(tokyo).Add(999 * time.Nanosecond)
	r := f.NewHold(t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	r.HoldExpiresAt = time.Time{}
	if err := s.Hold(ctx, r, []string{f.Spots[0].ID}, nil); err != nil {
		t.Fatalf("Hold: %v", err)
	}
	got, err := s.Reservation(ctx, r.ID)
	if err != nil {
		t.Fatalf("Reservation: %v", err)
	}
	for name, tm := range map[string]time.Time{"starts_at": got.StartsAt, "ends_at": got.EndsAt, "created_at": got.CreatedAt, "updated_at": got.UpdatedAt} {
		if tm.Location() != time.UTC {
			t.Errorf("%s is in %v; want UTC", name, tm.Location())
		}
	}
	if got.StartsAt != r.StartsAt || !got.StartsAt.Equal(T0.Add(time.Hour)) {
		t.Errorf("StartsAt = %v; want %v as Hold left it in r, cut to the microsecond", got.StartsAt, r.StartsAt)
	}
	if !got.HoldExpiresAt.IsZero() {
		t.Errorf("HoldExpiresAt = %v; want the zero time back", got.HoldExpiresAt)
	}
}
