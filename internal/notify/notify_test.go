package notify_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"parkd/internal/gate"
	"parkd/internal/notify"
	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/pass"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

var ctx = context.Background()

func decodeBase64(b []byte) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(b)))
}

// world is a store with a lot and a driver, a clock stopped at T0 and a
// mailbox; services made from it send email there.
type world struct {
	store parking.Store
	clock *parkingtest.Clock
	f     storetest.Fixture
	user  parking.User
	box   *mailbox
	spot  int // the next fixture spot to book (5 is S1)
	keys  *pass.Keyring
}

func newWorld(t *testing.T, store parking.Store) *world {
	t.Helper()
	w := &world{store: store, clock: parkingtest.NewClock(storetest.T0), f: storetest.MustFixture(t, store), box: newMailbox(t), spot: 5}
	w.user = storetest.MustUser(t, store, "ada@example.com")
	keys, err := pass.NewKeyring(pass.Key{ID: "test", Secret: bytes.Repeat([]byte("k"), pass.MinSecretLen)})
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	w.keys = keys
	return w
}

// service returns a notifier on store (a second instance passes its own store
// on the same database).
func (w *world) service(store parking.Store) *notify.Service {
	return notify.New(notify.Config{
		Store: store, Clock: w.clock, Mailer: &notify.SMTP{Addr: w.box.addr, From: "parkd <noreply@parkd.test>"},
		BaseURL: "https://parkd.test", UnsubscribeKeys: [][]byte{[]byte("unsubscribe-key")},
		AllowPrivateWebhooks: true,                                            // the test's receivers listen on loopback
		Gates:                gate.New(store, nil, nil, w.keys, w.clock, nil), // for the confirmation's pass
	})
}

// book holds a spot for [start, end) and pays for it, as the booking and
// payment services do: the store writes the events.
func (w *world) book(t *testing.T, start, end time.Time) parking.Reservation {
	t.Helper()
	now := w.clock.Now()
	r := w.f.NewHold(now, start, end)
	r.UserID = w.user.ID
	spot := w.f.Spots[w.spot%len(w.f.Spots)]
	w.spot++
	r.VehicleSize = spot.Size
	if err := w.store.Hold(ctx, r, []string{spot.ID}, nil); err != nil {
		t.Fatalf("Hold: %v", err)
	}
	charge := storetest.NewCharge(*r, now)
	if err := w.store.CreatePayment(ctx, charge); err != nil {
		t.Fatalf("CreatePayment: %v", err)
	}
	_, res, err := w.store.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: charge.ID, From: []string{parking.PaymentPending},
		To: parking.PaymentSucceeded, CardBrand: "visa", CardLast4: "4242", Confirm: true, At: now})
	if err != nil || res.Status != parking.StatusConfirmed {
		t.Fatalf("UpdatePayment = %+v, %v; want confirmed", res, err)
	}
	return res
}

func mustRun(t *testing.T, s *notify.Service) {
	t.Helper()
	if err := s.RunOnce(ctx); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
}

// subjects lists the subjects of the messages that arrived.
func subjects(t *testing.T, msgs []received) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, parseMail(t, m).Subject)
	}
	return out
}

// TestEmailsAtTheirTimes follows one booking from payment to exit: each email
// arrives once, when it is due by the injected clock, and says the right thing.
func TestEmailsAtTheirTimes(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		w := newWorld(t, b.Open(t))
		svc := w.service(w.store)
		start, end := storetest.T0.Add(2*time.Hour), storetest.T0.Add(4*time.Hour)
		r := w.book(t, start, end)

		mustRun(t, svc)
		msgs := w.box.messages()
		if len(msgs) != 1 {
			t.Fatalf("after paying: %d emails %v; want the confirmation", len(msgs), subjects(t, msgs))
		}
		conf := parseMail(t, msgs[0])
		if msgs[0].To != w.user.Email || msgs[0].From != "noreply@parkd.test" {
			t.Errorf("envelope %s -> %s; want noreply@parkd.test -> %s", msgs[0].From, msgs[0].To, w.user.Email)
		}
		for _, want := range []string{"Confirmed: Test Garage", "Mon 7 Jan 2030, 05:00 EST"} {
			if !strings.Contains(conf.Subject, want) {
				t.Errorf("confirmation subject %q lacks %q", conf.Subject, want)
			}
		}
		for _, want := range []string{"Hello Test Driver", "spot S1", "Paid: 6.00 USD", r.ID, "https://parkd.test/api/v1/reservations/" + r.ID + "/pass.png",
			"https://parkd.test/api/v1/notifications/unsubscribe?token="} {
			if !strings.Contains(conf.Text, want) || !strings.Contains(conf.HTML, want) {
				t.Errorf("confirmation text or HTML lacks %q:\n%s\n%s", want, conf.Text, conf.HTML)
			}
		}
		if !conf.Alternative {
			t.Errorf("the confirmation is not multipart/alternative")
		}
		if png := conf.Attachments["pass.png"]; !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("the confirmation's pass.png is not a PNG (%d bytes)", len(png))
		}
		unsub := conf.Header.Get("List-Unsubscribe")
		if !strings.HasPrefix(unsub, "<https://parkd.test/api/v1/notifications/unsubscribe?token=") ||
			conf.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
			t.Errorf("List-Unsubscribe = %q, %q", unsub, conf.Header.Get("List-Unsubscribe-Post"))
		}
		id := strings.TrimSuffix(strings.TrimPrefix(conf.Header.Get("Message-Id"), "<"), "@parkd>")
		if n, err := w.store.Notification(ctx, id); err != nil || n.Kind != notify.KindConfirmed || n.Status != parking.NotificationSent {
			t.Errorf("Message-ID %q names notification %+v, %v; want the sent confirmation", conf.Header.Get("Message-Id"), n, err)
		}

		// The reminder is due 30 minutes before the start, not a moment sooner.
		w.clock.Set(start.Add(-30*time.Minute - time.Second))
		mustRun(t, svc)
		if n := len(w.box.messages()); n != 1 {
			t.Fatalf("a second before the reminder is due: %d emails; want 1", n)
		}
		w.clock.Set(start.Add(-30 * time.Minute))
		mustRun(t, svc)
		mustRun(t, svc)
		msgs = w.box.messages()
		if len(msgs) != 2 {
			t.Fatalf("at the reminder's time: %d emails %v; want 2", len(msgs), subjects(t, msgs))
		}
		rem := parseMail(t, msgs[1])
		if !strings.HasPrefix(rem.Subject, "Reminder: your parking at Test Garage starts") || !strings.Contains(rem.Text, "the spot is released") {
			t.Errorf("reminder = %q\n%s", rem.Subject, rem.Text)
		}
		if len(rem.Attachments) != 0 {
			t.Errorf("the reminder has attachments %v; it links the pass", rem.Attachments)
		}

		// In at the start; the warning comes 15 minutes before the end.
		w.clock.Set(start)
		storetest.MustChange(t, w.store, r.ID, parking.StatusConfirmed, parking.StatusCheckedIn, start)
		mustRun(t, svc)
		w.clock.Set(end.Add(-15*time.Minute - time.Second))
		mustRun(t, svc)
		if n := len(w.box.messages()); n != 2 {
			t.Fatalf("before the ending warning is due: %d emails; want 2", n)
		}
		w.clock.Set(end.Add(-15 * time.Minute))
		mustRun(t, svc)
		msgs = w.box.messages()
		if len(msgs) != 3 || !strings.HasPrefix(parseMail(t, msgs[2]).Subject, "Your parking at Test Garage ends") {
			t.Fatalf("at the warning's time: %v; want the ending warning third", subjects(t, msgs))
		}

		// Out at the end: the receipt lists the payment.
		w.clock.Set(end)
		storetest.MustChange(t, w.store, r.ID, parking.StatusCheckedIn, parking.StatusCompleted, end)
		mustRun(t, svc)
		msgs = w.box.messages()
		if len(msgs) != 4 {
			t.Fatalf("after leaving: %v; want a receipt fourth", subjects(t, msgs))
		}
		receipt := parseMail(t, msgs[3])
		for _, want := range []string{"Parking: 6.00 USD (visa ending 4242)", "Total: 6.00 USD", "Parked: Mon 7 Jan 2030, 05:00 EST to Mon 7 Jan 2030, 07:00 EST"} {
			if !strings.Contains(receipt.Text, want) {
				t.Errorf("receipt lacks %q:\n%s", want, receipt.Text)
			}
		}

		// Nothing more, however often the notifier runs.
		w.clock.Set(end.Add(48 * time.Hour))
		mustRun(t, svc)
		mustRun(t, svc)
		if n := len(w.box.messages()); n != 4 {
			t.Errorf("later: %d emails; want still 4", n)
		}
		// The same in the app, newest first; the hold warning was skipped,
		// since the hold was paid.
		inApp, err := w.store.UserNotifications(ctx, w.user.ID, parking.NotificationFilter{})
		var kinds []string
		for _, n := range inApp {
			kinds = append(kinds, n.Kind)
		}
		if want := "receipt ending_soon reminder confirmed"; err != nil || strings.Join(kinds, " ") != want {
			t.Errorf("in-app notifications = %v, %v; want %s", kinds, err, want)
		}
	})
}

// TestRestartLosesAndRepeatsNothing stops the notifier after it scheduled a
// reminder, and also while events are written, then starts a new one on a
// new store on the same database.
func TestRestartLosesAndRepeatsNothing(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		dsn := b.DSN(t)
		first := b.OpenDSN(t, dsn)
		w := newWorld(t, first)
		svc := w.service(first)
		start := storetest.T0.Add(2 * time.Hour)
		r1 := w.book(t, start, start.Add(time.Hour))
		if _, err := svc.Derive(ctx); err != nil {
			t.Fatalf("Derive: %v", err)
		}
		// Stopped after scheduling, before sending anything; and a booking
		// made while no notifier runs.
		first.Close()
		second := b.OpenDSN(t, dsn)
		w.store = second
		r2 := w.book(t, start, start.Add(time.Hour))

		svc2 := w.service(second)
		mustRun(t, svc2)
		// A third instance starting from the stored cursor derives nothing anew.
		if n, err := w.service(second).Derive(ctx); err != nil || n != 0 {
			t.Errorf("Derive on a fresh instance = %d, %v; want 0 (everything derived once)", n, err)
		}
		w.clock.Set(start.Add(-30 * time.Minute))
		mustRun(t, svc2)
		mustRun(t, w.service(second))

		count := map[string]int{}
		for _, m := range w.box.messages() {
			p := parseMail(t, m)
			for _, r := range []parking.Reservation{r1, r2} {
				if strings.Contains(p.Text, r.ID) {
					count[strings.Fields(p.Subject)[0]+" "+r.ID]++
				}
			}
		}
		for _, r := range []parking.Reservation{r1, r2} {
			for _, kind := range []string{"Confirmed:", "Reminder:"} {
				if n := count[kind+" "+r.ID]; n != 1 {
					t.Errorf("%s %s arrived %d times; want once (all: %v)", kind, r.ID, n, count)
				}
			}
		}
	})
}

// TestInstancesDeliverOnce runs two notifiers on one database (two stores,
// as two parkd processes would have) side by side, each from several
// goroutines, through a day of bookings: every email arrives exactly once.
func TestInstancesDeliverOnce(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		dsn := b.DSN(t)
		one, two := b.OpenDSN(t, dsn), b.OpenDSN(t, dsn)
		w := newWorld(t, one)
		const bookings = 30
		want := map[string]bool{}
		for i := range bookings {
			start := storetest.T0.Add(time.Hour + time.Duration(i/10)*3*time.Hour + time.Duration(i%10)*7*time.Minute)
			r := w.book(t, start, start.Add(2*time.Hour))
			want["Confirmed "+r.ID], want["Reminder "+r.ID] = true, true
		}
		services := []*notify.Service{w.service(one), w.service(two), w.service(one), w.service(two)}
		for step := 0; step < 12*12; step++ { // twelve hours in five-minute steps
			done := make(chan error)
			for _, s := range services {
				for range 2 {
					go func() { done <- s.RunOnce(ctx) }()
				}
			}
			for range 2 * len(services) {
				if err := <-done; err != nil {
					t.Fatalf("RunOnce: %v", err)
				}
			}
			w.clock.Advance(5 * time.Minute)
		}
		got := map[string]int{}
		ids := map[string]int{}
		for _, m := range w.box.messages() {
			p := parseMail(t, m)
			ids[p.Header.Get("Message-Id")]++
			kind := strings.TrimSuffix(strings.Fields(p.Subject)[0], ":")
			for _, line := range strings.Split(p.Text, "\n") {
				if id, ok := strings.CutPrefix(strings.TrimSpace(line), "Reservation: "); ok {
					got[kind+" "+id]++
				}
			}
		}
		for k := range want {
			if got[k] != 1 {
				t.Errorf("%s arrived %d times; want once", k, got[k])
			}
		}
		if len(got) != len(want) {
			t.Errorf("%d distinct emails; want %d: %v", len(got), len(want), got)
		}
		for id, n := range ids {
			if n != 1 {
				t.Errorf("Message-ID %s sent %d times", id, n)
			}
		}
	})
}

// TestUnsubscribeToken: the link works for its user only.
func TestUnsubscribeToken(t *testing.T) {
	svc := notify.New(notify.Config{Clock: parkingtest.NewClock(storetest.T0), UnsubscribeKeys: [][]byte{[]byte("new"), []byte("old")}})
	tok := svc.UnsubscribeToken("usr_ada")
	if id, err := svc.CheckUnsubscribeToken(tok); err != nil || id != "usr_ada" {
		t.Errorf("CheckUnsubscribeToken(own) = %q, %v; want usr_ada", id, err)
	}
	old := notify.New(notify.Config{UnsubscribeKeys: [][]byte{[]byte("old")}}).UnsubscribeToken("usr_ada")
	if id, err := svc.CheckUnsubscribeToken(old); err != nil || id != "usr_ada" {
		t.Errorf("CheckUnsubscribeToken(signed with an older key) = %q, %v; want usr_ada", id, err)
	}
	enc, sig, _ := strings.Cut(tok, ".")
	bob := base64.RawURLEncoding.EncodeToString([]byte("usr_bob"))
	for _, bad := range []string{"", "x", enc, bob + "." + sig, enc + "." + strings.Repeat("0", len(sig)), enc + ".zz", "!!." + sig} {
		if id, err := svc.CheckUnsubscribeToken(bad); err == nil || parking.ErrorCode(err) != parking.EINVALID {
			t.Errorf("CheckUnsubscribeToken(%q) = %q, %v; want invalid", bad, id, err)
		}
	}
	if got := fmt.Sprint(svc.UnsubscribeURL("usr_ada")); !strings.HasSuffix(got, "/api/v1/notifications/unsubscribe?token="+tok) {
		t.Errorf("UnsubscribeURL = %q", got)
	}
}
