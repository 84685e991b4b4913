package auth

import (
	"context"
	"errors"
	"strings"
	"time"

	"parkd/internal/parking"
)

// SessionTTL is how long a sign-in lasts.
const SessionTTL = 30 * 24 * time.Hour

// Token prefixes make a leaked secret easy to recognise (and to scan for).
const (
	sessionPrefix = "pks_"
	gateKeyPrefix = "pkg_"
)

// Store is what the auth service asks of parkd's storage: accounts and
// sessions, and gates by their device keys.
type Store interface {
	parking.AccountStore
	parking.GateStore
}

// Service signs users up and in.
type Service struct {
	store    Store
	clock    parking.Clock
	accounts *Throttle // sign-in attempts per email, successes given back
	clients  *Throttle // sign-in attempts per client address, successes given back
	// dummyHash is checked against when an email is unknown, so that a wrong
	// email takes as long as a wrong password and timing reveals nothing.
	dummyHash string
}

// New returns an auth service: 5 failures per account or 20 per client address
// within 15 minutes lock that account or address for 15 minutes.
func New(store Store, clock parking.Clock) *Service {
	return &Service{
		store: store, clock: clock,
		accounts:  NewThrottle(5, 15*time.Minute),
		clients:   NewThrottle(20, 15*time.Minute),
		dummyHash: HashPassword("parkd-dummy-password"),
	}
}

// SignUp creates a driver account.
func (s *Service) SignUp(ctx context.Context, name, email, password string) (parking.User, error) {
	return s.CreateUser(ctx, name, email, password, parking.RoleDriver, "")
}

// CreateUser creates an account with any role; operators belong to an operator.
func (s *Service) CreateUser(ctx context.Context, name, email, password string, role parking.Role, operatorID string) (parking.User, error) {
	if err := parking.ValidateSignUp(name, email, password); err != nil {
		return parking.User{}, err
	}
	u := parking.User{
		ID: parking.NewID("usr"), Name: strings.TrimSpace(name), Email: parking.NormalizeEmail(email),
		PasswordHash: HashPassword(password), Role: role, OperatorID: operatorID, CreatedAt: s.clock.Now(),
	}
	if err := s.store.CreateUser(ctx, &u); err != nil {
		if parking.ErrorCode(err) == parking.ECONFLICT {
			return parking.User{}, parking.Errorf(parking.EEMAILTAKEN, "an account with this email already exists")
		}
		return parking.User{}, err
	}
	return u, nil
}

// ErrBadCredentials is the one answer to a wrong email or a wrong password:
// it never tells which.
var ErrBadCredentials = parking.Errorf(parking.EUNAUTHORIZED, "wrong email or password")

// TooManyAttempts is returned while attempts (sign-ins, typed gate codes) are
// throttled: the caller answers 429 with Retry-After.
type TooManyAttempts struct {
	RetryAfter time.Duration
	Detail     string // for the client; empty means failed sign-ins
}

func (e *TooManyAttempts) Error() string {
	if e.Detail != "" {
		return e.Detail
	}
	return "too many failed sign-ins: try again later"
}

// SignIn checks a password and opens a session. It returns the token (shown to
// the client once; only its hash is stored). The attempt counts against the
// account and the client address before the password is checked, so guesses
// sent at once spend a try each; a success gives back its own try only, never
// the failures before it or beside it.
func (s *Service) SignIn(ctx context.Context, email, password, client string) (string, parking.Session, parking.User, error) {
	now := s.clock.Now()
	email = parking.NormalizeEmail(email)
	accountKey, clientKey := "account:"+email, "client:"+client
	if wait := s.accounts.Take(accountKey, now); wait > 0 {
		return "", parking.Session{}, parking.User{}, &TooManyAttempts{RetryAfter: max(wait, s.clients.Wait(clientKey, now))}
	}
	if wait := s.clients.Take(clientKey, now); wait > 0 {
		s.accounts.Forgive(accountKey, now)
		return "", parking.Session{}, parking.User{}, &TooManyAttempts{RetryAfter: max(wait, s.accounts.Wait(accountKey, now))}
	}
	// An attempt that fails before the password is checked learns nothing,
	// and is no guess.
	forgive := func() {
		s.accounts.Forgive(accountKey, now)
		s.clients.Forgive(clientKey, now)
	}
	u, err := s.store.UserByEmail(ctx, email)
	hash := u.PasswordHash
	if errors.Is(err, parking.ErrNotFound) {
		hash = s.dummyHash
	} else if err != nil {
		forgive()
		return "", parking.Session{}, parking.User{}, err
	}
	ok, err := CheckPassword(hash, password)
	if err != nil {
		forgive()
		return "", parking.Session{}, parking.User{}, err
	}
	if !ok || u.ID == "" {
		return "", parking.Session{}, parking.User{}, ErrBadCredentials
	}
	forgive()
	token, tokenHash := NewToken(sessionPrefix)
	sess := parking.Session{TokenHash: tokenHash, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	if err := s.store.CreateSession(ctx, &sess); err != nil {
		return "", parking.Session{}, parking.User{}, err
	}
	return token, sess, u, nil
}

// ErrUnauthenticated means a missing, unknown or expired token.
var ErrUnauthenticated = parking.Errorf(parking.EUNAUTHORIZED, "sign in first: send Authorization: Bearer <token>")

// Authenticate returns the user a session token belongs to.
func (s *Service) Authenticate(ctx context.Context, token string) (parking.User, parking.Session, error) {
	if !strings.HasPrefix(token, sessionPrefix) {
		return parking.User{}, parking.Session{}, ErrUnauthenticated
	}
	// One query: this runs before every signed-in request.
	sess, u, err := s.store.UserBySession(ctx, HashToken(token))
	if errors.Is(err, parking.ErrNotFound) || err == nil && !s.clock.Now().Before(sess.ExpiresAt) {
		return parking.User{}, parking.Session{}, ErrUnauthenticated
	}
	if err != nil {
		return parking.User{}, parking.Session{}, err
	}
	return u, sess, nil
}

// SignOut ends the session of a token.
func (s *Service) SignOut(ctx context.Context, token string) error {
	return s.store.DeleteSession(ctx, HashToken(token))
}

// NewGateKey makes a device key for a gate: the key to show once, and its hash to store.
func NewGateKey() (key, hash string) { return NewToken(gateKeyPrefix) }

// AuthenticateGate returns the gate a device key belongs to.
func (s *Service) AuthenticateGate(ctx context.Context, key string) (parking.Gate, error) {
	if !strings.HasPrefix(key, gateKeyPrefix) {
		return parking.Gate{}, ErrUnauthenticated
	}
	g, err := s.store.GateByKeyHash(ctx, HashToken(key))
	if errors.Is(err, parking.ErrNotFound) {
		return parking.Gate{}, parking.Errorf(parking.EUNAUTHORIZED, "unknown device key")
	}
	return g, err
}
