package parking

import (
	"errors"
	"fmt"
)

// Error codes are stable and machine-readable, and every one is here; the
// HTTP layer maps each to a status (internal/httpapi/problem.go).
const (
	ECONFLICT         = "conflict"
	EINTERNAL         = "internal"
	EINVALID          = "invalid"
	ENOTFOUND         = "not_found"
	EUNAUTHORIZED     = "unauthorized"
	EFORBIDDEN        = "forbidden"
	ESPOTUNAVAILABLE  = "spot_unavailable"
	ENOSPOTAVAILABLE  = "no_spot_available"
	EHOLDEXPIRED      = "hold_expired"
	EINVALIDWINDOW    = "invalid_window"
	EWINDOWINPAST     = "window_in_past"
	EWINDOWTOOFAR     = "window_too_far"
	ESTAYTOOLONG      = "stay_too_long"
	EVEHICLETOOLARGE  = "vehicle_does_not_fit"
	ESPOTOUTOFSERVICE = "spot_out_of_service"
	ESTATUS           = "invalid_status"
	EVALIDATION       = "validation_failed"
	EEMAILTAKEN       = "email_taken"
	ETOOMANYREQUESTS  = "too_many_requests"
	EIDEMPOTENCY      = "idempotency_key_reused"
	EINFLIGHT         = "idempotency_key_in_use"
	EPRECONDITION     = "precondition_failed"

	// Codes of the requests themselves, before any rule of the domain.
	EINVALIDTEXT     = "invalid_text"
	ECARDNUMBER      = "card_number_refused"
	EKEYREQUIRED     = "idempotency_key_required"
	ETOOLARGE        = "too_large"
	EMETHOD          = "method_not_allowed"
	EUPGRADEREQUIRED = "upgrade_required"
	EUNAVAILABLE     = "unavailable"
	ECROSSORIGIN     = "cross_origin"

	// Operators' changes.
	ESPOTHASRESERVATIONS = "spot_has_reservations"
	ENOTEXTENDABLE       = "not_extendable"

	// Gates.
	ELOTFULL = "lot_full"

	// Payments.
	EDECLINED      = "payment_declined"
	EINPROGRESS    = "payment_in_progress"
	EALREADYPAID   = "already_paid"
	EGATEWAY       = "gateway_unavailable"
	EWEBHOOK       = "invalid_webhook"
	EPAYMENTMETHOD = "invalid_payment_method"
)

// Error is a domain error with a stable code and a message safe to show a user.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is makes errors.Is match any *Error with the same code, so callers can test
// errors.Is(err, parking.ErrNotFound) whatever the message says.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for errors.Is; wrap them with Errorf for a specific message.
var (
	ErrNotFound        = &Error{Code: ENOTFOUND, Message: "not found"}
	ErrConflict        = &Error{Code: ECONFLICT, Message: "conflict"}
	ErrSpotUnavailable = &Error{Code: ESPOTUNAVAILABLE, Message: "the spot is already booked for an overlapping window"}
	ErrNoSpotAvailable = &Error{Code: ENOSPOTAVAILABLE, Message: "no spot that fits is free for that window"}
	ErrHoldExpired     = &Error{Code: EHOLDEXPIRED, Message: "the hold has expired"}
	ErrInvalidStatus   = &Error{Code: ESTATUS, Message: "the reservation is not in a state that allows this"}
	// ErrKeyTaken is a hold that records its idempotency key itself
	// (KeyRecord) finding the key recorded by another request first: nothing
	// was held, and the other request's answer is the key's.
	ErrKeyTaken = &Error{Code: EINFLIGHT, Message: "a request with this Idempotency-Key is running or was answered: retry in a moment"}
	// ErrStale is a versioned update (Lot.Version, ...) of a row that changed
	// since the version was read: nothing was written.
	ErrStale = &Error{Code: EPRECONDITION, Message: "it changed since it was read: read it again and retry"}
)

// ErrorCode returns the code of err: EINTERNAL for anything that is not an *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var v *ValidationError
	if errors.As(err, &v) {
		return EVALIDATION
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err; internal errors say only that.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	var v *ValidationError
	if errors.As(err, &v) {
		return "some fields are invalid: see fields"
	}
	return "internal error"
}
