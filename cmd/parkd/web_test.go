package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strings"
	"testing"
	"time"

	"parkd/internal/demo"
	"parkd/internal/store/teststore"
)

// browser is an HTTP client with cookies, as a web browser is.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// get fetches a page and checks its status; it returns the body.
func (b *browser) get(path string, want int) string {
	b.t.Helper()
	resp, err := b.client.Get(b.base + path)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		b.t.Fatalf("GET %s = %d; want %d\n%s", path, resp.StatusCode, want, body)
	}
	return string(body)
}

// signIn opens a session the way the sign-in page does: the cookie it sets.
func (b *browser) signIn(email, password string) {
	b.t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, _ := http.NewRequest("POST", b.base+"/api/v1/sessions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b.t.Fatalf("sign in %s = %d; want 201", email, resp.StatusCode)
	}
}

// demoLots returns the ids of the demo garage and mall.
func demoLots(t *testing.T, base string) (garage, mall string) {
	var lots struct{ Lots []struct{ ID, Name string } }
	getJSON(t, base+"/api/v1/lots", http.StatusOK, &lots)
	for _, l := range lots.Lots {
		if strings.Contains(l.Name, "Garage") {
			garage = l.ID
		} else {
			mall = l.ID
		}
	}
	return garage, mall
}

var tilePattern = regexp.MustCompile(`<button type="button" class="t s-(\w+)`)

// TestWebPages visits every page as a visitor, a driver and an operator.
func TestWebPages(t *testing.T) {
	base := startParkd(t, "--db", teststore.SQLiteDSN(t))
	garage, mall := demoLots(t, base)

	visitor := newBrowser(t, base)
	if home := visitor.get("/", 200); !strings.Contains(home, "Harbor Street Garage") || !strings.Contains(home, "450") {
		t.Errorf("GET / does not list the garage with its 450 spots")
	}
	page := visitor.get("/lots/"+garage, 200)
	tiles := tilePattern.FindAllStringSubmatch(page, -1)
	if len(tiles) != 450 {
		t.Errorf("the garage map has %d tiles; want 450", len(tiles))
	}
	for _, m := range tiles {
		if m[1] != "available" {
			t.Fatalf("a tile of the fresh demo is %s; want available", m[1])
		}
	}
	// Prices up front: what the window (here two hours) costs on each size.
	if page := visitor.get("/lots/"+garage+"?from=2030-01-07T09:00&to=2030-01-07T11:00", 200); !strings.Contains(page, `data-price-size="standard" data-price="6.00 USD"`) {
		t.Errorf("the map does not say that two hours on a standard spot cost 6.00 USD")
	}
	// With a filter, the counts are of the spots that pass it: an SUV fits
	// only the large spots.
	var large struct {
		Counts map[string]struct{ Total int }
	}
	getJSON(t, base+"/api/v1/lots/"+garage+"/spots", 200, &large)
	want := fmt.Sprintf(`<strong class="big" id="free-count">%d</strong> of <span id="total-count">%d</span> free`, large.Counts["large"].Total, large.Counts["large"].Total)
	if page := visitor.get("/lots/"+garage+"?from=2030-01-07T09:00&to=2030-01-07T11:00&fits=suv", 200); !strings.Contains(page, want) {
		t.Errorf("the map filtered for an SUV does not count only the large spots: want %s", want)
	}
	visitor.get("/lots/lot_nosuchlot", 404)
	visitor.get("/signin", 200)
	visitor.get("/signup", 200)
	visitor.get("/kiosk/gat_anything", 200)
	for _, path := range []string{"/reservations", "/payments", "/vehicles", "/notifications", "/reserve?lot=" + garage, "/operator"} {
		resp, err := visitor.client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/signin?next=") {
			t.Errorf("GET %s signed out = %d to %q; want 303 to /signin?next=...", path, resp.StatusCode, loc)
		}
	}

	driver := newBrowser(t, base)
	driver.signIn(demo.DriverEmail, demo.DriverPassword)
	for _, path := range []string{"/", "/reservations", "/payments", "/vehicles", "/notifications", "/reserve?lot=" + garage, "/signout"} {
		page := driver.get(path, 200)
		noGoDurations(t, path, page)
		// Every signed-in page links the notifications, with the unread count
		// (none yet) for the live badge to start from.
		if !regexp.MustCompile(`<a href="/notifications" id="nav-notifications" data-unread="0" data-since="[^"]+"`).MatchString(page) ||
			!strings.Contains(page, "/static/notifications.js?v=") {
			t.Errorf("GET %s signed in: no notifications link with its count and script in the header", path)
		}
	}
	// The reserve page says how the price of a spot is computed.
	var std struct{ Spots []struct{ ID, Size string } }
	getJSON(t, base+"/api/v1/lots/"+garage+"/spots?size=standard", 200, &std)
	stdID := ""
	for _, sp := range std.Spots {
		if sp.Size == "standard" {
			stdID = sp.ID
		}
	}
	if page := driver.get("/reserve?lot="+garage+"&spot="+stdID+"&from=2030-01-07T09:00&to=2030-01-07T11:00", 200); !strings.Contains(page,
		"3.00 USD an hour for a standard spot, billed per started 15 min, at most 25.00 USD a day.") {
		rule := regexp.MustCompile(`id="price-rule">[^<]*`).FindString(page)
		t.Errorf("the reserve page does not say how the price is computed: %q", rule)
	}
	if page := driver.get("/notifications", 200); !strings.Contains(page, "No notifications yet") {
		t.Errorf("GET /notifications of a new driver does not say there are none")
	}
	if page := visitor.get("/", 200); strings.Contains(page, "nav-notifications") || strings.Contains(page, "notifications.js") {
		t.Errorf("GET / signed out links the notifications; want them only for a signed-in user")
	}
	driver.get("/operator", 403)
	driver.get("/operator/lots/"+garage, 403)

	operator := newBrowser(t, base)
	operator.signIn(demo.OperatorEmail, demo.OperatorPassword)
	for _, path := range []string{"/operator", "/operator/lots/" + garage, "/operator/lots/" + garage + "/log",
		"/operator/lots/" + garage + "/spots", "/operator/lots/" + garage + "/policy"} {
		noGoDurations(t, path, operator.get(path, 200))
	}
	operator.get("/operator/lots/"+mall, 403) // another operator's lot
	if page := operator.get("/operator/lots/"+garage+"/policy", 200); !strings.Contains(page, `name="horizon" value="366 days"`) {
		t.Errorf("the policy page does not show the booking horizon, a year by default")
	}
	// The log's plate search reads a plate as every other plate is read.
	operator.get("/operator/lots/"+garage+"/log?plate=ab-12+c", 200)
	if page := operator.get("/operator/lots/"+garage+"/log?plate=AB%F0%9F%9A%9712", 400); !strings.Contains(page, "The plate may hold only letters and digits") {
		t.Errorf("the log's search for a plate with an emoji does not say what is wrong with it")
	}
	visitor.get("/lots/a%00b", 400) // text no database can take, refused at the edge
}

// goDuration matches Go's duration text ("24h0m0s", "5m0s", "0s"), which
// people do not write.
var goDuration = regexp.MustCompile(`\b(\d+h)?(\d+m)?\d+(\.\d+)?s\b|\b\d+h\d+m\b`)

// noGoDurations fails when page shows a duration as Go writes it.
func noGoDurations(t *testing.T, path, page string) {
	t.Helper()
	// Scripts and styles are not what a person reads.
	text := regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>`).ReplaceAllString(page, "")
	if m := goDuration.FindString(text); m != "" {
		t.Errorf("GET %s shows the duration %q as Go writes it; want \"5 min\", \"24 h\"", path, m)
	}
}

// TestStaticAssets checks that scripts and styles are compressed and cached.
func TestStaticAssets(t *testing.T) {
	base := startParkd(t, "--db", teststore.SQLiteDSN(t))
	home := newBrowser(t, base).get("/", 200)
	m := regexp.MustCompile(`/static/app\.js\?v=\w+`).FindString(home)
	if m == "" {
		t.Fatalf("the home page links no versioned app.js")
	}
	req, _ := http.NewRequest("GET", base+m, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("Content-Encoding"); got != "gzip" {
		t.Errorf("GET %s Content-Encoding = %q; want gzip", m, got)
	}
	if got := resp.Header.Get("Cache-Control"); !strings.Contains(got, "immutable") {
		t.Errorf("GET %s Cache-Control = %q; want a year, immutable", m, got)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: not gzip: %v", m, err)
	}
	if b, _ := io.ReadAll(zr); !bytes.Contains(b, []byte("window.parkd")) {
		t.Errorf("GET %s: the script is not app.js", m)
	}

	// An icon (also where browsers look without asking the page) and a web
	// app manifest, so a phone can add parkd to its home screen.
	for _, path := range []string{"/favicon.ico", regexp.MustCompile(`/static/icon\.svg\?v=\w+`).FindString(home)} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" {
			t.Errorf("GET %q = %d %s; want the SVG icon", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	manifest := regexp.MustCompile(`<link rel="manifest" href="(/static/manifest\.webmanifest\?v=\w+)">`).FindStringSubmatch(home)
	if manifest == nil {
		t.Fatalf("the home page links no web app manifest")
	}
	resp, err = http.Get(base + manifest[1])
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m2 struct {
		Name     string                 `json:"name"`
		StartURL string                 `json:"start_url"`
		Icons    []struct{ Src string } `json:"icons"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m2); err != nil || m2.Name != "parkd" || m2.StartURL != "/" || len(m2.Icons) == 0 ||
		resp.Header.Get("Content-Type") != "application/manifest+json" {
		t.Errorf("GET %s = %s %+v, %v; want parkd's manifest", manifest[1], resp.Header.Get("Content-Type"), m2, err)
	}
}

// compressedSize fetches path as a browser that accepts gzip does and returns
// the bytes on the wire.
func compressedSize(t *testing.T, url string, header ...string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	return len(b)
}

// TestMapPageWeight measures what a first visit to the 450-spot map costs on
// the wire: the HTML (every tile drawn, with its status), the data (every
// spot's state, as JSON), and the scripts and styles (cached for a year after).
// docs/benchmarks.md ("Web pages") quotes its output.
func TestMapPageWeight(t *testing.T) {
	base := startParkd(t, "--db", teststore.SQLiteDSN(t))
	garage, _ := demoLots(t, base)
	html := compressedSize(t, base+"/lots/"+garage)
	data := compressedSize(t, base+"/api/v1/lots/"+garage+"/spots")
	page := newBrowser(t, base).get("/lots/"+garage, 200)
	assets := 0
	for _, a := range regexp.MustCompile(`/static/[\w.]+\?v=\w+`).FindAllString(page, -1) {
		assets += compressedSize(t, base+a)
	}
	snapshot := liveSnapshotSize(t, base+"/api/v1/lots/"+garage+"/live")
	t.Logf("map of 450 spots, gzip: HTML %.1f KB + data %.1f KB = %.1f KB; scripts and styles %.1f KB (cached); first visit %.1f KB",
		kib(html), kib(data), kib(html+data), kib(assets), kib(html+data+assets))
	t.Logf("the live feed's first message (the snapshot the map applies), uncompressed: %.1f KB", kib(snapshot))
	if html+data > 100*1024 || html+snapshot > 100*1024 {
		t.Errorf("HTML and data of the map = %.1f KB compressed (live snapshot %.1f KB); want under 100 KB", kib(html+data), kib(snapshot))
	}
}

// liveSnapshotSize reads the first Server-Sent Event of the live feed and
// returns its size on the wire.
func liveSnapshotSize(t *testing.T, url string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	n, data := 0, false
	for {
		line, err := r.ReadString('\n')
		n += len(line)
		if err != nil {
			t.Fatalf("read the live feed: %v", err)
		}
		data = data || strings.HasPrefix(line, "data:")
		if line == "\n" && data {
			return n
		}
	}
}

func kib(n int) float64 { return float64(n) / 1024 }
