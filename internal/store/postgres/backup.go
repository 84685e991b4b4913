package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"parkd/internal/store/migrate"
)

// connect opens one connection for the command line, without migrating.
func connect(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgxpool.ParseConfig(dsn) // drops pgxpool's own pool_* parameters
	if err != nil {
		return nil, fmt.Errorf("postgres: parse dsn: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return conn, nil
}

// MigrationStatus reads which migrations the database has applied, and which
// this binary would apply, without applying any.
func MigrationStatus(ctx context.Context, dsn string) ([]migrate.Status, error) {
	ms, err := migrate.Read(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	conn, err := connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	applied, err := appliedMigrations(ctx, conn)
	if err != nil {
		return nil, err
	}
	return migrate.Compare(ms, applied), nil
}

func appliedMigrations(ctx context.Context, conn *pgx.Conn) (map[int]migrate.Applied, error) {
	applied := map[int]migrate.Applied{}
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return applied, err
	}
	rows, _ := conn.Query(ctx, `SELECT version, name, applied_at FROM schema_migrations`)
	var v int
	var a migrate.Applied
	_, err := pgx.ForEachRow(rows, []any{&v, &a.Name, &a.At}, func() error {
		a.At = a.At.UTC()
		applied[v] = a
		return nil
	})
	return applied, err
}

// toolConn turns a parkd DSN into what pg_dump and pg_restore take: a URL
// of libpq's own parameters (pgx's, such as pool_max_conns, mean nothing to
// libpq), the password in PGPASSWORD rather than on a command line that
// other users of the machine can read, and the schema parkd lives in when the
// DSN sets a search_path (the first one named).
func toolConn(dsn string) (conn string, env []string, schema string, err error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, "", fmt.Errorf("backups need the database as a postgres:// URL")
	}
	if pw, ok := u.User.Password(); ok {
		env = append(env, "PGPASSWORD="+pw)
		u.User = url.User(u.User.Username())
	}
	q := url.Values{}
	for k, vs := range u.Query() {
		switch {
		case k == "search_path":
			schema, _, _ = strings.Cut(vs[0], ",")
			schema = strings.TrimSpace(schema)
		case k == "password":
			env = append(env, "PGPASSWORD="+vs[0])
		case libpqKey(k):
			q[k] = vs
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), env, schema, nil
}

// libpqKey reports whether libpq knows a connection parameter.
func libpqKey(k string) bool {
	switch k {
	case "host", "hostaddr", "port", "dbname", "user", "passfile", "channel_binding", "connect_timeout",
		"client_encoding", "options", "application_name", "fallback_application_name", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout", "gssencmode",
		"sslmode", "sslcompression", "sslcert", "sslkey", "sslpassword", "sslrootcert", "sslcrl", "sslcrldir",
		"sslsni", "requirepeer", "ssl_min_protocol_version", "ssl_max_protocol_version", "krbsrvname",
		"gsslib", "service", "target_session_attrs", "load_balance_hosts":
		return true
	}
	return false
}

// tool runs pg_dump or pg_restore, found on PATH.
func tool(ctx context.Context, name string, env []string, args ...string) error {
	bin, err := exec.LookPath(name)
	if err != nil {
		return fmt.Errorf("%s is not installed: install PostgreSQL's client tools of the server's major version or newer (Debian: apt install postgresql-client)", name)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Backup writes the database to the new file dest with pg_dump, in its
// custom format (compressed; pg_restore reads it). pg_dump reads one
// consistent snapshot, so parkd keeps serving meanwhile. When the DSN names
// a search_path, only parkd's schema (its first entry) is dumped.
func Backup(ctx context.Context, dsn, dest string) error {
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("%s exists already: give a new file name", dest)
	}
	conn, env, schema, err := toolConn(dsn)
	if err != nil {
		return err
	}
	tmp := dest + ".partial"
	os.Remove(tmp)
	args := []string{"--format=custom", "--no-password", "--file=" + tmp, "--dbname=" + conn}
	if schema != "" {
		args = append(args, "--schema="+schema)
	}
	if err := tool(ctx, "pg_dump", env, args...); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(dest)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Restore loads the pg_dump archive src into the database with pg_restore,
// in one transaction: all of it or nothing. A database that holds parkd's
// tables already is replaced only with replace set, and never while another
// session (a running parkd) is connected to it. The next start applies any
// migrations the backup lacks.
func Restore(ctx context.Context, dsn, src string, replace bool) error {
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no backup at %s", src)
	}
	toolDSN, env, _, err := toolConn(dsn)
	if err != nil {
		return err
	}
	if err := tool(ctx, "pg_restore", env, "--list", src); err != nil {
		return fmt.Errorf("%s is not a pg_dump archive in the custom format: %w", src, err)
	}
	conn, err := connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return err
	}
	if exists {
		if !replace {
			return fmt.Errorf("the database holds parkd's tables already: stop parkd and add --force to replace them")
		}
		var others int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`).Scan(&others); err != nil {
			return err
		}
		if others > 0 {
			return fmt.Errorf("the database is in use (%d other sessions): stop every parkd that serves from it first", others)
		}
	}
	// A dump of one schema leaves out the extension parkd's tables need; a
	// dump of the whole database creates it "IF NOT EXISTS" again.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public`)
	conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, migrationLock)
	if err != nil {
		return fmt.Errorf("install btree_gist: %w", err)
	}
	args := []string{"--no-password", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--dbname=" + toolDSN}
	if exists {
		args = append(args, "--clean", "--if-exists")
	}
	return tool(ctx, "pg_restore", env, append(args, src)...)
}
