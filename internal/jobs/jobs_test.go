package jobs_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"parkd/internal/jobs"
)

// TestEvery: the job repeats, a failure does not stop it, and cancelling stops it.
func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var runs atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		jobs.Every(ctx, time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)), "test", func(context.Context) error {
			if runs.Add(1) == 3 {
				cancel()
			}
			return errors.New("fails every time")
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Every did not stop after its context was cancelled")
	}
	if runs.Load() < 3 {
		t.Errorf("the job ran %d times; want at least 3 despite failing", runs.Load())
	}
}
