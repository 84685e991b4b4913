package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"parkd/internal/booking"
	"parkd/internal/idempotency"
	"parkd/internal/parking"
)

const (
	maxKeyLen        = 255
	anonymousKeyUser = "anonymous"
)

// idempotencyScope is the request's idempotency key, for a hold that
// records the key itself in its own transaction (see withHoldIdempotency).
type idempotencyScope struct {
	keys              *idempotency.Service
	userID, key, hash string
	// body is the response the hold rendered last, and recorded with the
	// key if the hold went in.
	body []byte
	// settled: the key holds this request's answer, or the handler answered
	// with the key's; the middleware stores nothing.
	settled bool
	// answer answers with the key's record, if it is live, and reports
	// whether it did.
	answer func(w http.ResponseWriter, r *http.Request) bool
}

type idempotencyKey struct{}

// keyRecord returns what a hold needs to record the request's idempotency key
// with status in its own transaction, or nil when the request carries no key.
// The response is rendered by encodeBody, for each spot the hold tries; the
// handler answers with the last rendering (heldBody).
func keyRecord(r *http.Request, status int) *parking.KeyCompletion {
	scope, ok := r.Context().Value(idempotencyKey{}).(*idempotencyScope)
	if !ok {
		return nil
	}
	return scope.keys.Record(scope.userID, scope.key, scope.hash, status, func(res parking.Reservation) ([]byte, error) {
		body, err := encodeBody(res)
		scope.body = body
		return body, err
	})
}

// heldBody returns the response a hold recorded with the request's key, byte
// for byte, and marks the key settled; without a key, res rendered.
func heldBody(r *http.Request, res parking.Reservation) ([]byte, error) {
	scope, ok := r.Context().Value(idempotencyKey{}).(*idempotencyScope)
	if !ok || scope.body == nil {
		return encodeBody(res)
	}
	scope.settled = true
	return scope.body, nil
}

// answerRecordedKey answers a hold that failed with the answer recorded with
// the request's key meanwhile, when there is one: another request with the
// same key got in first (the hold's err is then parking.ErrKeyTaken, or the
// spot that request took). It reports whether it answered.
func answerRecordedKey(w http.ResponseWriter, r *http.Request) bool {
	scope, ok := r.Context().Value(idempotencyKey{}).(*idempotencyScope)
	if !ok || !scope.answer(w, r) {
		return false
	}
	scope.settled = true
	return true
}

// recorder keeps a copy of what a handler answers.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	rec.body.Write(b)
	return rec.ResponseWriter.Write(b)
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// withIdempotency makes a POST safe to retry. With an Idempotency-Key header, the
// first request runs and its response is stored; a retry with the same key and
// body gets that response again, byte for byte, marked Idempotent-Replayed; the
// same key with another body is 422; a retry while the first still runs is 409.
// Keys are the caller's own: one user's key never reaches another's response.
// When required, a request without a key is refused with 400. The key is
// claimed (one commit) before the handler runs and completed (another) after.
func withIdempotency(log *slog.Logger, keys *idempotency.Service, bookings *booking.Service, required bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		userID, key, hash, ok := readKey(w, r, log, required)
		if !ok {
			return
		}
		if key == "" {
			next.ServeHTTP(w, r)
			return
		}
		rec, claimed, err := keys.Claim(r.Context(), userID, key, hash)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if !claimed {
			answerKey(w, r, log, keys, bookings, rec, hash)
			return
		}
		out := &recorder{ResponseWriter: w}
		next.ServeHTTP(out, r)
		settleKey(r.Context(), log, keys, userID, key, out)
	})
}

// withHoldIdempotency is withIdempotency (the key required) for a hold,
// which records its key itself in its own transaction (keyRecord): the key,
// completed with the response's bytes, commits with the reservation and its
// event, so that a hold costs one commit. Before the handler runs the key
// is only read: a live record is answered as withIdempotency answers it.
// Two requests with one key that both find none race inside the store, and
// only one records it; the other holds nothing and answers with the
// winner's record (answerRecordedKey). A hold that fails records nothing,
// and its answer (4xx) is then stored as withIdempotency stores it.
func withHoldIdempotency(log *slog.Logger, keys *idempotency.Service, bookings *booking.Service, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		userID, key, hash, ok := readKey(w, r, log, true)
		if !ok {
			return
		}
		lookup := func(w http.ResponseWriter, r *http.Request) bool {
			rec, live, err := keys.Lookup(r.Context(), userID, key)
			switch {
			case err != nil:
				writeError(w, r, log, err)
			case live:
				answerKey(w, r, log, keys, bookings, rec, hash)
			}
			return err != nil || live
		}
		if lookup(w, r) {
			return
		}
		scope := &idempotencyScope{keys: keys, userID: userID, key: key, hash: hash, answer: lookup}
		out := &recorder{ResponseWriter: w}
		next.ServeHTTP(out, r.WithContext(context.WithValue(r.Context(), idempotencyKey{}, scope)))
		if scope.settled {
			return
		}
		// The hold did not go in: store its answer as a claim would.
		ctx := context.WithoutCancel(r.Context())
		if out.status == 0 || out.status >= 500 {
			return
		}
		if _, claimed, err := keys.Claim(ctx, userID, key, hash); err != nil || !claimed {
			if err != nil {
				log.ErrorContext(ctx, "claim idempotency key", "err", err, "request_id", requestID(ctx))
			}
			return
		}
		settleKey(ctx, log, keys, userID, key, out)
	})
}

// readKey reads the request's Idempotency-Key and body (put back for the
// handler), and returns who the key belongs to and the request's hash. It
// answers and reports false when the request cannot go on; key is empty when
// the request has none and none is required.
func readKey(w http.ResponseWriter, r *http.Request, log *slog.Logger, required bool) (userID, key, hash string, ok bool) {
	key = r.Header.Get("Idempotency-Key")
	if key == "" {
		if required {
			writeProblem(w, r, parking.EKEYREQUIRED,
				"this request changes money or bookings: send an Idempotency-Key header (a random UUID) and reuse it on retries")
			return "", "", "", false
		}
		return "", "", "", true
	}
	if len(key) > maxKeyLen {
		writeError(w, r, log, parking.Errorf(parking.EINVALID, "Idempotency-Key must be at most %d characters", maxKeyLen))
		return "", "", "", false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		writeError(w, r, log, decodeError(err))
		return "", "", "", false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))

	// Keys are scoped to who sends them: a user, a gate device, or (without
	// either) the client's address, so one caller's key never replays to another.
	userID = anonymousKeyUser + ":" + clientAddress(r)
	if u, ok := currentUser(r); ok {
		userID = u.ID
	} else if g, ok := currentGate(r); ok {
		userID = "gate:" + g.ID
	}
	return userID, key, requestHash(r.Method, r.URL.RequestURI(), string(body)), true
}

// answerKey answers a request whose key is recorded already, live: 422 for
// another request, 409 while the first still runs, else the first answer.
func answerKey(w http.ResponseWriter, r *http.Request, log *slog.Logger, keys *idempotency.Service, bookings *booking.Service, rec parking.IdempotencyKey, hash string) {
	switch {
	case rec.RequestHash != hash:
		writeError(w, r, log, parking.Errorf(parking.EIDEMPOTENCY, "this Idempotency-Key was used for a different request: use a new key for a new request"))
	case rec.StatusCode == 0:
		writeError(w, r, log, parking.Errorf(parking.EINFLIGHT, "a request with this Idempotency-Key is still running: retry in a moment"))
	case len(rec.Body) == 0 && rec.ReservationID != "":
		replayHold(w, r, log, keys, bookings, rec)
	default:
		replay(w, rec)
	}
}

// settleKey settles a key the request claimed, once it has answered out.
func settleKey(ctx context.Context, log *slog.Logger, keys *idempotency.Service, userID, key string, out *recorder) {
	// The client may be gone; the key must still be settled.
	ctx = context.WithoutCancel(ctx)
	switch {
	case out.status == 0 || out.status >= 500:
		// Nothing durable was answered: let a retry run afresh. Release
		// forgets only a key still in flight.
		if err := keys.Release(ctx, userID, key); err != nil {
			log.ErrorContext(ctx, "release idempotency key", "err", err, "request_id", requestID(ctx))
		}
	default:
		if err := keys.Complete(ctx, userID, key, out.status, out.body.Bytes()); err != nil && !errors.Is(err, parking.ErrNotFound) {
			log.ErrorContext(ctx, "complete idempotency key", "err", err, "request_id", requestID(ctx))
		}
	}
}

// requestHash identifies a request: its method, path with query, and body.
func requestHash(method, uri, body string) string {
	sum := sha256.Sum256([]byte(method + " " + uri + "\n" + body))
	return hex.EncodeToString(sum[:])
}

// replayHold answers a retry of a hold whose key holds the reservation's id
// but no response: a key completed by a hold before holds recorded their
// response with the key (parking.KeyRecord), whose request died, or failed
// to store its response, after the hold committed. The reservation is rendered as the
// hold's handler renders it, and stored as the key's response, so later
// retries get these bytes whatever becomes of the reservation.
func replayHold(w http.ResponseWriter, r *http.Request, log *slog.Logger, keys *idempotency.Service, bookings *booking.Service, k parking.IdempotencyKey) {
	res, err := bookings.Reservation(r.Context(), k.ReservationID)
	if err == nil {
		k.Body, err = encodeBody(res)
	}
	if err != nil {
		writeError(w, r, log, err)
		return
	}
	ctx := context.WithoutCancel(r.Context())
	if err := keys.Complete(ctx, k.UserID, k.Key, k.StatusCode, k.Body); err != nil {
		log.ErrorContext(ctx, "complete idempotency key", "err", err, "request_id", requestID(ctx))
	}
	replay(w, k)
}

// replay answers with a stored response.
func replay(w http.ResponseWriter, k parking.IdempotencyKey) {
	contentType := "application/json"
	if k.StatusCode >= 400 {
		contentType = "application/problem+json"
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Idempotent-Replayed", "true")
	w.WriteHeader(k.StatusCode)
	w.Write(k.Body)
}
