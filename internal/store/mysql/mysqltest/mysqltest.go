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
func DatabaseDSN(t testing.TB) string {
	t.Helper()
	dsn := DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse PARKD_TEST_MYSQL_DSN: %v", err)
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
		t.Fatalf("PARKD_TEST_MYSQL_DSN: %v", err)
	}
	db := sql.OpenDB(conn)
	var b [6]byte
	rand.Read(b[:])
	name := "parkd_t_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
		db.Close()
		t.Fatalf("create database: %v", err)
	}
	// Registered before the caller opens a store on it, so it runs after that
	// store's Close (cleanups run last first) and no connection holds locks.
	t.Cleanup(func() {
		defer db.Close()
		if _, err := db.ExecContext(ctx, "DROP DATABASE "+name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
