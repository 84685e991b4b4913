// Package httpapi is parkd's HTTP interface: the JSON API under /api/v1 and the
// health endpoints. routes.go lists every route.
package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"parkd/internal/booking"
	"parkd/internal/parking"
)

// Server timeouts: long enough for any real request, short enough that a slow
// or stalled client cannot hold a connection forever.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 15 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 120 * time.Second
)

// NewHandler returns the whole HTTP interface, wrapped in request ids, access
// logs and panic recovery.
func NewHandler(log *slog.Logger, store parking.Store, engine *booking.Service, clock parking.Clock) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, log, store, engine, clock)
	return withRequestID(withAccessLog(log, withRecover(log, mux)))
}
