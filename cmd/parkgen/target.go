package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"parkd/internal/parking"
	"parkd/internal/store/postgres"
	"parkd/internal/store/sqlite"
)

// target is the database being filled: parkd's store for the lots, and a
// connection of its own for the bulk loads.
type target struct {
	store parking.Store
	pg    *pgx.Conn // PostgreSQL
	lite  *sql.DB   // SQLite
	dsn   string    // PostgreSQL, for the load's further connections
}

// connect opens a PostgreSQL connection with a bulk load's settings, as
// pg_restore --disable-triggers uses them: the triggers (parkd's own, which
// the generator's finished reservations would not fire anyway) are skipped
// where the role may, and a commit does not wait for its WAL flush.
func (t *target) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, t.dsn)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "SET synchronous_commit = off"); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	// Only a superuser may; without it the rows still go in, each firing
	// the reservations' insert trigger.
	conn.Exec(ctx, "SET session_replication_role = replica")
	return conn, nil
}

// openTarget opens (creating and migrating) the database.
func openTarget(ctx context.Context, db string) (*target, error) {
	t := &target{}
	var err error
	if backendOf(db) == "postgres" {
		if t.store, err = postgres.Open(ctx, db); err != nil {
			return nil, err
		}
		t.dsn = db
		if t.pg, err = t.connect(ctx); err != nil {
			t.store.Close()
			return nil, err
		}
		return t, nil
	}
	if t.store, err = sqlite.Open(ctx, db); err != nil {
		return nil, err
	}
	// The load's connection checks no foreign key per row (liteCheck checks
	// them all at the end) and keeps 512 MB of pages in memory.
	q := url.Values{"_pragma": {"busy_timeout(10000)", "foreign_keys(0)", "synchronous(NORMAL)", "cache_size(-524288)"}, "_txlock": {"immediate"}}
	if t.lite, err = sql.Open("sqlite", "file:"+db+"?"+q.Encode()); err != nil {
		t.store.Close()
		return nil, err
	}
	t.lite.SetMaxOpenConns(1)
	return t, nil
}

func (t *target) Close() {
	if t.pg != nil {
		t.pg.Close(context.Background())
	}
	if t.lite != nil {
		t.lite.Close()
	}
	t.store.Close()
}

func (t *target) lotCount(ctx context.Context) (int, error) {
	lots, err := t.store.Lots(ctx)
	return len(lots), err
}

// history loads one lot's past: reservations first, as payments and gate
// events refer to them, all in one transaction.
func (t *target) history(ctx context.Context, h lotHistory) error {
	return t.inTx(ctx, func(b bulker) error {
		for _, part := range []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"reservations", reservationColumns, h.reservations},
			{"payments", paymentColumns, h.payments},
			{"gate_events", gateEventColumns, h.gateEvents},
		} {
			if err := b(part.table, part.cols, part.rows); err != nil {
				return fmt.Errorf("%s: %w", part.table, err)
			}
		}
		return nil
	})
}

// bulk loads rows into table in one transaction.
func (t *target) bulk(ctx context.Context, table string, cols []string, rows [][]any) error {
	return t.inTx(ctx, func(b bulker) error { return b(table, cols, rows) })
}

// bulker loads rows into a table within a transaction.
type bulker func(table string, cols []string, rows [][]any) error

func (t *target) inTx(ctx context.Context, fn func(bulker) error) error {
	if t.pg != nil {
		tx, err := t.pg.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		err = fn(func(table string, cols []string, rows [][]any) error {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
			return err
		})
		if err != nil {
			return err
		}
		return tx.Commit(ctx)
	}
	tx, err := t.lite.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	err = fn(func(table string, cols []string, rows [][]any) error {
		// Rows go in liteBatch at a time: one statement per row costs more
		// than the row.
		insert := func(n int) (*sql.Stmt, error) {
			row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
			return tx.PrepareContext(ctx, fmt.Sprintf("INSERT INTO %s (%s) VALUES %s",
				table, strings.Join(cols, ", "), strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")))
		}
		var batch *sql.Stmt
		args := make([]any, 0, liteBatch*len(cols))
		for len(rows) > 0 {
			n := min(len(rows), liteBatch)
			stmt := batch
			if n < liteBatch || batch == nil {
				var err error
				if stmt, err = insert(n); err != nil {
					return err
				}
				if n == liteBatch {
					batch = stmt
				} else {
					defer stmt.Close()
				}
			}
			args = args[:0]
			for _, row := range rows[:n] {
				for _, v := range row {
					args = append(args, liteValue(v))
				}
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				return err
			}
			rows = rows[n:]
		}
		if batch != nil {
			batch.Close()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tx.Commit()
}

// liteBatch is how many rows one INSERT statement carries on SQLite.
const liteBatch = 50

// liteIndexes lists the statements that make the secondary indexes of
// bulkTables on SQLite (the primary keys' are the tables' own).
func (t *target) liteIndexes(ctx context.Context) (names, creates []string, err error) {
	rows, err := t.lite.QueryContext(ctx, `SELECT name, sql FROM sqlite_master
		WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ('reservations', 'payments', 'gate_events') ORDER BY name`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name, create string
		if err := rows.Scan(&name, &create); err != nil {
			return nil, nil, err
		}
		names, creates = append(names, name), append(creates, create)
	}
	return names, creates, rows.Err()
}

// liteCheck proves on SQLite what the load did not check row by row: every
// foreign key of the loaded tables, and that no two reservations that hold
// their spot overlap on it (the insert trigger's rule, invariant 1).
func (t *target) liteCheck(ctx context.Context) error {
	for _, table := range append([]string{"users"}, bulkTables...) {
		rows, err := t.lite.QueryContext(ctx, "PRAGMA foreign_key_check("+table+")")
		if err != nil {
			return err
		}
		bad := rows.Next()
		rows.Close()
		if bad {
			return fmt.Errorf("%s: a row refers to a row that is not there (PRAGMA foreign_key_check)", table)
		}
	}
	var overlaps int
	err := t.lite.QueryRowContext(ctx, `SELECT count(*) FROM reservations a JOIN reservations b
		ON b.spot_id = a.spot_id AND b.id > a.id AND b.starts_at < a.ends_at AND b.ends_at > a.starts_at
		WHERE a.status IN ('held', 'confirmed', 'checked_in') AND b.status IN ('held', 'confirmed', 'checked_in')`).Scan(&overlaps)
	if err == nil && overlaps > 0 {
		err = fmt.Errorf("%d pairs of live reservations overlap on a spot", overlaps)
	}
	return err
}

// liteValue is v as parkd's SQLite store keeps it: times as microseconds
// since the epoch.
func liteValue(v any) any {
	switch v := v.(type) {
	case time.Time:
		return v.UnixMicro()
	case int16:
		return int64(v)
	}
	return v
}

// analyze refreshes the planner's statistics after the load.
func (t *target) analyze(ctx context.Context) error {
	if t.pg != nil {
		_, err := t.pg.Exec(ctx, "ANALYZE")
		return err
	}
	_, err := t.lite.ExecContext(ctx, "ANALYZE")
	return err
}
