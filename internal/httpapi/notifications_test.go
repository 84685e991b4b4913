package httpapi_test

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"parkd/internal/auth"
	"parkd/internal/booking"
	"parkd/internal/httpapi"
	"parkd/internal/notify"
	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

type notifyEnv struct {
	srv    *httptest.Server
	store  parking.Store
	clock  *parkingtest.Clock
	notify *notify.Service
	f      storetest.Fixture
}

func newNotifyAPI(t *testing.T, b teststore.Backend) notifyEnv {
	t.Helper()
	s := b.Open(t)
	clock := parkingtest.NewClock(storetest.T0)
	log := parkingtest.Logger(t)
	svc := notify.New(notify.Config{Store: s, Clock: clock, Log: log, UnsubscribeKeys: [][]byte{[]byte("test key")}})
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.WithStore(httpapi.Services{Log: log, Engine: booking.New(s, clock),
		Auth: auth.New(s, clock), Clock: clock, Notify: svc}, s)))
	t.Cleanup(srv.Close)
	return notifyEnv{srv: srv, store: s, clock: clock, notify: svc, f: storetest.MustFixture(t, s)}
}

// confirmed books and pays a reservation for userID through the store, and
// runs the notifier: the driver has an in-app confirmation.
func (e notifyEnv) confirmed(t *testing.T, userID string, spot int) parking.Reservation {
	t.Helper()
	now := e.clock.Now()
	r := e.f.NewHold(now, now.Add(2*time.Hour), now.Add(3*time.Hour))
	r.UserID = userID
	if err := e.store.Hold(context.Background(), r, []string{e.f.Spots[spot].ID}, nil); err != nil {
		t.Fatalf("Hold: %v", err)
	}
	p := storetest.NewCharge(*r, now)
	if err := e.store.CreatePayment(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.store.UpdatePayment(context.Background(), parking.PaymentUpdate{PaymentID: p.ID, From: []string{parking.PaymentPending},
		To: parking.PaymentSucceeded, Confirm: true, At: now}); err != nil {
		t.Fatal(err)
	}
	if err := e.notify.RunOnce(context.Background()); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	return *r
}

type inbox struct {
	Notifications []struct {
		ID, Kind, Title, Body string
		ReservationID         string `json:"reservation_id"`
		Read                  bool
	}
}

// TestNotificationsAuthorization: a driver sees and changes only their own
// notifications and settings; bad input changes nothing.
func TestNotificationsAuthorization(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newNotifyAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		bob := signUp(t, e.srv.URL, "Bob", "bob@example.com")
		adaID, bobID := mustUserID(t, ada), mustUserID(t, bob)
		r := e.confirmed(t, adaID, 5)

		var got inbox
		ada.must(200, "GET", "/api/v1/users/me/notifications", nil).into(t, &got)
		if len(got.Notifications) != 1 || got.Notifications[0].Kind != "confirmed" || got.Notifications[0].ReservationID != r.ID ||
			!strings.Contains(got.Notifications[0].Body, r.ID) || got.Notifications[0].Read {
			t.Fatalf("Ada's notifications = %+v; want her unread confirmation", got)
		}
		adaNote := got.Notifications[0].ID
		bob.must(200, "GET", "/api/v1/users/me/notifications", nil).into(t, &got)
		if len(got.Notifications) != 0 {
			t.Errorf("Bob sees %+v; want none", got)
		}
		for _, req := range []struct{ method, path string }{
			{"GET", "/api/v1/users/" + adaID + "/notifications"},
			{"POST", "/api/v1/users/" + adaID + "/notifications/read"},
			{"GET", "/api/v1/users/" + adaID + "/notifications/live"},
			{"GET", "/api/v1/users/" + adaID + "/notification-settings"},
			{"PATCH", "/api/v1/users/" + adaID + "/notification-settings"},
		} {
			if x := bob.do(req.method, req.path, map[string]any{"all": true, "email": false}); x.status != 404 || x.problem().Code != parking.ENOTFOUND {
				t.Errorf("Bob: %s %s = %d %s; want 404 not_found", req.method, req.path, x.status, x.body)
			}
		}
		var marked struct{ Marked int }
		bob.must(200, "POST", "/api/v1/users/me/notifications/read", map[string]any{"ids": []string{adaNote}}).into(t, &marked)
		if marked.Marked != 0 {
			t.Errorf("Bob marked %d of Ada's notifications read", marked.Marked)
		}
		bob.must(200, "POST", "/api/v1/users/me/notifications/read", map[string]any{"all": true})
		anon := &client{t: t, base: e.srv.URL}
		if x := anon.do("GET", "/api/v1/users/me/notifications", nil); x.status != 401 {
			t.Errorf("signed out: %d; want 401", x.status)
		}

		// Bad input: a problem, and nothing changes.
		for _, c := range []struct {
			method, path string
			body         any
			status       int
		}{
			{"POST", "/api/v1/users/me/notifications/read", map[string]any{}, 422},
			{"POST", "/api/v1/users/me/notifications/read", map[string]any{"ids": []string{adaNote}, "all": true}, 422},
			{"POST", "/api/v1/users/me/notifications/read", `{"ids": [`, 400},
			{"POST", "/api/v1/users/me/notifications/read", map[string]any{"ids": []string{adaNote}, "mark": "all"}, 400},
			{"POST", "/api/v1/users/me/notifications/read", map[string]any{"ids": make([]string, 201)}, 422},
			{"PATCH", "/api/v1/users/me/notification-settings", map[string]any{"email": false, "reminder_lead": "10s"}, 422},
			{"PATCH", "/api/v1/users/me/notification-settings", map[string]any{"email": false, "ending_lead": "200h"}, 422},
			{"PATCH", "/api/v1/users/me/notification-settings", map[string]any{"email": "no"}, 400},
			{"PATCH", "/api/v1/users/me/notification-settings", map[string]any{"email": false, "reminder_lead": 30}, 400},
			{"PATCH", "/api/v1/users/me/notification-settings", map[string]any{"email": false, "sms": true}, 400},
			{"GET", "/api/v1/users/me/notifications?limit=500", nil, 400},
			{"GET", "/api/v1/users/me/notifications/live?since=2020-01-01T00:00:00Z", nil, 400},
			{"PUT", "/api/v1/operators/" + e.f.Operator.ID + "/webhook", map[string]any{"url": "https://evil.example.com"}, 403},
		} {
			x := ada.do(c.method, c.path, c.body)
			if x.status != c.status || !strings.HasPrefix(x.header.Get("Content-Type"), "application/problem+json") {
				t.Errorf("%s %s %v = %d %s; want %d problem+json", c.method, c.path, c.body, x.status, x.body, c.status)
			}
		}
		ada.must(200, "GET", "/api/v1/users/me/notifications?unread=true", nil).into(t, &got)
		if len(got.Notifications) != 1 {
			t.Errorf("after bad input and Bob's tries, Ada's unread = %+v; want her one", got)
		}
		var st parking.NotificationSettings
		ada.must(200, "GET", "/api/v1/users/me/notification-settings", nil).into(t, &st)
		if want := parking.DefaultNotificationSettings(""); st != want {
			t.Errorf("settings after bad input = %+v; want the defaults %+v", st, want)
		}
		if _, err := e.store.OperatorWebhook(context.Background(), e.f.Operator.ID); err == nil {
			t.Errorf("a driver's PUT stored a webhook")
		}

		// Good input.
		ada.must(200, "PATCH", "/api/v1/users/me/notification-settings", map[string]any{"reminder_lead": "1h", "in_app": false}).into(t, &st)
		if st.ReminderLead != parking.Duration(time.Hour) || st.InApp || !st.Email || st.EndingLead != parking.Duration(15*time.Minute) {
			t.Errorf("PATCH = %+v; want the fields sent changed, the rest kept", st)
		}
		ada.must(200, "POST", "/api/v1/users/me/notifications/read", map[string]any{"ids": []string{adaNote}}).into(t, &marked)
		if marked.Marked != 1 {
			t.Errorf("Ada marked %d; want 1", marked.Marked)
		}

		// Unsubscribe: Bob's link turns off Bob's email only; a forged one nothing.
		anon.must(200, "POST", "/api/v1/notifications/unsubscribe?token="+e.notify.UnsubscribeToken(bobID), nil)
		if x := anon.do("POST", "/api/v1/notifications/unsubscribe?token="+e.notify.UnsubscribeToken(bobID)[:10]+"."+strings.Repeat("0", 32), nil); x.status != 400 {
			t.Errorf("forged unsubscribe = %d %s; want 400", x.status, x.body)
		}
		if x := anon.must(200, "GET", "/api/v1/notifications/unsubscribe?token="+e.notify.UnsubscribeToken(adaID), nil); !strings.Contains(string(x.body), "<form method=\"post\"") {
			t.Errorf("unsubscribe page = %s; want a form", x.body)
		}
		bob.must(200, "GET", "/api/v1/users/me/notification-settings", nil).into(t, &st)
		if st.Email {
			t.Errorf("Bob's email is still on after unsubscribing")
		}
		ada.must(200, "GET", "/api/v1/users/me/notification-settings", nil).into(t, &st)
		if !st.Email {
			t.Errorf("Ada's email went off: opening the page or Bob's link must not do that")
		}
	})
}

// TestNotificationsLive: a notification sent while the driver's stream is
// open arrives on it at once.
func TestNotificationsLive(t *testing.T) {
	b := teststore.Backends(t)[0]
	e := newNotifyAPI(t, b)
	ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
	adaID := mustUserID(t, ada)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/users/me/notifications/live", nil)
	req.Header.Set("Authorization", "Bearer "+ada.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("live = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Scan() // "retry: 5000"
	r := e.confirmed(t, adaID, 5)
	var event, data string
	for lines.Scan() {
		line := lines.Text()
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			event = v
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			data = v
			break
		}
	}
	if event != "notification" || !strings.Contains(data, `"kind":"confirmed"`) || !strings.Contains(data, r.ID) {
		t.Errorf("live stream gave event %q data %s (%v); want the confirmation", event, data, lines.Err())
	}
}
