package metrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"parkd/internal/parking"
)

// Store wraps s so that the changes made through it are counted once they
// have committed: holds, reservation state changes (by the outbox event type
// each writes), gate decisions, payments, notification attempts and pruned
// rows. Only what goes through the wrapper is counted, so each instance
// counts what it did itself, never another instance's work that it reads
// from the shared outbox.
//
// A store method that writes reservation events needs a method here that
// counts them; TestCountsWhatWakes checks that every change the live map is
// woken for (live.Hub.Waking) is counted.
func (m *Metrics) Store(s parking.Store) parking.Store {
	if m == nil {
		return s
	}
	return &countingStore{Store: s, m: m, claimed: map[string]string{}}
}

type countingStore struct {
	parking.Store
	m *Metrics

	mu      sync.Mutex
	claimed map[string]string // notification id -> channel, between its claim and its outcome
}

func (c *countingStore) Hold(ctx context.Context, r *parking.Reservation, candidates []string, key *parking.KeyCompletion) error {
	err := c.Store.Hold(ctx, r, candidates, key)
	switch {
	case err == nil:
		if r.Status == parking.StatusHeld {
			c.m.hold("created", 1)
		}
		c.m.ReservationEvent("reservation."+string(r.Status), 1)
	case errors.Is(err, parking.ErrSpotUnavailable):
		c.m.hold("conflict", 1)
	}
	return err
}

func (c *countingStore) ChangeStatus(ctx context.Context, ch parking.StatusChange) (parking.Reservation, error) {
	r, err := c.Store.ChangeStatus(ctx, ch)
	if err == nil {
		if ch.To == parking.StatusExpired {
			c.m.hold("expired", 1)
		}
		c.m.ReservationEvent("reservation."+string(ch.To), 1)
	}
	return r, err
}

func (c *countingStore) ExpireHolds(ctx context.Context, now time.Time) (int, error) {
	n, err := c.Store.ExpireHolds(ctx, now)
	c.m.hold("expired", n)
	c.m.ReservationEvent("reservation.expired", n)
	return n, err
}

func (c *countingStore) MarkNoShows(ctx context.Context, lotID string, startedBy, at time.Time) ([]parking.Reservation, error) {
	rs, err := c.Store.MarkNoShows(ctx, lotID, startedBy, at)
	c.m.ReservationEvent("reservation.no_show", len(rs))
	return rs, err
}

func (c *countingStore) FlagOverstays(ctx context.Context, lotID string, endedBy, at time.Time) ([]parking.Reservation, error) {
	rs, err := c.Store.FlagOverstays(ctx, lotID, endedBy, at)
	c.m.ReservationEvent("reservation.overstaying", len(rs))
	return rs, err
}

func (c *countingStore) MoveReservation(ctx context.Context, m parking.Move) (parking.Reservation, error) {
	r, err := c.Store.MoveReservation(ctx, m)
	if err == nil {
		c.m.ReservationEvent("reservation.moved", 1)
	}
	return r, err
}

func (c *countingStore) ExtendReservation(ctx context.Context, x parking.Extension) (parking.Reservation, []parking.Reservation, error) {
	r, moved, err := c.Store.ExtendReservation(ctx, x)
	if err == nil {
		c.m.ReservationEvent("reservation.moved", len(moved))
		c.m.ReservationEvent("reservation.extended", 1)
		if x.Charge != nil {
			c.m.payment(*x.Charge, "created")
		}
	}
	return r, moved, err
}

func (c *countingStore) SetSpotInService(ctx context.Context, spotID string, inService bool, at time.Time) error {
	// Writes a spot event, not a reservation's: nothing to count.
	return c.Store.SetSpotInService(ctx, spotID, inService, at)
}

func (c *countingStore) RecordGateEvent(ctx context.Context, e *parking.GateEvent) error {
	err := c.Store.RecordGateEvent(ctx, e)
	if err == nil {
		c.m.GateDecision(e.Direction, e.Decision, e.Reason)
	}
	return err
}

func (c *countingStore) CreatePayment(ctx context.Context, p *parking.Payment) error {
	err := c.Store.CreatePayment(ctx, p)
	if err == nil {
		c.m.payment(*p, "created")
		if p.Status == parking.PaymentSucceeded || p.Status == parking.PaymentFailed {
			c.m.payment(*p, p.Status)
		}
	}
	return err
}

func (c *countingStore) UpdatePayment(ctx context.Context, u parking.PaymentUpdate) (parking.Payment, parking.Reservation, error) {
	p, r, err := c.Store.UpdatePayment(ctx, u)
	// ErrSpotUnavailable: the payment moved (and committed) but its
	// reservation lost its spot; the money is then refunded.
	moved := err == nil || errors.Is(err, parking.ErrSpotUnavailable)
	if moved && (u.To == parking.PaymentSucceeded || u.To == parking.PaymentFailed) {
		c.m.payment(p, u.To)
		if err == nil && u.Confirm && u.To == parking.PaymentSucceeded && r.Status == parking.StatusConfirmed {
			c.m.ReservationEvent("reservation.confirmed", 1)
		}
	}
	if u.EventID != "" {
		switch {
		case errors.Is(err, parking.ErrDuplicateEvent):
			sawWebhook(ctx, "duplicate")
		case moved:
			sawWebhook(ctx, "applied")
		}
	}
	return p, r, err
}

func (c *countingStore) ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]parking.Notification, error) {
	ns, err := c.Store.ClaimNotifications(ctx, now, lease, limit)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.claimed) > 10_000 {
		// Claims whose outcome was never recorded (a crash of the send)
		// would otherwise pile up; their channel is only a label.
		clear(c.claimed)
	}
	for _, n := range ns {
		c.claimed[n.ID] = n.Channel
	}
	return ns, err
}

func (c *countingStore) FinishNotification(ctx context.Context, o parking.NotificationOutcome) error {
	err := c.Store.FinishNotification(ctx, o)
	c.mu.Lock()
	channel, ok := c.claimed[o.ID]
	delete(c.claimed, o.ID)
	c.mu.Unlock()
	if !ok {
		channel = "unknown"
	}
	if err == nil {
		outcome := o.Status
		if outcome == parking.NotificationPending {
			outcome = "retry"
		}
		c.m.notification(channel, outcome)
	}
	return err
}

func (c *countingStore) Prune(ctx context.Context, target parking.PruneTarget, before time.Time, limit int) (int, error) {
	n, err := c.Store.Prune(ctx, target, before, limit)
	c.m.Pruned(target, n)
	return n, err
}

// webhookSeen collects what a webhook's handling did to payments.
type webhookSeen struct {
	mu      sync.Mutex
	outcome string
}

type webhookKey struct{}

// WatchWebhook returns a context under which the handling of one payment
// webhook runs, and a function that tells afterwards what the counting store
// saw it do: "applied", "duplicate", or "" when it moved no payment.
func WatchWebhook(ctx context.Context) (context.Context, func() string) {
	w := &webhookSeen{}
	return context.WithValue(ctx, webhookKey{}, w), func() string {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.outcome
	}
}

func sawWebhook(ctx context.Context, outcome string) {
	if w, ok := ctx.Value(webhookKey{}).(*webhookSeen); ok {
		w.mu.Lock()
		if w.outcome == "" || outcome == "applied" {
			w.outcome = outcome
		}
		w.mu.Unlock()
	}
}
