// Package mysql stores parkd's data in MariaDB (10.6 and later) or MySQL (8.0
// and later) through github.com/go-sql-driver/mysql.
//
// Neither has PostgreSQL's exclusion constraint, so "no double booking" is
// decided under a lock instead: every transaction that writes a claim on a spot
// (a hold, a lapsed hold confirmed after all, a move, an extension, a check-in,
// a drive-up) first locks the spot's row with SELECT ... FOR UPDATE, and only
// then releases what lapsed, looks for overlapping claims and writes, before it
// commits. Two claims on one spot therefore take turns, and the second one's
// check sees the first one's row. Every session runs at READ COMMITTED, so each
// statement reads what was committed before it (a check made after the lock
// sees every claim committed before the lock was granted) and InnoDB takes no
// gap locks, which under REPEATABLE READ deadlock inserts that do not even
// conflict. Deadlocks and lock wait timeouts that remain are retried, whole
// transaction by whole transaction (see retry in errors.go).
//
// Times are DATETIME(6) in UTC: the session's time zone is UTC and every time
// is written as text the store formats itself (see ts), so neither the server's
// zone nor the driver's handling of zero times plays a part.
//
// The methods are filed by aggregate: lots.go (operators, lots, levels,
// spots), accounts.go (users, vehicles, sessions), reservations.go, payments.go,
// gates.go (gates, the gate log, pass keys), events.go (the outbox and the
// notifications derived from it), idempotency.go and operations.go (job claims,
// retention, reports); beside them migrate.go, backup.go and errors.go (the one
// table from server error numbers to parking errors).
//
// Methods are filed by part of parking.Store, in files named alike in every
// backend: lots.go, accounts.go, reservations.go, payments.go, gates.go,
// events.go (events and notifications), idempotency.go and operations.go;
// beside them mysql.go (opening the store), migrate.go, errors.go (the one table
// from driver errors to domain errors) and backup.go.
package mysql

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"parkd/internal/parking"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a parking.Store on MariaDB or MySQL.
type Store struct {
	db     *sql.DB
	dbName string // for the names of GET_LOCK locks, which are server-wide
}

var _ parking.Store = (*Store)(nil)

// Open connects to the database at dsn, a mysql://user:password@host:port/db
// URL (or the driver's own user:password@tcp(host:port)/db form), checks that it
// answers and applies pending migrations. Query parameters go to the driver
// (tls, timeouts, ...), except pool_max_conns, the size of the connection pool
// (default max(16, 8 × GOMAXPROCS), as for PostgreSQL).
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, poolSize, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	probe, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	pdb := sql.OpenDB(probe)
	server, err := inspect(ctx, pdb)
	pdb.Close()
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	cfg.Params[server.isolationVar] = "'READ-COMMITTED'"
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(poolSize)
	db.SetMaxIdleConns(poolSize)
	// Below the servers' default wait_timeout (8 hours) and any proxy's idle
	// timeout, so the pool never hands out a connection the server dropped.
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, dbName: cfg.DBName}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql: ping: %w", err)
	}
	if err := migrateDB(ctx, db, cfg.DBName, server.binCollation, nil); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql: migrate: %w", err)
	}
	return s, nil
}

// ParseDSN turns a mysql:// URL (or a driver DSN) into the driver's
// configuration with the settings the store depends on, and returns the pool
// size asked for. It is exported for the tests, which create databases with it.
func ParseDSN(dsn string) (*mysql.Config, int, error) {
	var cfg *mysql.Config
	if strings.HasPrefix(dsn, "mysql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return nil, 0, fmt.Errorf("mysql: parse url: %w", err)
		}
		cfg = mysql.NewConfig()
		cfg.Net = "tcp"
		cfg.User = u.User.Username()
		cfg.Passwd, _ = u.User.Password()
		cfg.Addr = u.Host
		if u.Port() == "" {
			cfg.Addr = net.JoinHostPort(u.Hostname(), "3306")
		}
		cfg.DBName = strings.TrimPrefix(u.Path, "/")
		// The driver's own parser reads the parameters, so that every option
		// it knows (tls, timeout, ...) works in the URL too.
		q := u.Query()
		q.Del("pool_max_conns")
		if len(q) > 0 {
			opts, err := mysql.ParseDSN("/?" + q.Encode())
			if err != nil {
				return nil, 0, fmt.Errorf("mysql: url parameters: %w", err)
			}
			opts.User, opts.Passwd, opts.Net, opts.Addr, opts.DBName = cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName
			cfg = opts
		}
	} else {
		var err error
		if cfg, err = mysql.ParseDSN(dsn); err != nil {
			return nil, 0, fmt.Errorf("mysql: parse dsn: %w", err)
		}
	}
	if cfg.DBName == "" {
		return nil, 0, errors.New("mysql: the address names no database")
	}
	poolSize := max(16, 8*runtime.GOMAXPROCS(0))
	if u, err := url.Parse(dsn); err == nil && strings.HasPrefix(dsn, "mysql://") {
		if v := u.Query().Get("pool_max_conns"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, 0, fmt.Errorf("mysql: pool_max_conns %q is not a positive number", v)
			}
			poolSize = n
		}
	}
	// DATETIME values come back as time.Time in UTC, and the session's zone
	// is UTC for anything the server computes.
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// One round trip per statement instead of prepare, execute and close: the
	// driver quotes the arguments itself, which is safe with utf8mb4.
	cfg.InterpolateParams = true
	// An UPDATE reports the rows it matched, not only those it changed, so
	// "no row" always means "not found", even when the values were the same.
	cfg.ClientFoundRows = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	// A lock wait should end long before a request's patience does; retry
	// starts the transaction again when it does (error 1205).
	if _, set := cfg.Params["innodb_lock_wait_timeout"]; !set {
		cfg.Params["innodb_lock_wait_timeout"] = "10"
	}
	return cfg, poolSize, nil
}

// server is what Open learns about the server before it opens the pool.
type server struct {
	isolationVar string // transaction_isolation (MySQL, MariaDB 11.1+) or tx_isolation
	binCollation string // a binary utf8mb4 collation that does not ignore trailing spaces
}

// inspect finds the names the server uses for the session's isolation level
// and for a binary collation without PAD SPACE, which differ between MariaDB
// and MySQL.
func inspect(ctx context.Context, db *sql.DB) (server, error) {
	srv := server{isolationVar: "transaction_isolation"}
	var level string
	if err := db.QueryRowContext(ctx, `SELECT @@transaction_isolation`).Scan(&level); err != nil {
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != errUnknownSystemVariable {
			return srv, err
		}
		srv.isolationVar = "tx_isolation"
	}
	err := db.QueryRowContext(ctx, `SELECT COLLATION_NAME FROM information_schema.COLLATIONS
		WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin', 'utf8mb4_bin')
		ORDER BY FIELD(COLLATION_NAME, 'utf8mb4_nopad_bin', 'utf8mb4_0900_bin', 'utf8mb4_bin') LIMIT 1`).Scan(&srv.binCollation)
	return srv, err
}

// Close closes every connection in the pool.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// inTx runs fn in a transaction, committed if fn returns nil and rolled back
// otherwise, and runs it all again when the server aborted it to break a
// deadlock or a lock wait (see retry). fn must start from scratch each time:
// anything it sets outside the transaction it sets anew.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return retry(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	})
}

// exec runs one statement on its own (autocommit), again if the server
// aborted it to break a deadlock or gave up waiting for a lock.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := retry(ctx, func() error {
		var err error
		res, err = s.db.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// committed is an error that fn of inTx returns to have the transaction
// committed all the same: what it changed stands, and inTx's caller gets err.
type committed struct{ err error }

func (c committed) Error() string { return c.err.Error() }

// inTxKeep is inTx for work that commits even when it fails in the end: fn
// returns keep(err) to commit and still report err.
func (s *Store) inTxKeep(ctx context.Context, fn func(tx *sql.Tx) error) error {
	var outcome error
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		outcome = nil
		err := fn(tx)
		var c committed
		if errors.As(err, &c) {
			outcome = c.err
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return outcome
}

func keep(err error) error { return committed{err} }

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// timeLayout is how times are written: DATETIME(6) text, always in UTC.
const timeLayout = "2006-01-02 15:04:05.000000"

// ts writes t for a DATETIME(6) column or a comparison with one: UTC, cut to
// the microsecond the column keeps (never rounded up, so a value the caller
// keeps equals the one read back). The zero time is written as what it is,
// 0001-01-01, which the driver would otherwise send as 0000-00-00.
func ts(t time.Time) string { return t.UTC().Format(timeLayout) }

// tsPtr writes an optional time; nil is NULL.
func tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

// utc returns t as the store keeps it: UTC, to the microsecond.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := utc(*t)
	return &u
}

// fromNull reads an optional time.
func fromNull(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// nullable stores an absent optional reference as NULL, which foreign keys skip.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// placeholders returns "?, ?, ..." for n values; "NULL" for none, so that
// "x IN (NULL)" matches nothing.
func placeholders(n int) string {
	if n == 0 {
		return "NULL"
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// strArgs turns strings into query arguments.
func strArgs[S ~string](vs []S) []any {
	args := make([]any, len(vs))
	for i, v := range vs {
		args[i] = string(v)
	}
	return args
}

// insertEvent writes an outbox event inside tx.
func insertEvent(ctx context.Context, tx querier, e parking.Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO events (lot_id, type, spot_id, reservation_id, at) VALUES (?, ?, ?, ?, ?)`,
		e.LotID, e.Type, e.SpotID, e.ReservationID, ts(e.At))
	return err
}

// lockName is the name of a GET_LOCK lock for one database: such locks are
// server-wide, and their names at most 64 characters.
func lockName(purpose, dbName string) string {
	name := "parkd." + purpose + "." + dbName
	if len(name) <= 64 {
		return name
	}
	sum := sha256.Sum256([]byte(dbName))
	return "parkd." + purpose + "." + hex.EncodeToString(sum[:16])
}
