// Package pass issues and checks the passes drivers show at a lot's gate: a
// signed code, shown as a QR image, and a short manual code to type on a keypad
// when the camera fails. A gate checks a pass offline, with the keyring alone.
package pass

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"

	"parkd/internal/parking"
)

// Error codes of a pass a gate refuses.
const (
	EMALFORMED   = "pass_malformed"
	EUNKNOWNKEY  = "pass_unknown_key"
	EFORGED      = "pass_forged"
	EWRONGLOT    = "pass_wrong_lot"
	ENOTYETVALID = "pass_not_yet_valid"
	EEXPIRED     = "pass_expired"
)

// Sentinels for errors.Is. Each has its own code because parking.Error matches
// by code.
var (
	ErrMalformed   = &parking.Error{Code: EMALFORMED, Message: "this is not a parkd pass"}
	ErrUnknownKey  = &parking.Error{Code: EUNKNOWNKEY, Message: "this pass was signed with a key this gate does not know"}
	ErrForged      = &parking.Error{Code: EFORGED, Message: "this pass is not genuine"}
	ErrWrongLot    = &parking.Error{Code: EWRONGLOT, Message: "this pass is for another lot"}
	ErrNotYetValid = &parking.Error{Code: ENOTYETVALID, Message: "this pass is not valid yet"}
	ErrExpired     = &parking.Error{Code: EEXPIRED, Message: "this pass has expired"}
)

const (
	// prefix starts every code; its digit is the format version, repeated in
	// the signed payload so that the version is authenticated too.
	prefix  = "P1."
	version = 1

	// tagLen is the HMAC-SHA256 tag kept: 128 bits.
	tagLen = 16

	// MinSecretLen is the shortest key secret a keyring accepts: 256 bits.
	MinSecretLen = 32
	// MaxIDLen bounds the reservation and lot ids in a pass, to keep the QR small.
	MaxIDLen = 64

	maxKeyIDLen = 8
	// maxUnix is 9999-12-31T23:59:59Z; later times are refused rather than
	// risk overflow.
	maxUnix = 253402300799
	// maxCodeLen is comfortably above the longest code Issue makes, so Verify
	// never decodes arbitrarily large input.
	maxCodeLen = 512
	// minRawLen is the shortest decoded code: version, three one-byte ids with
	// their lengths, two one-byte varints and the tag.
	minRawLen = 1 + 3*2 + 2 + tagLen
)

// crockford is Crockford's base32 alphabet, upper-case: no I, L, O or U. QR
// alphanumeric mode holds upper-case letters, digits and '.', so a code stays
// compact in a QR image.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var codeEncoding = base32.NewEncoding(crockford).WithPadding(base32.NoPadding)

// Key is a signing secret with a short id, written into every pass, so that
// keys can rotate: sign with the newest, verify with any still known.
type Key struct {
	ID     string // 1-8 characters [a-z0-9]
	Secret []byte // at least MinSecretLen bytes
}

// String hides the secret, so a key printed or logged by mistake leaks nothing.
func (k Key) String() string { return "pass.Key{ID: " + k.ID + "}" }

// GoString hides the secret from %#v as well.
func (k Key) GoString() string { return k.String() }

// Keyring signs passes with one key and verifies them with any of its keys.
// It is not changed after NewKeyring, so it is safe for concurrent use.
type Keyring struct {
	sign Key
	keys []Key // sign first
}

// NewKeyring returns a keyring that signs with sign and verifies passes signed
// with sign or any of verifyAlso (keys being retired).
func NewKeyring(sign Key, verifyAlso ...Key) (*Keyring, error) {
	k := &Keyring{}
	for _, key := range append([]Key{sign}, verifyAlso...) {
		if !validKeyID(key.ID) {
			return nil, parking.Errorf(parking.EINVALID, "pass key id %q must be 1-%d characters a-z or 0-9", key.ID, maxKeyIDLen)
		}
		if len(key.Secret) < MinSecretLen {
			return nil, parking.Errorf(parking.EINVALID, "pass key %s: secret must be at least %d bytes", key.ID, MinSecretLen)
		}
		if _, dup := k.key(key.ID); dup {
			return nil, parking.Errorf(parking.EINVALID, "pass key id %s is used twice", key.ID)
		}
		k.keys = append(k.keys, Key{ID: key.ID, Secret: bytes.Clone(key.Secret)})
	}
	k.sign = k.keys[0]
	return k, nil
}

func (k *Keyring) key(id string) (Key, bool) {
	for _, key := range k.keys {
		if key.ID == id {
			return key, true
		}
	}
	return Key{}, false
}

func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > maxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Claims is what a pass says: which reservation may use which lot, in the
// half-open window [ValidFrom, ValidUntil). Times are whole seconds, UTC.
type Claims struct {
	ReservationID string
	LotID         string
	ValidFrom     time.Time
	ValidUntil    time.Time
}

// Issue returns a signed pass code for c, such as "P1.0A1B...": upper-case
// letters, digits and one dot, safe in a URL and compact in a QR code. The
// times are truncated to whole seconds.
func (k *Keyring) Issue(c Claims) (string, error) {
	body, err := appendBody(nil, k.sign.ID, c)
	if err != nil {
		return "", err
	}
	return prefix + codeEncoding.EncodeToString(append(body, tag(k.sign.Secret, body)...)), nil
}

// appendBody appends the signed part of a pass:
//
//	version byte
//	key id, reservation id, lot id: each a length byte and the bytes
//	ValidFrom: uvarint of its Unix seconds
//	ValidUntil: uvarint of the seconds after ValidFrom (short for usual stays)
func appendBody(b []byte, keyID string, c Claims) ([]byte, error) {
	for _, f := range []struct{ name, id string }{{"reservation", c.ReservationID}, {"lot", c.LotID}} {
		if f.id == "" || len(f.id) > MaxIDLen {
			return nil, parking.Errorf(parking.EINVALID, "pass %s id must be 1-%d bytes", f.name, MaxIDLen)
		}
	}
	from, until := c.ValidFrom.Unix(), c.ValidUntil.Unix()
	switch {
	case from < 0 || until > maxUnix:
		return nil, parking.Errorf(parking.EINVALID, "pass validity must lie between 1970 and 9999")
	case until <= from:
		return nil, parking.Errorf(parking.EINVALID, "pass must end at least a second after it starts")
	}
	b = append(b, version)
	for _, s := range []string{keyID, c.ReservationID, c.LotID} {
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(from))
	b = binary.AppendUvarint(b, uint64(until-from))
	return b, nil
}

// tag authenticates a pass body. Manual codes use the same secrets, but their
// HMAC input starts with "manual:" while a body starts with the version byte,
// so neither can stand for the other.
func tag(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)[:tagLen]
}

// Verify checks a pass shown at a gate of lot lotID at time now and returns its
// claims. The signature is checked first: a code that is not genuine is
// ErrMalformed, ErrUnknownKey or ErrForged, with no claims. A genuine pass for
// another lot or outside its window is ErrWrongLot, ErrNotYetValid or
// ErrExpired, returned with its claims so the gate can say why.
func (k *Keyring) Verify(code, lotID string, now time.Time) (Claims, error) {
	raw, ok := decode(code)
	if !ok {
		return Claims{}, ErrMalformed
	}
	body, got := raw[:len(raw)-tagLen], raw[len(raw)-tagLen:]
	r := reader{b: body, ok: true}
	v, keyID := r.byte(), r.string()
	if !r.ok || v != version || !validKeyID(keyID) {
		return Claims{}, ErrMalformed
	}
	key, known := k.key(keyID)
	if !known {
		return Claims{}, ErrUnknownKey
	}
	if !hmac.Equal(got, tag(key.Secret, body)) {
		return Claims{}, ErrForged
	}
	c, ok := r.claims()
	if !ok {
		// Only a signer's bug gets here: the tag is genuine.
		return Claims{}, ErrMalformed
	}
	switch {
	case c.LotID != lotID:
		return c, ErrWrongLot
	case now.Before(c.ValidFrom):
		return c, ErrNotYetValid
	case !now.Before(c.ValidUntil):
		return c, ErrExpired
	}
	return c, nil
}

// decode returns the bytes of a code, accepting only the one spelling Issue
// makes: the standard decoder would also take newlines and non-zero bits after
// the last byte, and so several spellings of one pass.
func decode(code string) ([]byte, bool) {
	if len(code) > maxCodeLen || !strings.HasPrefix(code, prefix) {
		return nil, false
	}
	s := code[len(prefix):]
	raw, err := codeEncoding.DecodeString(s)
	if err != nil || len(raw) < minRawLen || codeEncoding.EncodeToString(raw) != s {
		return nil, false
	}
	return raw, true
}

// reader reads a pass body; once a read fails, ok stays false and reads return
// zero values.
type reader struct {
	b  []byte
	ok bool
}

func (r *reader) byte() byte {
	if !r.ok || len(r.b) < 1 {
		r.ok = false
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) string() string {
	n := int(r.byte())
	if !r.ok || len(r.b) < n {
		r.ok = false
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// uvarint reads a varint in its shortest form only.
func (r *reader) uvarint() uint64 {
	if !r.ok {
		return 0
	}
	x, n := binary.Uvarint(r.b)
	if n <= 0 || n > 1 && r.b[n-1] == 0 {
		r.ok = false
		return 0
	}
	r.b = r.b[n:]
	return x
}

// claims reads what follows the key id, which must be all that is left.
func (r *reader) claims() (Claims, bool) {
	res, lot := r.string(), r.string()
	from, span := r.uvarint(), r.uvarint()
	if !r.ok || len(r.b) != 0 || res == "" || lot == "" || len(res) > MaxIDLen || len(lot) > MaxIDLen ||
		from > maxUnix || span == 0 || span > maxUnix-from {
		return Claims{}, false
	}
	return Claims{
		ReservationID: res,
		LotID:         lot,
		ValidFrom:     time.Unix(int64(from), 0).UTC(),
		ValidUntil:    time.Unix(int64(from+span), 0).UTC(),
	}, true
}
