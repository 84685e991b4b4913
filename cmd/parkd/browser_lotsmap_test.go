package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"parkd/internal/demo"
	"parkd/internal/store/teststore"
)

// TestBrowserLotsMap is the home page's map of lots in Chromium, against a
// tile server of the test's own that answers one PNG for every tile: one
// marker per listed lot, markers that follow the pages, a marker's card that
// links to its lot. With the map off, or its tile server never answering, the
// page is the list alone, loads as before and works as before. Screenshots go to
// $PARKD_SCREENSHOTS, or to the test's temporary directory.
func TestBrowserLotsMap(t *testing.T) {
	exe := chromiumPath(t)
	var tileHits atomic.Int64
	tile := onePNG(t)
	tiles := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tileHits.Add(1)
		w.Header().Set("Content-Type", "image/png")
		w.Write(tile)
	}))
	t.Cleanup(tiles.Close)
	tileURL := tiles.URL + "/{z}/{x}/{y}.png"

	// A tile server that never answers, as one behind a dead network does
	// until the browser gives up: the page must not wait for it.
	stop := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(stop) })
	deadTiles := hanging.URL + "/{z}/{x}/{y}.png"

	withMap := startParkd(t, "--db", teststore.SQLiteDSN(t), "--map-tiles", tileURL)
	noMap := startParkd(t, "--db", teststore.SQLiteDSN(t), "--map-tiles", "off")
	unreachable := startParkd(t, "--db", teststore.SQLiteDSN(t), "--map-tiles", deadTiles)
	// 25 lots on Market St: a first page of 20 and a second of 5.
	lotIDs := map[string]string{} // name → id, on withMap
	for _, base := range []string{withMap, noMap, unreachable} {
		op := &api{t: t, base: base}
		var sess struct{ Token string }
		op.call(201, "POST", "/api/v1/sessions", map[string]string{"email": demo.OperatorEmail, "password": demo.OperatorPassword}, &sess)
		op.token = sess.Token
		for i := range 25 {
			var lot struct{ ID, Name string }
			op.call(201, "POST", "/api/v1/lots", map[string]any{"name": fmt.Sprintf("Mall %03d", i), "address": fmt.Sprintf("%d Market St, Springfield", i+1),
				"lat": 52.30 + float64(i%5)*0.01, "lng": 4.80 + float64(i/5)*0.015, "time_zone": "UTC", "currency": "USD"}, &lot)
			if base == withMap {
				lotIDs[lot.Name] = lot.ID
			}
		}
	}

	// The page lets the browser fetch images from the tile server and
	// nothing else from anywhere but parkd.
	resp, err := http.Get(withMap + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, want := resp.Header.Get("Content-Security-Policy"), "default-src 'self'; img-src 'self' "+tiles.URL+";"; !strings.HasPrefix(got, want) {
		t.Errorf("the home page's Content-Security-Policy = %q; want it to start %q", got, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	t.Cleanup(cancel)
	tab := newChromium(t, ctx, exe)
	// Every page notes what its Content-Security-Policy blocked.
	if _, err := chromedp.Call(tab, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.blocked = []; document.addEventListener("securitypolicyviolation", (e) => window.blocked.push(e.effectiveDirective + " " + e.blockedURI));`}); err != nil {
		t.Fatalf("watch the pages' policy: %v", err)
	}
	shots := os.Getenv("PARKD_SCREENSHOTS")
	if shots == "" {
		shots = filepath.Join(t.TempDir(), "screenshots")
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	shoot := func(name string) {
		t.Helper()
		if png, err := chromedp.Run(tab, chromedp.CaptureScreenshot()); err == nil {
			os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
		}
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		for i, step := range steps {
			stepCtx, cancel := context.WithTimeout(tab, 20*time.Second)
			err := chromedp.Do(stepCtx, step)
			cancel()
			if err != nil {
				where, _ := chromedp.Run(tab, chromedp.Location())
				shoot("lotsmap-failed")
				t.Fatalf("%s, step %d: %v (at %s; see lotsmap-failed.png in %s)", what, i+1, err, where, shots)
			}
		}
	}
	eval := func(js string) []string {
		t.Helper()
		v, err := chromedp.Run(tab, chromedp.Evaluate[[]string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	listed := func() []string {
		return eval(`Array.from(document.querySelectorAll(".lot h2")).map(h => h.textContent.trim())`)
	}
	// markers are the titles of the map's markers, sorted.
	markers := func() []string {
		got := eval(`Array.from(document.querySelectorAll("#lots-map .leaflet-marker-icon")).map(m => m.title)`)
		slices.Sort(got)
		return got
	}
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	mapReady := until(`document.readyState === "complete" && document.querySelector("#lots-map") && document.querySelector("#lots-map").dataset.state === "ready" && document.querySelectorAll("#lots-map .leaflet-tile-loaded").length > 0`)

	do("search with the map", chromedp.Navigate(withMap+"/?q=market+st"), mapReady)
	first := listed()
	if len(first) != 20 {
		t.Fatalf("the first page lists %d lots; want 20", len(first))
	}
	if got := markers(); !slices.Equal(got, sorted(first)) {
		t.Errorf("the map's markers are %v; want one per listed lot, %v", got, sorted(first))
	}
	if tileHits.Load() == 0 {
		t.Error("the browser fetched no tile from the tile server")
	}
	if v, _ := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector("#lots-map").hidden`)); v {
		t.Error("the map is hidden though its tiles load")
	}
	if got := eval(`[document.querySelector("#lots-map .leaflet-control-attribution").textContent]`); !strings.Contains(got[0], "OpenStreetMap") {
		t.Errorf("the map's attribution says %q; want OpenStreetMap's credit", got[0])
	}
	shoot("lotsmap-page-1")
	if got := eval(`window.blocked`); len(got) > 0 {
		t.Errorf("the page's Content-Security-Policy blocked %v", got)
	}

	// A marker's card: the lot's free spots, linking to its map.
	do("open Mall 003's card",
		chromedp.Click(chromedp.CSS(`#lots-map .leaflet-marker-icon[title="Mall 003"]`)),
		until(`document.querySelector(".leaflet-popup-content a") !== null`),
	)
	card := eval(`[document.querySelector(".leaflet-popup-content a").getAttribute("href"), document.querySelector(".leaflet-popup-content").textContent]`)
	if card[0] != "/lots/"+lotIDs["Mall 003"] || !strings.Contains(card[1], "Mall 003") || !strings.Contains(card[1], "spots free") {
		t.Errorf("Mall 003's card links %q and says %q; want /lots/%s, its name and its free spots", card[0], card[1], lotIDs["Mall 003"])
	}
	shoot("lotsmap-card")

	// The next page's lots, and only theirs, on the map.
	do("next page", chromedp.Click(chromedp.ID("next-page")),
		until(`new URLSearchParams(location.search).get("cursor") !== null`), mapReady)
	second := listed()
	if len(second) != 5 || second[0] != "Mall 020" {
		t.Errorf("the second page lists %v; want Mall 020 to Mall 024", second)
	}
	if got := markers(); !slices.Equal(got, sorted(second)) {
		t.Errorf("after paging the map's markers are %v; want %v", got, sorted(second))
	}
	shoot("lotsmap-page-2")
	if got := eval(`window.blocked`); len(got) > 0 {
		t.Errorf("the second page's Content-Security-Policy blocked %v", got)
	}

	do("follow a card's link",
		chromedp.Click(chromedp.CSS(`#lots-map .leaflet-marker-icon[title="Mall 021"]`)),
		until(`document.querySelector(".leaflet-popup-content a") !== null`),
		chromedp.Click(chromedp.CSS(`.leaflet-popup-content a`)),
		until(`location.pathname === "/lots/`+lotIDs["Mall 021"]+`" && document.readyState === "complete"`),
	)

	// Near a point: the point and the nearest lots.
	do("search near a point", chromedp.Navigate(withMap+"/?near=52.32,4.83"), mapReady)
	if got := markers(); !slices.Equal(got, sorted(listed())) {
		t.Errorf("near a point the map's markers are %v; want %v", got, sorted(listed()))
	}
	if n := eval(`[String(document.querySelectorAll("#lots-map path.near-point").length)]`); n[0] != "1" {
		t.Errorf("the map marks the point searched near %s times; want once", n[0])
	}

	// No map, or no tiles: the list alone, searching and paging as before.
	for _, c := range []struct{ name, base string }{{"map off", noMap}, {"tiles unreachable", unreachable}} {
		do(c.name+": search", chromedp.Navigate(c.base+"/"),
			until(`document.readyState === "complete"`),
			chromedp.SendKeys(chromedp.ID("q"), "market st"),
			chromedp.Submit(chromedp.ID("q")),
			until(`new URLSearchParams(location.search).get("q") === "market st" && document.readyState === "complete"`),
		)
		if c.base == unreachable {
			if v := eval(`[document.querySelector("#lots-map").dataset.state || ""]`); v[0] != "" {
				t.Errorf("%s: the map's state is %q; want none while the tile server does not answer", c.name, v[0])
			}
		}
		if got := listed(); len(got) != 20 || got[0] != "Mall 000" {
			t.Errorf("%s: the first page lists %v; want 20 from Mall 000", c.name, got)
		}
		if v := eval(`[String(!!document.querySelector("#lots-map:not([hidden])")), String(document.querySelectorAll(".leaflet-marker-icon").length)]`); v[0] != "false" || v[1] != "0" {
			t.Errorf("%s: a map shows (%s) with %s markers; want none", c.name, v[0], v[1])
		}
		do(c.name+": next page", chromedp.Click(chromedp.ID("next-page")),
			until(`document.querySelector(".lot h2") && document.querySelector(".lot h2").textContent.trim() === "Mall 020"`))
		shoot("lotsmap-" + strings.ReplaceAll(c.name, " ", "-"))
	}
	if v := eval(`[String(document.querySelectorAll("script[src*=leaflet]").length)]`); v[0] != "1" {
		t.Errorf("with tiles configured the page loads leaflet.js %s times; want once", v[0])
	}
	do("map off: no Leaflet", chromedp.Navigate(noMap+"/"), until(`document.readyState === "complete"`))
	if v := eval(`[String(document.querySelectorAll("script[src*=leaflet], link[href*=leaflet]").length)]`); v[0] != "0" {
		t.Errorf("with the map off the page still loads %s Leaflet files", v[0])
	}
	t.Logf("screenshots: %s", shots)
}

// onePNG is a 256×256 tile of one colour.
func onePNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 256, 256))
	for y := range 256 {
		for x := range 256 {
			img.Set(x, y, color.RGBA{0xdd, 0xe8, 0xd5, 0xff})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
