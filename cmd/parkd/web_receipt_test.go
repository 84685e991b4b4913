package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"parkd/internal/store/teststore"
)

// TestReceiptsAndTimes: a paid booking has a receipt page in the app, a
// declined charge has none; every time on the pass, the reservation page, the
// lists and the receipt is in the lot's zone with its label (the demo garage
// is in Seattle), whatever the server's zone.
func TestReceiptsAndTimes(t *testing.T) {
	base := startParkd(t, "--db", teststore.SQLiteDSN(t))
	garage, _ := demoLots(t, base)
	c := &api{t: t, base: base}
	c.call(201, "POST", "/api/v1/users", map[string]string{"name": "Ada", "email": "ada@example.com", "password": "a long enough secret"}, nil)
	var sess struct{ Token string }
	c.call(201, "POST", "/api/v1/sessions", map[string]string{"email": "ada@example.com", "password": "a long enough secret"}, &sess)
	c.token = sess.Token
	start := time.Now().UTC().Truncate(time.Hour).Add(20 * time.Hour)
	hold := func(key string, start time.Time) string {
		var r struct{ ID string }
		c.call(201, "POST", "/api/v1/reservations", map[string]any{"lot_id": garage, "plate": "ADA 1", "size": "standard",
			"starts_at": start, "ends_at": start.Add(2 * time.Hour)}, &r, "Idempotency-Key", key)
		return r.ID
	}
	paid := hold("paid", start)
	var out struct{ Payment struct{ ID string } }
	c.call(201, "POST", "/api/v1/reservations/"+paid+"/payments", map[string]string{"payment_method": "pm_card_visa"}, &out, "Idempotency-Key", "pay-1")
	charge := out.Payment
	declined := hold("declined", start.Add(48*time.Hour))
	c.call(402, "POST", "/api/v1/reservations/"+declined+"/payments", map[string]string{"payment_method": "pm_card_chargeDeclined"}, nil, "Idempotency-Key", "pay-2")
	var history struct {
		Payments []struct{ ID, Status string }
	}
	c.call(200, "GET", "/api/v1/users/me/payments", nil, &history)
	var failed string
	for _, p := range history.Payments {
		if p.Status == "failed" {
			failed = p.ID
		}
	}
	if failed == "" {
		t.Fatalf("no failed payment in the history: %+v", history)
	}

	driver := newBrowser(t, base)
	driver.signIn("ada@example.com", "a long enough secret")
	payments := driver.get("/payments", 200)
	if !strings.Contains(payments, `href="/payments/`+charge.ID+`/receipt"`) {
		t.Errorf("the payments page does not link the paid charge's receipt")
	}
	if strings.Contains(payments, failed+"/receipt") {
		t.Errorf("the payments page links a receipt for a declined charge")
	}
	receipt := driver.get("/payments/"+charge.ID+"/receipt", 200)
	for _, want := range []string{"Receipt", "Harbor Street Garage", "Parking", "6.00 USD", "visa ···· 4242", paid} {
		if !strings.Contains(receipt, want) {
			t.Errorf("the receipt lacks %q", want)
		}
	}
	driver.get("/payments/"+failed+"/receipt", 404)
	stranger := newBrowser(t, base)
	stranger.signIn("driver@parkd.test", "demo-driver-pass")
	stranger.get("/payments/"+charge.ID+"/receipt", 404)
	// The API's receipt is the same receipt, rendered by the same code.
	apiReceipt := driver.get("/api/v1/payments/"+charge.ID+"/receipt", 200)
	section := regexp.MustCompile(`(?s)<section class="narrow receipt">.*?</section>`)
	if got, want := section.FindString(apiReceipt), section.FindString(receipt); got == "" || got != want {
		t.Errorf("the API's receipt differs from the page's:\n%s\nwant\n%s", got, want)
	}
	driver.get("/api/v1/payments/"+failed+"/receipt", 404)
	stranger.get("/api/v1/payments/"+charge.ID+"/receipt", 404)

	// Times: in the lot's zone, labelled (PST or PDT), on every page that
	// shows one; never a bare time.
	la, _ := time.LoadLocation("America/Los_Angeles")
	startLA := start.In(la).Format("Mon 2 Jan 2006, 15:04 MST")
	clock := regexp.MustCompile(`\d{1,2}:\d{2}(:\d{2})?`)
	label := regexp.MustCompile(`^\d{1,2}:\d{2} (PST|PDT)`)
	for path, page := range map[string]string{
		"/reservations/" + paid: driver.get("/reservations/"+paid, 200), "/reservations": driver.get("/reservations", 200),
		"/payments": payments, "/payments/" + charge.ID + "/receipt": receipt, "/api/v1/payments/" + charge.ID + "/receipt": apiReceipt,
	} {
		text := regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>|<[^>]*>`).ReplaceAllString(page, " ")
		for _, at := range clock.FindAllStringIndex(text, -1) {
			if !label.MatchString(text[at[0]:]) {
				t.Errorf("GET %s shows the time %q without the lot's zone: %q", path, text[at[0]:at[1]], text[max(0, at[0]-30):min(len(text), at[1]+10)])
			}
		}
		if path != "/payments" && !strings.Contains(page, startLA) {
			t.Errorf("GET %s does not show the start as %q", path, startLA)
		}
	}
	if page := driver.get("/reservations/"+paid, 200); !strings.Contains(page, "Opens the entry gate from") {
		t.Errorf("the pass does not say when it opens the gate")
	}
}
