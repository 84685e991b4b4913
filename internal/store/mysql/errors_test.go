package mysql

import (
	"context"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/store/mysql/mysqltest"
	"parkd/internal/store/storetest"
)

// TestErrorMessages checks the codes and messages classify gives the server's
// errors, by key or constraint name (errors.go), which the conformance suite
// checks only by code or not at all.
func TestErrorMessages(t *testing.T) {
	s := mustOpen(t, mysqltest.DatabaseDSN(t))
	ctx := context.Background()
	f := storetest.MustFixture(t, s)
	u := storetest.MustUser(t, s, "ada@example.com")
	t0 := storetest.T0
	dupUser := u
	dupUser.ID = parking.NewID("usr")
	dupSpot := f.Spots[0]
	dupSpot.ID = parking.NewID("spt")
	level := parking.Level{ID: parking.NewID("lvl"), LotID: "lot_missing", Name: "X"}
	badSize := f.Spots[0]
	badSize.ID, badSize.Label, badSize.Size = parking.NewID("spt"), "Z9", 9
	held := f.MustHold(t, s, f.Spots[0].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	sameID := f.NewHold(t0, t0.Add(5*time.Hour), t0.Add(6*time.Hour))
	sameID.ID = held.ID
	charge := storetest.NewCharge(held, t0)
	second := storetest.NewCharge(held, t0)
	if err := s.CreatePayment(ctx, charge); err != nil {
		t.Fatal(err)
	}
	refund := func(of string) *parking.Payment {
		return &parking.Payment{ID: parking.NewID("pay"), ReservationID: held.ID, Kind: parking.Refund, Amount: 600,
			Currency: "USD", Status: parking.PaymentPending, Gateway: "sandbox", RefundOf: of, CreatedAt: t0}
	}
	gw := storetest.NewCharge(held, t0)
	gw.Purpose, gw.GatewayID = parking.PurposeOverstay, "gw_1"
	gw2 := storetest.NewCharge(f.MustHold(t, s, f.Spots[1].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour)), t0)
	gw2.GatewayID = "gw_1"

	tests := []struct {
		name      string
		err       error
		code, msg string
	}{
		{"duplicate email", s.CreateUser(ctx, &dupUser), parking.ECONFLICT, "email already registered"},
		{"duplicate label", s.CreateSpots(ctx, []parking.Spot{dupSpot}), parking.ECONFLICT, "a spot with that label already exists in this lot"},
		{"duplicate id", s.CreateOperator(ctx, &f.Operator), parking.ECONFLICT, "operator already exists"},
		{"missing lot", s.CreateLevel(ctx, &level), parking.ENOTFOUND, "lot not found"},
		{"missing user", s.CreateVehicle(ctx, &parking.Vehicle{ID: parking.NewID("veh"), UserID: "usr_missing", Plate: "X", Size: parking.Compact}),
			parking.ENOTFOUND, "user not found"},
		{"size out of range", s.CreateSpots(ctx, []parking.Spot{badSize}), parking.EINVALID, "spot has a missing or out-of-range value"},
		{"duplicate reservation id", s.Hold(ctx, sameID, []string{f.Spots[2].ID}, nil), parking.ECONFLICT, "reservation already exists"},
		{"missing spot", s.Hold(ctx, f.NewHold(t0, t0.Add(time.Hour), t0.Add(2*time.Hour)), []string{"spt_missing"}, nil),
			parking.ESPOTUNAVAILABLE, parking.ErrSpotUnavailable.Message},
		{"second live charge", s.CreatePayment(ctx, second), parking.ECONFLICT, "a payment for this reservation is already pending or succeeded"},
		{"refund of a missing payment", s.CreatePayment(ctx, refund("pay_missing")), parking.EINVALID, "refunded payment not found"},
		{"first refund", s.CreatePayment(ctx, refund(charge.ID)), "", ""},
		{"second live refund", s.CreatePayment(ctx, refund(charge.ID)), parking.ECONFLICT, "a refund for this payment is already pending or succeeded"},
		{"first gateway id", s.CreatePayment(ctx, gw), "", ""},
		{"gateway id taken", s.CreatePayment(ctx, gw2), parking.ECONFLICT, "a payment with that gateway id already exists"},
	}
	for _, tt := range tests {
		switch {
		case tt.code == "" && tt.err != nil:
			t.Errorf("%s: err = %v; want nil", tt.name, tt.err)
		case tt.code != "" && (parking.ErrorCode(tt.err) != tt.code || parking.ErrorMessage(tt.err) != tt.msg):
			t.Errorf("%s: err = %v; want %s: %s", tt.name, tt.err, tt.code, tt.msg)
		}
	}
}

// TestGateEventsAppendOnly: the triggers refuse to change or delete the gate log.
func TestGateEventsAppendOnly(t *testing.T) {
	s := mustOpen(t, mysqltest.DatabaseDSN(t))
	ctx := context.Background()
	f := storetest.MustFixture(t, s)
	e := parking.GateEvent{ID: parking.NewID("gev"), LotID: f.Lot.ID, GateID: "gte_1", Direction: parking.Entry, Decision: parking.Open, At: storetest.T0}
	if err := s.RecordGateEvent(ctx, &e); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE gate_events SET reason = 'x'`, `DELETE FROM gate_events`} {
		if _, err := s.db.ExecContext(ctx, q); err == nil {
			t.Errorf("%s = nil; want the trigger to refuse it", q)
		}
	}
	if es, err := s.GateEvents(ctx, f.Lot.ID, parking.GateEventFilter{}); err != nil || len(es) != 1 || es[0].Reason != "" {
		t.Errorf("GateEvents() = %+v, %v; want the event unchanged", es, err)
	}
}

// TestTimesAreUTC: times come back in UTC whatever zone they went in with, cut
// (not rounded) to the microsecond, as Hold leaves them in r; the zero time
// is kept as the zero time.
func TestTimesAreUTC(t *testing.T) {
	s := mustOpen(t, mysqltest.DatabaseDSN(t))
	ctx := context.Background()
	f := storetest.MustFixture(t, s)
	tokyo := time.FixedZone("JST", 9*3600)
	t0 := storetest.T0.In(tokyo).Add(999 * time.Nanosecond)
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
	if got.StartsAt != r.StartsAt || !got.StartsAt.Equal(storetest.T0.Add(time.Hour)) {
		t.Errorf("StartsAt = %v; want %v as Hold left it in r, cut to the microsecond", got.StartsAt, r.StartsAt)
	}
	if !got.HoldExpiresAt.IsZero() {
		t.Errorf("HoldExpiresAt = %v; want the zero time back", got.HoldExpiresAt)
	}
}

func TestParseDSN(t *testing.T) {
	cfg, pool, err := ParseDSN("mysql://ada:s%3Acret@db.example:3307/parkd?pool_max_conns=5&tls=skip-verify&timeout=3s&sql_mode=%27ANSI%27")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != "ada" || cfg.Passwd != "s:cret" || cfg.Addr != "db.example:3307" || cfg.DBName != "parkd" || pool != 5 {
		t.Errorf("ParseDSN = user %q pass %q addr %q db %q pool %d", cfg.User, cfg.Passwd, cfg.Addr, cfg.DBName, pool)
	}
	if cfg.TLSConfig != "skip-verify" || cfg.Timeout != 3*time.Second || cfg.Params["sql_mode"] != "'ANSI'" {
		t.Errorf("ParseDSN options = tls %q timeout %v params %v; want the driver's options from the URL", cfg.TLSConfig, cfg.Timeout, cfg.Params)
	}
	if !cfg.ParseTime || cfg.Loc != time.UTC || !cfg.ClientFoundRows || !cfg.InterpolateParams || cfg.Params["time_zone"] != "'+00:00'" {
		t.Errorf("ParseDSN settings = %+v; want parseTime, UTC, found rows, interpolation", cfg)
	}
	if cfg, _, err := ParseDSN("mysql://root@localhost/parkd"); err != nil || cfg.Addr != "localhost:3306" {
		t.Errorf("ParseDSN(no port) = %v, %v; want localhost:3306", cfg, err)
	}
	for _, bad := range []string{"mysql://root@localhost", "mysql://root@localhost/db?pool_max_conns=0"} {
		if _, _, err := ParseDSN(bad); err == nil {
			t.Errorf("ParseDSN(%q) = nil; want an error", bad)
		}
	}
	if _, _, err := ParseDSN("root@tcp(127.0.0.1:3306)/parkd"); err != nil {
		t.Errorf("ParseDSN(driver form) = %v; want nil", err)
	}
}
