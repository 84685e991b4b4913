package parking

import (
	"context"
	"time"
)

// PruneTarget names data that retention deletes once nothing needs it.
type PruneTarget string

// What retention prunes, and when a row of each may go.
const (
	// PruneIdempotencyKeys: keys whose expiry is at or before the cut-off.
	PruneIdempotencyKeys PruneTarget = "idempotency_keys"
	// PruneSessions: sessions whose expiry is at or before the cut-off.
	PruneSessions PruneTarget = "sessions"
	// PruneWebhookEvents: gateway webhook event ids received before the
	// cut-off (kept to drop redeliveries, which stop after a few days).
	PruneWebhookEvents PruneTarget = "webhook_events"
	// PruneNotifications: notifications that are no longer pending (sent,
	// failed or skipped) and were created before the cut-off.
	PruneNotifications PruneTarget = "notifications"
)

// PruneTargets lists every PruneTarget.
func PruneTargets() []PruneTarget {
	return []PruneTarget{PruneIdempotencyKeys, PruneSessions, PruneWebhookEvents, PruneNotifications}
}

// Backlog is the work the background jobs have not done yet at a moment: how
// far each is behind. Zero times mean nothing is waiting.
type Backlog struct {
	// LapsedHolds are held reservations whose hold has expired but that the
	// sweeper has not marked expired yet; OldestLapsedHold is the earliest expiry.
	LapsedHolds      int
	OldestLapsedHold time.Time
	// NoShowsDue are confirmed reservations past their lot's no-show deadline
	// that are not marked no-shows yet; OldestNoShowDue is the earliest deadline.
	NoShowsDue      int
	OldestNoShowDue time.Time
	// DueNotifications are pending notifications due by now;
	// OldestDueNotification is the earliest due time.
	DueNotifications      int
	OldestDueNotification time.Time
}

// PoolStats describes one connection pool of a store.
type PoolStats struct {
	Name         string // e.g. "read", "write", "pool"
	Max          int    // the most connections it opens
	Open         int
	InUse        int
	Idle         int
	WaitCount    int64         // how many times a caller waited for a connection
	WaitDuration time.Duration // the total time callers waited
}

// OperationsStore is what running parkd needs of a store beside the product:
// retention, job claims, reports and the administration commands.
type OperationsStore interface {
	// ClaimJob claims the run of the periodic job name that is due at now:
	// it reports true to exactly one caller, also across instances, when the
	// job's next run is at or before now (or it never ran), and sets its next
	// run to next. Everyone else gets false until next.
	ClaimJob(ctx context.Context, name, holder string, now, next time.Time) (bool, error)
	// Prune deletes at most limit rows of target that lapsed by before (see
	// PruneTarget), in one transaction, and returns how many it deleted.
	Prune(ctx context.Context, target PruneTarget, before time.Time, limit int) (int, error)
	// Backlog measures the background jobs' unfinished work at now.
	Backlog(ctx context.Context, now time.Time) (Backlog, error)

	// Operators lists every operator by name.
	Operators(ctx context.Context) ([]Operator, error)
	// SetUserRole gives a user a role and, for operators, the operator whose
	// lots they run (empty for other roles).
	SetUserRole(ctx context.Context, userID string, role Role, operatorID string) error
	// SetGateKey replaces a gate's device key hash: the old key stops working
	// at once. A missing gate is ErrNotFound.
	SetGateKey(ctx context.Context, gateID, keyHash string) error
	// LotPayments lists the payments of a lot's reservations last updated in
	// [from, to), oldest first: what reports count money from.
	LotPayments(ctx context.Context, lotID string, from, to time.Time) ([]Payment, error)
}
