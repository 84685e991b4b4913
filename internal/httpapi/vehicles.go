package httpapi

import (
	"log/slog"
	"net/http"

	"parkd/internal/auth"
	"parkd/internal/parking"
)

type vehicleRequest struct {
	Plate string       `json:"plate"`
	Size  parking.Size `json:"size"`
}

func handleListVehicles(log *slog.Logger, authn *auth.Service) http.Handler {
	type response struct {
		Vehicles []parking.Vehicle `json:"vehicles"`
	}
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUser(r)
		if err != nil {
			return err
		}
		vs, err := authn.Vehicles(r.Context(), id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, response{Vehicles: vs})
		return nil
	})
}

func handleCreateVehicle(log *slog.Logger, authn *auth.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUser(r)
		if err != nil {
			return err
		}
		var req vehicleRequest
		if err := decode(w, r, &req); err != nil {
			return err
		}
		v, err := authn.AddVehicle(r.Context(), id, req.Plate, req.Size)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/v1/users/"+id+"/vehicles/"+v.ID)
		writeJSON(w, http.StatusCreated, v)
		return nil
	})
}

func handleDeleteVehicle(log *slog.Logger, authn *auth.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUser(r)
		if err != nil {
			return err
		}
		if err := authn.RemoveVehicle(r.Context(), id, r.PathValue("vehicle")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
