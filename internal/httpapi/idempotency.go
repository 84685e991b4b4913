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

	"parkd/internal/parking"
)

const (
	// IdempotencyTTL is how long a key and its response are kept.
	IdempotencyTTL = 24 * time.Hour
	// idempotencyStale: a key still in flight after this was abandoned (its
	// request died with its process); requests time out long before.
	idempotencyStale = 2 * time.Minute
	maxKeyLen        = 255
	anonymousKeyUser = "anonymous"
)

// idempotencyScope is what a handler needs to complete its request's key in its
// own transaction; the middleware then leaves the key alone.
type idempotencyScope struct {
	userID, key string
	completed   bool
}

type idempotencyKey struct{}

// keyCompletion returns a completion for the request's idempotency key whose
// response render makes, or nil when the request carries no key. The handler
// must then write exactly the bytes render made.
func keyCompletion(r *http.Request, render func(parking.Reservation) (int, []byte, error)) *parking.KeyCompletion {
	scope, ok := r.Context().Value(idempotencyKey{}).(*idempotencyScope)
	if !ok {
		return nil
	}
	return &parking.KeyCompletion{UserID: scope.userID, Key: scope.key, Render: func(res parking.Reservation) (int, []byte, error) {
		status, body, err := render(res)
		scope.completed = err == nil
		return status, body, err
	}}
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
// When required, a request without a key is refused with 400.
func withIdempotency(log *slog.Logger, store parking.IdempotencyStore, clock parking.Clock, required bool, next http.Handler) http.Handler {
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
		now := clock.Now()
		rec, claimed, err := store.ClaimIdempotencyKey(r.Context(), parking.IdempotencyKey{
			UserID: userID, Key: key, RequestHash: hash, CreatedAt: now, ExpiresAt: now.Add(IdempotencyTTL),
		}, now.Add(-idempotencyStale))
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
			default:
				replay(w, rec)
			}
			return
		}

		scope := &idempotencyScope{userID: userID, key: key}
		out := &recorder{ResponseWriter: w}
		next.ServeHTTP(out, r.WithContext(context.WithValue(r.Context(), idempotencyKey{}, scope)))

		// The client may be gone; the key must still be settled.
		ctx := context.WithoutCancel(r.Context())
		switch {
		case out.status == 0 || out.status >= 500:
			// Nothing durable was answered: let a retry run afresh. Release
			// forgets only a key still in flight, so a key the handler's own
			// transaction completed (and then failed to answer) stays.
			if err := store.ReleaseIdempotencyKey(ctx, userID, key); err != nil {
				log.ErrorContext(ctx, "release idempotency key", "err", err, "request_id", requestID(ctx))
			}
		case scope.completed:
		default:
			if err := store.CompleteIdempotencyKey(ctx, userID, key, out.status, out.body.Bytes()); err != nil && !errors.Is(err, parking.ErrNotFound) {
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
