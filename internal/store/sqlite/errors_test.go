package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
)

// TestUnavailable: a write that finds the database locked by another writer
// past its busy timeout is unavailable (503), not internal (500).
func TestUnavailable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "busy.db")
	holder, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	holder.SetMaxOpenConns(1)
	if _, err := holder.ExecContext(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	tx, err := holder.BeginTx(ctx, nil) // holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}

	writer, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	_, err = writer.ExecContext(ctx, "INSERT INTO t VALUES (2)")
	if !Unavailable(err) {
		t.Fatalf("Unavailable(%v) = false; want true for a database locked by another writer", err)
	}
	for _, err := range []error{nil, errors.New("other"), sql.ErrNoRows} {
		if Unavailable(err) {
			t.Errorf("Unavailable(%v) = true; want false", err)
		}
	}
}
