package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/payments"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

func extend(c *client, resID string, end time.Time, method, key string) response {
	body := map[string]any{"ends_at": end}
	if method != "" {
		body["payment_method"] = method
	}
	return c.do("POST", "/api/v1/reservations/"+resID+"/extension", body, "Idempotency-Key", key)
}

// TestExtendStay: an extension costs the difference between the two windows'
// prices, is charged once however many requests race for it, moves the
// booking after it or is refused with nothing changed, and moves the start
// of the overstay charge.
func TestExtendStay(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		bob := signUp(t, e.srv.URL, "Bob", "bob@example.com")
		r, _ := paidPass(t, e, ada, 5, 1, 3) // S1 for [1h, 3h)
		p := e.fixture.Lot.Policy

		// Price: the longer window's less the original's.
		end := r.EndsAt.Add(75 * time.Minute)
		var out payments.Extension
		ada.must(200, "POST", "/api/v1/reservations/"+r.ID+"/extension", map[string]any{"ends_at": end, "payment_method": payments.CardVisa},
			"Idempotency-Key", "ext-1").into(t, &out)
		longer, _ := p.Price(parking.Standard, r.StartsAt, end)
		shorter, _ := p.Price(parking.Standard, r.StartsAt, r.EndsAt)
		if out.Amount != longer-shorter || out.Payment == nil || out.Payment.Amount != out.Amount ||
			out.Payment.Status != parking.PaymentSucceeded || !out.Reservation.EndsAt.Equal(end) {
			t.Errorf("extension = %+v; want %d (%d - %d) charged and the end %v", out, longer-shorter, longer, shorter, end)
		}

		// Twenty requests with different keys race for one more hour: one charge.
		end2 := end.Add(time.Hour)
		var wg sync.WaitGroup
		statuses := make([]int, 20)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = extend(ada, r.ID, end2, payments.CardVisa, fmt.Sprintf("race-%d", i)).status
			}()
		}
		wg.Wait()
		for _, s := range statuses {
			if s != http.StatusOK && s != http.StatusConflict {
				t.Errorf("racing extensions answered %v; want only 200 and 409", statuses)
				break
			}
		}
		ps, _ := e.store.ReservationPayments(t.Context(), r.ID)
		charged := map[string]bool{}
		for _, p := range ps {
			if p.ExtendsTo != nil && p.ExtendsTo.Equal(end2) && p.Status != parking.PaymentFailed {
				charged[p.ID] = true
			}
		}
		charges, _ := e.sandbox.Charges(t.Context(), storetest.T0.Add(-time.Hour))
		gateway := 0
		for _, c := range charges {
			if charged[c.PaymentID] {
				gateway++
			}
		}
		if len(charged) != 1 || gateway != 1 {
			t.Errorf("20 racing extensions made %d charges (%d at the gateway); want exactly 1", len(charged), gateway)
		}
		var got parking.Reservation
		ada.must(200, "GET", "/api/v1/reservations/"+r.ID, nil).into(t, &got)
		if !got.EndsAt.Equal(end2) {
			t.Errorf("after the race the end is %v; want %v", got.EndsAt, end2)
		}

		// Bob booked the spot right after: he is moved to another spot
		// that fits. When none fits, 409 and nothing changes.
		var next parking.Reservation
		bob.must(201, "POST", "/api/v1/reservations", holdBody(e, e.fixture.Spots[5].ID, 6, 8), "Idempotency-Key", "bob-1").into(t, &next)
		if resp := pay(bob, next.ID, payments.CardVisa); resp.status != 201 {
			t.Fatalf("bob pays = %d %s", resp.status, resp.body)
		}
		end3 := next.StartsAt.Add(30 * time.Minute)
		ada.must(200, "POST", "/api/v1/reservations/"+r.ID+"/extension", map[string]any{"ends_at": end3, "payment_method": payments.CardVisa},
			"Idempotency-Key", "ext-3").into(t, &out)
		var moved parking.Reservation
		bob.must(200, "GET", "/api/v1/reservations/"+next.ID, nil).into(t, &moved)
		if out.Moved != 1 || moved.SpotID == next.SpotID || moved.MovedFrom != next.SpotID || moved.ChangeReason != parking.ReasonExtension {
			t.Errorf("extension into Bob's booking: moved %d, Bob's booking %+v; want it moved off %s", out.Moved, moved, next.SpotID)
		}
		for _, sp := range e.fixture.Spots { // fill every spot Carol's booking could move to
			if sp.ID != r.SpotID && parking.Standard.Fits(sp.Size) {
				e.fixture.MustConfirmed(t, e.store, sp.ID, storetest.T0.Add(9*time.Hour), storetest.T0.Add(11*time.Hour))
			}
		}
		carol := e.fixture.MustConfirmed(t, e.store, r.SpotID, storetest.T0.Add(9*time.Hour), storetest.T0.Add(11*time.Hour))
		before, _ := e.store.ReservationPayments(t.Context(), r.ID)
		resp := extend(ada, r.ID, storetest.T0.Add(10*time.Hour), payments.CardVisa, "ext-4")
		if resp.status != 409 || resp.problem().Code != parking.ESPOTUNAVAILABLE {
			t.Errorf("extension into a booking no spot fits = %d %s; want 409 spot_unavailable", resp.status, resp.body)
		}
		after, _ := e.store.ReservationPayments(t.Context(), r.ID)
		if c, _ := e.store.Reservation(t.Context(), carol.ID); c.SpotID != r.SpotID || len(after) != len(before) {
			t.Errorf("a refused extension changed things: Carol on %s, %d payments (was %d)", c.SpotID, len(after), len(before))
		}
		if cur, _ := e.store.Reservation(t.Context(), r.ID); !cur.EndsAt.Equal(end3) {
			t.Errorf("a refused extension moved the end to %v; want %v", cur.EndsAt, end3)
		}
		// Past max_stay: refused with its code.
		if resp := extend(ada, r.ID, r.StartsAt.Add(25*time.Hour), payments.CardVisa, "ext-5"); resp.problem().Code != parking.ESTAYTOOLONG {
			t.Errorf("extension past max_stay = %d %s; want stay_too_long", resp.status, resp.body)
		}
	})
}

// TestExtendMovesOverstay: the overstay charge at the exit counts from the
// extended end.
func TestExtendMovesOverstay(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		in, entry := mustGate(t, e, parking.Entry)
		out, exit := mustGate(t, e, parking.Exit)
		r, pass := paidPass(t, e, ada, 5, 1, 3)
		e.clock.Set(r.StartsAt)
		if d := scan(t, in, entry, map[string]any{"code": pass.Code}); d.Decision != parking.Open {
			t.Fatalf("entry = %+v", d)
		}
		newEnd := r.EndsAt.Add(2 * time.Hour)
		ada.must(200, "POST", "/api/v1/reservations/"+r.ID+"/extension", map[string]any{"ends_at": newEnd, "payment_method": payments.CardVisa},
			"Idempotency-Key", "ext-in")
		e.clock.Set(r.EndsAt.Add(90 * time.Minute)) // past the old end and its grace, before the new end
		if d := scan(t, out, exit, map[string]any{"code": pass.Code}); d.Decision != parking.Open || d.AmountDue != 0 || d.Paid != 0 {
			t.Errorf("exit before the extended end = %+v; want open with nothing due", d)
		}
	})
}

// TestGateBehindOverstay: a booking an overstaying car stands in front of is
// moved before its driver may arrive, and the gate sends the driver to the
// new spot; a driver who comes early while the car before is still inside
// gets another spot at the gate.
func TestGateBehindOverstay(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		bob := signUp(t, e.srv.URL, "Bob", "bob@example.com")
		in, entry := mustGate(t, e, parking.Entry)
		first, firstPass := paidPass(t, e, ada, 5, 1, 2)   // S1 [1h, 2h)
		behind, behindPass := paidPass(t, e, bob, 5, 3, 4) // S1 [3h, 4h)
		e.clock.Set(first.StartsAt)
		scan(t, in, entry, map[string]any{"code": firstPass.Code})

		// Ada stays. By Bob's earliest entry less the lead, he is moved.
		entryAt := e.fixture.Lot.Policy.EarliestEntry(behind)
		e.clock.Set(entryAt.Add(-parking.MoveLead))
		sw, err := e.engine.RunLifecycle(t.Context())
		if err != nil || len(sw.Moved) != 1 || sw.Moved[0].ID != behind.ID {
			t.Fatalf("RunLifecycle = %+v, %v; want Bob's booking moved", sw, err)
		}
		e.clock.Set(entryAt)
		d := scan(t, in, entry, map[string]any{"code": behindPass.Code})
		if d.Decision != parking.Open || d.SpotID == first.SpotID || d.SpotID != sw.Moved[0].SpotID {
			t.Errorf("Bob at the entry = %+v; want open, sent to %s", d, sw.Moved[0].SpotID)
		}

		// Eve comes 10 minutes early, while Dan's car is still inside
		// within its window: the gate gives Eve another free spot.
		e2 := newAPI(t, b)
		dan := signUp(t, e2.srv.URL, "Dan", "dan@example.com")
		eve := signUp(t, e2.srv.URL, "Eve", "eve@example.com")
		in2, entry2 := mustGate(t, e2, parking.Entry)
		before, beforePass := paidPass(t, e2, dan, 6, 1, 2)
		after, afterPass := paidPass(t, e2, eve, 6, 2, 3)
		e2.clock.Set(before.StartsAt)
		scan(t, in2, entry2, map[string]any{"code": beforePass.Code})
		e2.clock.Set(after.StartsAt.Add(-10 * time.Minute))
		d = scan(t, in2, entry2, map[string]any{"code": afterPass.Code})
		if d.Decision != parking.Open || d.SpotID == before.SpotID || !strings.Contains(d.Message, "changed") {
			t.Errorf("early arrival while the spot is taken = %+v; want open on another spot, told it changed", d)
		}
		if r, _ := e2.store.Reservation(t.Context(), after.ID); r.ChangeReason != parking.ReasonArrival || r.MovedFrom != before.SpotID {
			t.Errorf("Eve's booking = %+v; want moved from %s at arrival", r, before.SpotID)
		}
	})
}
