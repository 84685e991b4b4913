package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

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

// RetryAfterSeconds is the Retry-After of every 503: about as long as a
// parkd instance's restart or a database failover takes, so that a client
// that waits this long and tries again usually succeeds.
const RetryAfterSeconds = 5

// unavailableKey is the context key of the test whether an error says the
// database cannot serve for now (Services.Unavailable).
type unavailableKey struct{}

// withUnavailable lets writeError, wherever it is called from, tell an error
// of a database that is unreachable, read-only or failing over (503 and
// Retry-After) from a bug (500). The test comes from the store's backend
// (its errors.go); nil recognises nothing.
func withUnavailable(unavailable func(error) bool, next http.Handler) http.Handler {
	if unavailable == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), unavailableKey{}, unavailable)))
	})
}

// databaseUnavailable reports whether err says the database cannot serve for now.
func databaseUnavailable(ctx context.Context, err error) bool {
	unavailable, _ := ctx.Value(unavailableKey{}).(func(error) bool)
	return unavailable != nil && unavailable(err)
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
	// Down lists the dependencies that do not answer, for /readyz's
	// unavailable: "database".
	Down []string `json:"down,omitempty"`
}

// StatusClientClosedRequest is the status logged for a request whose client
// went away before its answer was ready (nginx's 499).
const StatusClientClosedRequest = 499

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
	if code == parking.EINTERNAL && r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		// The client went away before its answer was ready: nothing broke,
		// and nobody reads an answer. 499 (nginx's "client closed request")
		// keeps the access log and the metrics honest.
		log.InfoContext(r.Context(), "client went away", "method", r.Method, "path", parking.RedactCardNumbers(r.URL.Path), "request_id", requestID(r.Context()))
		w.WriteHeader(StatusClientClosedRequest)
		return
	}
	if code == parking.EINTERNAL && databaseUnavailable(r.Context(), err) {
		log.WarnContext(r.Context(), "database unavailable", "err", err, "method", r.Method, "path", parking.RedactCardNumbers(r.URL.Path), "request_id", requestID(r.Context()))
		err = parking.Errorf(parking.EUNAVAILABLE, "the database is unavailable: try again shortly")
		code = parking.EUNAVAILABLE
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
	if p.Status == http.StatusServiceUnavailable && wantsPage(r) {
		sendUnavailablePage(w, p)
		return
	}
	sendProblem(w, p)
}

// wantsPage reports whether r is a browser's request for a web page rather
// than a call of the API: a page asks for HTML, and its path is not the API's.
func wantsPage(r *http.Request) bool {
	return !strings.HasPrefix(r.URL.Path, "/api/") && strings.Contains(r.Header.Get("Accept"), "text/html")
}

var unavailablePage = template.Must(template.New("503").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · parkd</title></head>
<body><main><h1>{{.Title}}</h1><p>{{.Detail}}</p><p>Please try again in a few seconds.</p></main></body></html>
`))

// sendUnavailablePage answers a browser's page request that failed with a
// 503 (the web package renders its own pages' errors; this is for those the
// middleware refuses, such as a session that cannot be looked up).
func sendUnavailablePage(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	w.WriteHeader(p.Status)
	unavailablePage.Execute(w, p)
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
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	}
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
