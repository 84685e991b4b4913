package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"parkd/internal/auth"
	"parkd/internal/gate"
	"parkd/internal/parking"
	"parkd/internal/payments"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// mustGate registers a gate of the fixture lot and returns a client holding its device key.
func mustGate(t *testing.T, e apiEnv, dir parking.Direction) (*client, parking.Gate) {
	t.Helper()
	key, hash := auth.NewGateKey()
	g := parking.Gate{ID: parking.NewID("gat"), LotID: e.fixture.Lot.ID, Name: string(dir), Direction: dir, KeyHash: hash, CreatedAt: storetest.T0}
	if err := e.store.CreateGate(t.Context(), &g); err != nil {
		t.Fatal(err)
	}
	return &client{t: t, base: e.srv.URL, token: key}, g
}

func scan(t *testing.T, c *client, g parking.Gate, body map[string]any) gate.Decision {
	t.Helper()
	var d gate.Decision
	c.must(200, "POST", "/api/v1/gates/"+g.ID+"/scans", body).into(t, &d)
	return d
}

// paidPass books spot i for [startH, endH) hours from T0, pays and returns the pass.
func paidPass(t *testing.T, e apiEnv, c *client, spot, startH, endH int) (parking.Reservation, gate.Pass) {
	t.Helper()
	var r parking.Reservation
	c.must(201, "POST", "/api/v1/reservations", holdBody(e, e.fixture.Spots[spot].ID, startH, endH), "Idempotency-Key", parking.NewID("k")).into(t, &r)
	if resp := pay(c, r.ID, payments.CardVisa); resp.status != 201 {
		t.Fatalf("pay = %d %s", resp.status, resp.body)
	}
	var p gate.Pass
	c.must(200, "GET", "/api/v1/reservations/"+r.ID+"/pass", nil).into(t, &p)
	return r, p
}

func TestGateVisit(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		bob := signUp(t, e.srv.URL, "Bob", "bob@example.com")
		in, entry := mustGate(t, e, parking.Entry)
		out, exit := mustGate(t, e, parking.Exit)
		r, p := paidPass(t, e, ada, 5, 1, 3)
		if !strings.HasPrefix(p.Code, "P") || len(p.ManualCode) != 9 {
			t.Errorf("pass = %+v", p)
		}
		img := ada.must(200, "GET", "/api/v1/reservations/"+r.ID+"/pass.png", nil)
		if img.header.Get("Content-Type") != "image/png" || len(img.body) < 100 {
			t.Errorf("pass.png = %s, %d bytes", img.header.Get("Content-Type"), len(img.body))
		}
		bob.must(404, "GET", "/api/v1/reservations/"+r.ID+"/pass", nil)
		scans := 0
		expect := func(c *client, g parking.Gate, body map[string]any, decision, reason string) gate.Decision {
			t.Helper()
			scans++
			d := scan(t, c, g, body)
			if d.Decision != decision || d.Reason != reason {
				t.Fatalf("scan at %s = %+v; want %s %s", g.Direction, d, decision, reason)
			}
			return d
		}

		expect(in, entry, map[string]any{"code": p.Code}, "deny", gate.ReasonTooEarly) // an hour early
		e.clock.Advance(50 * time.Minute)                                              // 10 minutes early: allowed
		d := expect(in, entry, map[string]any{"code": p.Code}, "open", gate.ReasonOK)
		if d.SpotLabel != "S1" || d.ReservationID != r.ID {
			t.Errorf("entry = %+v; want spot S1", d)
		}
		expect(in, entry, map[string]any{"code": p.Code}, "deny", gate.ReasonAlreadyInside) // anti-passback
		expect(out, exit, map[string]any{"code": "P1.NOTAPASS"}, "deny", gate.ReasonInvalidPass)
		// Early exit: no refund, and the rest of the window is bookable at once.
		e.clock.Advance(30 * time.Minute)
		d = expect(out, exit, map[string]any{"code": p.ManualCode}, "open", gate.ReasonOK)
		if d.AmountDue != 0 || d.Paid != 0 {
			t.Errorf("on-time exit = %+v; want nothing due", d)
		}
		expect(out, exit, map[string]any{"code": p.Code}, "deny", gate.ReasonAlreadyLeft)
		bob.must(201, "POST", "/api/v1/reservations", holdBody(e, e.fixture.Spots[5].ID, 2, 3), "Idempotency-Key", "after-early-exit")

		// Overstay: no saved card, so the exit asks to pay; paying at the kiosk opens it.
		late, lp := paidPass(t, e, ada, 6, 2, 3)
		e.clock.Set(late.StartsAt)
		expect(in, entry, map[string]any{"code": lp.Code}, "open", gate.ReasonOK)
		e.clock.Set(late.EndsAt.Add(25 * time.Minute)) // past the 10-minute grace
		d = expect(out, exit, map[string]any{"code": lp.Code}, "deny", gate.ReasonPaymentRequired)
		if d.AmountDue != 225 { // 30 minutes (billed in quarters) at 150% of 300/h
			t.Errorf("overstay due = %d; want 225", d.AmountDue)
		}
		d = expect(out, exit, map[string]any{"code": lp.Code, "payment_method": payments.CardVisa}, "open", gate.ReasonOK)
		if d.Paid != 225 {
			t.Errorf("overstay paid = %d; want 225", d.Paid)
		}

		// Every scan is in the log, with its decision.
		op := mustSignIn(t, e, parking.RoleOperator, e.fixture.Operator.ID)
		var log struct{ Events []parking.GateEvent }
		op.must(200, &log, "GET", "/api/v1/lots/"+e.fixture.Lot.ID+"/gate-events?from=2030-01-01T00:00:00Z", nil)
		if len(log.Events) != scans {
			t.Errorf("gate log has %d events; want %d scans", len(log.Events), scans)
		}
		denied := 0
		for _, ev := range log.Events {
			if ev.Decision == "deny" {
				denied++
			}
		}
		if denied != 5 {
			t.Errorf("denials in the log = %d; want 5", denied)
		}
		csv := op.call("GET", "/api/v1/lots/"+e.fixture.Lot.ID+"/gate-events?from=2030-01-01T00:00:00Z&format=csv", nil)
		if lines := strings.Count(string(csv.body), "\n"); lines != scans+1 || !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") {
			t.Errorf("CSV export = %d lines (%s); want a header and %d rows", lines, csv.header.Get("Content-Type"), scans)
		}
		var byRes struct{ Events []parking.GateEvent }
		op.must(200, &byRes, "GET", "/api/v1/lots/"+e.fixture.Lot.ID+"/gate-events?from=2030-01-01T00:00:00Z&reservation="+late.ID, nil)
		if len(byRes.Events) != 3 {
			t.Errorf("log filtered by reservation = %d events; want 3", len(byRes.Events))
		}
		ada.must(403, "GET", "/api/v1/lots/"+e.fixture.Lot.ID+"/gate-events", nil)
	})
}

func TestGateNoShowAndDriveUp(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		bob := signUp(t, e.srv.URL, "Bob", "bob@example.com")
		in, entry := mustGate(t, e, parking.Entry)

		// No-show: 15 minutes after the start the spot is free again, at once,
		// and the job records it.
		r, p := paidPass(t, e, ada, 5, 1, 3)
		fromNow := func() map[string]any {
			body := holdBody(e, e.fixture.Spots[5].ID, 0, 2)
			body["starts_at"], body["ends_at"] = e.clock.Now(), r.EndsAt
			return body
		}
		e.clock.Set(r.StartsAt.Add(14 * time.Minute))
		if resp := bob.do("POST", "/api/v1/reservations", fromNow(), "Idempotency-Key", "too-soon"); resp.status != 409 {
			t.Errorf("booking the spot 14 minutes after the start = %d %s; want 409 (still Ada's)", resp.status, resp.body)
		}
		e.clock.Set(r.StartsAt.Add(15 * time.Minute))
		if d := scan(t, in, entry, map[string]any{"code": p.Code}); d.Reason != gate.ReasonNoShow {
			t.Errorf("entry 15 minutes after the start = %+v; want no_show", d)
		}
		sw, err := e.engine.RunLifecycle(t.Context())
		if err != nil || len(sw.NoShows) != 1 || sw.NoShows[0].ID != r.ID {
			t.Errorf("RunLifecycle = %v, %v; want Ada's no-show", sw.NoShows, err)
		}
		bob.must(201, "POST", "/api/v1/reservations", fromNow(), "Idempotency-Key", "after-no-show")

		// Without the job, the spot is free at the deadline all the same.
		r2, _ := paidPass(t, e, ada, 6, 2, 3)
		e.clock.Set(r2.StartsAt.Add(15 * time.Minute))
		body := holdBody(e, e.fixture.Spots[6].ID, 0, 2)
		body["starts_at"], body["ends_at"] = e.clock.Now(), r2.EndsAt
		bob.must(201, "POST", "/api/v1/reservations", body, "Idempotency-Key", "no-job")
		var gone parking.Reservation
		ada.must(200, "GET", "/api/v1/reservations/"+r2.ID, nil).into(t, &gone)
		if gone.Status != parking.StatusNoShow {
			t.Errorf("the overtaken reservation = %q; want no_show", gone.Status)
		}

		// Drive-ups: admitted while a fitting spot is free, then lot_full.
		// The fixture has two large spots; a future booking takes one of them.
		e.clock.Set(storetest.T0.Add(24 * time.Hour))
		future := holdBody(e, e.fixture.SpotsOf(parking.Large)[0].ID, 30, 31)
		ada.must(201, "POST", "/api/v1/reservations", future, "Idempotency-Key", "future-large")
		d := scan(t, in, entry, map[string]any{"size": "SUV", "plate": "suv 1"})
		if d.Decision != "open" || d.Reason != gate.ReasonDriveUp || d.Ticket == nil || d.SpotLabel != "L2" {
			t.Fatalf("first SUV drive-up = %+v; want admitted to L2 with a ticket", d)
		}
		if d := scan(t, in, entry, map[string]any{"size": "SUV", "plate": "suv 2"}); d.Decision != "deny" || d.Reason != gate.ReasonLotFull {
			t.Errorf("second SUV drive-up = %+v; want lot_full (L1 is booked within the maximum stay)", d)
		}
		// The ticket lets the drive-up leave once it pays for its time.
		out, exit := mustGate(t, e, parking.Exit)
		e.clock.Advance(90 * time.Minute)
		dd := scan(t, out, exit, map[string]any{"code": d.Ticket.Code})
		if dd.Reason != gate.ReasonPaymentRequired || dd.AmountDue != 600 {
			t.Errorf("drive-up exit without paying = %+v; want 600 due (1h30 at 400/h)", dd)
		}
		if dd := scan(t, out, exit, map[string]any{"code": d.Ticket.Code, "payment_method": payments.CardVisa}); dd.Decision != "open" || dd.Paid != 600 {
			t.Errorf("drive-up exit paying = %+v; want open, 600 paid", dd)
		}
	})
}

func TestGateRefusesBadPasses(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		in, entry := mustGate(t, e, parking.Entry)
		_, p := paidPass(t, e, ada, 5, 1, 3)
		e.clock.Advance(50 * time.Minute)
		// Every single-character change of a valid code is refused.
		alphabet := "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
		for i := 3; i < len(p.Code); i += 7 {
			for _, c := range []byte(alphabet[:4]) {
				if p.Code[i] == c {
					continue
				}
				bad := p.Code[:i] + string(c) + p.Code[i+1:]
				if d := scan(t, in, entry, map[string]any{"code": bad}); d.Decision != "deny" {
					t.Fatalf("tampered code %q opened the gate", bad)
				}
			}
		}
		// Another lot's gate refuses the pass.
		other := e.fixture.Lot
		other.ID = parking.NewID("lot")
		e.store.CreateLot(t.Context(), &other)
		key, hash := auth.NewGateKey()
		og := parking.Gate{ID: parking.NewID("gat"), LotID: other.ID, Name: "other", Direction: parking.Entry, KeyHash: hash, CreatedAt: storetest.T0}
		e.store.CreateGate(t.Context(), &og)
		foreign := &client{t: t, base: e.srv.URL, token: key}
		if d := scan(t, foreign, og, map[string]any{"code": p.Code}); d.Reason != gate.ReasonWrongLot {
			t.Errorf("pass at another lot's gate = %+v; want wrong_lot", d)
		}
		// A device key works only for its own gate; drivers cannot scan.
		foreign.must(403, "POST", "/api/v1/gates/"+entry.ID+"/scans", map[string]any{"code": p.Code})
		ada.must(404, "POST", "/api/v1/gates/"+entry.ID+"/scans", map[string]any{"code": p.Code})
		(&client{t: t, base: e.srv.URL}).must(401, "POST", "/api/v1/gates/"+entry.ID+"/scans", map[string]any{"code": p.Code})
		// Expired: long after the window.
		e.clock.Advance(30 * 24 * time.Hour)
		if d := scan(t, in, entry, map[string]any{"code": p.Code}); d.Reason != gate.ReasonPassExpired {
			t.Errorf("expired pass = %+v; want pass_expired", d)
		}
		// Operators open by hand, with a reason, logged.
		op := mustSignIn(t, e, parking.RoleOperator, e.fixture.Operator.ID)
		var ev parking.GateEvent
		op.must(200, &ev, "POST", "/api/v1/gates/"+entry.ID+"/open", map[string]string{"reason": "ambulance"})
		if ev.Decision != "open" || ev.ActorID == "" || !strings.Contains(ev.Reason, "ambulance") {
			t.Errorf("manual opening = %+v", ev)
		}
		op.call("POST", "/api/v1/gates/"+entry.ID+"/open", map[string]string{"reason": ""})
	})
}

// TestScanRetry: a device retrying a scan with the same Idempotency-Key gets the
// first decision again; a drive-up is not admitted twice.
func TestScanRetry(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		in, entry := mustGate(t, e, parking.Entry)
		first := in.must(200, "POST", "/api/v1/gates/"+entry.ID+"/scans", map[string]any{"size": "SUV"}, "Idempotency-Key", "scan-1")
		again := in.must(200, "POST", "/api/v1/gates/"+entry.ID+"/scans", map[string]any{"size": "SUV"}, "Idempotency-Key", "scan-1")
		if string(first.body) != string(again.body) || again.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("retried scan = %s; want the first decision %s replayed", again.body, first.body)
		}
		var d gate.Decision
		first.into(t, &d)
		if d.Decision != "open" {
			t.Fatalf("drive-up = %+v", d)
		}
		// The second SUV spot is still free: the retry admitted nobody.
		if d := scan(t, in, entry, map[string]any{"size": "SUV"}); d.Decision != "open" {
			t.Errorf("another SUV after a retried scan = %+v; want admitted to the other large spot", d)
		}
	})
}

// TestDriveUpsRace: many cars arrive at once at several entry gates; exactly as
// many are admitted as there are spots that fit, each to its own spot.
func TestDriveUpsRace(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		var gates []*client
		var ids []parking.Gate
		for range 4 {
			c, g := mustGate(t, e, parking.Entry)
			gates, ids = append(gates, c), append(ids, g)
		}
		const cars = 12 // for the fixture's 2 large spots
		decisions := make([]gate.Decision, cars)
		done := make(chan struct{})
		for i := range cars {
			go func() {
				defer func() { done <- struct{}{} }()
				resp := gates[i%4].do("POST", "/api/v1/gates/"+ids[i%4].ID+"/scans", map[string]any{"size": "large"})
				resp.into(t, &decisions[i])
			}()
		}
		for range cars {
			<-done
		}
		spots := map[string]bool{}
		for _, d := range decisions {
			switch {
			case d.Decision == "open":
				if spots[d.SpotID] {
					t.Fatalf("two cars admitted to spot %s", d.SpotLabel)
				}
				spots[d.SpotID] = true
			case d.Reason != gate.ReasonLotFull:
				t.Fatalf("a racing drive-up got %+v; want open or lot_full", d)
			}
		}
		if len(spots) != 2 {
			t.Errorf("%d of %d racing drive-ups admitted; want exactly 2 (the large spots)", len(spots), cars)
		}
	})
}
