package parking

import (
	"context"
	"time"
)

// Notification channels.
const (
	ChannelEmail   = "email"
	ChannelInApp   = "in_app"
	ChannelWebhook = "webhook"
)

// Notification statuses. A notification is pending until a worker has sent it,
// given up on it (failed) or found it no longer makes sense (skipped).
const (
	NotificationPending = "pending"
	NotificationSent    = "sent"
	NotificationFailed  = "failed"
	NotificationSkipped = "skipped"
)

// Notification is one message to one recipient over one channel: an outbox
// row, derived from the events table, that a worker delivers at or after
// DueAt. DedupeKey is unique, so deriving the same thing twice (a restart, two
// instances) stores it once.
type Notification struct {
	ID            string     `json:"id"`
	DedupeKey     string     `json:"-"`
	Channel       string     `json:"channel"`
	Kind          string     `json:"kind"` // e.g. "reminder", "receipt"
	UserID        string     `json:"user_id,omitempty"`
	OperatorID    string     `json:"operator_id,omitempty"` // for webhooks
	LotID         string     `json:"lot_id,omitempty"`
	ReservationID string     `json:"reservation_id,omitempty"`
	PaymentID     string     `json:"payment_id,omitempty"`
	EventSeq      int64      `json:"event_seq,omitempty"`
	Status        string     `json:"status"`
	DueAt         time.Time  `json:"due_at"` // the next attempt: the schedule, then the backoff
	Attempts      int        `json:"attempts"`
	Subject       string     `json:"subject"` // filled in when sent
	Body          string     `json:"body"`
	Payload       []byte     `json:"-"` // a webhook's body, or what a driver's notice is about, fixed when derived
	LastError     string     `json:"-"`
	ClaimToken    string     `json:"-"`
	CreatedAt     time.Time  `json:"created_at"`
	SentAt        *time.Time `json:"sent_at,omitempty"`
	ReadAt        *time.Time `json:"read_at,omitempty"`
}

// NotificationOutcome is what a worker did with a notification it claimed.
// It applies only while the claim (ClaimToken) is still the notification's
// and the notification is pending.
type NotificationOutcome struct {
	ID         string
	ClaimToken string
	Status     string    // NotificationSent, NotificationFailed, NotificationSkipped, or NotificationPending to retry
	RetryAt    time.Time // for NotificationPending: the next attempt
	Error      string
	Subject    string
	Body       string
	At         time.Time
}

// NotificationFilter narrows a user's in-app notifications: sent at or after
// SentSince (zero: any), at most Limit (0: 50), unread only when Unread.
type NotificationFilter struct {
	SentSince time.Time
	Unread    bool
	Limit     int
}

// NotificationSettings are a driver's choices. Reminders covers the reminder
// before the start and the warning before the end; the leads say how long before.
type NotificationSettings struct {
	UserID       string    `json:"-"`
	Email        bool      `json:"email"`
	InApp        bool      `json:"in_app"`
	Reminders    bool      `json:"reminders"`
	ReminderLead Duration  `json:"reminder_lead"`
	EndingLead   Duration  `json:"ending_lead"`
	UpdatedAt    time.Time `json:"updated_at"`
	// Version moves on with every save, as Lot.Version; 0 for settings
	// never saved (the defaults).
	Version int64 `json:"version"`
}

// Bounds on the lead times a driver may choose.
const (
	MinNotifyLead = Duration(time.Minute)
	MaxNotifyLead = Duration(7 * 24 * time.Hour)
)

// DefaultNotificationSettings are the settings of a driver who never chose.
func DefaultNotificationSettings(userID string) NotificationSettings {
	return NotificationSettings{UserID: userID, Email: true, InApp: true, Reminders: true,
		ReminderLead: Duration(30 * time.Minute), EndingLead: Duration(15 * time.Minute)}
}

// Validate checks the lead times.
func (s NotificationSettings) Validate() error {
	var v ValidationError
	for _, f := range []struct {
		name string
		d    Duration
	}{{"reminder_lead", s.ReminderLead}, {"ending_lead", s.EndingLead}} {
		if f.d < MinNotifyLead || f.d > MaxNotifyLead {
			v.Add(f.name, "must be between 1m and 168h")
		}
	}
	return v.Err()
}

// OperatorWebhook is where an operator's own systems receive its lots' events,
// signed with Secret.
type OperatorWebhook struct {
	OperatorID string    `json:"operator_id"`
	URL        string    `json:"url"`
	Secret     string    `json:"-"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// NotificationStore keeps notifications, their settings and the cursor of the
// notifier that derives them from events.
type NotificationStore interface {
	// AddNotifications inserts ns, skipping any whose DedupeKey is stored
	// already, and in the same transaction moves the cursor named cursor
	// forward to seq (never back); an empty name moves no cursor. It returns
	// how many it inserted.
	AddNotifications(ctx context.Context, ns []Notification, cursor string, seq int64) (int, error)
	// NotifyCursor returns the seq of a cursor, 0 if it was never set.
	NotifyCursor(ctx context.Context, name string) (int64, error)
	// ClaimNotifications leases at most limit pending notifications due at now
	// and not leased by anyone else until now+lease, counting an attempt on
	// each, and returns them with their claim token. Each is claimed by one
	// caller at a time, also with several instances.
	ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Notification, error)
	// FinishNotification records an outcome; a claim that is no longer the
	// notification's (the lease passed and another took it) is ErrInvalidStatus.
	FinishNotification(ctx context.Context, o NotificationOutcome) error
	Notification(ctx context.Context, id string) (Notification, error)
	// UserNotifications lists a user's sent in-app notifications, newest first.
	UserNotifications(ctx context.Context, userID string, f NotificationFilter) ([]Notification, error)
	// MarkNotificationsRead marks a user's in-app notifications read: those
	// with the given ids, or all when ids is empty. It returns how many changed.
	MarkNotificationsRead(ctx context.Context, userID string, ids []string, at time.Time) (int, error)
	// NotificationSettings returns a user's settings, the defaults if never saved.
	NotificationSettings(ctx context.Context, userID string) (NotificationSettings, error)
	// SaveNotificationSettings stores s and, in the same transaction, moves
	// the user's pending reminders and ending warnings to the new lead times,
	// provided the stored settings are still at s.Version (0: none stored);
	// else ErrStale and nothing changes. On success s.Version is the new one.
	SaveNotificationSettings(ctx context.Context, s *NotificationSettings) error
	// OperatorWebhook returns an operator's webhook, or ErrNotFound.
	OperatorWebhook(ctx context.Context, operatorID string) (OperatorWebhook, error)
	SaveOperatorWebhook(ctx context.Context, w OperatorWebhook) error
	// DeleteOperatorWebhook forgets an operator's webhook; none is fine.
	DeleteOperatorWebhook(ctx context.Context, operatorID string) error
}

// PaymentEventType names the outbox event a payment writes when it succeeds:
// "payment.succeeded" for a booking's charge, "overstay_charge.succeeded" and
// "refund.succeeded". Notifications about money are derived from these.
func PaymentEventType(p Payment) string {
	switch {
	case p.Kind == Refund:
		return "refund.succeeded"
	case p.Purpose == PurposeOverstay:
		return "overstay_charge.succeeded"
	}
	return "payment.succeeded"
}
