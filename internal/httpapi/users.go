package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"parkd/internal/auth"
	"parkd/internal/parking"
)

type signUpRequest struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// handleSignUp creates a driver account.
func handleSignUp(log *slog.Logger, authn *auth.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		var req signUpRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		u, err := authn.SignUp(r.Context(), req.Name, req.Email, req.Password)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/v1/users/"+u.ID)
		writeJSON(w, http.StatusCreated, u)
		return nil
	})
}

// handleGetUser returns the signed-in user (or, for admins, anyone).
func handleGetUser(log *slog.Logger, authn *auth.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUser(r)
		if err != nil {
			return err
		}
		u, err := authn.User(r.Context(), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, u)
		return nil
	})
}

type signInRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type sessionResponse struct {
	Token     string       `json:"token"`
	ExpiresAt time.Time    `json:"expires_at"`
	User      parking.User `json:"user"`
}

// handleSignIn opens a session: the token comes back in the body and as an
// HttpOnly cookie for browsers.
func handleSignIn(log *slog.Logger, authn *auth.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		var req signInRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		token, sess, u, err := authn.SignIn(r.Context(), req.Email, req.Password, clientAddress(r))
		if err != nil {
			return err
		}
		http.SetCookie(w, &http.Cookie{
			Name: SessionCookie, Value: token, Path: "/", Expires: sess.ExpiresAt,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: viaHTTPS(r),
		})
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusCreated, sessionResponse{Token: token, ExpiresAt: sess.ExpiresAt, User: u})
		return nil
	})
}

// handleSignOut ends the current session and clears the cookie.
func handleSignOut(log *slog.Logger, authn *auth.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		if _, err := signedInUser(r); err != nil {
			return err
		}
		token, fromHeader := bearerToken(r)
		if !fromHeader {
			if c, err := r.Cookie(SessionCookie); err == nil {
				token = c.Value
			}
		}
		if err := authn.SignOut(r.Context(), token); err != nil {
			return err
		}
		http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
			SameSite: http.SameSiteLaxMode, Secure: viaHTTPS(r)})
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
