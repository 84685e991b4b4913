package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"parkd/internal/parking"
)

func scanKey(row interface{ Scan(...any) error }) (parking.IdempotencyKey, error) {
	var k parking.IdempotencyKey
	var status sql.NullInt64
	var reservation sql.NullString
	var created, expires int64
	err := row.Scan(&k.UserID, &k.Key, &k.RequestHash, &status, &k.Body, &reservation, &created, &expires)
	k.StatusCode, k.ReservationID = int(status.Int64), reservation.String
	k.CreatedAt, k.ExpiresAt = fromMicros(created), fromMicros(expires)
	return k, err
}

// ClaimIdempotencyKey records k as in flight unless it is already recorded.
// Inside the single writer's transaction the read and the write cannot be raced.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, k parking.IdempotencyKey, staleBefore time.Time) (parking.IdempotencyKey, bool, error) {
	var got parking.IdempotencyKey
	claimed := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		got, err = scanKey(tx.QueryRowContext(ctx, `SELECT user_id, key, request_hash, status_code, response_body, reservation_id, created_at, expires_at
			FROM idempotency_keys WHERE user_id = ? AND key = ?`, k.UserID, k.Key))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case got.ExpiresAt.After(k.CreatedAt) && (got.StatusCode != 0 || !got.CreatedAt.Before(staleBefore)):
			return nil // live: completed, or in flight and not abandoned
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, response_body, created_at, expires_at)
			VALUES (?, ?, ?, NULL, NULL, ?, ?)
			ON CONFLICT (user_id, key) DO UPDATE SET request_hash = excluded.request_hash, status_code = NULL,
				response_body = NULL, reservation_id = NULL, created_at = excluded.created_at, expires_at = excluded.expires_at`,
			k.UserID, k.Key, k.RequestHash, micros(k.CreatedAt), micros(k.ExpiresAt))
		got, claimed = k, err == nil
		got.StatusCode, got.Body = 0, nil
		return err
	})
	return got, claimed, err
}

// CompleteIdempotencyKey stores the response of a claimed key.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, userID, key string, status int, body []byte) error {
	res, err := s.write.ExecContext(ctx, `UPDATE idempotency_keys SET status_code = ?, response_body = ? WHERE user_id = ? AND key = ?`,
		status, body, userID, key)
	return affectedOne(res, err, "idempotency key")
}

// completeKeyWith completes key with the reservation id inside a hold's
// transaction, if it is still the caller's claim and in flight; otherwise it
// is ErrNotFound and the caller rolls the hold back.
func completeKeyWith(ctx context.Context, tx *sql.Tx, key *parking.KeyCompletion, reservationID string) error {
	res, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET status_code = ?, reservation_id = ?
		WHERE user_id = ? AND key = ? AND created_at = ? AND status_code IS NULL`,
		key.Status, reservationID, key.UserID, key.Key, micros(key.ClaimedAt))
	return affectedOne(res, err, "idempotency key")
}

// ReleaseIdempotencyKey forgets a key still in flight.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, userID, key string) error {
	_, err := s.write.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND status_code IS NULL`, userID, key)
	return err
}
