package postgres

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"

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
	for i, c := range storetest.NoShowBackfills {
		if _, err := conn.Exec(ctx, `INSERT INTO lots (id, operator_id, name, address, lat, lng, time_zone, currency, policy, created_at)
			VALUES ($1, 'opr_1', 'L', 'A', 0, 0, 'UTC', 'USD', $2, now())`, fmt.Sprintf("lot_%d", i), c.Policy); err != nil {
			t.Fatalf("insert lot %d: %v", i, err)
		}
	}
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open() = %v; want 0005 applied", err)
	}
	defer s.Close()
	for i, c := range storetest.NoShowBackfills {
		var us int64
		if err := s.pool.QueryRow(ctx, `SELECT no_show_after_us FROM lots WHERE id = $1`, fmt.Sprintf("lot_%d", i)).Scan(&us); err != nil {
			t.Fatal(err)
		}
		storetest.CheckNoShowBackfill(t, c, us, noShowAfter)
	}
}

func TestOpenTwice(t *testing.T) {
	dsn := pgtest.SchemaDSN(t)
	ctx := context.Background()
	ms, err := migrate.Read(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatalf("Open() #%d = %v; want nil (migrations are idempotent)", i+1, err)
		}
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(ms) {
			t.Errorf("schema_migrations rows after Open #%d = %d, %v; want %d", i+1, n, err, len(ms))
		}
		s.Close()
	}
}

// TestOpenConcurrently starts several stores on one empty schema at once, as
// parkd instances starting together would; the advisory lock makes exactly one
// of them apply the migration.
func TestOpenConcurrently(t *testing.T) {
	dsn := pgtest.SchemaDSN(t)
	storetest.OpenConcurrently(t, 6, func() (io.Closer, error) { return Open(context.Background(), dsn) })
}
