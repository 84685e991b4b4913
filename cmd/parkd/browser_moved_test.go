package main

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"parkd/internal/demo"
	"parkd/internal/parking"
	"parkd/internal/store/teststore"
)

// TestBrowserMovedSpot is issue 11's acceptance point 3 in real browsers
// against the real server: a driver books and pays L1-C10; the operator takes
// L1-C10 out of service from the spots page; the booking moves to another
// spot (nothing is cancelled), the driver's reservation and navigate pages
// say so with both labels, the app tells them, and the operator's live map
// shows the move without a reload. Meanwhile a car stays past its time on
// L1-D05: the operator's map shows it overstaying, the driver's map occupied.
// Then the driver extends the stay by an hour, paying with the card form.
func TestBrowserMovedSpot(t *testing.T) {
	exe := chromiumPath(t)
	dsn := teststore.SQLiteDSN(t)
	base := startParkd(t, "--db", dsn, "--notify-every", "200ms")
	garage, _ := demoLots(t, base)
	shots := screenshotDir(t)

	var spots struct {
		Spots []struct{ ID, Label string }
	}
	getJSON(t, base+"/api/v1/lots/"+garage+"/spots", 200, &spots)
	spotID := map[string]string{}
	for _, sp := range spots.Spots {
		spotID[sp.Label] = sp.ID
	}
	const booked, late = "L1-C10", "L1-D05"

	// A car that came in three hours ago and should have left half an hour
	// ago is still inside on L1-D05 (written to the database as the gate
	// would have: the real clock cannot be moved).
	now := time.Now().UTC().Truncate(time.Minute)
	store := teststore.Backends(t)[0].OpenDSN(t, dsn)
	car := &parking.Reservation{ID: parking.NewID("res"), LotID: garage, Plate: "LATE-1", VehicleSize: parking.Standard,
		StartsAt: now.Add(-3 * time.Hour), EndsAt: now.Add(-30 * time.Minute), Status: parking.StatusCheckedIn,
		Amount: 0, Currency: "USD", CreatedAt: now.Add(-3 * time.Hour), UpdatedAt: now.Add(-3 * time.Hour)}
	car.CheckedInAt = &car.StartsAt
	if err := store.Hold(context.Background(), car, []string{spotID[late]}, nil); err != nil {
		t.Fatalf("a car inside on %s: %v", late, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	t.Cleanup(cancel)
	driver := newChromium(t, ctx, exe)
	operator := newChromium(t, ctx, exe)
	do := func(tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		for i, step := range steps {
			stepCtx, cancel := context.WithTimeout(tab, 20*time.Second)
			err := chromedp.Do(stepCtx, step)
			cancel()
			if err != nil {
				where, _ := chromedp.Run(tab, chromedp.Location())
				if png, serr := chromedp.Run(tab, chromedp.CaptureScreenshot()); serr == nil {
					os.WriteFile(filepath.Join(shots, "moved-failed.png"), png, 0o644)
				}
				t.Fatalf("%s, step %d: %v (at %s; see moved-failed.png)", what, i+1, err, where)
			}
		}
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err == nil {
				err = os.WriteFile(filepath.Join(shots, name), png, 0o644)
			}
			return chromedp.Void{}, err
		}
	}
	poll := func(js string) chromedp.Action[chromedp.Void] {
		return void(chromedp.Poll[bool](js, chromedp.WithPollingTimeout(15*time.Second)))
	}
	// afterReload polls js across a page load the last step started: an
	// evaluation that the navigation interrupts is tried again.
	afterReload := func(js string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			for {
				// An evaluation sent to the page that is going away may
				// never be answered: each try has its own short deadline.
				try, cancel := context.WithTimeout(ctx, 2*time.Second)
				ok, err := chromedp.Evaluate[bool](js)(try, tg)
				cancel()
				if err == nil && ok {
					return chromedp.Void{}, nil
				}
				select {
				case <-ctx.Done():
					return chromedp.Void{}, ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
	}
	text := func(tab context.Context, sel string) string {
		t.Helper()
		s, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	tile := func(label string) string { return `document.querySelector('.t[data-label="` + label + `"]')` }

	// The booking: tomorrow at 10:00 for two hours, lot time, well ahead.
	from := now.Truncate(time.Hour).Add(20 * time.Hour)
	to := from.Add(2 * time.Hour)
	window := "from=" + url.QueryEscape(from.Format(time.RFC3339)) + "&to=" + url.QueryEscape(to.Format(time.RFC3339))
	do(driver, "driver books and pays "+booked,
		chromedp.Navigate(base+"/reserve?lot="+garage+"&spot="+spotID[booked]+"&"+window),
		chromedp.WaitVisible(chromedp.ID("signin")),
		chromedp.Click(chromedp.CSS(`main a[href^="/signup"]`)),
		chromedp.WaitVisible(chromedp.ID("signup")),
		chromedp.SendKeys(chromedp.CSS(`#signup [name=name]`), "Grace Hopper"),
		chromedp.SendKeys(chromedp.CSS(`#signup [name=email]`), "grace@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#signup [name=password]`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`#signup [type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("add-vehicle")),
		chromedp.SendKeys(chromedp.CSS(`#add-vehicle [name=plate]`), "GH-1906"),
		chromedp.Click(chromedp.CSS(`#add-vehicle [type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("hold")),
		poll(`document.readyState === "complete"`),
		chromedp.Click(chromedp.ID("hold")),
		chromedp.WaitVisible(chromedp.ID("pay-step")),
		chromedp.SendKeys(chromedp.ID("card-number"), "4242 4242 4242 4242"),
		chromedp.SendKeys(chromedp.ID("card-exp"), "12/34"),
		chromedp.SendKeys(chromedp.ID("card-cvc"), "123"),
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.ID("pass-qr")),
	)
	loc, err := chromedp.Run(driver, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	resID := strings.TrimSuffix(strings.TrimPrefix(loc, base+"/reservations/"), "#pass")
	if !strings.HasPrefix(resID, "res_") {
		t.Fatalf("after paying the driver is at %s; want the reservation's page", loc)
	}
	if got := text(driver, "#spot-label"); got != booked {
		t.Fatalf("the reservation page names spot %q; want %s", got, booked)
	}

	// The operator watches the booking's window on the live map.
	do(operator, "the operator opens the dashboard",
		chromedp.Navigate(base+"/signin?next="+url.QueryEscape("/operator/lots/"+garage+"?"+window)),
		chromedp.SendKeys(chromedp.CSS(`#signin [name=email]`), demo.OperatorEmail),
		chromedp.SendKeys(chromedp.CSS(`#signin [name=password]`), demo.OperatorPassword),
		chromedp.Click(chromedp.CSS(`#signin [type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("occupancy")),
		poll(`document.getElementById("live-state").dataset.state === "live"`),
		poll(tile(booked)+`.classList.contains("s-reserved")`),
		// The car past its time: overstaying for the operator, in words too.
		poll(tile(late)+`.classList.contains("s-overstaying") && `+tile(late)+`.getAttribute("aria-label").includes("past its time")`),
		void(chromedp.Evaluate[bool](`window.parkdDashboard = true`)),
	)
	if got := text(operator, "#attention"); !strings.Contains(got, "Overstaying") || !strings.Contains(got, "LATE-1") || !strings.Contains(got, late) {
		t.Errorf("the dashboard's attention list says %q; want the overstaying car LATE-1 on %s", got, late)
	}

	// The operator takes L1-C10 out of service from the spots page, in a
	// second tab (the dashboard stays open). The prompt for the reason is
	// answered as a person would; a confirmation would be recorded.
	spotsTab, closeSpots := chromedp.NewContext(operator)
	defer closeSpots()
	if err := chromedp.Do(spotsTab); err != nil {
		t.Fatal(err)
	}
	do(spotsTab, "the operator takes "+booked+" out of service",
		chromedp.Navigate(base+"/operator/lots/"+garage+"/spots"),
		chromedp.WaitVisible(chromedp.CSS(`[data-oos][data-label="`+booked+`"]`)),
		poll(`document.readyState === "complete"`),
		void(chromedp.Evaluate[bool](`window.prompt = () => "repainting"; window.confirm = (m) => { sessionStorage.setItem("asked", m); return true; }; true`)),
		chromedp.Click(chromedp.CSS(`[data-oos][data-label="`+booked+`"]`)),
		// The page reloads and says what happened.
		afterReload(`(() => { const t = document.getElementById("toast"); return !!t && t.textContent.includes("moved to other spots"); })()`),
	)
	toast := text(spotsTab, "#toast")
	if !strings.Contains(toast, booked+" is out of service") || !strings.Contains(toast, "1 booking was moved") {
		t.Errorf("after taking %s out of service the page says %q; want the server's sentence (out of service, 1 booking moved)", booked, toast)
	}
	if asked, _ := chromedp.Run(spotsTab, chromedp.Evaluate[string](`sessionStorage.getItem("asked") || ""`)); asked != "" {
		t.Errorf("the operator was asked %q; with free spots nothing needs confirming", asked)
	}
	// The page lists every spot (22,000 pixels tall): the screenshot is of
	// the screen around the spot.
	do(spotsTab, "the spots page shows it out of service",
		chromedp.ScrollIntoView(chromedp.CSS(`[data-ins]`)), // the one spot out of service
		func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			png, err := chromedp.CaptureScreenshot()(ctx, tg)
			if err == nil {
				err = os.WriteFile(filepath.Join(shots, "moved-spots.png"), png, 0o644)
			}
			return chromedp.Void{}, err
		},
	)
	if row := text(spotsTab, `[data-ins]`); row == "" {
		t.Errorf("the spots page offers no way back into service")
	}

	// Where did the booking go? The driver's reservation says.
	var sess struct{ Token string }
	me := &api{t: t, base: base}
	me.call(201, "POST", "/api/v1/sessions", map[string]string{"email": "grace@example.com", "password": "correct horse battery"}, &sess)
	me.token = sess.Token
	var res struct {
		Status, SpotID, MovedFromSpotID, ChangeReason string
		EndsAt                                        time.Time
	}
	readRes := func() {
		var raw struct {
			Status          string    `json:"status"`
			SpotID          string    `json:"spot_id"`
			MovedFromSpotID string    `json:"moved_from_spot_id"`
			ChangeReason    string    `json:"change_reason"`
			EndsAt          time.Time `json:"ends_at"`
		}
		me.call(200, "GET", "/api/v1/reservations/"+resID, nil, &raw)
		res.Status, res.SpotID, res.MovedFromSpotID, res.ChangeReason, res.EndsAt = raw.Status, raw.SpotID, raw.MovedFromSpotID, raw.ChangeReason, raw.EndsAt
	}
	readRes()
	if res.Status != "confirmed" || res.MovedFromSpotID != spotID[booked] || res.ChangeReason != "out_of_service" || res.SpotID == spotID[booked] {
		t.Fatalf("the reservation after the spot went out of service = %+v; want confirmed, moved from %s for out_of_service", res, booked)
	}
	var moved string
	for label, id := range spotID {
		if id == res.SpotID {
			moved = label
		}
	}

	// The operator's live map moved the claim without a reload.
	do(operator, "the dashboard shows the move live",
		poll(tile(booked)+`.classList.contains("s-out_of_service")`),
		poll(tile(moved)+`.classList.contains("s-reserved")`),
		shot("moved-dashboard.png"),
	)
	if kept, _ := chromedp.Run(operator, chromedp.Evaluate[bool](`window.parkdDashboard === true`)); !kept {
		t.Errorf("the dashboard was reloaded; want the move applied live")
	}
	// The claim left the old spot: back in service, L1-C10 is free again
	// on the open map (were the claim still there, it would show reserved).
	op := &api{t: t, base: base}
	op.call(201, "POST", "/api/v1/sessions", map[string]string{"email": demo.OperatorEmail, "password": demo.OperatorPassword}, &sess)
	op.token = sess.Token
	op.call(200, "POST", "/api/v1/lots/"+garage+"/spots/"+spotID[booked]+"/in-service", nil, nil)
	do(operator, "the old spot is free once back in service", poll(tile(booked)+`.classList.contains("s-available")`))
	level, err := chromedp.Run(operator, chromedp.Evaluate[string](tile(booked)+`.closest("section").id`))
	if err != nil {
		t.Fatal(err)
	}
	if png, err := chromedp.Run(operator, chromedp.Screenshot(chromedp.ID(level))); err == nil {
		os.WriteFile(filepath.Join(shots, "moved-dashboard-level.png"), png, 0o644)
	}

	// The driver's reservation page: the banner with both labels, the new spot.
	do(driver, "the driver sees the moved spot",
		chromedp.Navigate(base+"/reservations/"+resID),
		chromedp.WaitVisible(chromedp.ID("moved-"+resID)),
		shot("moved-reservation.png"),
	)
	banner := text(driver, "#moved-"+resID)
	if want := "Your spot changed from " + booked + " to " + moved + ": the spot was taken out of service"; !strings.Contains(banner, want) {
		t.Errorf("the reservation page's banner says %q; want %q", banner, want)
	}
	if got := text(driver, "#spot-label"); got != moved {
		t.Errorf("the reservation page names spot %q; want %s", got, moved)
	}
	do(driver, "the navigate page leads to the new spot",
		chromedp.Navigate(base+"/reservations/"+resID+"/navigate"),
		chromedp.WaitVisible(chromedp.CSS(".route")),
		shot("moved-navigate.png"),
	)
	if got := text(driver, "#spot-label"); got != moved {
		t.Errorf("the navigate page leads to %q; want %s", got, moved)
	}
	if got := text(driver, ".t.target"); got != strings.TrimPrefix(moved, moved[:strings.LastIndex(moved, "-")+1]) {
		t.Errorf("the navigate plan highlights %q; want %s", got, moved)
	}
	// The app told the driver, naming the new spot.
	do(driver, "the driver is told in the app",
		chromedp.Navigate(base+"/notifications"),
		poll(`[...document.querySelectorAll("#notifications li")].some((li) => li.textContent.includes("please park at `+moved+`") &&
			li.textContent.includes("moved from spot `+booked+` to spot `+moved+`"))`),
		shot("moved-notifications.png"),
	)
	// The driver's own map: the overstaying car's spot is simply occupied.
	// Asking for an EV charger dims the spots without one, and "any spot"
	// asks for it too.
	do(driver, "the driver's map shows the overstayed spot occupied",
		chromedp.Navigate(base+"/lots/"+garage+"?"+window),
		poll(`document.getElementById("live-state").dataset.state === "live"`),
		poll(tile(late)+`.classList.contains("s-occupied")`),
		chromedp.SetValue(chromedp.ID("amenity"), "ev"),
		void(chromedp.Evaluate[bool](`document.getElementById("amenity").dispatchEvent(new Event("change")), true`)),
		poll(`(() => { const ts = [...document.querySelectorAll(".t")];
			const ev = ts.filter((t) => t.dataset.amenities.split(" ").includes("ev"));
			return ev.length > 0 && ev.every((t) => !t.classList.contains("nofit")) &&
				ts.filter((t) => !ev.includes(t)).every((t) => t.classList.contains("nofit") && t.getAttribute("aria-label").endsWith("no EV charger")) &&
				document.getElementById("reserve-any").href.includes("amenity=ev"); })()`),
		chromedp.Click(chromedp.ID("reserve-any")),
		chromedp.WaitVisible(chromedp.ID("hold")),
	)
	if got := text(driver, ".spot-choice"); !strings.Contains(got, "Any spot that fits, with an EV charger") {
		t.Errorf("the reserve page for any EV spot says %q", got)
	}
	if a, _ := chromedp.Run(driver, chromedp.AttributeValue(chromedp.ID("hold"), "data-amenity")); a.Value != "ev" {
		t.Errorf("the hold button asks for amenity %q; want ev", a.Value)
	}

	// An hour more: the page prices it, the driver pays with the card form.
	do(driver, "the driver extends the stay by an hour",
		chromedp.Navigate(base+"/reservations/"+resID),
		chromedp.WaitVisible(chromedp.ID("extend")),
		chromedp.Click(chromedp.CSS(`#extend a.btn`)), // "+1 h"
		afterReload(`document.readyState === "complete" && location.search.includes("extend_to") && !!document.getElementById("extend-btn")`),
		chromedp.SendKeys(chromedp.CSS("#extend-pay #card-number"), "4242 4242 4242 4242"),
		chromedp.SendKeys(chromedp.CSS("#extend-pay #card-exp"), "12/34"),
		chromedp.SendKeys(chromedp.CSS("#extend-pay #card-cvc"), "123"),
		shot("extend.png"),
	)
	price := text(driver, "#extend-price")
	if !strings.Contains(price, "$") && !strings.Contains(price, "USD") {
		t.Errorf("the extension's price reads %q; want an amount", price)
	}
	if btn := text(driver, "#extend-btn"); !strings.Contains(btn, "Pay") || !strings.Contains(btn, "extend") {
		t.Errorf("the extension's button reads %q; want it to say what it charges", btn)
	}
	la, err := time.LoadLocation("America/Los_Angeles") // the demo garage's zone
	if err != nil {
		t.Fatal(err)
	}
	newEnd := to.Add(time.Hour).In(la).Format("Mon 2 Jan 2006, 15:04 MST") // as every page shows a time
	do(driver, "the stay is extended",
		chromedp.Click(chromedp.ID("extend-btn")),
		// The page comes back without the end it asked about, showing the new one.
		afterReload(`location.search === "" && document.readyState === "complete" &&
			document.getElementById("window").textContent.endsWith("`+newEnd+`")`),
		shot("extended.png"),
	)
	before := res.EndsAt
	readRes()
	if !res.EndsAt.Equal(to.Add(time.Hour)) || !before.Equal(to) {
		t.Errorf("the reservation ends %v (before: %v); want %v, an hour later", res.EndsAt, before, to.Add(time.Hour))
	}
	t.Logf("screenshots: %s", shots)
}
