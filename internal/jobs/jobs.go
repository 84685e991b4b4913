// Package jobs runs parkd's background work on a timer. What each job does lives
// with its service; this package only repeats it and reports failures.
package jobs

import (
	"context"
	"log/slog"
	"time"
)

// Every runs job each interval until ctx ends. A failure is logged and the job
// runs again at the next tick: every job parkd runs is safe to repeat.
func Every(ctx context.Context, interval time.Duration, log *slog.Logger, name string, job func(context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := job(ctx); err != nil && ctx.Err() == nil {
				log.ErrorContext(ctx, "job failed", "job", name, "err", err)
			}
		}
	}
}
