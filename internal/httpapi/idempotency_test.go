package httpapi_test

import (
	"bytes"
	"testing"

	"parkd/internal/parking"
	"parkd/internal/store/teststore"
)

// TestReplayAfterCompletion: a hold completes its key with the reservation's
// id in its own transaction and answers after the commit. A retry replays the
// first response byte for byte, whether its body was stored beside the id (and
// the reservation has moved on since) or not (the first request died after the
// commit), in which case the reservation is rendered again and stored.
func TestReplayAfterCompletion(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		userID := mustUserID(t, ada)

		// Stored body: the reservation is cancelled, the replay still the first answer.
		first := ada.must(201, "POST", "/api/v1/reservations", holdBody(e, e.fixture.Spots[5].ID, 1, 2), "Idempotency-Key", "key-1")
		var res parking.Reservation
		first.into(t, &res)
		ada.must(200, "POST", "/api/v1/reservations/"+res.ID+"/cancel", nil, "Idempotency-Key", "cancel-1")
		again := ada.must(201, "POST", "/api/v1/reservations", holdBody(e, e.fixture.Spots[5].ID, 1, 2), "Idempotency-Key", "key-1")
		if !bytes.Equal(again.body, first.body) || again.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay after cancelling = %s (replayed %q); want %s byte for byte, replayed", again.body, again.header.Get("Idempotent-Replayed"), first.body)
		}

		// No body stored, as when the first request died after the commit:
		// the key's reservation id alone answers, with the same bytes.
		second := ada.must(201, "POST", "/api/v1/reservations", holdBody(e, e.fixture.Spots[6].ID, 1, 2), "Idempotency-Key", "key-2")
		second.into(t, &res)
		if err := e.store.CompleteIdempotencyKey(t.Context(), userID, "key-2", 201, nil); err != nil {
			t.Fatalf("clear the stored body: %v", err)
		}
		rendered := ada.must(201, "POST", "/api/v1/reservations", holdBody(e, e.fixture.Spots[6].ID, 1, 2), "Idempotency-Key", "key-2")
		if !bytes.Equal(rendered.body, second.body) || rendered.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay from the reservation id = %s (replayed %q); want %s byte for byte, replayed", rendered.body, rendered.header.Get("Idempotent-Replayed"), second.body)
		}
		// That rendering is stored: later retries get it whatever becomes of the reservation.
		ada.must(200, "POST", "/api/v1/reservations/"+res.ID+"/cancel", nil, "Idempotency-Key", "cancel-2")
		if r := ada.must(201, "POST", "/api/v1/reservations", holdBody(e, e.fixture.Spots[6].ID, 1, 2), "Idempotency-Key", "key-2"); !bytes.Equal(r.body, second.body) {
			t.Errorf("replay after cancelling = %s; want %s", r.body, second.body)
		}
		var list struct{ Reservations []parking.Reservation }
		ada.must(200, "GET", "/api/v1/users/me/reservations", nil).into(t, &list)
		if len(list.Reservations) != 2 {
			t.Errorf("reservations after 2 holds and 4 retries = %d; want 2", len(list.Reservations))
		}
	})
}
