package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"parkd/internal/booking"
	"parkd/internal/parking"
)

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz answers 200 only when the database answers.
func handleReadyz(log *slog.Logger, store parking.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			log.WarnContext(ctx, "not ready: database does not answer", "err", err)
			writeProblem(w, r, http.StatusServiceUnavailable, "unavailable", "the database does not answer")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

func handleListLots(log *slog.Logger, store parking.Store) http.Handler {
	type response struct {
		Lots []parking.Lot `json:"lots"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lots, err := store.Lots(r.Context())
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, response{Lots: lots})
	})
}

func handleGetLot(log *slog.Logger, store parking.Store) http.Handler {
	type response struct {
		parking.Lot
		Levels []parking.Level `json:"levels"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lot, err := store.Lot(r.Context(), r.PathValue("lot"))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		levels, err := store.Levels(r.Context(), lot.ID)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, response{Lot: lot, Levels: levels})
	})
}

// DefaultWindow is the availability window when a request names none: from now.
const DefaultWindow = time.Hour

// handleListSpots lists a lot's spots with their status over a window:
// ?from=&to= in RFC 3339 (default now..now+1h), ?size= for spots that fit a
// vehicle of that size (aliases accepted).
func handleListSpots(log *slog.Logger, engine *booking.Service, clock parking.Clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var fits parking.Size
		if v := q.Get("size"); v != "" {
			size, err := parking.ParseSize(v)
			if err != nil {
				writeError(w, r, log, err)
				return
			}
			fits = size
		}
		now := clock.Now()
		from, err := parseTime(q.Get("from"), "from", now)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		to, err := parseTime(q.Get("to"), "to", from.Add(DefaultWindow))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if !to.After(from) {
			writeError(w, r, log, parking.Errorf(parking.EINVALID, "to must be after from"))
			return
		}
		a, err := engine.Availability(r.Context(), r.PathValue("lot"), fits, from, to)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, a)
	})
}

// parseTime reads an RFC 3339 query value, or returns def when it is empty.
func parseTime(v, name string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	// An unescaped "+" in a query string arrives as a space: take it back.
	t, err := time.Parse(time.RFC3339Nano, strings.ReplaceAll(v, " ", "+"))
	if err != nil {
		return time.Time{}, parking.Errorf(parking.EINVALID, "%s must be an RFC 3339 time such as 2030-01-07T08:00:00Z", name)
	}
	return t.UTC().Truncate(time.Microsecond), nil
}
