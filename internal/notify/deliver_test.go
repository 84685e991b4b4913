package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"parkd/internal/gate"
	"parkd/internal/notify"
	"parkd/internal/parking"
	"parkd/internal/payments"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// TestRetriesWithBackoff: a server that refuses for a while gets the email
// again after 30 s, then 60 s, ...; one that refuses for good gets no more
// tries than the limit, and a 5xx answer is final at once.
func TestRetriesWithBackoff(t *testing.T) {
	w := newWorld(t, teststore.OpenSQLite(t))
	w.box.setReject(func(n int) error {
		if n <= 2 {
			return &smtp.SMTPError{Code: 451, Message: "try again later"}
		}
		return nil
	})
	svc := w.service(w.store)
	w.book(t, storetest.T0.Add(10*time.Minute), storetest.T0.Add(time.Hour)) // too soon for a reminder
	mustRun(t, svc)
	if n := len(w.box.messages()); n != 0 {
		t.Fatalf("%d emails after a refusal", n)
	}
	w.clock.Advance(29 * time.Second)
	mustRun(t, svc)
	if w.box.tryCount() != 1 {
		t.Errorf("tried %d times within 30 s; want 1", w.box.tryCount())
	}
	w.clock.Advance(time.Second) // 30 s: the second attempt, refused
	mustRun(t, svc)
	w.clock.Advance(59 * time.Second)
	mustRun(t, svc)
	if w.box.tryCount() != 2 {
		t.Errorf("tried %d times by 89 s; want 2 (then a minute's wait)", w.box.tryCount())
	}
	w.clock.Advance(time.Second) // 90 s: the third, accepted
	mustRun(t, svc)
	msgs := w.box.messages()
	if len(msgs) != 1 || w.box.tryCount() != 3 {
		t.Fatalf("after the backoff: %d emails, %d tries; want 1, 3", len(msgs), w.box.tryCount())
	}
	w.clock.Advance(time.Hour)
	mustRun(t, svc)
	if len(w.box.messages()) != 1 {
		t.Errorf("sent again after success")
	}

	// A permanent refusal fails at once.
	w.box.setReject(func(int) error { return &smtp.SMTPError{Code: 550, Message: "no such mailbox"} })
	w.book(t, w.clock.Now().Add(10*time.Minute), w.clock.Now().Add(time.Hour))
	tries := w.box.tryCount()
	mustRun(t, svc)
	w.clock.Advance(24 * time.Hour)
	mustRun(t, svc)
	if w.box.tryCount() != tries+1 {
		t.Errorf("a 550 was tried %d times; want once", w.box.tryCount()-tries)
	}
}

// TestGivesUp: after MaxAttempts transient failures the notification is failed.
func TestGivesUp(t *testing.T) {
	w := newWorld(t, teststore.OpenSQLite(t))
	w.box.setReject(func(int) error { return &smtp.SMTPError{Code: 421, Message: "busy"} })
	svc := w.service(w.store)
	r := w.book(t, storetest.T0.Add(10*time.Minute), storetest.T0.Add(time.Hour))
	for range 20 {
		mustRun(t, svc)
		w.clock.Advance(time.Hour)
	}
	if w.box.tryCount() != notify.DefaultMaxAttempts {
		t.Errorf("tried %d times; want %d", w.box.tryCount(), notify.DefaultMaxAttempts)
	}
	ns, _ := w.store.UserNotifications(ctx, w.user.ID, parking.NotificationFilter{})
	if len(ns) != 1 || ns[0].ReservationID != r.ID {
		t.Errorf("in-app = %+v; want the confirmation, whatever email does", ns)
	}
}

// TestSkips: what the driver or the lot turned off, and what no longer makes
// sense, is not sent.
func TestSkips(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		w := newWorld(t, b.Open(t))
		svc := w.service(w.store)
		start := storetest.T0.Add(2 * time.Hour)
		cancelled := w.book(t, start, start.Add(time.Hour))
		kept := w.book(t, start, start.Add(time.Hour))
		mustRun(t, svc)
		storetest.MustChange(t, w.store, cancelled.ID, parking.StatusConfirmed, parking.StatusCancelled, w.clock.Now())

		// The driver turns email off: in-app reminders still come.
		st, _ := w.store.NotificationSettings(ctx, w.user.ID)
		st.Email = false
		if err := w.store.SaveNotificationSettings(ctx, &st); err != nil {
			t.Fatal(err)
		}
		w.clock.Set(start.Add(-30 * time.Minute))
		mustRun(t, svc)
		if n := len(w.box.messages()); n != 2 {
			t.Errorf("%d emails; want the two confirmations only", n)
		}
		inApp, _ := w.store.UserNotifications(ctx, w.user.ID, parking.NotificationFilter{})
		reminders := 0
		for _, n := range inApp {
			if n.Kind == notify.KindReminder {
				reminders++
				if n.ReservationID != kept.ID {
					t.Errorf("a reminder for the cancelled reservation was sent")
				}
			}
		}
		if reminders != 1 {
			t.Errorf("%d in-app reminders; want 1 (the cancelled booking's is skipped)", reminders)
		}

		// The lot turns reminders off: the ending warning is skipped too.
		lot := w.f.Lot
		lot.Policy.Reminders = false
		if err := w.store.UpdateLot(ctx, &lot); err != nil {
			t.Fatal(err)
		}
		w.clock.Set(start)
		storetest.MustChange(t, w.store, kept.ID, parking.StatusConfirmed, parking.StatusCheckedIn, start)
		mustRun(t, svc)
		w.clock.Set(start.Add(45 * time.Minute))
		mustRun(t, svc)
		inApp, _ = w.store.UserNotifications(ctx, w.user.ID, parking.NotificationFilter{})
		for _, n := range inApp {
			if n.Kind == notify.KindEndingSoon {
				t.Errorf("an ending warning was sent for a lot with reminders off")
			}
		}
	})
}

// TestOperatorWebhooks: the operator's URL receives each event, signed like
// the payment webhooks, retried with the same id until it answers 2xx; a
// drive-up ticket's time limit is announced before it passes.
func TestOperatorWebhooks(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		w := newWorld(t, b.Open(t))
		const secret = "whsec_operator_test_secret"
		var mu sync.Mutex
		var got []notify.WebhookEvent
		ids := map[string]int{}
		fail := true
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if err := payments.VerifyWebhook(secret, body, r.Header.Get(notify.SignatureHeader), w.clock.Now()); err != nil {
				t.Errorf("webhook signature: %v", err)
				rw.WriteHeader(http.StatusBadRequest)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ids[r.Header.Get(notify.WebhookIDHeader)]++
			if fail {
				fail = false
				rw.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			var e notify.WebhookEvent
			if err := json.Unmarshal(body, &e); err != nil || e.ID != r.Header.Get(notify.WebhookIDHeader) || e.Type != r.Header.Get(notify.EventHeader) {
				t.Errorf("webhook body %s, %v; headers %v", body, err, r.Header)
			}
			got = append(got, e)
		}))
		defer srv.Close()
		if err := w.store.SaveOperatorWebhook(ctx, parking.OperatorWebhook{OperatorID: w.f.Operator.ID, URL: srv.URL, Secret: secret, UpdatedAt: storetest.T0}); err != nil {
			t.Fatal(err)
		}
		svc := w.service(w.store)
		w.book(t, storetest.T0.Add(2*time.Hour), storetest.T0.Add(3*time.Hour))
		// A drive-up: checked in now, at most the lot's maximum stay.
		du := w.f.NewHold(storetest.T0, storetest.T0, storetest.T0.Add(time.Hour))
		du.Status, du.CheckedInAt, du.Plate = parking.StatusCheckedIn, &du.StartsAt, "DRIVE1"
		if err := w.store.Hold(ctx, du, []string{w.f.Spots[9].ID}, nil); err != nil {
			t.Fatalf("Hold(drive-up): %v", err)
		}
		mustRun(t, svc)
		w.clock.Advance(30 * time.Second) // the first failure's backoff
		mustRun(t, svc)
		w.clock.Set(du.EndsAt.Add(-15 * time.Minute))
		mustRun(t, svc)

		mu.Lock()
		defer mu.Unlock()
		var types []string
		for _, e := range got {
			types = append(types, e.Type)
		}
		// Retries reorder deliveries: receivers order by data.seq.
		slices.Sort(types)
		want := "payment.succeeded reservation.checked_in reservation.confirmed reservation.ending_soon reservation.held"
		if strings.Join(types, " ") != want {
			t.Errorf("webhooks = %v; want %s", types, want)
		}
		retried := 0
		for _, n := range ids {
			if n == 2 {
				retried++
			}
		}
		if retried != 1 || len(ids) != 5 {
			t.Errorf("deliveries by id = %v; want five ids, one of them twice (the 503, retried)", ids)
		}
		if len(w.box.messages()) != 1 {
			t.Errorf("the drive-up sent the driver email; there is none to send to")
		}
	})
}

// slowMailer takes 25 s of the injected clock per email and counts them by
// Message-ID.
type slowMailer struct {
	mu    sync.Mutex
	clock interface{ Advance(time.Duration) }
	sent  map[string]int
}

func (m *slowMailer) Send(_ context.Context, e notify.Email) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.clock.Advance(25 * time.Second)
	m.sent[e.MessageID]++
	return nil
}

// TestSlowBatchStaysWithinLease: a worker whose sends are slow stops before
// its lease runs out, so another instance that claims the rest after the
// lease never sends what the first is still sending.
func TestSlowBatchStaysWithinLease(t *testing.T) {
	w := newWorld(t, teststore.OpenSQLite(t))
	mailer := &slowMailer{clock: w.clock, sent: map[string]int{}}
	cfg := notify.Config{Store: w.store, Clock: w.clock, Mailer: mailer, UnsubscribeKeys: [][]byte{[]byte("k")}}
	first, second := notify.New(cfg), notify.New(cfg)
	for range 5 {
		w.book(t, w.clock.Now().Add(10*time.Minute), w.clock.Now().Add(time.Hour))
	}
	if _, err := first.Derive(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := first.Deliver(ctx) // 5 emails and 5 in-app claimed; 25 s per email
	if err != nil {
		t.Fatal(err)
	}
	if n == 10 {
		t.Fatalf("the first worker sent all 10 in %s; the test needs it to run out of lease", w.clock.Now().Sub(storetest.T0))
	}
	if m, _ := second.Deliver(ctx); m != 0 {
		t.Errorf("the second worker sent %d while the first's lease held", m)
	}
	w.clock.Set(storetest.T0.Add(notify.DefaultLease))
	m, err := second.Deliver(ctx)
	if err != nil || n+m != 10 {
		t.Errorf("sent %d + %d, %v; want 10 in all", n, m, err)
	}
	for id, k := range mailer.sent {
		if k != 1 {
			t.Errorf("%s sent %d times", id, k)
		}
	}
	if len(mailer.sent) != 5 {
		t.Errorf("%d emails; want 5", len(mailer.sent))
	}
}

// TestStopMidBatch: a stop that cuts a send short records nothing and logs no
// error (the send was not the notification's failure); the notification is
// claimed again once its lease passes and sent once.
func TestStopMidBatch(t *testing.T) {
	w := newWorld(t, teststore.OpenSQLite(t))
	var logs bytes.Buffer
	svc := notify.New(notify.Config{
		Store: w.store, Clock: w.clock, Mailer: &notify.SMTP{Addr: w.box.addr, From: "parkd <noreply@parkd.test>"},
		BaseURL: "https://parkd.test", Log: slog.New(slog.NewJSONHandler(&logs, nil)),
		Gates: gate.New(w.store, nil, nil, w.keys, w.clock, nil),
	})
	w.book(t, storetest.T0.Add(10*time.Minute), storetest.T0.Add(time.Hour))
	stopping, stop := context.WithCancel(ctx)
	w.box.setReject(func(n int) error {
		if n == 1 {
			stop() // parkd stops while the first email is on its way
			return &smtp.SMTPError{Code: 421, Message: "shutting down"}
		}
		return nil
	})
	if err := svc.RunOnce(stopping); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("RunOnce while stopping: %v", err)
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("a stop logged an error:\n%s", logs.String())
	}
	w.clock.Advance(notify.DefaultLease)
	mustRun(t, svc)
	if n := len(w.box.messages()); n != 1 {
		t.Errorf("%d emails after the stop and the lease; want 1", n)
	}
}
