package postgres

import (
	"context"
	"time"

	"parkd/internal/parking"
)

// CreateGatePairing stores p.
func (s *Store) CreateGatePairing(ctx context.Context, p *parking.GatePairing) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO gate_pairings (token_hash, gate_id, created_by, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, p.TokenHash, p.GateID, p.CreatedBy, utc(p.CreatedAt), utc(p.ExpiresAt))
	return classify(err, "gate pairing")
}

// GatePairing finds a pairing by its token's hash.
func (s *Store) GatePairing(ctx context.Context, tokenHash string) (parking.GatePairing, error) {
	var p parking.GatePairing
	var used *time.Time
	err := s.pool.QueryRow(ctx, `SELECT token_hash, gate_id, created_by, created_at, expires_at, used_at
		FROM gate_pairings WHERE token_hash = $1`, tokenHash).Scan(&p.TokenHash, &p.GateID, &p.CreatedBy, &p.CreatedAt, &p.ExpiresAt, &used)
	if err != nil {
		return parking.GatePairing{}, classify(err, "gate pairing")
	}
	p.CreatedAt, p.ExpiresAt = p.CreatedAt.UTC(), p.ExpiresAt.UTC()
	if used != nil {
		p.UsedAt = used.UTC()
	}
	return p, nil
}

// UseGatePairing marks an unused, unexpired pairing used.
func (s *Store) UseGatePairing(ctx context.Context, tokenHash string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE gate_pairings SET used_at = $1
		WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1`, utc(at), tokenHash)
	if err != nil {
		return classify(err, "gate pairing")
	}
	if tag.RowsAffected() == 0 {
		return parking.Errorf(parking.ECONFLICT, "pairing link already used or expired")
	}
	return nil
}
