package httpapi

import "net/http"

// addOperatorRoutes adds the routes operators use to run their lots.
func addOperatorRoutes(mux *router, s Services, idempotent, mustBeIdempotent func(http.Handler) http.Handler) {
}
