package live_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"parkd/internal/live"
	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
	"parkd/internal/store/postgres"
	"parkd/internal/store/postgres/pgtest"
	"parkd/internal/store/storetest"
)

// Two instances on one PostgreSQL database: each is a store of its own on the
// same schema. Their connections carry an application_name of the test's own,
// so that the test can find the listening one.
func openInstances(t *testing.T) (a, b *postgres.Store, dsn, app string) {
	t.Helper()
	var r [4]byte
	rand.Read(r[:])
	app = "parkd_listen_" + hex.EncodeToString(r[:])
	schema := pgtest.SchemaDSN(t)
	dsn = pgtest.WithParam(schema, "application_name", app)
	open := func(dsn string) *postgres.Store {
		s, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	// a, the writer, under a name of its own: listenerPID finds b's LISTEN.
	return open(pgtest.WithParam(schema, "application_name", app+"_a")), open(dsn), dsn, app
}

// writer is instance a as parkd runs it: its changes go through its hub's
// waking store, which announces each commit that wrote events.
func writer(t *testing.T, a *postgres.Store) parking.Store {
	t.Helper()
	return startListeningHub(t, a).Waking(a)
}

// startListeningHub runs a hub whose polls, with or without a listener, are
// an hour apart: whatever reaches its subscribers within the test's bounds was
// announced.
func startListeningHub(t *testing.T, s *postgres.Store) *live.Hub {
	t.Helper()
	h := live.NewHub(slog.New(slog.NewTextHandler(io.Discard, nil)), s, parkingtest.NewClock(storetest.T0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { h.Run(ctx, time.Hour); done <- struct{}{} }()
	go func() { h.Listen(ctx, s, time.Hour); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	waitFor(t, "the hub to listen", h.Listening)
	return h
}

// waitFor polls cond until it holds, failing the test after a generous bound
// (a hang, not a speed check).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %s", what)
		}
	}
}

// listenerPID is the backend that LISTENs for the instances, 0 if none does.
func listenerPID(t *testing.T, dsn, app string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.WithParam(dsn, "application_name", "parkd_listen_test"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var pid int
	err = conn.QueryRow(ctx, `SELECT pid FROM pg_stat_activity
		WHERE application_name = $1 AND query LIKE 'LISTEN%' AND state = 'idle'`, app).Scan(&pid)
	if err == pgx.ErrNoRows {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestListenAcrossInstances: a hold made through one instance reaches the
// live subscribers of another at once, announced by NOTIFY, although that
// instance's hub polls only hourly.
func TestListenAcrossInstances(t *testing.T) {
	a, b, _, _ := openInstances(t)
	f := storetest.MustFixture(t, a)
	wa := writer(t, a)
	t0 := storetest.T0
	hub := startListeningHub(t, b)
	sub, err := hub.Subscribe(context.Background(), f.Lot.ID, t0, t0.Add(4*time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	// Two holds, each awaited: the hub's one wake when it began to listen
	// cannot deliver the second.
	for i := range 2 {
		from := t0.Add(time.Duration(i) * time.Hour)
		f.MustHold(t, wa, f.Spots[0].ID, t0, from, from.Add(time.Hour))
		if c := receive(t, sub, 1); len(c) == 1 && (c[0].Type != "claim" || c[0].Status != "held") {
			t.Errorf("change %d = %+v; want a held claim", i, c[0])
		}
	}
}

// TestListenReconnects: the listening connection killed, the hub connects
// again and misses nothing, neither the hold made while it did not listen nor
// the one made after.
func TestListenReconnects(t *testing.T) {
	a, b, dsn, app := openInstances(t)
	f := storetest.MustFixture(t, a)
	wa := writer(t, a)
	t0 := storetest.T0
	hub := startListeningHub(t, b)
	sub, err := hub.Subscribe(context.Background(), f.Lot.ID, t0, t0.Add(4*time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	var killed int
	waitFor(t, "the listening connection", func() bool { killed = listenerPID(t, dsn, app); return killed != 0 })
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var ok bool
	if err := conn.QueryRow(context.Background(), `SELECT pg_terminate_backend($1)`, killed).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", killed, ok, err)
	}
	f.MustHold(t, wa, f.Spots[0].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	if c := receive(t, sub, 1); len(c) == 1 && (c[0].Type != "claim" || c[0].Status != "held") {
		t.Errorf("change made while not listening = %+v; want a held claim", c[0])
	}
	var again int
	waitFor(t, "a new listening connection", func() bool { again = listenerPID(t, dsn, app); return again != 0 && again != killed })
	f.MustHold(t, wa, f.Spots[1].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	if c := receive(t, sub, 1); len(c) == 1 && (c[0].Type != "claim" || c[0].Status != "held") {
		t.Errorf("change made after listening again = %+v; want a held claim", c[0])
	}
}

// TestEmptySweepAnnouncesNothing: a sweep that changes nothing sends no NOTIFY
// (instances that wait for announcements would otherwise never rest), nor
// does a store's commit by itself; a hold through the waking store does, once
// it has committed.
func TestEmptySweepAnnouncesNothing(t *testing.T) {
	ctx := context.Background()
	a, _, dsn, _ := openInstances(t)
	f := storetest.MustFixture(t, a)
	wa := writer(t, a)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "LISTEN parkd_events"); err != nil {
		t.Fatal(err)
	}
	next := func() string {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		n, err := conn.WaitForNotification(wctx)
		if err != nil {
			t.Fatalf("WaitForNotification: %v", err)
		}
		return n.Payload
	}
	t0 := storetest.T0
	if _, err := wa.ExpireHolds(ctx, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := wa.MarkNoShows(ctx, f.Lot.ID, t0, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := wa.FlagOverstays(ctx, f.Lot.ID, t0, t0); err != nil {
		t.Fatal(err)
	}
	f.MustHold(t, a, f.Spots[0].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour)) // the bare store: no announcement
	// Notifications arrive in commit order: the sentinel comes first only if
	// nothing before it announced.
	if _, err := conn.Exec(ctx, "SELECT pg_notify('parkd_events', 'sentinel')"); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "sentinel" {
		t.Fatalf("first notification after three empty sweeps and a bare hold = %q; want the sentinel", got)
	}
	f.MustHold(t, wa, f.Spots[1].ID, t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	if got := next(); got != "" {
		t.Errorf("notification after a hold = %q; want Announce's empty one", got)
	}
}
