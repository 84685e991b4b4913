package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"parkd/internal/demo"
	"parkd/internal/store/teststore"
)

// void drops an action's value, so that it runs among others with chromedp.Do.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// until waits for js to be true, polling, across navigations of the page
// (chromedp.Poll stops at a navigation, as forms that reload after saving do).
func until(js string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		for {
			if ok, err := chromedp.Evaluate[bool](js)(ctx, tg); err == nil && ok {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, fmt.Errorf("never true: %s", js)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// chromiumPath finds the browser for the browser tests. In CI (CI set) a
// missing browser fails the test; elsewhere the test is skipped.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium found (install Debian's chromium; .ci/run does): the browser tests must run in CI")
	}
	t.Skip("no Chromium found: install Debian's chromium to run the browser tests")
	return ""
}

// newChromium starts a browser of its own (its own profile, so its own
// cookies) and returns a context for its first tab.
func newChromium(t *testing.T, parent context.Context, exe string) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser now, on a context without a step's timeout: the
	// browser lives as long as the context of the first run.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	return ctx
}

// screenshotDir is where the browser tests leave their screenshots for a
// person to look at: test-output/screenshots at the top of the repository
// (ignored by git), or $PARKD_TEST_OUTPUT/screenshots.
func screenshotDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("PARKD_TEST_OUTPUT")
	if root == "" {
		dir, _ := os.Getwd()
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				root = filepath.Join(d, "test-output")
				break
			}
			if filepath.Dir(d) == d {
				root = filepath.Join(dir, "test-output")
				break
			}
		}
	}
	out := filepath.Join(root, "screenshots")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBrowser is the driver's whole trip in real browsers against the real
// server: sign up from the map, pick a green spot, pay with the sandbox card,
// see the QR pass; meanwhile a second browser watching the lot sees the spot
// turn red without reloading; then the entry gate's kiosk admits the pass.
//
// It runs on SQLite, the default, and on MariaDB when the tests have one. The
// PostgreSQL run is left out to keep CI's time down: the pages do nothing
// there that the end-to-end API and live tests do not already run on it.
func TestBrowser(t *testing.T) {
	exe := chromiumPath(t)
	for _, b := range teststore.Backends(t) {
		if b.Name == "postgres" {
			continue
		}
		t.Run(b.Name, func(t *testing.T) { testBrowser(t, exe, b.DSN(t)) })
	}
}

func testBrowser(t *testing.T, exe, db string) {
	// Notifications are derived and sent every 200 ms, so that the
	// confirmation reaches the app soon after paying.
	base := startParkd(t, "--db", db, "--notify-every", "200ms")
	garage, _ := demoLots(t, base)
	shots := screenshotDir(t)
	t.Logf("screenshots: %s", shots)

	// The operator sets up an entry gate, as on the dashboard.
	op := &api{t: t, base: base}
	var sess struct{ Token string }
	op.call(201, "POST", "/api/v1/sessions", map[string]string{"email": demo.OperatorEmail, "password": demo.OperatorPassword}, &sess)
	op.token = sess.Token
	var gate struct {
		Gate struct{ ID string }
		Key  string
	}
	op.call(201, "POST", "/api/v1/lots/"+garage+"/gates", map[string]string{"name": "North entry", "direction": "entry"}, &gate)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	t.Cleanup(cancel)
	watcher := newChromium(t, ctx, exe)
	driver := newChromium(t, ctx, exe)

	// do runs steps one at a time, each within 20 s; on a failure it says
	// which step, where the browser was, and leaves a screenshot.
	do := func(tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		for i, step := range steps {
			stepCtx, cancel := context.WithTimeout(tab, 20*time.Second)
			err := chromedp.Do(stepCtx, step)
			cancel()
			if err != nil {
				where, _ := chromedp.Run(tab, chromedp.Location())
				if png, serr := chromedp.Run(tab, chromedp.CaptureScreenshot()); serr == nil {
					os.WriteFile(filepath.Join(shots, "failed.png"), png, 0o644)
				}
				t.Fatalf("%s, step %d: %v (at %s; see failed.png)", what, i+1, err, where)
			}
		}
	}
	save := func(name string, png []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const spot = "L1-C10" // a standard spot on level 1
	tile := `.t[data-label="` + spot + `"]`
	mapURL := base + "/lots/" + garage
	isLive := `document.getElementById("live-state").dataset.state === "live"`

	// The watcher opens the map and leaves a mark that a reload would erase.
	do(watcher, "watcher opens the map",
		chromedp.Navigate(mapURL),
		chromedp.WaitVisible(chromedp.CSS(tile)),
		void(chromedp.Poll[bool](isLive, chromedp.WithPollingTimeout(15*time.Second))),
		void(chromedp.Evaluate[bool](`window.parkdWatcher = true`)),
	)
	// The map works with the keyboard: arrows move between tiles, Enter opens
	// the spot's panel with its "Reserve" focused, Escape closes it.
	focused := func(want string) chromedp.Action[chromedp.Void] {
		return void(chromedp.Poll[bool](`document.activeElement && document.activeElement.dataset.label === "`+want+`"`,
			chromedp.WithPollingTimeout(5*time.Second)))
	}
	do(watcher, "the map works with the keyboard",
		void(chromedp.Evaluate[bool](`document.querySelector(".plan .t").focus(), true`)),
		focused("L1-A01"),
		chromedp.KeyEvent(kb.ArrowRight),
		focused("L1-A02"),
		chromedp.KeyEvent(kb.ArrowDown),
		focused("L1-B02"),
		chromedp.KeyEvent(kb.Enter),
		void(chromedp.Poll[bool](`document.activeElement.id === "panel-reserve" && document.activeElement.textContent === "Reserve L1-B02"`,
			chromedp.WithPollingTimeout(5*time.Second))),
		// The panel says what the window costs on that spot.
		void(chromedp.Poll[bool](`/\d+\.\d\d USD for this window/.test(document.getElementById("panel-body").textContent)`,
			chromedp.WithPollingTimeout(5*time.Second))),
		chromedp.KeyEvent(kb.Escape),
		focused("L1-B02"),
	)
	if cls, err := chromedp.Run(watcher, chromedp.AttributeValue(chromedp.CSS(tile), "class")); err != nil || !strings.Contains(cls.Value, "s-available") {
		t.Fatalf("spot %s before booking: class %q, %v; want s-available", spot, cls.Value, err)
	}

	// The driver picks the green spot on the map and is asked to sign in.
	do(driver, "driver picks a green spot",
		chromedp.Navigate(mapURL),
		chromedp.Click(chromedp.CSS(tile)),
		chromedp.WaitVisible(chromedp.ID("panel-reserve")),
		chromedp.Click(chromedp.ID("panel-reserve")),
		chromedp.WaitVisible(chromedp.ID("signin")),
		chromedp.Click(chromedp.CSS(`main a[href^="/signup"]`)),
		chromedp.WaitVisible(chromedp.ID("signup")),
		chromedp.SendKeys(chromedp.CSS(`#signup [name=name]`), "Ada Lovelace"),
		chromedp.SendKeys(chromedp.CSS(`#signup [name=email]`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#signup [name=password]`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`#signup [type=submit]`)),
		// A new driver adds the car, and comes back to the reservation.
		chromedp.WaitVisible(chromedp.ID("add-vehicle")),
		// As below: a click before the page's scripts listen would submit
		// the form natively (seen on a loaded machine).
		void(chromedp.Poll[bool](`document.readyState === "complete"`, chromedp.WithPollingTimeout(10*time.Second))),
		chromedp.SendKeys(chromedp.CSS(`#add-vehicle [name=plate]`), "AB-123-C"),
		chromedp.Click(chromedp.CSS(`#add-vehicle [type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("hold")),
	)
	summary, err := chromedp.Run(driver, chromedp.Text(chromedp.CSS(".spot-choice")))
	if err != nil || !strings.Contains(summary, spot) {
		t.Fatalf("the reserve page says %q (%v); want spot %s", summary, err, spot)
	}
	price, err := chromedp.Run(driver, chromedp.Text(chromedp.ID("price")))
	if err != nil || !strings.Contains(price, "USD") {
		t.Fatalf("the reserve page's price is %q (%v); want an amount in USD", price, err)
	}

	do(driver, "driver holds the spot",
		// The page came by a script's navigation, not Navigate: wait until
		// its scripts have run, or the click may land before the button
		// listens (seen on a loaded machine).
		void(chromedp.Poll[bool](`document.readyState === "complete"`, chromedp.WithPollingTimeout(10*time.Second))),
		chromedp.Click(chromedp.ID("hold")),
		chromedp.WaitVisible(chromedp.ID("pay-step")),
	)
	countdown, _ := chromedp.Run(driver, chromedp.Text(chromedp.ID("countdown-time")))
	if !strings.HasPrefix(countdown, "4:") && !strings.HasPrefix(countdown, "5:") {
		t.Errorf("the hold countdown shows %q; want about five minutes", countdown)
	}
	// The watcher sees the hold: amber, and still the same page.
	do(watcher, "watcher sees the hold", void(chromedp.Poll[bool](
		`document.querySelector('`+tile+`').classList.contains("s-held")`, chromedp.WithPollingTimeout(10*time.Second))))

	// A second tab of the driver's has the notifications page open: the
	// confirmation has to arrive there without a reload.
	inbox, closeInbox := chromedp.NewContext(driver)
	defer closeInbox()
	if err := chromedp.Do(inbox); err != nil {
		t.Fatal(err)
	}
	do(inbox, "driver opens the notifications",
		chromedp.Navigate(base+"/notifications"),
		chromedp.WaitVisible(chromedp.ID("no-notifications")),
		void(chromedp.Evaluate[bool](`window.parkdInbox = true`)),
	)

	do(driver, "driver pays with the sandbox card",
		chromedp.SendKeys(chromedp.ID("card-number"), "4242 4242 4242 4242"),
		chromedp.SendKeys(chromedp.ID("card-exp"), "12/34"),
		chromedp.SendKeys(chromedp.ID("card-cvc"), "123"),
		func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			save("reserve.png", png)
			return chromedp.Void{}, err
		},
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.ID("pass-qr")),
		void(chromedp.Poll[bool](`(() => { const i = document.getElementById("pass-qr");
			return i.complete && i.naturalWidth > 100 && /^[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(document.getElementById("pass-code").textContent) })()`,
			chromedp.WithPollingTimeout(10*time.Second))),
	)
	code, err := chromedp.Run(driver, chromedp.Text(chromedp.ID("pass-code")))
	if err != nil {
		t.Fatal(err)
	}
	png, err := chromedp.Run(driver, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	save("pass.png", png)
	do(driver, "driver shows the pass full screen",
		chromedp.Click(chromedp.ID("pass-full-btn")),
		chromedp.WaitVisible(chromedp.ID("pass-overlay-qr")),
		void(chromedp.Poll[bool](`document.getElementById("pass-overlay-qr").naturalWidth > 100`, chromedp.WithPollingTimeout(5*time.Second))),
	)
	if png, err = chromedp.Run(driver, chromedp.CaptureScreenshot()); err != nil {
		t.Fatal(err)
	}
	save("pass-fullscreen.png", png)

	// The confirmation reaches the app: the header's badge counts it on the
	// pass page, and the open notifications page shows it on top, unread.
	badge := `(() => { const c = document.querySelector("#nav-notifications .count");
		return !c.hidden && Number(c.querySelector(".count-n").textContent) >= 1 })()`
	do(driver, "the badge counts the confirmation", void(chromedp.Poll[bool](badge, chromedp.WithPollingTimeout(15*time.Second))))
	do(inbox, "the confirmation arrives on the notifications page",
		void(chromedp.Poll[bool](`(() => { const li = document.querySelector("#notifications li.unread");
			return !!li && li.textContent.includes("Confirmed") && !!li.querySelector('a[href^="/reservations/res_"]') })()`,
			chromedp.WithPollingTimeout(15*time.Second))),
		void(chromedp.Poll[bool](badge, chromedp.WithPollingTimeout(5*time.Second))),
	)
	if reloaded, err := chromedp.Run(inbox, chromedp.Evaluate[bool](`window.parkdInbox !== true`)); err != nil || reloaded {
		t.Errorf("the notifications page was reloaded (%v); want the confirmation added in place", err)
	}
	if name, _ := chromedp.Run(inbox, chromedp.Text(chromedp.ID("nav-notifications"))); !strings.Contains(name, "unread") {
		t.Errorf("the notifications link reads %q; want it to say how many are unread", name)
	}
	if png, err = chromedp.Run(inbox, chromedp.CaptureScreenshot()); err != nil {
		t.Fatal(err)
	}
	save("notifications.png", png)
	do(inbox, "driver marks the confirmation read",
		chromedp.Click(chromedp.CSS(`#notifications li.unread [data-read]`)),
		void(chromedp.Poll[bool](`!document.querySelector("#notifications li.unread") && document.querySelector("#nav-notifications .count").hidden`,
			chromedp.WithPollingTimeout(10*time.Second))),
		// Read again from the server: listed, and read.
		chromedp.Navigate(base+"/notifications"),
		chromedp.WaitVisible(chromedp.CSS(`#notifications li`)),
		void(chromedp.Poll[bool](`document.querySelector("#notifications li").textContent.includes("Confirmed") &&
			!document.querySelector("#notifications li.unread") && document.querySelector("#nav-notifications .count").hidden`,
			chromedp.WithPollingTimeout(5*time.Second))),
	)

	// The watcher's map turned the spot red by itself.
	do(watcher, "watcher sees the spot turn red", void(chromedp.Poll[bool](
		`document.querySelector('`+tile+`').classList.contains("s-reserved")`, chromedp.WithPollingTimeout(10*time.Second))))
	if reloaded, err := chromedp.Run(watcher, chromedp.Evaluate[bool](`window.parkdWatcher !== true`)); err != nil || reloaded {
		t.Errorf("the watcher's page was reloaded (%v); want live updates in place", err)
	}
	label, _ := chromedp.Run(watcher, chromedp.AttributeValue(chromedp.CSS(tile), "aria-label"))
	if !strings.Contains(label.Value, "reserved") {
		t.Errorf("the red tile's label is %q; want it to say reserved, not only show red", label.Value)
	}
	level, err := chromedp.Run(watcher, chromedp.Evaluate[string](`document.querySelector('`+tile+`').closest("section").id`))
	if err != nil {
		t.Fatal(err)
	}
	if png, err = chromedp.Run(watcher, chromedp.Screenshot(chromedp.ID(level))); err != nil {
		t.Fatal(err)
	}
	save("map-level.png", png)
	if png, err = chromedp.Run(watcher, chromedp.CaptureScreenshot()); err != nil {
		t.Fatal(err)
	}
	save("map.png", png)

	// The entry gate's kiosk: the device key once, then the code by hand.
	kiosk, closeKiosk := chromedp.NewContext(driver)
	defer closeKiosk()
	if err := chromedp.Do(kiosk); err != nil {
		t.Fatal(err)
	}
	do(kiosk, "the kiosk admits the pass",
		chromedp.Navigate(base+"/kiosk/"+gate.Gate.ID),
		chromedp.WaitVisible(chromedp.ID("kiosk-key-form")),
		void(chromedp.Poll[bool](`document.readyState === "complete"`, chromedp.WithPollingTimeout(10*time.Second))),
		chromedp.SendKeys(chromedp.CSS(`#kiosk-key-form [name=key]`), gate.Key),
		chromedp.Click(chromedp.CSS(`#kiosk-key-form [type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("manual-code")),
		chromedp.SendKeys(chromedp.ID("manual-code"), strings.ToLower(code)),
		chromedp.Click(chromedp.CSS(`#manual [type=submit]`)),
		void(chromedp.Poll[bool](`document.getElementById("verdict").textContent === "OPEN"`, chromedp.WithPollingTimeout(10*time.Second))),
	)
	reason, _ := chromedp.Run(kiosk, chromedp.Text(chromedp.ID("reason")))
	if !strings.Contains(reason, spot) {
		t.Errorf("the kiosk says %q; want it to name spot %s", reason, spot)
	}
	if png, err = chromedp.Run(kiosk, chromedp.CaptureScreenshot()); err != nil {
		t.Fatal(err)
	}
	save("kiosk-open.png", png)

	// The same pass again is refused: it is inside.
	do(kiosk, "the kiosk denies a second entry",
		chromedp.SendKeys(chromedp.ID("manual-code"), code),
		chromedp.Click(chromedp.CSS(`#manual [type=submit]`)),
		void(chromedp.Poll[bool](`document.getElementById("verdict").textContent === "DENIED"`, chromedp.WithPollingTimeout(10*time.Second))),
	)
	if png, err = chromedp.Run(kiosk, chromedp.CaptureScreenshot()); err != nil {
		t.Fatal(err)
	}
	save("kiosk-denied.png", png)

	// The checked-in car shows as occupied on the watcher's map.
	do(watcher, "watcher sees the car in", void(chromedp.Poll[bool](
		`document.querySelector('`+tile+`').classList.contains("s-occupied")`, chromedp.WithPollingTimeout(10*time.Second))))

	// The pages a person would look at next, for the screenshots: the
	// driver's list and the way to the spot, the map on a phone, and the
	// operator's live dashboard.
	do(driver, "driver opens the reservations and the way to the spot",
		chromedp.Navigate(base+"/reservations"),
		chromedp.WaitVisible(chromedp.CSS(".res")),
		func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			png, err := chromedp.CaptureScreenshot()(ctx, tg)
			save("reservations.png", png)
			return chromedp.Void{}, err
		},
		chromedp.Click(chromedp.CSS(`.res a[href$="/navigate"]`)),
		chromedp.WaitVisible(chromedp.CSS(".route")),
		func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			save("navigate.png", png)
			return chromedp.Void{}, err
		},
		// "Open in maps" hands the phone a geo: link (a headless browser
		// has no map app, so the click is caught where it would leave).
		void(chromedp.Evaluate[bool](`document.querySelector('.actions a.primary').addEventListener("click", (e) => { e.preventDefault(); window.opened = e.currentTarget.href; }); true`)),
		chromedp.Click(chromedp.CSS(`.actions a.primary`)),
		void(chromedp.Poll[bool](`(window.opened || "").startsWith("geo:")`, chromedp.WithPollingTimeout(5*time.Second))),
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
		chromedp.Navigate(mapURL),
		chromedp.WaitVisible(chromedp.CSS(tile)),
		func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			png, err := chromedp.CaptureScreenshot()(ctx, tg)
			save("map-phone.png", png)
			return chromedp.Void{}, err
		},
		// On a phone the plan starts on the first screen (the form folds),
		// and the counts follow the filter.
		void(chromedp.Poll[bool](`document.querySelector(".plan .t").getBoundingClientRect().top < window.innerHeight && !document.getElementById("window-fold").open`,
			chromedp.WithPollingTimeout(5*time.Second))),
		void(chromedp.Evaluate[bool](`const s = document.getElementById("fits"); s.value = "large"; s.dispatchEvent(new Event("change")); true`)),
		void(chromedp.Poll[bool](`+document.getElementById("total-count").textContent === [...document.querySelectorAll(".plan .t")].filter((t) => t.dataset.size === "large").length &&
			+document.getElementById("total-count").textContent < 450`, chromedp.WithPollingTimeout(5*time.Second))),
	)
	do(watcher, "the operator watches the lot",
		chromedp.Navigate(base+"/signin?next=/operator/lots/"+garage),
		chromedp.SendKeys(chromedp.CSS(`#signin [name=email]`), demo.OperatorEmail),
		chromedp.SendKeys(chromedp.CSS(`#signin [name=password]`), demo.OperatorPassword),
		chromedp.Click(chromedp.CSS(`#signin [type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("occupancy")),
		void(chromedp.Poll[bool](isLive, chromedp.WithPollingTimeout(15*time.Second))),
		func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			png, err := chromedp.CaptureScreenshot()(ctx, tg)
			save("operator-dashboard.png", png)
			return chromedp.Void{}, err
		},
		// A new gate is listed at once, beside its key shown once.
		chromedp.SendKeys(chromedp.CSS(`#add-gate [name=name]`), "Level 2 ramp"),
		chromedp.Click(chromedp.CSS(`#add-gate [type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("gate-key")),
		void(chromedp.Poll[bool](`[...document.querySelectorAll("#gate-list li")].some((li) => li.textContent.includes("Level 2 ramp (entry)")) &&
			document.getElementById("no-gates").hidden`, chromedp.WithPollingTimeout(5*time.Second))),
	)

	do(watcher, "the operator changes a rate",
		chromedp.Navigate(base+"/operator/lots/"+garage+"/policy"),
		chromedp.WaitVisible(chromedp.ID("policy")),
		chromedp.SetValue(chromedp.CSS(`#policy [name="hourly.standard"]`), "3.50"),
		chromedp.Click(chromedp.CSS(`#policy [type=submit]`)),
	)
	// The page saves and reloads; the lot's rate is the proof.
	var lot struct {
		Policy struct {
			Rates map[string]struct{ Hourly int64 }
		}
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		getJSON(t, base+"/api/v1/lots/"+garage, 200, &lot)
		if lot.Policy.Rates["standard"].Hourly == 350 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("standard hourly rate after the policy page = %d; want 350", lot.Policy.Rates["standard"].Hourly)
		}
	}

	var res struct {
		Reservations []struct{ Status string }
	}
	me := &api{t: t, base: base}
	me.call(201, "POST", "/api/v1/sessions", map[string]string{"email": "ada@example.com", "password": "correct horse battery"}, &sess)
	me.token = sess.Token
	me.call(200, "GET", "/api/v1/users/me/reservations", nil, &res)
	if len(res.Reservations) != 1 || res.Reservations[0].Status != "checked_in" {
		b, _ := json.Marshal(res)
		t.Errorf("the driver's reservations = %s; want one, checked in", b)
	}
	fmt.Fprintf(os.Stderr, "browser test screenshots: %s\n", shots)
}
