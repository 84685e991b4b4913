package pass_test

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"parkd/internal/parking"
	"parkd/internal/pass"
)

var (
	keyOld   = pass.Key{ID: "k1", Secret: []byte("old-secret-old-secret-old-secret")}
	keyNew   = pass.Key{ID: "k2", Secret: []byte("new-secret-new-secret-new-secret!")}
	keyOther = pass.Key{ID: "k1", Secret: []byte("not-ours-not-ours-not-ours-not-ours")} // same id as keyOld

	start = time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)

	typical = pass.Claims{
		ReservationID: "res_3k9xq7m2v8d4n6pz",
		LotID:         "lot_a1b2c3d4e5f6g7h8",
		ValidFrom:     start,
		ValidUntil:    start.Add(2 * time.Hour),
	}
)

// codeAlphabet is every character a pass code is made of.
const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ."

var codePattern = regexp.MustCompile(`^P1\.[0-9A-HJKMNP-TV-Z]+$`)

func mustKeyring(t testing.TB, sign pass.Key, verifyAlso ...pass.Key) *pass.Keyring {
	t.Helper()
	k, err := pass.NewKeyring(sign, verifyAlso...)
	if err != nil {
		t.Fatalf("NewKeyring(%v, %v) = %v", sign, verifyAlso, err)
	}
	return k
}

func mustIssue(t testing.TB, k *pass.Keyring, c pass.Claims) string {
	t.Helper()
	code, err := k.Issue(c)
	if err != nil {
		t.Fatalf("Issue(%+v) = %v", c, err)
	}
	return code
}

// withRes returns typical with a reservation id of n bytes.
func withRes(n int) pass.Claims {
	c := typical
	c.ReservationID = "res_" + strings.Repeat("x", n-4)
	return c
}

func TestNewKeyring(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, pass.MinSecretLen)
	key := func(id string) pass.Key { return pass.Key{ID: id, Secret: secret} }
	tests := []struct {
		name       string
		sign       pass.Key
		verifyAlso []pass.Key
		ok         bool
	}{
		{"one key", key("k1"), nil, true},
		{"rotated", key("k2"), []pass.Key{key("k1"), key("k0")}, true},
		{"longest id", key("abcd1234"), nil, true},
		{"short secret", pass.Key{ID: "k1", Secret: secret[:pass.MinSecretLen-1]}, nil, false},
		{"short old secret", key("k2"), []pass.Key{{ID: "k1", Secret: []byte("short")}}, false},
		{"empty id", key(""), nil, false},
		{"id too long", key("abcd12345"), nil, false},
		{"upper-case id", key("K1"), nil, false},
		{"dash in id", key("k-1"), nil, false},
		{"non-ASCII id", key("ké"), nil, false},
		{"sign id repeated", key("k1"), []pass.Key{key("k1")}, false},
		{"old ids repeated", key("k3"), []pass.Key{key("k1"), key("k1")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pass.NewKeyring(tt.sign, tt.verifyAlso...)
			if tt.ok && err != nil {
				t.Fatalf("NewKeyring(...) = %v; want nil", err)
			}
			if !tt.ok && parking.ErrorCode(err) != parking.EINVALID {
				t.Fatalf("NewKeyring(...) = %v; want code %s", err, parking.EINVALID)
			}
		})
	}
}

func TestKeyringCopiesSecrets(t *testing.T) {
	key := pass.Key{ID: "k1", Secret: bytes.Clone(keyOld.Secret)}
	k := mustKeyring(t, key)
	code := mustIssue(t, k, typical)
	key.Secret[0] ^= 1
	if _, err := k.Verify(code, typical.LotID, start); err != nil {
		t.Fatalf("Verify after the caller changed its secret = %v; want nil", err)
	}
}

func TestKeyHidesSecret(t *testing.T) {
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		got := fmt.Sprintf(verb, keyOld)
		if strings.Contains(got, string(keyOld.Secret)) || strings.Contains(got, fmt.Sprint([]byte(keyOld.Secret))) || !strings.Contains(got, keyOld.ID) {
			t.Errorf("Sprintf(%q, key) = %q; want the id and not the secret", verb, got)
		}
	}
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	k := mustKeyring(t, keyNew, keyOld)
	tests := []struct {
		name   string
		claims pass.Claims
		maxLen int
	}{
		{"typical", typical, 119},
		{"a day", pass.Claims{ReservationID: typical.ReservationID, LotID: typical.LotID, ValidFrom: start, ValidUntil: start.Add(24 * time.Hour)}, 119},
		{"a year", pass.Claims{ReservationID: typical.ReservationID, LotID: typical.LotID, ValidFrom: start, ValidUntil: start.AddDate(1, 0, 0)}, 119},
		{"one second", pass.Claims{ReservationID: "r", LotID: "l", ValidFrom: start, ValidUntil: start.Add(time.Second)}, 60},
		{"epoch", pass.Claims{ReservationID: "r", LotID: "l", ValidFrom: time.Unix(0, 0).UTC(), ValidUntil: time.Unix(1, 0).UTC()}, 60},
		{"year 9999", pass.Claims{ReservationID: "r", LotID: "l", ValidFrom: start, ValidUntil: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)}, 80},
		{"longest ids", pass.Claims{ReservationID: strings.Repeat("r", pass.MaxIDLen), LotID: strings.Repeat("l", pass.MaxIDLen), ValidFrom: start, ValidUntil: start.Add(time.Hour)}, 300},
		{"non-ASCII ids", pass.Claims{ReservationID: "réservation", LotID: "Parkhaus Süd", ValidFrom: start, ValidUntil: start.Add(time.Hour)}, 119},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := mustIssue(t, k, tt.claims)
			t.Logf("%d characters: %s", len(code), code)
			if !codePattern.MatchString(code) || len(code) > tt.maxLen {
				t.Errorf("Issue(%+v) = %q (%d characters); want P1. and Crockford base32, at most %d", tt.claims, code, len(code), tt.maxLen)
			}
			got, err := k.Verify(code, tt.claims.LotID, tt.claims.ValidFrom)
			if err != nil || got != tt.claims {
				t.Fatalf("Verify(%q) = %+v, %v; want %+v, nil", code, got, err, tt.claims)
			}
			if again := mustIssue(t, k, got); again != code {
				t.Errorf("Issue(Verify(code)) = %q; want %q", again, code)
			}
		})
	}
}

func TestIssueKeepsWholeSecondsUTC(t *testing.T) {
	k := mustKeyring(t, keyNew)
	paris := time.FixedZone("CET", 3600)
	c := pass.Claims{
		ReservationID: typical.ReservationID,
		LotID:         typical.LotID,
		ValidFrom:     start.Add(999 * time.Millisecond).In(paris),
		ValidUntil:    start.Add(time.Hour + time.Microsecond).In(paris),
	}
	got, err := k.Verify(mustIssue(t, k, c), c.LotID, start)
	want := pass.Claims{ReservationID: c.ReservationID, LotID: c.LotID, ValidFrom: start, ValidUntil: start.Add(time.Hour)}
	if err != nil || got != want {
		t.Fatalf("Verify(Issue(%+v)) = %+v, %v; want %+v, nil", c, got, err, want)
	}
}

func TestIssueRejects(t *testing.T) {
	k := mustKeyring(t, keyNew)
	with := func(change func(*pass.Claims)) pass.Claims {
		c := typical
		change(&c)
		return c
	}
	tests := []struct {
		name   string
		claims pass.Claims
	}{
		{"no reservation", with(func(c *pass.Claims) { c.ReservationID = "" })},
		{"no lot", with(func(c *pass.Claims) { c.LotID = "" })},
		{"reservation id too long", with(func(c *pass.Claims) { c.ReservationID = strings.Repeat("r", pass.MaxIDLen+1) })},
		{"lot id too long", with(func(c *pass.Claims) { c.LotID = strings.Repeat("l", pass.MaxIDLen+1) })},
		{"empty window", with(func(c *pass.Claims) { c.ValidUntil = c.ValidFrom })},
		{"window under a second", with(func(c *pass.Claims) { c.ValidUntil = c.ValidFrom.Add(500 * time.Millisecond) })},
		{"backwards window", with(func(c *pass.Claims) { c.ValidUntil = c.ValidFrom.Add(-time.Hour) })},
		{"zero times", with(func(c *pass.Claims) { c.ValidFrom, c.ValidUntil = time.Time{}, time.Time{} })},
		{"before 1970", with(func(c *pass.Claims) { c.ValidFrom = time.Unix(-1, 0) })},
		{"after 9999", with(func(c *pass.Claims) { c.ValidUntil = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, err := k.Issue(tt.claims); parking.ErrorCode(err) != parking.EINVALID {
				t.Fatalf("Issue(%+v) = %q, %v; want code %s", tt.claims, code, err, parking.EINVALID)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	old := mustKeyring(t, keyOld)
	rotated := mustKeyring(t, keyNew, keyOld)
	retired := mustKeyring(t, keyNew)
	impostor := mustKeyring(t, keyOther)

	oldCode := mustIssue(t, old, typical)
	newCode := mustIssue(t, rotated, typical)
	if oldCode == newCode {
		t.Fatalf("codes signed with different keys are equal: %q", oldCode)
	}
	tests := []struct {
		name string
		ring *pass.Keyring
		code string
		want error
	}{
		{"old code, old ring", old, oldCode, nil},
		{"old code, rotated ring", rotated, oldCode, nil},
		{"new code, rotated ring", rotated, newCode, nil},
		{"old code, old key retired", retired, oldCode, pass.ErrUnknownKey},
		{"new code, ring before rotation", old, newCode, pass.ErrUnknownKey},
		{"same key id, other secret", impostor, oldCode, pass.ErrForged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ring.Verify(tt.code, typical.LotID, start)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify(%q) = %v; want %v", tt.code, err, tt.want)
			}
			want := typical
			if tt.want != nil {
				want = pass.Claims{}
			}
			if got != want {
				t.Fatalf("Verify(%q) = %+v; want %+v", tt.code, got, want)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	k := mustKeyring(t, keyNew, keyOld)
	code := mustIssue(t, k, typical)
	forged := mustIssue(t, mustKeyring(t, keyOther), typical) // id k1, as keyOld
	other := typical
	other.LotID = "lot_other"
	otherLot := mustIssue(t, k, other)
	until := typical.ValidUntil
	tests := []struct {
		name   string
		code   string
		lot    string
		now    time.Time
		want   error
		claims pass.Claims // returned with the error
	}{
		{"at ValidFrom", code, typical.LotID, start, nil, typical},
		{"just before ValidUntil", code, typical.LotID, until.Add(-time.Nanosecond), nil, typical},
		{"in another zone", code, typical.LotID, start.Add(time.Hour).In(time.FixedZone("X", -5*3600)), nil, typical},
		{"wrong lot", code, "lot_other", start, pass.ErrWrongLot, typical},
		{"pass of another lot", otherLot, typical.LotID, start, pass.ErrWrongLot, other},
		{"no lot", code, "", start, pass.ErrWrongLot, typical},
		{"a second early", code, typical.LotID, start.Add(-time.Second), pass.ErrNotYetValid, typical},
		{"a nanosecond early", code, typical.LotID, start.Add(-time.Nanosecond), pass.ErrNotYetValid, typical},
		{"at ValidUntil", code, typical.LotID, until, pass.ErrExpired, typical},
		{"long after", code, typical.LotID, until.AddDate(1, 0, 0), pass.ErrExpired, typical},
		{"wrong lot and expired", code, "lot_other", until, pass.ErrWrongLot, typical},
		{"forged", forged, typical.LotID, start, pass.ErrForged, pass.Claims{}},
		{"forged and expired", forged, typical.LotID, until.Add(time.Hour), pass.ErrForged, pass.Claims{}},
		{"forged and not yet valid", forged, typical.LotID, start.Add(-time.Hour), pass.ErrForged, pass.Claims{}},
		{"forged and wrong lot", forged, "lot_other", start, pass.ErrForged, pass.Claims{}},
		{"empty", "", typical.LotID, start, pass.ErrMalformed, pass.Claims{}},
		{"prefix only", "P1.", typical.LotID, start, pass.ErrMalformed, pass.Claims{}},
		{"no prefix", strings.TrimPrefix(code, "P1."), typical.LotID, start, pass.ErrMalformed, pass.Claims{}},
		{"other version", "P2." + strings.TrimPrefix(code, "P1."), typical.LotID, start, pass.ErrMalformed, pass.Claims{}},
		{"lower-case", strings.ToLower(code), typical.LotID, start, pass.ErrMalformed, pass.Claims{}},
		{"lower-case prefix", "p1." + strings.TrimPrefix(code, "P1."), typical.LotID, start, pass.ErrMalformed, pass.Claims{}},
		{"spaces around", " " + code + " ", typical.LotID, start, pass.ErrMalformed, pass.Claims{}},
		{"newline inside", code[:20] + "\n" + code[20:], typical.LotID, start, pass.ErrMalformed, pass.Claims{}},
		{"padded", code + "======", typical.LotID, start, pass.ErrMalformed, pass.Claims{}},
		{"huge", "P1." + strings.Repeat("0", 1<<20), typical.LotID, start, pass.ErrMalformed, pass.Claims{}},
		{"URL", "https://parkd.example/p/" + code, typical.LotID, start, pass.ErrMalformed, pass.Claims{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := k.Verify(tt.code, tt.lot, tt.now)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify(%.20q..., %q, %v) = %v; want %v", tt.code, tt.lot, tt.now, err, tt.want)
			}
			if got != tt.claims {
				t.Errorf("Verify(%.20q..., %q, %v) = %+v; want %+v", tt.code, tt.lot, tt.now, got, tt.claims)
			}
		})
	}
	// Each sentinel is told apart from the others.
	sentinels := []error{pass.ErrMalformed, pass.ErrUnknownKey, pass.ErrForged, pass.ErrWrongLot, pass.ErrNotYetValid, pass.ErrExpired}
	for i, a := range sentinels {
		for j, b := range sentinels {
			if errors.Is(a, b) != (i == j) {
				t.Errorf("errors.Is(%v, %v) = %v", a, b, i != j)
			}
		}
	}
}

// safeVerify calls Verify and turns a panic into a test failure naming the input.
func safeVerify(t *testing.T, k *pass.Keyring, code, lot string, now time.Time) (c pass.Claims, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Verify(%q) panicked: %v", code, r)
		}
	}()
	return k.Verify(code, lot, now)
}

// TestMutants changes a valid code in every way a small slip (or an attacker
// with one guess) could, and checks that no change verifies.
func TestMutants(t *testing.T) {
	k := mustKeyring(t, keyNew, keyOld)
	outside := []string{"a", "z", "i", "l", "o", "u", "I", "L", "O", "U", "-", "_", "=", "+", "/", " ", "\n", "\r", "\t", "\x00", "\xff", "é", "€"}
	chars := append(strings.Split(codeAlphabet, ""), outside...)

	// Codes whose base32 ends on every possible number of spare bits (0-4),
	// where a lenient decoder would accept other last characters.
	var codes []string
	tails := map[int]bool{}
	for n := 20; n < 25; n++ {
		code := mustIssue(t, k, withRes(n))
		codes = append(codes, code)
		tails[len(code)%8] = true
	}
	codes = append(codes, mustIssue(t, mustKeyring(t, keyOld), typical))
	if len(tails) != 5 {
		t.Fatalf("codes end on %d kinds of partial group; want 5", len(tails))
	}

	outcomes := map[string]int{}
	check := func(code, mutant, how string) {
		t.Helper()
		if mutant == code {
			return
		}
		got, err := safeVerify(t, k, mutant, typical.LotID, start.Add(time.Minute))
		if err == nil || got != (pass.Claims{}) {
			t.Fatalf("Verify(%q) (%s of %q) = %+v, %v; want an error and no claims", mutant, how, code, got, err)
		}
		outcomes[parking.ErrorCode(err)]++
	}
	for _, code := range codes {
		if _, err := k.Verify(code, typical.LotID, start.Add(time.Minute)); err != nil {
			t.Fatalf("Verify(%q) = %v; want nil", code, err)
		}
		for i := 0; i <= len(code); i++ {
			check(code, code[:i], "truncation")
			for _, c := range chars {
				check(code, code[:i]+c+code[i:], "insertion")
				if i < len(code) {
					check(code, code[:i]+c+code[i+1:], "substitution")
				}
			}
			if i < len(code) {
				check(code, code[:i]+code[i+1:], "deletion")
			}
			if i+1 < len(code) {
				check(code, code[:i]+code[i+1:i+2]+code[i:i+1]+code[i+2:], "swap")
			}
		}
	}
	t.Logf("mutants refused, by error code: %v", outcomes)
}

func FuzzVerify(f *testing.F) {
	old := mustKeyring(f, keyOld)
	ring := mustKeyring(f, keyNew, keyOld)
	now := start.Add(time.Minute).Unix()
	for _, c := range []pass.Claims{typical, withRes(21), withRes(23), {ReservationID: "r", LotID: "l", ValidFrom: start, ValidUntil: start.Add(time.Second)}} {
		for _, k := range []*pass.Keyring{old, ring, mustKeyring(f, keyOther)} {
			code := mustIssue(f, k, c)
			f.Add(code, c.LotID, now)
			f.Add(code, c.LotID, c.ValidUntil.Unix())
			f.Add(code[:len(code)-1], c.LotID, now)
			f.Add(code+"0", c.LotID, now)
		}
	}
	for _, s := range []string{"", "P1.", "P1.0", "P1.00000000", "P2.0000", "p1.abc", "P1.\n", "P1." + strings.Repeat("Z", 40)} {
		f.Add(s, typical.LotID, now)
	}

	f.Fuzz(func(t *testing.T, code, lot string, nowUnix int64) {
		now := time.Unix(nowUnix, 0)
		got, err := safeVerify(t, ring, code, lot, now)
		switch {
		case errors.Is(err, pass.ErrMalformed), errors.Is(err, pass.ErrUnknownKey), errors.Is(err, pass.ErrForged):
			if got != (pass.Claims{}) {
				t.Fatalf("Verify(%q) = %+v, %v; want no claims", code, got, err)
			}
			return
		case err == nil, errors.Is(err, pass.ErrWrongLot), errors.Is(err, pass.ErrNotYetValid), errors.Is(err, pass.ErrExpired):
		default:
			t.Fatalf("Verify(%q) = %v; want nil or a pass error", code, err)
		}

		// The code is genuine: it must be exactly what one of our keys issued
		// for the claims it decodes to.
		if a, b := mustIssue(t, ring, got), mustIssue(t, old, got); code != a && code != b {
			t.Fatalf("Verify(%q) = %+v, which Issue makes %q or %q", code, got, a, b)
		}
		var want error
		switch {
		case got.LotID != lot:
			want = pass.ErrWrongLot
		case now.Before(got.ValidFrom):
			want = pass.ErrNotYetValid
		case !now.Before(got.ValidUntil):
			want = pass.ErrExpired
		}
		if err != want {
			t.Fatalf("Verify(%q, %q, %v) = %+v, %v; want %v", code, lot, now, got, err, want)
		}
	})
}

var manualPattern = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$`)

func TestManualCode(t *testing.T) {
	k := mustKeyring(t, keyNew, keyOld)
	seen := map[string]string{}
	for i := range 200 {
		id := fmt.Sprintf("res_%016d", i)
		code := k.ManualCode(id)
		if !manualPattern.MatchString(code) {
			t.Fatalf("ManualCode(%q) = %q; want XXXX-XXXX in Crockford base32", id, code)
		}
		if again := mustKeyring(t, keyNew).ManualCode(id); again != code {
			t.Fatalf("ManualCode(%q) = %q, then %q; want the same", id, code, again)
		}
		if prev, dup := seen[code]; dup {
			t.Fatalf("ManualCode(%q) = ManualCode(%q) = %q", id, prev, code)
		}
		seen[code] = id
	}
	if a, b := mustKeyring(t, keyOld).ManualCode(typical.ReservationID), k.ManualCode(typical.ReservationID); a == b {
		t.Errorf("ManualCode under two keys = %q both times; want different codes", a)
	}
}

func TestNormalizeManual(t *testing.T) {
	tests := []struct{ in, want string }{
		{"7K2M-9QXD", "7K2M9QXD"},
		{"7k2m-9qxd", "7K2M9QXD"},
		{" 7k2m 9qxd\t", "7K2M9QXD"},
		{"7-K-2-M--9QXD", "7K2M9QXD"},
		{"oO0-iIlL1", "00011111"},
		{"", ""},
		{"----", ""},
		{"ü!", "ü!"}, // left for the match to refuse
	}
	for _, tt := range tests {
		if got := pass.NormalizeManual(tt.in); got != tt.want {
			t.Errorf("NormalizeManual(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestMatchManual(t *testing.T) {
	old := mustKeyring(t, keyOld)
	ring := mustKeyring(t, keyNew, keyOld)
	retired := mustKeyring(t, keyNew)
	id := typical.ReservationID

	// A reservation whose code has a 0 and a 1, to type them as O and I/L.
	var withDigits string
	for i := 0; withDigits == ""; i++ {
		if c := ring.ManualCode(fmt.Sprint("res_", i)); strings.ContainsAny(c, "0") && strings.ContainsAny(c, "1") {
			withDigits = fmt.Sprint("res_", i)
		}
	}
	code := ring.ManualCode(id)
	typed := ring.ManualCode(withDigits)
	tests := []struct {
		name string
		ring *pass.Keyring
		code string
		id   string
		want bool
	}{
		{"as shown", ring, code, id, true},
		{"no dash", ring, strings.ReplaceAll(code, "-", ""), id, true},
		{"lower-case", ring, strings.ToLower(code), id, true},
		{"spaced", ring, strings.Join(strings.Split(strings.ReplaceAll(code, "-", ""), ""), " "), id, true},
		{"O for 0, I for 1", ring, strings.NewReplacer("0", "O", "1", "I").Replace(typed), withDigits, true},
		{"o for 0, l for 1", ring, strings.NewReplacer("0", "o", "1", "l").Replace(strings.ToLower(typed)), withDigits, true},
		{"code of the old key", ring, old.ManualCode(id), id, true},
		{"old key retired", retired, old.ManualCode(id), id, false},
		{"other reservation", ring, code, id + "x", false},
		{"other reservation's code", ring, ring.ManualCode(withDigits), id, false},
		{"one character off", ring, code[:8] + string("0123456789"[(strings.IndexByte("0123456789ABCDEFGHJKMNPQRSTVWXYZ", code[8])+1)%10]), id, false},
		{"too short", ring, code[:8], id, false},
		{"too long", ring, code + "0", id, false},
		{"empty", ring, "", id, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ring.MatchManual(tt.code, tt.id); got != tt.want {
				t.Fatalf("MatchManual(%q, %q) = %v; want %v", tt.code, tt.id, got, tt.want)
			}
		})
	}
}

func TestPNG(t *testing.T) {
	k := mustKeyring(t, keyNew)
	long := mustIssue(t, k, pass.Claims{ReservationID: strings.Repeat("r", pass.MaxIDLen), LotID: strings.Repeat("l", pass.MaxIDLen), ValidFrom: start, ValidUntil: start.Add(time.Hour)})
	tests := []struct {
		name string
		code string
		size int
	}{
		{"typical", mustIssue(t, k, typical), 256},
		{"large", mustIssue(t, k, typical), 1000},
		{"odd size", mustIssue(t, k, withRes(23)), 333},
		{"smaller than the modules", mustIssue(t, k, typical), 10},
		{"longest ids", long, 512},
		{"manual code", k.ManualCode(typical.ReservationID), 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := pass.PNG(tt.code, tt.size)
			if err != nil {
				t.Fatalf("PNG(%q, %d) = %v", tt.code, tt.size, err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("png.Decode(PNG(...)) = %v", err)
			}
			w, h := img.Bounds().Dx(), img.Bounds().Dy()
			about := w >= tt.size*9/10 && w <= tt.size*11/10
			if w != h || !about && !(tt.size < 100 && w >= tt.size) {
				t.Errorf("PNG(..., %d) is %dx%d; want a square of about %d", tt.size, w, h, tt.size)
			}
			bmp, err := gozxing.NewBinaryBitmapFromImage(img)
			if err != nil {
				t.Fatalf("NewBinaryBitmapFromImage = %v", err)
			}
			res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
			if err != nil {
				t.Fatalf("QR decode of PNG(%q, %d) = %v", tt.code, tt.size, err)
			}
			if res.GetText() != tt.code {
				t.Errorf("QR decode of PNG(%q, %d) = %q; want the code", tt.code, tt.size, res.GetText())
			}
			if ec := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL]; ec != "M" {
				t.Errorf("QR error correction = %v; want M", ec)
			}
		})
	}
}

// TestPNGSmallScales draws codes of several QR versions at the smallest scales
// and the largest size: rsc.io/qr's PNG writer panics at one pixel per module,
// where it writes zero-length copies, and nowhere else.
func TestPNGSmallScales(t *testing.T) {
	k := mustKeyring(t, keyNew)
	for _, code := range []string{"P1.0", k.ManualCode("r"), mustIssue(t, k, typical), mustIssue(t, k, withRes(pass.MaxIDLen))} {
		b, err := pass.PNG(code, 1)
		if err != nil {
			t.Fatalf("PNG(%q, 1) = %v", code, err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("png.DecodeConfig(PNG(%q, 1)) = %v", code, err)
		}
		modules := cfg.Width / 2 // the smallest image has two pixels per module
		for _, size := range append(makeRange(1, 16*modules, modules), pass.MaxPNGSize) {
			b, err := pass.PNG(code, size)
			if err != nil {
				t.Fatalf("PNG(%q, %d) = %v", code, size, err)
			}
			if cfg, err := png.DecodeConfig(bytes.NewReader(b)); err != nil || cfg.Width%modules != 0 || cfg.Width < size-modules/2 {
				t.Fatalf("png.DecodeConfig(PNG(%q, %d)) = %+v, %v; want a multiple of %d modules of about %d pixels", code, size, cfg, err, modules, size)
			}
		}
	}
}

// makeRange returns from, from+step, ... up to to.
func makeRange(from, to, step int) []int {
	var r []int
	for i := from; i <= to; i += step {
		r = append(r, i)
	}
	return r
}

func TestPNGRejects(t *testing.T) {
	tests := []struct {
		name string
		code string
		size int
	}{
		{"no code", "", 256},
		{"zero size", "P1.ABC", 0},
		{"negative size", "P1.ABC", -1},
		{"too large", "P1.ABC", pass.MaxPNGSize + 1},
		{"too long for a QR code", strings.Repeat("x", 5000), 256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := pass.PNG(tt.code, tt.size); parking.ErrorCode(err) != parking.EINVALID {
				t.Fatalf("PNG(%.10q, %d) = %v; want code %s", tt.code, tt.size, err, parking.EINVALID)
			}
		})
	}
}

// TestConcurrentUse runs under -race in CI: a keyring is shared by every
// request of a gate.
func TestConcurrentUse(t *testing.T) {
	k := mustKeyring(t, keyNew, keyOld)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				c := withRes(20 + (g+i)%5)
				code, err := k.Issue(c)
				if err != nil {
					t.Errorf("Issue = %v", err)
					return
				}
				if got, err := k.Verify(code, c.LotID, start); err != nil || got != c {
					t.Errorf("Verify = %+v, %v; want %+v", got, err, c)
				}
				if !k.MatchManual(k.ManualCode(c.ReservationID), c.ReservationID) {
					t.Errorf("MatchManual(ManualCode(%q)) = false", c.ReservationID)
				}
			}
		})
	}
	wg.Wait()
}

// TestManualDigest: the digest kept of a code is found from the code as typed,
// under whichever key of the ring made it, and from no other code.
func TestManualDigest(t *testing.T) {
	old := mustKeyring(t, keyOld)
	rotated := mustKeyring(t, keyNew, keyOld)
	for _, k := range []*pass.Keyring{old, rotated} {
		id := "res_0000000000000001"
		stored := k.ManualDigest(id)
		typed := strings.ToLower(strings.ReplaceAll(k.ManualCode(id), "-", " "))
		if !slices.Contains(rotated.ManualDigests(typed), stored) {
			t.Errorf("ManualDigests(%q) = %v; want %s among them", typed, rotated.ManualDigests(typed), stored)
		}
		if slices.Contains(rotated.ManualDigests(k.ManualCode("res_0000000000000002")), stored) {
			t.Errorf("another reservation's code has the digest of %s's", id)
		}
	}
}
