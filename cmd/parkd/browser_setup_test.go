package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"parkd/internal/store/teststore"
)

// TestBrowserSetup is a real installation set up from the browser (issue 17):
// parkd started with --no-demo and an administrator made as `parkd admin
// create` makes one. The administrator signs in and creates the operator
// company, its lot with its rates, two levels, 40 spots from the grid
// generator, an entry and an exit gate; a driver signs up, finds the lot and
// its price, books and pays; the entry kiosk admits the pass and the exit
// kiosk lets it out, each with its own words. Each step leaves a screenshot
// in $PARKD_SCREENSHOTS, or in the test's temporary directory.
func TestBrowserSetup(t *testing.T) {
	exe := chromiumPath(t)
	db := teststore.SQLiteDSN(t)
	base := startParkd(t, "--db", db, "--no-demo")
	mustCLI(t, "admin", "create", "--db", db, "--email", "root@example.com", "--password", "a root password")

	shots := os.Getenv("PARKD_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(t.TempDir(), "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", shots)

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	t.Cleanup(cancel)
	admin := newChromium(t, ctx, exe)
	driver := newChromium(t, ctx, exe)

	n := 0
	shoot := func(tab context.Context, name string) {
		t.Helper()
		n++
		png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("%02d-%s.png", n, name)), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// do runs the steps of one thing a person does, each within 20 s, and
	// leaves its screenshot; on a failure it says where the browser was.
	do := func(tab context.Context, name string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		for i, step := range steps {
			stepCtx, cancel := context.WithTimeout(tab, 20*time.Second)
			err := chromedp.Do(stepCtx, step)
			cancel()
			if err != nil {
				where, _ := chromedp.Run(tab, chromedp.Location())
				errors, _ := chromedp.Run(tab, chromedp.Evaluate[string](`[...document.querySelectorAll(".errors:not([hidden])")].map((e) => e.textContent).join(" | ")`))
				shoot(tab, "failed-"+name)
				t.Fatalf("%s, step %d: %v (at %s; form errors %q)", name, i+1, err, where, errors)
			}
		}
		shoot(tab, name)
	}
	// Pages load by a script's navigation: wait until the new page's scripts
	// listen before clicking.
	ready := until(`document.readyState === "complete"`)
	text := func(tab context.Context, sel string) string {
		t.Helper()
		s, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	do(admin, "admin-signs-in",
		chromedp.Navigate(base+"/signin?next=/operator"),
		chromedp.WaitVisible(chromedp.ID("signin")),
		ready,
		chromedp.SendKeys(chromedp.CSS(`#signin [name=email]`), "root@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#signin [name=password]`), "a root password"),
		chromedp.Click(chromedp.CSS(`#signin [type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("new-operator")),
		ready,
	)
	do(admin, "admin-creates-operator",
		chromedp.SendKeys(chromedp.CSS(`#new-operator [name=name]`), "Acme Parking"),
		chromedp.Click(chromedp.CSS(`#new-operator [type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("new-lot")),
		ready,
	)
	do(admin, "admin-creates-lot",
		until(`document.querySelector("#new-lot [name=operator_id]").selectedOptions[0].textContent === "Acme Parking"`),
		chromedp.SendKeys(chromedp.CSS(`#new-lot [name=name]`), "Pier Garage"),
		chromedp.SendKeys(chromedp.CSS(`#new-lot [name=address]`), "1 Pier Way, Seattle"),
		chromedp.SendKeys(chromedp.CSS(`#new-lot [name=lat]`), "47.6062"),
		chromedp.SendKeys(chromedp.CSS(`#new-lot [name=lng]`), "-122.3321"),
		chromedp.SendKeys(chromedp.CSS(`#new-lot [name=time_zone]`), "America/Los_Angeles"),
		chromedp.SendKeys(chromedp.CSS(`#new-lot [name=currency]`), "usd"),
		chromedp.SetValue(chromedp.CSS(`#new-lot [name="hourly.standard"]`), "4.00"),
		chromedp.Click(chromedp.CSS(`#new-lot [type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("add-level")),
		ready,
	)
	where, err := chromedp.Run(admin, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	lotID := strings.TrimSuffix(strings.TrimPrefix(where, base+"/operator/lots/"), "/spots")
	if !strings.HasPrefix(lotID, "lot_") {
		t.Fatalf("after New lot the browser is at %s; want the new lot's spots page", where)
	}

	addLevel := func(name, ordinal string, count int) {
		t.Helper()
		do(admin, "admin-adds-"+strings.ToLower(strings.ReplaceAll(name, " ", "-")),
			chromedp.SendKeys(chromedp.CSS(`#add-level [name=name]`), name),
			chromedp.SetValue(chromedp.CSS(`#add-level [name=ordinal]`), ordinal),
			chromedp.Click(chromedp.CSS(`#add-level [type=submit]`)),
			until(`document.querySelectorAll("form.rename-level").length === `+strconv.Itoa(count)+` && document.readyState === "complete"`),
		)
	}
	addLevel("Level 1", "1", 1)
	addLevel("Level 2", "2", 2)
	do(admin, "admin-renames-level",
		chromedp.SetValue(chromedp.CSS(`#level-list li:nth-child(2) [name=name]`), "Roof"),
		chromedp.Click(chromedp.CSS(`#level-list li:nth-child(2) [type=submit]`)),
		until(`[...document.querySelectorAll("#grid-add [name=level] option")].some((o) => o.textContent === "Roof") && document.readyState === "complete"`),
	)

	// Twenty spots on each level: rows A and B of ten, sizes repeating along
	// the row (compact, standard, standard, large).
	grid := func(level string, total int) {
		t.Helper()
		do(admin, "admin-generates-spots-"+strings.ToLower(strings.ReplaceAll(level, " ", "-")),
			void(chromedp.Evaluate[bool](`(() => { const s = document.querySelector("#grid-add [name=level]");
				s.value = [...s.options].find((o) => o.textContent === "`+level+`").value; s.dispatchEvent(new Event("input", {bubbles: true})); return true })()`)),
			chromedp.SetValue(chromedp.CSS(`#grid-add [name=rows]`), "A-B"),
			chromedp.SetValue(chromedp.CSS(`#grid-add [name=columns]`), "10"),
			chromedp.SetValue(chromedp.CSS(`#grid-add [name=sizes]`), "compact, standard, standard, large"),
			void(chromedp.Evaluate[bool](`document.getElementById("grid-add").dispatchEvent(new Event("input")), true`)),
			until(`document.getElementById("grid-preview").textContent.startsWith("20 spots")`),
			chromedp.Click(chromedp.CSS(`#grid-add [type=submit]`)),
			until(`document.querySelectorAll(".spots-table tbody tr").length === `+strconv.Itoa(total)+` && document.readyState === "complete"`),
		)
	}
	grid("Level 1", 20)
	grid("Roof", 40)
	var spots struct {
		Spots []struct{ ID, Label, Size string }
	}
	getJSON(t, base+"/api/v1/lots/"+lotID+"/spots", 200, &spots)
	sizes := map[string]string{}
	for _, sp := range spots.Spots {
		sizes[sp.Label] = sp.Size
	}
	if len(spots.Spots) != 40 || sizes["L1-A01"] != "compact" || sizes["L1-A02"] != "standard" || sizes["L1-B04"] != "large" || sizes["L2-B10"] != "standard" {
		t.Fatalf("the lot has %d spots, sizes %v; want 40 labelled L1-A01 … L2-B10, sizes repeating compact, standard, standard, large", len(spots.Spots), sizes)
	}

	// The lot's page: its entry and exit gates, each key shown once.
	addGate := func(name, direction string) (id, key string) {
		t.Helper()
		do(admin, "admin-adds-"+direction+"-gate",
			chromedp.SendKeys(chromedp.CSS(`#add-gate [name=name]`), name),
			chromedp.SetValue(chromedp.CSS(`#add-gate [name=direction]`), direction),
			chromedp.Click(chromedp.CSS(`#add-gate [type=submit]`)),
			until(`!document.getElementById("gate-key").hidden && document.getElementById("gate-key").textContent.includes("`+name+`")`),
		)
		key = text(admin, "#gate-key code")
		href, err := chromedp.Run(admin, chromedp.AttributeValue(chromedp.CSS(`#gate-key a`), "href"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimPrefix(href.Value, "/kiosk/"), key
	}
	do(admin, "admin-opens-lot",
		chromedp.Navigate(base+"/operator/lots/"+lotID),
		chromedp.WaitVisible(chromedp.ID("add-gate")),
		ready,
	)
	entryGate, entryKey := addGate("North entry", "entry")
	exitGate, exitKey := addGate("South exit", "exit")
	if !strings.HasPrefix(entryKey, "pkg_") || !strings.HasPrefix(exitKey, "pkg_") || entryGate == exitGate {
		t.Fatalf("gate keys %q, %q for gates %q, %q; want two gates with pkg_ keys", entryKey, exitKey, entryGate, exitGate)
	}
	// A one-time pairing link (and its QR code) for each gate's kiosk.
	pairLink := func(gateID, name string) string {
		t.Helper()
		do(admin, "admin-pairs-"+strings.ReplaceAll(strings.ToLower(name), " ", "-")+"-kiosk",
			chromedp.Click(chromedp.CSS(`[data-pair-gate="`+gateID+`"]`)),
			until(`!document.getElementById("pair-link").hidden && document.getElementById("pair-link").textContent.includes("`+name+`") && document.querySelector("#pair-link img").naturalWidth > 0`),
		)
		href, err := chromedp.Run(admin, chromedp.AttributeValue(chromedp.CSS(`#pair-link a`), "href"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(href.Value, base+"/kiosk/"+gateID+"?pair=pkp_") {
			t.Fatalf("pairing link = %q; want %s/kiosk/%s?pair=pkp_…", href.Value, base, gateID)
		}
		return href.Value
	}
	entryLink := pairLink(entryGate, "North entry")
	exitLink := pairLink(exitGate, "South exit")
	do(admin, "admin-edits-lot",
		chromedp.Click(chromedp.CSS(`#lot-details > summary`)),
		chromedp.WaitVisible(chromedp.ID("edit-lot")),
		chromedp.SetValue(chromedp.CSS(`#edit-lot [name=address]`), "1 Pier Way, Seattle, WA 98101"),
		chromedp.Click(chromedp.CSS(`#edit-lot [type=submit]`)),
		until(`document.querySelector("#edit-lot [name=address]") && document.querySelector("#edit-lot [name=address]").defaultValue.endsWith("98101") && document.readyState === "complete"`),
	)

	// Rates: the standard hour goes from 4.00 to 4.50.
	do(admin, "admin-sets-rates",
		chromedp.Navigate(base+"/operator/lots/"+lotID+"/policy"),
		chromedp.WaitVisible(chromedp.ID("policy")),
		ready,
		until(`document.querySelector('#policy [name="hourly.standard"]').value === "4.00"`),
		chromedp.SetValue(chromedp.CSS(`#policy [name="hourly.standard"]`), "4.50"),
		chromedp.Click(chromedp.CSS(`#policy [type=submit]`)),
		until(`document.querySelector('#policy [name="hourly.standard"]').defaultValue === "4.50" && document.readyState === "complete"`),
	)
	var lot struct {
		Address  string
		Zone     string `json:"time_zone"`
		Currency string
		Policy   struct {
			Rates map[string]struct{ Hourly int64 }
		}
	}
	getJSON(t, base+"/api/v1/lots/"+lotID, 200, &lot)
	if lot.Zone != "America/Los_Angeles" || lot.Currency != "USD" || lot.Policy.Rates["standard"].Hourly != 450 || !strings.HasSuffix(lot.Address, "98101") {
		t.Fatalf("the lot is %+v; want the edited address, zone America/Los_Angeles, USD, standard 4.50 an hour", lot)
	}

	// A driver finds the lot and its price: two hours on a standard spot.
	const spot = "L1-A02"
	tile := `.t[data-label="` + spot + `"]`
	do(driver, "driver-finds-lot",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/lots/`+lotID+`"]`)),
		chromedp.Click(chromedp.CSS(`h2 a[href="/lots/`+lotID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(tile)),
		ready,
	)
	if p := text(driver, "#prices"); !strings.Contains(p, "standard 9.00 USD") {
		t.Errorf("the lot's map says %q; want two hours on a standard spot at 4.50 an hour: standard 9.00 USD", p)
	}
	do(driver, "driver-signs-up",
		chromedp.Click(chromedp.CSS(tile)),
		chromedp.WaitVisible(chromedp.ID("panel-reserve")),
		chromedp.Click(chromedp.ID("panel-reserve")),
		chromedp.WaitVisible(chromedp.ID("signin")),
		chromedp.Click(chromedp.CSS(`main a[href^="/signup"]`)),
		chromedp.WaitVisible(chromedp.ID("signup")),
		ready,
		chromedp.SendKeys(chromedp.CSS(`#signup [name=name]`), "Grace Hopper"),
		chromedp.SendKeys(chromedp.CSS(`#signup [name=email]`), "grace@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#signup [name=password]`), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`#signup [type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("add-vehicle")),
		ready,
		chromedp.SendKeys(chromedp.CSS(`#add-vehicle [name=plate]`), "GH-1906"),
		chromedp.Click(chromedp.CSS(`#add-vehicle [type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("hold")),
		ready,
	)
	if s := text(driver, ".spot-choice"); !strings.Contains(s, spot) {
		t.Errorf("the reserve page says %q; want spot %s", s, spot)
	}
	if p := text(driver, "#price"); !strings.Contains(p, "9.00") {
		t.Errorf("the reserve page's price is %q; want 9.00 USD", p)
	}
	do(driver, "driver-holds",
		chromedp.Click(chromedp.ID("hold")),
		chromedp.WaitVisible(chromedp.ID("pay-step")),
		chromedp.SendKeys(chromedp.ID("card-number"), "4242 4242 4242 4242"),
		chromedp.SendKeys(chromedp.ID("card-exp"), "12/34"),
		chromedp.SendKeys(chromedp.ID("card-cvc"), "123"),
	)
	do(driver, "driver-pays",
		chromedp.Click(chromedp.ID("pay")),
		chromedp.WaitVisible(chromedp.ID("pass-qr")),
		until(`/^[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(document.getElementById("pass-code").textContent)`),
	)
	code := text(driver, "#pass-code")

	// The operator may not shrink the booked spot below the driver's car:
	// the server's words are shown in the form.
	do(admin, "admin-cannot-shrink-booked-spot",
		chromedp.Navigate(base+"/operator/lots/"+lotID+"/spots"),
		chromedp.WaitVisible(chromedp.CSS(`[data-edit-spot][data-label="`+spot+`"]`)),
		ready,
		chromedp.Click(chromedp.CSS(`[data-edit-spot][data-label="`+spot+`"]`)),
		chromedp.WaitVisible(chromedp.ID("edit-spot")),
		chromedp.SetValue(chromedp.CSS(`#edit-spot [name=size]`), "motorcycle"),
		chromedp.Click(chromedp.CSS(`#edit-spot [type=submit]`)),
		until(`!document.querySelector("#edit-spot .errors").hidden && document.querySelector("#edit-spot .errors").textContent.includes("cannot become motorcycle")`),
	)
	// An unbooked spot takes the change, and an amenity.
	do(admin, "admin-edits-spot",
		chromedp.Click(chromedp.CSS(`#edit-spot [data-close-dialog]`)),
		chromedp.Click(chromedp.CSS(`[data-edit-spot][data-label="L1-A03"]`)),
		chromedp.WaitVisible(chromedp.ID("edit-spot")),
		chromedp.SetValue(chromedp.CSS(`#edit-spot [name=amenities]`), "ev"),
		chromedp.SetValue(chromedp.CSS(`#edit-spot [name=size]`), "large"),
		chromedp.Click(chromedp.CSS(`#edit-spot [type=submit]`)),
		until(`document.readyState === "complete" && document.querySelector('[data-edit-spot][data-label="L1-A03"]').dataset.size === "large" &&
			document.querySelector('[data-edit-spot][data-label="L1-A03"]').dataset.amenities === "ev"`),
	)

	// The kiosks: the entry admits the pass to its spot, the exit lets it out.
	// Each kiosk is paired by the one-time link its lot's page made, not by
	// typing its key.
	kiosk := func(name, link, gateName, want string) {
		t.Helper()
		tab, closeTab := chromedp.NewContext(driver)
		defer closeTab()
		if err := chromedp.Do(tab); err != nil {
			t.Fatal(err)
		}
		do(tab, name+"-paired",
			chromedp.Navigate(link),
			chromedp.WaitVisible(chromedp.ID("manual-code")),
			until(`document.getElementById("paired-with").textContent === "Paired with `+gateName+`."`),
		)
		if u := text(tab, "#paired-with"); !strings.Contains(u, gateName) {
			t.Errorf("the %s kiosk says %q; want it paired with %s", name, u, gateName)
		}
		if loc, err := chromedp.Run(tab, chromedp.Location()); err != nil || strings.Contains(loc, "pair=") {
			t.Errorf("the %s kiosk's address after pairing = %q, %v; want the token gone", name, loc, err)
		}
		do(tab, name,
			chromedp.WaitVisible(chromedp.ID("manual-code")),
			chromedp.SendKeys(chromedp.ID("manual-code"), code),
			chromedp.Click(chromedp.CSS(`#manual [type=submit]`)),
			until(`document.getElementById("verdict").textContent === "OPEN"`),
		)
		if got := text(tab, "#reason"); !strings.Contains(got, want) || !strings.Contains(got, spot) {
			t.Errorf("the %s kiosk says %q; want %q and spot %s", name, got, want, spot)
		}
	}
	kiosk("entry-kiosk-admits", entryLink, "North entry", "Welcome")
	kiosk("exit-kiosk-lets-out", exitLink, "South exit", "Goodbye")

	// A pairing link works once: opened again, the kiosk says so.
	again, closeAgain := chromedp.NewContext(driver)
	defer closeAgain()
	if err := chromedp.Do(again); err != nil {
		t.Fatal(err)
	}
	do(again, "used-pairing-link-refused",
		chromedp.Navigate(entryLink),
		until(`!document.getElementById("pair-status").hidden`),
	)
	if got := text(again, "#pair-status"); !strings.Contains(got, "already used") {
		t.Errorf("a used pairing link says %q; want it to say it was already used", got)
	}

	var mine struct {
		Reservations []struct{ Status string }
	}
	me := &api{t: t, base: base}
	var sess struct{ Token string }
	me.call(201, "POST", "/api/v1/sessions", map[string]string{"email": "grace@example.com", "password": "correct horse battery"}, &sess)
	me.token = sess.Token
	me.call(200, "GET", "/api/v1/users/me/reservations", nil, &mine)
	if len(mine.Reservations) != 1 || mine.Reservations[0].Status != "completed" {
		t.Errorf("the driver's reservations = %+v; want one, completed", mine.Reservations)
	}
}
