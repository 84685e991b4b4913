package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"parkd/internal/parking"
)

type vehicleRequest struct {
	Plate string       `json:"plate"`
	Size  parking.Size `json:"size"`
}

// validate checks the request and returns the plate as parkd keeps it.
func (v vehicleRequest) validate() (string, error) {
	var ve parking.ValidationError
	plate, err := parking.ParsePlate(v.Plate)
	ve.Merge(err)
	if !v.Size.Valid() {
		ve.Add("size", "is required: motorcycle, compact, standard or large")
	}
	return plate, ve.Err()
}

func handleListVehicles(log *slog.Logger, store parking.AccountStore) http.Handler {
	type response struct {
		Vehicles []parking.Vehicle `json:"vehicles"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := requirePathUser(w, r, log)
		if !ok {
			return
		}
		vs, err := store.Vehicles(r.Context(), id)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, response{Vehicles: vs})
	})
}

func handleCreateVehicle(log *slog.Logger, store parking.AccountStore, clock parking.Clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := requirePathUser(w, r, log)
		if !ok {
			return
		}
		var req vehicleRequest
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, log, err)
			return
		}
		plate, err := req.validate()
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		v := parking.Vehicle{ID: parking.NewID("veh"), UserID: id, Plate: plate, Size: req.Size, CreatedAt: clock.Now()}
		if err := store.CreateVehicle(r.Context(), &v); err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Location", "/api/v1/users/"+id+"/vehicles/"+v.ID)
		writeJSON(w, http.StatusCreated, v)
	})
}

// ownVehicle returns the vehicle if it belongs to userID and was not removed;
// anyone else's is not found.
func ownVehicle(r *http.Request, store parking.AccountStore, userID, vehicleID string) (parking.Vehicle, error) {
	v, err := store.Vehicle(r.Context(), vehicleID)
	if errors.Is(err, parking.ErrNotFound) || err == nil && v.UserID != userID {
		return parking.Vehicle{}, parking.Errorf(parking.ENOTFOUND, "vehicle not found")
	}
	return v, err
}

func handleDeleteVehicle(log *slog.Logger, store parking.AccountStore, clock parking.Clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := requirePathUser(w, r, log)
		if !ok {
			return
		}
		v, err := ownVehicle(r, store, id, r.PathValue("vehicle"))
		if err == nil {
			err = store.DeleteVehicle(r.Context(), v.ID, clock.Now())
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
