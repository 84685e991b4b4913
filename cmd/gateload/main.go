// Command gateload measures gate decisions through HTTP: it prepares a lot with
// one paid reservation per spot in a parkd database, then drives a running
// parkd with 50 concurrent gates (25 entry, 25 exit): every car scans in, then
// out. It prints scans per second and latency percentiles. It only talks to
// the address it is given (loopback), and stops after its cars are through.
//
//	parkd --db "$DSN" --no-demo --addr 127.0.0.1:18080 --log-level warn &
//	go run ./cmd/gateload --db "$DSN" --target http://127.0.0.1:18080 --cars 4000
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"parkd/internal/auth"
	"parkd/internal/load"
	"parkd/internal/parking"
	"parkd/internal/pass"
	"parkd/internal/store/postgres"
	"parkd/internal/store/sqlite"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gateload:", err)
		os.Exit(1)
	}
}

type car struct {
	code string
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("gateload", flag.ContinueOnError)
	db := fs.String("db", "", "the database parkd runs on (postgres:// URL or SQLite path)")
	target := fs.String("target", "http://127.0.0.1:18080", "parkd's address")
	cars := fs.Int("cars", 4000, "cars, one spot each; each scans twice")
	gates := fs.Int("gates", 50, "concurrent gates, half entry and half exit")
	rate := fs.Float64("rate", 0, "scans per second across all gates, paced (open loop); 0 scans as fast as answers come")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !strings.HasPrefix(*target, "http://127.") && !strings.HasPrefix(*target, "http://localhost") {
		return fmt.Errorf("--target must be a loopback address")
	}
	var store parking.Store
	var err error
	if strings.HasPrefix(*db, "postgres") {
		store, err = postgres.Open(ctx, *db)
	} else {
		store, err = sqlite.Open(ctx, *db)
	}
	if err != nil {
		return err
	}
	defer store.Close()

	fmt.Fprintf(out, "preparing %d cars and %d gates...\n", *cars, *gates)
	entryKeys, exitKeys, entryIDs, exitIDs, codes, err := prepare(ctx, store, *cars, *gates)
	if err != nil {
		return err
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *gates * 2, MaxConnsPerHost: *gates * 2}, Timeout: 10 * time.Second}
	toEntry := make(chan car, len(codes))
	toExit := make(chan car, len(codes))
	for _, c := range codes {
		toEntry <- car{code: c}
	}
	close(toEntry)
	var mu sync.Mutex
	var latencies []time.Duration
	var denied, failed int
	reasons := map[string]int{}
	record := func(d time.Duration, decision string, err error) {
		mu.Lock()
		defer mu.Unlock()
		latencies = append(latencies, d)
		if err != nil {
			failed++
		} else if !strings.HasPrefix(decision, "open") {
			denied++
			reasons[decision]++
		}
	}
	half := *gates / 2
	// pace makes each gate wait for its next slot when a rate is set, so the
	// latency measured is a decision's, not a queue's.
	// The gates' phases are spread over the interval, as real gates are not in
	// step: all of them firing at once would measure a burst instead.
	pace := func(i int) func() {
		if *rate <= 0 {
			return func() {}
		}
		interval := time.Duration(float64(*gates) / *rate * float64(time.Second))
		time.Sleep(interval * time.Duration(i) / time.Duration(*gates))
		t := time.NewTicker(interval)
		return func() { <-t.C }
	}
	var entries, exits sync.WaitGroup
	start := time.Now()
	for i := range half {
		entries.Add(1)
		go func() {
			defer entries.Done()
			wait := pace(i)
			for c := range toEntry {
				wait()
				d, took, err := scan(client, *target, entryIDs[i], entryKeys[i], c.code)
				record(took, d, err)
				toExit <- c
			}
		}()
	}
	for i := range *gates - half {
		exits.Add(1)
		go func() {
			defer exits.Done()
			wait := pace(half + i)
			for c := range toExit {
				wait()
				d, took, err := scan(client, *target, exitIDs[i], exitKeys[i], c.code)
				record(took, d, err)
			}
		}()
	}
	entries.Wait()
	close(toExit)
	exits.Wait()
	elapsed := time.Since(start)

	slices.Sort(latencies)
	pct := func(p float64) time.Duration { return load.Percentile(latencies, p) }
	mode := "as fast as answers come"
	if *rate > 0 {
		mode = fmt.Sprintf("paced at %.0f scans/s", *rate)
	}
	fmt.Fprintf(out, "scans: %d in %s = %.0f scans/s (%d gates, %s)\n", len(latencies), elapsed.Round(time.Millisecond), float64(len(latencies))/elapsed.Seconds(), *gates, mode)
	fmt.Fprintf(out, "latency: p50 %s  p90 %s  p99 %s  max %s\n", pct(0.50), pct(0.90), pct(0.99), latencies[len(latencies)-1])
	fmt.Fprintf(out, "denied: %d %v  failed: %d\n", denied, reasons, failed)
	if denied+failed > 0 {
		return fmt.Errorf("%d scans were denied and %d failed; every scan should open", denied, failed)
	}
	return nil
}

func scan(client *http.Client, target, gateID, key, code string) (string, time.Duration, error) {
	body, _ := json.Marshal(map[string]string{"code": code})
	req, _ := http.NewRequest(http.MethodPost, target+"/api/v1/gates/"+gateID+"/scans", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return "", time.Since(t0), err
	}
	var d struct{ Decision, Reason string }
	err = json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	took := time.Since(t0)
	if resp.StatusCode != http.StatusOK {
		return "", took, fmt.Errorf("status %d", resp.StatusCode)
	}
	return d.Decision + " " + d.Reason, took, err
}

// prepare makes a lot with one spot and one confirmed reservation per car,
// starting now, and the gates with their device keys.
func prepare(ctx context.Context, store parking.Store, cars, gates int) (entryKeys, exitKeys, entryIDs, exitIDs, codes []string, err error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	op := parking.Operator{ID: parking.NewID("opr"), Name: "Load test", CreatedAt: now}
	if err = store.CreateOperator(ctx, &op); err != nil {
		return
	}
	lot := parking.Lot{ID: parking.NewID("lot"), OperatorID: op.ID, Name: "Load test garage " + now.Format(time.RFC3339), Address: "loopback",
		TimeZone: "UTC", Currency: "USD", Policy: parking.DefaultPolicy(), CreatedAt: now}
	if err = store.CreateLot(ctx, &lot); err != nil {
		return
	}
	level := parking.Level{ID: parking.NewID("lvl"), LotID: lot.ID, Name: "L1", Width: 100, Height: 100}
	if err = store.CreateLevel(ctx, &level); err != nil {
		return
	}
	spots := make([]parking.Spot, cars)
	for i := range spots {
		spots[i] = parking.Spot{ID: parking.NewID("spt"), LotID: lot.ID, LevelID: level.ID, Label: fmt.Sprintf("S%05d", i),
			Size: parking.Standard, Amenities: []string{}, InService: true}
	}
	if err = store.CreateSpots(ctx, spots); err != nil {
		return
	}
	driver := parking.User{ID: parking.NewID("usr"), Name: "Load", Email: parking.NewID("load") + "@example.com", PasswordHash: "-",
		Role: parking.RoleDriver, CreatedAt: now}
	if err = store.CreateUser(ctx, &driver); err != nil {
		return
	}
	stored, err := store.EnsurePassKey(ctx, parking.PassKey{ID: "kload", Secret: []byte("gateload: only used if the database has no key yet"), CreatedAt: now})
	if err != nil {
		return
	}
	keys := make([]pass.Key, len(stored))
	for i, k := range stored {
		keys[i] = pass.Key{ID: k.ID, Secret: k.Secret}
	}
	ring, err := pass.NewKeyring(keys[0], keys[1:]...)
	if err != nil {
		return
	}
	codes = make([]string, cars)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < cars; i += 16 {
				r := parking.Reservation{ID: parking.NewID("res"), UserID: driver.ID, Plate: fmt.Sprintf("LOAD%05d", i), VehicleSize: parking.Standard,
					LotID: lot.ID, StartsAt: now, EndsAt: now.Add(2 * time.Hour), Status: parking.StatusHeld, Amount: 600,
					Currency: "USD", HoldExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
				if err := store.Hold(ctx, &r, []string{spots[i].ID}, nil); err != nil {
					errs <- err
					return
				}
				if _, err := store.ChangeStatus(ctx, parking.StatusChange{ID: r.ID, From: []parking.Status{parking.StatusHeld}, To: parking.StatusConfirmed, At: now}); err != nil {
					errs <- err
					return
				}
				code, err := ring.Issue(pass.Claims{ReservationID: r.ID, LotID: lot.ID, ValidFrom: now.Add(-15 * time.Minute).Truncate(time.Second), ValidUntil: now.Add(24 * time.Hour).Truncate(time.Second)})
				if err != nil {
					errs <- err
					return
				}
				codes[i] = code
			}
		}()
	}
	wg.Wait()
	close(errs)
	if e := <-errs; e != nil {
		return nil, nil, nil, nil, nil, e
	}
	for i := range gates {
		dir := parking.Entry
		if i >= gates/2 {
			dir = parking.Exit
		}
		key, hash := auth.NewGateKey()
		g := parking.Gate{ID: parking.NewID("gat"), LotID: lot.ID, Name: fmt.Sprintf("%s %d", dir, i), Direction: dir, KeyHash: hash, CreatedAt: now}
		if err = store.CreateGate(ctx, &g); err != nil {
			return
		}
		if dir == parking.Entry {
			entryKeys, entryIDs = append(entryKeys, key), append(entryIDs, g.ID)
		} else {
			exitKeys, exitIDs = append(exitKeys, key), append(exitIDs, g.ID)
		}
	}
	return entryKeys, exitKeys, entryIDs, exitIDs, codes, nil
}
