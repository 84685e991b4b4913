package pass

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"unicode"
)

// ManualCode returns the code a driver types on a gate's keypad when the camera
// cannot read the pass, such as "7K2M-9QXD": 40 bits of HMAC(secret,
// "manual:"+reservationID) in Crockford's base32, which has no I, L, O or U to
// misread. It is signed with the newest key.
func (k *Keyring) ManualCode(reservationID string) string {
	s := manualCode(k.sign.Secret, reservationID)
	return s[:4] + "-" + s[4:]
}

// manualCode returns the 8 characters of a manual code, without the dash.
func manualCode(secret []byte, reservationID string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("manual:"))
	m.Write([]byte(reservationID))
	return codeEncoding.EncodeToString(m.Sum(nil)[:5]) // 5 bytes are exactly 8 characters
}

// NormalizeManual turns what a driver typed into the form ManualCode's
// characters take: ASCII letters upper-case, spaces and dashes dropped, O read
// as 0 and I or L as 1.
func NormalizeManual(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '-' || unicode.IsSpace(r) {
			continue
		}
		if 'a' <= r && r <= 'z' {
			r -= 'a' - 'A'
		}
		switch r {
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// MatchManual reports whether code, as typed, is the manual code of the
// reservation under any key of the ring, so codes handed out before a key
// rotation keep working. The comparison takes the same time whichever
// characters match. Callers should limit attempts per gate: a code has only
// 40 bits.
func (k *Keyring) MatchManual(code, reservationID string) bool {
	got := []byte(NormalizeManual(code))
	match := 0
	for _, key := range k.keys {
		match |= subtle.ConstantTimeCompare(got, []byte(manualCode(key.Secret, reservationID)))
	}
	return match == 1
}

// ManualDigest returns what the store keeps of reservationID's manual code
// (ManualCode) to find the reservation by it later: an HMAC of the code under
// the key that made it, so the stored digests give the codes away to no one
// without the key.
func (k *Keyring) ManualDigest(reservationID string) string {
	return manualDigest(k.sign.Secret, manualCode(k.sign.Secret, reservationID))
}

// ManualDigests returns the digests code, as typed, has under each key of the
// ring: the one it was stored under is among them, whichever key made it.
func (k *Keyring) ManualDigests(code string) []string {
	got := NormalizeManual(code)
	out := make([]string, 0, len(k.keys))
	for _, key := range k.keys {
		out = append(out, manualDigest(key.Secret, got))
	}
	return out
}

func manualDigest(secret []byte, code string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("manual-digest:"))
	m.Write([]byte(code))
	return hex.EncodeToString(m.Sum(nil)[:16])
}
