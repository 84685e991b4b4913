package httpapi

import (
	"encoding/csv"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"parkd/internal/gate"
	"parkd/internal/parking"
	"parkd/internal/pass"
)

// handleScan decides a scan, from the gate's device (by its key) or an
// operator's kiosk in the browser. The answer is 200 whether the gate opens or
// not: the decision and its reason are in the body.
func handleScan(log *slog.Logger, gates *gate.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		var by gate.Scanner
		by.Device, _ = currentGate(r)
		by.User, _ = currentUser(r)
		var sc gate.Scan
		if err := decode(w, r, &sc); err != nil {
			return err
		}
		d, err := gates.ScanAt(r.Context(), by, r.PathValue("gate"), sc)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, d)
		return nil
	})
}

type openGateRequest struct {
	Reason string `json:"reason"`
}

// handleOpenGate lets an operator open a gate by hand, logged with who and why.
func handleOpenGate(log *slog.Logger, gates *gate.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		var req openGateRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		ev, err := gates.OpenByHand(r.Context(), me, r.PathValue("gate"), req.Reason)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, ev)
		return nil
	})
}

// errPassSignIn: a pass is its driver's (or the lot's operators').
var errPassSignIn = parking.Errorf(parking.EUNAUTHORIZED, "sign in first")

// passOf is the pass of the request's {reservation}, for the signed-in user.
func passOf(r *http.Request, gates *gate.Service) (gate.Pass, error) {
	me, ok := currentUser(r)
	if !ok {
		return gate.Pass{}, errPassSignIn
	}
	return gates.PassOf(r.Context(), me, r.PathValue("reservation"))
}

func handlePass(log *slog.Logger, gates *gate.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		p, err := passOf(r, gates)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, p)
		return nil
	})
}

func handlePassPNG(log *slog.Logger, gates *gate.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		p, err := passOf(r, gates)
		if err != nil {
			return err
		}
		img, err := pass.PNG(p.Code, 512)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(img)
		return nil
	})
}

// handleGateEvents reads a lot's entry/exit log: ?from=&to= (RFC 3339, default
// the last 24 hours), ?plate=, ?reservation=, ?limit=; ?format=csv (or Accept:
// text/csv) for a spreadsheet.
func handleGateEvents(log *slog.Logger, gates *gate.Service) http.Handler {
	type response struct {
		Events []parking.GateEvent `json:"events"`
	}
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		f := gate.EventQuery{Plate: q.Get("plate"), ReservationID: q.Get("reservation")}
		if f.From, err = parseTime(q.Get("from"), "from", time.Time{}); err == nil {
			f.To, err = parseTime(q.Get("to"), "to", time.Time{})
		}
		if v := q.Get("limit"); err == nil && v != "" {
			if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 {
				err = parking.Errorf(parking.EINVALID, "limit must be a positive number")
			}
		}
		if err != nil {
			return err
		}
		lotID := r.PathValue("lot")
		events, err := gates.GateEvents(r.Context(), me, lotID, f)
		if err != nil {
			return err
		}
		if q.Get("format") == "csv" || strings.Contains(r.Header.Get("Accept"), "text/csv") {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="gate-events-`+lotID+`.csv"`)
			cw := csv.NewWriter(w)
			cw.Write([]string{"at", "gate_id", "direction", "decision", "reason", "reservation_id", "plate", "amount_due", "actor_id"})
			for _, e := range events {
				cw.Write([]string{e.At.Format(time.RFC3339), e.GateID, string(e.Direction), e.Decision, e.Reason,
					e.ReservationID, e.Plate, strconv.FormatInt(e.AmountDue, 10), e.ActorID})
			}
			cw.Flush()
			return nil
		}
		writeJSON(w, http.StatusOK, response{Events: events})
		return nil
	})
}

// handleReservationAction lets an operator check a car out by hand or mark a
// no-show.
func handleReservationAction(log *slog.Logger, gates *gate.Service, action string) http.Handler {
	change := gates.CheckOut
	if action == "no-show" {
		change = gates.MarkNoShow
	}
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		res, err := change(r.Context(), me, r.PathValue("reservation"))
		if err != nil {
			return err
		}
		log.InfoContext(r.Context(), "reservation "+action+" by hand", "reservation", res.ID, "by", me.ID, "request_id", requestID(r.Context()))
		writeJSON(w, http.StatusOK, res)
		return nil
	})
}
