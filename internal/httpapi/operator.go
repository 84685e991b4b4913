package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"parkd/internal/auth"
	"parkd/internal/booking"
	"parkd/internal/parking"
	"parkd/internal/payments"
)

// Limits on what an operator may send.
const (
	// MaxSpotsPerRequest is the most spots one bulk create may hold.
	MaxSpotsPerRequest = 5000
	// MaxLevelOrdinal bounds a level's ordinal both ways.
	MaxLevelOrdinal = 1000
	// MaxReservationsWindow is the longest window the lot reservations list covers.
	MaxReservationsWindow = 31 * 24 * time.Hour
	// maxFieldErrors: a batch with thousands of bad rows answers with the first
	// problems, not a megabyte of them.
	maxFieldErrors = 100
)

// forbidNonManagers refuses anyone who runs no lot at all.
func forbidNonManagers(u parking.User) error {
	if u.Role == parking.RoleAdmin || u.Role == parking.RoleOperator && u.OperatorID != "" {
		return nil
	}
	return parking.Errorf(parking.EFORBIDDEN, "only operators and admins manage lots")
}

// policyJSON is parking.Policy without its UnmarshalJSON, so that the strict
// decoder refuses unknown fields inside a policy too: a misspelt field must
// not silently become its default.
type policyJSON parking.Policy

// decodePolicy reads a policy object over base: a field it omits keeps base's
// value (the defaults for a new lot, the current policy for an edit), and a
// size it names in rates replaces that size's rate only.
func decodePolicy(raw json.RawMessage, base parking.Policy) (parking.Policy, error) {
	if len(raw) == 0 || raw[0] != '{' {
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

// given reports whether an optional JSON value was sent, and not as null.
func given(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// checkLot adds every invalid field of l to ve. It checks what Lot.Validate
// checks, field by field, so that a form can show them all at once.
func checkLot(ve *parking.ValidationError, l parking.Lot) {
	checkText(ve, "name", l.Name, 200, true)
	checkText(ve, "address", l.Address, 500, true)
	if l.Lat < -90 || l.Lat > 90 {
		ve.Add("lat", "must be between -90 and 90")
	}
	if l.Lng < -180 || l.Lng > 180 {
		ve.Add("lng", "must be between -180 and 180")
	}
	if !currencyCode.MatchString(l.Currency) {
		ve.Add("currency", "must be an ISO 4217 code such as USD")
	}
	// "Local" would be the server's own zone, whatever that happens to be.
	if _, err := time.LoadLocation(l.TimeZone); err != nil || l.TimeZone == "" || l.TimeZone == "Local" {
		ve.Add("time_zone", "must be an IANA time zone such as America/New_York")
	}
	if err := l.Policy.Validate(); err != nil {
		ve.Add("policy", parking.ErrorMessage(err))
	}
	if len(ve.Fields) == 0 {
		if err := l.Validate(); err != nil { // a rule of the domain not checked above
			ve.Add("lot", parking.ErrorMessage(err))
		}
	}
}

// checkText adds a problem with a text field that is required and empty, or longer than max characters.
func checkText(ve *parking.ValidationError, field, v string, max int, required bool) {
	switch n := utf8.RuneCountInString(strings.TrimSpace(v)); {
	case n == 0 && required:
		ve.Add(field, "is required")
	case n > max:
		ve.Add(field, fmt.Sprintf("must be at most %d characters", max))
	}
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
func handleCreateLot(log *slog.Logger, store parking.LotStore, clock parking.Clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := requireUser(w, r, log)
		if !ok {
			return
		}
		if err := forbidNonManagers(me); err != nil {
			writeError(w, r, log, err)
			return
		}
		var req lotRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, log, err)
			return
		}
		lot := parking.Lot{
			ID: parking.NewID("lot"), OperatorID: strings.TrimSpace(req.OperatorID), Name: strings.TrimSpace(req.Name),
			Address: strings.TrimSpace(req.Address), TimeZone: strings.TrimSpace(req.TimeZone),
			Currency: strings.ToUpper(strings.TrimSpace(req.Currency)), Policy: parking.DefaultPolicy(), CreatedAt: clock.Now(),
		}
		if me.Role == parking.RoleOperator {
			if lot.OperatorID != "" && lot.OperatorID != me.OperatorID {
				writeError(w, r, log, parking.Errorf(parking.EFORBIDDEN, "you may create lots only for your own operator"))
				return
			}
			lot.OperatorID = me.OperatorID
		}
		if given(req.Policy) {
			p, err := decodePolicy(req.Policy, parking.DefaultPolicy())
			if err != nil {
				writeError(w, r, log, err)
				return
			}
			lot.Policy = p
		}
		var ve parking.ValidationError
		if req.Lat != nil {
			lot.Lat = *req.Lat
		}
		if req.Lng != nil {
			lot.Lng = *req.Lng
		}
		checkLot(&ve, lot)
		if req.Lat == nil {
			ve.Add("lat", "is required")
		}
		if req.Lng == nil {
			ve.Add("lng", "is required")
		}
		if lot.OperatorID == "" {
			ve.Add("operator_id", "is required: the id of the operator who runs the lot")
		} else if _, err := store.Operator(r.Context(), lot.OperatorID); errors.Is(err, parking.ErrNotFound) {
			ve.Add("operator_id", "no operator has this id")
		} else if err != nil {
			writeError(w, r, log, err)
			return
		}
		if err := ve.Err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		if err := store.CreateLot(r.Context(), &lot); err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Location", "/api/v1/lots/"+lot.ID)
		writeJSON(w, http.StatusCreated, lot)
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
func handleUpdateLot(log *slog.Logger, store parking.LotStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, lot, ok := requireManagedLot(w, r, log, store)
		if !ok {
			return
		}
		var req lotPatch
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, log, err)
			return
		}
		p := ifMatch(r)
		fresh := true // the first attempt uses the lot read to authorize
		err := patchVersioned(p, func() (err error) {
			if !fresh {
				if lot, err = store.Lot(r.Context(), lot.ID); err != nil {
					return err
				}
			}
			fresh = false
			if err := p.check(lot.Version); err != nil {
				return err
			}
			setTrimmed(&lot.Name, req.Name)
			setTrimmed(&lot.Address, req.Address)
			setTrimmed(&lot.TimeZone, req.TimeZone)
			if req.Currency != nil {
				lot.Currency = strings.ToUpper(strings.TrimSpace(*req.Currency))
			}
			set(&lot.Lat, req.Lat)
			set(&lot.Lng, req.Lng)
			if given(req.Policy) {
				if lot.Policy, err = decodePolicy(req.Policy, lot.Policy); err != nil {
					return err
				}
			}
			var ve parking.ValidationError
			if checkLot(&ve, lot); ve.Err() != nil {
				return ve.Err()
			}
			return store.UpdateLot(r.Context(), &lot)
		})
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		setETag(w, lot.Version)
		writeJSON(w, http.StatusOK, lot)
	})
}

// set copies *v to *dst when v is given.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func setTrimmed(dst *string, v *string) {
	if v != nil {
		*dst = strings.TrimSpace(*v)
	}
}

func validateLevel(l parking.Level) error {
	var ve parking.ValidationError
	checkText(&ve, "name", l.Name, 100, true)
	// The databases keep a 32-bit integer; no garage has a thousand floors.
	if l.Ordinal < -MaxLevelOrdinal || l.Ordinal > MaxLevelOrdinal {
		ve.Add("ordinal", fmt.Sprintf("must be between %d and %d", -MaxLevelOrdinal, MaxLevelOrdinal))
	}
	if l.Width < 0 {
		ve.Add("width", "must not be negative")
	}
	if l.Height < 0 {
		ve.Add("height", "must not be negative")
	}
	return ve.Err()
}

type levelRequest struct {
	Name    string  `json:"name"`
	Ordinal int     `json:"ordinal"`
	Width   float64 `json:"width"`
	Height  float64 `json:"height"`
}

func handleCreateLevel(log *slog.Logger, store parking.LotStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, lot, ok := requireManagedLot(w, r, log, store)
		if !ok {
			return
		}
		var req levelRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, log, err)
			return
		}
		lv := parking.Level{ID: parking.NewID("lvl"), LotID: lot.ID, Name: strings.TrimSpace(req.Name), Ordinal: req.Ordinal, Width: req.Width, Height: req.Height}
		if err := validateLevel(lv); err != nil {
			writeError(w, r, log, err)
			return
		}
		if err := store.CreateLevel(r.Context(), &lv); err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusCreated, lv)
	})
}

type levelPatch struct {
	Name    *string  `json:"name"`
	Ordinal *int     `json:"ordinal"`
	Width   *float64 `json:"width"`
	Height  *float64 `json:"height"`
}

// lotLevel returns the level with the given id if it belongs to lot.
func lotLevel(ctx context.Context, store parking.LotStore, lotID, levelID string) (parking.Level, error) {
	levels, err := store.Levels(ctx, lotID)
	if err != nil {
		return parking.Level{}, err
	}
	for _, l := range levels {
		if l.ID == levelID {
			return l, nil
		}
	}
	return parking.Level{}, parking.Errorf(parking.ENOTFOUND, "level not found in this lot")
}

// handleUpdateLevel changes the fields a request names, over the version read
// (versions.go).
func handleUpdateLevel(log *slog.Logger, store parking.LotStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, lot, ok := requireManagedLot(w, r, log, store)
		if !ok {
			return
		}
		if _, err := lotLevel(r.Context(), store, lot.ID, r.PathValue("level")); err != nil {
			writeError(w, r, log, err)
			return
		}
		var req levelPatch
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, log, err)
			return
		}
		p := ifMatch(r)
		var lv parking.Level
		err := patchVersioned(p, func() (err error) {
			if lv, err = lotLevel(r.Context(), store, lot.ID, r.PathValue("level")); err != nil {
				return err
			}
			if err := p.check(lv.Version); err != nil {
				return err
			}
			setTrimmed(&lv.Name, req.Name)
			set(&lv.Ordinal, req.Ordinal)
			set(&lv.Width, req.Width)
			set(&lv.Height, req.Height)
			if err := validateLevel(lv); err != nil {
				return err
			}
			return store.UpdateLevel(r.Context(), &lv)
		})
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		setETag(w, lv.Version)
		writeJSON(w, http.StatusOK, lv)
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

// apply sets the given fields on sp and adds their problems to ve, each named
// with prefix ("spots[3]." in a batch).
func (f spotFields) apply(sp *parking.Spot, ve *parking.ValidationError, prefix string) {
	if f.Label != nil {
		sp.Label = strings.TrimSpace(*f.Label)
		checkText(ve, prefix+"label", sp.Label, 50, true)
	}
	if f.Size != nil {
		size, err := parking.ParseSize(*f.Size)
		if err != nil {
			ve.Add(prefix+"size", "must be motorcycle, compact, standard or large (or small, medium, SUV, ...)")
		}
		sp.Size = size
	}
	set(&sp.Lat, f.Lat)
	set(&sp.Lng, f.Lng)
	set(&sp.X, f.X)
	set(&sp.Y, f.Y)
	if sp.Lat < -90 || sp.Lat > 90 {
		ve.Add(prefix+"lat", "must be between -90 and 90")
	}
	if sp.Lng < -180 || sp.Lng > 180 {
		ve.Add(prefix+"lng", "must be between -180 and 180")
	}
	if sp.X < 0 {
		ve.Add(prefix+"x", "must not be negative: it is a position on the level plan")
	}
	if sp.Y < 0 {
		ve.Add(prefix+"y", "must not be negative: it is a position on the level plan")
	}
	if f.Amenities != nil {
		sp.Amenities = normalizeAmenities(*f.Amenities, ve, prefix+"amenities")
	}
}

// normalizeAmenities lower-cases and trims amenities and drops repeats.
func normalizeAmenities(in []string, ve *parking.ValidationError, field string) []string {
	if len(in) > 16 {
		ve.Add(field, "must hold at most 16 amenities")
	}
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, a := range in {
		a = strings.ToLower(strings.TrimSpace(a))
		switch {
		case a == "" || utf8.RuneCountInString(a) > 32:
			ve.Add(field, "each amenity must be 1 to 32 characters, such as \"ev\" or \"covered\"")
		case !seen[a]:
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
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
func handleCreateSpots(log *slog.Logger, store parking.LotStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, lot, ok := requireManagedLot(w, r, log, store)
		if !ok {
			return
		}
		var req spotsRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, log, err)
			return
		}
		switch n := len(req.Spots); {
		case n == 0:
			writeError(w, r, log, &parking.ValidationError{Fields: []parking.FieldError{{Field: "spots", Message: "give at least one spot"}}})
			return
		case n > MaxSpotsPerRequest:
			writeError(w, r, log, &parking.ValidationError{Fields: []parking.FieldError{{Field: "spots",
				Message: fmt.Sprintf("holds %d spots; send at most %d per request", n, MaxSpotsPerRequest)}}})
			return
		}
		levels, err := store.Levels(r.Context(), lot.ID)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		existing, err := store.Spots(r.Context(), lot.ID)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		ofLot := make(map[string]bool, len(levels))
		for _, l := range levels {
			ofLot[l.ID] = true
		}
		taken := make(map[string]bool, len(existing))
		for _, sp := range existing {
			taken[sp.Label] = true
		}

		var ve parking.ValidationError
		labels := make(map[string]int, len(req.Spots))
		spots := make([]parking.Spot, len(req.Spots))
		for i, in := range req.Spots {
			if len(ve.Fields) >= maxFieldErrors {
				ve.Add("spots", fmt.Sprintf("stopped at spots[%d] after %d problems: fix these and send again", i, len(ve.Fields)))
				break
			}
			prefix := fmt.Sprintf("spots[%d].", i)
			sp := parking.Spot{ID: parking.NewID("spt"), LotID: lot.ID, LevelID: in.LevelID, Amenities: []string{}, InService: true}
			set(&sp.InService, in.InService)
			if in.Label == nil {
				ve.Add(prefix+"label", "is required")
			}
			if in.Size == nil {
				ve.Add(prefix+"size", "is required: motorcycle, compact, standard or large")
			}
			in.apply(&sp, &ve, prefix)
			switch {
			case sp.LevelID == "":
				ve.Add(prefix+"level_id", "is required")
			case !ofLot[sp.LevelID]:
				ve.Add(prefix+"level_id", "is not a level of this lot")
			}
			if j, dup := labels[sp.Label]; dup && sp.Label != "" {
				ve.Add(prefix+"label", fmt.Sprintf("%q repeats spots[%d].label: labels are unique in a lot", sp.Label, j))
			} else if taken[sp.Label] {
				ve.Add(prefix+"label", fmt.Sprintf("%q is already the label of a spot in this lot", sp.Label))
			} else {
				labels[sp.Label] = i
			}
			if sp.Size.Valid() && sp.Label != "" {
				if err := sp.Validate(); err != nil { // a rule of the domain not checked above
					ve.Add(strings.TrimSuffix(prefix, "."), parking.ErrorMessage(err))
				}
			}
			spots[i] = sp
		}
		if err := ve.Err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		if err := store.CreateSpots(r.Context(), spots); err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusCreated, spotsResponse{Spots: spots})
	})
}

// lotSpot returns the spot with the given id if it belongs to lot.
func lotSpot(ctx context.Context, store parking.LotStore, lotID, spotID string) (parking.Spot, error) {
	sp, err := store.Spot(ctx, spotID)
	if errors.Is(err, parking.ErrNotFound) || err == nil && sp.LotID != lotID {
		return parking.Spot{}, parking.Errorf(parking.ENOTFOUND, "spot not found in this lot")
	}
	return sp, err
}

// handleUpdateSpot changes a spot's label, size, position or amenities. A spot
// cannot shrink below a vehicle booked on it now or later (409). Its level and
// service state do not change here. The write is over the version read
// (versions.go).
func handleUpdateSpot(log *slog.Logger, store parking.LotStore, engine *booking.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, lot, ok := requireManagedLot(w, r, log, store)
		if !ok {
			return
		}
		if _, err := lotSpot(r.Context(), store, lot.ID, r.PathValue("spot")); err != nil {
			writeError(w, r, log, err)
			return
		}
		var req spotFields
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, log, err)
			return
		}
		p := ifMatch(r)
		var sp parking.Spot
		err := patchVersioned(p, func() error {
			old, err := lotSpot(r.Context(), store, lot.ID, r.PathValue("spot"))
			if err != nil {
				return err
			}
			if err := p.check(old.Version); err != nil {
				return err
			}
			sp = old
			sp.Amenities = append([]string{}, old.Amenities...)
			var ve parking.ValidationError
			req.apply(&sp, &ve, "")
			if sp.Label != old.Label && ve.Err() == nil {
				others, err := store.Spots(r.Context(), lot.ID)
				if err != nil {
					return err
				}
				for _, o := range others {
					if o.Label == sp.Label && o.ID != sp.ID {
						ve.Add("label", fmt.Sprintf("%q is already the label of a spot in this lot", sp.Label))
					}
				}
			}
			if err := ve.Err(); err != nil {
				return err
			}
			if err := sp.Validate(); err != nil {
				return &parking.ValidationError{Fields: []parking.FieldError{{Field: "spot", Message: parking.ErrorMessage(err)}}}
			}
			return engine.UpdateSpot(r.Context(), old, &sp)
		})
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		setETag(w, sp.Version)
		writeJSON(w, http.StatusOK, sp)
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
func handleOutOfService(log *slog.Logger, store parking.LotStore, engine *booking.Service, pay *payments.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, lot, ok := requireManagedLot(w, r, log, store)
		if !ok {
			return
		}
		sp, err := lotSpot(r.Context(), store, lot.ID, r.PathValue("spot"))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		var req outOfServiceRequest
		if r.ContentLength != 0 {
			if err := decode(w, r, &req); err != nil {
				writeError(w, r, log, err)
				return
			}
		}
		var ve parking.ValidationError
		checkText(&ve, "reason", req.Reason, 500, false)
		if err := ve.Err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		res, err := engine.TakeOutOfService(r.Context(), sp, req.Force)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		out := outOfServiceResponse{Spot: res.Spot, Moved: []string{}, Cancelled: []string{}, Parked: []string{}}
		for _, m := range res.Moved {
			out.Moved = append(out.Moved, m.ID)
		}
		for _, c := range res.Cancelled {
			out.Cancelled = append(out.Cancelled, c.ID)
			// The operator cancelled, not the driver: the money goes back in
			// full, whatever the cancellation cut-off.
			if _, err := pay.RefundReservation(r.Context(), c.ID); err != nil {
				log.ErrorContext(r.Context(), "refund a reservation cancelled by an operator", "reservation", c.ID, "err", err)
			}
		}
		for _, p := range res.Parked {
			out.Parked = append(out.Parked, p.ID)
		}
		out.Message = withdrawalMessage(sp, res)
		// The store keeps no reason with the change: the log is its record.
		log.InfoContext(r.Context(), "spot out of service", "lot", lot.ID, "spot", sp.ID, "by", me.ID,
			"reason", req.Reason, "force", req.Force, "cancelled", out.Cancelled, "request_id", requestID(r.Context()))
		writeJSON(w, http.StatusOK, out)
	})
}

// withdrawalMessage says in a sentence what taking sp out of service did.
func withdrawalMessage(sp parking.Spot, w booking.Withdrawal) string {
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
func handleInService(log *slog.Logger, store parking.LotStore, engine *booking.Service) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, lot, ok := requireManagedLot(w, r, log, store)
		if !ok {
			return
		}
		sp, err := lotSpot(r.Context(), store, lot.ID, r.PathValue("spot"))
		if err == nil {
			sp, err = engine.ReturnToService(r.Context(), sp)
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, sp)
	})
}

// handleLotReservations lists a lot's reservations of any status whose window
// overlaps [from, to): by default from a day ago to a week ahead.
func handleLotReservations(log *slog.Logger, store lotReservationStore, clock parking.Clock) http.Handler {
	type response struct {
		From         time.Time             `json:"from"`
		To           time.Time             `json:"to"`
		Reservations []parking.Reservation `json:"reservations"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, lot, ok := requireManagedLot(w, r, log, store)
		if !ok {
			return
		}
		q := r.URL.Query()
		from, err := parseTime(q.Get("from"), "from", clock.Now().Add(-24*time.Hour))
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		to, err := parseTime(q.Get("to"), "to", from.Add(8*24*time.Hour))
		switch {
		case err != nil:
		case !to.After(from):
			err = parking.Errorf(parking.EINVALID, "to must be after from")
		case to.Sub(from) > MaxReservationsWindow:
			err = parking.Errorf(parking.EINVALID, "the window from..to must be at most %d days", int(MaxReservationsWindow/(24*time.Hour)))
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		rs, err := store.LotReservations(r.Context(), lot.ID, from, to)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, response{From: from, To: to, Reservations: rs})
	})
}

type gateRequest struct {
	Name      string            `json:"name"`
	Direction parking.Direction `json:"direction"`
}

// handleCreateGate adds a gate device and answers its key. The key is shown
// only here: parkd keeps only its hash.
func handleCreateGate(log *slog.Logger, store lotGateStore, clock parking.Clock) http.Handler {
	type response struct {
		Gate parking.Gate `json:"gate"`
		Key  string       `json:"key"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, lot, ok := requireManagedLot(w, r, log, store)
		if !ok {
			return
		}
		var req gateRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, log, err)
			return
		}
		var ve parking.ValidationError
		checkText(&ve, "name", req.Name, 100, true)
		if req.Direction != parking.Entry && req.Direction != parking.Exit {
			ve.Add("direction", `must be "entry" or "exit"`)
		}
		if err := ve.Err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		key, hash := auth.NewGateKey()
		g := parking.Gate{ID: parking.NewID("gat"), LotID: lot.ID, Name: strings.TrimSpace(req.Name), Direction: req.Direction, KeyHash: hash, CreatedAt: clock.Now()}
		if err := store.CreateGate(r.Context(), &g); err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusCreated, response{Gate: g, Key: key})
	})
}

func handleListGates(log *slog.Logger, store lotGateStore) http.Handler {
	type response struct {
		Gates []parking.Gate `json:"gates"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, lot, ok := requireManagedLot(w, r, log, store)
		if !ok {
			return
		}
		gates, err := store.Gates(r.Context(), lot.ID)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, response{Gates: gates})
	})
}
