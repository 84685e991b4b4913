// Package pgtest gives each test its own empty PostgreSQL schema in the database
// named by PARKD_TEST_POSTGRES_DSN, and fails a test that leaves a card number
// in it. It imports only pgx and the domain package, so the postgres package's
// own tests can use it too.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"parkd/internal/parking/parkingtest"
)

// migrationLock is package postgres's migration lock key: taking the same lock
// keeps the extension install here from racing a migration there.
const migrationLock int64 = 0x7061726b64

// DSN returns PARKD_TEST_POSTGRES_DSN. Without it the test is skipped, except in
// CI (CI non-empty), where a skipped database suite would pass without testing.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("PARKD_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PARKD_TEST_POSTGRES_DSN is not set; CI must run the PostgreSQL suites")
		}
		t.Skip("set PARKD_TEST_POSTGRES_DSN (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the PostgreSQL tests")
	}
	return dsn
}

// Available reports whether PostgreSQL tests should run; in CI it is always true
// (and DSN fails the test when the variable is missing).
func Available() bool {
	return os.Getenv("PARKD_TEST_POSTGRES_DSN") != "" || os.Getenv("CI") != ""
}

// SchemaDSN creates an empty schema, dropped when the test ends, and returns the
// test DSN with search_path set to it and then public. btree_gist is installed in
// public first: had a migration's CREATE EXTENSION run with a test schema first
// in the path, the extension would land there and vanish when it was dropped.
func SchemaDSN(t testing.TB) string {
	t.Helper()
	dsn := DSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to PARKD_TEST_POSTGRES_DSN: %v", err)
	}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public`)
		return err
	})
	if err != nil {
		conn.Close(ctx)
		t.Fatalf("install btree_gist: %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	// The hex follows a letter: twelve digits standing alone could pass for
	// a card number in the card scan's own report (TestCardNumberScan).
	schema := "t" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		conn.Close(ctx)
		t.Fatalf("create schema: %v", err)
	}
	// Registered before the caller opens a store on it, so it runs after that
	// store's Close (cleanups run last first) and no connection holds locks.
	t.Cleanup(func() {
		defer conn.Close(ctx)
		failOnCardNumbers(t, ctx, conn, schema, "schema "+schema)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return WithParam(dsn, "search_path", schema+",public")
}

// WithParam adds a run-time parameter to a URL or keyword/value DSN.
func WithParam(dsn, key, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			q := u.Query()
			q.Set(key, value)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " " + key + "='" + value + "'"
}

// DatabaseDSN creates an empty database, dropped when the test ends, and
// returns the test DSN pointed at it with search_path set to schema (when not
// empty) and then public: a second server, say, to restore a backup into.
func DatabaseDSN(t testing.TB, schema string) string {
	t.Helper()
	dsn := DSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to PARKD_TEST_POSTGRES_DSN: %v", err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		conn.Close(ctx)
		t.Fatalf("PARKD_TEST_POSTGRES_DSN must be a URL to make databases: %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "parkd_t" + hex.EncodeToString(b[:]) // after a letter, as SchemaDSN's
	u.Path = "/" + name
	out := u.String()
	if schema != "" {
		out = WithParam(out, "search_path", schema+",public")
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		conn.Close(ctx)
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		defer conn.Close(ctx)
		if found, err := CardNumbers(ctx, out); err != nil {
			t.Errorf("search database %s for card numbers: %v", name, err)
		} else {
			for _, f := range found {
				t.Errorf("PostgreSQL database %s holds a card number: %s", name, f)
			}
		}
		if _, err := conn.Exec(ctx, `DROP DATABASE `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return out
}

// failOnCardNumbers fails the test if a table of schema holds a card number.
func failOnCardNumbers(t testing.TB, ctx context.Context, conn *pgx.Conn, schema, where string) {
	t.Helper()
	found, err := cardNumbers(ctx, conn, schema)
	if err != nil {
		t.Errorf("search %s for card numbers: %v", where, err)
	}
	for _, f := range found {
		t.Errorf("PostgreSQL %s holds a card number: %s", where, f)
	}
}

// CardNumbers searches every text, JSON and binary column of every table in
// the first schema of a DSN's search path (public by default) for a card
// number (parking.FindCardNumber), and describes each it finds, its digits
// hidden.
func CardNumbers(ctx context.Context, dsn string) ([]string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	var schema string
	if err := conn.QueryRow(ctx, `SELECT coalesce(current_schema(), 'public')`).Scan(&schema); err != nil {
		return nil, err
	}
	return cardNumbers(ctx, conn, schema)
}

func cardNumbers(ctx context.Context, conn *pgx.Conn, schema string) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT c.table_name, c.column_name, c.data_type = 'bytea'
		FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
		WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE'
		  AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea', 'ARRAY', 'USER-DEFINED')
		ORDER BY c.table_name, c.ordinal_position`, schema)
	if err != nil {
		return nil, err
	}
	type column struct {
		name   string
		binary bool
	}
	columns := map[string][]column{}
	var tables []string
	for rows.Next() {
		var table string
		var c column
		if err := rows.Scan(&table, &c.name, &c.binary); err != nil {
			rows.Close()
			return nil, err
		}
		if columns[table] == nil {
			tables = append(tables, table)
		}
		columns[table] = append(columns[table], c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var found []string
	for _, table := range tables {
		cols := columns[table]
		exprs := make([]string, len(cols))
		for i, c := range cols {
			exprs[i] = pgx.Identifier{c.name}.Sanitize()
			if !c.binary {
				exprs[i] += "::text"
			}
		}
		rows, err := conn.Query(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM "+pgx.Identifier{schema, table}.Sanitize())
		if err != nil {
			return found, err
		}
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = c.name
		}
		more, err := parkingtest.CardNumbersIn(table, names, rows)
		rows.Close()
		found = append(found, more...)
		if err != nil {
			return found, err
		}
	}
	return found, nil
}
