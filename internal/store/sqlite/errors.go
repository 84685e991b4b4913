package sqlite

import (
	"database/sql"
	"errors"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"parkd/internal/parking"
)

// uniqueMessages explains, by the columns SQLite names in a unique violation
// ("table.column, table.column", in the order of the key in the files under
// migrations/), which value is taken.
var uniqueMessages = map[string]string{
	"users.email":                               "email already registered",
	"spots.lot_id, spots.label":                 "a spot with that label already exists in this lot",
	"gates.key_hash":                            "a gate with that key already exists",
	"payments.reservation_id, payments.purpose": "a payment for this reservation is already pending or succeeded",
	"payments.refund_of":                        "a refund for this payment is already pending or succeeded",
	"payments.gateway_id, payments.gateway":     "a payment with that gateway id already exists",
	"payments.reservation_id":                   "another extension of this reservation is being paid for",
}

// foreignKeys says what a dangling reference means. SQLite does not name the
// foreign key that failed, so the table is keyed by the kind of row written
// (classify's what), for the kinds whose writers are about one parent: a
// missing parent that the request is about (the lot a level goes in) is
// not_found; a missing thing merely named in the body is invalid.
var foreignKeys = map[string]*parking.Error{
	"lot":     parking.Errorf(parking.EINVALID, "operator not found"),
	"level":   parking.Errorf(parking.ENOTFOUND, "lot not found"),
	"vehicle": parking.Errorf(parking.ENOTFOUND, "user not found"),
	"session": parking.Errorf(parking.ENOTFOUND, "user not found"),
	"gate":    parking.Errorf(parking.ENOTFOUND, "lot not found"),
	"refund":  parking.Errorf(parking.EINVALID, "refunded payment not found"),
}

// classify turns a driver error into a domain error by its SQLite extended
// result code, never by message text. what names the kind of row, for
// messages such as "lot not found". Errors it does not recognise are returned
// unchanged: they are internal.
//
// SQLite names the columns of a violated unique key only inside the message;
// classify reads them (uniqueColumns) to choose the wording of a conflict,
// never its code, and columns it does not know fall back to the general
// wording.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return parking.Errorf(parking.ENOTFOUND, "%s not found", what)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_TRIGGER:
		return parking.ErrSpotUnavailable
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		if msg, ok := uniqueMessages[uniqueColumns(se)]; ok {
			return parking.Errorf(parking.ECONFLICT, "%s", msg)
		}
		return parking.Errorf(parking.ECONFLICT, "%s already exists", what)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		if e, ok := foreignKeys[what]; ok {
			return parking.Errorf(e.Code, "%s", e.Message)
		}
		return parking.Errorf(parking.EINVALID, "%s refers to something that does not exist", what)
	case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		return parking.Errorf(parking.EINVALID, "%s has a missing or out-of-range value", what)
	}
	return err
}

// Unavailable reports whether err says that the database cannot serve parkd
// for now: another connection held the write lock past the busy timeout
// (SQLITE_BUSY, SQLITE_LOCKED and their extended codes). Such a request may
// succeed when repeated a little later, so it answers 503 with Retry-After,
// never 500.
// classify leaves such errors as they are, so that callers still see the
// driver's (and the context's) error; the HTTP layer asks Unavailable
// (httpapi.Services.Unavailable) whatever path the error took.
func Unavailable(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff { // the primary result code of an extended one
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// uniqueColumns finds the columns a unique violation names: its message reads
// "UNIQUE constraint failed: table.column, ..." and may go on after them in
// parentheses.
func uniqueColumns(se *sqlite.Error) string {
	msg := se.Error()
	i := strings.LastIndex(msg, "constraint failed: ")
	if i < 0 {
		return ""
	}
	cols, _, _ := strings.Cut(msg[i+len("constraint failed: "):], " (")
	return strings.TrimSpace(cols)
}
