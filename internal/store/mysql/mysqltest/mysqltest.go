// Package mysqltest gives each test its own empty MariaDB/MySQL database on the
// server named by PARKD_TEST_MYSQL_DSN, a mysql:// URL such as
// mysql://root@127.0.0.1:3306/test (the database it names must exist; the
// user needs the right to create and drop databases). It imports only the
// driver, so the mysql package's own tests can use it too.
package mysqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"parkd/internal/parking/parkingtest"
)

// DSN returns PARKD_TEST_MYSQL_DSN. Without it the test is skipped, except in
// CI (CI non-empty), where a skipped database suite would pass without testing.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("PARKD_TEST_MYSQL_DSN")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PARKD_TEST_MYSQL_DSN is not set; CI must run the MariaDB suites")
		}
		t.Skip("set PARKD_TEST_MYSQL_DSN (e.g. mysql://root@127.0.0.1:3306/test) to run the MariaDB/MySQL tests")
	}
	if !strings.HasPrefix(dsn, "mysql://") {
		t.Fatalf("PARKD_TEST_MYSQL_DSN = %q; want a mysql://user:password@host:port/db URL", dsn)
	}
	return dsn
}

// Available reports whether MariaDB/MySQL tests should run; in CI it is always
// true (and DSN fails the test when the variable is missing).
func Available() bool {
	return os.Getenv("PARKD_TEST_MYSQL_DSN") != "" || os.Getenv("CI") != ""
}

// DatabaseDSN creates an empty database, dropped when the test ends, and
// returns the test URL with that database in place of the one it named.
// Before the drop, every text and binary column of every table is searched
// for a card number, and the test fails if one is found: parkd must store none.
func DatabaseDSN(t testing.TB) string {
	t.Helper()
	dsn := DSN(t)
	db, err := connect(dsn)
	if err != nil {
		t.Fatalf("PARKD_TEST_MYSQL_DSN: %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "parkd_t" + hex.EncodeToString(b[:]) // after a letter: never a lone run of digits a card scan could report
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
		db.Close()
		t.Fatalf("create database: %v", err)
	}
	// Registered before the caller opens a store on it, so it runs after that
	// store's Close (cleanups run last first) and no connection holds locks.
	t.Cleanup(func() {
		defer db.Close()
		found, err := cardNumbers(ctx, db, name)
		if err != nil {
			t.Errorf("search database %s for card numbers: %v", name, err)
		}
		for _, f := range found {
			t.Errorf("MariaDB database %s holds a card number: %s", name, f)
		}
		if _, err := db.ExecContext(ctx, "DROP DATABASE "+name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, _ := url.Parse(dsn)
	u.Path = "/" + name
	return u.String()
}

// connect opens a pool on the server of a mysql:// URL, in the database it names.
func connect(dsn string) (*sql.DB, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, err
	}
	cfg := mysql.NewConfig()
	cfg.Net, cfg.User, cfg.DBName = "tcp", u.User.Username(), strings.TrimPrefix(u.Path, "/")
	cfg.Passwd, _ = u.User.Password()
	cfg.Addr = u.Host
	if u.Port() == "" {
		cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// CardNumbers searches every text and binary column of every table of the
// database a mysql:// URL names for a card number (parking.FindCardNumber),
// and describes each it finds, its digits hidden.
func CardNumbers(ctx context.Context, dsn string) ([]string, error) {
	db, err := connect(dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	u, _ := url.Parse(dsn)
	return cardNumbers(ctx, db, strings.TrimPrefix(u.Path, "/"))
}

func cardNumbers(ctx context.Context, db *sql.DB, database string) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND DATA_TYPE IN ('char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'json',
		'binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob', 'enum', 'set')
		ORDER BY TABLE_NAME, ORDINAL_POSITION`, database)
	if err != nil {
		return nil, err
	}
	columns := map[string][]string{}
	var tables []string
	for rows.Next() {
		var table, column string
		if err := rows.Scan(&table, &column); err != nil {
			rows.Close()
			return nil, err
		}
		if columns[table] == nil {
			tables = append(tables, table)
		}
		columns[table] = append(columns[table], column)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var found []string
	for _, table := range tables {
		cols := columns[table]
		quoted := make([]string, len(cols))
		for i, c := range cols {
			quoted[i] = "`" + c + "`"
		}
		rows, err := db.QueryContext(ctx, "SELECT "+strings.Join(quoted, ", ")+" FROM `"+database+"`.`"+table+"`")
		if err != nil {
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
