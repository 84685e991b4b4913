package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

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
	for i, c := range storetest.NoShowBackfills {
		if _, err := db.ExecContext(ctx, `INSERT INTO lots (id, operator_id, name, address, lat, lng, time_zone, currency, policy, created_at)
			VALUES (?, 'opr_1', 'L', 'A', 0, 0, 'UTC', 'USD', ?, 0)`, fmt.Sprintf("lot_%d", i), c.Policy); err != nil {
			t.Fatalf("insert lot %d: %v", i, err)
		}
	}
	db.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open() = %v; want 0005 applied", err)
	}
	defer s.Close()
	for i, c := range storetest.NoShowBackfills {
		var us int64
		if err := s.read.QueryRowContext(ctx, `SELECT no_show_after_us FROM lots WHERE id = ?`, fmt.Sprintf("lot_%d", i)).Scan(&us); err != nil {
			t.Fatal(err)
		}
		storetest.CheckNoShowBackfill(t, c, us, noShowAfter)
	}
}

func TestMigrationsTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "parkd.db")
	for range 2 {
		s, err := Open(context.Background(), path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		s.Close()
	}
}
