package httpapi

import (
	"encoding/csv"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"parkd/internal/gate"
	"parkd/internal/parking"
	"parkd/internal/pass"
)

// scanningGate returns the gate of a scan: the device's own (by its key), or,
// for an operator running a kiosk in the browser, any gate of a lot they run.
func scanningGate(r *http.Request, store lotGateStore) (parking.Gate, error) {
	id := r.PathValue("gate")
	if g, ok := currentGate(r); ok {
		if g.ID != id {
			return parking.Gate{}, parking.Errorf(parking.EFORBIDDEN, "this device key belongs to another gate")
		}
		return g, nil
	}
	u, ok := currentUser(r)
	if !ok {
		return parking.Gate{}, parking.Errorf(parking.EUNAUTHORIZED, "a gate scans with its device key: Authorization: Bearer pkg_...")
	}
	// Gates are not public: to anyone who does not run the lot, a gate is not found.
	g, err := store.Gate(r.Context(), id)
	if err == nil {
		if _, merr := managedLot(r.Context(), store, u, g.LotID); merr != nil {
			err = parking.Errorf(parking.ENOTFOUND, "gate not found")
		}
	}
	return g, err
}

// handleScan decides a scan. The answer is 200 whether the gate opens or not:
// the decision and its reason are in the body.
func handleScan(log *slog.Logger, store lotGateStore, gates *gate.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g, err := scanningGate(r, store)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		var sc gate.Scan
		if err := decode(w, r, &sc); err != nil {
			writeError(w, r, log, err)
			return
		}
		d, err := gates.Scan(r.Context(), g, sc)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, d)
	})
}

type openGateRequest struct {
	Reason string `json:"reason"`
}

// handleOpenGate lets an operator open a gate by hand, logged with who and why.
func handleOpenGate(log *slog.Logger, store lotGateStore, gates *gate.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := requireUser(w, r, log)
		if !ok {
			return
		}
		g, err := store.Gate(r.Context(), r.PathValue("gate"))
		if err == nil {
			if _, merr := managedLot(r.Context(), store, me, g.LotID); merr != nil {
				err = parking.Errorf(parking.ENOTFOUND, "gate not found")
			}
		}
		var req openGateRequest
		if err == nil {
			err = decode(w, r, &req)
		}
		var ev parking.GateEvent
		if err == nil {
			ev, err = gates.OpenByHand(r.Context(), g, me, req.Reason)
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, ev)
	})
}

// reservationForPass returns a reservation its driver owns or whose lot the caller runs.
func reservationForPass(r *http.Request, store lotReservationStore) (parking.Reservation, error) {
	me, ok := currentUser(r)
	if !ok {
		return parking.Reservation{}, parking.Errorf(parking.EUNAUTHORIZED, "sign in first")
	}
	return visibleReservation(r.Context(), store, me, r.PathValue("reservation"))
}

func handlePass(log *slog.Logger, store lotReservationStore, gates *gate.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := reservationForPass(r, store)
		var p gate.Pass
		if err == nil {
			p, err = gates.PassFor(r.Context(), res)
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, p)
	})
}

func handlePassPNG(log *slog.Logger, store lotReservationStore, gates *gate.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, err := reservationForPass(r, store)
		var p gate.Pass
		if err == nil {
			p, err = gates.PassFor(r.Context(), res)
		}
		var img []byte
		if err == nil {
			img, err = pass.PNG(p.Code, 512)
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(img)
	})
}

// handleGateEvents reads a lot's entry/exit log: ?from=&to= (RFC 3339, default
// the last 24 hours), ?plate=, ?reservation=, ?limit=; ?format=csv (or Accept:
// text/csv) for a spreadsheet.
func handleGateEvents(log *slog.Logger, store lotGateStore, clock parking.Clock) http.Handler {
	type response struct {
		Events []parking.GateEvent `json:"events"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, lot, ok := requireManagedLot(w, r, log, store)
		if !ok {
			return
		}
		var err error
		q := r.URL.Query()
		now := clock.Now()
		f := parking.GateEventFilter{ReservationID: q.Get("reservation")}
		if v := q.Get("plate"); v != "" {
			if f.Plate, err = parking.ParsePlate(v); err != nil {
				writeError(w, r, log, err)
				return
			}
		}
		if f.From, err = parseTime(q.Get("from"), "from", now.Add(-24*time.Hour)); err == nil {
			f.To, err = parseTime(q.Get("to"), "to", now.Add(time.Minute))
		}
		if v := q.Get("limit"); err == nil && v != "" {
			if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 {
				err = parking.Errorf(parking.EINVALID, "limit must be a positive number")
			}
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		events, err := store.GateEvents(r.Context(), lot.ID, f)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if q.Get("format") == "csv" || strings.Contains(r.Header.Get("Accept"), "text/csv") {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="gate-events-`+lot.ID+`.csv"`)
			cw := csv.NewWriter(w)
			cw.Write([]string{"at", "gate_id", "direction", "decision", "reason", "reservation_id", "plate", "amount_due", "actor_id"})
			for _, e := range events {
				cw.Write([]string{e.At.Format(time.RFC3339), e.GateID, string(e.Direction), e.Decision, e.Reason,
					e.ReservationID, e.Plate, strconv.FormatInt(e.AmountDue, 10), e.ActorID})
			}
			cw.Flush()
			return
		}
		writeJSON(w, http.StatusOK, response{Events: events})
	})
}

// handleReservationAction lets an operator check a car out by hand or mark a
// no-show.
func handleReservationAction(log *slog.Logger, store lotReservationStore, gates *gate.Service, action string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := requireUser(w, r, log)
		if !ok {
			return
		}
		res, err := visibleReservation(r.Context(), store, me, r.PathValue("reservation"))
		if err == nil && me.Role == parking.RoleDriver {
			err = parking.Errorf(parking.EFORBIDDEN, "only the lot's operators do this")
		}
		if err == nil {
			if action == "checkout" {
				res, err = gates.CheckOut(r.Context(), res)
			} else {
				res, err = gates.MarkNoShow(r.Context(), res)
			}
		}
		if errors.Is(err, parking.ErrInvalidStatus) {
			err = parking.Errorf(parking.ESTATUS, "reservation %s is %s", res.ID, res.Status)
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		log.InfoContext(r.Context(), "reservation "+action+" by hand", "reservation", res.ID, "by", me.ID, "request_id", requestID(r.Context()))
		writeJSON(w, http.StatusOK, res)
	})
}
