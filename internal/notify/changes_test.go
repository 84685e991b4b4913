package notify_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"parkd/internal/notify"
	"parkd/internal/parking"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// newSince returns the emails that arrived after the first n, parsed.
func newSince(t *testing.T, w *world, n int) []parsedMail {
	t.Helper()
	var out []parsedMail
	for _, m := range w.box.messages()[n:] {
		out = append(out, parseMail(t, m))
	}
	return out
}

// inAppKinds counts the driver's sent in-app notifications by kind.
func inAppKinds(t *testing.T, w *world) map[string][]parking.Notification {
	t.Helper()
	ns, err := w.store.UserNotifications(ctx, w.user.ID, parking.NotificationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]parking.Notification{}
	for _, n := range ns {
		out[n.Kind] = append(out[n.Kind], n)
	}
	return out
}

func mustMove(t *testing.T, s parking.Store, r parking.Reservation, to parking.Spot, reason string, at time.Time) parking.Reservation {
	t.Helper()
	m, err := s.MoveReservation(ctx, parking.Move{ID: r.ID, From: r.SpotID, Candidates: []string{to.ID}, Reason: reason, At: at})
	if err != nil || m.SpotID != to.ID {
		t.Fatalf("MoveReservation(%s -> %s) = %s, %v", r.SpotID, to.Label, m.SpotID, err)
	}
	return m
}

// TestMovedBookingIsTold: each move the lot makes sends the driver one email
// and one in-app notice naming the new spot, the old one and why; a move at
// the gate (the gate said it) is in the app only; a move overtaken by another
// before it was sent is not sent with a spot that is no longer true.
func TestMovedBookingIsTold(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		w := newWorld(t, b.Open(t))
		svc := w.service(w.store)
		start := storetest.T0.Add(2 * time.Hour)
		r := w.book(t, start, start.Add(time.Hour)) // on S1
		mustRun(t, svc)
		sent := len(w.box.messages()) // the confirmation
		// Only the email carries the pass: the app's notice does not say so.
		if conf := parseMail(t, w.box.messages()[0]); !strings.Contains(conf.Text, "Show the attached QR code") {
			t.Errorf("the confirmation email does not point at its attached pass:\n%s", conf.Text)
		}
		if n := inAppKinds(t, w)[notify.KindConfirmed]; len(n) != 1 || strings.Contains(n[0].Body, "attached") {
			t.Errorf("in-app confirmation = %+v; want one that mentions no attachment", n)
		}

		std := w.f.SpotsOf(parking.Standard) // S1 S2 S3
		w.clock.Advance(time.Minute)
		r = mustMove(t, w.store, r, std[1], parking.ReasonOutOfService, w.clock.Now())
		mustRun(t, svc)
		mustRun(t, svc)
		got := newSince(t, w, sent)
		if len(got) != 1 {
			t.Fatalf("after a move: %d emails %v; want one", len(got), got)
		}
		m := got[0]
		if !strings.Contains(m.Subject, "please park at S2") {
			t.Errorf("move subject = %q; want it to name the new spot S2", m.Subject)
		}
		for _, want := range []string{"moved from spot S1 to spot S2", "because the spot was taken out of service",
			"Your gate pass stays the same", r.ID, "https://parkd.test/reservations/" + r.ID + "/navigate"} {
			if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
				t.Errorf("move email lacks %q:\n%s", want, m.Text)
			}
		}
		if len(m.Attachments) != 0 {
			t.Errorf("the move email has attachments %v; the pass did not change", m.Attachments)
		}
		if n := inAppKinds(t, w)[notify.KindMoved]; len(n) != 1 || !strings.Contains(n[0].Body, "moved from spot S1 to spot S2") {
			t.Errorf("in-app move notices = %+v; want one naming S1 and S2", n)
		}

		// A second move: a second notice, from where the first put it.
		w.clock.Advance(time.Minute)
		r = mustMove(t, w.store, r, std[2], parking.ReasonOverstay, w.clock.Now())
		mustRun(t, svc)
		got = newSince(t, w, sent)
		if len(got) != 2 || !strings.Contains(got[1].Text, "moved from spot S2 to spot S3, because the car parked there before you is staying past its time") {
			t.Fatalf("after a second move: %d emails; want a second one naming S2, S3 and the overstay", len(got))
		}

		// Moved at the gate: the gate told the driver; the app keeps a note.
		w.clock.Set(start.Add(-10 * time.Minute))
		large := w.f.SpotsOf(parking.Large)[0]
		r = mustMove(t, w.store, r, large, parking.ReasonArrival, w.clock.Now())
		mustRun(t, svc)
		mustRun(t, svc)
		if got = newSince(t, w, sent); len(got) != 3 || !strings.HasPrefix(got[2].Subject, "Reminder:") {
			var subj []string
			for _, g := range got {
				subj = append(subj, g.Subject)
			}
			t.Errorf("after a move at the gate: emails %v; want only the reminder more (no email for it)", subj)
		}
		moves := inAppKinds(t, w)[notify.KindMoved]
		if len(moves) != 3 || !strings.Contains(moves[0].Body, "because your spot was still taken when you arrived") ||
			!strings.Contains(moves[0].Body, "to spot "+large.Label) {
			t.Errorf("in-app move notices = %d, newest %q; want 3, the newest for the arrival", len(moves), moves[0].Body)
		}

		// Two moves before the notifier runs: only the spot that is true now
		// is ever named.
		r2 := w.book(t, start.Add(3*time.Hour), start.Add(4*time.Hour))
		mustRun(t, svc)
		before := len(w.box.messages())
		free := w.f.SpotsOf(parking.Compact)
		r2 = mustMove(t, w.store, r2, free[0], parking.ReasonOutOfService, w.clock.Now())
		r2 = mustMove(t, w.store, r2, free[1], parking.ReasonOutOfService, w.clock.Now())
		mustRun(t, svc)
		got = newSince(t, w, before)
		if len(got) != 1 || !strings.Contains(got[0].Subject, "please park at "+free[1].Label) {
			var subj []string
			for _, g := range got {
				subj = append(subj, g.Subject)
			}
			t.Errorf("two quick moves: emails %v; want one naming %s", subj, free[1].Label)
		}
	})
}

// TestLotCancelledIsTold: a booking the lot cancelled because no spot fitted
// tells its driver at once why, and that the money goes back, before the
// refund's own notice; the operator's webhook hears of it with the reason. A
// driver's own cancellation is not announced as the lot's.
func TestLotCancelledIsTold(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		w := newWorld(t, b.Open(t))
		const secret = "whsec_operator_test_secret"
		var mu sync.Mutex
		var hooks []notify.WebhookEvent
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			var e notify.WebhookEvent
			if err := json.Unmarshal(body, &e); err != nil {
				t.Errorf("webhook body %s: %v", body, err)
			}
			mu.Lock()
			hooks = append(hooks, e)
			mu.Unlock()
		}))
		defer srv.Close()
		if err := w.store.SaveOperatorWebhook(ctx, parking.OperatorWebhook{OperatorID: w.f.Operator.ID, URL: srv.URL, Secret: secret, UpdatedAt: storetest.T0}); err != nil {
			t.Fatal(err)
		}
		svc := w.service(w.store)
		start := storetest.T0.Add(2 * time.Hour)
		r := w.book(t, start, start.Add(time.Hour))
		own := w.book(t, start, start.Add(time.Hour))
		mustRun(t, svc)
		sent := len(w.box.messages())

		// The driver cancels one (after the lot had moved it): no notice of
		// the lot's.
		w.clock.Advance(time.Minute)
		mustMove(t, w.store, own, w.f.SpotsOf(parking.Large)[1], parking.ReasonOverstay, w.clock.Now())
		storetest.MustChange(t, w.store, own.ID, parking.StatusConfirmed, parking.StatusCancelled, w.clock.Now())
		// The lot cancels the other, as the sweep does when no spot fits.
		if _, err := w.store.ChangeStatus(ctx, parking.StatusChange{ID: r.ID, From: []parking.Status{parking.StatusConfirmed},
			To: parking.StatusCancelled, At: w.clock.Now(), Reason: parking.ReasonOverstay}); err != nil {
			t.Fatal(err)
		}
		mustRun(t, svc)
		got := newSince(t, w, sent)
		var cancelled []parsedMail
		for _, m := range got {
			if strings.HasPrefix(m.Subject, "Cancelled:") {
				cancelled = append(cancelled, m)
			}
		}
		if len(cancelled) != 1 {
			t.Fatalf("after the lot cancelled: %d cancellation emails of %d; want one", len(cancelled), len(got))
		}
		c := cancelled[0]
		for _, want := range []string{r.ID, "we had to cancel your booking of spot S1, because the car parked there before you is staying past its time",
			"no other spot fits your vehicle", "You are refunded in full: 6.00 USD", "https://parkd.test/lots/" + w.f.Lot.ID} {
			if !strings.Contains(c.Text, want) {
				t.Errorf("the cancellation email lacks %q:\n%s", want, c.Text)
			}
		}
		if strings.Contains(c.Text, own.ID) {
			t.Errorf("the driver's own cancellation was announced as the lot's")
		}
		if n := inAppKinds(t, w)[notify.KindLotCancelled]; len(n) != 1 || n[0].ReservationID != r.ID {
			t.Errorf("in-app lot cancellations = %+v; want one, for %s", n, r.ID)
		}

		// The refund follows with its own notice, as for any refund.
		charges, _ := w.store.ReservationPayments(ctx, r.ID)
		refund := &parking.Payment{ID: parking.NewID("pay"), ReservationID: r.ID, UserID: r.UserID, Kind: parking.Refund, Amount: charges[0].Amount,
			Currency: r.Currency, Status: parking.PaymentPending, Gateway: "sandbox", RefundOf: charges[0].ID, CreatedAt: w.clock.Now(), UpdatedAt: w.clock.Now()}
		if err := w.store.CreatePayment(ctx, refund); err != nil {
			t.Fatal(err)
		}
		if _, _, err := w.store.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: refund.ID, From: []string{parking.PaymentPending},
			To: parking.PaymentSucceeded, At: w.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		mustRun(t, svc)
		if got = newSince(t, w, sent+len(got)); len(got) != 1 || !strings.HasPrefix(got[0].Subject, "Refund for your parking") {
			t.Errorf("after the refund: %d emails; want the refund notice", len(got))
		}

		mu.Lock()
		defer mu.Unlock()
		var displaced []notify.WebhookEvent
		for _, h := range hooks {
			if h.Type == notify.WebhookDisplaced {
				displaced = append(displaced, h)
			}
		}
		if len(displaced) != 1 || displaced[0].Data["reservation_id"] != r.ID || displaced[0].Data["reason"] != parking.ReasonOverstay ||
			displaced[0].Data["plate"] != r.Plate {
			t.Errorf("operator alerts = %+v; want one reservation.displaced for %s with its reason and plate", displaced, r.ID)
		}
	})
}

// TestExtensionMovesEndingWarning: a stay extended while the car is inside
// is warned of once, before its new end, never before the old one; the
// extension's charge gets a notice. When an extension's charge fails and the
// end goes back, the warning is for the end the stay has.
func TestExtensionMovesEndingWarning(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		w := newWorld(t, b.Open(t))
		svc := w.service(w.store)
		start, end := storetest.T0.Add(2*time.Hour), storetest.T0.Add(4*time.Hour)
		r := w.book(t, start, end)
		w.clock.Set(start)
		storetest.MustChange(t, w.store, r.ID, parking.StatusConfirmed, parking.StatusCheckedIn, start)
		mustRun(t, svc)
		sent := len(w.box.messages()) // the confirmation and the reminder

		// An hour more, paid at once.
		w.clock.Set(start.Add(30 * time.Minute))
		newEnd := end.Add(time.Hour)
		extend(t, w, r, end, newEnd, parking.PaymentSucceeded)
		mustRun(t, svc)
		got := newSince(t, w, sent)
		if len(got) != 1 || !strings.HasPrefix(got[0].Subject, "Extended: your parking at Test Garage now ends Mon 7 Jan 2030, 08:00 EST") ||
			!strings.Contains(got[0].Text, "Charged: 3.00 USD (visa ending 4242)") {
			t.Fatalf("after extending: %d emails %+v; want the extension's notice with its charge", len(got), got)
		}
		sent++

		// Nothing before the old end.
		w.clock.Set(end.Add(-15 * time.Minute))
		mustRun(t, svc)
		w.clock.Set(end)
		mustRun(t, svc)
		if got := newSince(t, w, sent); len(got) != 0 {
			t.Errorf("around the old end: emails %q; want none", got[0].Subject)
		}
		// The warning, before the new end.
		w.clock.Set(newEnd.Add(-15*time.Minute - time.Second))
		mustRun(t, svc)
		if got := newSince(t, w, sent); len(got) != 0 {
			t.Errorf("a second before the new warning: %d emails", len(got))
		}
		w.clock.Set(newEnd.Add(-15 * time.Minute))
		mustRun(t, svc)
		got = newSince(t, w, sent)
		if len(got) != 1 || got[0].Subject != "Your parking at Test Garage ends Mon 7 Jan 2030, 08:00 EST" {
			t.Fatalf("at the new warning's time: %d emails %+v; want the warning for 08:00 EST", len(got), got)
		}
		ending := inAppKinds(t, w)[notify.KindEndingSoon]
		if len(ending) != 1 || !strings.Contains(ending[0].Body, "please leave by Mon 7 Jan 2030, 08:00 EST") {
			t.Errorf("in-app ending warnings = %+v; want one, for the new end", ending)
		}

		// Another stay whose extension's charge is declined: its end goes
		// back, and the warning comes before it, once.
		w.clock.Set(newEnd.Add(time.Hour))
		s2, e2 := w.clock.Now().Add(time.Hour), w.clock.Now().Add(3*time.Hour)
		r2 := w.book(t, s2, e2)
		w.clock.Set(s2)
		storetest.MustChange(t, w.store, r2.ID, parking.StatusConfirmed, parking.StatusCheckedIn, s2)
		mustRun(t, svc)
		sent = len(w.box.messages())
		extend(t, w, r2, e2, e2.Add(time.Hour), parking.PaymentFailed)
		mustRun(t, svc)
		w.clock.Set(e2.Add(-15 * time.Minute))
		mustRun(t, svc)
		w.clock.Set(e2.Add(time.Hour))
		mustRun(t, svc)
		var subj []string
		for _, m := range newSince(t, w, sent) {
			subj = append(subj, m.Subject)
		}
		if want := "Your parking at Test Garage ends Mon 7 Jan 2030, 12:00 EST"; len(subj) != 1 || subj[0] != want {
			t.Errorf("after a declined extension: emails %q; want only %q", subj, want)
		}
	})
}

// extend moves r's end from from to to with a pending charge, as
// payments.Service.Extend does, and settles the charge as status.
func extend(t *testing.T, w *world, r parking.Reservation, from, to time.Time, status string) {
	t.Helper()
	now := w.clock.Now()
	charge := &parking.Payment{ID: parking.NewID("pay"), ReservationID: r.ID, UserID: r.UserID, Kind: parking.Charge,
		Purpose: parking.PurposeBooking, Amount: 300, Currency: r.Currency, Status: parking.PaymentPending, Gateway: "sandbox",
		PaymentMethod: "pm_card_visa", ExtendsFrom: &from, ExtendsTo: &to, CreatedAt: now, UpdatedAt: now}
	if _, _, err := w.store.ExtendReservation(ctx, parking.Extension{ID: r.ID, From: from, To: to, Charge: charge, At: now}); err != nil {
		t.Fatalf("ExtendReservation: %v", err)
	}
	if _, _, err := w.store.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: charge.ID, From: []string{parking.PaymentPending},
		To: status, CardBrand: "visa", CardLast4: "4242", At: now}); err != nil {
		t.Fatalf("UpdatePayment(%s): %v", status, err)
	}
}
