package main

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/store/teststore"
)

// TestReservationPageChanges: the reservation page prices an extension on the
// server (or says why it cannot be had), offers it only to the driver, and
// says why when the lot cancelled a booking.
func TestReservationPageChanges(t *testing.T) {
	dsn := teststore.SQLiteDSN(t)
	base := startParkd(t, "--db", dsn)
	garage, _ := demoLots(t, base)
	c := &api{t: t, base: base}
	c.call(201, "POST", "/api/v1/users", map[string]string{"name": "Grace", "email": "grace@example.com", "password": "a long enough secret"}, nil)
	var sess struct{ Token string }
	c.call(201, "POST", "/api/v1/sessions", map[string]string{"email": "grace@example.com", "password": "a long enough secret"}, &sess)
	c.token = sess.Token
	var vehicle struct{ ID string }
	c.call(201, "POST", "/api/v1/users/me/vehicles", map[string]string{"plate": "GRC 42", "size": "standard"}, &vehicle)
	book := func(key string, start time.Time) string {
		var r struct{ ID string }
		c.call(201, "POST", "/api/v1/reservations", map[string]any{"lot_id": garage, "vehicle_id": vehicle.ID,
			"starts_at": start, "ends_at": start.Add(2 * time.Hour)}, &r, "Idempotency-Key", key+"-hold")
		c.call(201, "POST", "/api/v1/reservations/"+r.ID+"/payments", map[string]string{"payment_method": "pm_card_visa"}, nil, "Idempotency-Key", key+"-pay")
		return r.ID
	}
	start := time.Now().UTC().Truncate(time.Hour).Add(20 * time.Hour)
	kept, dropped := book("kept", start), book("dropped", start.Add(48*time.Hour))

	driver := newBrowser(t, base)
	driver.signIn("grace@example.com", "a long enough secret")
	page := driver.get("/reservations/"+kept, 200)
	for _, want := range []string{`id="extend"`, "Extend your stay", "1 h</a>", "3.00 USD more", "Pay 3.00 USD and extend", `id="card-number"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the reservation page lacks %q", want)
		}
	}
	page = driver.get("/reservations/"+kept+"?extend_to="+url.QueryEscape(start.Add(40*time.Hour).Format(time.RFC3339)), 200)
	if !strings.Contains(page, `id="extend-problem"`) || !strings.Contains(page, "longer than this lot") || strings.Contains(page, `id="extend-btn"`) {
		t.Errorf("an extension past the longest stay: the page does not say why it cannot be had")
	}
	operator := newBrowser(t, base)
	operator.signIn("operator@parkd.test", "demo-operator-pass")
	if page := operator.get("/reservations/"+kept, 200); strings.Contains(page, `id="extend"`) {
		t.Errorf("the lot's operator is offered to extend the driver's stay; only the driver can")
	}

	// The lot cancels the other booking, as the sweep does when no spot fits.
	store := teststore.Backends(t)[0].OpenDSN(t, dsn)
	if _, err := store.ChangeStatus(context.Background(), parking.StatusChange{ID: dropped, From: []parking.Status{parking.StatusConfirmed},
		To: parking.StatusCancelled, At: time.Now().UTC(), Reason: parking.ReasonOverstay}); err != nil {
		t.Fatal(err)
	}
	want := "The lot had to cancel this booking: the car parked there before you is staying past its time, and no other spot fitted your vehicle."
	for _, path := range []string{"/reservations/" + dropped, "/reservations"} {
		if page := driver.get(path, 200); !strings.Contains(page, want) {
			t.Errorf("%s does not say why the lot cancelled the booking", path)
		}
	}
	if page := driver.get("/reservations/"+dropped, 200); strings.Contains(page, `id="extend"`) {
		t.Errorf("a cancelled booking is offered an extension")
	}
}
