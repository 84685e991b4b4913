package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"parkd/internal/parking"
)

// TestLogRedactsCardNumbers: whatever carries a card number into parkd's log
// (a message, a path, an error), the line shows none.
func TestLogRedactsCardNumbers(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{ReplaceAttr: redactCards}))
	log.Info("pay 4242 4242 4242 4242", "path", "/api/v1/lots/4242424242424242", "err", errors.New("bad method pm_5555555555554444"),
		slog.Group("req", "body", "378282246310005"), "lot", "lot_abc")
	if parking.FindCardNumber(out.String()) != "" || strings.Count(out.String(), "[card number]") != 4 || !strings.Contains(out.String(), "lot_abc") {
		t.Errorf("log line = %s; want four card numbers redacted and the rest as it was", out.String())
	}
}
