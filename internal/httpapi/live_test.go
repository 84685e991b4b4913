package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parkd/internal/parking"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// liveMsg is any message of the live feed.
type liveMsg struct {
	Type    string `json:"type"`
	Version string `json:"version"`
	Spots   []struct {
		ID        string `json:"id"`
		InService bool   `json:"in_service"`
		Claims    []struct {
			Key    string `json:"key"`
			Status string `json:"status"`
		} `json:"claims"`
	} `json:"spots"`
	SpotID    string `json:"spot_id"`
	Key       string `json:"key"`
	Status    string `json:"status"`
	InService *bool  `json:"in_service"`
}

// liveClient reads the live feed over a WebSocket or SSE.
type liveClient struct {
	t    *testing.T
	next func() liveMsg
}

// liveQuery is a window over the fixture's first hours.
func liveQuery(extra ...string) string {
	q := url.Values{"from": {storetest.T0.Format(time.RFC3339)}, "to": {storetest.T0.Add(12 * time.Hour).Format(time.RFC3339)}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return q.Encode()
}

func dialLive(t *testing.T, base, lotID, query string) *liveClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	u := "ws" + strings.TrimPrefix(base, "http") + "/api/v1/lots/" + lotID + "/live?" + query
	conn, resp, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		cancel()
		t.Fatalf("dial %s: %v (%v)", u, err, resp)
	}
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { conn.CloseNow(); cancel() })
	return &liveClient{t: t, next: func() liveMsg {
		t.Helper()
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		defer rcancel()
		_, data, err := conn.Read(rctx)
		if err != nil {
			t.Fatalf("read the live feed: %v", err)
		}
		var m liveMsg
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
		return m
	}}
}

func streamLive(t *testing.T, base, lotID, query string, headers ...string) *liveClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/lots/"+lotID+"/live?"+query, nil)
	req.Header.Set("Accept", "text/event-stream")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		cancel()
		t.Fatalf("GET live as SSE = %v, %v; want a 200 event stream", resp, err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var id string
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "id: "); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				select {
				case lines <- id + "\n" + v:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return &liveClient{t: t, next: func() liveMsg {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the event stream ended")
			}
			id, data, _ := strings.Cut(l, "\n")
			var m liveMsg
			if err := json.Unmarshal([]byte(data), &m); err != nil {
				t.Fatalf("decode %s: %v", data, err)
			}
			if m.Version != id {
				t.Errorf("SSE id %q, message version %q; want them equal", id, m.Version)
			}
			return m
		case <-time.After(10 * time.Second):
			t.Fatal("no message on the event stream")
			return liveMsg{}
		}
	}}
}

// expect reads the next message and checks it is a claim on spot with status.
func (c *liveClient) expectClaim(spotID, status string) liveMsg {
	c.t.Helper()
	m := c.next()
	if m.Type != "claim" || m.SpotID != spotID || m.Status != status {
		c.t.Fatalf("live message = %+v; want a %s claim on %s", m, status, spotID)
	}
	return m
}

// TestLiveFanOut: a change committed by one request reaches every subscriber
// of the lot, over WebSockets and SSE alike, in order.
func TestLiveFanOut(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		lot, spot := e.fixture.Lot.ID, e.fixture.SpotsOf(parking.Standard)[0].ID
		subs := []*liveClient{
			dialLive(t, e.srv.URL, lot, liveQuery()),
			dialLive(t, e.srv.URL, lot, liveQuery()),
			streamLive(t, e.srv.URL, lot, liveQuery()),
		}
		for i, c := range subs {
			snap := c.next()
			if snap.Type != "snapshot" || len(snap.Spots) != len(e.fixture.Spots) {
				t.Fatalf("subscriber %d: first message = %+v; want a snapshot of %d spots", i, snap, len(e.fixture.Spots))
			}
			for _, sp := range snap.Spots {
				if !sp.InService || len(sp.Claims) != 0 {
					t.Errorf("subscriber %d: snapshot spot %+v; want in service and unclaimed", i, sp)
				}
			}
		}

		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		var res parking.Reservation
		ada.must(201, "POST", "/api/v1/reservations", holdBody(e, spot, 1, 2), "Idempotency-Key", "h1").into(t, &res)
		var keys []string
		for _, c := range subs {
			keys = append(keys, c.expectClaim(spot, "held").Key)
		}
		ada.must(201, "POST", "/api/v1/reservations/"+res.ID+"/payments", map[string]string{"payment_method": "pm_card_visa"}, "Idempotency-Key", "p1")
		for _, c := range subs {
			c.expectClaim(spot, "confirmed")
		}
		ada.must(200, "POST", "/api/v1/reservations/"+res.ID+"/cancel", nil, "Idempotency-Key", "c1")
		for i, c := range subs {
			if m := c.expectClaim(spot, "released"); m.Key != keys[i] || strings.Contains(m.Key, res.ID) {
				t.Errorf("subscriber %d: released key %q, held key %q; want the same key, not the reservation id", i, m.Key, keys[i])
			}
		}
	})
}

// TestLiveReconnect: a client that reconnects with its last version gets
// exactly what it missed; one with a version the server does not know gets a
// fresh snapshot that has it all.
func TestLiveReconnect(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		lot := e.fixture.Lot.ID
		std := e.fixture.SpotsOf(parking.Standard)
		first := dialLive(t, e.srv.URL, lot, liveQuery())
		last := first.next().Version
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		ada.must(201, "POST", "/api/v1/reservations", holdBody(e, std[0].ID, 1, 2), "Idempotency-Key", "h0")
		last = first.expectClaim(std[0].ID, "held").Version

		// The client goes away; three holds happen while it is gone. A
		// watcher that stays tells when the hub has applied them.
		watcher := dialLive(t, e.srv.URL, lot, liveQuery())
		watcher.next()
		missed := []struct {
			spot       string
			start, end int
		}{{std[1].ID, 1, 2}, {std[2].ID, 1, 2}, {std[1].ID, 5, 6}}
		for i, m := range missed {
			ada.must(201, "POST", "/api/v1/reservations", holdBody(e, m.spot, m.start, m.end), "Idempotency-Key", "m"+string(rune('0'+i)))
			watcher.expectClaim(m.spot, "held")
		}

		hour := 2
		for _, again := range []*liveClient{
			dialLive(t, e.srv.URL, lot, liveQuery("since", last)),
			streamLive(t, e.srv.URL, lot, liveQuery(), "Last-Event-ID", last),
		} {
			for _, m := range missed {
				again.expectClaim(m.spot, "held")
			}
			hour++
			ada.must(201, "POST", "/api/v1/reservations", holdBody(e, std[0].ID, hour, hour+1), "Idempotency-Key", "again-"+parking.NewID("k"))
			again.expectClaim(std[0].ID, "held") // and then what comes next
			watcher.expectClaim(std[0].ID, "held")
		}

		fresh := dialLive(t, e.srv.URL, lot, liveQuery("since", "someone-else.12"))
		snap := fresh.next()
		if snap.Type != "snapshot" {
			t.Fatalf("reconnect with an unknown version: first message = %+v; want a snapshot", snap)
		}
		claimed := map[string]int{}
		for _, sp := range snap.Spots {
			claimed[sp.ID] = len(sp.Claims)
		}
		if claimed[std[0].ID] != 3 || claimed[std[1].ID] != 2 || claimed[std[2].ID] != 1 {
			t.Errorf("snapshot claims = %v; want 3, 2 and 1 on the standard spots", claimed)
		}
	})
}

// TestLiveRefusals: requests the feed cannot serve get a problem, and a page
// of another origin cannot open the WebSocket.
func TestLiveRefusals(t *testing.T) {
	b := teststore.Backends(t)[0]
	e := newAPI(t, b)
	anon := &client{t: t, base: e.srv.URL}
	lot := e.fixture.Lot.ID
	if p := anon.must(426, "GET", "/api/v1/lots/"+lot+"/live", nil).problem(); p.Code != "upgrade_required" {
		t.Errorf("plain GET = %+v; want upgrade_required", p)
	}
	if p := anon.must(400, "GET", "/api/v1/lots/"+lot+"/live?from=yesterday", nil, "Accept", "text/event-stream").problem(); p.Code != "invalid" {
		t.Errorf("bad from = %+v; want invalid", p)
	}
	if p := anon.must(404, "GET", "/api/v1/lots/lot_nope/live", nil, "Accept", "text/event-stream").problem(); p.Code != "not_found" {
		t.Errorf("unknown lot = %+v; want not_found", p)
	}
	ws := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/api/v1/lots/" + lot + "/live"
	_, resp, err := websocket.Dial(context.Background(), ws, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("dial from a foreign origin = %v, %v; want 403", resp, err)
	}
	host := strings.TrimPrefix(e.srv.URL, "http://")
	conn, _, err := websocket.Dial(context.Background(), ws, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://" + host}}})
	if err != nil {
		t.Errorf("dial from parkd's own origin = %v; want it accepted", err)
	} else {
		conn.CloseNow()
	}
}
