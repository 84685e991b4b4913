package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"time"

	"parkd/internal/auth"
	"parkd/internal/booking"
	"parkd/internal/gate"
	"parkd/internal/lots"
	"parkd/internal/parking"
)

// Limits on what an operator may send.
const (
	// MaxSpotsPerRequest is the most spots one bulk create may hold.
	MaxSpotsPerRequest = lots.MaxSpotsPerRequest
	// MaxLevelOrdinal bounds a level's ordinal both ways.
	MaxLevelOrdinal = parking.MaxLevelOrdinal
)

// policyJSON is parking.Policy without its UnmarshalJSON, so that the strict
// decoder refuses unknown fields inside a policy too: a misspelt field must
// not silently become its default.
type policyJSON parking.Policy

// policyChange reads a policy object over a base: a field it omits keeps the
// base's value (the defaults for a new lot, the current policy for an edit),
// and a size it names in rates replaces that size's rate only. Not sent (or
// null) is nil: no change.
func policyChange(raw json.RawMessage) lots.PolicyChange {
	if !given(raw) {
		return nil
	}
	return func(base parking.Policy) (parking.Policy, error) {
		if raw[0] != '{' {
			return parking.Policy{}, parking.Errorf(parking.EINVALID, "policy must be a JSON object")
		}
		p := policyJSON(base)
		p.Rates = maps.Clone(base.Rates) // decoding merges into the map: never into base's
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return parking.Policy{}, parking.Errorf(parking.EINVALID, "policy: %s", parking.ErrorMessage(decodeError(err)))
		}
		return parking.Policy(p), nil
	}
}

// given reports whether an optional JSON value was sent, and not as null.
func given(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

type operatorRequest struct {
	Name string `json:"name"`
}

// handleCreateOperator creates an operator, the company lots belong to.
// Admins only.
func handleCreateOperator(log *slog.Logger, svc *lots.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		var req operatorRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		o, err := svc.CreateOperator(r.Context(), me, req.Name)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, o)
		return nil
	})
}

type lotRequest struct {
	OperatorID string          `json:"operator_id"`
	Name       string          `json:"name"`
	Address    string          `json:"address"`
	Lat        *float64        `json:"lat"`
	Lng        *float64        `json:"lng"`
	TimeZone   string          `json:"time_zone"`
	Currency   string          `json:"currency"`
	Policy     json.RawMessage `json:"policy"`
}

// handleCreateLot creates a lot. Operators create lots of their own operator
// (operator_id may be omitted); admins must name the operator.
func handleCreateLot(log *slog.Logger, svc *lots.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, ok := currentUser(r)
		if !ok {
			return auth.ErrUnauthenticated
		}
		var req lotRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		lot, err := svc.CreateLot(r.Context(), me, lots.NewLot{OperatorID: req.OperatorID, Name: req.Name, Address: req.Address,
			Lat: req.Lat, Lng: req.Lng, TimeZone: req.TimeZone, Currency: req.Currency, Policy: policyChange(req.Policy)})
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/v1/lots/"+lot.ID)
		writeJSON(w, http.StatusCreated, lot)
		return nil
	})
}

type lotPatch struct {
	Name     *string         `json:"name"`
	Address  *string         `json:"address"`
	Lat      *float64        `json:"lat"`
	Lng      *float64        `json:"lng"`
	TimeZone *string         `json:"time_zone"`
	Currency *string         `json:"currency"`
	Policy   json.RawMessage `json:"policy"`
}

// handleUpdateLot changes the fields a request names. Inside a policy too, only
// the fields sent change, and a rate sent for one size leaves the other sizes'
// rates alone. The operator and creation time never change. The write is over
// the version read (versions.go): If-Match, when sent, must name it.
func handleUpdateLot(log *slog.Logger, svc *lots.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, ok := currentUser(r)
		if !ok {
			return auth.ErrUnauthenticated
		}
		var req lotPatch
		if err := decode(w, r, &req); err != nil {
			return err
		}
		change := lots.LotChange{Name: req.Name, Address: req.Address, Lat: req.Lat, Lng: req.Lng,
			TimeZone: req.TimeZone, Currency: req.Currency, Policy: policyChange(req.Policy)}
		p := ifMatch(r)
		var lot parking.Lot
		err := patchVersioned(p, func() (err error) {
			lot, err = svc.UpdateLot(r.Context(), me, r.PathValue("lot"), change, p.check)
			return err
		})
		if err != nil {
			return err
		}
		setETag(w, lot.Version)
		writeJSON(w, http.StatusOK, lot)
		return nil
	})
}

type levelRequest struct {
	Name    string  `json:"name"`
	Ordinal int     `json:"ordinal"`
	Width   float64 `json:"width"`
	Height  float64 `json:"height"`
}

func handleCreateLevel(log *slog.Logger, svc *lots.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, ok := currentUser(r)
		if !ok {
			return auth.ErrUnauthenticated
		}
		var req levelRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		lv, err := svc.CreateLevel(r.Context(), me, r.PathValue("lot"), lots.NewLevel(req))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, lv)
		return nil
	})
}

type levelPatch struct {
	Name    *string  `json:"name"`
	Ordinal *int     `json:"ordinal"`
	Width   *float64 `json:"width"`
	Height  *float64 `json:"height"`
}

// handleUpdateLevel changes the fields a request names, over the version read
// (versions.go).
func handleUpdateLevel(log *slog.Logger, svc *lots.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, ok := currentUser(r)
		if !ok {
			return auth.ErrUnauthenticated
		}
		var req levelPatch
		if err := decode(w, r, &req); err != nil {
			return err
		}
		p := ifMatch(r)
		var lv parking.Level
		err := patchVersioned(p, func() (err error) {
			lv, err = svc.UpdateLevel(r.Context(), me, r.PathValue("lot"), r.PathValue("level"), lots.LevelChange(req), p.check)
			return err
		})
		if err != nil {
			return err
		}
		setETag(w, lv.Version)
		writeJSON(w, http.StatusOK, lv)
		return nil
	})
}

// spotFields are the fields of a spot an operator sets, as sent. The size is
// text so that a bad one is reported with the index of its spot.
type spotFields struct {
	Label     *string   `json:"label"`
	Size      *string   `json:"size"`
	Lat       *float64  `json:"lat"`
	Lng       *float64  `json:"lng"`
	X         *float64  `json:"x"`
	Y         *float64  `json:"y"`
	Amenities *[]string `json:"amenities"`
}

type spotRequest struct {
	LevelID string `json:"level_id"`
	spotFields
	InService *bool `json:"in_service"` // default true
}

type spotsRequest struct {
	Spots []spotRequest `json:"spots"`
}

type spotsResponse struct {
	Spots []parking.Spot `json:"spots"`
}

// handleCreateSpots creates up to MaxSpotsPerRequest spots, all or none. Every
// problem of every spot is reported with its index ("spots[3].label").
func handleCreateSpots(log *slog.Logger, svc *lots.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, ok := currentUser(r)
		if !ok {
			return auth.ErrUnauthenticated
		}
		var req spotsRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		in := make([]lots.NewSpot, len(req.Spots))
		for i, sp := range req.Spots {
			in[i] = lots.NewSpot{LevelID: sp.LevelID, SpotChange: lots.SpotChange(sp.spotFields), InService: sp.InService}
		}
		spots, err := svc.CreateSpots(r.Context(), me, r.PathValue("lot"), in)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusCreated, spotsResponse{Spots: spots})
		return nil
	})
}

// handleUpdateSpot changes a spot's label, size, position or amenities. A spot
// cannot shrink below a vehicle booked on it now or later (409). Its level and
// service state do not change here. The write is over the version read
// (versions.go).
func handleUpdateSpot(log *slog.Logger, svc *lots.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, ok := currentUser(r)
		if !ok {
			return auth.ErrUnauthenticated
		}
		var req spotFields
		if err := decode(w, r, &req); err != nil {
			return err
		}
		p := ifMatch(r)
		var sp parking.Spot
		err := patchVersioned(p, func() (err error) {
			sp, err = svc.UpdateSpot(r.Context(), me, r.PathValue("lot"), r.PathValue("spot"), lots.SpotChange(req), p.check)
			return err
		})
		if err != nil {
			return err
		}
		setETag(w, sp.Version)
		writeJSON(w, http.StatusOK, sp)
		return nil
	})
}

type outOfServiceRequest struct {
	Force  bool   `json:"force"`
	Reason string `json:"reason"`
}

type outOfServiceResponse struct {
	Spot parking.Spot `json:"spot"`
	// Moved lists the reservations put on other spots that fit.
	Moved []string `json:"moved"`
	// Cancelled lists the reservations no other spot fitted, cancelled and
	// refunded in full (only with "force": true).
	Cancelled []string `json:"cancelled"`
	// Parked lists checked-in reservations whose cars are still in the spot;
	// they leave through the exit gate as usual, and the spot is out of
	// service from then on.
	Parked []string `json:"parked"`
	// Message says what happened, for the operator's screen.
	Message string `json:"message"`
}

// handleOutOfService stops a spot from being booked and moves its bookings to
// other spots that fit. When some fit no other spot it answers 409 unless the
// request says "force": true, which cancels and refunds those. The body may be
// empty: no force, no reason.
func handleOutOfService(log *slog.Logger, svc *lots.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, ok := currentUser(r)
		if !ok {
			return auth.ErrUnauthenticated
		}
		var req outOfServiceRequest
		if r.ContentLength != 0 {
			if err := decode(w, r, &req); err != nil {
				return err
			}
		}
		res, err := svc.TakeOutOfService(r.Context(), me, r.PathValue("lot"), r.PathValue("spot"), req.Force, req.Reason)
		if err != nil {
			return err
		}
		out := outOfServiceResponse{Spot: res.Spot, Moved: ids(res.Moved), Cancelled: ids(res.Cancelled), Parked: ids(res.Parked),
			Message: withdrawalMessage(res)}
		// The store keeps no reason with the change: the log is its record.
		log.InfoContext(r.Context(), "spot out of service", "lot", res.Spot.LotID, "spot", res.Spot.ID, "by", me.ID,
			"reason", req.Reason, "force", req.Force, "cancelled", out.Cancelled, "request_id", requestID(r.Context()))
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

// ids lists the ids of rs, never nil: an empty list is [] in JSON.
func ids(rs []parking.Reservation) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// withdrawalMessage says in a sentence what taking a spot out of service did.
func withdrawalMessage(w booking.Withdrawal) string {
	sp := w.Spot
	msg := "Spot " + sp.Label + " is out of service."
	if len(w.Parked) > 0 {
		msg = "Spot " + sp.Label + " takes no more bookings; a car is still parked there, and it is out of service once that car leaves."
	}
	if n := len(w.Moved); n > 0 {
		msg += " " + plural(n, "booking was", "bookings were") + " moved to other spots, and their drivers told."
	}
	if n := len(w.Cancelled); n > 0 {
		msg += " " + plural(n, "booking fitted", "bookings fitted") + " no other spot: cancelled and refunded in full."
	}
	return msg
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// handleInService lets a spot be booked again.
func handleInService(log *slog.Logger, svc *lots.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, ok := currentUser(r)
		if !ok {
			return auth.ErrUnauthenticated
		}
		sp, err := svc.ReturnToService(r.Context(), me, r.PathValue("lot"), r.PathValue("spot"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, sp)
		return nil
	})
}

// handleLotReservations lists a lot's reservations of any status whose window
// overlaps [from, to): by default from a day ago to a week ahead.
func handleLotReservations(log *slog.Logger, engine *booking.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		q := r.URL.Query()
		from, err := parseTime(q.Get("from"), "from", time.Time{})
		if err != nil {
			return err
		}
		to, err := parseTime(q.Get("to"), "to", time.Time{})
		if err != nil {
			return err
		}
		list, err := engine.LotReservations(r.Context(), me, r.PathValue("lot"), from, to)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, list)
		return nil
	})
}

type gateRequest struct {
	Name      string            `json:"name"`
	Direction parking.Direction `json:"direction"`
}

// handleCreateGate adds a gate device and answers its key. The key is shown
// only here: parkd keeps only its hash.
func handleCreateGate(log *slog.Logger, gates *gate.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		var req gateRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		g, err := gates.CreateGate(r.Context(), me, r.PathValue("lot"), req.Name, req.Direction)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusCreated, g)
		return nil
	})
}

func handleListGates(log *slog.Logger, gates *gate.Service) http.Handler {
	type response struct {
		Gates []parking.Gate `json:"gates"`
	}
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		list, err := gates.Gates(r.Context(), me, r.PathValue("lot"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, response{Gates: list})
		return nil
	})
}
