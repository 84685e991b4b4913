package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestClientWentAway: a handler that fails because its client went away
// (the request's context cancelled) is no internal error: nothing is logged
// as one, and the status recorded is 499; the same error while the client
// still waits is one.
func TestClientWentAway(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := fmt.Errorf("search: %w", context.Canceled)

	gone := httptest.NewRequest("GET", "/api/v1/lots?q=x", nil).WithContext(ctx)
	w := httptest.NewRecorder()
	writeError(w, gone, log, err)
	if w.Code != StatusClientClosedRequest || strings.Contains(logs.String(), "internal error") {
		t.Errorf("client gone: status %d, log %q; want 499 and no internal error", w.Code, logs.String())
	}

	logs.Reset()
	here := httptest.NewRequest("GET", "/api/v1/lots?q=x", nil)
	w = httptest.NewRecorder()
	writeError(w, here, log, err)
	if w.Code != 500 || !strings.Contains(logs.String(), "internal error") {
		t.Errorf("client waiting: status %d, log %q; want 500 and an internal error logged", w.Code, logs.String())
	}
}
