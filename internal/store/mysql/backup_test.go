package mysql

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"parkd/internal/parking"
	"parkd/internal/store/mysql/mysqltest"
	"parkd/internal/store/storetest"
)

// TestBackupRoundTrip: what a restore loads reads back as it was stored,
// values of every kind (times to the microsecond, floats, binary, NULLs), and
// the outbox goes on numbering after the restored events.
func TestBackupRoundTrip(t *testing.T) {
	ctx := context.Background()
	dsn := mysqltest.DatabaseDSN(t)
	s := mustOpen(t, dsn)
	f := storetest.MustFixture(t, s)
	u := storetest.MustUser(t, s, "ada@example.com")
	f.Spots[0].Amenities, f.Spots[0].Lat = []string{"ev", "covered"}, 40.712776123456789
	if err := s.UpdateSpot(ctx, &f.Spots[0]); err != nil {
		t.Fatal(err)
	}
	t0 := storetest.T0.Add(123456 * time.Microsecond)
	r := f.NewHold(t0, t0.Add(time.Hour), t0.Add(2*time.Hour))
	r.UserID = u.ID
	if err := s.Hold(ctx, r, []string{f.Spots[0].ID}, nil); err != nil {
		t.Fatal(err)
	}
	p := storetest.NewCharge(*r, t0)
	if err := s.CreatePayment(ctx, p); err != nil {
		t.Fatal(err)
	}
	keys, err := s.EnsurePassKey(ctx, parking.PassKey{ID: "pk_1", Secret: []byte{0, 1, 2, 255, '\'', '\\'}, CreatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	n := parking.Notification{ID: parking.NewID("ntf"), DedupeKey: "d1", Channel: parking.ChannelWebhook, Kind: "receipt",
		OperatorID: f.Operator.ID, DueAt: t0, Payload: []byte(`{"a":1}`), CreatedAt: t0}
	if _, err := s.AddNotifications(ctx, []parking.Notification{n}, "notifications", 7); err != nil {
		t.Fatal(err)
	}
	e := parking.GateEvent{ID: parking.NewID("gev"), LotID: f.Lot.ID, GateID: "gte_1", Direction: parking.Entry, ReservationID: r.ID,
		Decision: parking.Open, At: t0}
	if err := s.RecordGateEvent(ctx, &e); err != nil {
		t.Fatal(err)
	}
	lastSeq, _ := s.LastEventSeq(ctx)

	file := filepath.Join(t.TempDir(), "parkd.backup")
	if err := Backup(ctx, dsn, file); err != nil {
		t.Fatalf("Backup = %v", err)
	}
	target := mysqltest.DatabaseDSN(t)
	if err := Restore(ctx, target, file, false); err != nil {
		t.Fatalf("Restore = %v", err)
	}
	got := mustOpen(t, target)
	for name, pair := range map[string][2]any{
		"lot":          {must(s.Lot(ctx, f.Lot.ID)), must(got.Lot(ctx, f.Lot.ID))},
		"spots":        {must(s.Spots(ctx, f.Lot.ID)), must(got.Spots(ctx, f.Lot.ID))},
		"user":         {must(s.User(ctx, u.ID)), must(got.User(ctx, u.ID))},
		"reservation":  {must(s.Reservation(ctx, r.ID)), must(got.Reservation(ctx, r.ID))},
		"payment":      {must(s.Payment(ctx, p.ID)), must(got.Payment(ctx, p.ID))},
		"notification": {must(s.Notification(ctx, n.ID)), must(got.Notification(ctx, n.ID))},
		"gate events":  {must(s.GateEvents(ctx, f.Lot.ID, parking.GateEventFilter{})), must(got.GateEvents(ctx, f.Lot.ID, parking.GateEventFilter{}))},
		"events":       {must(s.EventsSince(ctx, 0, nil, 0)), must(got.EventsSince(ctx, 0, nil, 0))},
		"pass keys":    {keys, must(got.EnsurePassKey(ctx, parking.PassKey{ID: "pk_2", Secret: []byte{9}, CreatedAt: t0}))},
		"cursor":       {must(s.NotifyCursor(ctx, "notifications")), must(got.NotifyCursor(ctx, "notifications"))},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("%s restored = %+v; want %+v", name, pair[1], pair[0])
		}
	}
	// The unique rules hold on the restored rows: a second live charge is refused.
	if err := got.CreatePayment(ctx, storetest.NewCharge(*r, t0)); parking.ErrorCode(err) != parking.ECONFLICT {
		t.Errorf("a second live charge after the restore = %v; want conflict", err)
	}
	if err := got.SetSpotInService(ctx, f.Spots[1].ID, false, t0); err != nil {
		t.Fatal(err)
	}
	if seq, _ := got.LastEventSeq(ctx); seq != lastSeq+1 {
		t.Errorf("the first event after the restore has seq %d; want %d", seq, lastSeq+1)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestRestoreRefuses: a damaged or cut backup, or a database that holds
// tables that are not parkd's, changes nothing.
func TestRestoreRefuses(t *testing.T) {
	ctx := context.Background()
	dsn := mysqltest.DatabaseDSN(t)
	storetest.MustFixture(t, mustOpen(t, dsn))
	dir := t.TempDir()
	file := filepath.Join(dir, "parkd.backup")
	if err := Backup(ctx, dsn, file); err != nil {
		t.Fatal(err)
	}
	whole, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.backup")
	if err := os.WriteFile(cut, whole[:len(whole)*2/3], 0o600); err != nil {
		t.Fatal(err)
	}
	junk := filepath.Join(dir, "junk.backup")
	if err := os.WriteFile(junk, []byte("not a backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ file, want string }{
		{cut, "incomplete or damaged"},
		{junk, "not a parkd MariaDB/MySQL backup"},
		{filepath.Join(dir, "missing"), "no backup at"},
	} {
		target := mysqltest.DatabaseDSN(t)
		if err := Restore(ctx, target, tt.file, false); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Restore(%s) = %v; want %q", filepath.Base(tt.file), err, tt.want)
		}
		var tables int
		if err := rawDB(t, target).QueryRow(`SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()`).Scan(&tables); err != nil || tables != 0 {
			t.Errorf("after Restore(%s): %d tables, %v; want none", filepath.Base(tt.file), tables, err)
		}
	}
	other := mysqltest.DatabaseDSN(t)
	if _, err := rawDB(t, other).Exec(`CREATE TABLE accounts (id INT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if err := Restore(ctx, other, file, true); err == nil || !strings.Contains(err.Error(), "not parkd's") {
		t.Errorf("Restore into a database of someone else's tables = %v; want a refusal", err)
	}
	if err := Backup(ctx, dsn, file); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("Backup to an existing file = %v; want a refusal", err)
	}
}
