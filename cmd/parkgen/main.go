// Command parkgen fills an empty parkd database with a data set at the
// design notes' scale, so reads and load runs are measured against realistic
// tables rather than empty ones: by default 1,000 lots of 450 spots, 20,000
// drivers and a year of history — about 20 million past reservations, with
// their charges, refunds and gate events.
//
// Lots, levels, spots and gates go in through the store, as parkd writes
// them. The history is bulk-loaded with the history tables' indexes dropped
// and built again at the end, so the database is the migrations' schema with
// every constraint proven on the rows (the exclusion constraint included).
// On PostgreSQL: three COPY FREEZE streams in parallel, one per table
// (reservations, payments, gate_events), then the indexes, keys, foreign keys
// and triggers, --jobs at a time, then ANALYZE; about 35 minutes for the
// 20 million on 2 shared cores (docs/benchmarks.md). On SQLite: batched
// inserts, one transaction per lot, then the indexes and a check of every
// foreign key; about ten times slower, so a smaller set (--lots 100: 2
// million reservations) is the one to use there. Every row is drawn from
// --seed, so two runs with the same flags on the same day make the same data
// set (ids included; the history ends yesterday).
//
// Usage:
//
//	parkgen --db postgres://postgres@127.0.0.1:5432/big?sslmode=disable
//	parkgen --db /tmp/big.db --lots 100
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "parkgen:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// config is what to generate.
type config struct {
	db         string
	lots       int
	levels     int     // per lot
	perLevel   int     // spots per level
	users      int     // drivers
	days       int     // of history, ending yesterday
	perSpotDay float64 // past reservations per spot per day
	seed       uint64
	jobs       int // PostgreSQL: lots drawn and indexes built at once
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var c config
	fs := flag.NewFlagSet("parkgen", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.db, "db", os.Getenv("PARKD_DB"), "the database: a postgres:// URL or a SQLite file (created and migrated); on SQLite use a smaller set, e.g. --lots 100")
	fs.IntVar(&c.lots, "lots", 1000, "lots to create")
	fs.IntVar(&c.levels, "levels", 3, "levels per lot")
	fs.IntVar(&c.perLevel, "spots-per-level", 150, "spots per level (rows of 25)")
	fs.IntVar(&c.users, "users", 20000, "drivers to create")
	fs.IntVar(&c.days, "days", 365, "days of history, ending yesterday")
	fs.Float64Var(&c.perSpotDay, "per-spot-day", 0.1217, "past reservations per spot per day (0.1217 makes 20 million for 1,000 lots of 450 spots over a year)")
	fs.Uint64Var(&c.seed, "seed", 1, "the seed every row is drawn from")
	fs.IntVar(&c.jobs, "jobs", 2, "PostgreSQL: goroutines drawing lots, and indexes built at once")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	switch {
	case c.db == "":
		fmt.Fprintln(out, "parkgen: --db is required")
		return errUsage
	case strings.HasPrefix(c.db, "mysql://"):
		fmt.Fprintln(out, "parkgen: it loads PostgreSQL and SQLite; MariaDB is not supported yet")
		return errUsage
	case c.lots < 1 || c.levels < 1 || c.perLevel < 1 || c.users < 1 || c.days < 0 || c.perSpotDay < 0 || c.jobs < 1:
		fmt.Fprintln(out, "parkgen: --lots, --levels, --spots-per-level, --users and --jobs must be positive; --days and --per-spot-day not negative")
		return errUsage
	}
	return generate(ctx, c, out)
}

// generate makes the data set and prints what it made and how long each part
// took.
func generate(ctx context.Context, c config, out io.Writer) error {
	dst, err := openTarget(ctx, c.db)
	if err != nil {
		return err
	}
	defer dst.Close()
	if n, err := dst.lotCount(ctx); err != nil {
		return err
	} else if n > 0 {
		return fmt.Errorf("the database already has %d lots: parkgen fills an empty one", n)
	}
	now := time.Now().UTC().Truncate(time.Second)
	g := newGenerator(c, now)

	started := time.Now()
	lots, err := g.lots(ctx, dst.store)
	if err != nil {
		return fmt.Errorf("creating lots: %w", err)
	}
	fmt.Fprintf(out, "lots: %d lots, %d spots, %d gates in %s\n", len(lots), len(lots)*c.levels*c.perLevel, 2*len(lots), since(started))

	step := time.Now()
	if err := dst.bulk(ctx, "users", userColumns, g.users()); err != nil {
		return fmt.Errorf("creating drivers: %w", err)
	}
	fmt.Fprintf(out, "users: %d drivers in %s\n", c.users, since(step))

	step = time.Now()
	var counts historyCounts
	if dst.pg != nil {
		if counts, err = loadPostgres(ctx, dst, g, lots, c.jobs, out); err != nil {
			return err
		}
	} else {
		// As on PostgreSQL, the history tables' indexes are built after the
		// load, not kept current row by row.
		names, creates, err := dst.liteIndexes(ctx)
		if err != nil {
			return err
		}
		for _, name := range names {
			if _, err := dst.lite.ExecContext(ctx, "DROP INDEX "+name); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "drop: %d indexes of %s in %s\n", len(names), strings.Join(bulkTables, ", "), since(step))
		step = time.Now()
		progress := time.Now()
		for i, lot := range lots {
			h := g.history(lot, i)
			if err := dst.history(ctx, h); err != nil {
				return fmt.Errorf("history of %s: %w", lot.lot.Name, err)
			}
			counts.add(h.counts)
			if time.Since(progress) > 10*time.Second || i == len(lots)-1 {
				progress = time.Now()
				elapsed := time.Since(step)
				fmt.Fprintf(out, "history: %d/%d lots, %d reservations (%.0f/s), %d payments, %d gate events, %s\n",
					i+1, len(lots), counts.reservations, float64(counts.reservations)/elapsed.Seconds(), counts.payments, counts.gateEvents, since(step))
			}
		}
		step = time.Now()
		for _, create := range creates {
			if _, err := dst.lite.ExecContext(ctx, create); err != nil {
				return fmt.Errorf("%s: %w (the database is incomplete: delete it and start again)", create, err)
			}
		}
		fmt.Fprintf(out, "indexes: %d in %s\n", len(creates), since(step))
		step = time.Now()
		if err := dst.liteCheck(ctx); err != nil {
			return fmt.Errorf("check: %w", err)
		}
		fmt.Fprintf(out, "check: foreign keys and overlaps in %s\n", since(step))
	}
	step = time.Now()
	if err := dst.analyze(ctx); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	fmt.Fprintf(out, "analyze: %s\n", since(step))
	fmt.Fprintf(out, "done in %s: %d lots, %d reservations, %d payments, %d gate events\n",
		since(started), len(lots), counts.reservations, counts.payments, counts.gateEvents)
	return nil
}

func since(t time.Time) string { return time.Since(t).Round(100 * time.Millisecond).String() }

// backendOf names the backend of a --db value, as parkd picks it.
func backendOf(db string) string {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return "postgres"
	}
	return "sqlite"
}
