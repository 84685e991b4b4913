package httpapi

import (
	"net/http"
)

// router is a ServeMux that remembers its patterns, so tests can check that the
// API description covers every route.
type router struct {
	mux      *http.ServeMux
	patterns []string
}

// Handle registers h for pattern ("METHOD /path/{param}").
func (rt *router) Handle(pattern string, h http.Handler) {
	rt.patterns = append(rt.patterns, pattern)
	rt.mux.Handle(pattern, h)
}

// Routes lists the pattern of every route parkd serves.
func Routes() []string {
	rt := &router{mux: http.NewServeMux()}
	addRoutes(rt, Services{})
	return rt.patterns
}

// rawBodyRoutes are the routes whose bodies withTextCheck passes on
// unexamined: the payment gateway signs its webhooks' bytes and parkd takes
// them as they are (an event refused here would be sent again and again).
var rawBodyRoutes = map[string]bool{
	"POST /api/v1/payments/webhook": true,
}

// addRoutes lists every route parkd serves.
func addRoutes(mux *router, s Services) {
	log, engine, clock := s.Log, s.Engine, s.Clock
	idempotent := func(h http.Handler) http.Handler { return withIdempotency(log, s.Keys, engine, false, h) }
	mustBeIdempotent := func(h http.Handler) http.Handler { return withIdempotency(log, s.Keys, engine, true, h) }
	maps := newMapCache(MapCacheBytes)

	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(log, s.Ready))
	mux.Handle("GET /api/openapi.json", handleOpenAPI())

	// Accounts and sessions.
	mux.Handle("POST /api/v1/users", idempotent(handleSignUp(log, s.Auth)))
	mux.Handle("GET /api/v1/users/{id}", handleGetUser(log, s.Auth))
	mux.Handle("POST /api/v1/sessions", handleSignIn(log, s.Auth)) // never replayed: its response holds a secret
	mux.Handle("DELETE /api/v1/sessions/current", handleSignOut(log, s.Auth))

	// A driver's own things; {id} is "me" or the caller's id.
	mux.Handle("GET /api/v1/users/{id}/vehicles", handleListVehicles(log, s.Auth))
	mux.Handle("POST /api/v1/users/{id}/vehicles", idempotent(handleCreateVehicle(log, s.Auth)))
	mux.Handle("DELETE /api/v1/users/{id}/vehicles/{vehicle}", handleDeleteVehicle(log, s.Auth))
	mux.Handle("GET /api/v1/users/{id}/reservations", handleUserReservations(log, engine))
	mux.Handle("GET /api/v1/users/{id}/payments", handleUserPayments(log, s.Payments))
	mux.Handle("GET /api/v1/users/{id}/payment-method", handleGetPaymentMethod(log, s.Payments))
	mux.Handle("PUT /api/v1/users/{id}/payment-method", handleSavePaymentMethod(log, s.Payments))
	mux.Handle("DELETE /api/v1/users/{id}/payment-method", handleDeletePaymentMethod(log, s.Payments))

	// Lots and spots, public.
	mux.Handle("GET /api/v1/lots", handleListLots(log, s.Lots))
	mux.Handle("GET /api/v1/lots/{lot}", handleGetLot(log, s.Lots))
	mux.Handle("GET /api/v1/lots/{lot}/spots", handleListSpots(log, engine, clock, maps))
	mux.Handle("GET /api/v1/lots/{lot}/spots/{spot}", handleGetSpot(log, s.Lots, clock))
	mux.Handle("GET /api/v1/lots/{lot}/availability", handleAvailability(log, engine, clock, maps))
	mux.Handle("GET /api/v1/lots/{lot}/live", handleLive(log, s.Live, clock, s.AllowedOrigins))

	// Reservations.
	mux.Handle("POST /api/v1/reservations", withHoldIdempotency(log, s.Keys, engine, handleCreateReservation(log, s.Auth, engine)))
	mux.Handle("GET /api/v1/reservations/{reservation}", handleGetReservation(log, engine))
	mux.Handle("POST /api/v1/reservations/{reservation}/cancel", mustBeIdempotent(handleCancelReservation(log, s.Payments)))

	// Payments.
	mux.Handle("POST /api/v1/reservations/{reservation}/payments", mustBeIdempotent(handlePay(log, s.Payments)))
	mux.Handle("POST /api/v1/reservations/{reservation}/extension", mustBeIdempotent(handleExtend(log, s.Payments)))
	mux.Handle("POST /api/v1/payments/webhook", handleWebhook(log, s.Payments, s.Metrics))
	mux.Handle("GET /api/v1/payments/{payment}", handleGetPayment(log, s.Payments))
	mux.Handle("GET /api/v1/payments/{payment}/receipt", handleReceipt(log, receiptPage(s)))
	mux.Handle("GET /api/v1/admin/payments/reconcile", handleReconcile(log, s.Payments))

	// Gates: passes, scans, the entry/exit log and operators' actions.
	mux.Handle("GET /api/v1/reservations/{reservation}/pass", handlePass(log, s.Gates))
	mux.Handle("GET /api/v1/reservations/{reservation}/pass.png", handlePassPNG(log, s.Gates))
	// A device that retries a scan after a lost answer, with the same key, gets
	// the same decision: the barrier opens for the car it let in.
	mux.Handle("POST /api/v1/gates/{gate}/scans", idempotent(handleScan(log, s.Gates)))
	mux.Handle("POST /api/v1/gates/{gate}/open", handleOpenGate(log, s.Gates))
	mux.Handle("GET /api/v1/lots/{lot}/gate-events", handleGateEvents(log, s.Gates))
	mux.Handle("GET /api/v1/lots/{lot}/reports", handleReport(log, s.Reports))
	mux.Handle("POST /api/v1/reservations/{reservation}/checkout", handleReservationAction(log, s.Gates, "checkout"))
	mux.Handle("POST /api/v1/reservations/{reservation}/no-show", handleReservationAction(log, s.Gates, "no-show"))

	// Operators: their lots, levels, spots, gates and reservations. Every one
	// needs a signed-in operator of the lot's operator, or an admin.
	mux.Handle("POST /api/v1/operators", idempotent(handleCreateOperator(log, s.Lots)))
	mux.Handle("POST /api/v1/lots", idempotent(handleCreateLot(log, s.Lots)))
	mux.Handle("PATCH /api/v1/lots/{lot}", handleUpdateLot(log, s.Lots))
	mux.Handle("POST /api/v1/lots/{lot}/levels", idempotent(handleCreateLevel(log, s.Lots)))
	mux.Handle("PATCH /api/v1/lots/{lot}/levels/{level}", handleUpdateLevel(log, s.Lots))
	mux.Handle("POST /api/v1/lots/{lot}/spots", idempotent(handleCreateSpots(log, s.Lots)))
	mux.Handle("PATCH /api/v1/lots/{lot}/spots/{spot}", handleUpdateSpot(log, s.Lots))
	// Taking a spot out of service may cancel reservations: a retry must not.
	mux.Handle("POST /api/v1/lots/{lot}/spots/{spot}/out-of-service", mustBeIdempotent(handleOutOfService(log, s.Lots)))
	mux.Handle("POST /api/v1/lots/{lot}/spots/{spot}/in-service", handleInService(log, s.Lots))
	mux.Handle("GET /api/v1/lots/{lot}/reservations", handleLotReservations(log, engine))
	mux.Handle("POST /api/v1/lots/{lot}/gates", handleCreateGate(log, s.Gates)) // never replayed: its response holds the device key
	mux.Handle("GET /api/v1/lots/{lot}/gates", handleListGates(log, s.Gates))
	mux.Handle("POST /api/v1/gates/{gate}/pairings", handleCreatePairing(log, s.Gates)) // never replayed: its response holds the token
	mux.Handle("POST /api/v1/kiosk-pairings", handleRedeemPairing(log, s.Gates))
	mux.Handle("POST /api/v1/operators/{operator}/members", handleAddMember(log, s.Lots))

	// Drivers' notifications and settings, the public unsubscribe link, and
	// operators' webhooks.
	mux.Handle("GET /api/v1/users/{id}/notifications", handleListNotifications(log, s.Notify))
	mux.Handle("POST /api/v1/users/{id}/notifications/read", handleMarkNotificationsRead(log, s.Notify))
	mux.Handle("GET /api/v1/users/{id}/notifications/live", handleNotificationsLive(log, s.Notify, clock))
	mux.Handle("GET /api/v1/users/{id}/notification-settings", handleGetNotificationSettings(log, s.Notify))
	mux.Handle("PATCH /api/v1/users/{id}/notification-settings", handlePatchNotificationSettings(log, s.Notify))
	// Unsubscribe links work without signing in: the token is the credential.
	mux.Handle("GET /api/v1/notifications/unsubscribe", handleUnsubscribePage(log, s.Notify))
	mux.Handle("POST /api/v1/notifications/unsubscribe", handleUnsubscribe(log, s.Notify))
	mux.Handle("GET /api/v1/operators/{operator}/webhook", handleGetWebhook(log, s.Notify))
	mux.Handle("PUT /api/v1/operators/{operator}/webhook", handlePutWebhook(log, s.Notify))
	mux.Handle("DELETE /api/v1/operators/{operator}/webhook", handleDeleteWebhook(log, s.Notify))
}
