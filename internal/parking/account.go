package parking

import (
	"errors"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// FieldError names one invalid field of a request and why.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists every invalid field of a request at once, so a form can
// show them together. Its code is EVALIDATION.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Field + ": " + f.Message
	}
	return EVALIDATION + ": " + strings.Join(msgs, "; ")
}

// Add records a problem with a field.
func (e *ValidationError) Add(field, message string) {
	e.Fields = append(e.Fields, FieldError{field, message})
}

// Merge adds the fields of err when it is a *ValidationError, as ParsePlate
// returns.
func (e *ValidationError) Merge(err error) {
	var v *ValidationError
	if errors.As(err, &v) {
		e.Fields = append(e.Fields, v.Fields...)
	}
}

// Err returns e when it holds any field, nil otherwise.
func (e *ValidationError) Err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// NormalizeEmail trims and lower-cases an address, so that one mailbox has one account.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Password length limits: long enough to be worth guessing slowly, short enough
// that hashing it cannot be used to burn the server's CPU.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 256
)

// ValidateSignUp checks a new account's fields and returns every problem found.
func ValidateSignUp(name, email, password string) error {
	var v ValidationError
	switch n := utf8.RuneCountInString(strings.TrimSpace(name)); {
	case n == 0:
		v.Add("name", "is required")
	case n > 100:
		v.Add("name", "must be at most 100 characters")
	}
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != strings.TrimSpace(email) || len(email) > 254 {
		v.Add("email", "must be an email address such as ada@example.com")
	}
	switch n := utf8.RuneCountInString(password); {
	case n < MinPasswordLen:
		v.Add("password", "must be at least 10 characters")
	case len(password) > MaxPasswordLen:
		v.Add("password", "must be at most 256 bytes")
	}
	return v.Err()
}

// Session is a signed-in user's bearer token. Only the token's hash is stored.
type Session struct {
	TokenHash string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Direction is the way a gate lets cars through.
type Direction string

const (
	Entry Direction = "entry"
	Exit  Direction = "exit"
)

// Gate is a scanner at a lot's entry or exit, authenticated by an API key of
// which only the hash is stored.
type Gate struct {
	ID        string    `json:"id"`
	LotID     string    `json:"lot_id"`
	Name      string    `json:"name"`
	Direction Direction `json:"direction"`
	KeyHash   string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// GatePairing is a one-time link that sets a kiosk up for a gate: whoever
// opens it before ExpiresAt, once, gets the gate's new device key. Only the
// token's hash is kept, like a device key's.
type GatePairing struct {
	TokenHash string
	GateID    string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until used
}

// IdempotencyKey records a request sent with an Idempotency-Key header and, once
// it has finished, the response to replay for retries.
type IdempotencyKey struct {
	UserID      string
	Key         string
	RequestHash string
	StatusCode  int // 0 while the first request is still running
	Body        []byte
	// ReservationID is the reservation a hold completed the key with, in the
	// hold's own transaction. Until the response's body is stored as well
	// (Body is empty), a retry answers with that reservation.
	ReservationID string
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// KeyCompletion names the idempotency key a hold completes in its own
// transaction, so that a retry can never book twice: the claim that UserID's
// request made of Key at ClaimedAt (its CreatedAt). A key claimed anew since,
// by a retry that took over an abandoned request, is no longer this request's,
// and the hold does not go in. The key records Status and the reservation's id.
//
// With Record set, nobody claimed the key before the hold: the hold records
// it itself, completed, in its own transaction (see KeyRecord), and
// ClaimedAt is the record's creation time.
type KeyCompletion struct {
	UserID    string
	Key       string
	ClaimedAt time.Time
	Status    int
	Record    *KeyRecord
}

// KeyRecord is the rest of an idempotency key that a hold records itself,
// so that a hold with a key costs one commit: the key goes in with the
// reservation and its event, completed with the status, the reservation's
// id and the response's bytes, or not at all. A key already recorded, live
// (completed, or in flight since StaleBefore, and not expired by
// ClaimedAt), is ErrKeyTaken, and nothing is held; an abandoned or expired
// record is replaced.
type KeyRecord struct {
	RequestHash string
	ExpiresAt   time.Time
	StaleBefore time.Time
	// Body renders the response to store from the reservation as it will
	// commit, its spot chosen: the store calls it before each attempt.
	Body func(Reservation) ([]byte, error)
}
