package postgres

import (
	"context"
	"testing"

	"parkd/internal/store/postgres/pgtest"
)

// mustOpenSchema opens a store in a fresh schema of the test database, dropped
// when the test ends, so tests and parallel test processes never see each
// other's rows.
func mustOpenSchema(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), pgtest.SchemaDSN(t))
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPoolSize(t *testing.T) {
	dsn := pgtest.SchemaDSN(t)
	ctx := context.Background()
	s, err := Open(ctx, pgtest.WithParam(dsn, "pool_max_conns", "3"))
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer s.Close()
	if got := s.pool.Config().MaxConns; got != 3 {
		t.Errorf("MaxConns with pool_max_conns=3 = %d; want 3", got)
	}
	s2, err := Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer s2.Close()
	if got := s2.pool.Config().MaxConns; got < 8 {
		t.Errorf("default MaxConns = %d; want at least 8", got)
	}
}
