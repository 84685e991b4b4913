package parkingtest

import (
	"bytes"
	"io"
	"log/slog"
	"sync"
	"testing"

	"parkd/internal/parking"
)

// Logger returns a JSON logger for a test that fails the test, when it ends,
// if any line logged holds a card number (parking.FindCardNumber): parkd must
// log none. The lines are otherwise dropped.
func Logger(t testing.TB) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewJSONHandler(CardWatch(t, nil), nil))
}

// CardWatch returns a writer that passes what it is given to w (when not
// nil) and fails t, when it ends, if a line written holds a card number.
func CardWatch(t testing.TB, w io.Writer) io.Writer {
	t.Helper()
	c := &cardWatch{next: w}
	t.Cleanup(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.done = true
		for _, line := range c.found {
			t.Errorf("a log line holds a card number: %s", line)
		}
	})
	return c
}

type cardWatch struct {
	next io.Writer

	mu    sync.Mutex
	done  bool
	found []string
}

func (c *cardWatch) Write(p []byte) (int, error) {
	c.mu.Lock()
	if !c.done {
		for _, line := range bytes.Split(p, []byte("\n")) {
			if parking.FindCardNumber(string(line)) != "" {
				c.found = append(c.found, parking.RedactCardNumbers(string(line)))
			}
		}
	}
	c.mu.Unlock()
	if c.next == nil {
		return len(p), nil
	}
	return c.next.Write(p)
}
