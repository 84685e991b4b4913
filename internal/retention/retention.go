// Package retention deletes what parkd no longer needs: expired idempotency
// keys and sessions, webhook event ids past the gateway's redelivery window,
// and notifications long finished. It runs on a schedule, once across the
// instances sharing a database (a claimed run, Store.ClaimJob), and deletes in
// bounded batches, each its own short transaction, so that it never holds
// locks long or grows one transaction without bound.
package retention

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"time"

	"parkd/internal/parking"
)

// JobName is the job's name in job_runs (Store.ClaimJob).
const JobName = "retention"

// Config says how often retention runs and how long what it prunes is kept.
type Config struct {
	// Every is how often a run is due (once across instances).
	Every time.Duration
	// KeepWebhookEvents is how long a gateway's event ids are kept to drop
	// redeliveries; Stripe retries for up to three days.
	KeepWebhookEvents time.Duration
	// KeepNotifications is how long sent, failed and skipped notifications
	// (drivers' in-app inbox included) are kept.
	KeepNotifications time.Duration
	// Batch is the most rows one transaction deletes.
	Batch int
	// MaxBatches bounds one run's work per target; what is left waits for
	// the next run.
	MaxBatches int
}

// Defaults.
const (
	DefaultEvery             = time.Hour
	DefaultKeepWebhookEvents = 30 * 24 * time.Hour
	DefaultKeepNotifications = 90 * 24 * time.Hour
	DefaultBatch             = 1000
	DefaultMaxBatches        = 100
)

// Pruner runs retention.
type Pruner struct {
	store  parking.OperationsStore
	clock  parking.Clock
	log    *slog.Logger
	cfg    Config
	holder string // names this instance in job_runs
}

// New returns a pruner; zero fields of cfg take the defaults.
func New(store parking.OperationsStore, clock parking.Clock, log *slog.Logger, cfg Config) *Pruner {
	if cfg.Every <= 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.KeepWebhookEvents <= 0 {
		cfg.KeepWebhookEvents = DefaultKeepWebhookEvents
	}
	if cfg.KeepNotifications <= 0 {
		cfg.KeepNotifications = DefaultKeepNotifications
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.MaxBatches <= 0 {
		cfg.MaxBatches = DefaultMaxBatches
	}
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return &Pruner{store: store, clock: clock, log: log, cfg: cfg, holder: host + "/" + hex.EncodeToString(b[:])}
}

// Tick is how often each instance looks whether a run is due: often enough
// that runs come about Every apart, whichever instance takes them.
func (p *Pruner) Tick() time.Duration {
	return min(p.cfg.Every, time.Minute)
}

// Result says what a run did.
type Result struct {
	Ran    bool // false: not due, or another instance took this run
	Pruned map[parking.PruneTarget]int
}

// RunIfDue runs retention when a run is due and no other instance took it.
func (p *Pruner) RunIfDue(ctx context.Context) (Result, error) {
	now := p.clock.Now()
	ok, err := p.store.ClaimJob(ctx, JobName, p.holder, now, now.Add(p.cfg.Every))
	if err != nil || !ok {
		return Result{}, err
	}
	return p.Run(ctx)
}

// Run prunes every target now, in batches, whether a run is due or not.
func (p *Pruner) Run(ctx context.Context) (Result, error) {
	now := p.clock.Now()
	res := Result{Ran: true, Pruned: map[parking.PruneTarget]int{}}
	cutoffs := map[parking.PruneTarget]time.Time{
		parking.PruneIdempotencyKeys: now,
		parking.PruneSessions:        now,
		parking.PruneWebhookEvents:   now.Add(-p.cfg.KeepWebhookEvents),
		parking.PruneNotifications:   now.Add(-p.cfg.KeepNotifications),
	}
	for _, target := range parking.PruneTargets() {
		for range p.cfg.MaxBatches {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			n, err := p.store.Prune(ctx, target, cutoffs[target], p.cfg.Batch)
			res.Pruned[target] += n
			if err != nil {
				return res, err
			}
			if n < p.cfg.Batch {
				break
			}
		}
	}
	total := 0
	for _, n := range res.Pruned {
		total += n
	}
	if total > 0 {
		p.log.InfoContext(ctx, "retention pruned", "idempotency_keys", res.Pruned[parking.PruneIdempotencyKeys],
			"sessions", res.Pruned[parking.PruneSessions], "webhook_events", res.Pruned[parking.PruneWebhookEvents],
			"notifications", res.Pruned[parking.PruneNotifications])
	}
	return res, nil
}
