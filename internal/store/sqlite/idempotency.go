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

// IdempotencyKey returns the record of (user, key) as stored.
func (s *Store) IdempotencyKey(ctx context.Context, userID, key string) (parking.IdempotencyKey, error) {
	k, err := scanKey(s.read.QueryRowContext(ctx, `SELECT user_id, key, request_hash, status_code, response_body, reservation_id, created_at, expires_at
		FROM idempotency_keys WHERE user_id = ? AND key = ?`, userID, key))
	return k, classify(err, "idempotency key")
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

// recordKeyWith records key, completed with r's id and the response
// key.Record.Body renders of r, inside the transaction that holds r (see
// parking.KeyRecord). A live record of the key is ErrKeyTaken and the caller
// rolls the hold back; a lapsed one is replaced.
func recordKeyWith(ctx context.Context, tx *sql.Tx, key *parking.KeyCompletion, r parking.Reservation) error {
	var status sql.NullInt64
	var created, expires int64
	err := tx.QueryRowContext(ctx, `SELECT status_code, created_at, expires_at FROM idempotency_keys WHERE user_id = ? AND key = ?`,
		key.UserID, key.Key).Scan(&status, &created, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	case fromMicros(expires).After(key.ClaimedAt) && (status.Valid || !fromMicros(created).Before(key.Record.StaleBefore)):
		return parking.ErrKeyTaken
	}
	body, err := key.Record.Body(r)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, response_body, reservation_id, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, key) DO UPDATE SET request_hash = excluded.request_hash, status_code = excluded.status_code,
			response_body = excluded.response_body, reservation_id = excluded.reservation_id,
			created_at = excluded.created_at, expires_at = excluded.expires_at`,
		key.UserID, key.Key, key.Record.RequestHash, key.Status, body, r.ID, micros(key.ClaimedAt), micros(key.Record.ExpiresAt))
	return err
}

// ReleaseIdempotencyKey forgets a key still in flight.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, userID, key string) error {
	_, err := s.write.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND status_code IS NULL`, userID, key)
	return err
}
