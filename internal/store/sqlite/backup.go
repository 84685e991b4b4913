package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"parkd/internal/store/migrate"
)

// openFile opens the database file at path without migrating it, and fails
// rather than create a file that is not there.
func openFile(path string, pragmas string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no database at %s", path)
		}
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)"+pragmas)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// MigrationStatus reads which migrations the database at path has applied,
// and which this binary would apply, without applying any.
func MigrationStatus(ctx context.Context, path string) ([]migrate.Status, error) {
	ms, err := migrate.Read(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	db, err := openFile(path, "&mode=ro")
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

func appliedMigrations(ctx context.Context, db *sql.DB) (map[int]migrate.Applied, error) {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n); err != nil {
		return nil, err
	}
	applied := map[int]migrate.Applied{}
	if n == 0 {
		return applied, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT version, name, applied_at FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		var a migrate.Applied
		var at int64
		if err := rows.Scan(&v, &a.Name, &at); err != nil {
			return nil, err
		}
		a.At = fromMicros(at)
		applied[v] = a
	}
	return applied, rows.Err()
}

// Backup writes a consistent copy of the database at path to the new file
// dest, while parkd may be serving from it: VACUUM INTO reads one snapshot
// (WAL lets it run beside the writer) and writes a compact database. The copy
// is made under a temporary name and renamed into place when complete, so
// dest never holds half a backup.
func Backup(ctx context.Context, path, dest string) error {
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("%s exists already: give a new file name", dest)
	}
	db, err := openFile(path, "")
	if err != nil {
		return err
	}
	defer db.Close()
	tmp := dest + ".partial"
	os.Remove(tmp)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("backup %s: %w", path, err)
	}
	// It holds password and key hashes: for its owner's eyes only.
	if err := os.Chmod(tmp, 0o600); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(dest))
}

// Restore replaces the database at path with the backup src (made by Backup). It checks that
// src is a sound parkd database this binary can run, and refuses to replace
// an existing database unless replace is set, or while anything (a running
// parkd) has it open. The next start applies any migrations the backup
// lacks.
func Restore(ctx context.Context, path, src string, replace bool) error {
	if err := checkBackup(ctx, src); err != nil {
		return err
	}
	if _, err := os.Stat(path); err == nil {
		if !replace {
			return fmt.Errorf("%s holds a database already: stop parkd and add --force to replace it", path)
		}
		if err := checkUnused(ctx, path); err != nil {
			return err
		}
	}
	tmp := path + ".restoring"
	if err := copyFile(src, tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	// The old database's write-ahead log belongs to it, not to the backup.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// checkBackup makes sure src is an intact parkd database no newer than this binary.
func checkBackup(ctx context.Context, src string) error {
	db, err := openFile(src, "&mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&result); err != nil {
		return fmt.Errorf("%s is not a SQLite database: %w", src, err)
	}
	if result != "ok" {
		return fmt.Errorf("%s is damaged: %s", src, result)
	}
	applied, err := appliedMigrations(ctx, db)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		return fmt.Errorf("%s is not a parkd database: it has no schema_migrations", src)
	}
	ms, err := migrate.Read(migrations, "migrations")
	if err != nil {
		return err
	}
	for _, s := range migrate.Compare(ms, applied) {
		if s.Unknown {
			return fmt.Errorf("%s was made by a newer parkd (migration %d %s): restore it with that version", src, s.Version, s.Name)
		}
	}
	return nil
}

// checkUnused fails when another connection has the database open: leaving
// WAL mode needs the database to itself.
func checkUnused(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(2000)")
	if err != nil {
		return err
	}
	defer db.Close()
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode=DELETE`).Scan(&mode); err != nil || mode != "delete" {
		return fmt.Errorf("%s is in use: stop every parkd that serves from it first", path)
	}
	return nil
}

func copyFile(src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	d.Sync() // not every file system syncs directories; the rename stands either way
	return nil
}
