package sqlite

import (
	"context"
	"database/sql"
	"time"

	"parkd/internal/parking"
)

// CreateGatePairing stores p.
func (s *Store) CreateGatePairing(ctx context.Context, p *parking.GatePairing) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO gate_pairings (token_hash, gate_id, created_by, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`, p.TokenHash, p.GateID, p.CreatedBy, micros(p.CreatedAt), micros(p.ExpiresAt))
	return classify(err, "gate pairing")
}

// GatePairing finds a pairing by its token's hash.
func (s *Store) GatePairing(ctx context.Context, tokenHash string) (parking.GatePairing, error) {
	var p parking.GatePairing
	var created, expires int64
	var used sql.NullInt64
	err := s.read.QueryRowContext(ctx, `SELECT token_hash, gate_id, created_by, created_at, expires_at, used_at
		FROM gate_pairings WHERE token_hash = ?`, tokenHash).Scan(&p.TokenHash, &p.GateID, &p.CreatedBy, &created, &expires, &used)
	if err != nil {
		return parking.GatePairing{}, classify(err, "gate pairing")
	}
	p.CreatedAt, p.ExpiresAt = fromMicros(created), fromMicros(expires)
	if used.Valid {
		p.UsedAt = fromMicros(used.Int64)
	}
	return p, nil
}

// UseGatePairing marks an unused, unexpired pairing used.
func (s *Store) UseGatePairing(ctx context.Context, tokenHash string, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE gate_pairings SET used_at = ?
		WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?`, micros(at), tokenHash, micros(at))
	if err != nil {
		return classify(err, "gate pairing")
	}
	return claimed(res)
}

// claimed is the outcome of a conditional UPDATE of one row: none is a
// conflict (someone else got there first, or it lapsed).
func claimed(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return parking.Errorf(parking.ECONFLICT, "pairing link already used or expired")
	}
	return nil
}
