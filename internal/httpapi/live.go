package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/coder/websocket"

	"parkd/internal/live"
	"parkd/internal/parking"
)

// The live feed's timing (docs/live.md).
const (
	livePingEvery    = 20 * time.Second
	livePongWithin   = 10 * time.Second
	liveWriteTimeout = 5 * time.Second
)

// handleLive streams a lot's spot states: over a WebSocket when the request
// upgrades, as Server-Sent Events when it accepts text/event-stream.
// allowedOrigins are the origins, besides parkd's own host, whose pages may
// open the WebSocket.
func handleLive(log *slog.Logger, hub *live.Hub, clock parking.Clock, allowedOrigins []string) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		ws := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
		sse := strings.Contains(r.Header.Get("Accept"), "text/event-stream")
		if !ws && !sse {
			return parking.Errorf(parking.EUPGRADEREQUIRED,
				"the live feed is a WebSocket (send Upgrade: websocket) or Server-Sent Events (send Accept: text/event-stream)")
		}
		_, from, to, err := windowQuery(r, clock)
		if err != nil {
			return err
		}
		since := r.URL.Query().Get("since")
		if id := r.Header.Get("Last-Event-ID"); id != "" {
			since = id
		}
		// A stream outlives the server's read and write timeouts, which are
		// for ordinary requests; it keeps its own (pings, write deadlines).
		rc := http.NewResponseController(w)
		rc.SetReadDeadline(time.Time{})
		rc.SetWriteDeadline(time.Time{})

		if ws && !originAllowed(r, allowedOrigins) {
			return parking.Errorf(parking.EFORBIDDEN,
				"a page from %s may not open this feed: only parkd's own pages and PARKD_ALLOWED_ORIGINS may", r.Header.Get("Origin"))
		}
		sub, err := hub.Subscribe(r.Context(), r.PathValue("lot"), from, to, since)
		if err != nil {
			return err
		}
		defer sub.Close()
		if ws {
			serveWebSocket(w, r, log, hub, sub, allowedOrigins)
		} else {
			serveEvents(w, r, hub, sub)
		}
		return nil
	})
}

func serveWebSocket(w http.ResponseWriter, r *http.Request, log *slog.Logger, hub *live.Hub, sub *live.Subscription, allowedOrigins []string) {
	// handleLive checked the Origin.
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered
	}
	defer conn.CloseNow()
	// Clients only listen: reading in the background answers pings and
	// closes, and ends ctx when the client goes. Ending ctx closes the
	// connection, which also ends a write that a dead client blocks, and the
	// subscription, which ends the loop below. So a write needs no context
	// of its own, and the loop waits on one channel: at thousands of
	// clients, a timer per write or a select per message shows.
	ctx, cancel := context.WithCancel(conn.CloseRead(r.Context()))
	defer cancel()
	context.AfterFunc(ctx, func() {
		conn.CloseNow()
		sub.Close()
	})
	// Pings run from a timer, not a goroutine per connection: a client that
	// does not answer in time is gone.
	var ping func()
	ping = func() {
		if ctx.Err() != nil {
			return
		}
		pctx, pcancel := context.WithTimeout(ctx, livePongWithin)
		defer pcancel()
		if conn.Ping(pctx) != nil {
			cancel()
			return
		}
		time.AfterFunc(livePingEvery, ping)
	}
	time.AfterFunc(livePingEvery, ping)

	write := func(m *live.Message) error {
		return conn.Write(context.Background(), websocket.MessageText, m.Data)
	}
	for _, m := range sub.Backlog {
		if write(m) != nil {
			return
		}
	}
	sub.Backlog = nil // a snapshot is large: do not keep it for the connection's life
	for m := range sub.C() {
		if err := write(m); err != nil {
			log.Debug("live: dropping a websocket client", "err", err)
			return
		}
	}
	switch {
	case ctx.Err() != nil: // the client went
	case errors.Is(sub.Err(), live.ErrSlow):
		wctx, wcancel := context.WithTimeout(ctx, liveWriteTimeout)
		conn.Write(wctx, websocket.MessageText, hub.Resync().Data)
		wcancel()
		conn.Close(websocket.StatusTryAgainLater, "too slow: reconnect for a fresh snapshot")
	default:
		conn.Close(websocket.StatusGoingAway, "server stopping")
	}
}

// originAllowed reports whether a WebSocket may be opened from the request's
// Origin: none (not a browser), parkd's own host, or one of allowed (host
// patterns as path.Match takes them, e.g. "*.example.com").
func originAllowed(r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, pattern := range allowed {
		if ok, _ := path.Match(strings.ToLower(pattern), strings.ToLower(u.Host)); ok {
			return true
		}
	}
	return false
}

func serveEvents(w http.ResponseWriter, r *http.Request, hub *live.Hub, sub *live.Subscription) {
	events := startEventStream(w, liveWriteTimeout)
	send := func(m *live.Message) error {
		if err := events.send(m.Version, "", m.Data); err != nil {
			return err
		}
		return events.flush()
	}
	for _, m := range sub.Backlog {
		if send(m) != nil {
			return
		}
	}
	sub.Backlog = nil
	ping := time.NewTicker(livePingEvery)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			if events.comment("ping") != nil || events.flush() != nil {
				return
			}
		case m, ok := <-sub.C():
			if !ok {
				if errors.Is(sub.Err(), live.ErrSlow) {
					send(hub.Resync())
				}
				return
			}
			if send(m) != nil {
				return
			}
		}
	}
}
