package main

import (
	"bytes"
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"parkd/internal/parking"
	"parkd/internal/store/teststore"
)

// TestGenerate makes a small data set on each backend parkgen loads and reads
// it back through parkd's store: every lot and spot is there, and every past
// reservation has the payments its ending calls for.
func TestGenerate(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		if b.Name == "mysql" {
			return // parkgen loads PostgreSQL and SQLite
		}
		dsn := b.DSN(t)
		var out bytes.Buffer
		args := []string{"--db", dsn, "--lots", "3", "--levels", "2", "--spots-per-level", "30", "--users", "40", "--days", "20", "--per-spot-day", "0.5"}
		if err := run(context.Background(), args, &out); err != nil {
			t.Fatalf("parkgen: %v\n%s", err, out.String())
		}
		t.Log(out.String())
		if !strings.Contains(out.String(), "done in") {
			t.Fatalf("no summary:\n%s", out.String())
		}
		store := b.OpenDSN(t, dsn)
		ctx := context.Background()
		lots, err := store.Lots(ctx)
		if err != nil || len(lots) != 3 {
			t.Fatalf("lots = %d, %v; want 3", len(lots), err)
		}
		statuses := map[parking.Status]int{}
		for _, lot := range lots {
			spots, err := store.Spots(ctx, lot.ID)
			if err != nil || len(spots) != 60 {
				t.Fatalf("%s: %d spots, %v; want 60", lot.Name, len(spots), err)
			}
			now := time.Now()
			rs, err := store.LotReservations(ctx, lot.ID, now.AddDate(0, 0, -30), now)
			if err != nil {
				t.Fatal(err)
			}
			// About 0.5 a spot a day over 20 days.
			if len(rs) < 60*20/4 || len(rs) > 60*20 {
				t.Errorf("%s: %d reservations, want about %d", lot.Name, len(rs), 60*20/2)
			}
			for i, r := range rs {
				statuses[r.Status]++
				if r.Status.Active() || !r.EndsAt.Before(now) {
					t.Errorf("%s is %s, ending %s: history must be over", r.ID, r.Status, r.EndsAt)
				}
				if i%10 != 0 {
					continue // payments of a sample
				}
				ps, err := store.ReservationPayments(ctx, r.ID)
				if err != nil {
					t.Fatal(err)
				}
				var kinds []string
				for _, p := range ps {
					if p.Status != parking.PaymentSucceeded {
						t.Errorf("%s: payment %s is %s", r.ID, p.ID, p.Status)
					}
					kinds = append(kinds, p.Kind)
				}
				slices.Sort(kinds)
				want := map[parking.Status][]string{
					parking.StatusCompleted: {parking.Charge},
					parking.StatusNoShow:    {parking.Charge},
					parking.StatusCancelled: {parking.Charge, parking.Refund},
					parking.StatusExpired:   nil,
				}[r.Status]
				if !slices.Equal(kinds, want) {
					t.Errorf("%s (%s): payments %v, want %v", r.ID, r.Status, kinds, want)
				}
			}
		}
		for _, s := range []parking.Status{parking.StatusCompleted, parking.StatusCancelled, parking.StatusNoShow, parking.StatusExpired} {
			if statuses[s] == 0 {
				t.Errorf("no %s reservation among %v", s, statuses)
			}
		}
		if err := run(ctx, args, &out); err == nil || !strings.Contains(err.Error(), "already has 3 lots") {
			t.Errorf("a second run into the same database: %v, want a refusal", err)
		}
		if b.Name == "sqlite" {
			// The load dropped the history tables' indexes and made them
			// again: the schema must be the migrations'.
			fresh := b.DSN(t)
			b.OpenDSN(t, fresh) // migrated
			if got, want := mustLiteSchema(t, dsn), mustLiteSchema(t, fresh); !slices.Equal(got, want) {
				t.Errorf("after the load:\n%s\nmigrated:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
		if b.Name == "postgres" {
			// The load dropped the history tables' indexes, constraints and
			// triggers and made them again: they must be the migrations'.
			fresh := b.DSN(t)
			b.OpenDSN(t, fresh) // migrated
			got, want := mustBulkDDL(t, dsn), mustBulkDDL(t, fresh)
			if !slices.Equal(got, want) {
				t.Errorf("after the load:\n%s\nmigrated:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if len(want) < 20 {
				t.Errorf("only %d indexes, constraints and triggers on the history tables:\n%s", len(want), strings.Join(want, "\n"))
			}
		}
	})
}

// mustBulkDDL lists the statements that make the indexes, constraints and
// triggers of the history tables of the PostgreSQL database at dsn, without
// the schema's name.
func mustBulkDDL(t *testing.T, dsn string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	ds, err := bulkDDL(ctx, conn)
	if err != nil {
		t.Fatalf("bulkDDL: %v", err)
	}
	// Each test database is a schema of its own, which names the tables.
	var schema string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ds {
		out = append(out, strings.ReplaceAll(d.create, " "+schema+".", " "))
	}
	return out
}

// TestSameSeedSameData: the data set is drawn from --seed alone.
func TestSameSeedSameData(t *testing.T) {
	c := config{lots: 2, levels: 1, perLevel: 25, users: 10, days: 5, perSpotDay: 1, seed: 7}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	rows := func() [][]any {
		g := newGenerator(c, now)
		lot := genLot{lot: parking.Lot{ID: "lot_x", Currency: "USD", Policy: parking.DefaultPolicy()},
			spots: []parking.Spot{{ID: "spt_a", Size: parking.Standard}, {ID: "spt_b", Size: parking.Compact}}}
		return g.history(lot, 1).reservations
	}
	a, b := rows(), rows()
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%d and %d reservations", len(a), len(b))
	}
	for i := range a {
		if a[i][0] != b[i][0] || !a[i][6].(time.Time).Equal(b[i][6].(time.Time)) {
			t.Fatalf("row %d differs: %v and %v", i, a[i][:7], b[i][:7])
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"--db", "x.db", "--lots", "0"}, {"--db", "mysql://root@127.0.0.1/test"}, {"--bogus"}} {
		if err := run(context.Background(), args, &bytes.Buffer{}); err != errUsage {
			t.Errorf("parkgen %v = %v, want a usage error", args, err)
		}
	}
}

// mustLiteSchema lists the SQLite database's tables, indexes and triggers as
// sqlite_master keeps them (ANALYZE's own tables aside).
func mustLiteSchema(t *testing.T, path string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%' ORDER BY type, name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil || len(out) < 20 {
		t.Fatalf("sqlite_master: %d rows, %v", len(out), err)
	}
	return out
}
