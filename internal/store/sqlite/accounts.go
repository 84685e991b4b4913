package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"parkd/internal/parking"
)

// CreateSession stores a session.
func (s *Store) CreateSession(ctx context.Context, sess *parking.Session) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		sess.TokenHash, sess.UserID, micros(sess.CreatedAt), micros(sess.ExpiresAt))
	return classify(err, "session")
}

// Session returns the session with this token hash.
func (s *Store) Session(ctx context.Context, tokenHash string) (parking.Session, error) {
	var sess parking.Session
	var created, expires int64
	err := s.read.QueryRowContext(ctx, `SELECT token_hash, user_id, created_at, expires_at FROM sessions WHERE token_hash = ?`, tokenHash).
		Scan(&sess.TokenHash, &sess.UserID, &created, &expires)
	sess.CreatedAt, sess.ExpiresAt = fromMicros(created), fromMicros(expires)
	return sess, classify(err, "session")
}

// DeleteSession forgets a session; forgetting one twice is fine.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := s.write.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
	return err
}

// DeleteVehicle removes a vehicle from its owner's list.
func (s *Store) DeleteVehicle(ctx context.Context, id string, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE vehicles SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL`, micros(at), id)
	return affectedOne(res, err, "vehicle")
}

// affectedOne turns "no row changed" into ErrNotFound.
func affectedOne(res sql.Result, err error, what string) error {
	if err != nil {
		return classify(err, what)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return parking.Errorf(parking.ENOTFOUND, "%s not found", what)
	}
	return nil
}

// UpdateLot saves a lot's editable fields over the version it names.
func (s *Store) UpdateLot(ctx context.Context, l *parking.Lot) error {
	policy, err := json.Marshal(l.Policy)
	if err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx, `UPDATE lots SET name = ?, address = ?, lat = ?, lng = ?, time_zone = ?, currency = ?, policy = ?,
		no_show_after_us = ?, version = version + 1 WHERE id = ? AND version = ?`,
		l.Name, l.Address, l.Lat, l.Lng, l.TimeZone, l.Currency, string(policy), noShowAfter(l.Policy), l.ID, l.Version)
	return s.updatedVersion(ctx, res, err, "lots", l.ID, "lot", &l.Version)
}

// UpdateLevel saves a level's name, ordinal and plan size over its version.
func (s *Store) UpdateLevel(ctx context.Context, l *parking.Level) error {
	res, err := s.write.ExecContext(ctx, `UPDATE levels SET name = ?, ordinal = ?, width = ?, height = ?, version = version + 1
		WHERE id = ? AND version = ?`,
		l.Name, l.Ordinal, l.Width, l.Height, l.ID, l.Version)
	return s.updatedVersion(ctx, res, err, "levels", l.ID, "level", &l.Version)
}

// UpdateSpot saves a spot's label, size, position and amenities over its version.
func (s *Store) UpdateSpot(ctx context.Context, sp *parking.Spot) error {
	amenities, err := json.Marshal(nonNil(sp.Amenities))
	if err != nil {
		return err
	}
	res, err := s.write.ExecContext(ctx, `UPDATE spots SET label = ?, size = ?, lat = ?, lng = ?, x = ?, y = ?, amenities = ?, version = version + 1
		WHERE id = ? AND version = ?`,
		sp.Label, sp.Size, sp.Lat, sp.Lng, sp.X, sp.Y, string(amenities), sp.ID, sp.Version)
	return s.updatedVersion(ctx, res, err, "spots", sp.ID, "spot "+sp.Label, &sp.Version)
}

// updatedVersion is the outcome of an UPDATE of one row of table by id and
// version: a driver error classified; when no row matched, ErrNotFound if none
// has the id, else ErrStale (the version check was the UPDATE's, this read
// only names the failure); on success *version moves on.
func (s *Store) updatedVersion(ctx context.Context, res sql.Result, err error, table, id, what string, version *int64) error {
	if err != nil {
		return classify(err, what)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 1 {
		*version++
		return nil
	}
	var one int
	if err := s.write.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE id = ?`, id).Scan(&one); err != nil {
		return classify(err, what)
	}
	return parking.Errorf(parking.EPRECONDITION, "the %s changed since it was read", what)
}

// CreateGate stores a gate device.
func (s *Store) CreateGate(ctx context.Context, g *parking.Gate) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO gates (id, lot_id, name, direction, key_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		g.ID, g.LotID, g.Name, g.Direction, g.KeyHash, micros(g.CreatedAt))
	return classify(err, "gate")
}

func scanGate(row interface{ Scan(...any) error }) (parking.Gate, error) {
	var g parking.Gate
	var created int64
	err := row.Scan(&g.ID, &g.LotID, &g.Name, &g.Direction, &g.KeyHash, &created)
	g.CreatedAt = fromMicros(created)
	return g, err
}

// Gates lists a lot's gates by name.
func (s *Store) Gates(ctx context.Context, lotID string) ([]parking.Gate, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, lot_id, name, direction, key_hash, created_at FROM gates WHERE lot_id = ? ORDER BY name, id`, lotID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	gates := []parking.Gate{}
	for rows.Next() {
		g, err := scanGate(rows)
		if err != nil {
			return nil, err
		}
		gates = append(gates, g)
	}
	return gates, rows.Err()
}

// GateByKeyHash finds the gate a device key belongs to.
func (s *Store) GateByKeyHash(ctx context.Context, keyHash string) (parking.Gate, error) {
	g, err := scanGate(s.read.QueryRowContext(ctx, `SELECT id, lot_id, name, direction, key_hash, created_at FROM gates WHERE key_hash = ?`, keyHash))
	return g, classify(err, "gate")
}

func scanKey(row interface{ Scan(...any) error }) (parking.IdempotencyKey, error) {
	var k parking.IdempotencyKey
	var status sql.NullInt64
	var created, expires int64
	err := row.Scan(&k.UserID, &k.Key, &k.RequestHash, &status, &k.Body, &created, &expires)
	k.StatusCode, k.CreatedAt, k.ExpiresAt = int(status.Int64), fromMicros(created), fromMicros(expires)
	return k, err
}

// ClaimIdempotencyKey records k as in flight unless it is already recorded.
// Inside the single writer's transaction the read and the write cannot be raced.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, k parking.IdempotencyKey, staleBefore time.Time) (parking.IdempotencyKey, bool, error) {
	var got parking.IdempotencyKey
	claimed := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		got, err = scanKey(tx.QueryRowContext(ctx, `SELECT user_id, key, request_hash, status_code, response_body, created_at, expires_at
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
				response_body = NULL, created_at = excluded.created_at, expires_at = excluded.expires_at`,
			k.UserID, k.Key, k.RequestHash, micros(k.CreatedAt), micros(k.ExpiresAt))
		got, claimed = k, err == nil
		got.StatusCode, got.Body = 0, nil
		return err
	})
	return got, claimed, err
}

// CompleteIdempotencyKey stores the response of a claimed key.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, userID, key string, status int, body []byte) error {
	return completeKey(ctx, s.write, userID, key, status, body)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func completeKey(ctx context.Context, db execer, userID, key string, status int, body []byte) error {
	res, err := db.ExecContext(ctx, `UPDATE idempotency_keys SET status_code = ?, response_body = ? WHERE user_id = ? AND key = ?`,
		status, body, userID, key)
	return affectedOne(res, err, "idempotency key")
}

// ReleaseIdempotencyKey forgets a key still in flight.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, userID, key string) error {
	_, err := s.write.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE user_id = ? AND key = ? AND status_code IS NULL`, userID, key)
	return err
}

// DeleteExpiredIdempotencyKeys forgets keys whose expiry has passed.
func (s *Store) DeleteExpiredIdempotencyKeys(ctx context.Context, now time.Time) (int, error) {
	res, err := s.write.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE expires_at <= ?`, micros(now))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
