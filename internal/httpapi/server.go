// Package httpapi is parkd's HTTP interface: the JSON API under /api/v1 and the
// health endpoints. routes.go lists every route.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"parkd/internal/auth"
	"parkd/internal/booking"
	"parkd/internal/gate"
	"parkd/internal/idempotency"
	"parkd/internal/live"
	"parkd/internal/lots"
	"parkd/internal/metrics"
	"parkd/internal/notify"
	"parkd/internal/parking"
	"parkd/internal/payments"
	"parkd/internal/report"
)

// Server timeouts: long enough for any real request, short enough that a slow
// or stalled client cannot hold a connection forever.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 15 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 120 * time.Second
)

// Services are what the handlers are built from.
type Services struct {
	Log      *slog.Logger
	Engine   *booking.Service
	Auth     *auth.Service
	Payments *payments.Service
	Gates    *gate.Service
	// Reports answers operators' reports (the pages' and their CSV).
	Reports *report.Service
	// Lots runs lots, levels and spots.
	Lots *lots.Service
	// Keys keeps Idempotency-Key records.
	Keys  *idempotency.Service
	Clock parking.Clock
	// StripePublishableKey is for the web pages' card form when payments go
	// through Stripe (Stripe Elements); the sandbox needs none.
	StripePublishableKey string
	// Live follows the outbox for the live map; its Run must be running.
	Live *live.Hub
	// AllowedOrigins are the origins, besides parkd's own host, whose pages may
	// open the live WebSocket (host patterns, as "app.example.com").
	AllowedOrigins []string
	// Notify lists and marks drivers' notifications, keeps their settings
	// and operators' webhooks, checks unsubscribe links and wakes live
	// notification streams.
	Notify *notify.Service
	// Metrics records requests and webhook verdicts; nil records nothing.
	Metrics *metrics.Metrics
	// AccessLog logs one line per request, at info level.
	AccessLog bool
	// Ready reports whether parkd can serve requests: whether its database
	// answers.
	Ready func(ctx context.Context) error
	// Unavailable reports whether an error says the database cannot serve
	// for now (unreachable, read-only or failing over): such errors answer
	// 503 with Retry-After, not 500. It is the store backend's own test
	// (postgres.Unavailable, mysql.Unavailable, sqlite.Unavailable); nil
	// recognises none.
	Unavailable func(error) bool
	// TrustedProxies are the addresses of the proxies (nginx) whose
	// X-Forwarded-For and X-Request-Id parkd believes; without any, the
	// client is the peer that connected.
	TrustedProxies []netip.Prefix
	// MapTiles is the tile URL template of the home page's map of lots
	// (web.Config.MapTiles); empty shows no map. MapAttribution credits it.
	MapTiles, MapAttribution string
}

// newRouter is the mux of every route: the API's (routes.go) and the pages'
// (internal/web/routes.go).
func newRouter(s Services) *router {
	rt := &router{mux: http.NewServeMux()}
	addRoutes(rt, s)
	addPages(rt, s)
	return rt
}

// NewHandler returns the whole HTTP interface, the API and the web pages,
// wrapped (outermost first) in the client's address, request ids, the test of
// database errors, access logs, panic recovery, compression, the check of the
// request's text, cross-origin protection and authentication.
func NewHandler(s Services) http.Handler {
	rt := newRouter(s)
	rawBody := func(r *http.Request) bool {
		_, pattern := rt.mux.Handler(r)
		return rawBodyRoutes[pattern]
	}
	var h http.Handler = withAuth(s.Log, s.Auth, withRouteInfo(rt.mux))
	h = withCrossOriginProtection(h)
	h = withTextCheck(s.Log, rawBody, h)
	h = withJSONMethodErrors(h)
	h = withCompression(h)
	h = withRecover(s.Log, h)
	h = withAccessLog(s.Log, s.Metrics, s.AccessLog, h)
	h = withUnavailable(s.Unavailable, h)
	h = withRequestID(s.TrustedProxies, h)
	return withClientAddress(s.TrustedProxies, h)
}
