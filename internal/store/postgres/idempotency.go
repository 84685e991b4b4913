package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"parkd/internal/parking"
)

// claimKey claims an idempotency key in one statement. The upsert inserts an
// absent key, or takes over one whose request was abandoned (in flight and
// created before $6) or whose expiry has passed by the new claim; the row it
// returns is the claim. Otherwise the ON CONFLICT clause updates nothing and
// returns nothing, and the second branch returns the record as it stands.
//
// That branch reads the statement's snapshot, which can miss a row committed
// while the statement ran (the upsert waits for it; the snapshot predates it).
// The statement then returns no row at all, and ClaimIdempotencyKey repeats
// it with a fresh snapshot.
const claimKey = `WITH claim AS (
		INSERT INTO idempotency_keys AS k (user_id, key, request_hash, status_code, response_body, created_at, expires_at)
		VALUES ($1, $2, $3, NULL, NULL, $4, $5)
		ON CONFLICT (user_id, key) DO UPDATE SET
			request_hash = EXCLUDED.request_hash, status_code = NULL, response_body = NULL, reservation_id = NULL,
			created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
		WHERE (k.status_code IS NULL AND k.created_at < $6) OR k.expires_at <= EXCLUDED.created_at
		RETURNING request_hash, status_code, response_body, reservation_id, created_at, expires_at
	)
	SELECT request_hash, status_code, response_body, reservation_id, created_at, expires_at, true FROM claim
	UNION ALL
	SELECT request_hash, status_code, response_body, reservation_id, created_at, expires_at, false FROM idempotency_keys
	WHERE user_id = $1 AND key = $2 AND NOT EXISTS (SELECT 1 FROM claim)`

// ClaimIdempotencyKey records k as in flight unless (user, key) is already
// recorded, and returns the record as stored and whether this call claimed it.
// An in-flight record created before staleBefore was abandoned, and a record
// whose expiry has passed by k.CreatedAt is as good as gone: both are claimed
// anew.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, k parking.IdempotencyKey, staleBefore time.Time) (parking.IdempotencyKey, bool, error) {
	k.CreatedAt, k.ExpiresAt = utc(k.CreatedAt), utc(k.ExpiresAt)
	// Each miss means a concurrent claim committed during the statement, and
	// the next run sees it; a few runs are plenty unless the key is being
	// claimed and released in a tight loop.
	for range 5 {
		got := parking.IdempotencyKey{UserID: k.UserID, Key: k.Key}
		var status *int32
		var reservation *string
		var claimed bool
		err := s.pool.QueryRow(ctx, claimKey, k.UserID, k.Key, k.RequestHash, k.CreatedAt, k.ExpiresAt, utc(staleBefore)).
			Scan(&got.RequestHash, &status, &got.Body, &reservation, &got.CreatedAt, &got.ExpiresAt, &claimed)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return parking.IdempotencyKey{}, false, classify(err, "idempotency key")
		}
		if status != nil {
			got.StatusCode = int(*status)
		}
		got.ReservationID = deref(reservation)
		got.CreatedAt, got.ExpiresAt = got.CreatedAt.UTC(), got.ExpiresAt.UTC()
		if !claimed && got.StatusCode != 0 {
			if err := s.durable(ctx); err != nil {
				return parking.IdempotencyKey{}, false, classify(err, "idempotency key")
			}
		}
		return got, claimed, nil
	}
	return parking.IdempotencyKey{}, false, fmt.Errorf("idempotency key %q: claim kept racing with other requests", k.Key)
}

// IdempotencyKey returns the record of (user, key) as stored.
func (s *Store) IdempotencyKey(ctx context.Context, userID, key string) (parking.IdempotencyKey, error) {
	got := parking.IdempotencyKey{UserID: userID, Key: key}
	var status *int32
	var reservation *string
	err := s.pool.QueryRow(ctx, `SELECT request_hash, status_code, response_body, reservation_id, created_at, expires_at
		FROM idempotency_keys WHERE user_id = $1 AND key = $2`, userID, key).
		Scan(&got.RequestHash, &status, &got.Body, &reservation, &got.CreatedAt, &got.ExpiresAt)
	if status != nil {
		got.StatusCode = int(*status)
	}
	got.ReservationID = deref(reservation)
	got.CreatedAt, got.ExpiresAt = got.CreatedAt.UTC(), got.ExpiresAt.UTC()
	return got, classify(err, "idempotency key")
}

// CompleteIdempotencyKey stores the response of a claimed key. A key that is
// not recorded (released, or swept after expiry) is ErrNotFound.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, userID, key string, status int, body []byte) error {
	tag, err := s.pool.Exec(ctx, `UPDATE idempotency_keys SET status_code = $3, response_body = $4 WHERE user_id = $1 AND key = $2`,
		userID, key, status, body)
	return updated(tag.RowsAffected(), err, "idempotency key")
}

// ReleaseIdempotencyKey forgets a claimed key whose request failed, so a retry
// can claim it. A completed key is left alone, so its response is still
// replayed, and a key already gone is not an error.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, userID, key string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status_code IS NULL`, userID, key)
	return classify(err, "idempotency key")
}

// durable returns once everything committed so far is as durable as a
// commit of parkd's own: on a cluster with synchronous replication, once a
// standby has it. It commits a transaction that writes nothing but its commit
// record, which waits for the standby like any other.
//
// A replayed response needs it. A commit whose wait for the standby was cut
// short (the connection broke, and the driver's cancel request ended the
// wait) is committed on the primary alone: its request answered 503, and the
// client's retry finds the key completed. Replaying that record before a
// standby has it would acknowledge a booking that a failover could still
// lose.
func (s *Store) durable(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `SELECT pg_current_xact_id()`)
	return err
}
