package mysql

import (
	"context"
	"testing"
)

// mustOpen opens a store on dsn, closed when the test ends. mysqltest.DatabaseDSN
// gives a fresh database, dropped when the test ends, so tests and parallel
// test processes never see each other's rows.
func mustOpen(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
