package parking_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"parkd/internal/parking"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want parking.Size
	}{
		{"motorcycle", parking.Motorcycle}, {"MOTOR_CYCLE", parking.Motorcycle},
		{"compact", parking.Compact}, {"small", parking.Compact}, {"HATCH_BACK", parking.Compact}, {"COUPE", parking.Compact},
		{"standard", parking.Standard}, {"medium", parking.Standard}, {"SEDAN", parking.Standard}, {" Sedan ", parking.Standard},
		{"large", parking.Large}, {"SUV", parking.Large}, {"LARGE", parking.Large},
	}
	for _, tt := range tests {
		if got, err := parking.ParseSize(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "huge", "truck", "0"} {
		if _, err := parking.ParseSize(bad); parking.ErrorCode(err) != parking.EINVALID {
			t.Errorf("ParseSize(%q) error = %v; want invalid", bad, err)
		}
	}
}

func TestSizeFits(t *testing.T) {
	for _, v := range parking.Sizes {
		for _, s := range parking.Sizes {
			if got, want := v.Fits(s), v <= s; got != want {
				t.Errorf("%s.Fits(%s) = %v; want %v", v, s, got, want)
			}
		}
	}
	if parking.Size(0).Fits(parking.Large) {
		t.Errorf("the zero size fits; want it invalid")
	}
}

func TestSizeJSON(t *testing.T) {
	b, err := json.Marshal(map[parking.Size]int{parking.Large: 1})
	if err != nil || string(b) != `{"large":1}` {
		t.Errorf("Marshal = %s, %v; want {\"large\":1}", b, err)
	}
	var v struct{ Size parking.Size }
	if err := json.Unmarshal([]byte(`{"Size":"SUV"}`), &v); err != nil || v.Size != parking.Large {
		t.Errorf("Unmarshal SUV = %v, %v; want large", v.Size, err)
	}
}

func TestPrice(t *testing.T) {
	p := parking.DefaultPolicy() // standard: 300/h, cap 2500/day, 15-minute increments
	t0 := time.Date(2030, 1, 7, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		d    time.Duration
		want int64
	}{
		{"one hour", time.Hour, 300},
		{"two hours", 2 * time.Hour, 600},
		{"a quarter", 15 * time.Minute, 75},
		{"one minute bills a quarter", time.Minute, 75},
		{"sixteen minutes bill a half", 16 * time.Minute, 150},
		{"capped within a day", 10 * time.Hour, 2500},
		{"a full day", 24 * time.Hour, 2500},
		{"a day and an hour", 25 * time.Hour, 2800},
		{"two days", 48 * time.Hour, 5000},
		{"empty", 0, 0},
	}
	for _, tt := range tests {
		if got, err := p.Price(parking.Standard, t0, t0.Add(tt.d)); err != nil || got != tt.want {
			t.Errorf("%s: Price(standard, %v) = %d, %v; want %d", tt.name, tt.d, got, err, tt.want)
		}
	}
	if got, _ := p.Price(parking.Large, t0, t0.Add(time.Hour)); got != 400 {
		t.Errorf("Price(large, 1h) = %d; want 400", got)
	}
	p.Rates[parking.Compact] = parking.Rate{Hourly: 333, DailyMax: 0}
	if got, _ := p.Price(parking.Compact, t0, t0.Add(20*time.Minute)); got != 167 { // 333 * 30/60 = 166.5, rounded up
		t.Errorf("Price(compact 333/h, 20m) = %d; want 167", got)
	}
	if got, _ := p.Price(parking.Compact, t0, t0.Add(30*time.Hour)); got != 333*30 {
		t.Errorf("Price(compact uncapped, 30h) = %d; want %d", got, 333*30)
	}
}

// TestPriceNoOverflow: at the policy's bounds, prices stay positive.
func TestPriceNoOverflow(t *testing.T) {
	p := parking.DefaultPolicy()
	p.MaxStay = parking.MaxMaxStay
	p.OverstayPercent = parking.MaxOverstayPercent
	p.Rates[parking.Large] = parking.Rate{Hourly: parking.MaxRate, DailyMax: 0}
	if err := p.Validate(); err != nil {
		t.Fatalf("a policy at its bounds = %v; want valid", err)
	}
	t0 := time.Date(2030, 1, 7, 8, 0, 0, 0, time.UTC)
	if got, _ := p.Price(parking.Large, t0, t0.Add(time.Duration(p.MaxStay))); got <= 0 {
		t.Errorf("Price at the bounds = %d; want positive", got)
	}
	if got := p.OverstayPrice(parking.Large, 30*24*time.Hour); got <= 0 {
		t.Errorf("OverstayPrice at the bounds = %d; want positive", got)
	}
}

func TestOverstayPrice(t *testing.T) {
	p := parking.DefaultPolicy() // standard 300/h at 150%: 450/h
	if got := p.OverstayPrice(parking.Standard, 20*time.Minute); got != 225 {
		t.Errorf("OverstayPrice(20m) = %d; want 225 (half an hour at 450/h)", got)
	}
	if got := p.OverstayPrice(parking.Standard, 0); got != 0 {
		t.Errorf("OverstayPrice(0) = %d; want 0", got)
	}
}

func TestPolicyJSON(t *testing.T) {
	var p parking.Policy
	if err := json.Unmarshal([]byte(`{"hold_ttl":"7m","rates":{"small":{"hourly":1,"daily_max":2}}}`), &p); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	want := parking.DefaultPolicy()
	want.HoldTTL = parking.Duration(7 * time.Minute)
	want.Rates = map[parking.Size]parking.Rate{parking.Compact: {Hourly: 1, DailyMax: 2}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("Unmarshal = %+v; want %+v", p, want)
	}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "missing a rate") {
		t.Errorf("Validate with missing rates = %v; want an error naming the missing rate", err)
	}
	if err := json.Unmarshal([]byte(`{"hold_ttl":"soon"}`), &p); parking.ErrorCode(errors.Unwrap(err)) != parking.EINVALID && parking.ErrorCode(err) != parking.EINVALID {
		t.Errorf("Unmarshal bad duration = %v; want invalid", err)
	}
	b, _ := json.Marshal(parking.DefaultPolicy())
	if !strings.Contains(string(b), `"hold_ttl":"5m0s"`) {
		t.Errorf("Marshal = %s; want hold_ttl as duration text", b)
	}
}

func TestPolicyValidate(t *testing.T) {
	if err := parking.DefaultPolicy().Validate(); err != nil {
		t.Errorf("DefaultPolicy().Validate() = %v; want nil", err)
	}
	bad := []func(p *parking.Policy){
		func(p *parking.Policy) { p.HoldTTL = 0 },
		func(p *parking.Policy) { p.MaxStay = -1 },
		func(p *parking.Policy) { p.OverstayGrace = -1 },
		func(p *parking.Policy) { p.Rates[parking.Large] = parking.Rate{Hourly: -1} },
		func(p *parking.Policy) { p.OverstayPercent = -5 },
		func(p *parking.Policy) { p.OverstayPercent = parking.MaxOverstayPercent + 1 },
		func(p *parking.Policy) { p.Rates[parking.Compact] = parking.Rate{Hourly: parking.MaxRate + 1} },
		func(p *parking.Policy) { p.Rates[parking.Compact] = parking.Rate{Hourly: 1, DailyMax: 1 << 62} },
		func(p *parking.Policy) { p.MaxStay = parking.MaxMaxStay + 1 },
	}
	for i, mutate := range bad {
		p := parking.DefaultPolicy()
		mutate(&p)
		if err := p.Validate(); parking.ErrorCode(err) != parking.EINVALID {
			t.Errorf("case %d: Validate() = %v; want invalid", i, err)
		}
	}
}

func TestErrors(t *testing.T) {
	err := parking.Errorf(parking.ENOTFOUND, "lot %s not found", "x")
	if !errors.Is(err, parking.ErrNotFound) || errors.Is(err, parking.ErrConflict) {
		t.Errorf("errors.Is on a coded error does not match by code")
	}
	if parking.ErrorCode(errors.New("boom")) != parking.EINTERNAL || parking.ErrorMessage(errors.New("secret")) != "internal error" {
		t.Errorf("plain errors must read as internal and hide their text")
	}
}

func TestHolds(t *testing.T) {
	t0 := time.Date(2030, 1, 7, 8, 0, 0, 0, time.UTC)
	p := parking.DefaultPolicy() // no-show after 15 minutes
	r := parking.Reservation{Status: parking.StatusHeld, HoldExpiresAt: t0, StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(2 * time.Hour)}
	if !p.Holds(r, t0.Add(-time.Microsecond)) || p.Holds(r, t0) || !r.HoldExpired(t0) {
		t.Errorf("a hold holds its spot until, and not at, its expiry")
	}
	r.Status = parking.StatusConfirmed
	deadline := r.StartsAt.Add(15 * time.Minute)
	if !p.Holds(r, deadline.Add(-time.Microsecond)) || p.Holds(r, deadline) {
		t.Errorf("a confirmed booking holds its spot until, and not at, its no-show deadline")
	}
	r.Status = parking.StatusCheckedIn
	late := r.EndsAt.Add(48 * time.Hour)
	if !p.Holds(r, late) || !r.Overstaying(late) || r.Overstaying(r.EndsAt.Add(-time.Microsecond)) {
		t.Errorf("a car inside holds its spot until it leaves, and overstays from its end")
	}
	// A car inside past its end claims every window after its start; before
	// its end, only its own.
	if !p.Claims(r, late.Add(24*time.Hour), late.Add(25*time.Hour), late) {
		t.Errorf("Claims(overstaying car, a later window) = false; want true")
	}
	if p.Claims(r, r.EndsAt, r.EndsAt.Add(time.Hour), r.StartsAt) {
		t.Errorf("Claims(car inside within its window, the window after it) = true; want false")
	}
	for _, st := range []parking.Status{parking.StatusCancelled, parking.StatusExpired, parking.StatusNoShow, parking.StatusCompleted} {
		r.Status = st
		if p.Holds(r, t0.Add(-time.Hour)) {
			t.Errorf("%s holds its spot; want not", st)
		}
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := parking.NewID("res")
		if !strings.HasPrefix(id, "res_") || len(id) != 20 || seen[id] {
			t.Fatalf("NewID = %q; want a fresh res_ id of 20 characters", id)
		}
		seen[id] = true
	}
}

func TestFormatMoney(t *testing.T) {
	for _, tt := range []struct {
		amount   int64
		currency string
		want     string
	}{{1250, "USD", "12.50 USD"}, {5, "EUR", "0.05 EUR"}, {1500, "JPY", "1500 JPY"}, {12345, "KWD", "12.345 KWD"}, {-250, "USD", "-2.50 USD"}} {
		if got := parking.FormatMoney(tt.amount, tt.currency); got != tt.want {
			t.Errorf("FormatMoney(%d, %s) = %q; want %q", tt.amount, tt.currency, got, tt.want)
		}
	}
}

func TestUserRuns(t *testing.T) {
	lot := parking.Lot{ID: "lot_1", OperatorID: "opr_1"}
	for _, tc := range []struct {
		u    parking.User
		want bool
	}{
		{parking.User{Role: parking.RoleAdmin}, true},
		{parking.User{Role: parking.RoleOperator, OperatorID: "opr_1"}, true},
		{parking.User{Role: parking.RoleOperator, OperatorID: "opr_2"}, false},
		{parking.User{Role: parking.RoleOperator}, false},
		{parking.User{Role: parking.RoleDriver, OperatorID: "opr_1"}, false},
	} {
		if got := tc.u.Runs(lot); got != tc.want {
			t.Errorf("%+v.Runs(lot of opr_1) = %v; want %v", tc.u, got, tc.want)
		}
	}
}

func TestUserManagesAny(t *testing.T) {
	for _, tc := range []struct {
		u    parking.User
		want bool
	}{
		{parking.User{Role: parking.RoleAdmin}, true},
		{parking.User{Role: parking.RoleOperator, OperatorID: "opr_1"}, true},
		{parking.User{Role: parking.RoleOperator}, false}, // runs no lot: no operator
		{parking.User{Role: parking.RoleDriver, OperatorID: "opr_1"}, false},
	} {
		if got := tc.u.ManagesAny(); got != tc.want {
			t.Errorf("%+v.ManagesAny() = %v; want %v", tc.u, got, tc.want)
		}
	}
}

func TestUserActsFor(t *testing.T) {
	for _, tc := range []struct {
		u    parking.User
		id   string
		want bool
	}{
		{parking.User{ID: "usr_1"}, "usr_1", true},
		{parking.User{ID: "usr_1"}, "usr_2", false},
		{parking.User{ID: "usr_1", Role: parking.RoleOperator, OperatorID: "opr_1"}, "usr_2", false},
		{parking.User{ID: "usr_1", Role: parking.RoleAdmin}, "usr_2", true},
		{parking.User{}, "", false}, // nobody is not the empty user
	} {
		if got := tc.u.ActsFor(tc.id); got != tc.want {
			t.Errorf("%+v.ActsFor(%q) = %v; want %v", tc.u, tc.id, got, tc.want)
		}
	}
}

// TestValidateListsEveryField: a lot, level or spot with several bad fields
// names each of them at once, so that a form can show them together.
func TestValidateListsEveryField(t *testing.T) {
	fields := func(err error) []string {
		var v *parking.ValidationError
		if !errors.As(err, &v) {
			t.Fatalf("Validate() = %v; want a *parking.ValidationError", err)
		}
		var out []string
		for _, f := range v.Fields {
			out = append(out, f.Field)
		}
		return out
	}
	lot := parking.Lot{Name: " ", Address: "1 Quay St", Lat: 91, Lng: 0, TimeZone: "Local", Currency: "usd", Policy: parking.DefaultPolicy()}
	if got, want := fields(lot.Validate()), []string{"name", "lat", "currency", "time_zone", "operator_id"}; !slices.Equal(got, want) {
		t.Errorf("Lot.Validate() fields = %v; want %v (\"Local\" is no IANA zone)", got, want)
	}
	level := parking.Level{Name: "", Ordinal: parking.MaxLevelOrdinal + 1, Width: -1}
	if got, want := fields(level.Validate()), []string{"name", "ordinal", "width"}; !slices.Equal(got, want) {
		t.Errorf("Level.Validate() fields = %v; want %v", got, want)
	}
	spot := parking.Spot{LotID: "lot_1", Label: "A1", Size: -1, X: -1, Amenities: []string{"ev", ""}}
	if got, want := fields(spot.Validate()), []string{"size", "x", "amenities", "level_id"}; !slices.Equal(got, want) {
		t.Errorf("Spot.Validate() fields = %v; want %v", got, want)
	}
	good := parking.Lot{OperatorID: "opr_1", Name: "G", Address: "A", TimeZone: "Europe/London", Currency: "GBP", Policy: parking.DefaultPolicy()}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate() of a good lot = %v; want nil", err)
	}
}

// TestDecodePolicy: a stored policy decodes as UnmarshalJSON decodes it, the
// second time from memory, and each caller's copy is its own.
func TestDecodePolicy(t *testing.T) {
	stored := []byte(`{"hold_ttl": "7m", "rates": {"standard": {"hourly": 420, "daily_max": 0}}}`)
	var want parking.Policy
	if err := json.Unmarshal(stored, &want); err != nil {
		t.Fatal(err)
	}
	first, err := parking.DecodePolicy(stored)
	if err != nil || !reflect.DeepEqual(first, want) {
		t.Fatalf("DecodePolicy = %+v, %v; want %+v", first, err, want)
	}
	first.Rates[parking.Standard] = parking.Rate{Hourly: 1}
	if second, err := parking.DecodePolicy(stored); err != nil || !reflect.DeepEqual(second, want) {
		t.Errorf("DecodePolicy after the first's rates changed = %+v, %v; want %+v", second, err, want)
	}
	if _, err := parking.DecodePolicy([]byte(`{"hold_ttl": 7`)); err == nil {
		t.Error("DecodePolicy(broken JSON) = nil error")
	}
}
