package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"parkd/internal/parking"
)

func notifyTests() []namedTest {
	return []namedTest{
		{"NotificationsDedupeAndCursor", testNotificationsDedupe},
		{"NotificationClaims", testNotificationClaims},
		{"NotificationRetry", testNotificationRetry},
		{"UserNotifications", testUserNotifications},
		{"NotificationSettings", testNotificationSettings},
		{"OperatorWebhooks", testOperatorWebhooks},
		{"PaymentEvents", testPaymentEvents},
	}
}

// NewNotification returns a pending in-app notification for u, due at due.
func NewNotification(u parking.User, key string, due time.Time) parking.Notification {
	return parking.Notification{ID: parking.NewID("ntf"), DedupeKey: key, Channel: parking.ChannelInApp, Kind: "reminder",
		UserID: u.ID, DueAt: due, CreatedAt: T0}
}

func mustAdd(t testing.TB, s parking.Store, ns ...parking.Notification) {
	t.Helper()
	if n, err := s.AddNotifications(ctx, ns, "", 0); err != nil || n != len(ns) {
		t.Fatalf("AddNotifications(%d) = %d, %v; want %d, nil", len(ns), n, err, len(ns))
	}
}

func testNotificationsDedupe(t *testing.T, s parking.Store) {
	u := MustUser(t, s, "ada@example.com")
	if seq, err := s.NotifyCursor(ctx, "test"); err != nil || seq != 0 {
		t.Errorf("NotifyCursor(never set) = %d, %v; want 0, nil", seq, err)
	}
	a, b := NewNotification(u, "k:a", T0), NewNotification(u, "k:b", T0)
	if n, err := s.AddNotifications(ctx, []parking.Notification{a, b}, "test", 7); err != nil || n != 2 {
		t.Fatalf("AddNotifications = %d, %v; want 2, nil", n, err)
	}
	again := []parking.Notification{NewNotification(u, "k:a", T0), NewNotification(u, "k:b", T0), NewNotification(u, "k:c", T0)}
	if n, err := s.AddNotifications(ctx, again, "test", 5); err != nil || n != 1 {
		t.Errorf("AddNotifications(two stored keys and a new one) = %d, %v; want 1, nil", n, err)
	}
	if seq, err := s.NotifyCursor(ctx, "test"); err != nil || seq != 7 {
		t.Errorf("NotifyCursor after moving back to 5 = %d, %v; want 7 (never back)", seq, err)
	}
	got, err := s.Notification(ctx, a.ID)
	if err != nil || got.DedupeKey != "k:a" || got.Status != parking.NotificationPending || !got.DueAt.Equal(T0) || got.UserID != u.ID {
		t.Errorf("Notification(%s) = %+v, %v", a.ID, got, err)
	}
	if _, err := s.Notification(ctx, again[0].ID); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("Notification(a duplicate that was not stored) = %v; want ErrNotFound", err)
	}
	bad := NewNotification(u, "k:bad", T0)
	bad.UserID = "usr_missing"
	if _, err := s.AddNotifications(ctx, []parking.Notification{NewNotification(u, "k:d", T0), bad}, "test", 9); err == nil {
		t.Errorf("AddNotifications(for a missing user) = nil; want an error")
	}
	if seq, _ := s.NotifyCursor(ctx, "test"); seq != 7 {
		t.Errorf("a failed AddNotifications moved the cursor to %d; want 7 (all or nothing)", seq)
	}
	// The migration starts the notifier's own cursor after any history.
	if seq, err := s.NotifyCursor(ctx, "notifications"); err != nil || seq != 0 {
		t.Errorf(`NotifyCursor("notifications") on an empty database = %d, %v; want 0`, seq, err)
	}
}

func testNotificationClaims(t *testing.T, s parking.Store) {
	u := MustUser(t, s, "ada@example.com")
	due, later := NewNotification(u, "k:due", T0), NewNotification(u, "k:later", T0.Add(time.Hour))
	mustAdd(t, s, due, later)

	claimed, err := s.ClaimNotifications(ctx, T0, time.Minute, 10)
	if err != nil || len(claimed) != 1 || claimed[0].ID != due.ID || claimed[0].Attempts != 1 || claimed[0].ClaimToken == "" {
		t.Fatalf("ClaimNotifications(T0) = %+v, %v; want the due one, attempt 1", claimed, err)
	}
	if again, err := s.ClaimNotifications(ctx, T0.Add(30*time.Second), time.Minute, 10); err != nil || len(again) != 0 {
		t.Errorf("ClaimNotifications within the lease = %+v, %v; want none", again, err)
	}
	// The lease ran out (the worker died): another worker takes it over, and
	// the first one's claim no longer counts.
	retaken, err := s.ClaimNotifications(ctx, T0.Add(time.Minute), time.Minute, 10)
	if err != nil || len(retaken) != 1 || retaken[0].Attempts != 2 || retaken[0].ClaimToken == claimed[0].ClaimToken {
		t.Fatalf("ClaimNotifications after the lease = %+v, %v; want it again, attempt 2, a new token", retaken, err)
	}
	stale := parking.NotificationOutcome{ID: due.ID, ClaimToken: claimed[0].ClaimToken, Status: parking.NotificationSent, At: T0}
	if err := s.FinishNotification(ctx, stale); !errors.Is(err, parking.ErrInvalidStatus) {
		t.Errorf("FinishNotification(a lost claim) = %v; want ErrInvalidStatus", err)
	}
	sentAt := T0.Add(61 * time.Second)
	done := parking.NotificationOutcome{ID: due.ID, ClaimToken: retaken[0].ClaimToken, Status: parking.NotificationSent,
		Subject: "Hello", Body: "Body", At: sentAt}
	if err := s.FinishNotification(ctx, done); err != nil {
		t.Fatalf("FinishNotification(sent) = %v", err)
	}
	if err := s.FinishNotification(ctx, done); !errors.Is(err, parking.ErrInvalidStatus) {
		t.Errorf("FinishNotification(twice) = %v; want ErrInvalidStatus", err)
	}
	got, _ := s.Notification(ctx, due.ID)
	if got.Status != parking.NotificationSent || got.SentAt == nil || !got.SentAt.Equal(sentAt) || got.Subject != "Hello" || got.Body != "Body" {
		t.Errorf("after sending: %+v", got)
	}
	if more, _ := s.ClaimNotifications(ctx, T0.Add(10*time.Minute), time.Minute, 10); len(more) != 0 {
		t.Errorf("ClaimNotifications after sending = %+v; want none (the other is not due)", more)
	}
	if more, _ := s.ClaimNotifications(ctx, T0.Add(time.Hour), time.Minute, 10); len(more) != 1 || more[0].ID != later.ID {
		t.Errorf("ClaimNotifications(T0+1h) = %+v; want the later one", more)
	}
}

func testNotificationRetry(t *testing.T, s parking.Store) {
	u := MustUser(t, s, "ada@example.com")
	n := NewNotification(u, "k:n", T0)
	mustAdd(t, s, n)
	c, _ := s.ClaimNotifications(ctx, T0, time.Minute, 1)
	if len(c) != 1 {
		t.Fatalf("ClaimNotifications = %+v; want one", c)
	}
	retryAt := T0.Add(30 * time.Second)
	if err := s.FinishNotification(ctx, parking.NotificationOutcome{ID: n.ID, ClaimToken: c[0].ClaimToken,
		Status: parking.NotificationPending, RetryAt: retryAt, Error: "connection refused", At: T0}); err != nil {
		t.Fatalf("FinishNotification(retry) = %v", err)
	}
	if c, _ := s.ClaimNotifications(ctx, retryAt.Add(-time.Microsecond), time.Minute, 1); len(c) != 0 {
		t.Errorf("claimed before its retry time: %+v", c)
	}
	c, _ = s.ClaimNotifications(ctx, retryAt, time.Minute, 1)
	if len(c) != 1 || c[0].Attempts != 2 || c[0].LastError != "connection refused" {
		t.Fatalf("ClaimNotifications(retry time) = %+v; want it, attempt 2, with the last error", c)
	}
	if err := s.FinishNotification(ctx, parking.NotificationOutcome{ID: n.ID, ClaimToken: c[0].ClaimToken,
		Status: parking.NotificationFailed, Error: "gave up", At: retryAt}); err != nil {
		t.Fatalf("FinishNotification(failed) = %v", err)
	}
	if got, _ := s.Notification(ctx, n.ID); got.Status != parking.NotificationFailed || got.SentAt != nil {
		t.Errorf("after giving up: %+v", got)
	}
	if c, _ := s.ClaimNotifications(ctx, T0.Add(time.Hour), time.Minute, 1); len(c) != 0 {
		t.Errorf("a failed notification was claimed again: %+v", c)
	}
}

// mustSend claims everything due at at and records it sent.
func mustSend(t testing.TB, s parking.Store, at time.Time) []parking.Notification {
	t.Helper()
	c, err := s.ClaimNotifications(ctx, at, time.Minute, 100)
	if err != nil {
		t.Fatalf("ClaimNotifications: %v", err)
	}
	for _, n := range c {
		if err := s.FinishNotification(ctx, parking.NotificationOutcome{ID: n.ID, ClaimToken: n.ClaimToken,
			Status: parking.NotificationSent, Subject: "S " + n.DedupeKey, Body: "B", At: n.DueAt}); err != nil {
			t.Fatalf("FinishNotification: %v", err)
		}
	}
	return c
}

func testUserNotifications(t *testing.T, s parking.Store) {
	ada, bob := MustUser(t, s, "ada@example.com"), MustUser(t, s, "bob@example.com")
	a1, a2, a3 := NewNotification(ada, "a1", T0), NewNotification(ada, "a2", T0.Add(time.Minute)), NewNotification(ada, "a3", T0.Add(time.Hour))
	email := NewNotification(ada, "a-email", T0)
	email.Channel = parking.ChannelEmail
	b1 := NewNotification(bob, "b1", T0)
	mustAdd(t, s, a1, a2, a3, email, b1)
	mustSend(t, s, T0.Add(time.Minute))

	ids := func(ns []parking.Notification) []string {
		out := []string{}
		for _, n := range ns {
			out = append(out, n.ID)
		}
		return out
	}
	got, err := s.UserNotifications(ctx, ada.ID, parking.NotificationFilter{})
	if want := []string{a2.ID, a1.ID}; err != nil || !reflect.DeepEqual(ids(got), want) {
		t.Errorf("UserNotifications(ada) = %v, %v; want %v (sent in-app only, newest first)", ids(got), err, want)
	}
	if got, _ := s.UserNotifications(ctx, ada.ID, parking.NotificationFilter{SentSince: T0.Add(time.Second)}); !reflect.DeepEqual(ids(got), []string{a2.ID}) {
		t.Errorf("UserNotifications(since) = %v; want [a2]", ids(got))
	}
	if got, _ := s.UserNotifications(ctx, ada.ID, parking.NotificationFilter{Limit: 1}); len(got) != 1 {
		t.Errorf("UserNotifications(limit 1) = %v", ids(got))
	}
	// Bob cannot mark Ada's read.
	if n, err := s.MarkNotificationsRead(ctx, bob.ID, []string{a1.ID}, T0.Add(2*time.Minute)); err != nil || n != 0 {
		t.Errorf("MarkNotificationsRead(bob, ada's) = %d, %v; want 0", n, err)
	}
	if n, err := s.MarkNotificationsRead(ctx, ada.ID, []string{a1.ID}, T0.Add(2*time.Minute)); err != nil || n != 1 {
		t.Errorf("MarkNotificationsRead(ada, a1) = %d, %v; want 1", n, err)
	}
	if got, _ := s.UserNotifications(ctx, ada.ID, parking.NotificationFilter{Unread: true}); !reflect.DeepEqual(ids(got), []string{a2.ID}) {
		t.Errorf("UserNotifications(unread) = %v; want [a2]", ids(got))
	}
	if n, err := s.MarkNotificationsRead(ctx, ada.ID, nil, T0.Add(3*time.Minute)); err != nil || n != 1 {
		t.Errorf("MarkNotificationsRead(ada, all) = %d, %v; want 1", n, err)
	}
	got, _ = s.UserNotifications(ctx, ada.ID, parking.NotificationFilter{})
	if len(got) != 2 || got[1].ReadAt == nil || !got[1].ReadAt.Equal(T0.Add(2*time.Minute)) {
		t.Errorf("after marking all read: %+v; want a1 read at its first marking", got)
	}
	if got, _ := s.UserNotifications(ctx, bob.ID, parking.NotificationFilter{Unread: true}); len(got) != 1 {
		t.Errorf("bob's unread = %v; want his one", ids(got))
	}
}

func testNotificationSettings(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	got, err := s.NotificationSettings(ctx, u.ID)
	if want := parking.DefaultNotificationSettings(u.ID); err != nil || got != want {
		t.Errorf("NotificationSettings(never saved) = %+v, %v; want the defaults %+v", got, err, want)
	}
	// A pending reminder 30 minutes before a start, and one already tried.
	r := heldFor(t, s, f, u, 5)
	reminder := NewNotification(u, "reminder:"+r.ID, r.StartsAt.Add(-30*time.Minute))
	reminder.ReservationID = r.ID
	ending := NewNotification(u, "ending:"+r.ID, r.EndsAt.Add(-15*time.Minute))
	ending.ReservationID, ending.Kind = r.ID, "ending_soon"
	other := NewNotification(u, "confirmed:"+r.ID, T0)
	other.ReservationID, other.Kind = r.ID, "confirmed"
	mustAdd(t, s, reminder, ending, other)

	st := parking.NotificationSettings{UserID: u.ID, Email: false, InApp: true, Reminders: true,
		ReminderLead: parking.Duration(2 * time.Hour), EndingLead: parking.Duration(5 * time.Minute), UpdatedAt: T0.Add(time.Minute)}
	if err := s.SaveNotificationSettings(ctx, &st); err != nil || st.Version != 1 {
		t.Fatalf("SaveNotificationSettings = %v, version %d; want version 1", err, st.Version)
	}
	if got, err := s.NotificationSettings(ctx, u.ID); err != nil || got != st {
		t.Errorf("NotificationSettings = %+v, %v; want %+v", got, err, st)
	}
	for _, c := range []struct {
		n    parking.Notification
		want time.Time
	}{{reminder, r.StartsAt.Add(-2 * time.Hour)}, {ending, r.EndsAt.Add(-5 * time.Minute)}, {other, T0}} {
		if got, _ := s.Notification(ctx, c.n.ID); !got.DueAt.Equal(c.want) {
			t.Errorf("%s due at %v after the lead changed; want %v", c.n.Kind, got.DueAt, c.want)
		}
	}
	stale := st
	st.Email = true
	if err := s.SaveNotificationSettings(ctx, &st); err != nil || st.Version != 2 {
		t.Fatalf("SaveNotificationSettings(again) = %v, version %d; want version 2", err, st.Version)
	}
	if got, _ := s.NotificationSettings(ctx, u.ID); !got.Email || got.Version != 2 {
		t.Errorf("the second save did not replace the first: %+v", got)
	}
	// A save over a version read before another save, or a first save when
	// one was made meanwhile, is ErrStale and changes nothing.
	stale.InApp = false
	if err := s.SaveNotificationSettings(ctx, &stale); !errors.Is(err, parking.ErrStale) || stale.Version != 1 {
		t.Errorf("SaveNotificationSettings(stale) = %v, version %d; want ErrStale, version 1", err, stale.Version)
	}
	fresh := parking.DefaultNotificationSettings(u.ID)
	if err := s.SaveNotificationSettings(ctx, &fresh); !errors.Is(err, parking.ErrStale) {
		t.Errorf("SaveNotificationSettings(version 0 over a saved row) = %v; want ErrStale", err)
	}
	if got, _ := s.NotificationSettings(ctx, u.ID); got != st {
		t.Errorf("after stale saves: %+v; want %+v unchanged", got, st)
	}
	missing := parking.DefaultNotificationSettings("usr_missing")
	if err := s.SaveNotificationSettings(ctx, &missing); err == nil {
		t.Errorf("SaveNotificationSettings(missing user) = nil; want an error")
	}
}

func testOperatorWebhooks(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	if _, err := s.OperatorWebhook(ctx, f.Operator.ID); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("OperatorWebhook(none) = %v; want ErrNotFound", err)
	}
	w := parking.OperatorWebhook{OperatorID: f.Operator.ID, URL: "https://ops.example.com/hook", Secret: "whsec_1", UpdatedAt: T0}
	if err := s.SaveOperatorWebhook(ctx, w); err != nil {
		t.Fatalf("SaveOperatorWebhook = %v", err)
	}
	w.URL, w.Secret = "https://ops.example.com/v2", "whsec_2"
	if err := s.SaveOperatorWebhook(ctx, w); err != nil {
		t.Fatalf("SaveOperatorWebhook(replace) = %v", err)
	}
	if got, err := s.OperatorWebhook(ctx, f.Operator.ID); err != nil || got != w {
		t.Errorf("OperatorWebhook = %+v, %v; want %+v", got, err, w)
	}
	if err := s.DeleteOperatorWebhook(ctx, f.Operator.ID); err != nil {
		t.Errorf("DeleteOperatorWebhook = %v", err)
	}
	if _, err := s.OperatorWebhook(ctx, f.Operator.ID); !errors.Is(err, parking.ErrNotFound) {
		t.Errorf("OperatorWebhook(deleted) = %v; want ErrNotFound", err)
	}
	if err := s.DeleteOperatorWebhook(ctx, f.Operator.ID); err != nil {
		t.Errorf("DeleteOperatorWebhook(none) = %v; want nil", err)
	}
}

// testPaymentEvents: a payment that succeeds announces itself in the outbox,
// once, by kind, so notifications about money are derived durably.
func testPaymentEvents(t *testing.T, s parking.Store) {
	f := MustFixture(t, s)
	u := MustUser(t, s, "ada@example.com")
	r := heldFor(t, s, f, u, 5)
	charge := NewCharge(r, T0)
	if err := s.CreatePayment(ctx, charge); err != nil {
		t.Fatalf("CreatePayment: %v", err)
	}
	at := T0.Add(time.Second)
	if _, _, err := s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: charge.ID, From: []string{parking.PaymentPending},
		To: parking.PaymentSucceeded, Confirm: true, At: at}); err != nil {
		t.Fatalf("UpdatePayment(succeeded) = %v", err)
	}
	// A repeat finds it succeeded already and announces nothing.
	s.UpdatePayment(ctx, parking.PaymentUpdate{PaymentID: charge.ID, From: []string{parking.PaymentPending}, To: parking.PaymentSucceeded, At: at})
	refund := &parking.Payment{ID: parking.NewID("pay"), ReservationID: r.ID, UserID: u.ID, Kind: parking.Refund, Amount: 100,
		Currency: "USD", Status: parking.PaymentSucceeded, Gateway: "sandbox", RefundOf: charge.ID, CreatedAt: at, UpdatedAt: at}
	if err := s.CreatePayment(ctx, refund); err != nil {
		t.Fatalf("CreatePayment(succeeded refund) = %v", err)
	}
	failed := &parking.Payment{ID: parking.NewID("pay"), ReservationID: r.ID, UserID: u.ID, Kind: parking.Charge, Amount: 100,
		Currency: "USD", Status: parking.PaymentFailed, Gateway: "sandbox", Purpose: parking.PurposeOverstay, CreatedAt: at, UpdatedAt: at}
	if err := s.CreatePayment(ctx, failed); err != nil {
		t.Fatalf("CreatePayment(failed) = %v", err)
	}
	events, err := s.Events(ctx, f.Lot.ID, 0, 100)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	var types []string
	for _, e := range events {
		types = append(types, e.Type)
		if e.ReservationID != r.ID || e.SpotID != r.SpotID {
			t.Errorf("event %+v; want reservation %s and spot %s", e, r.ID, r.SpotID)
		}
	}
	want := []string{"reservation.held", "payment.succeeded", "reservation.confirmed", "refund.succeeded"}
	if !reflect.DeepEqual(types, want) {
		t.Errorf("events = %v; want %v", types, want)
	}
	if got := parking.PaymentEventType(parking.Payment{Kind: parking.Charge, Purpose: parking.PurposeOverstay}); got != "overstay_charge.succeeded" {
		t.Errorf("PaymentEventType(overstay) = %q", got)
	}
}

// testClaimNotificationsRace: workers on every instance claim at once, over
// and over; each notification is claimed by exactly one of them.
func testClaimNotificationsRace(t *testing.T, stores []parking.Store) {
	const total, workers = 300, 8
	u := MustUser(t, stores[0], "ada@example.com")
	var ns []parking.Notification
	for i := range total {
		ns = append(ns, NewNotification(u, fmt.Sprintf("k:%d", i), T0.Add(time.Duration(i%10)*time.Second)))
	}
	mustAdd(t, stores[0], ns...)
	var mu sync.Mutex
	claimedBy := map[string]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[w%len(stores)]
			for {
				c, err := s.ClaimNotifications(ctx, T0.Add(time.Minute), time.Hour, 7)
				if err != nil {
					t.Errorf("ClaimNotifications: %v", err)
					return
				}
				if len(c) == 0 {
					return
				}
				mu.Lock()
				for _, n := range c {
					claimedBy[n.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(claimedBy) != total {
		t.Errorf("%d notifications claimed; want %d", len(claimedBy), total)
	}
	for id, n := range claimedBy {
		if n != 1 {
			t.Errorf("%s claimed %d times; want once", id, n)
		}
	}
}
