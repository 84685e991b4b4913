package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"parkd/internal/parking"
)

// Server error numbers parkd reacts to; see
// https://mariadb.com/kb/en/mariadb-error-code-reference/ and
// https://dev.mysql.com/doc/mysql-errors/8.0/en/server-error-reference.html.
const (
	errDuplicateEntry        = 1062 // ER_DUP_ENTRY
	errNoReferencedRow       = 1452 // ER_NO_REFERENCED_ROW_2: a foreign key's parent is missing
	errNoReferencedRowOld    = 1216 // ER_NO_REFERENCED_ROW
	errRowIsReferenced       = 1451 // ER_ROW_IS_REFERENCED_2
	errCheckMySQL            = 3819 // ER_CHECK_CONSTRAINT_VIOLATED (MySQL)
	errCheckMariaDB          = 4025 // ER_CONSTRAINT_FAILED (MariaDB)
	errBadNull               = 1048 // ER_BAD_NULL_ERROR
	errDataTooLong           = 1406 // ER_DATA_TOO_LONG
	errOutOfRange            = 1264 // ER_WARN_DATA_OUT_OF_RANGE
	errTruncated             = 1265 // WARN_DATA_TRUNCATED
	errIncorrectValue        = 1366 // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: also "Incorrect string value", invalid UTF-8
	errInvalidCharacters     = 1300 // ER_INVALID_CHARACTER_STRING
	errIncorrectDatetime     = 1292 // ER_TRUNCATED_WRONG_VALUE
	errLockWaitTimeout       = 1205 // ER_LOCK_WAIT_TIMEOUT
	errDeadlock              = 1213 // ER_LOCK_DEADLOCK
	errUnknownSystemVariable = 1193 // ER_UNKNOWN_SYSTEM_VARIABLE
	errSignal                = 1644 // ER_SIGNAL_EXCEPTION: a trigger refused the change
	errOptionPrevents        = 1290 // ER_OPTION_PREVENTS_STATEMENT: --read-only
	errReadOnlyMode          = 1836 // ER_READ_ONLY_MODE
	errReadOnlyTransaction   = 1792 // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
	errTooManyConnections    = 1040 // ER_CON_COUNT_ERROR
	errServerShutdown        = 1053 // ER_SERVER_SHUTDOWN
	errConnectionKilled      = 1927 // ER_CONNECTION_KILLED (MariaDB)
)

// uniqueMessages explains, by unique key name, which value is taken. The names
// are the ones given to the keys in the files under migrations/.
var uniqueMessages = map[string]string{
	"users_email":                    "email already registered",
	"spots_lot_label":                "a spot with that label already exists in this lot",
	"gates_key_hash":                 "a gate with that key already exists",
	"payments_one_live_charge":       "a payment for this reservation is already pending or succeeded",
	"payments_one_live_refund":       "a refund for this payment is already pending or succeeded",
	"payments_gateway_id":            "a payment with that gateway id already exists",
	"payments_one_pending_extension": "another extension of this reservation is being paid for",
}

// foreignKeys says, by constraint name, what a dangling reference means. A
// missing parent that the request is about (the lot a level goes in) is
// not_found; a missing thing merely named in the body is invalid.
var foreignKeys = map[string]*parking.Error{
	"lots_operator_id_fkey":           parking.Errorf(parking.EINVALID, "operator not found"),
	"levels_lot_id_fkey":              parking.Errorf(parking.ENOTFOUND, "lot not found"),
	"spots_lot_id_fkey":               parking.Errorf(parking.ENOTFOUND, "lot not found"),
	"spots_level_id_fkey":             parking.Errorf(parking.EINVALID, "level not found"),
	"users_operator_id_fkey":          parking.Errorf(parking.EINVALID, "operator not found"),
	"vehicles_user_id_fkey":           parking.Errorf(parking.ENOTFOUND, "user not found"),
	"reservations_user_id_fkey":       parking.Errorf(parking.ENOTFOUND, "user not found"),
	"reservations_vehicle_id_fkey":    parking.Errorf(parking.EINVALID, "vehicle not found"),
	"reservations_lot_id_fkey":        parking.Errorf(parking.ENOTFOUND, "lot not found"),
	"reservations_spot_id_fkey":       parking.Errorf(parking.EINVALID, "spot not found"),
	"payments_reservation_id_fkey":    parking.Errorf(parking.ENOTFOUND, "reservation not found"),
	"payments_user_id_fkey":           parking.Errorf(parking.EINVALID, "user not found"),
	"payments_refund_of_fkey":         parking.Errorf(parking.EINVALID, "refunded payment not found"),
	"gate_events_lot_id_fkey":         parking.Errorf(parking.ENOTFOUND, "lot not found"),
	"gate_events_reservation_id_fkey": parking.Errorf(parking.EINVALID, "reservation not found"),
	"sessions_user_id_fkey":           parking.Errorf(parking.ENOTFOUND, "user not found"),
	"gates_lot_id_fkey":               parking.Errorf(parking.ENOTFOUND, "lot not found"),
}

// classify turns a driver error into a domain error by its error number, never
// by message text. what names the kind of row, for messages such as "lot not
// found". Errors it does not recognise are returned unchanged: they are
// internal.
//
// Unlike PostgreSQL, MySQL reports the key or constraint that was violated only
// inside the message; classify reads that name (constraintName) to choose the
// wording of a conflict, never its code, and a name it does not find falls back
// to the general wording.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return parking.Errorf(parking.ENOTFOUND, "%s not found", what)
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return err
	}
	switch me.Number {
	case errDuplicateEntry:
		if msg, ok := uniqueMessages[constraintName(me)]; ok {
			return parking.Errorf(parking.ECONFLICT, "%s", msg)
		}
		return parking.Errorf(parking.ECONFLICT, "%s already exists", what)
	case errNoReferencedRow, errNoReferencedRowOld:
		if e, ok := foreignKeys[constraintName(me)]; ok {
			return parking.Errorf(e.Code, "%s", e.Message)
		}
		return parking.Errorf(parking.EINVALID, "%s refers to something that does not exist", what)
	case errCheckMySQL, errCheckMariaDB, errBadNull, errDataTooLong, errOutOfRange, errTruncated, errIncorrectValue, errIncorrectDatetime, errInvalidCharacters:
		return parking.Errorf(parking.EINVALID, "%s has a missing or out-of-range value", what)
	}
	return err
}

// Unavailable reports whether err says that the database cannot serve parkd
// for now, rather than that parkd asked something wrong: it cannot be reached
// (refused, reset, timed out, the connection lost), it is shutting down, or it
// is read-only (a replica, or read_only set during a switchover). Such a
// request may succeed when repeated a little later, so it answers 503 with
// Retry-After, never 500. It goes by error number and by the driver's and the
// network's error types.
// classify leaves such errors as they are, so that callers still see the
// driver's (and the context's) error; the HTTP layer asks Unavailable
// (httpapi.Services.Unavailable) whatever path the error took.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case errOptionPrevents, errReadOnlyMode, errReadOnlyTransaction, errTooManyConnections, errServerShutdown, errConnectionKilled:
			return true
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// constraintName finds the key or constraint a violation names. Duplicate
// entries end "for key 'name'" (MySQL 8: 'table.name'); a missing parent says
// "CONSTRAINT `name` FOREIGN KEY".
func constraintName(me *mysql.MySQLError) string {
	msg := me.Message
	switch me.Number {
	case errDuplicateEntry:
		i := strings.LastIndex(msg, " for key '")
		if i < 0 {
			return ""
		}
		name := strings.TrimSuffix(msg[i+len(" for key '"):], "'")
		if j := strings.LastIndexByte(name, '.'); j >= 0 {
			name = name[j+1:]
		}
		return name
	case errNoReferencedRow, errNoReferencedRowOld:
		_, rest, ok := strings.Cut(msg, "CONSTRAINT `")
		if !ok {
			return ""
		}
		name, _, _ := strings.Cut(rest, "`")
		return name
	}
	return ""
}

// isDuplicate reports whether err is a duplicate entry for the unique key key.
func isDuplicate(err error, key string) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == errDuplicateEntry && constraintName(me) == key
}

// retry runs fn again when the server aborted it to break a deadlock, or gave
// up waiting for a lock: such a transaction did nothing (fn rolls it back
// whole) and may simply be repeated. Any other outcome is returned at once.
// InnoDB picks deadlock victims at once, so under heavy contention a
// transaction can lose several times; the attempts back off a little each
// time so that the racers spread out.
func retry(ctx context.Context, fn func() error) error {
	const attempts = 10
	var err error
	for i := range attempts {
		if err = fn(); !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(i+1) * 2 * time.Millisecond):
		}
	}
	return err
}

func transient(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == errDeadlock || me.Number == errLockWaitTimeout)
}
