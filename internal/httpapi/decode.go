package httpapi

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"parkd/internal/parking"
)

// MaxBodyBytes is the largest request body parkd reads.
const MaxBodyBytes = 1 << 20

// errTooLarge answers 413.
var errTooLarge = parking.Errorf("too_large", "the request body is larger than 1 MiB")

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
	if field := cardField(reflect.ValueOf(v), ""); field != "" {
		return parking.Errorf(parking.ECARDNUMBER, "%s looks like a card number: parkd never takes card numbers; "+
			"send the payment method token your card form returned (such as pm_...)", field)
	}
	return nil
}

// cardField returns the name of the first text field of v (as the JSON
// names it, under prefix) that holds a card number, or "". No field of any
// request may hold one, but a password (only ever hashed): it would be
// stored, logged or shown back. Numbers are not text: a coordinate's many
// decimals are no card number.
func cardField(v reflect.Value, prefix string) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return cardField(v.Elem(), prefix)
		}
	case reflect.String:
		if parking.FindCardNumber(v.String()) != "" {
			return cmp.Or(prefix, "the body")
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() && !f.Anonymous {
				continue // an embedded struct's fields are the body's, even when its type is unexported
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || name == "password" {
				continue // a password is only ever hashed: it may be any text
			}
			if f.Anonymous && name == "" {
				name = prefix
			} else {
				name = joinField(prefix, cmp.Or(name, f.Name))
			}
			if found := cardField(v.Field(i), name); found != "" {
				return found
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if found := cardField(v.Index(i), fmt.Sprintf("%s[%d]", prefix, i)); found != "" {
				return found
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			if k := iter.Key(); k.Kind() == reflect.String && parking.FindCardNumber(k.String()) != "" {
				return cmp.Or(prefix, "the body") + " (a key)"
			}
			if found := cardField(iter.Value(), joinField(prefix, fmt.Sprint(iter.Key()))); found != "" {
				return found
			}
		}
	}
	return ""
}

func joinField(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
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
