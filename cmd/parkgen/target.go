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
	q := url.Values{"_pragma": {"busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"}, "_txlock": {"immediate"}}
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
		stmt, err := tx.PrepareContext(ctx, fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)",
			table, strings.Join(cols, ", "), strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")))
		if err != nil {
			return err
		}
		defer stmt.Close()
		args := make([]any, len(cols))
		for _, row := range rows {
			for i, v := range row {
				args[i] = liteValue(v)
			}
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tx.Commit()
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
