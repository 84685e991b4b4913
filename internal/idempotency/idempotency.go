// Package idempotency keeps the Idempotency-Key records that make a POST safe
// to retry: the first request with a key claims it, its response is stored
// against it, and a retry gets that response again. The HTTP middleware
// (internal/httpapi) decides what a request and its response are; this
// package holds how long keys live and when an unanswered claim is abandoned.
package idempotency

import (
	"context"
	"errors"
	"time"

	"parkd/internal/parking"
)

const (
	// TTL is how long a key and its response are kept.
	TTL = 24 * time.Hour
	// Stale: a key still in flight after this was abandoned (its request died
	// with its process); requests time out long before.
	Stale = 2 * time.Minute
)

// Store is the idempotency part of parkd's storage.
type Store = parking.IdempotencyStore

// Service claims, completes and releases keys.
type Service struct {
	store Store
	clock parking.Clock
}

// New returns the service over store.
func New(store Store, clock parking.Clock) *Service {
	return &Service{store: store, clock: clock}
}

// Claim claims (user, key) for the request whose hash is hash, unless it is
// already claimed: then it returns the record as stored and false. The
// returned record's CreatedAt is the claim's time, which a hold completing
// the key in its own transaction names (parking.KeyCompletion.ClaimedAt).
func (s *Service) Claim(ctx context.Context, userID, key, hash string) (parking.IdempotencyKey, bool, error) {
	now := s.clock.Now()
	k := parking.IdempotencyKey{UserID: userID, Key: key, RequestHash: hash, CreatedAt: now, ExpiresAt: now.Add(TTL)}
	rec, claimed, err := s.store.ClaimIdempotencyKey(ctx, k, now.Add(-Stale))
	if claimed {
		rec.CreatedAt = now
	}
	return rec, claimed, err
}

// Lookup returns the record of (user, key) and whether it is live: answered,
// or in flight and not abandoned, and not expired. A lapsed record is as good
// as none. It only reads: a change that records its key itself (Record)
// writes nothing more.
func (s *Service) Lookup(ctx context.Context, userID, key string) (parking.IdempotencyKey, bool, error) {
	rec, err := s.store.IdempotencyKey(ctx, userID, key)
	if errors.Is(err, parking.ErrNotFound) {
		return rec, false, nil
	}
	now := s.clock.Now()
	live := rec.ExpiresAt.After(now) && (rec.StatusCode != 0 || !rec.CreatedAt.Before(now.Add(-Stale)))
	return rec, live, err
}

// Record returns what a hold needs to record (user, key) itself in its own
// transaction, completed with status and the response body renders, for the
// request whose hash is hash (parking.KeyRecord).
func (s *Service) Record(userID, key, hash string, status int, body func(parking.Reservation) ([]byte, error)) *parking.KeyCompletion {
	now := s.clock.Now()
	return &parking.KeyCompletion{UserID: userID, Key: key, ClaimedAt: now, Status: status, Record: &parking.KeyRecord{
		RequestHash: hash, ExpiresAt: now.Add(TTL), StaleBefore: now.Add(-Stale), Body: body,
	}}
}

// Complete stores the response of a claimed key.
func (s *Service) Complete(ctx context.Context, userID, key string, status int, body []byte) error {
	return s.store.CompleteIdempotencyKey(ctx, userID, key, status, body)
}

// Release forgets a claimed key whose request answered nothing durable, so
// that a retry runs afresh. A key a hold completed stays.
func (s *Service) Release(ctx context.Context, userID, key string) error {
	return s.store.ReleaseIdempotencyKey(ctx, userID, key)
}
