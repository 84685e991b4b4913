package mysql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"parkd/internal/parking"
	"parkd/internal/store/mysql/mysqltest"
	"parkd/internal/store/storetest"
)

// TestGateEventsAppendOnly: the triggers refuse to change or delete the gate log.
func TestGateEventsAppendOnly(t *testing.T) {
	s := mustOpen(t, mysqltest.DatabaseDSN(t))
	ctx := context.Background()
	f := storetest.MustFixture(t, s)
	e := parking.GateEvent{ID: parking.NewID("gev"), LotID: f.Lot.ID, GateID: "gte_1", Direction: parking.Entry, Decision: parking.Open, At: storetest.T0}
	if err := s.RecordGateEvent(ctx, &e); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE gate_events SET reason = 'x'`, `DELETE FROM gate_events`} {
		if _, err := s.db.ExecContext(ctx, q); err == nil {
			t.Errorf("%s = nil; want the trigger to refuse it", q)
		}
	}
	if es, err := s.GateEvents(ctx, f.Lot.ID, parking.GateEventFilter{}); err != nil || len(es) != 1 || es[0].Reason != "" {
		t.Errorf("GateEvents() = %+v, %v; want the event unchanged", es, err)
	}
}

func TestParseDSN(t *testing.T) {
	cfg, pool, err := ParseDSN("mysql://ada:s%3Acret@db.example:3307/parkd?pool_max_conns=5&tls=skip-verify&timeout=3s&sql_mode=%27ANSI%27")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.User != "ada" || cfg.Passwd != "s:cret" || cfg.Addr != "db.example:3307" || cfg.DBName != "parkd" || pool != 5 {
		t.Errorf("ParseDSN = user %q pass %q addr %q db %q pool %d", cfg.User, cfg.Passwd, cfg.Addr, cfg.DBName, pool)
	}
	if cfg.TLSConfig != "skip-verify" || cfg.Timeout != 3*time.Second || cfg.Params["sql_mode"] != "'ANSI'" {
		t.Errorf("ParseDSN options = tls %q timeout %v params %v; want the driver's options from the URL", cfg.TLSConfig, cfg.Timeout, cfg.Params)
	}
	if !cfg.ParseTime || cfg.Loc != time.UTC || !cfg.ClientFoundRows || !cfg.InterpolateParams || cfg.Params["time_zone"] != "'+00:00'" {
		t.Errorf("ParseDSN settings = %+v; want parseTime, UTC, found rows, interpolation", cfg)
	}
	if cfg, _, err := ParseDSN("mysql://root@localhost/parkd"); err != nil || cfg.Addr != "localhost:3306" {
		t.Errorf("ParseDSN(no port) = %v, %v; want localhost:3306", cfg, err)
	}
	for _, bad := range []string{"mysql://root@localhost", "mysql://root@localhost/db?pool_max_conns=0"} {
		if _, _, err := ParseDSN(bad); err == nil {
			t.Errorf("ParseDSN(%q) = nil; want an error", bad)
		}
	}
	if _, _, err := ParseDSN("root@tcp(127.0.0.1:3306)/parkd"); err != nil {
		t.Errorf("ParseDSN(driver form) = %v; want nil", err)
	}
}

func TestUnavailable(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&mysql.MySQLError{Number: 1290}, true}, // --read-only
		{&mysql.MySQLError{Number: 1836}, true}, // read-only mode
		{&mysql.MySQLError{Number: 1053}, true}, // server shutdown
		{mysql.ErrInvalidConn, true},
		{driver.ErrBadConn, true},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{&mysql.MySQLError{Number: 1062}, false}, // a duplicate is the request's fault
		{sql.ErrNoRows, false},
		{nil, false},
	} {
		if got := Unavailable(c.err); got != c.want {
			t.Errorf("Unavailable(%v) = %v; want %v", c.err, got, c.want)
		}
	}
}
