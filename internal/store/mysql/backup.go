package mysql

import (
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"parkd/internal/store/migrate"
)

// This file holds what the command line does with a MariaDB/MySQL database
// beside serving from it: the migrations' status, backups and restores.

// connect opens a pool of one connection on dsn for the command line, without
// migrating; tune adjusts the driver's settings first.
func connect(ctx context.Context, dsn string, tune func(*mysql.Config)) (*sql.DB, *mysql.Config, error) {
	cfg, _, err := ParseDSN(dsn)
	if err != nil {
		return nil, nil, err
	}
	if tune != nil {
		tune(cfg)
	}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("mysql: %w", err)
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("mysql: %w", err)
	}
	return db, cfg, nil
}

// MigrationStatus reads which migrations the database has applied, and which
// this binary would apply, without applying any. A migration begun but not
// finished (see migrateDB) is pending.
func MigrationStatus(ctx context.Context, dsn string) ([]migrate.Status, error) {
	ms, err := migrate.Read(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	db, _, err := connect(ctx, dsn, nil)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	applied, err := appliedMigrations(ctx, db)
	if err != nil {
		return nil, err
	}
	return migrate.Compare(ms, applied), nil
}

func appliedMigrations(ctx context.Context, q querier) (map[int]migrate.Applied, error) {
	applied := map[int]migrate.Applied{}
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'schema_migrations'`).Scan(&n); err != nil || n == 0 {
		return applied, err
	}
	// The time comes as text, whether or not the connection parses times.
	rows, err := q.QueryContext(ctx, `SELECT version, name, DATE_FORMAT(applied_at, '%Y-%m-%d %H:%i:%s.%f') FROM schema_migrations
		WHERE applied_at IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		var a migrate.Applied
		var at string
		if err := rows.Scan(&v, &a.Name, &at); err != nil {
			return nil, err
		}
		if a.At, err = time.Parse(timeLayout, at); err != nil {
			return nil, fmt.Errorf("schema_migrations %d: %w", v, err)
		}
		applied[v] = a
	}
	return applied, rows.Err()
}

// backupFormat names the format of Backup's files, their first record.
const backupFormat = "parkd MariaDB/MySQL backup 1"

// backupRecord is one record of a backup: a gzip-compressed gob stream of a
// header (Format, the Migrations applied), then for each table a record
// naming it and its columns followed by one record per row, then one with
// End set, without which the backup is incomplete.
type backupRecord struct {
	Format     string
	Migrations map[int]migrate.Applied

	Table   string
	Columns []string

	Row  [][]byte // each value as the server writes it; DATETIME as text
	Null []bool

	End bool
}

// Backup writes every row of the database's tables to the new file dest,
// read in one consistent snapshot (a REPEATABLE READ transaction started WITH
// CONSISTENT SNAPSHOT, which InnoDB serves without locking anything), so
// parkd keeps serving meanwhile. Generated columns are left out: they are
// computed again on restore. The file is written under a temporary name and
// renamed into place when complete, so dest never holds half a backup.
func Backup(ctx context.Context, dsn, dest string) error {
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("%s exists already: give a new file name", dest)
	}
	// Rows come in the binary protocol (prepared statements), without time
	// parsing: numbers exactly, DATETIME as the server's text.
	db, _, err := connect(ctx, dsn, func(c *mysql.Config) { c.InterpolateParams, c.ParseTime = false, false })
	if err != nil {
		return err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, q := range []string{`SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ`,
		`START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY`} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
	applied, err := appliedMigrations(ctx, conn)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		return errors.New("the database holds no parkd data: it has no applied migrations")
	}
	tables, err := tableColumns(ctx, conn)
	if err != nil {
		return err
	}

	tmp := dest + ".partial"
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) // it holds password and key hashes
	if err != nil {
		return err
	}
	err = writeBackup(ctx, conn, f, applied, tables)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dest)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(dest)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// table is a table and the columns a backup keeps of it.
type table struct {
	name    string
	columns []string
}

// tableColumns lists the database's tables but schema_migrations (the restore
// makes it by migrating), each with its columns that are not generated.
func tableColumns(ctx context.Context, q querier) ([]table, error) {
	rows, err := q.QueryContext(ctx, `SELECT c.TABLE_NAME, c.COLUMN_NAME FROM information_schema.COLUMNS c
		JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
		WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' AND c.TABLE_NAME <> 'schema_migrations'
			AND c.EXTRA NOT LIKE '%GENERATED%'
		ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tables []table
	for rows.Next() {
		var name, column string
		if err := rows.Scan(&name, &column); err != nil {
			return nil, err
		}
		if len(tables) == 0 || tables[len(tables)-1].name != name {
			tables = append(tables, table{name: name})
		}
		tables[len(tables)-1].columns = append(tables[len(tables)-1].columns, column)
	}
	return tables, rows.Err()
}

func quoteNames(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "`" + strings.ReplaceAll(n, "`", "``") + "`"
	}
	return strings.Join(q, ", ")
}

func writeBackup(ctx context.Context, conn *sql.Conn, w io.Writer, applied map[int]migrate.Applied, tables []table) error {
	zw := gzip.NewWriter(w)
	enc := gob.NewEncoder(zw)
	if err := enc.Encode(backupRecord{Format: backupFormat, Migrations: applied}); err != nil {
		return err
	}
	for _, t := range tables {
		if err := enc.Encode(backupRecord{Table: t.name, Columns: t.columns}); err != nil {
			return err
		}
		stmt, err := conn.PrepareContext(ctx, `SELECT `+quoteNames(t.columns)+` FROM `+quoteNames([]string{t.name}))
		if err != nil {
			return fmt.Errorf("backup %s: %w", t.name, err)
		}
		err = func() error {
			defer stmt.Close()
			rows, err := stmt.QueryContext(ctx)
			if err != nil {
				return err
			}
			defer rows.Close()
			vals := make([][]byte, len(t.columns))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					return err
				}
				rec := backupRecord{Row: vals, Null: make([]bool, len(vals))}
				for i, v := range vals {
					rec.Null[i] = v == nil
				}
				if err := enc.Encode(rec); err != nil {
					return err
				}
			}
			return rows.Err()
		}()
		if err != nil {
			return fmt.Errorf("backup %s: %w", t.name, err)
		}
	}
	if err := enc.Encode(backupRecord{End: true}); err != nil {
		return err
	}
	return zw.Close()
}

// readBackup reads the backup src, calling header with its migrations and
// then table and row for each table and row, and fails on a file that is not
// a whole backup.
func readBackup(src string, header func(map[int]migrate.Applied) error, table func(name string, columns []string) error, row func(vals []any) error) error {
	f, err := os.Open(src)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no backup at %s", src)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s is not a parkd MariaDB/MySQL backup: %w", src, err)
	}
	dec := gob.NewDecoder(zr)
	var rec backupRecord
	if err := dec.Decode(&rec); err != nil || rec.Format != backupFormat {
		return fmt.Errorf("%s is not a parkd MariaDB/MySQL backup", src)
	}
	if err := header(rec.Migrations); err != nil {
		return err
	}
	for {
		rec = backupRecord{}
		if err := dec.Decode(&rec); err != nil {
			return fmt.Errorf("%s is incomplete or damaged: %w", src, err)
		}
		switch {
		case rec.End:
			return nil
		case rec.Table != "":
			if err := table(rec.Table, rec.Columns); err != nil {
				return err
			}
		default:
			vals := make([]any, len(rec.Row))
			for i, v := range rec.Row {
				if i < len(rec.Null) && rec.Null[i] {
					continue
				}
				if v == nil {
					v = []byte{}
				}
				vals[i] = v
			}
			if err := row(vals); err != nil {
				return err
			}
		}
	}
}

// Restore loads the backup src (made by Backup) into the database dsn names.
// It reads the whole file first, so a damaged backup changes nothing. A
// database that holds parkd's tables already is replaced only with replace
// set, and never while another session (a running parkd) is connected to it:
// its tables are dropped. The tables are then made by applying the migrations
// the backup's database had (the next start applies the rest), and every row
// is loaded in one transaction: all of them or none. The tables themselves are
// not made in that transaction (DDL commits on its own): should the load fail,
// the database is left with empty tables, which a restore with replace set
// replaces.
func Restore(ctx context.Context, dsn, src string, replace bool) error {
	ms, err := migrate.Read(migrations, "migrations")
	if err != nil {
		return err
	}
	var versions map[int]migrate.Applied
	err = readBackup(src, func(applied map[int]migrate.Applied) error {
		versions = applied
		for _, s := range migrate.Compare(ms, applied) {
			if s.Unknown {
				return fmt.Errorf("%s was made by a newer parkd (migration %d %s): restore it with that version", src, s.Version, s.Name)
			}
		}
		return nil
	}, func(string, []string) error { return nil }, func([]any) error { return nil })
	if err != nil {
		return err
	}

	db, cfg, err := connect(ctx, dsn, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	var tables, parkd int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(TABLE_NAME = 'schema_migrations'), 0) FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'`).Scan(&tables, &parkd); err != nil {
		return err
	}
	switch {
	case tables > 0 && parkd == 0:
		return fmt.Errorf("the database holds tables that are not parkd's: restore into a new, empty database")
	case parkd > 0:
		if !replace {
			return fmt.Errorf("the database holds parkd's tables already: stop parkd and add --force to replace them")
		}
		if err := checkUnused(ctx, db); err != nil {
			return err
		}
		if err := dropTables(ctx, db); err != nil {
			return err
		}
	}
	srv, err := inspect(ctx, db)
	if err != nil {
		return err
	}
	if err := migrateDB(ctx, db, cfg.DBName, srv.binCollation, func(v int) bool { _, ok := versions[v]; return ok }); err != nil {
		return fmt.Errorf("make the tables: %w", err)
	}
	return loadRows(ctx, db, src)
}

// checkUnused fails when another session is connected to the database. A
// parkd that just stopped may still show for a moment: it is given a few
// seconds to go.
func checkUnused(ctx context.Context, db *sql.DB) error {
	var others int
	for range 20 {
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.PROCESSLIST
			WHERE DB = DATABASE() AND ID <> CONNECTION_ID()`).Scan(&others); err != nil {
			return err
		}
		if others == 0 {
			return nil
		}
		time.Sleep(150 * time.Millisecond)
	}
	return fmt.Errorf("the database is in use (%d other sessions): stop every parkd that serves from it first", others)
}

// dropTables drops every table of the database.
func dropTables(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, `SELECT TABLE_NAME FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'`)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(names) == 0 {
		return err
	}
	if _, err := conn.ExecContext(ctx, `SET SESSION foreign_key_checks = 0`); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SET SESSION foreign_key_checks = 1`)
	_, err = conn.ExecContext(ctx, `DROP TABLE `+quoteNames(names))
	return err
}

// loadRows inserts the backup's rows in one transaction, a few hundred rows
// per statement. Foreign keys are not checked while it loads (the tables come
// in name order, not in the order their references need); the backup is one
// consistent snapshot, so they hold.
func loadRows(ctx context.Context, db *sql.DB, src string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SET SESSION foreign_key_checks = 0`); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SET SESSION foreign_key_checks = 1`)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	const maxRows, maxBytes = 500, 1 << 20
	var insert string // INSERT INTO t (columns) VALUES
	var tuple string  // (?, ?, ...)
	var args []any
	rows, size := 0, 0
	flush := func() error {
		if rows == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, insert+strings.TrimSuffix(strings.Repeat(tuple+", ", rows), ", "), args...)
		args, rows, size = args[:0], 0, 0
		return err
	}
	err = readBackup(src, func(map[int]migrate.Applied) error { return nil },
		func(name string, columns []string) error {
			if err := flush(); err != nil {
				return err
			}
			// The backup's rows replace what the migrations put in (the
			// notifier's cursor).
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+quoteNames([]string{name})); err != nil {
				return err
			}
			insert = `INSERT INTO ` + quoteNames([]string{name}) + ` (` + quoteNames(columns) + `) VALUES `
			tuple = "(" + placeholders(len(columns)) + ")"
			return nil
		},
		func(vals []any) error {
			args = append(args, vals...)
			rows++
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					size += len(b)
				}
			}
			if rows >= maxRows || size >= maxBytes {
				return flush()
			}
			return nil
		})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("load %s: %w", src, err)
	}
	return tx.Commit()
}
