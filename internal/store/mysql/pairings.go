package mysql

import (
	"context"
	"database/sql"
	"time"

	"parkd/internal/parking"
)

// CreateGatePairing stores p.
func (s *Store) CreateGatePairing(ctx context.Context, p *parking.GatePairing) error {
	_, err := s.exec(ctx, `INSERT INTO gate_pairings (token_hash, gate_id, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`, p.TokenHash, p.GateID, p.CreatedBy, ts(p.CreatedAt), ts(p.ExpiresAt))
	return classify(err, "gate pairing")
}

// GatePairing finds a pairing by its token's hash.
func (s *Store) GatePairing(ctx context.Context, tokenHash string) (parking.GatePairing, error) {
	var p parking.GatePairing
	var used sql.NullTime
	err := s.db.QueryRowContext(ctx, `SELECT token_hash, gate_id, created_by, created_at, expires_at, used_at
		FROM gate_pairings WHERE token_hash = ?`, tokenHash).Scan(&p.TokenHash, &p.GateID, &p.CreatedBy, &p.CreatedAt, &p.ExpiresAt, &used)
	if err != nil {
		return parking.GatePairing{}, classify(err, "gate pairing")
	}
	p.CreatedAt, p.ExpiresAt = p.CreatedAt.UTC(), p.ExpiresAt.UTC()
	if used.Valid {
		p.UsedAt = used.Time.UTC()
	}
	return p, nil
}

// UseGatePairing marks an unused, unexpired pairing used.
func (s *Store) UseGatePairing(ctx context.Context, tokenHash string, at time.Time) error {
	res, err := s.exec(ctx, `UPDATE gate_pairings SET used_at = ?
		WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?`, ts(at), tokenHash, ts(at))
	if err != nil {
		return classify(err, "gate pairing")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return parking.Errorf(parking.ECONFLICT, "pairing link already used or expired")
	}
	return nil
}
