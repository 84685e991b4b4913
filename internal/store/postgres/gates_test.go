package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"parkd/internal/parking"
	"parkd/internal/store/migrate"
	"parkd/internal/store/postgres/pgtest"
	"parkd/internal/store/storetest"
)

// TestNoShowBackfill applies the migrations before 0005 by hand, stores lots
// the way the stores did then (policy JSON only), and checks that 0005 gives
// each lot the no-show window its policy says.
func TestNoShowBackfill(t *testing.T) {
	dsn := pgtest.SchemaDSN(t)
	ctx := context.Background()
	ms, err := migrate.Read(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Version >= 5 {
			break
		}
		if _, err := conn.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, $2, now())`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `INSERT INTO operators VALUES ('opr_1', 'Op', now())`); err != nil {
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
		{`{"no_show_after": "45s"}`, 45 * time.Second},
		{`{"no_show_after": "1m30.5s"}`, 90*time.Second + 500*time.Millisecond},
		{`{"no_show_after": "500ms"}`, 500 * time.Millisecond},
		{`{"no_show_after": "250µs"}`, 250 * time.Microsecond},
		{`{"hold_ttl": "5m0s"}`, 15 * time.Minute},       // missing: the policy's default
		{`{"no_show_after": "100ns"}`, 15 * time.Minute}, // below a microsecond: left at the default
		{`{"no_show_after": "bogus"}`, 15 * time.Minute}, // unreadable: left at the default
	}
	for i, c := range cases {
		if _, err := conn.Exec(ctx, `INSERT INTO lots (id, operator_id, name, address, lat, lng, time_zone, currency, policy, created_at)
			VALUES ($1, 'opr_1', 'L', 'A', 0, 0, 'UTC', 'USD', $2, now())`, fmt.Sprintf("lot_%d", i), c.policy); err != nil {
			t.Fatalf("insert lot %d: %v", i, err)
		}
	}
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open() = %v; want 0005 applied", err)
	}
	defer s.Close()
	for i, c := range cases {
		var us int64
		if err := s.pool.QueryRow(ctx, `SELECT no_show_after_us FROM lots WHERE id = $1`, fmt.Sprintf("lot_%d", i)).Scan(&us); err != nil {
			t.Fatal(err)
		}
		if want := c.want.Microseconds(); us != want {
			t.Errorf("policy %s: no_show_after_us = %d; want %d", c.policy, us, want)
		}
		// What the stores write from now on agrees with the backfill.
		var p parking.Policy
		if json.Unmarshal([]byte(c.policy), &p) == nil && p.NoShowAfter >= parking.Duration(time.Millisecond) && noShowAfter(p) != us {
			t.Errorf("policy %s: noShowAfter() = %d; backfill %d", c.policy, noShowAfter(p), us)
		}
	}
}

// TestInstances runs the races of several parkd instances sharing one
// database, each with its own pool.
func TestInstances(t *testing.T) {
	storetest.RunInstances(t, func(t *testing.T, n int) []parking.Store {
		dsn := pgtest.SchemaDSN(t)
		stores := make([]parking.Store, n)
		for i := range stores {
			s, err := Open(context.Background(), dsn)
			if err != nil {
				t.Fatalf("Open #%d: %v", i+1, err)
			}
			t.Cleanup(func() { s.Close() })
			stores[i] = s
		}
		return stores
	})
}
