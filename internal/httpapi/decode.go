package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"parkd/internal/parking"
)

// MaxBodyBytes is the largest request body parkd reads.
const MaxBodyBytes = 1 << 20

// errTooLarge answers 413.
var errTooLarge = parking.Errorf(parking.ETOOLARGE, "the request body is larger than 1 MiB")

// decode reads one JSON object from the request body into v. Unknown fields,
// trailing data, wrong types and bodies over 1 MiB are refused with a message
// that says which.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errTooLarge
		}
		return parking.Errorf(parking.EINVALID, "the request body must hold one JSON object and nothing after it")
	}
	return nil // text it may not hold, card numbers included, was refused at the edge (withTextCheck)
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooLarge *http.MaxBytesError
	var domain *parking.Error
	switch {
	case errors.As(err, &tooLarge):
		return errTooLarge
	case errors.Is(err, io.EOF):
		return parking.Errorf(parking.EINVALID, "the request body is empty: send a JSON object")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return parking.Errorf(parking.EINVALID, "the request body is not valid JSON")
	case errors.As(err, &typ):
		return parking.Errorf(parking.EINVALID, "field %q must be a JSON %s", typ.Field, typ.Type.Kind())
	case errors.As(err, &domain):
		return domain
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return parking.Errorf(parking.EINVALID, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	// Time and other text fields report their own parse errors.
	return parking.Errorf(parking.EINVALID, "the request body is invalid: %s", strings.TrimPrefix(fmt.Sprint(err), "json: "))
}
