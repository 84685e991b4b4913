// Package sqlite stores parkd's data in an embedded SQLite database (pure Go, no
// cgo). All writes go through one connection, so every write transaction is the
// only writer: a check inside it cannot be raced. Reads use a separate pool,
// which WAL mode lets run beside the writer.
//
// Methods are filed by part of parking.Store, in files named alike in every
// backend: lots.go, accounts.go, reservations.go, payments.go, gates.go,
// events.go (events and notifications), idempotency.go and operations.go;
// beside them sqlite.go (opening the store), migrate.go, errors.go (the one table
// from driver errors to domain errors) and backup.go.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver

	"parkd/internal/parking"
)

// Store is a parking.Store on SQLite.
type Store struct {
	write *sql.DB // exactly one connection
	read  *sql.DB
}

var _ parking.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and applies pending
// migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	pragmas := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(1)", "synchronous(NORMAL)"} {
		pragmas.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + pragmas.Encode()
	write, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	read, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, err
	}
	read.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	s := &Store{write: write, read: read}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return s, nil
}

// Close closes both connection pools.
func (s *Store) Close() error {
	return errors.Join(s.read.Close(), s.write.Close())
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.read.PingContext(ctx)
}

// inTx runs fn in a write transaction: committed if fn returns nil, rolled back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullMicros(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// insertEvent writes an outbox event inside tx.
func insertEvent(ctx context.Context, tx *sql.Tx, e parking.Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO events (lot_id, type, spot_id, reservation_id, at) VALUES (?, ?, ?, ?, ?)`,
		e.LotID, e.Type, e.SpotID, e.ReservationID, micros(e.At))
	return err
}
