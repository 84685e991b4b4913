package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"parkd/internal/parking"
)

// This file holds the idempotency keys of requests that must not run twice.

// ClaimIdempotencyKey records k as in flight unless (user, key) is already
// recorded, and returns the record as stored and whether this call claimed it.
// An in-flight record created before staleBefore was abandoned, and a record
// whose expiry has passed by k.CreatedAt is as good as gone: both are claimed
// anew.
//
// The key's row is read and locked; a claim that finds no row inserts one.
// Two claims of an absent key both insert: the second waits on the first's
// row and, once the first commits, fails on the primary key, and runs again
// to find the first's record.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, k parking.IdempotencyKey, staleBefore time.Time) (parking.IdempotencyKey, bool, error) {
	k.CreatedAt, k.ExpiresAt = utc(k.CreatedAt), utc(k.ExpiresAt)
	for range 5 {
		var got parking.IdempotencyKey
		claimed := false
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var status sql.NullInt64
			var reservation sql.NullString
			got, claimed = parking.IdempotencyKey{UserID: k.UserID, Key: k.Key}, false
			err := tx.QueryRowContext(ctx, "SELECT request_hash, status_code, response_body, reservation_id, created_at, expires_at FROM idempotency_keys WHERE user_id = ? AND `key` = ? FOR UPDATE",
				k.UserID, k.Key).Scan(&got.RequestHash, &status, &got.Body, &reservation, &got.CreatedAt, &got.ExpiresAt)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				_, err = tx.ExecContext(ctx, "INSERT INTO idempotency_keys (user_id, `key`, request_hash, status_code, response_body, created_at, expires_at) VALUES (?, ?, ?, NULL, NULL, ?, ?)",
					k.UserID, k.Key, k.RequestHash, ts(k.CreatedAt), ts(k.ExpiresAt))
			case err != nil:
				return err
			case got.ExpiresAt.After(k.CreatedAt) && (status.Valid || !got.CreatedAt.Before(utc(staleBefore))):
				got.StatusCode, got.ReservationID = int(status.Int64), reservation.String
				got.CreatedAt, got.ExpiresAt = got.CreatedAt.UTC(), got.ExpiresAt.UTC()
				return nil // live: completed, or in flight and not abandoned
			default:
				_, err = tx.ExecContext(ctx, "UPDATE idempotency_keys SET request_hash = ?, status_code = NULL, response_body = NULL, reservation_id = NULL, created_at = ?, expires_at = ? WHERE user_id = ? AND `key` = ?",
					k.RequestHash, ts(k.CreatedAt), ts(k.ExpiresAt), k.UserID, k.Key)
			}
			if err != nil {
				return err
			}
			got, claimed = k, true
			got.StatusCode, got.Body = 0, nil
			return nil
		})
		if isDuplicate(err, "PRIMARY") {
			continue
		}
		if err != nil {
			return parking.IdempotencyKey{}, false, classify(err, "idempotency key")
		}
		return got, claimed, nil
	}
	return parking.IdempotencyKey{}, false, fmt.Errorf("idempotency key %q: claim kept racing with other requests", k.Key)
}

// IdempotencyKey returns the record of (user, key) as stored.
func (s *Store) IdempotencyKey(ctx context.Context, userID, key string) (parking.IdempotencyKey, error) {
	got := parking.IdempotencyKey{UserID: userID, Key: key}
	var status sql.NullInt64
	var reservation sql.NullString
	err := s.db.QueryRowContext(ctx, "SELECT request_hash, status_code, response_body, reservation_id, created_at, expires_at FROM idempotency_keys WHERE user_id = ? AND `key` = ?",
		userID, key).Scan(&got.RequestHash, &status, &got.Body, &reservation, &got.CreatedAt, &got.ExpiresAt)
	got.StatusCode, got.ReservationID = int(status.Int64), reservation.String
	got.CreatedAt, got.ExpiresAt = got.CreatedAt.UTC(), got.ExpiresAt.UTC()
	return got, classify(err, "idempotency key")
}

// CompleteIdempotencyKey stores the response of a claimed key. A key that is
// not recorded (released, or swept after expiry) is ErrNotFound.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, userID, key string, status int, body []byte) error {
	res, err := s.exec(ctx, "UPDATE idempotency_keys SET status_code = ?, response_body = ? WHERE user_id = ? AND `key` = ?",
		status, body, userID, key)
	return updated(res, err, "idempotency key")
}

// recordKeyWith records key, completed with r's id and the response
// key.Record.Body renders of r, inside the transaction that holds r (see
// parking.KeyRecord). The INSERT comes first: a racing request's record,
// committed or not, makes it wait and then fail on the primary key, and only
// then is the record read (locked) to tell a live one, ErrKeyTaken (the
// caller rolls the hold back), from a lapsed one, which is replaced.
func recordKeyWith(ctx context.Context, tx *sql.Tx, key *parking.KeyCompletion, r parking.Reservation) error {
	body, err := key.Record.Body(r)
	if err != nil {
		return err
	}
	claimed, expires := utc(key.ClaimedAt), utc(key.Record.ExpiresAt)
	_, err = tx.ExecContext(ctx, "INSERT INTO idempotency_keys (user_id, `key`, request_hash, status_code, response_body, reservation_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		key.UserID, key.Key, key.Record.RequestHash, key.Status, body, r.ID, ts(claimed), ts(expires))
	if !isDuplicate(err, "PRIMARY") {
		return err
	}
	var status sql.NullInt64
	var created, expiry time.Time
	err = tx.QueryRowContext(ctx, "SELECT status_code, created_at, expires_at FROM idempotency_keys WHERE user_id = ? AND `key` = ? FOR UPDATE",
		key.UserID, key.Key).Scan(&status, &created, &expiry)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return parking.ErrKeyTaken // released meanwhile: a retry runs afresh
	case err != nil:
		return err
	case expiry.After(claimed) && (status.Valid || !created.Before(utc(key.Record.StaleBefore))):
		return parking.ErrKeyTaken
	}
	_, err = tx.ExecContext(ctx, "UPDATE idempotency_keys SET request_hash = ?, status_code = ?, response_body = ?, reservation_id = ?, created_at = ?, expires_at = ? WHERE user_id = ? AND `key` = ?",
		key.Record.RequestHash, key.Status, body, r.ID, ts(claimed), ts(expires), key.UserID, key.Key)
	return err
}

// ReleaseIdempotencyKey forgets a claimed key whose request failed, so a retry
// can claim it. A completed key is left alone, so its response is still
// replayed, and a key already gone is not an error.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, userID, key string) error {
	_, err := s.exec(ctx, "DELETE FROM idempotency_keys WHERE user_id = ? AND `key` = ? AND status_code IS NULL", userID, key)
	return classify(err, "idempotency key")
}
