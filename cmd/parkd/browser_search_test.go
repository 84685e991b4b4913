package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"parkd/internal/demo"
	"parkd/internal/store/teststore"
)

// TestBrowserSearch finds one lot among many on the home page, as a driver
// does: by name, by city, near where the browser is, and page by page. The
// lots come through the operator API, as an operator would add them.
func TestBrowserSearch(t *testing.T) {
	exe := chromiumPath(t)
	base := startParkd(t, "--db", teststore.SQLiteDSN(t))
	op := &api{t: t, base: base}
	var sess struct{ Token string }
	op.call(201, "POST", "/api/v1/sessions", map[string]string{"email": demo.OperatorEmail, "password": demo.OperatorPassword}, &sess)
	op.token = sess.Token
	cities := []string{"Springfield", "Shelbyville", "Ogdenville", "North Haverbrook"}
	newLot := func(name, address string, lat, lng float64) {
		op.call(201, "POST", "/api/v1/lots", map[string]any{"name": name, "address": address, "lat": lat, "lng": lng,
			"time_zone": "UTC", "currency": "USD"}, nil)
	}
	for i := range 60 {
		newLot(fmt.Sprintf("Mall %03d", i), fmt.Sprintf("%d Market St, %s", i+1, cities[i%4]), 10+float64(i)*0.01, 20)
	}
	newLot("Lakeside Plaza", "1 Shore Rd, Capital City", 10.305, 20)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	tab := newChromium(t, ctx, exe)
	shots := screenshotDir(t)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		for i, step := range steps {
			stepCtx, cancel := context.WithTimeout(tab, 20*time.Second)
			err := chromedp.Do(stepCtx, step)
			cancel()
			if err != nil {
				where, _ := chromedp.Run(tab, chromedp.Location())
				if png, serr := chromedp.Run(tab, chromedp.CaptureScreenshot()); serr == nil {
					os.WriteFile(filepath.Join(shots, "search-failed.png"), png, 0o644)
				}
				t.Fatalf("%s, step %d: %v (at %s; see search-failed.png)", what, i+1, err, where)
			}
		}
	}
	// listed returns the names of the lots the page lists, in order.
	listed := func() []string {
		t.Helper()
		names, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".lot h2")).map(h => h.textContent.trim())`))
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	// waitFor polls a condition across the page's own navigation (a form's
	// submit, a link), which ends a poll running in the old page.
	waitFor := func(cond string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			for {
				_, err := chromedp.Poll[bool](cond+` && document.readyState === "complete"`, chromedp.WithPollingTimeout(10*time.Second))(ctx, tg)
				if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "navigated") && !strings.Contains(err.Error(), "context") {
					return chromedp.Void{}, err
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	ready := waitFor("true")
	search := func(text string) {
		t.Helper()
		do("search for "+text,
			chromedp.Navigate(base+"/"),
			ready,
			chromedp.WaitVisible(chromedp.ID("q")),
			chromedp.SendKeys(chromedp.ID("q"), text),
			chromedp.Submit(chromedp.ID("q")),
			waitFor(`new URLSearchParams(location.search).get("q") === `+fmt.Sprintf("%q", text)),
		)
	}

	search("lakeside")
	if got := listed(); fmt.Sprint(got) != "[Lakeside Plaza]" {
		t.Errorf("search by name lakeside lists %v; want [Lakeside Plaza]", got)
	}
	search("capital city")
	if got := listed(); fmt.Sprint(got) != "[Lakeside Plaza]" {
		t.Errorf("search by city lists %v; want [Lakeside Plaza]", got)
	}
	search("Ogdenville")
	if got := listed(); len(got) != 15 || got[0] != "Mall 002" {
		t.Errorf("search by city Ogdenville lists %v; want its 15 lots from Mall 002", got)
	}
	if text, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(".lot .avail"))); err != nil || !strings.Contains(text, "0 of 0 spots free") {
		t.Errorf("a lot without spots says %q (%v); want 0 of 0 spots free", text, err)
	}

	// A vehicle's size: the demo garage's free spots that fit it, and the
	// window's price.
	do("search with a size",
		chromedp.Navigate(base+"/"),
		ready,
		chromedp.SendKeys(chromedp.ID("q"), "harbor street"),
		chromedp.SetValue(chromedp.CSS(`select[name=size]`), "large"),
		chromedp.Submit(chromedp.ID("q")),
		waitFor(`new URLSearchParams(location.search).get("size") === "large"`),
	)
	if text, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(".lot"))); err != nil || !strings.Contains(text, "Harbor Street Garage") ||
		!strings.Contains(text, "USD for the window") || !strings.Contains(text, "spots free") || strings.Contains(text, "of 450 spots") {
		t.Errorf("the garage for a large vehicle says %q (%v); want its large spots free and a price in USD", text, err)
	}

	// Paging: 60 lots on Market St, 20 a page, forward and back.
	search("market st")
	page := func(want string) {
		t.Helper()
		got := listed()
		if len(got) != 20 || got[0] != want {
			t.Errorf("page lists %d lots from %v; want 20 from %s", len(got), got, want)
		}
	}
	page("Mall 000")
	for _, want := range []string{"Mall 020", "Mall 040"} {
		do("next page to "+want, chromedp.Click(chromedp.ID("next-page")),
			waitFor(`document.querySelector(".lot h2") && document.querySelector(".lot h2").textContent.trim() === "`+want+`"`))
		page(want)
	}
	if n, _ := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#next-page").length`)); n != 0 {
		t.Errorf("the last page links a next page")
	}
	do("previous page", chromedp.Click(chromedp.ID("prev-page")),
		waitFor(`document.querySelector(".lot h2") && document.querySelector(".lot h2").textContent.trim() === "Mall 020"`))
	page("Mall 020")

	// Near me: the browser says it is at Lakeside Plaza.
	lat, lng, accuracy := 10.305, 20.0, 10.0
	if _, err := chromedp.CallBrowser(tab, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
		Permission: &cdpbrowser.PermissionDescriptor{Name: "geolocation"}, Setting: cdpbrowser.PermissionSettingGranted, Origin: base}); err != nil {
		t.Fatalf("grant geolocation: %v", err)
	}
	if _, err := chromedp.Call(tab, emulation.SetGeolocationOverride, emulation.SetGeolocationOverrideParams{
		Latitude: &lat, Longitude: &lng, Accuracy: &accuracy}); err != nil {
		t.Fatalf("set the browser's position: %v", err)
	}
	do("near me",
		chromedp.Navigate(base+"/"),
		ready,
		chromedp.WaitVisible(chromedp.ID("near-me")),
		chromedp.Click(chromedp.ID("near-me")),
		waitFor(`new URLSearchParams(location.search).get("near") === "10.30500,20.00000"`),
	)
	if got := listed(); len(got) < 3 || got[0] != "Lakeside Plaza" || !(got[1] == "Mall 030" || got[1] == "Mall 031") {
		t.Errorf("near me lists %v; want Lakeside Plaza, then Mall 030 or 031", got)
	}
	if png, err := chromedp.Run(tab, chromedp.CaptureScreenshot()); err == nil {
		os.WriteFile(filepath.Join(shots, "search-near.png"), png, 0o644)
	}
}
