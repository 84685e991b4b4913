package mysql

import (
	"context"
	"testing"

	"parkd/internal/parking"
	"parkd/internal/store/mysql/mysqltest"
	"parkd/internal/store/storetest"
)

func TestConformance(t *testing.T) { storetest.Run(t, openTest) }

func TestConcurrency(t *testing.T) { storetest.RunConcurrency(t, openTest) }

// TestInstances runs the races of the periodic jobs and of start-up with
// several stores, each with its own pool, on one database.
func TestInstances(t *testing.T) {
	storetest.RunInstances(t, func(t *testing.T, n int) []parking.Store {
		dsn := mysqltest.DatabaseDSN(t)
		stores := make([]parking.Store, n)
		for i := range stores {
			stores[i] = mustOpen(t, dsn)
		}
		return stores
	})
}

// openTest opens a store on a fresh database, dropped when the test ends, so
// tests and parallel test processes never see each other's rows.
func openTest(t *testing.T) parking.Store {
	t.Helper()
	return mustOpen(t, mysqltest.DatabaseDSN(t))
}

func mustOpen(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
