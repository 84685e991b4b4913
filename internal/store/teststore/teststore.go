// Package teststore opens fresh stores of every backend for tests: SQLite always,
// PostgreSQL when PARKD_TEST_POSTGRES_DSN is set, MariaDB/MySQL when
// PARKD_TEST_MYSQL_DSN is set. In CI (CI non-empty) a missing PostgreSQL or
// MariaDB is a failure, never a silent skip.
//
// It gives a test a store to work on (OpenSQLite, Each, Backends) and reads
// what a backend wrote (OpenContents, CardNumbers); it checks nothing itself.
// Not to be confused with internal/store/storetest, the conformance suite
// that says what every store must do, with the fixtures (MustFixture,
// MustUser, T0) tests put in the stores opened here.
package teststore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
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
// When the test ends, every text and binary value of every table in it is
// searched for a card number, and the test fails if one is found.
func SQLiteDSN(t testing.TB) string {
	path := filepath.Join(t.TempDir(), "parkd.db")
	// Registered before the caller opens a store on it, so it runs after that
	// store's Close, and before the directory is removed.
	t.Cleanup(func() {
		if _, err := os.Stat(path); err != nil {
			return // never opened
		}
		found, err := sqliteCardNumbers(context.Background(), path)
		if err != nil {
			t.Errorf("search %s for card numbers: %v", path, err)
		}
		for _, f := range found {
			t.Errorf("SQLite database holds a card number: %s", f)
		}
	})
	return path
}

// CardNumbers searches every text and binary column of every table of the
// database at dsn (made by b.DSN) for a card number, as each test's cleanup
// does, and describes each it finds, its digits hidden.
func CardNumbers(ctx context.Context, b Backend, dsn string) ([]string, error) {
	switch b.Name {
	case "sqlite":
		return sqliteCardNumbers(ctx, dsn)
	case "postgres":
		return pgtest.CardNumbers(ctx, dsn)
	case "mysql":
		return mysqltest.CardNumbers(ctx, dsn)
	}
	return nil, fmt.Errorf("no backend %q", b.Name)
}

func sqliteCardNumbers(ctx context.Context, path string) ([]string, error) {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	// One connection, waiting for a writer that is still finishing (a
	// program's last checkpoint) rather than failing at once.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `PRAGMA busy_timeout = 10000`); err != nil {
		return nil, err
	}
	// The planner's statistics (sqlite_stat1 and sqlite_stat4, after an
	// ANALYZE) are skipped: counts written as runs of digits, and samples of
	// index keys that the tables scanned here hold already.
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_stat%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, err
		}
		tables = append(tables, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var found []string
	for _, table := range tables {
		rows, err := db.QueryContext(ctx, `SELECT * FROM "`+strings.ReplaceAll(table, `"`, `""`)+`"`)
		if err != nil {
			return found, err
		}
		cols, err := rows.Columns()
		if err != nil {
			rows.Close()
			return found, err
		}
		more, err := parkingtest.CardNumbersIn(table, cols, rows)
		rows.Close()
		found = append(found, more...)
		if err != nil {
			return found, err
		}
	}
	return found, nil
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
