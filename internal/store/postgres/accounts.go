package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"parkd/internal/parking"
)

// CreateSession stores sess.
func (s *Store) CreateSession(ctx context.Context, sess *parking.Session) error {
	sess.CreatedAt, sess.ExpiresAt = utc(sess.CreatedAt), utc(sess.ExpiresAt)
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		sess.TokenHash, sess.UserID, sess.CreatedAt, sess.ExpiresAt)
	return classify(err, "session")
}

// Session returns the session with this token hash, expired or not: the caller
// judges expiry against its own clock.
func (s *Store) Session(ctx context.Context, tokenHash string) (parking.Session, error) {
	var sess parking.Session
	err := s.pool.QueryRow(ctx, `SELECT token_hash, user_id, created_at, expires_at FROM sessions WHERE token_hash = $1`, tokenHash).
		Scan(&sess.TokenHash, &sess.UserID, &sess.CreatedAt, &sess.ExpiresAt)
	sess.CreatedAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.ExpiresAt.UTC()
	return sess, classify(err, "session")
}

// DeleteSession forgets a session. Deleting one that is already gone is not an
// error: signing out twice must not fail.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
	return classify(err, "session")
}

// DeleteVehicle marks a vehicle removed rather than deleting its row, which the
// reservations made with it still name. A missing or already removed vehicle is
// ErrNotFound.
func (s *Store) DeleteVehicle(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE vehicles SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL`, id, utc(at))
	if err != nil {
		return classify(err, "vehicle")
	}
	if tag.RowsAffected() == 0 {
		return parking.Errorf(parking.ENOTFOUND, "vehicle not found")
	}
	return nil
}

// UpdateLot saves every field of l but its id, operator and creation time,
// over the version it names.
func (s *Store) UpdateLot(ctx context.Context, l *parking.Lot) error {
	policy, err := json.Marshal(l.Policy)
	if err != nil {
		return fmt.Errorf("lot %s: encode policy: %w", l.ID, err)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE lots SET name = $2, address = $3, lat = $4, lng = $5, time_zone = $6, currency = $7, policy = $8,
		no_show_after_us = $9, version = version + 1 WHERE id = $1 AND version = $10`,
		l.ID, l.Name, l.Address, l.Lat, l.Lng, l.TimeZone, l.Currency, policy, noShowAfter(l.Policy), l.Version)
	return s.updatedVersion(ctx, tag.RowsAffected(), err, "lots", l.ID, "lot", &l.Version)
}

// UpdateLevel saves a level's name, ordinal and plan size over its version;
// its lot stays.
func (s *Store) UpdateLevel(ctx context.Context, l *parking.Level) error {
	tag, err := s.pool.Exec(ctx, `UPDATE levels SET name = $2, ordinal = $3, width = $4, height = $5, version = version + 1
		WHERE id = $1 AND version = $6`,
		l.ID, l.Name, l.Ordinal, l.Width, l.Height, l.Version)
	return s.updatedVersion(ctx, tag.RowsAffected(), err, "levels", l.ID, "level", &l.Version)
}

// UpdateSpot saves a spot's label, size, position and amenities over its
// version. Its service state changes only through SetSpotInService, which
// records the event that change needs; a label taken in the lot is a conflict.
func (s *Store) UpdateSpot(ctx context.Context, sp *parking.Spot) error {
	tag, err := s.pool.Exec(ctx, `UPDATE spots SET label = $2, size = $3, lat = $4, lng = $5, x = $6, y = $7, amenities = $8,
			version = version + 1
		WHERE id = $1 AND version = $9`,
		sp.ID, sp.Label, int16(sp.Size), sp.Lat, sp.Lng, sp.X, sp.Y, nonNil(sp.Amenities), sp.Version)
	return s.updatedVersion(ctx, tag.RowsAffected(), err, "spots", sp.ID, "spot", &sp.Version)
}

// updatedVersion is the outcome of an UPDATE of one row of table by id and
// version: a driver error classified; when no row matched, ErrNotFound if none
// has the id, else ErrStale (the version check was the UPDATE's, this read
// only names the failure); on success *version moves on.
func (s *Store) updatedVersion(ctx context.Context, rows int64, err error, table, id, what string, version *int64) error {
	if err != nil {
		return classify(err, what)
	}
	if rows == 1 {
		*version++
		return nil
	}
	var one int
	if err := s.pool.QueryRow(ctx, `SELECT 1 FROM `+table+` WHERE id = $1`, id).Scan(&one); err != nil {
		return classify(err, what)
	}
	return parking.Errorf(parking.EPRECONDITION, "the %s changed since it was read", what)
}

// updated is the outcome of an UPDATE of one row by id: a driver error
// classified, or ErrNotFound when no row had the id.
func updated(rows int64, err error, what string) error {
	if err != nil {
		return classify(err, what)
	}
	if rows == 0 {
		return parking.Errorf(parking.ENOTFOUND, "%s not found", what)
	}
	return nil
}

// CreateGate stores g.
func (s *Store) CreateGate(ctx context.Context, g *parking.Gate) error {
	g.CreatedAt = utc(g.CreatedAt)
	_, err := s.pool.Exec(ctx, `INSERT INTO gates (id, lot_id, name, direction, key_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		g.ID, g.LotID, g.Name, string(g.Direction), g.KeyHash, g.CreatedAt)
	return classify(err, "gate")
}

const gateColumns = `id, lot_id, name, direction, key_hash, created_at`

func scanGate(row pgx.CollectableRow) (parking.Gate, error) {
	var g parking.Gate
	err := row.Scan(&g.ID, &g.LotID, &g.Name, &g.Direction, &g.KeyHash, &g.CreatedAt)
	g.CreatedAt = g.CreatedAt.UTC()
	return g, err
}

// Gates lists a lot's gates ordered by name.
func (s *Store) Gates(ctx context.Context, lotID string) ([]parking.Gate, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+gateColumns+` FROM gates WHERE lot_id = $1 ORDER BY name, id`, lotID)
	gs, err := pgx.CollectRows(rows, scanGate)
	return gs, classify(err, "gate")
}

// GateByKeyHash returns the gate whose API key hashes to keyHash.
func (s *Store) GateByKeyHash(ctx context.Context, keyHash string) (parking.Gate, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+gateColumns+` FROM gates WHERE key_hash = $1`, keyHash)
	g, err := pgx.CollectExactlyOneRow(rows, scanGate)
	return g, classify(err, "gate")
}

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
			request_hash = EXCLUDED.request_hash, status_code = NULL, response_body = NULL,
			created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
		WHERE (k.status_code IS NULL AND k.created_at < $6) OR k.expires_at <= EXCLUDED.created_at
		RETURNING request_hash, status_code, response_body, created_at, expires_at
	)
	SELECT request_hash, status_code, response_body, created_at, expires_at, true FROM claim
	UNION ALL
	SELECT request_hash, status_code, response_body, created_at, expires_at, false FROM idempotency_keys
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
		var claimed bool
		err := s.pool.QueryRow(ctx, claimKey, k.UserID, k.Key, k.RequestHash, k.CreatedAt, k.ExpiresAt, utc(staleBefore)).
			Scan(&got.RequestHash, &status, &got.Body, &got.CreatedAt, &got.ExpiresAt, &claimed)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return parking.IdempotencyKey{}, false, classify(err, "idempotency key")
		}
		if status != nil {
			got.StatusCode = int(*status)
		}
		got.CreatedAt, got.ExpiresAt = got.CreatedAt.UTC(), got.ExpiresAt.UTC()
		return got, claimed, nil
	}
	return parking.IdempotencyKey{}, false, fmt.Errorf("idempotency key %q: claim kept racing with other requests", k.Key)
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

// DeleteExpiredIdempotencyKeys forgets keys whose expiry is at or before now
// and returns how many.
func (s *Store) DeleteExpiredIdempotencyKeys(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE expires_at <= $1`, utc(now))
	return int(tag.RowsAffected()), classify(err, "idempotency key")
}
