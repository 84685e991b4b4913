package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"parkd/internal/store/migrate"
)

// Errors that say a DDL statement had been applied before: the table, column,
// key, constraint or trigger it creates is there, or what it drops is gone.
const (
	errTableExists      = 1050 // ER_TABLE_EXISTS_ERROR
	errDupFieldName     = 1060 // ER_DUP_FIELDNAME
	errDupKeyName       = 1061 // ER_DUP_KEYNAME
	errCantDropField    = 1091 // ER_CANT_DROP_FIELD_OR_KEY
	errTriggerExists    = 1359 // ER_TRG_ALREADY_EXISTS
	errFKDupName        = 1826 // ER_FK_DUP_NAME
	errDupConstraint    = 3822 // ER_CHECK_CONSTRAINT_DUP_NAME (MySQL)
	errTriggerNotExists = 1360 // ER_TRG_DOES_NOT_EXIST
	errBadTable         = 1051 // ER_BAD_TABLE_ERROR: DROP TABLE of a missing table
)

var alreadyApplied = map[uint16]bool{
	errTableExists: true, errDupFieldName: true, errDupKeyName: true, errCantDropField: true,
	errTriggerExists: true, errFKDupName: true, errDupConstraint: true, errTriggerNotExists: true, errBadTable: true,
}

// migrate applies the pending migrations, each once, and records them in
// schema_migrations.
//
// MariaDB and MySQL commit every DDL statement on its own (an implicit commit
// before and after it), so a migration cannot be one transaction as on the
// other backends. Instead each migration is run statement by statement and its
// progress is recorded: schema_migrations keeps, for a migration begun but not
// finished, how many of its statements are done (steps), and a run resumes
// after them. A data statement (INSERT, UPDATE) runs in one transaction with
// the update of steps, so it is applied and recorded together. A DDL statement
// cannot be: a crash between it and the record leaves it applied but not
// recorded, and the next run repeats it. That repeat, and only it (the first
// statement of a resumed migration), may fail because its work is already done
// (a table or key that exists, a column that is gone: alreadyApplied), which
// counts as applied. Migrations are therefore written so that each statement
// does one thing whose presence such an error proves.
//
// A GET_LOCK lock for the database (session-level, so it outlives the implicit
// commits; released with the connection should the process die) makes
// instances that start at once take turns: the second finds the work done.
//
// only, when not nil, picks the migrations to apply (a restore applies those
// its backup had); nil applies every one.
func migrateDB(ctx context.Context, db *sql.DB, dbName, binCollation string, only func(version int) bool) error {
	ms, err := migrate.Read(migrations, "migrations")
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, 120)`, lockName("migrate", dbName)).Scan(&got); err != nil {
		return err
	}
	if got.Int64 != 1 {
		return errors.New("timed out waiting for another instance's migrations")
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT RELEASE_LOCK(?)`, lockName("migrate", dbName))

	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INT NOT NULL PRIMARY KEY,
			name       VARCHAR(255) NOT NULL,
			steps      INT NOT NULL DEFAULT 0,  -- statements done, while applied_at is NULL
			applied_at DATETIME(6)              -- NULL until every statement is done
		) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`); err != nil {
		return err
	}
	type state struct {
		steps int
		done  bool
	}
	recorded := map[int]state{}
	rows, err := conn.QueryContext(ctx, `SELECT version, steps, applied_at IS NOT NULL FROM schema_migrations`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var v int
		var st state
		if err := rows.Scan(&v, &st.steps, &st.done); err != nil {
			rows.Close()
			return err
		}
		recorded[v] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	for _, m := range ms {
		st, begun := recorded[m.Version]
		if st.done || only != nil && !only(m.Version) {
			continue
		}
		if !begun {
			if _, err := conn.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, steps) VALUES (?, ?, 0)`,
				m.Version, m.Name); err != nil {
				return err
			}
		}
		stmts := statements(strings.ReplaceAll(m.SQL, "utf8mb4_bin", binCollation))
		for i := st.steps; i < len(stmts); i++ {
			resumed := begun && i == st.steps
			if err := step(ctx, conn, m.Version, i, stmts[i], resumed); err != nil {
				return fmt.Errorf("%s, statement %d: %w", m.Name, i+1, err)
			}
		}
		if _, err := conn.ExecContext(ctx, `UPDATE schema_migrations SET applied_at = ? WHERE version = ?`,
			ts(time.Now()), m.Version); err != nil {
			return err
		}
	}
	return nil
}

// step runs statement i of migration version and records it done, in one
// transaction (which a DDL statement commits on its own).
func step(ctx context.Context, conn *sql.Conn, version, i int, stmt string, resumed bool) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, stmt); err != nil {
		var me *mysql.MySQLError
		if !resumed || !errors.As(err, &me) || !alreadyApplied[me.Number] {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_migrations SET steps = ? WHERE version = ?`, i+1, version); err != nil {
		return err
	}
	return tx.Commit()
}

// statements splits a migration into its statements: each ends with a
// semicolon at the end of a line. Lines that are only a comment are dropped.
func statements(sqlText string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sqlText, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		out = append(out, rest)
	}
	return out
}
