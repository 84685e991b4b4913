package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"parkd/internal/parking"
)

// managedLot returns the lot with the given id if u runs it. Lots are public, so
// an existing lot that u does not run is forbidden rather than not found.
func managedLot(ctx context.Context, store parking.LotStore, u parking.User, lotID string) (parking.Lot, error) {
	lot, err := store.Lot(ctx, lotID)
	if err != nil {
		return parking.Lot{}, err
	}
	if !u.Runs(lot) {
		return parking.Lot{}, parking.Errorf(parking.EFORBIDDEN, "you do not run this lot")
	}
	return lot, nil
}

// requireManagedLot returns the signed-in user and the lot {lot} they run, or
// answers 401, 403 or 404 and returns false.
func requireManagedLot(w http.ResponseWriter, r *http.Request, log *slog.Logger, store parking.LotStore) (parking.User, parking.Lot, bool) {
	me, ok := requireUser(w, r, log)
	if !ok {
		return me, parking.Lot{}, false
	}
	lot, err := managedLot(r.Context(), store, me, r.PathValue("lot"))
	if err != nil {
		writeError(w, r, log, err)
		return me, parking.Lot{}, false
	}
	return me, lot, true
}
