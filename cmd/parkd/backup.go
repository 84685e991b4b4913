package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"parkd/internal/parking"
	"parkd/internal/store/migrate"
	"parkd/internal/store/mysql"
	"parkd/internal/store/postgres"
	"parkd/internal/store/sqlite"
)

// backend is what the command line does with one kind of database. A new
// backend (MySQL) is one more case in backendFor.
type backend struct {
	name string
	dsn  string // the address as the backend's functions take it
	open func(ctx context.Context, dsn string) (parking.Store, error)
	// migrations reads the migration status without applying any.
	migrations func(ctx context.Context, dsn string) ([]migrate.Status, error)
	// backup writes a consistent copy to a new file while parkd serves.
	backup func(ctx context.Context, dsn, file string) error
	// restore loads a backup; replace allows replacing existing data.
	restore func(ctx context.Context, dsn, file string, replace bool) error
	// backupHow says, for help and errors, what backup makes.
	backupHow string
	// unavailable reports whether an error says the database cannot serve
	// for now (unreachable, read-only, failing over, busy): 503, not 500.
	unavailable func(error) bool
}

// backendFor picks the backend from the database address's form: a
// postgres:// URL, a mysql:// URL, or else a SQLite file path (optionally
// "sqlite:PATH").
func backendFor(db string) backend {
	if strings.HasPrefix(db, "mysql://") {
		return backend{name: "mysql", dsn: db,
			open: func(ctx context.Context, dsn string) (parking.Store, error) {
				s, err := mysql.Open(ctx, dsn)
				if err != nil {
					return nil, err // not a typed nil in the interface
				}
				return s, nil
			},
			migrations: mysql.MigrationStatus, backup: mysql.Backup, restore: mysql.Restore,
			backupHow:   "every table's rows, read in one consistent snapshot (gzip)",
			unavailable: mysql.Unavailable}
	}
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return backend{name: "postgres", dsn: db,
			open: func(ctx context.Context, dsn string) (parking.Store, error) {
				s, err := postgres.Open(ctx, dsn)
				if err != nil {
					return nil, err // not a typed nil in the interface
				}
				return s, nil
			},
			migrations: postgres.MigrationStatus, backup: postgres.Backup, restore: postgres.Restore,
			backupHow:   "pg_dump's custom format (pg_dump and pg_restore must be installed)",
			unavailable: postgres.Unavailable}
	}
	return backend{name: "sqlite", dsn: strings.TrimPrefix(db, "sqlite:"),
		open: func(ctx context.Context, path string) (parking.Store, error) {
			s, err := sqlite.Open(ctx, path)
			if err != nil {
				return nil, err
			}
			return s, nil
		},
		migrations: sqlite.MigrationStatus, backup: sqlite.Backup, restore: sqlite.Restore,
		backupHow:   "a SQLite database file (VACUUM INTO)",
		unavailable: sqlite.Unavailable}
}

func databaseCommands() []command {
	return []command{
		{name: "backup", args: "FILE", nargs: 1, summary: "write a consistent backup of the database to a new FILE, while parkd serves",
			help: "Writes a consistent copy of the database to FILE, which must not exist, while parkd keeps serving.\n" +
				"SQLite: a database file made with VACUUM INTO. PostgreSQL: pg_dump's custom format (pg_dump\n" +
				"of the server's major version or newer must be on PATH). MariaDB/MySQL: every table's rows, read\n" +
				"in one consistent snapshot, compressed. Restore it with 'parkd restore'.",
			define: func(fs *flagSet, a *app) func(context.Context, []string) error {
				var db string
				dbFlag(fs, &db)
				return func(ctx context.Context, args []string) error {
					b := backendFor(db)
					if err := b.backup(ctx, b.dsn, args[0]); err != nil {
						return err
					}
					fmt.Fprintf(a.stdout, "backed up the %s database to %s\n", b.name, args[0])
					return nil
				}
			}},
		{name: "restore", args: "FILE", nargs: 1, summary: "load a backup into the database (stop parkd first)",
			help: "Loads a backup 'parkd backup' made into the database --db names, all or nothing. The database\n" +
				"must be new or empty, unless --force: then its data is replaced. Stop every parkd instance on it\n" +
				"first (restore refuses a database in use). Start parkd afterwards: it applies any migrations the\n" +
				"backup lacks.",
			define: func(fs *flagSet, a *app) func(context.Context, []string) error {
				var db string
				var force bool
				dbFlag(fs, &db)
				fs.Bool(&force, "force", "", false, "replace the data of a database that holds some")
				return func(ctx context.Context, args []string) error {
					b := backendFor(db)
					if err := b.restore(ctx, b.dsn, args[0], force); err != nil {
						return err
					}
					fmt.Fprintf(a.stdout, "restored %s into the %s database; start parkd to serve it\n", args[0], b.name)
					return nil
				}
			}},
		{name: "migrate status", summary: "list the database migrations, applied and pending",
			help: "Lists every migration this parkd has and whether the database applied it, without applying any.\n" +
				"It fails (exit 1) when migrations are pending or the database was migrated by a newer parkd.",
			define: func(fs *flagSet, a *app) func(context.Context, []string) error {
				var db string
				dbFlag(fs, &db)
				return func(ctx context.Context, _ []string) error {
					b := backendFor(db)
					st, err := b.migrations(ctx, b.dsn)
					if err != nil {
						return err
					}
					w := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(w, "VERSION\tNAME\tSTATE\tAPPLIED AT")
					pending, unknown := 0, 0
					for _, s := range st {
						state, at := "pending", ""
						switch {
						case s.Unknown:
							state, at = "applied by a newer parkd", s.AppliedAt.Format("2006-01-02 15:04:05Z07:00")
							unknown++
						case s.Applied:
							state, at = "applied", s.AppliedAt.Format("2006-01-02 15:04:05Z07:00")
						default:
							pending++
						}
						fmt.Fprintf(w, "%04d\t%s\t%s\t%s\n", s.Version, s.Name, state, at)
					}
					w.Flush()
					switch {
					case unknown > 0:
						return fmt.Errorf("the database was migrated by a newer parkd: run that version")
					case pending > 0:
						return fmt.Errorf("%d migrations pending: 'parkd migrate up' or starting parkd applies them", pending)
					}
					return nil
				}
			}},
		{name: "migrate up", summary: "apply pending migrations, then exit",
			help: "Applies every pending migration, each once in its own transaction, as starting the server does;\n" +
				"for upgrades that migrate before the new version starts serving.",
			define: func(fs *flagSet, a *app) func(context.Context, []string) error {
				var db string
				dbFlag(fs, &db)
				return func(ctx context.Context, _ []string) error {
					b := backendFor(db)
					s, err := b.open(ctx, b.dsn)
					if err != nil {
						return err
					}
					s.Close()
					fmt.Fprintf(a.stdout, "the %s database is migrated\n", b.name)
					return nil
				}
			}},
	}
}
