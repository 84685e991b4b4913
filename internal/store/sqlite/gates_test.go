package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/store/migrate"
	"parkd/internal/store/storetest"
)

// TestNoShowBackfill applies the migrations before 0005 by hand, stores lots
// the way the store did then (policy JSON only), and checks that 0005 gives
// each lot the no-show window its policy says.
func TestNoShowBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parkd.db")
	ctx := context.Background()
	ms, err := migrate.Read(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version >= 5 {
			break
		}
		if _, err := db.ExecContext(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, ?, 0)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO operators VALUES ('opr_1', 'Op', 0)`); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		policy string // the stored JSON
		want   time.Duration
	}{
		{`{"no_show_after": "15m0s"}`, 15 * time.Minute},
		{`{"no_show_after": "30m0s"}`, 30 * time.Minute},
		{`{"no_show_after": "1h30m0s"}`, 90 * time.Minute},
		{`{"no_show_after": "26h0m0s"}`, 26 * time.Hour},
		{`{"no_show_after": "1h0m45s"}`, time.Hour + 45*time.Second},
		{`{"no_show_after": "45s"}`, 45 * time.Second},
		{`{"no_show_after": "1m30.5s"}`, 90*time.Second + 500*time.Millisecond},
		{`{"no_show_after": "500ms"}`, 500 * time.Millisecond},
		{`{"no_show_after": "250µs"}`, 250 * time.Microsecond},
		{`{"hold_ttl": "5m0s"}`, 15 * time.Minute},       // missing: the policy's default
		{`{"no_show_after": "bogus"}`, 15 * time.Minute}, // unreadable: left at the default
	}
	for i, c := range cases {
		if _, err := db.ExecContext(ctx, `INSERT INTO lots (id, operator_id, name, address, lat, lng, time_zone, currency, policy, created_at)
			VALUES (?, 'opr_1', 'L', 'A', 0, 0, 'UTC', 'USD', ?, 0)`, fmt.Sprintf("lot_%d", i), c.policy); err != nil {
			t.Fatalf("insert lot %d: %v", i, err)
		}
	}
	db.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open() = %v; want 0005 applied", err)
	}
	defer s.Close()
	for i, c := range cases {
		var us int64
		if err := s.read.QueryRowContext(ctx, `SELECT no_show_after_us FROM lots WHERE id = ?`, fmt.Sprintf("lot_%d", i)).Scan(&us); err != nil {
			t.Fatal(err)
		}
		if want := c.want.Microseconds(); us != want {
			t.Errorf("policy %s: no_show_after_us = %d; want %d", c.policy, us, want)
		}
		// What the store writes from now on agrees with the backfill.
		var p parking.Policy
		if json.Unmarshal([]byte(c.policy), &p) == nil && p.NoShowAfter >= parking.Duration(time.Millisecond) && noShowAfter(p) != us {
			t.Errorf("policy %s: noShowAfter() = %d; backfill %d", c.policy, noShowAfter(p), us)
		}
	}
}

// TestInstances runs the races of several parkd instances sharing one
// database file: each Store is its own writer, and BEGIN IMMEDIATE orders them.
func TestInstances(t *testing.T) {
	storetest.RunInstances(t, func(t *testing.T, n int) []parking.Store {
		path := filepath.Join(t.TempDir(), "parkd.db")
		stores := make([]parking.Store, n)
		for i := range stores {
			s, err := Open(context.Background(), path)
			if err != nil {
				t.Fatalf("Open #%d: %v", i+1, err)
			}
			t.Cleanup(func() { s.Close() })
			stores[i] = s
		}
		return stores
	})
}
