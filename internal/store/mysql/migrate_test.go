package mysql

import (
	"context"
	"database/sql"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"parkd/internal/store/migrate"
	"parkd/internal/store/mysql/mysqltest"
	"parkd/internal/store/storetest"
)

func TestStatements(t *testing.T) {
	got := statements(`-- a comment; with a semicolon;
CREATE TABLE a (
    id INT, -- inline
    b TEXT
);

-- another
CREATE TRIGGER t BEFORE UPDATE ON a
    FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'no';
INSERT INTO a VALUES (1, 'x;y');
`)
	want := []string{
		"CREATE TABLE a (\n    id INT, -- inline\n    b TEXT\n)",
		"CREATE TRIGGER t BEFORE UPDATE ON a\n    FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'no'",
		"INSERT INTO a VALUES (1, 'x;y')",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statements() = %q; want %q", got, want)
	}
}

// rawDB opens a plain connection pool on dsn, as the store's own pool is set up.
func rawDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	cfg, _, err := ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	t.Cleanup(func() { db.Close() })
	return db
}

// applied returns the versions schema_migrations records as done, and those
// begun but not done.
func applied(t *testing.T, db *sql.DB) (done, begun int) {
	t.Helper()
	err := db.QueryRow(`SELECT COALESCE(SUM(applied_at IS NOT NULL), 0), COALESCE(SUM(applied_at IS NULL), 0) FROM schema_migrations`).Scan(&done, &begun)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	return done, begun
}

func TestOpenTwice(t *testing.T) {
	dsn := mysqltest.DatabaseDSN(t)
	ms, err := migrate.Read(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		s := mustOpen(t, dsn)
		if done, begun := applied(t, s.db); done != len(ms) || begun != 0 {
			t.Errorf("after Open #%d: %d migrations done, %d begun; want %d done", i+1, done, begun, len(ms))
		}
		s.Close()
	}
}

// TestOpenConcurrently starts several stores on one empty database at once, as
// parkd instances starting together would; the GET_LOCK lock makes them take
// turns, and each migration is applied once.
func TestOpenConcurrently(t *testing.T) {
	dsn := mysqltest.DatabaseDSN(t)
	storetest.OpenConcurrently(t, 6, func() (io.Closer, error) { return Open(context.Background(), dsn) })
	ms, _ := migrate.Read(migrations, "migrations")
	if done, begun := applied(t, rawDB(t, dsn)); done != len(ms) || begun != 0 {
		t.Errorf("%d migrations done, %d begun; want %d done", done, begun, len(ms))
	}
}

// TestMigrationResumes stands for a process that died inside a migration,
// after a DDL statement had committed but before its progress was recorded:
// the next start applies the rest, taking the statement it finds already done
// as done.
func TestMigrationResumes(t *testing.T) {
	dsn := mysqltest.DatabaseDSN(t)
	ctx := context.Background()
	db := rawDB(t, dsn)
	ms, err := migrate.Read(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := inspect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	stmts := statements(strings.ReplaceAll(ms[0].SQL, "utf8mb4_bin", srv.binCollation))
	const done, ranUnrecorded = 3, 4 // statements 1-3 recorded; 4 ran too, unrecorded
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL,
		steps INT NOT NULL DEFAULT 0, applied_at DATETIME(6))`); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range stmts[:ranUnrecorded] {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, steps) VALUES (?, ?, ?)`,
		ms[0].Version, ms[0].Name, done); err != nil {
		t.Fatal(err)
	}

	s := mustOpen(t, dsn)
	if d, begun := applied(t, s.db); d != len(ms) || begun != 0 {
		t.Errorf("after resuming: %d migrations done, %d begun; want %d done", d, begun, len(ms))
	}
	var tables int
	if err := s.db.QueryRow(`SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN
		('operators', 'lots', 'spots', 'reservations', 'payments', 'events', 'notifications', 'operator_webhooks')`).Scan(&tables); err != nil || tables != 8 {
		t.Errorf("tables after resuming = %d, %v; want 8", tables, err)
	}
	// Only the statement that was running when the process died may be
	// found done; any other failure still stops the migration.
	dsn2 := mysqltest.DatabaseDSN(t)
	db2 := rawDB(t, dsn2)
	if _, err := db2.ExecContext(ctx, stmts[0]); err != nil { // operators, unrecorded
		t.Fatal(err)
	}
	if _, err := db2.ExecContext(ctx, `CREATE TABLE lots (id INT PRIMARY KEY)`); err != nil { // in the way of statement 2
		t.Fatal(err)
	}
	if _, err := db2.ExecContext(ctx, `CREATE TABLE schema_migrations (version INT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL,
		steps INT NOT NULL DEFAULT 0, applied_at DATETIME(6))`); err != nil {
		t.Fatal(err)
	}
	if _, err := db2.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, steps) VALUES (?, ?, 0)`, ms[0].Version, ms[0].Name); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(ctx, dsn2); err == nil {
		s.Close()
		t.Errorf("Open over a table in the way of a later statement = nil; want an error")
	}
}
