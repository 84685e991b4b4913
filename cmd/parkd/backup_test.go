package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"parkd/internal/demo"
	"parkd/internal/store/mysql/mysqltest"
	"parkd/internal/store/postgres/pgtest"
	"parkd/internal/store/storetest"
	"parkd/internal/store/teststore"
)

// restoreTarget returns the address of a new, empty database of the same
// backend as dsn, to restore a backup of dsn into.
func restoreTarget(t *testing.T, b teststore.Backend, dsn string) string {
	switch b.Name {
	case "sqlite":
		return filepath.Join(t.TempDir(), "restored.db")
	case "mysql":
		return mysqltest.DatabaseDSN(t)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema, _, _ := strings.Cut(u.Query().Get("search_path"), ",")
	return pgtest.DatabaseDSN(t, schema)
}

const loadDrivers = 4

// bookingLoad books, pays and sometimes cancels in the garage from several
// goroutines until stop is closed, like drivers at a busy hour. It counts the
// holds the server accepted.
func bookingLoad(t *testing.T, base, garage string, stop <-chan struct{}, holds *atomic.Int64) *sync.WaitGroup {
	var wg sync.WaitGroup
	c := &api{t: t, base: base}
	var sess struct{ Token string }
	c.call(201, "POST", "/api/v1/sessions", map[string]string{"email": demo.DriverEmail, "password": demo.DriverPassword}, &sess)
	for w := range loadDrivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 18))
			day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 2+w)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := day.Add(time.Duration(rnd.IntN(20)) * time.Hour)
				body := fmt.Sprintf(`{"lot_id":%q,"plate":"LOAD%d","size":"SEDAN","starts_at":%q,"ends_at":%q}`,
					garage, w, start.Format(time.RFC3339), start.Add(time.Duration(1+rnd.IntN(3))*time.Hour).Format(time.RFC3339))
				status, res := post(base, "/api/v1/reservations", sess.Token, body, fmt.Sprintf("load-%d-%d", w, i))
				if status != 201 {
					continue // the garage is full for that window: another driver's turn
				}
				holds.Add(1)
				id := jsonField(res, "id")
				if rnd.IntN(4) == 0 {
					continue // left to expire
				}
				post(base, "/api/v1/reservations/"+id+"/payments", sess.Token, `{"payment_method":"pm_card_visa"}`, fmt.Sprintf("pay-%d-%d", w, i))
				if rnd.IntN(3) == 0 {
					post(base, "/api/v1/reservations/"+id+"/cancel", sess.Token, `{}`, fmt.Sprintf("cancel-%d-%d", w, i))
				}
			}
		}()
	}
	return &wg
}

// TestBackupUnderLoad is acceptance 2: a backup taken while bookings are being
// written, restored into a new database, holds every invariant, lies between
// what was booked when it began and when it ended, and serves.
func TestBackupUnderLoad(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		dsn := b.DSN(t)
		base := startParkd(t, "--db", dsn)
		garage := demoGarage(t, base)
		stop := make(chan struct{})
		var holds atomic.Int64
		load := bookingLoad(t, base, garage, stop, &holds)
		defer func() { close(stop); load.Wait() }()
		for holds.Load() < 30 {
			time.Sleep(10 * time.Millisecond)
		}

		file := filepath.Join(t.TempDir(), "parkd.backup")
		before := holds.Load()
		if out, errs, code := runCLI(t, "backup", "--db", dsn, file); code != 0 {
			t.Fatalf("parkd backup = exit %d: %s%s", code, out, errs)
		}
		after := holds.Load()
		for holds.Load() < after+10 { // and the bookings go on
			time.Sleep(10 * time.Millisecond)
		}
		if _, errs, code := runCLI(t, "backup", "--db", dsn, file); code != 1 || !strings.Contains(errs, "exists already") {
			t.Errorf("a second backup to the same file: exit %d, %q; want 1, exists already", code, errs)
		}
		if _, errs, code := runCLI(t, "restore", "--force", "--db", dsn, file); code != 1 || !strings.Contains(errs, "in use") {
			t.Errorf("restore --force over the database parkd serves: exit %d, %q; want 1, in use", code, errs)
		}

		target := restoreTarget(t, b, dsn)
		if out, errs, code := runCLI(t, "restore", "--db", target, file); code != 0 {
			t.Fatalf("parkd restore = exit %d: %s%s", code, out, errs)
		}
		if _, errs, code := runCLI(t, "restore", "--db", target, file); code != 1 || !strings.Contains(errs, "--force") {
			t.Errorf("restore over a restored database without --force: exit %d, %q; want 1 and a word about --force", code, errs)
		}
		restored := b.OpenDSN(t, target)
		violations, err := storetest.Violations(context.Background(), restored)
		if err != nil {
			t.Fatalf("Violations(restored) = %v", err)
		}
		for _, v := range violations {
			t.Errorf("restored database: %s", v)
		}
		lots, err := restored.Lots(context.Background())
		if err != nil || len(lots) != 2 {
			t.Fatalf("restored lots = %d, %v; want the demo's 2", len(lots), err)
		}
		rs, err := restored.LotReservations(context.Background(), garage, time.Now().Add(-time.Hour), time.Now().AddDate(0, 1, 0))
		if err != nil {
			t.Fatal(err)
		}
		// A hold answered after the backup ended may have committed before
		// its snapshot: one per driver may be in flight.
		if n := int64(len(rs)); n < before || n > after+loadDrivers {
			t.Errorf("restored %d reservations; want between %d (booked when the backup began) and %d (when it ended, and %d in flight)", n, before, after, loadDrivers)
		}
		t.Logf("%s: backup began after %d holds, ended after %d; %d restored, every invariant holds", b.Name, before, after, len(rs))
		restored.Close()
		// Replacing a database nobody uses is what --force is for.
		if out, errs, code := runCLI(t, "restore", "--force", "--db", target, file); code != 0 {
			t.Fatalf("parkd restore --force over an unused database = exit %d: %s%s", code, out, errs)
		}

		again := &api{t: t, base: startParkd(t, "--db", target)}
		var got struct{ Lots []struct{ ID string } }
		again.call(200, "GET", "/api/v1/lots", nil, &got)
		if len(got.Lots) != 2 {
			t.Errorf("parkd on the restored database serves %d lots; want 2", len(got.Lots))
		}
	})
}

// pendingState finds a migration whose STATE column says pending (a name such
// as 0013_pending_refunds.sql is no pending migration).
var pendingState = regexp.MustCompile(`(?m)\.sql\s+pending(\s|$)`)

func TestMigrateStatus(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		dsn := b.DSN(t)
		if b.Name == "sqlite" {
			if _, errs, code := runCLI(t, "migrate", "status", "--db", dsn); code != 1 || !strings.Contains(errs, "no database at") {
				t.Errorf("migrate status of a missing file: exit %d, %q; want 1, no database", code, errs)
			}
			b.OpenDSN(t, dsn).Close() // creates it, migrated
		} else {
			out, errs, code := runCLI(t, "migrate", "status", "--db", dsn)
			if code != 1 || !strings.Contains(out, "0001") || !pendingState.MatchString(out) || !strings.Contains(errs, "migrations pending") {
				t.Errorf("migrate status of an empty database: exit %d, %s%s; want 1 and every migration pending", code, out, errs)
			}
			if out, errs, code := runCLI(t, "migrate", "up", "--db", dsn); code != 0 {
				t.Fatalf("migrate up: exit %d, %s%s", code, out, errs)
			}
		}
		out, errs, code := runCLI(t, "migrate", "status", "--db", dsn)
		if code != 0 || pendingState.MatchString(out) || !strings.Contains(out, "0008_operations.sql") || errs != "" {
			t.Errorf("migrate status of a migrated database: exit %d:\n%s%s; want 0, all applied", code, out, errs)
		}
	})
}
