package httpapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"parkd/internal/auth"
	"parkd/internal/booking"
	"parkd/internal/parking"
	"parkd/internal/payments"
)

type reservationRequest struct {
	LotID     string       `json:"lot_id"`
	SpotID    string       `json:"spot_id"`
	Size      parking.Size `json:"size"`
	VehicleID string       `json:"vehicle_id"`
	Plate     string       `json:"plate"`
	StartsAt  time.Time    `json:"starts_at"`
	EndsAt    time.Time    `json:"ends_at"`
	// Amenities, for "any spot", are what the spot must have.
	Amenities []string `json:"amenities"`
}

// holdRequest checks the request's fields together and resolves the vehicle.
func (req reservationRequest) holdRequest(r *http.Request, authn *auth.Service, me parking.User) (booking.HoldRequest, error) {
	var ve parking.ValidationError
	if req.LotID == "" {
		ve.Add("lot_id", "is required")
	}
	if req.StartsAt.IsZero() {
		ve.Add("starts_at", "is required: an RFC 3339 time")
	}
	if req.EndsAt.IsZero() {
		ve.Add("ends_at", "is required: an RFC 3339 time")
	}
	hold := booking.HoldRequest{LotID: req.LotID, SpotID: req.SpotID, UserID: me.ID, StartsAt: req.StartsAt, EndsAt: req.EndsAt,
		Amenities: req.Amenities}
	for _, a := range req.Amenities {
		if a == "" || len(a) > 32 {
			ve.Add("amenities", "each must be a name of at most 32 characters, such as ev or accessible")
			break
		}
	}
	switch {
	case req.VehicleID != "":
		v, err := authn.OwnVehicle(r.Context(), me.ID, req.VehicleID)
		if err != nil {
			return hold, err
		}
		hold.VehicleID, hold.Plate, hold.VehicleSize = v.ID, v.Plate, v.Size
	case req.Plate != "":
		plate, err := parking.ParsePlate(req.Plate)
		ve.Merge(err)
		hold.Plate, hold.VehicleSize = plate, req.Size
		if !req.Size.Valid() {
			ve.Add("size", "is required with a plate: motorcycle, compact, standard or large")
		}
	default:
		ve.Add("vehicle_id", "give vehicle_id, or plate and size")
	}
	return hold, ve.Err()
}

// encodeBody renders v as parkd renders every JSON body, so that a response
// rendered again for an idempotency key's retry is byte for byte the one sent.
func encodeBody(v any) ([]byte, error) {
	var b bytes.Buffer
	err := json.NewEncoder(&b).Encode(v)
	return b.Bytes(), err
}

// handleCreateReservation holds a spot. With an idempotency key, the hold
// records the key, with the reservation's id and these very response bytes,
// in its own transaction (see withHoldIdempotency), so a retry can never book
// twice and replays this answer whatever becomes of the reservation.
func handleCreateReservation(log *slog.Logger, authn *auth.Service, engine *booking.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, ok := currentUser(r)
		if !ok {
			return auth.ErrUnauthenticated
		}
		var req reservationRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		hold, err := req.holdRequest(r, authn, me)
		if err != nil {
			return err
		}
		hold.Key = keyRecord(r, http.StatusCreated)
		res, err := engine.Hold(r.Context(), hold)
		if err != nil && answerRecordedKey(w, r) {
			return nil
		}
		if err != nil {
			return err
		}
		body, err := heldBody(r, res)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", "/api/v1/reservations/"+res.ID)
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
		return nil
	})
}

// handleGetReservation answers a reservation the caller may see
// (booking.Service.VisibleReservation).
func handleGetReservation(log *slog.Logger, engine *booking.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		res, err := engine.VisibleReservation(r.Context(), me, r.PathValue("reservation"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, res)
		return nil
	})
}

// handleCancelReservation cancels a held or confirmed reservation; the spot is
// free at once, and the lot's policy decides the refund.
func handleCancelReservation(log *slog.Logger, pay *payments.Service) http.Handler {
	type response struct {
		parking.Reservation
		Refund *parking.Payment `json:"refund,omitempty"`
	}
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		res, refund, err := pay.CancelReservation(r.Context(), me, r.PathValue("reservation"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, response{Reservation: res, Refund: refund})
		return nil
	})
}

func handleUserReservations(log *slog.Logger, engine *booking.Service) http.Handler {
	type response struct {
		Reservations []parking.Reservation `json:"reservations"`
	}
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUser(r)
		if err != nil {
			return err
		}
		rs, err := engine.UserReservations(r.Context(), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, response{Reservations: rs})
		return nil
	})
}

func handleUserPayments(log *slog.Logger, pay *payments.Service) http.Handler {
	type response struct {
		Payments []paymentView `json:"payments"`
	}
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUser(r)
		if err != nil {
			return err
		}
		ps, err := pay.UserPayments(r.Context(), id)
		if err != nil {
			return err
		}
		views := make([]paymentView, len(ps))
		for i, p := range ps {
			views[i] = viewPayment(p)
		}
		writeJSON(w, http.StatusOK, response{Payments: views})
		return nil
	})
}
