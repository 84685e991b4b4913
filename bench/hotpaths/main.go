// Command hotpaths is bench/hotpaths.sh's helper: it seeds a window full of
// bookings through parkd's API, drives holds over HTTP, and serves the bytes
// of one parkd answer from a bare net/http server, the ceiling parkd's map
// reads are compared with.
//
//	hotpaths seed    --target URL --from RFC3339 --hours 8   (prints the lot id)
//	hotpaths holds   --target URL --lot ID --clients 16 --duration 10s
//	hotpaths ceiling --addr 127.0.0.1:PORT --url URL          (serves until killed)
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "hotpaths:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: hotpaths seed|holds|ceiling [flags]")
	}
	fs := flag.NewFlagSet("hotpaths "+args[0], flag.ContinueOnError)
	target := fs.String("target", "http://127.0.0.1:8080", "parkd's base URL")
	lot := fs.String("lot", "", "the lot (default: the demo garage, the lot with the most spots)")
	from := fs.String("from", "", "seed: the window's start, RFC 3339")
	hours := fs.Int("hours", 8, "seed: one booking per spot per hour of the window")
	clients := fs.Int("clients", 16, "seed, holds: drivers booking at once, each its own account")
	duration := fs.Duration("duration", 10*time.Second, "holds: how long")
	addr := fs.String("addr", "127.0.0.1:0", "ceiling: where to serve")
	url := fs.String("url", "", "ceiling: the parkd answer to serve the bytes of (fetched once, with gzip)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	c := &client{base: *target, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second}}
	switch args[0] {
	case "seed":
		start, err := time.Parse(time.RFC3339, *from)
		if err != nil {
			return fmt.Errorf("--from: %w", err)
		}
		return seed(c, *lot, start, *hours, *clients)
	case "holds":
		return holds(c, *lot, *clients, *duration)
	case "ceiling":
		return ceiling(*addr, *url)
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// client calls parkd's JSON API.
type client struct {
	base string
	http *http.Client
	keys atomic.Int64
	run  string
}

// call sends body as JSON and decodes a 2xx answer into out; any other
// status is an error.
func (c *client) call(method, path, token string, idempotent bool, body, out any) error {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if idempotent {
		req.Header.Set("Idempotency-Key", fmt.Sprintf("hotpaths-%s-%d", c.runID(), c.keys.Add(1)))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// runID tells this run's accounts and keys from another's: letters only,
// as parkd's own keys (no digits that could read as a card number).
func (c *client) runID() string {
	if c.run == "" {
		b := make([]byte, 8)
		rand.Read(b)
		for i := range b {
			b[i] = 'a' + b[i]%26
		}
		c.run = string(b)
	}
	return c.run
}

// drivers signs up n drivers and returns their session tokens.
func (c *client) drivers(n int) ([]string, error) {
	var tokens []string
	for i := range n {
		email := fmt.Sprintf("hotpaths-%s-%d@bench.test", c.runID(), i)
		password := "hotpaths-" + c.runID()
		if err := c.call("POST", "/api/v1/users", "", true, map[string]string{"name": "Bench driver", "email": email, "password": password}, nil); err != nil {
			return nil, err
		}
		var s struct {
			Token string `json:"token"`
		}
		if err := c.call("POST", "/api/v1/sessions", "", false, map[string]string{"email": email, "password": password}, &s); err != nil {
			return nil, err
		}
		tokens = append(tokens, s.Token)
	}
	return tokens, nil
}

// spots returns the lot (the one with the most spots when none is named) and
// its spot ids.
func (c *client) spots(lot string) (string, []string, error) {
	if lot == "" {
		var list struct {
			Lots []struct {
				ID string `json:"id"`
			} `json:"lots"`
		}
		if err := c.call("GET", "/api/v1/lots", "", false, nil, &list); err != nil {
			return "", nil, err
		}
		var most []string
		for _, l := range list.Lots {
			_, ids, err := c.spots(l.ID)
			if err != nil {
				return "", nil, err
			}
			if len(ids) > len(most) {
				lot, most = l.ID, ids
			}
		}
		return lot, most, nil
	}
	var page struct {
		Spots []struct {
			ID string `json:"id"`
		} `json:"spots"`
	}
	if err := c.call("GET", "/api/v1/lots/"+lot+"/spots", "", false, nil, &page); err != nil {
		return "", nil, err
	}
	ids := make([]string, len(page.Spots))
	for i, s := range page.Spots {
		ids[i] = s.ID
	}
	return lot, ids, nil
}

// hold books spot for [from, from+1h) for a motorcycle, which fits every
// spot.
func (c *client) hold(token, lot, spot string, from time.Time) (string, error) {
	var r struct {
		ID string `json:"id"`
	}
	err := c.call("POST", "/api/v1/reservations", token, true, map[string]any{
		"lot_id": lot, "spot_id": spot, "plate": "BENCH1", "size": "motorcycle",
		"starts_at": from.Format(time.RFC3339), "ends_at": from.Add(time.Hour).Format(time.RFC3339)}, &r)
	return r.ID, err
}

// seed books every spot of the lot for each hour of [from, from+hours) and
// pays each booking (a hold would lapse within minutes), then prints the lot.
func seed(c *client, lot string, from time.Time, hours, clients int) error {
	lot, spots, err := c.spots(lot)
	if err != nil {
		return err
	}
	tokens, err := c.drivers(clients)
	if err != nil {
		return err
	}
	var next atomic.Int64
	total := int64(len(spots) * hours)
	errs := make(chan error, clients)
	for _, token := range tokens {
		go func() {
			for n := next.Add(1) - 1; n < total; n = next.Add(1) - 1 {
				id, err := c.hold(token, lot, spots[n%int64(len(spots))], from.Add(time.Duration(n/int64(len(spots)))*time.Hour))
				if err == nil {
					err = c.call("POST", "/api/v1/reservations/"+id+"/payments", token, true, map[string]string{"payment_method": "pm_card_visa"}, nil)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range tokens {
		if err := <-errs; err != nil {
			return err
		}
	}
	fmt.Println(lot)
	return nil
}

// holds has each client hold a named spot for a window no other hold asks
// for, one hold after another, for the duration; it prints holds/s, p50 and
// p99 in milliseconds, and fails on any answer but 201.
func holds(c *client, lot string, clients int, d time.Duration) error {
	lot, spots, err := c.spots(lot)
	if err != nil {
		return err
	}
	tokens, err := c.drivers(clients)
	if err != nil {
		return err
	}
	// Hours nobody else books: a month ahead, past any seeded window.
	base := time.Now().UTC().Truncate(time.Hour).Add(30 * 24 * time.Hour)
	var (
		next    atomic.Int64
		mu      sync.Mutex
		latency []time.Duration
		failed  error
		wg      sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	t0 := time.Now()
	for _, token := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil {
				n := next.Add(1) - 1
				start := time.Now()
				_, err := c.hold(token, lot, spots[n%int64(len(spots))], base.Add(time.Duration(n/int64(len(spots)))*time.Hour))
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					break
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			latency = append(latency, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	if failed != nil {
		return failed
	}
	slices.Sort(latency)
	pct := func(p float64) float64 {
		if len(latency) == 0 {
			return 0
		}
		return float64(latency[min(len(latency)-1, int(p*float64(len(latency))))]) / float64(time.Millisecond)
	}
	fmt.Printf("%.0f %.2f %.2f\n", float64(len(latency))/elapsed.Seconds(), pct(0.50), pct(0.99))
	return nil
}

// ceiling fetches url once, as a browser would (gzip), and answers every
// request with the same status, headers and bytes: what net/http alone costs.
func ceiling(addr, url string) error {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err
	}
	// Set by hand, so that the transport hands the compressed bytes over as
	// they came.
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	header := resp.Header.Clone()
	header.Del("Date")
	header.Del("Content-Length")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "ceiling: serving %d bytes (%s) of %s at %s\n", len(body), resp.Header.Get("Content-Encoding"), url, ln.Addr())
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
	}))
}
