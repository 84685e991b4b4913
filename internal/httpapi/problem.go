package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"parkd/internal/auth"
	"parkd/internal/booking"
	"parkd/internal/parking"
	"parkd/internal/payments"
)

// statusOf maps each error code to its HTTP status; unknown codes are 500.
var statusOf = map[string]int{
	parking.EINVALID:             http.StatusBadRequest,
	EINVALIDTEXT:                 http.StatusBadRequest,
	parking.EUNAUTHORIZED:        http.StatusUnauthorized,
	parking.EFORBIDDEN:           http.StatusForbidden,
	parking.ENOTFOUND:            http.StatusNotFound,
	parking.ECONFLICT:            http.StatusConflict,
	parking.ESPOTUNAVAILABLE:     http.StatusConflict,
	parking.ENOSPOTAVAILABLE:     http.StatusConflict,
	parking.EHOLDEXPIRED:         http.StatusConflict,
	parking.ESTATUS:              http.StatusConflict,
	parking.ESPOTOUTOFSERVICE:    http.StatusConflict,
	parking.EINVALIDWINDOW:       http.StatusUnprocessableEntity,
	parking.EWINDOWINPAST:        http.StatusUnprocessableEntity,
	parking.EWINDOWTOOFAR:        http.StatusUnprocessableEntity,
	parking.ESTAYTOOLONG:         http.StatusUnprocessableEntity,
	parking.EVEHICLETOOLARGE:     http.StatusUnprocessableEntity,
	parking.EVALIDATION:          http.StatusUnprocessableEntity,
	parking.EEMAILTAKEN:          http.StatusConflict,
	parking.ETOOMANYREQUESTS:     http.StatusTooManyRequests,
	parking.EIDEMPOTENCY:         http.StatusUnprocessableEntity,
	parking.EINFLIGHT:            http.StatusConflict,
	parking.EPRECONDITION:        http.StatusPreconditionFailed,
	"idempotency_key_required":   http.StatusBadRequest,
	"too_large":                  http.StatusRequestEntityTooLarge,
	"method_not_allowed":         http.StatusMethodNotAllowed,
	EUPGRADEREQUIRED:             http.StatusUpgradeRequired,
	"unavailable":                http.StatusServiceUnavailable,
	booking.ESPOTHASRESERVATIONS: http.StatusConflict,
	booking.ENOTEXTENDABLE:       http.StatusConflict,
	payments.EDECLINED:           http.StatusPaymentRequired,
	payments.EINPROGRESS:         http.StatusConflict,
	payments.EALREADYPAID:        http.StatusConflict,
	payments.EGATEWAY:            http.StatusServiceUnavailable,
	payments.EWEBHOOK:            http.StatusBadRequest,
	payments.EPAYMENTMETHOD:      http.StatusUnprocessableEntity,
	parking.ECARDNUMBER:          http.StatusUnprocessableEntity,
	parking.EINTERNAL:            http.StatusInternalServerError,
}

// Problem is an RFC 9457 problem detail with parkd's stable error code.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	Instance  string `json:"instance,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Fields lists each invalid field, for validation_failed.
	Fields []parking.FieldError `json:"fields,omitempty"`
}

// writeError answers with err as problem+json. Internal errors are logged with
// the request id and shown only as "internal error".
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var throttled *auth.TooManyAttempts
	if errors.As(err, &throttled) {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(throttled.RetryAfter.Seconds()))))
		writeProblem(w, r, http.StatusTooManyRequests, parking.ETOOMANYREQUESTS, throttled.Error())
		return
	}
	code := parking.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status == http.StatusInternalServerError {
		log.ErrorContext(r.Context(), "internal error", "err", err, "method", r.Method, "path", parking.RedactCardNumbers(r.URL.Path), "request_id", requestID(r.Context()))
	}
	p := newProblem(r, status, code, parking.ErrorMessage(err))
	var v *parking.ValidationError
	if errors.As(err, &v) {
		p.Fields = make([]parking.FieldError, len(v.Fields))
		for i, f := range v.Fields {
			p.Fields[i] = parking.FieldError{Field: parking.RedactCardNumbers(f.Field), Message: parking.RedactCardNumbers(f.Message)}
		}
	}
	sendProblem(w, p)
}

func newProblem(r *http.Request, status int, code, detail string) Problem {
	return Problem{
		Type: "urn:parkd:problem:" + code, Title: http.StatusText(status), Status: status,
		// A problem may quote what was sent ("unknown size \"...\""), and it
		// is stored for replays: never a card number.
		Detail: parking.RedactCardNumbers(detail), Code: code, Instance: parking.RedactCardNumbers(r.URL.Path), RequestID: requestID(r.Context()),
	}
}

func writeProblem(w http.ResponseWriter, r *http.Request, status int, code, detail string) {
	sendProblem(w, newProblem(r, status, code, detail))
}

func sendProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
