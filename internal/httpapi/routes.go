package httpapi

import (
	"log/slog"
	"net/http"

	"parkd/internal/booking"
	"parkd/internal/parking"
)

// addRoutes lists every route parkd serves.
func addRoutes(mux *http.ServeMux, log *slog.Logger, store parking.Store, engine *booking.Service, clock parking.Clock) {
	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(log, store))

	mux.Handle("GET /api/v1/lots", handleListLots(log, store))
	mux.Handle("GET /api/v1/lots/{lot}", handleGetLot(log, store))
	mux.Handle("GET /api/v1/lots/{lot}/spots", handleListSpots(log, engine, clock))

	mux.Handle("/", handleNotFound(log))
}
