package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// bulkTables are the tables the history goes into. Their keys, indexes and
// foreign keys (and the foreign keys of other tables that refer to them) are
// dropped before the load and built again after it: building an index over
// 20 million rows at once is minutes, keeping it current row by row (random
// text keys, an index far larger than the buffer cache) is hours.
var bulkTables = []string{"reservations", "payments", "gate_events"}

// ddl is a statement that rebuilds one index or constraint the load dropped.
type ddl struct {
	name, table string
	drop        string
	create      string
	foreign     bool  // a foreign key: built after every key it may refer to
	size        int64 // rows of the table, to build the largest first
	// locks are the tables the statement locks: CREATE INDEX (shared)
	// leaves its table open to other CREATE INDEX statements, while ALTER
	// TABLE ADD CONSTRAINT and CREATE TRIGGER lock out every other statement
	// on the table (and a foreign key, on the table it refers to).
	locks  []string
	shared bool
}

// conflicts tells whether d would wait for a lock that e holds.
func (d ddl) conflicts(e ddl) bool {
	if d.shared && e.shared {
		return false
	}
	for _, a := range d.locks {
		if slices.Contains(e.locks, a) {
			return true
		}
	}
	return false
}

// bulkDDL reads the keys, indexes and constraints of bulkTables as the
// migrations made them: unique, primary and exclusion constraints and plain
// indexes of the tables, every foreign key from or to them, and their
// triggers (a BEFORE INSERT row trigger makes COPY insert row by row, and
// COPY FREEZE then leaves the pages to VACUUM to mark all-visible). CHECK and
// NOT NULL constraints stay: they cost little per row.
func bulkDDL(ctx context.Context, conn *pgx.Conn) ([]ddl, error) {
	rows, _ := conn.Query(ctx, `
		SELECT c.conname, c.conrelid::regclass::text, pg_get_constraintdef(c.oid), c.contype = 'f', coalesce(c.confrelid::regclass::text, '')
		FROM pg_constraint c
		WHERE c.contype IN ('p', 'u', 'x', 'f')
		  AND (c.conrelid = ANY($1::regclass[]) OR c.confrelid = ANY($1::regclass[]))
		UNION ALL
		SELECT i.indexrelid::regclass::text, i.indrelid::regclass::text, pg_get_indexdef(i.indexrelid), false, ''
		FROM pg_index i
		WHERE i.indrelid = ANY($1::regclass[])
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c
			WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x'))
		UNION ALL
		SELECT t.tgname, t.tgrelid::regclass::text, pg_get_triggerdef(t.oid), false, ''
		FROM pg_trigger t
		WHERE t.tgrelid = ANY($1::regclass[]) AND NOT t.tgisinternal`, bulkTables)
	var out []ddl
	var name, table, def, refers string
	var foreign bool
	_, err := pgx.ForEachRow(rows, []any{&name, &table, &def, &foreign, &refers}, func() error {
		d := ddl{name: name, table: table, foreign: foreign, locks: []string{table}}
		if refers != "" && refers != table {
			d.locks = append(d.locks, refers)
		}
		switch {
		case strings.HasPrefix(def, "CREATE TRIGGER "):
			d.drop = "DROP TRIGGER " + pgx.Identifier{name}.Sanitize() + " ON " + pgx.Identifier{table}.Sanitize()
			d.create = def
		case strings.HasPrefix(def, "CREATE "):
			d.drop, d.create = "DROP INDEX "+pgx.Identifier{name}.Sanitize(), def
			d.shared = true
		default:
			t := pgx.Identifier{table}.Sanitize()
			d.drop = "ALTER TABLE " + t + " DROP CONSTRAINT " + pgx.Identifier{name}.Sanitize()
			d.create = "ALTER TABLE " + t + " ADD CONSTRAINT " + pgx.Identifier{name}.Sanitize() + " " + def
		}
		out = append(out, d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b ddl) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// dropBulkDDL drops what bulkDDL lists, foreign keys first, in one
// transaction.
func dropBulkDDL(ctx context.Context, conn *pgx.Conn, ds []ddl) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	order := slices.Clone(ds)
	sort.SliceStable(order, func(i, j int) bool { return order[i].foreign && !order[j].foreign })
	for _, d := range order {
		if _, err := tx.Exec(ctx, d.drop); err != nil {
			return fmt.Errorf("%s: %w", d.drop, err)
		}
	}
	return tx.Commit(ctx)
}

// copyStream is one table's COPY: its rows arrive lot by lot on rows, are
// encoded in COPY's binary format and sent on one connection, in one
// transaction that first truncates the table, so that COPY FREEZE writes the
// rows frozen and all-visible (no VACUUM to follow before index-only scans).
type copyStream struct {
	table string
	cols  []string
	rows  chan [][]any
	n     atomic.Int64
}

// loadPostgres loads the lots' history on PostgreSQL: one COPY stream per
// table, fed by jobs goroutines drawing lots; then the dropped indexes and
// constraints are built again (jobs at a time) and the tables analysed.
func loadPostgres(ctx context.Context, t *target, g *generator, lots []genLot, jobs int, out io.Writer) (historyCounts, error) {
	var counts historyCounts
	ds, err := bulkDDL(ctx, t.pg)
	if err != nil {
		return counts, fmt.Errorf("reading the indexes: %w", err)
	}
	step := time.Now()
	if err := dropBulkDDL(ctx, t.pg, ds); err != nil {
		return counts, fmt.Errorf("dropping the indexes: %w", err)
	}
	fmt.Fprintf(out, "drop: %d indexes and constraints of %s in %s\n", len(ds), strings.Join(bulkTables, ", "), since(step))

	step = time.Now()
	streams := []*copyStream{
		{table: "reservations", cols: reservationColumns},
		{table: "payments", cols: paymentColumns},
		{table: "gate_events", cols: gateEventColumns},
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	fail := func(err error) {
		if err != nil {
			cancel(err)
		}
	}
	for _, s := range streams {
		s.rows = make(chan [][]any, 2)
		conn, err := t.connect(ctx)
		if err != nil {
			return counts, err
		}
		defer conn.Close(context.Background())
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail(s.copy(ctx, conn))
		}()
	}

	// Generators: lot i's history depends on i alone, so lots may be drawn
	// in any order, by any number of goroutines.
	next := atomic.Int64{}
	var done atomic.Int64
	var mu sync.Mutex
	progress := time.Now()
	var gens sync.WaitGroup
	for range jobs {
		gens.Add(1)
		go func() {
			defer gens.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(lots) || ctx.Err() != nil {
					return
				}
				h := g.history(lots[i], i)
				for k, part := range [][][]any{h.reservations, h.payments, h.gateEvents} {
					select {
					case streams[k].rows <- part:
					case <-ctx.Done():
						return
					}
				}
				mu.Lock()
				counts.add(h.counts)
				d := done.Add(1)
				if time.Since(progress) > 10*time.Second || int(d) == len(lots) {
					progress = time.Now()
					el := time.Since(step)
					fmt.Fprintf(out, "history: %d/%d lots, %d reservations (%.0f/s), %d payments, %d gate events, %s\n",
						d, len(lots), counts.reservations, float64(counts.reservations)/el.Seconds(), counts.payments, counts.gateEvents, since(step))
				}
				mu.Unlock()
			}
		}()
	}
	gens.Wait()
	for _, s := range streams {
		close(s.rows)
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return counts, fmt.Errorf("%w (the database is incomplete: drop it and start again)", err)
	}
	fmt.Fprintf(out, "copy: %d reservations, %d payments, %d gate events in %s (%.0f rows/s)\n",
		streams[0].n.Load(), streams[1].n.Load(), streams[2].n.Load(), since(step),
		float64(streams[0].n.Load()+streams[1].n.Load()+streams[2].n.Load())/time.Since(step).Seconds())

	step = time.Now()
	if err := rebuild(ctx, t, ds, jobs, out); err != nil {
		return counts, fmt.Errorf("%w (the database is incomplete: drop it and start again)", err)
	}
	fmt.Fprintf(out, "indexes and constraints: %d in %s\n", len(ds), since(step))
	return counts, nil
}

// copy runs the stream's COPY until rows is closed.
func (s *copyStream) copy(ctx context.Context, conn *pgx.Conn) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "TRUNCATE "+pgx.Identifier{s.table}.Sanitize()); err != nil {
		return fmt.Errorf("%s: %w", s.table, err)
	}
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriterSize(pw, 1<<20)
		enc := copyEncoder{w: w}
		err := enc.header()
		for rows := range s.rows {
			for _, row := range rows {
				if err == nil {
					err = enc.row(row)
				}
			}
			s.n.Add(int64(len(rows)))
			if err != nil {
				break
			}
		}
		if err == nil {
			err = enc.trailer()
		}
		if err == nil {
			err = w.Flush()
		}
		// Drain, so that the generators never block on a failed stream.
		go func() {
			for range s.rows {
			}
		}()
		pw.CloseWithError(err)
	}()
	cols := make([]string, len(s.cols))
	for i, c := range s.cols {
		cols[i] = pgx.Identifier{c}.Sanitize()
	}
	_, err = conn.PgConn().CopyFrom(ctx, pr, fmt.Sprintf("COPY %s (%s) FROM STDIN WITH (FORMAT binary, FREEZE)",
		pgx.Identifier{s.table}.Sanitize(), strings.Join(cols, ", ")))
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("COPY %s: %w", s.table, err)
	}
	return tx.Commit(ctx)
}

// rebuild builds ds again, jobs statements at a time, the largest tables'
// first and every foreign key after every other statement.
func rebuild(ctx context.Context, t *target, ds []ddl, jobs int, out io.Writer) error {
	sizes := map[string]int64{}
	for _, d := range ds {
		if _, ok := sizes[d.table]; !ok {
			var n float64
			if err := t.pg.QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE oid = $1::regclass", d.table).Scan(&n); err != nil {
				return err
			}
			sizes[d.table] = int64(n)
		}
	}
	conns := []*pgx.Conn{}
	defer func() {
		for _, c := range conns {
			c.Close(context.Background())
		}
	}()
	for range jobs {
		c, err := t.connect(ctx)
		if err != nil {
			return err
		}
		// Sorts (index builds) and hashes (foreign key checks) of a few
		// hundred MB in memory, not on disk.
		if _, err := c.Exec(ctx, "SET maintenance_work_mem = '512MB'; SET work_mem = '256MB'"); err != nil {
			return err
		}
		conns = append(conns, c)
	}
	for _, foreign := range []bool{false, true} {
		var queue []ddl
		for _, d := range ds {
			if d.foreign == foreign {
				d.size = sizes[d.table]
				queue = append(queue, d)
			}
		}
		slices.SortStableFunc(queue, func(a, b ddl) int {
			if a.size != b.size {
				return -cmpInt(a.size, b.size)
			}
			return strings.Compare(a.name, b.name)
		})
		// Each connection takes the first statement that waits for no lock
		// another connection holds: with two connections on one table, an
		// ALTER TABLE would otherwise wait out the other's CREATE INDEX.
		var mu sync.Mutex
		cond := sync.NewCond(&mu)
		var running []ddl
		var first error
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mu.Lock()
				defer mu.Unlock()
				for {
					if len(queue) == 0 || first != nil {
						cond.Broadcast()
						return
					}
					k := slices.IndexFunc(queue, func(d ddl) bool {
						return !slices.ContainsFunc(running, d.conflicts)
					})
					if k < 0 {
						cond.Wait()
						continue
					}
					d := queue[k]
					queue = slices.Delete(queue, k, k+1)
					running = append(running, d)
					mu.Unlock()
					started := time.Now()
					_, err := c.Exec(ctx, d.create)
					mu.Lock()
					running = slices.DeleteFunc(running, func(e ddl) bool { return e.name == d.name && e.table == d.table })
					cond.Broadcast()
					if err != nil && first == nil {
						first = fmt.Errorf("%s: %w", d.create, err)
					}
					if err == nil {
						fmt.Fprintf(out, "  %s on %s: %s\n", d.name, d.table, since(started))
					}
				}
			}()
		}
		wg.Wait()
		if first != nil {
			return first
		}
	}
	return nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// copyEncoder writes rows in COPY's binary format. Each Go type stands for
// one column type: string for text (and char(n)), int16 for smallint, int64
// for bigint, time.Time for timestamptz, nil for NULL; a column of another
// type makes the COPY fail, not load wrong data.
type copyEncoder struct {
	w   *bufio.Writer
	buf [8]byte
}

// pgEpoch is where PostgreSQL's timestamps count from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func (e *copyEncoder) header() error {
	_, err := e.w.WriteString("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	return err
}

func (e *copyEncoder) trailer() error {
	_, err := e.w.Write([]byte{0xff, 0xff})
	return err
}

func (e *copyEncoder) u32(v uint32) {
	binary.BigEndian.PutUint32(e.buf[:4], v)
	e.w.Write(e.buf[:4])
}

func (e *copyEncoder) row(row []any) error {
	binary.BigEndian.PutUint16(e.buf[:2], uint16(len(row)))
	e.w.Write(e.buf[:2])
	for _, v := range row {
		switch v := v.(type) {
		case nil:
			e.u32(math.MaxUint32) // -1: NULL
		case string:
			e.u32(uint32(len(v)))
			e.w.WriteString(v)
		case int16:
			e.u32(2)
			binary.BigEndian.PutUint16(e.buf[:2], uint16(v))
			e.w.Write(e.buf[:2])
		case int64:
			e.u32(8)
			binary.BigEndian.PutUint64(e.buf[:8], uint64(v))
			e.w.Write(e.buf[:8])
		case time.Time:
			e.u32(8)
			binary.BigEndian.PutUint64(e.buf[:8], uint64(v.Sub(pgEpoch).Microseconds()))
			e.w.Write(e.buf[:8])
		default:
			rv := reflect.ValueOf(v)
			if rv.Kind() != reflect.String {
				return fmt.Errorf("parkgen: no COPY encoding for %T", v)
			}
			s := rv.String()
			e.u32(uint32(len(s)))
			e.w.WriteString(s)
		}
	}
	return nil
}
