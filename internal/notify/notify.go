// Package notify tells drivers and operators what happened to their parking:
// confirmations with the pass, reminders before the start, warnings before the
// end, holds about to expire, no-shows, moves to another spot, cancellations
// by the lot, extensions, overstay charges, refunds and receipts, by email, in
// the app and through operators' webhooks.
//
// Notifications are derived from the events outbox, never written beside it:
// Derive follows the events table with a feed.Tailer from a cursor stored in
// the database, writes one row per message with a unique dedupe key, and moves
// the cursor in the same transaction. Re-reading events (after a crash, or by
// a second instance) stores nothing twice. Deliver claims due rows with a
// lease, sends them, and records the outcome; failures are retried with
// exponential backoff. See docs/notifications.md.
package notify

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"parkd/internal/feed"
	"parkd/internal/gate"
	"parkd/internal/parking"
)

// Kinds of notification.
const (
	KindConfirmed       = "confirmed"
	KindReminder        = "reminder"
	KindEndingSoon      = "ending_soon"
	KindHoldExpiring    = "hold_expiring"
	KindNoShow          = "no_show"
	KindOverstayCharged = "overstay_charged"
	KindRefund          = "refund"
	KindReceipt         = "receipt"
	// KindMoved: the lot put the booking on another spot (the notice names
	// both, and why); KindLotCancelled: the lot cancelled it, since no spot
	// fitted (refunded in full); KindExtended: an extension's charge went
	// through.
	KindMoved        = "moved"
	KindLotCancelled = "lot_cancelled"
	KindExtended     = "extended"
)

// WebhookDisplaced is the operator webhook sent when the lot had to cancel a
// booking because no spot fitted it any more: besides the plain
// "reservation.cancelled" event, with the reason and the booking's details.
const WebhookDisplaced = "reservation.displaced"

// CursorName is the notifier's row in notify_cursor.
const CursorName = "notifications"

// Defaults for a Service.
const (
	DefaultLease       = 2 * time.Minute
	DefaultMaxAttempts = 8
	DefaultBackoff     = 30 * time.Second
	MaxBackoff         = time.Hour
	// HoldWarning is how long before a hold expires its driver is warned.
	HoldWarning = time.Minute
	// DriveUpWarning is how long before a drive-up ticket's time limit the
	// operator's webhook is told.
	DriveUpWarning = 15 * time.Minute
	batchSize      = 20
	sendTimeout    = 30 * time.Second
	// recordTimeout bounds the recording of an attempt's outcome, which
	// goes on while parkd stops.
	recordTimeout = 5 * time.Second
)

// Store is what the notifier asks of parkd's storage: its queue and the
// outbox it derives notifications from, and the users, lots, bookings and
// payments they tell about.
type Store interface {
	parking.NotificationStore
	parking.EventStore
	parking.AccountStore
	parking.LotStore
	parking.ReservationStore
	parking.PaymentStore
}

// Config is what a Service is built from.
type Config struct {
	Store Store
	Clock parking.Clock
	Log   *slog.Logger
	// Mailer sends email; nil means email is not configured and email
	// notifications are skipped.
	Mailer Mailer
	// HTTP posts operators' webhooks; nil means a client with a 10 s timeout
	// that connects only to public addresses (PublicHTTPClient).
	HTTP *http.Client
	// AllowPrivateWebhooks lets webhooks reach loopback and private
	// addresses, for an installation whose operators' systems live there
	// (and tests); it applies when HTTP is nil.
	AllowPrivateWebhooks bool
	// BaseURL is where parkd is reached from outside (links in emails), e.g.
	// "https://parking.example.com".
	BaseURL string
	// UnsubscribeKeys sign and check unsubscribe links: the first signs.
	UnsubscribeKeys [][]byte
	// Gates issues the gate pass attached, as a PNG image, to the
	// confirmation email; nil links the pass instead.
	Gates *gate.Service
	// Hub wakes users' live connections when an in-app notification is sent.
	Hub *Hub

	Lease       time.Duration // how long a claim lasts; under 30 s means DefaultLease
	MaxAttempts int           // attempts before giving up; 0 means DefaultMaxAttempts
	Backoff     time.Duration // the first retry's delay, doubled each time; 0 means DefaultBackoff
}

// Service derives and delivers notifications.
type Service struct {
	cfg Config

	mu     sync.Mutex // one Derive at a time per instance
	tailer *feed.Tailer
	stored int64 // the cursor as last stored
}

// New returns a notification service.
func New(cfg Config) *Service {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTP == nil && cfg.AllowPrivateWebhooks {
		cfg.HTTP = &http.Client{Timeout: 10 * time.Second}
	} else if cfg.HTTP == nil {
		cfg.HTTP = PublicHTTPClient(10 * time.Second)
	}
	if cfg.Lease <= sendTimeout {
		cfg.Lease = DefaultLease
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Hub == nil {
		cfg.Hub = NewHub()
	}
	return &Service{cfg: cfg}
}

// Hub returns the hub that in-app notifications wake.
func (s *Service) Hub() *Hub { return s.cfg.Hub }

// RunOnce derives notifications from new events, then delivers those due.
func (s *Service) RunOnce(ctx context.Context) error {
	if _, err := s.Derive(ctx); err != nil {
		return err
	}
	_, err := s.Deliver(ctx)
	return err
}

// Derive reads the events that became visible since the last call (or, after
// a restart, since the stored cursor) and stores the notifications they call
// for. It returns how many it stored.
func (s *Service) Derive(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tailer == nil {
		after, err := s.cfg.Store.NotifyCursor(ctx, CursorName)
		if err != nil {
			return 0, err
		}
		s.tailer = feed.NewTailer(s.cfg.Store, after)
		s.tailer.Clock = s.cfg.Clock
		s.stored = after
	}
	events, err := s.tailer.Poll(ctx)
	if err != nil {
		s.tailer = nil // start again from the stored cursor: nothing is lost
		return 0, err
	}
	d := newDeriving(s)
	var ns []parking.Notification
	for _, e := range events {
		more, err := d.event(ctx, e)
		if err != nil {
			s.tailer = nil
			return 0, err
		}
		ns = append(ns, more...)
	}
	if len(ns) == 0 && s.tailer.Cursor() == s.stored {
		return 0, nil
	}
	added, err := s.cfg.Store.AddNotifications(ctx, ns, CursorName, s.tailer.Cursor())
	if err != nil {
		s.tailer = nil
		return 0, err
	}
	s.stored = s.tailer.Cursor()
	return added, nil
}

// backoff is the delay before the attempt after the given one.
func (s *Service) backoff(attempts int) time.Duration {
	d := s.cfg.Backoff
	for i := 1; i < attempts && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}
