// Command holdload measures parkd's holds over HTTP: holds/s and latency with
// --clients drivers, each hold on a distinct window with its own
// Idempotency-Key, and, with --db (PostgreSQL), how many transactions one
// hold costs the database (pg_stat_database.xact_commit over --count holds
// sent one at a time; start parkd with its background loops slowed, as
// bench/hold-load.sh does, so that they add nothing).
//
// Usage: holdload --target http://127.0.0.1:8080 [--db DSN] [--clients 16] [--duration 10s] [--any]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"parkd/internal/demo"
	"parkd/internal/load"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "holdload:", err)
		os.Exit(1)
	}
}

type holder struct {
	c       *load.Client
	token   string
	lot     string
	spots   []string
	anySpot bool
	start   time.Time
	next    atomic.Int64
	run     string
}

func run() error {
	target := flag.String("target", "http://127.0.0.1:8080", "parkd's base URL")
	db := flag.String("db", "", "parkd's PostgreSQL database, to count the transactions of one hold")
	clients := flag.Int("clients", 16, "drivers holding at once")
	duration := flag.Duration("duration", 10*time.Second, "how long the timed run lasts")
	count := flag.Int("count", 200, "holds sent one at a time for the count (with --db)")
	anySpot := flag.Bool("any", false, "hold \"any spot\" rather than named spots")
	after := flag.Duration("after", 2*time.Hour, "the first hold's window starts this long from now (runs on one database need windows apart)")
	flag.Parse()
	ctx := context.Background()

	h := &holder{c: load.NewClient(*target, *clients), anySpot: *anySpot, run: fmt.Sprint(time.Now().UnixNano())}
	var sess struct {
		Token string `json:"token"`
	}
	if _, err := h.c.Do(ctx, "POST", "/api/v1/sessions", "", nil, map[string]string{"email": demo.DriverEmail, "password": demo.DriverPassword}, &sess); err != nil {
		return err
	}
	h.token = sess.Token
	var lots struct {
		Lots []struct {
			ID string `json:"id"`
		} `json:"lots"`
	}
	if _, err := h.c.Do(ctx, "GET", "/api/v1/lots", "", nil, nil, &lots); err != nil || len(lots.Lots) == 0 {
		return fmt.Errorf("lots: %v (%d)", err, len(lots.Lots))
	}
	h.lot = lots.Lots[0].ID
	var spots struct {
		Spots []struct {
			ID   string `json:"id"`
			Size string `json:"size"`
		} `json:"spots"`
	}
	if _, err := h.c.Do(ctx, "GET", "/api/v1/lots/"+h.lot+"/spots", "", nil, nil, &spots); err != nil {
		return err
	}
	for _, sp := range spots.Spots {
		if sp.Size == "standard" || sp.Size == "large" {
			h.spots = append(h.spots, sp.ID)
		}
	}
	if len(h.spots) == 0 {
		return fmt.Errorf("lot %s has no standard or large spot", h.lot)
	}
	h.start = time.Now().Truncate(time.Hour).Add(after.Truncate(time.Hour))
	kind := "named spots"
	if h.anySpot {
		kind = "any spot"
	}
	fmt.Printf("# lot %s, %d standard/large spots, holds of %s\n", h.lot, len(h.spots), kind)
	if err := h.hold(ctx); err != nil { // warm up
		return err
	}

	if *db != "" {
		conn, err := pgx.Connect(ctx, *db)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		commits := func() (int64, error) {
			// Backends report their counts when idle, at most every 10 s.
			time.Sleep(11 * time.Second)
			var n int64
			err := conn.QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
			return n, err
		}
		before, err := commits()
		if err != nil {
			return err
		}
		for range *count {
			if err := h.hold(ctx); err != nil {
				return err
			}
		}
		after, err := commits()
		if err != nil {
			return err
		}
		// Less the count's own read before.
		fmt.Printf("transactions per hold (xact_commit): %.2f over %d holds\n", float64(after-before-1)/float64(*count), *count)
	}

	var mu sync.Mutex
	var lat []time.Duration
	var failed atomic.Int64
	deadline := time.Now().Add(*duration)
	var wg sync.WaitGroup
	for range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := h.hold(ctx); err != nil {
					failed.Add(1)
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	fmt.Printf("holds over HTTP, %d clients, %s: %.0f holds/s, p50 %s, p99 %s, %d failed\n", *clients, *duration,
		float64(len(lat))/duration.Seconds(), load.Percentile(lat, 0.50).Round(100*time.Microsecond),
		load.Percentile(lat, 0.99).Round(100*time.Microsecond), failed.Load())
	return nil
}

// hold holds one window no other hold of the run has on its spot: the n-th
// hold takes spot n mod spots for hour n / spots (for "any spot", the hour
// alone spreads them).
func (h *holder) hold(ctx context.Context) error {
	n := h.next.Add(1)
	from := h.start.Add(time.Duration(n/int64(len(h.spots))) * time.Hour)
	body := map[string]any{"lot_id": h.lot, "plate": fmt.Sprintf("HL%05d", n%100000), "size": "standard",
		"starts_at": from.Format(time.RFC3339), "ends_at": from.Add(time.Hour).Format(time.RFC3339)}
	if !h.anySpot {
		body["spot_id"] = h.spots[n%int64(len(h.spots))]
	}
	key := map[string]string{"Idempotency-Key": fmt.Sprintf("holdload-%s-%d", h.run, n)}
	_, err := h.c.Do(ctx, "POST", "/api/v1/reservations", h.token, key, body, nil)
	return err
}
