package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"parkd/internal/booking"
	"parkd/internal/lots"
	"parkd/internal/parking"
)

func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// handleReadyz answers 200 only when the database answers, and otherwise 503
// naming the dependency that is down ("down": ["database"]), so a load
// balancer or an operator can tell which part to look at.
func handleReadyz(log *slog.Logger, ready func(context.Context) error) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			log.WarnContext(ctx, "not ready: database does not answer", "err", err)
			p := newProblem(r, parking.EUNAVAILABLE, "not ready: the database does not answer")
			p.Down = []string{"database"}
			sendProblem(w, p)
			return nil
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return nil
	})
}

// handleListLots answers one page of a search for lots (lots.Search): by
// name, address or city (q), near a point (near, radius), with free spots and
// prices over a window (from, to, size), paged by next_cursor.
func handleListLots(log *slog.Logger, svc *lots.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		page, err := svc.SearchLots(r.Context(), lots.Search{
			Q: q.Get("q"), Near: q.Get("near"), Radius: q.Get("radius"), Limit: q.Get("limit"), Cursor: q.Get("cursor"),
			From: q.Get("from"), To: q.Get("to"), Size: q.Get("size"),
		})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, page)
		return nil
	})
}

func handleGetLot(log *slog.Logger, svc *lots.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		d, err := svc.LotDetail(r.Context(), r.PathValue("lot"))
		if err != nil {
			return err
		}
		setETag(w, d.Version) // the lot's; each level has its own version
		writeJSON(w, http.StatusOK, d)
		return nil
	})
}

// DefaultWindow is the availability window when a request names none: from now.
const DefaultWindow = time.Hour

// windowQuery reads ?size=, ?from= and ?to= (RFC 3339; default now..now+1h,
// now taken to the second, so that a map read's answer can be cached and
// asked again within that second). size keeps the spots a vehicle of that
// size fits.
func windowQuery(r *http.Request, clock parking.Clock) (f booking.SpotFilter, from, to time.Time, err error) {
	q := r.URL.Query()
	if v := q.Get("size"); v != "" {
		if f.Fits, err = parking.ParseSize(v); err != nil {
			return f, from, to, err
		}
	}
	if f.Amenities, err = amenityQuery(q["amenity"]); err != nil {
		return f, from, to, err
	}
	if from, err = parseTime(q.Get("from"), "from", clock.Now().Truncate(time.Second)); err != nil {
		return f, from, to, err
	}
	if to, err = parseTime(q.Get("to"), "to", from.Add(DefaultWindow)); err != nil {
		return f, from, to, err
	}
	if !to.After(from) {
		return f, from, to, parking.Errorf(parking.EINVALID, "to must be after from")
	}
	return f, from, to, nil
}

// amenityQuery reads amenity parameters, each one name or a comma-separated
// list ("amenity=ev&amenity=accessible", "amenity=ev,accessible").
func amenityQuery(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		for _, a := range strings.Split(v, ",") {
			a = strings.TrimSpace(a)
			if a == "" || len(a) > 32 {
				return nil, parking.Errorf(parking.EINVALID, "amenity must be a name of at most 32 characters, such as ev or accessible")
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// handleListSpots lists a lot's spots with their status over a window. The
// encoded answer is cached (mapCache) and carries an ETag.
func handleListSpots(log *slog.Logger, engine *booking.Service, clock parking.Clock, maps *mapCache) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		f, from, to, err := windowQuery(r, clock)
		if err != nil {
			return err
		}
		lotID := r.PathValue("lot")
		key := newMapKey("spots", lotID, f, from, to)
		return serveMap(w, r, maps, key, engine.IndexVersion(lotID), clock.Now(), func() (any, booking.Availability, error) {
			a, err := engine.Availability(r.Context(), lotID, f, from, to)
			return a, a, err
		})
	})
}

// handleAvailability answers only the counts by spot size over a window: what
// a list of lots or a sign at the entrance needs. Cached as handleListSpots.
func handleAvailability(log *slog.Logger, engine *booking.Service, clock parking.Clock, maps *mapCache) http.Handler {
	type response struct {
		LotID  string                          `json:"lot_id"`
		From   time.Time                       `json:"from"`
		To     time.Time                       `json:"to"`
		Counts map[parking.Size]booking.Counts `json:"counts"`
	}
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		f, from, to, err := windowQuery(r, clock)
		if err != nil {
			return err
		}
		lotID := r.PathValue("lot")
		key := newMapKey("availability", lotID, f, from, to)
		return serveMap(w, r, maps, key, engine.IndexVersion(lotID), clock.Now(), func() (any, booking.Availability, error) {
			a, err := engine.Availability(r.Context(), lotID, f, from, to)
			return response{LotID: a.LotID, From: a.From, To: a.To, Counts: a.Counts}, a, err
		})
	})
}

func newMapKey(route, lotID string, f booking.SpotFilter, from, to time.Time) mapKey {
	return mapKey{route: route, lot: lotID, from: from.UnixMicro(), to: to.UnixMicro(), fits: f.Fits, amenities: strings.Join(f.Amenities, ",")}
}

// handleGetSpot returns one spot with its status over a window.
func handleGetSpot(log *slog.Logger, svc *lots.Service, clock parking.Clock) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		_, from, to, err := windowQuery(r, clock)
		if err != nil {
			return err
		}
		sp, err := svc.SpotStatus(r.Context(), r.PathValue("lot"), r.PathValue("spot"), from, to)
		if err != nil {
			return err
		}
		setETag(w, sp.Version)
		writeJSON(w, http.StatusOK, sp)
		return nil
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
