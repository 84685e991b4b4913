package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"parkd/internal/auth"
	"parkd/internal/parking"
)

// statusOf maps every error code (internal/parking/errors.go) to its HTTP
// status; a problem's title is the status's text. An error without a code
// here is a bug: it answers 500 and is logged.
var statusOf = map[string]int{
	parking.EINVALID:             http.StatusBadRequest,
	parking.EINVALIDTEXT:         http.StatusBadRequest,
	parking.EKEYREQUIRED:         http.StatusBadRequest,
	parking.EWEBHOOK:             http.StatusBadRequest,
	parking.EUNAUTHORIZED:        http.StatusUnauthorized,
	parking.EDECLINED:            http.StatusPaymentRequired,
	parking.EFORBIDDEN:           http.StatusForbidden,
	parking.ECROSSORIGIN:         http.StatusForbidden,
	parking.ENOTFOUND:            http.StatusNotFound,
	parking.EMETHOD:              http.StatusMethodNotAllowed,
	parking.ECONFLICT:            http.StatusConflict,
	parking.ESPOTUNAVAILABLE:     http.StatusConflict,
	parking.ENOSPOTAVAILABLE:     http.StatusConflict,
	parking.EHOLDEXPIRED:         http.StatusConflict,
	parking.ESTATUS:              http.StatusConflict,
	parking.ESPOTOUTOFSERVICE:    http.StatusConflict,
	parking.EEMAILTAKEN:          http.StatusConflict,
	parking.EINFLIGHT:            http.StatusConflict,
	parking.ESPOTHASRESERVATIONS: http.StatusConflict,
	parking.ENOTEXTENDABLE:       http.StatusConflict,
	parking.ELOTFULL:             http.StatusConflict,
	parking.EINPROGRESS:          http.StatusConflict,
	parking.EALREADYPAID:         http.StatusConflict,
	parking.EPRECONDITION:        http.StatusPreconditionFailed,
	parking.ETOOLARGE:            http.StatusRequestEntityTooLarge,
	parking.EINVALIDWINDOW:       http.StatusUnprocessableEntity,
	parking.EWINDOWINPAST:        http.StatusUnprocessableEntity,
	parking.EWINDOWTOOFAR:        http.StatusUnprocessableEntity,
	parking.ESTAYTOOLONG:         http.StatusUnprocessableEntity,
	parking.EVEHICLETOOLARGE:     http.StatusUnprocessableEntity,
	parking.EVALIDATION:          http.StatusUnprocessableEntity,
	parking.EIDEMPOTENCY:         http.StatusUnprocessableEntity,
	parking.EPAYMENTMETHOD:       http.StatusUnprocessableEntity,
	parking.ECARDNUMBER:          http.StatusUnprocessableEntity,
	parking.EUPGRADEREQUIRED:     http.StatusUpgradeRequired,
	parking.ETOOMANYREQUESTS:     http.StatusTooManyRequests,
	parking.EINTERNAL:            http.StatusInternalServerError,
	parking.EUNAVAILABLE:         http.StatusServiceUnavailable,
	parking.EGATEWAY:             http.StatusServiceUnavailable,
}

// handlerFunc is a handler that returns its error instead of writing it;
// handle writes it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts h to an http.Handler that answers h's error, if any, as
// problem+json (writeError). h must not have written anything when it
// returns an error.
func handle(log *slog.Logger, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeError(w, r, log, err)
		}
	})
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
		writeProblem(w, r, parking.ETOOMANYREQUESTS, throttled.Error())
		return
	}
	code := parking.ErrorCode(err)
	if _, ok := statusOf[code]; !ok {
		code = parking.EINTERNAL // a bug: no code means no promise to the client
	}
	if code == parking.EINTERNAL {
		log.ErrorContext(r.Context(), "internal error", "err", err, "method", r.Method, "path", parking.RedactCardNumbers(r.URL.Path), "request_id", requestID(r.Context()))
	}
	p := newProblem(r, code, parking.ErrorMessage(err))
	var v *parking.ValidationError
	if errors.As(err, &v) {
		p.Fields = make([]parking.FieldError, len(v.Fields))
		for i, f := range v.Fields {
			p.Fields[i] = parking.FieldError{Field: parking.RedactCardNumbers(f.Field), Message: parking.RedactCardNumbers(f.Message)}
		}
	}
	sendProblem(w, p)
}

// newProblem is the problem of code, with its status from statusOf.
func newProblem(r *http.Request, code, detail string) Problem {
	status, ok := statusOf[code]
	if !ok {
		panic("httpapi: error code " + code + " is not in statusOf")
	}
	return Problem{
		Type: "urn:parkd:problem:" + code, Title: http.StatusText(status), Status: status,
		// A problem may quote what was sent ("unknown size \"...\""), and it
		// is stored for replays: never a card number.
		Detail: parking.RedactCardNumbers(detail), Code: code, Instance: parking.RedactCardNumbers(r.URL.Path), RequestID: requestID(r.Context()),
	}
}

func writeProblem(w http.ResponseWriter, r *http.Request, code, detail string) {
	sendProblem(w, newProblem(r, code, detail))
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
