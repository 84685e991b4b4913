package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"parkd/internal/demo"
	"parkd/internal/live"
	"parkd/internal/store/teststore"
)

// TestLiveAcrossInstances: two parkd instances on one PostgreSQL (or
// MariaDB) database. A driver books through one; a map watching through the
// other sees the spot taken. Both then shut down cleanly with the stream
// still open.
func TestLiveAcrossInstances(t *testing.T) {
	for _, be := range teststore.Backends(t) {
		if be.Name == "sqlite" {
			continue // a database server's, shared by instances on several machines
		}
		t.Run(be.Name, func(t *testing.T) { testLiveAcrossInstances(t, be.DSN(t)) })
	}
}

func testLiveAcrossInstances(t *testing.T, dsn string) {
	a := startParkd(t, "--db", dsn)
	b := startParkd(t, "--db", dsn, "--live-poll", "10ms")

	var lots struct {
		Lots []struct{ ID, Name string }
	}
	getJSON(t, b+"/api/v1/lots", http.StatusOK, &lots)
	var garage string
	for _, l := range lots.Lots {
		if strings.Contains(l.Name, "Garage") {
			garage = l.ID
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(b, "http")+"/api/v1/lots/"+garage+"/live?from="+
		time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	var snap struct {
		Type  string
		Spots []json.RawMessage
	}
	if _, data, err := conn.Read(ctx); err != nil || json.Unmarshal(data, &snap) != nil || snap.Type != "snapshot" || len(snap.Spots) != 450 {
		t.Fatalf("first message = %.200s, %v; want a snapshot of 450 spots", data, err)
	}

	driver := &api{t: t, base: a}
	var sess struct{ Token string }
	driver.call(201, "POST", "/api/v1/sessions", map[string]string{"email": demo.DriverEmail, "password": demo.DriverPassword}, &sess)
	driver.token = sess.Token
	start := time.Now().Add(25 * time.Hour).UTC().Truncate(time.Hour)
	var res struct{ ID string }
	driver.call(201, "POST", "/api/v1/reservations", map[string]any{"lot_id": garage, "plate": "LIVE1", "size": "standard",
		"starts_at": start, "ends_at": start.Add(time.Hour)}, &res, "Idempotency-Key", "live-across")

	var claim struct{ Type, Key, Status string }
	_, data, err := conn.Read(ctx)
	if err != nil || json.Unmarshal(data, &claim) != nil {
		t.Fatalf("read the change: %v", err)
	}
	if claim.Type != "claim" || claim.Key != live.ClaimKey(res.ID) || claim.Status != "held" {
		t.Errorf("change on the other instance = %s; want the held claim of %s", data, res.ID)
	}
}
