package httpapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"parkd/internal/auth"
	"parkd/internal/booking"
	"parkd/internal/httpapi"
	"parkd/internal/live"
	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// conditionalGet sends GET u with the given If-None-Match (none when empty)
// and Accept-Encoding, and returns the answer with its body as sent.
func conditionalGet(t *testing.T, u, ifNoneMatch, acceptEncoding string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	req.Header.Set("Accept-Encoding", acceptEncoding) // set: the transport neither adds gzip nor unpacks it
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// TestMapReadETag: a map read served from the index carries a strong ETag,
// one for JSON and another for gzip; If-None-Match with it answers 304 with
// no body; a hold, and the hold's expiry on the clock, each change it.
func TestMapReadETag(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		s := b.Open(t)
		f := storetest.MustFixture(t, s)
		clock := parkingtest.NewClock(storetest.T0.Add(300 * time.Millisecond))
		log := parkingtest.Logger(t)
		hub := live.NewHub(log, s, clock)
		hubCtx, stopHub := context.WithCancel(context.Background())
		hubDone := make(chan struct{})
		go func() { defer close(hubDone); hub.Run(hubCtx, 10*time.Millisecond) }()
		t.Cleanup(func() { stopHub(); <-hubDone })
		engine := booking.New(hub.Waking(s), clock).WithIndex(hub)
		srv := httptest.NewServer(httpapi.NewHandler(httpapi.WithStore(httpapi.Services{Log: log, Engine: engine,
			Auth: auth.New(s, clock), Clock: clock, Live: hub}, s)))
		t.Cleanup(srv.Close)
		u := srv.URL + "/api/v1/lots/" + f.Lot.ID + "/spots"

		first, plain := conditionalGet(t, u, "", "identity")
		etag := first.Header.Get("ETag")
		if first.StatusCode != http.StatusOK || len(etag) < 3 || etag[0] != '"' {
			t.Fatalf("GET spots = %d, ETag %q; want 200 and a strong tag", first.StatusCode, etag)
		}
		again, _ := conditionalGet(t, u, "", "identity") // from the cache now
		if again.Header.Get("ETag") != etag {
			t.Errorf("ETag of the same read = %q; want %q", again.Header.Get("ETag"), etag)
		}
		notModified, body := conditionalGet(t, u, etag, "identity")
		if notModified.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("GET with If-None-Match: its ETag = %d with %d bytes; want 304 and no body", notModified.StatusCode, len(body))
		}
		zipped, zbody := conditionalGet(t, u, "", "gzip")
		zetag := zipped.Header.Get("ETag")
		if zipped.Header.Get("Content-Encoding") != "gzip" || zetag == etag || zetag == "" || zetag[0] != '"' {
			t.Errorf("gzip GET = encoding %q, ETag %q; want gzip and a strong tag other than %q", zipped.Header.Get("Content-Encoding"), zetag, etag)
		} else if zr, err := gzip.NewReader(bytes.NewReader(zbody)); err != nil {
			t.Error(err)
		} else if unzipped, _ := io.ReadAll(zr); !bytes.Equal(unzipped, plain) {
			t.Errorf("gunzipped body differs from the plain one")
		}
		if r, _ := conditionalGet(t, u, zetag, "gzip"); r.StatusCode != http.StatusNotModified {
			t.Errorf("gzip GET with its ETag = %d; want 304", r.StatusCode)
		}

		// A hold made here changes the answer at once, and once the clock
		// passes its expiry, by time alone, the answer is the first one again.
		now := clock.Now()
		uw := u + "?from=" + now.Add(30*time.Minute).Format(time.RFC3339) + "&to=" + now.Add(40*time.Minute).Format(time.RFC3339)
		before, _ := conditionalGet(t, uw, "", "identity")
		free := before.Header.Get("ETag")
		r, err := engine.Hold(context.Background(), booking.HoldRequest{LotID: f.Lot.ID, SpotID: f.Spots[2].ID, VehicleSize: parking.Compact,
			Plate: "ETAG-1", StartsAt: now, EndsAt: now.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		afterHold, _ := conditionalGet(t, uw, free, "identity")
		held := afterHold.Header.Get("ETag")
		if afterHold.StatusCode != http.StatusOK || held == free {
			t.Fatalf("GET with the ETag before a hold, after it = %d, ETag %q; want 200 and a new tag", afterHold.StatusCode, held)
		}
		clock.Set(r.HoldExpiresAt)
		lapsed, _ := conditionalGet(t, uw, held, "identity")
		if lapsed.StatusCode != http.StatusOK || lapsed.Header.Get("ETag") != free {
			t.Errorf("GET with the held ETag after the hold lapsed = %d, ETag %q; want 200 and the free map's %q", lapsed.StatusCode, lapsed.Header.Get("ETag"), free)
		}
	})
}
