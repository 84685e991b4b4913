// Package teststore opens fresh stores of every backend for tests: SQLite always,
// PostgreSQL when PARKD_TEST_POSTGRES_DSN is set, MariaDB/MySQL when
// PARKD_TEST_MYSQL_DSN is set. In CI (CI non-empty) a missing PostgreSQL or
// MariaDB is a failure, never a silent skip.
package teststore

import (
	"context"
	"path/filepath"
	"testing"

	"parkd/internal/parking"
	"parkd/internal/store/mysql"
	"parkd/internal/store/mysql/mysqltest"
	"parkd/internal/store/postgres"
	"parkd/internal/store/postgres/pgtest"
	"parkd/internal/store/sqlite"
)

// Backend names a storage backend and opens fresh stores of it.
type Backend struct {
	Name string
	Open func(t testing.TB) parking.Store
	// DSN returns a database address for a fresh, empty database (for tests that
	// start the whole program with --db).
	DSN func(t testing.TB) string
	// OpenDSN opens a store on a database DSN made; several stores on one
	// database stand for several parkd instances.
	OpenDSN func(t testing.TB, dsn string) parking.Store
}

// Backends returns every backend this test run can reach.
func Backends(t testing.TB) []Backend {
	bs := []Backend{{Name: "sqlite", Open: OpenSQLite, DSN: SQLiteDSN, OpenDSN: openSQLiteAt}}
	if pgtest.Available() {
		bs = append(bs, Backend{Name: "postgres", Open: OpenPostgres, DSN: pgtest.SchemaDSN, OpenDSN: openPostgresAt})
	}
	if mysqltest.Available() {
		bs = append(bs, Backend{Name: "mysql", Open: OpenMySQL, DSN: mysqltest.DatabaseDSN, OpenDSN: openMySQLAt})
	}
	return bs
}

// Each runs fn as a subtest once per backend.
func Each(t *testing.T, fn func(t *testing.T, b Backend)) {
	for _, b := range Backends(t) {
		t.Run(b.Name, func(t *testing.T) { fn(t, b) })
	}
}

// SQLiteDSN returns the path of a new database file in a temporary directory.
func SQLiteDSN(t testing.TB) string {
	return filepath.Join(t.TempDir(), "parkd.db")
}

// OpenSQLite opens a fresh SQLite store in a temporary directory.
func OpenSQLite(t testing.TB) parking.Store {
	t.Helper()
	return openSQLiteAt(t, SQLiteDSN(t))
}

func openSQLiteAt(t testing.TB, path string) parking.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// OpenPostgres opens a store on a fresh schema of the test database.
func OpenPostgres(t testing.TB) parking.Store {
	t.Helper()
	return openPostgresAt(t, pgtest.SchemaDSN(t))
}

func openPostgresAt(t testing.TB, dsn string) parking.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// OpenMySQL opens a store on a fresh database of the MariaDB/MySQL test server.
func OpenMySQL(t testing.TB) parking.Store {
	t.Helper()
	return openMySQLAt(t, mysqltest.DatabaseDSN(t))
}

func openMySQLAt(t testing.TB, dsn string) parking.Store {
	t.Helper()
	s, err := mysql.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("mysql.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
