package httpapi

import (
	"log/slog"
	"net/http"

	"parkd/internal/gate"
	"parkd/internal/lots"
)

// handleCreatePairing makes a one-time link that sets a kiosk up for a gate.
// Never replayed: its response holds the token.
func handleCreatePairing(log *slog.Logger, gates *gate.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		p, err := gates.CreatePairing(r.Context(), me, r.PathValue("gate"), requestOrigin(r))
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusCreated, p)
		return nil
	})
}

type redeemPairingRequest struct {
	Token string `json:"token"`
}

// handleRedeemPairing exchanges a pairing token for its gate's new device
// key. The token is the credential, so no one need be signed in; it travels
// in the body, not the path, to stay out of access logs.
func handleRedeemPairing(log *slog.Logger, gates *gate.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		var req redeemPairingRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		p, err := gates.RedeemPairing(r.Context(), req.Token)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, p)
		return nil
	})
}

type memberRequest struct {
	Email string `json:"email"`
}

// handleAddMember makes an existing account an operator of the operator.
func handleAddMember(log *slog.Logger, svc *lots.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		var req memberRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		u, err := svc.AddMember(r.Context(), me, r.PathValue("operator"), req.Email)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, u)
		return nil
	})
}

// requestOrigin is the scheme and host the client reached parkd at, which a
// link it is shown must use to come back.
func requestOrigin(r *http.Request) string {
	if viaHTTPS(r) {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}
