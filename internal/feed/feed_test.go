package feed_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"parkd/internal/feed"
	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
	mysqlstore "parkd/internal/store/mysql"
	"parkd/internal/store/mysql/mysqltest"
	"parkd/internal/store/postgres"
	"parkd/internal/store/postgres/pgtest"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

var ctx = context.Background()

func mustPoll(t *testing.T, tl *feed.Tailer) []parking.Event {
	t.Helper()
	es, err := tl.Poll(ctx)
	if err != nil {
		t.Fatalf("Poll() = %v", err)
	}
	return es
}

func seqs(es []parking.Event) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

// TestTailerReturnsEachEventOnce: on every backend, a Tailer started now
// returns the events written after it started, each once, across pages.
func TestTailerReturnsEachEventOnce(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		s := b.Open(t)
		f := storetest.MustFixture(t, s)
		t0 := storetest.T0
		f.MustHold(t, s, f.Spots[0].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))

		tl, err := feed.Start(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		tl.Limit = 2 // several pages per poll
		if es := mustPoll(t, tl); len(es) != 0 {
			t.Errorf("Poll() before any change = %v; want none (the hold came before Start)", seqs(es))
		}
		for i := 1; i <= 5; i++ {
			f.MustHold(t, s, f.Spots[i].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
		}
		es := mustPoll(t, tl)
		if len(es) != 5 {
			t.Fatalf("Poll() = %v; want the 5 holds", seqs(es))
		}
		for i, e := range es {
			if e.Type != "reservation.held" || (i > 0 && e.Seq <= es[i-1].Seq) {
				t.Errorf("Poll()[%d] = %+v; want reservation.held in seq order", i, e)
			}
		}
		if again := mustPoll(t, tl); len(again) != 0 {
			t.Errorf("second Poll() = %v; want none", seqs(again))
		}
		if tl.Cursor() != es[4].Seq {
			t.Errorf("Cursor() = %d; want %d", tl.Cursor(), es[4].Seq)
		}

		// A durable reader resumes from its cursor.
		resumed := feed.NewTailer(s, es[2].Seq)
		if got := mustPoll(t, resumed); len(got) != 2 || got[0].Seq != es[3].Seq {
			t.Errorf("Poll() after cursor %d = %v; want the last 2", es[2].Seq, seqs(got))
		}
	})
}

// eventTx is a transaction that writes outbox events as the stores do.
type eventTx struct {
	insert           func(typ string) int64
	commit, rollback func() error
}

// TestTailerOutOfOrderCommits: on PostgreSQL and on MariaDB a lower seq can
// commit after a higher one (a sequence value or an AUTO_INCREMENT is taken at
// the insert, not at the commit). The Tailer returns it when it turns up, and
// its cursor waits for it; a seq whose transaction rolled back is given up
// after the grace period.
func TestTailerOutOfOrderCommits(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.SchemaDSN(t)
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		testTailerOutOfOrderCommits(t, s, func() eventTx {
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close(ctx) })
			tx, err := c.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return eventTx{
				insert: func(typ string) int64 {
					t.Helper()
					var seq int64
					if err := tx.QueryRow(ctx, `INSERT INTO events (lot_id, type, at) VALUES ('lot_x', $1, now()) RETURNING seq`, typ).Scan(&seq); err != nil {
						t.Fatal(err)
					}
					return seq
				},
				commit:   func() error { return tx.Commit(ctx) },
				rollback: func() error { return tx.Rollback(ctx) },
			}
		})
	})
	t.Run("mysql", func(t *testing.T) {
		dsn := mysqltest.DatabaseDSN(t)
		s, err := mysqlstore.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		cfg, _, err := mysqlstore.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(conn)
		t.Cleanup(func() { db.Close() })
		testTailerOutOfOrderCommits(t, s, func() eventTx {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			return eventTx{
				insert: func(typ string) int64 {
					t.Helper()
					res, err := tx.ExecContext(ctx, `INSERT INTO events (lot_id, type, at) VALUES ('lot_x', ?, UTC_TIMESTAMP(6))`, typ)
					if err != nil {
						t.Fatal(err)
					}
					seq, err := res.LastInsertId()
					if err != nil {
						t.Fatal(err)
					}
					return seq
				},
				commit:   tx.Commit,
				rollback: tx.Rollback,
			}
		})
	})
}

func testTailerOutOfOrderCommits(t *testing.T, s parking.Store, begin func() eventTx) {
	clock := parkingtest.NewClock(storetest.T0)
	tl, err := feed.Start(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	tl.Clock = clock
	tl.Grace = 10 * time.Second

	slowTx := begin()
	lateSeq := slowTx.insert("late")
	abortTx := begin()
	abortedSeq := abortTx.insert("aborted")
	fast := begin()
	firstSeq := fast.insert("first") // commits at once, above the two in flight
	if err := fast.commit(); err != nil {
		t.Fatal(err)
	}
	base := tl.Cursor()

	if got := mustPoll(t, tl); len(got) != 1 || got[0].Seq != firstSeq {
		t.Fatalf("Poll() = %v; want only %d", seqs(got), firstSeq)
	}
	if tl.Cursor() != base {
		t.Errorf("Cursor() = %d with %d and %d in flight; want it to stay at %d", tl.Cursor(), lateSeq, abortedSeq, base)
	}

	if err := slowTx.commit(); err != nil {
		t.Fatal(err)
	}
	if err := abortTx.rollback(); err != nil {
		t.Fatal(err)
	}
	if got := mustPoll(t, tl); len(got) != 1 || got[0].Seq != lateSeq || got[0].Type != "late" {
		t.Fatalf("Poll() after the late commit = %v; want %d", seqs(got), lateSeq)
	}
	if tl.Cursor() != abortedSeq-1 {
		t.Errorf("Cursor() = %d; want %d, below the rolled-back seq still looked for", tl.Cursor(), abortedSeq-1)
	}

	clock.Advance(11 * time.Second)
	if got := mustPoll(t, tl); len(got) != 0 {
		t.Errorf("Poll() after the grace = %v; want none", seqs(got))
	}
	if tl.Cursor() != firstSeq {
		t.Errorf("Cursor() after the grace = %d; want %d", tl.Cursor(), firstSeq)
	}
}
