package teststore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	parkdmysql "parkd/internal/store/mysql"
)

// Bookkeeping lists the tables a refused request may legitimately change, so
// Digest leaves them out:
//   - idempotency_keys: a refused request that carries an Idempotency-Key has
//     its 4xx answer stored, so that a retry replays it;
//   - (the sign-in and typed-code limits count refused attempts, which is
//     their job, but in each instance's memory: no table);
//   - job_runs, notify_cursor: background jobs' own claims and cursors, which
//     move whether or not anyone sends a request.
//
// Everything else (users, sessions, vehicles, reservations, payments, gate
// events, the outbox, notifications, settings, lots, ...) must be exactly as it
// was after a request parkd answered 4xx.
var Bookkeeping = []string{"idempotency_keys", "job_runs", "notify_cursor"}

// Digest is what a database holds: for each table (but Bookkeeping's), its
// row count and a hash of its rows.
type Digest map[string]TableDigest

// TableDigest is one table's row count and the SHA-256 of its rows, each
// row's values hashed and the row hashes sorted, so the sum depends on the
// rows alone and not on the order a scan returns them in.
type TableDigest struct {
	Rows int
	Sum  string
}

// Diff names the tables whose rows differ between d and other.
func (d Digest) Diff(other Digest) []string {
	var out []string
	for name, td := range d {
		if o, ok := other[name]; !ok || o != td {
			out = append(out, fmt.Sprintf("%s (%d rows, then %d)", name, td.Rows, other[name].Rows))
		}
	}
	for name, o := range other {
		if _, ok := d[name]; !ok {
			out = append(out, fmt.Sprintf("%s (new, %d rows)", name, o.Rows))
		}
	}
	slices.Sort(out)
	return out
}

// Contents reads every table of one test database, to tell whether a request
// changed anything.
type Contents struct {
	db      *sql.DB
	backend string
	tables  string // the query listing the database's tables
	// digest is PostgreSQL's or MariaDB's one query that hashes every table
	// in the server, made at the first Digest; SQLite, in process, reads rows.
	digest string
}

// OpenContents opens a read connection to the database at dsn (one that
// b.DSN made), closed when t ends.
func OpenContents(t testing.TB, b Backend, dsn string) *Contents {
	t.Helper()
	var (
		db     *sql.DB
		tables string
		err    error
	)
	switch b.Name {
	case "sqlite":
		db, err = sql.Open("sqlite", "file:"+dsn+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
		tables = `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	case "postgres":
		db, err = sql.Open("pgx", dsn)
		tables = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	case "mysql":
		var cfg *mysql.Config
		if cfg, _, err = parkdmysql.ParseDSN(dsn); err == nil {
			if cfg.Params == nil {
				cfg.Params = map[string]string{}
			}
			cfg.Params["group_concat_max_len"] = "1073741824" // each row adds 32 bytes to a table's hash input
			conn, cerr := mysql.NewConnector(cfg)
			if err = cerr; err == nil {
				db = sql.OpenDB(conn)
			}
		}
		tables = `SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'`
	default:
		t.Fatalf("OpenContents: unknown backend %q", b.Name)
	}
	if err != nil {
		t.Fatalf("OpenContents(%s): %v", b.Name, err)
	}
	db.SetMaxOpenConns(2)
	t.Cleanup(func() { db.Close() })
	return &Contents{db: db, backend: b.Name, tables: tables}
}

// Digest reads every table but Bookkeeping's.
func (c *Contents) Digest(ctx context.Context) (Digest, error) {
	if c.backend == "sqlite" {
		return c.readRows(ctx)
	}
	if c.digest == "" {
		q, err := c.digestQuery(ctx)
		if err != nil {
			return nil, err
		}
		c.digest = q
	}
	rows, err := c.db.QueryContext(ctx, c.digest)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	d := Digest{}
	for rows.Next() {
		var name string
		var td TableDigest
		if err := rows.Scan(&name, &td.Rows, &td.Sum); err != nil {
			return nil, err
		}
		d[name] = td
	}
	return d, rows.Err()
}

// digestQuery makes one query that answers, for each table, its name, its
// row count and a hash of its rows' hashes in order.
func (c *Contents) digestQuery(ctx context.Context) (string, error) {
	names, err := c.tableNames(ctx)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, name := range names {
		switch c.backend {
		case "postgres":
			parts = append(parts, fmt.Sprintf(`SELECT '%s', count(*)::int, coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') FROM %s t`, strings.ToLower(name), name))
		case "mysql":
			rows, err := c.db.QueryContext(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position`, name)
			if err != nil {
				return "", err
			}
			var cols []string
			for rows.Next() {
				var col string
				if err := rows.Scan(&col); err != nil {
					rows.Close()
					return "", err
				}
				cols = append(cols, "IFNULL(HEX(`"+col+"`), '-')")
			}
			if err := rows.Close(); err != nil {
				return "", err
			}
			parts = append(parts, fmt.Sprintf("SELECT '%s', COUNT(*), IFNULL(MD5(GROUP_CONCAT(h ORDER BY h SEPARATOR '')), '') FROM (SELECT MD5(CONCAT_WS('|', %s)) AS h FROM `%s`) t",
				strings.ToLower(name), strings.Join(cols, ", "), name))
		}
	}
	return strings.Join(parts, " UNION ALL "), nil
}

// tableNames lists the database's tables but Bookkeeping's.
func (c *Contents) tableNames(ctx context.Context) ([]string, error) {
	rows, err := c.db.QueryContext(ctx, c.tables)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, err
		}
		if !slices.Contains(Bookkeeping, strings.ToLower(name)) {
			names = append(names, name)
		}
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	return names, nil
}

// readRows digests every table by reading its rows.
func (c *Contents) readRows(ctx context.Context) (Digest, error) {
	names, err := c.tableNames(ctx)
	if err != nil {
		return nil, err
	}
	d := Digest{}
	for _, name := range names {
		td, err := c.table(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		d[strings.ToLower(name)] = td
	}
	return d, nil
}

func (c *Contents) table(ctx context.Context, name string) (TableDigest, error) {
	// Table names come from the database's own catalogue, never from input.
	rows, err := c.db.QueryContext(ctx, "SELECT * FROM "+name)
	if err != nil {
		return TableDigest{}, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return TableDigest{}, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var sums []string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return TableDigest{}, err
		}
		h := sha256.New()
		for _, v := range vals {
			fmt.Fprintf(h, "%T:%v\x00", v, v)
		}
		sums = append(sums, hex.EncodeToString(h.Sum(nil)))
	}
	if err := rows.Err(); err != nil {
		return TableDigest{}, err
	}
	slices.Sort(sums)
	h := sha256.Sum256([]byte(strings.Join(sums, "")))
	return TableDigest{Rows: len(sums), Sum: hex.EncodeToString(h[:])}, nil
}
