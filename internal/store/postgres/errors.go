package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"parkd/internal/parking"
)

// SQLSTATE codes parkd reacts to; see
// https://www.postgresql.org/docs/current/errcodes-appendix.html.
const (
	codeStringTooLong        = "22001"
	codeBadEncoding          = "22021" // character_not_in_repertoire: a NUL or invalid UTF-8
	codeUntranslatable       = "22P05" // untranslatable_character: \u0000 in jsonb
	codeNotNullViolation     = "23502"
	codeForeignKeyViolation  = "23503"
	codeUniqueViolation      = "23505"
	codeCheckViolation       = "23514"
	codeExclusionViolation   = "23P01"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeReadOnly             = "25006" // read_only_sql_transaction: a standby, or default_transaction_read_only
	codeTooManyConnections   = "53300"
	codeAdminShutdown        = "57P01" // the server is stopping, or pg_terminate_backend
	codeCrashShutdown        = "57P02"
	codeCannotConnectNow     = "57P03" // the database system is starting up or shutting down
	classConnection          = "08"    // connection_exception and its subclasses
)

// uniqueMessages explains, by constraint name, which value is taken. The names
// are the ones PostgreSQL gives the constraints in the files under migrations/.
var uniqueMessages = map[string]string{
	"users_email_key":        "email already registered",
	"spots_lot_id_label_key": "a spot with that label already exists in this lot",
	"gates_key_hash_key":     "a gate with that key already exists",
	// Unique indexes report their own name as the constraint.
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

// classify turns a driver error into a domain error by its SQLSTATE (and, to
// say which value clashed, its constraint name), never by message text. what
// names the kind of row, for messages such as "lot not found". Errors it does
// not recognise are returned unchanged: they are internal.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return parking.Errorf(parking.ENOTFOUND, "%s not found", what)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case codeExclusionViolation:
		return parking.ErrSpotUnavailable
	case codeUniqueViolation:
		if msg, ok := uniqueMessages[pe.ConstraintName]; ok {
			return parking.Errorf(parking.ECONFLICT, "%s", msg)
		}
		return parking.Errorf(parking.ECONFLICT, "%s already exists", what)
	case codeForeignKeyViolation:
		if e, ok := foreignKeys[pe.ConstraintName]; ok {
			return parking.Errorf(e.Code, "%s", e.Message)
		}
		return parking.Errorf(parking.EINVALID, "%s refers to something that does not exist", what)
	case codeBadEncoding, codeUntranslatable:
		// The HTTP layer refuses such text first; a store never answers 500 for it.
		return parking.Errorf(parking.EINVALID, "%s: the text holds a character the database cannot store", what)
	case codeCheckViolation, codeNotNullViolation, codeStringTooLong:
		return parking.Errorf(parking.EINVALID, "%s has a missing or out-of-range value", what)
	}
	return err
}

// Unavailable reports whether err says that the database cannot serve parkd
// for now, rather than that parkd asked something wrong: it cannot be reached
// (refused, reset, timed out), it is shutting down or starting up (a restart
// or a failover), or it is read-only (a standby). Such a request may succeed
// when repeated a little later, so it answers 503 with Retry-After, never 500.
// It goes by SQLSTATE and by the driver's and the network's error types.
// classify leaves such errors as they are, so that callers still see the
// driver's (and the context's) error; the HTTP layer asks Unavailable
// (httpapi.Services.Unavailable) whatever path the error took.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrNoSyncStandby) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeReadOnly, codeTooManyConnections, codeAdminShutdown, codeCrashShutdown, codeCannotConnectNow:
			return true
		}
		return strings.HasPrefix(pe.Code, classConnection)
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// retry runs fn again when PostgreSQL aborted it to break a deadlock or a
// serialization conflict; such a transaction did nothing and may simply be
// repeated. Any other outcome is returned at once.
func retry(ctx context.Context, fn func() error) error {
	const attempts = 5
	var err error
	for i := range attempts {
		if err = fn(); !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(i+1) * 5 * time.Millisecond):
		}
	}
	return err
}

func transient(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeDeadlockDetected || pe.Code == codeSerializationFailure)
}
