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
	"time"

	"parkd/internal/booking"
	"parkd/internal/idempotency"
	"parkd/internal/parking"
)

const (
	maxKeyLen        = 255
	anonymousKeyUser = "anonymous"
)

// idempotencyScope is the request's claim of its idempotency key, for a
// handler whose change completes the key in its own transaction.
type idempotencyScope struct {
	userID, key string
	claimedAt   time.Time
}

type idempotencyKey struct{}

// keyCompletion returns the completion of the request's idempotency key with
// status, for a hold to make in its transaction, or nil when the request
// carries no key. The handler then answers status with the reservation the
// hold returned, rendered by encodeBody: a retry that finds no stored body
// renders the same reservation the same way (see replayHold).
func keyCompletion(r *http.Request, status int) *parking.KeyCompletion {
	scope, ok := r.Context().Value(idempotencyKey{}).(*idempotencyScope)
	if !ok {
		return nil
	}
	return &parking.KeyCompletion{UserID: scope.userID, Key: scope.key, ClaimedAt: scope.claimedAt, Status: status}
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
// When required, a request without a key is refused with 400. A hold completes
// its key in its own transaction (keyCompletion), and bookings reads the
// reservation back for a retry that finds no response stored.
func withIdempotency(log *slog.Logger, keys *idempotency.Service, bookings *booking.Service, required bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			if required {
				writeProblem(w, r, parking.EKEYREQUIRED,
					"this request changes money or bookings: send an Idempotency-Key header (a random UUID) and reuse it on retries")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if len(key) > maxKeyLen {
			writeError(w, r, log, parking.Errorf(parking.EINVALID, "Idempotency-Key must be at most %d characters", maxKeyLen))
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			writeError(w, r, log, decodeError(err))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))

		// Keys are scoped to who sends them: a user, a gate device, or (without
		// either) the client's address, so one caller's key never replays to another.
		userID := anonymousKeyUser + ":" + clientAddress(r)
		if u, ok := currentUser(r); ok {
			userID = u.ID
		} else if g, ok := currentGate(r); ok {
			userID = "gate:" + g.ID
		}
		hash := requestHash(r.Method, r.URL.RequestURI(), string(body))
		rec, claimed, err := keys.Claim(r.Context(), userID, key, hash)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if !claimed {
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
			return
		}

		scope := &idempotencyScope{userID: userID, key: key, claimedAt: rec.CreatedAt}
		out := &recorder{ResponseWriter: w}
		next.ServeHTTP(out, r.WithContext(context.WithValue(r.Context(), idempotencyKey{}, scope)))

		// The client may be gone; the key must still be settled.
		ctx := context.WithoutCancel(r.Context())
		switch {
		case out.status == 0 || out.status >= 500:
			// Nothing durable was answered: let a retry run afresh. Release
			// forgets only a key still in flight, so a key the handler's own
			// transaction completed (and then failed to answer) stays.
			if err := keys.Release(ctx, userID, key); err != nil {
				log.ErrorContext(ctx, "release idempotency key", "err", err, "request_id", requestID(ctx))
			}
		default:
			// A key a hold completed gets its body here, beside the
			// reservation's id, so that retries replay these very bytes
			// even once the reservation has moved on.
			if err := keys.Complete(ctx, userID, key, out.status, out.body.Bytes()); err != nil && !errors.Is(err, parking.ErrNotFound) {
				log.ErrorContext(ctx, "complete idempotency key", "err", err, "request_id", requestID(ctx))
			}
		}
	})
}

// requestHash identifies a request: its method, path with query, and body.
func requestHash(method, uri, body string) string {
	sum := sha256.Sum256([]byte(method + " " + uri + "\n" + body))
	return hex.EncodeToString(sum[:])
}

// replayHold answers a retry of a hold whose key holds the reservation's id
// but no response: the request that made the hold died, or failed to store
// its response, after the hold committed. The reservation is rendered as the
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
