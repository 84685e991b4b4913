package postgres

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

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

// TestRequireSyncStandby: with parkd_require_sync_standby=true parkd refuses
// a server that commits without a synchronous standby (the test server has
// no replication), as unavailable (503), never as an internal error; false
// or absent, it connects; any other value is a mistake in the address.
func TestRequireSyncStandby(t *testing.T) {
	dsn := pgtest.SchemaDSN(t)
	ctx := context.Background()
	_, err := Open(ctx, pgtest.WithParam(dsn, RequireSyncStandbyParam, "true"))
	if !errors.Is(err, ErrNoSyncStandby) || !Unavailable(err) {
		t.Fatalf("Open(%s=true) on a server without standbys = %v; want ErrNoSyncStandby, unavailable", RequireSyncStandbyParam, err)
	}
	s, err := Open(ctx, pgtest.WithParam(dsn, RequireSyncStandbyParam, "false"))
	if err != nil {
		t.Fatalf("Open(%s=false) = %v", RequireSyncStandbyParam, err)
	}
	s.Close()
	if _, err := Open(ctx, pgtest.WithParam(dsn, RequireSyncStandbyParam, "strict")); err == nil || Unavailable(err) {
		t.Errorf("Open(%s=strict) = %v; want an error about the address", RequireSyncStandbyParam, err)
	}
}

// TestHoldLimit: a use of a connection past the hold limit (here a
// statement; on a cluster, a commit waiting for a standby that is gone) is
// cut from parkd's side with a network timeout, which the HTTP layer answers
// 503, and the pool serves the next call on a fresh connection.
func TestHoldLimit(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, pgtest.SchemaDSN(t), HoldLimit(300*time.Millisecond))
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer s.Close()
	t0 := time.Now()
	_, err = s.pool.Exec(ctx, `SELECT pg_sleep(5)`)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("a 5 s statement with a 300 ms hold limit = %v; want a network timeout", err)
	}
	if took := time.Since(t0); took > 3*time.Second {
		t.Errorf("the statement was cut after %v; want about 300 ms", took)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping() after the cut = %v; want the pool to serve again", err)
	}
	// Idle connections lose the deadline: one idle past the limit still works.
	time.Sleep(400 * time.Millisecond)
	if _, err := s.pool.Exec(ctx, `SELECT 1`); err != nil {
		t.Errorf("a statement on a connection idle past the limit = %v; want nil", err)
	}
}
