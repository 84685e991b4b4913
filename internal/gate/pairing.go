package gate

import (
	"context"
	"errors"
	"net/url"
	"time"

	"parkd/internal/auth"
	"parkd/internal/parking"
	"parkd/internal/pass"
)

// PairingTTL is how long a kiosk pairing link works: long enough to walk to
// the kiosk, short enough that a link left in a chat is soon worthless.
const PairingTTL = 15 * time.Minute

// pairingPrefix marks pairing tokens, as pkg_ marks device keys.
const pairingPrefix = "pkp_"

// NewPairing is a pairing link just made: the token is shown only here,
// parkd keeps only its hash.
type NewPairing struct {
	GateID    string    `json:"gate_id"`
	Token     string    `json:"token"`
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
	// QRPNG is a QR code of URL, for a kiosk's camera or a phone.
	QRPNG []byte `json:"qr_png"`
}

// Paired is what a kiosk gets for a pairing token: its gate and the gate's
// new device key.
type Paired struct {
	Gate parking.Gate `json:"gate"`
	Key  string       `json:"key"`
}

// CreatePairing makes a one-time link, valid for PairingTTL, that sets a
// kiosk up for gate gateID, whose lot u runs. origin ("https://parkd.example")
// makes the link absolute, so that its QR code opens from any device.
func (s *Service) CreatePairing(ctx context.Context, u parking.User, gateID, origin string) (NewPairing, error) {
	g, err := s.operatedGate(ctx, u, gateID)
	if err != nil {
		return NewPairing{}, err
	}
	token, hash := auth.NewToken(pairingPrefix)
	now := s.clock.Now()
	p := parking.GatePairing{TokenHash: hash, GateID: g.ID, CreatedBy: u.ID, CreatedAt: now, ExpiresAt: now.Add(PairingTTL)}
	if err := s.store.CreateGatePairing(ctx, &p); err != nil {
		return NewPairing{}, err
	}
	link := origin + "/kiosk/" + url.PathEscape(g.ID) + "?pair=" + url.QueryEscape(token)
	png, err := pass.PNG(link, 240)
	if err != nil {
		return NewPairing{}, err
	}
	return NewPairing{GateID: g.ID, Token: token, URL: link, ExpiresAt: p.ExpiresAt, QRPNG: png}, nil
}

// RedeemPairing exchanges a pairing token, once and before it expires, for
// its gate and a new device key: the gate's previous key stops working, so
// a gate has one kiosk, the one paired last.
func (s *Service) RedeemPairing(ctx context.Context, token string) (Paired, error) {
	p, err := s.store.GatePairing(ctx, auth.HashToken(token))
	if errors.Is(err, parking.ErrNotFound) {
		return Paired{}, parking.Errorf(parking.ENOTFOUND, "this pairing link is not known: ask the operator for a new one")
	}
	if err != nil {
		return Paired{}, err
	}
	now := s.clock.Now()
	switch {
	case !p.UsedAt.IsZero():
		return Paired{}, parking.Errorf(parking.ECONFLICT, "this pairing link was already used: ask the operator for a new one")
	case !now.Before(p.ExpiresAt):
		return Paired{}, parking.Errorf(parking.ECONFLICT, "this pairing link has expired: ask the operator for a new one")
	}
	if err := s.store.UseGatePairing(ctx, p.TokenHash, now); err != nil {
		if errors.Is(err, parking.ErrConflict) {
			return Paired{}, parking.Errorf(parking.ECONFLICT, "this pairing link was already used: ask the operator for a new one")
		}
		return Paired{}, err
	}
	g, err := s.store.Gate(ctx, p.GateID)
	if err != nil {
		return Paired{}, err
	}
	key, hash := auth.NewGateKey()
	if err := s.store.SetGateKey(ctx, g.ID, hash); err != nil {
		return Paired{}, err
	}
	g.KeyHash = hash
	return Paired{Gate: g, Key: key}, nil
}
