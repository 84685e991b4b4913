package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"parkd/internal/demo"
	"parkd/internal/store/teststore"
)

// TestBrowserReports: after a paid visit through the entry gate, the operator
// opens the lot's reports in a real browser: today's money and the entry are
// there, with four bar charts drawn by the server. The screenshot is left for
// a person to look at.
func TestBrowserReports(t *testing.T) {
	exe := chromiumPath(t)
	base := startParkd(t, "--db", teststore.SQLiteDSN(t))
	garage, _ := demoLots(t, base)
	shots := screenshotDir(t)

	c := &api{t: t, base: base}
	var sess struct{ Token string }
	c.call(201, "POST", "/api/v1/sessions", map[string]string{"email": demo.DriverEmail, "password": demo.DriverPassword}, &sess)
	c.token = sess.Token
	var vehicle struct{ ID string }
	c.call(201, "POST", "/api/v1/users/me/vehicles", map[string]string{"plate": "RPT 1", "size": "standard"}, &vehicle)
	start := time.Now().UTC().Add(10 * time.Minute).Truncate(time.Minute) // within the early arrival
	var r struct{ ID string }
	c.call(201, "POST", "/api/v1/reservations", map[string]any{"lot_id": garage, "vehicle_id": vehicle.ID,
		"starts_at": start, "ends_at": start.Add(time.Hour)}, &r, "Idempotency-Key", "rpt-hold")
	c.call(201, "POST", "/api/v1/reservations/"+r.ID+"/payments", map[string]string{"payment_method": "pm_card_visa"}, nil, "Idempotency-Key", "rpt-pay")
	var pass struct{ Code string }
	c.call(200, "GET", "/api/v1/reservations/"+r.ID+"/pass", nil, &pass)
	op := &api{t: t, base: base}
	op.call(201, "POST", "/api/v1/sessions", map[string]string{"email": demo.OperatorEmail, "password": demo.OperatorPassword}, &sess)
	op.token = sess.Token
	var gate struct {
		Gate struct{ ID string }
		Key  string
	}
	op.call(201, "POST", "/api/v1/lots/"+garage+"/gates", map[string]string{"name": "Report entry", "direction": "entry"}, &gate)
	device := &api{t: t, base: base, token: gate.Key}
	var d struct{ Decision string }
	device.call(200, "POST", "/api/v1/gates/"+gate.Gate.ID+"/scans", map[string]string{"code": pass.Code}, &d)
	if d.Decision != "open" {
		t.Fatalf("entry scan = %+v; want open", d)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	tab := newChromium(t, ctx, exe)
	if err := chromedp.Do(tab,
		chromedp.Navigate(base+"/signin?next=/operator/lots/"+garage+"/reports"),
		chromedp.WaitVisible(chromedp.ID("signin")),
		chromedp.SendKeys(chromedp.CSS(`#signin [name=email]`), demo.OperatorEmail),
		chromedp.SendKeys(chromedp.CSS(`#signin [name=password]`), demo.OperatorPassword),
		chromedp.Click(chromedp.CSS(`#signin [type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.report-charts svg`)),
	); err != nil {
		t.Fatalf("open the reports: %v", err)
	}
	if png, err := chromedp.Run(tab, chromedp.FullScreenshot(100)); err == nil {
		os.WriteFile(filepath.Join(shots, "reports.png"), png, 0o644)
	}
	charts, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll(".report-charts svg").length`))
	if err != nil || charts != 4 {
		t.Errorf("the reports page shows %d charts, %v; want 4", charts, err)
	}
	bars, err := chromedp.Run(tab, chromedp.Evaluate[int](`[...document.querySelectorAll(".report-charts rect")].filter((r) => r.getBBox().height > 0).length`))
	if err != nil || bars == 0 {
		t.Errorf("the charts have %d bars drawn, %v; want the day's", bars, err)
	}
	for sel, want := range map[string]string{`[data-total="charged"]`: "USD", `[data-total="gate"]`: "1 in"} {
		got, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(sel)))
		if err != nil || !strings.Contains(got, want) || strings.HasPrefix(got, "0.00") {
			t.Errorf("%s reads %q, %v; want %q in it", sel, got, err, want)
		}
	}
}
