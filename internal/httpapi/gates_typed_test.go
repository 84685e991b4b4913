package httpapi_test

import (
	"testing"
	"time"

	"parkd/internal/gate"
	"parkd/internal/parking"
	"parkd/internal/store/teststore"
)

// TestTypedCodeAnswersAsQR: a pass's code typed on the keypad gets the answer
// its QR code gets, a day early, in its window and long after it.
func TestTypedCodeAnswersAsQR(t *testing.T) {
	teststore.Each(t, func(t *testing.T, b teststore.Backend) {
		e := newAPI(t, b)
		ada := signUp(t, e.srv.URL, "Ada", "ada@example.com")
		in, entry := mustGate(t, e, parking.Entry)
		out, exit := mustGate(t, e, parking.Exit)
		_, p := paidPass(t, e, ada, 5, 30, 32) // tomorrow
		both := func(c *client, g parking.Gate, when, wantReason string) {
			t.Helper()
			qr := scan(t, c, g, map[string]any{"code": p.Code})
			typed := scan(t, c, g, map[string]any{"code": p.ManualCode})
			if qr.Reason != wantReason || typed.Reason != qr.Reason || typed.Message != qr.Message {
				t.Errorf("%s at the %s: QR = %s %q, typed = %s %q; want both %s", when, g.Direction, qr.Reason, qr.Message,
					typed.Reason, typed.Message, wantReason)
			}
		}
		// A day early: too early at the entry, not inside at the exit,
		// typed or scanned.
		both(in, entry, "a day early", gate.ReasonTooEarly)
		both(out, exit, "a day early", gate.ReasonNotInside)
		// In the window: the typed code lets the car in and out, as lower
		// case with spaces, the way people type.
		e.clock.Advance(30 * time.Hour)
		if d := scan(t, in, entry, map[string]any{"code": " " + lower(p.ManualCode) + " "}); d.Decision != "open" || d.Reason != gate.ReasonOK {
			t.Fatalf("typed code in its window = %+v; want open", d)
		}
		both(in, entry, "inside", gate.ReasonAlreadyInside)
		e.clock.Advance(time.Hour)
		if d := scan(t, out, exit, map[string]any{"code": p.ManualCode}); d.Decision != "open" {
			t.Fatalf("typed code at the exit = %+v; want open", d)
		}
		// Long after: expired, typed or scanned.
		e.clock.Advance(30 * 24 * time.Hour)
		both(in, entry, "a month after", gate.ReasonPassExpired)
		both(out, exit, "a month after", gate.ReasonPassExpired)
		// A wrong code is still no pass.
		if d := scan(t, in, entry, map[string]any{"code": "0000-0000"}); d.Reason != gate.ReasonInvalidPass {
			t.Errorf("a wrong typed code = %+v; want invalid_pass", d)
		}
	})
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
