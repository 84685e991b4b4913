package auth

import (
	"context"

	"parkd/internal/parking"
)

// userKey is the context key of the signed-in user. It lives here, beside
// Authenticate, so that the API (which finds the user) and the pages (which
// show them) read it the same way without either importing the other.
type userKey struct{}

// ContextWithUser returns ctx carrying u as the signed-in user.
func ContextWithUser(ctx context.Context, u parking.User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFromContext returns the signed-in user ctx carries, if any.
func UserFromContext(ctx context.Context) (parking.User, bool) {
	u, ok := ctx.Value(userKey{}).(parking.User)
	return u, ok
}
