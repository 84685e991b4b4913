package parkingtest_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"parkd/internal/parking"
	"parkd/internal/parking/parkingtest"
)

// recorder is a test whose failures and cleanups are kept.
type recorder struct {
	testing.TB
	errors   []string
	cleanups []func()
}

func (r *recorder) Helper()          {}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(format string, a ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, a...))
}

// TestLoggerCatchesCardNumbers: a card number logged fails the test when it
// ends, without the failure showing the number; clean lines pass through.
func TestLoggerCatchesCardNumbers(t *testing.T) {
	for _, c := range []struct {
		msg  string
		fail bool
	}{{"pay 4242 4242 4242 4242", true}, {"pay pm_card_visa", false}} {
		rec := &recorder{TB: t}
		var out bytes.Buffer
		log := parkingtest.Logger(rec)
		watched := parkingtest.CardWatch(rec, &out)
		log.Info(c.msg, "path", "/api/v1/lots/x")
		fmt.Fprintln(watched, c.msg)
		for _, f := range rec.cleanups {
			f()
		}
		if got := len(rec.errors) > 0; got != c.fail {
			t.Errorf("logging %q: failures %q; want failing %v", c.msg, rec.errors, c.fail)
		}
		for _, e := range rec.errors {
			if parking.FindCardNumber(e) != "" || !strings.Contains(e, "card number") {
				t.Errorf("failure %q; want it to name a card number without showing it", e)
			}
		}
		if out.String() != c.msg+"\n" {
			t.Errorf("CardWatch passed on %q; want %q", out.String(), c.msg+"\n")
		}
	}
}
