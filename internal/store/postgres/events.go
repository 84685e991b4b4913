package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"parkd/internal/parking"
)

// Events lists a lot's events after seq, oldest first, at most limit; a limit of
// zero or less means no limit.
func (s *Store) Events(ctx context.Context, lotID string, afterSeq int64, limit int) ([]parking.Event, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, _ := s.pool.Query(ctx, `SELECT seq, lot_id, type, spot_id, reservation_id, at FROM events
		WHERE lot_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, lotID, afterSeq, lim)
	return collectEvents(rows)
}

// EventsSince lists every lot's events after afterSeq or in missing: a seq is
// taken when its transaction inserts the event, so a lower one can commit after
// a higher one, and a reader looks for the seqs it skipped again.
func (s *Store) EventsSince(ctx context.Context, afterSeq int64, missing []int64, limit int) ([]parking.Event, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	if missing == nil {
		missing = []int64{}
	}
	// Two halves, each read by the primary key, the first in order up to the
	// limit: as one WHERE with OR, PostgreSQL read the key from the first
	// event ever (30 ms a poll on issue 16's data set, growing with the
	// outbox), and without the inner limit the generic plan pgx's statement
	// cache settles on scanned the whole table (328 ms with 150,000 events).
	rows, _ := s.pool.Query(ctx, `(SELECT seq, lot_id, type, spot_id, reservation_id, at FROM events
			WHERE seq > $1 ORDER BY seq LIMIT $3)
		UNION ALL
		(SELECT seq, lot_id, type, spot_id, reservation_id, at FROM events WHERE seq = ANY($2) AND seq <= $1)
		ORDER BY seq LIMIT $3`, afterSeq, missing, lim)
	return collectEvents(rows)
}

// LastEventSeq is the highest committed event seq.
func (s *Store) LastEventSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&seq)
	return seq, classify(err, "event")
}

func collectEvents(rows pgx.Rows) ([]parking.Event, error) {
	es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parking.Event, error) {
		var e parking.Event
		err := row.Scan(&e.Seq, &e.LotID, &e.Type, &e.SpotID, &e.ReservationID, &e.At)
		e.At = e.At.UTC()
		return e, err
	})
	return es, classify(err, "event")
}

const notificationColumns = `id, dedupe_key, channel, kind, COALESCE(user_id, ''), COALESCE(operator_id, ''), lot_id,
	reservation_id, payment_id, event_seq, status, due_at, attempts, claim_token, subject, body, payload, last_error,
	created_at, sent_at, read_at`

func scanNotification(row pgx.CollectableRow) (parking.Notification, error) {
	var n parking.Notification
	err := row.Scan(&n.ID, &n.DedupeKey, &n.Channel, &n.Kind, &n.UserID, &n.OperatorID, &n.LotID,
		&n.ReservationID, &n.PaymentID, &n.EventSeq, &n.Status, &n.DueAt, &n.Attempts, &n.ClaimToken, &n.Subject, &n.Body,
		&n.Payload, &n.LastError, &n.CreatedAt, &n.SentAt, &n.ReadAt)
	n.DueAt, n.CreatedAt = n.DueAt.UTC(), n.CreatedAt.UTC()
	n.SentAt, n.ReadAt = utcPtr(n.SentAt), utcPtr(n.ReadAt)
	return n, err
}

// AddNotifications inserts ns, skipping dedupe keys already stored (also
// those another instance is inserting at this moment: ON CONFLICT waits for
// it), and moves the cursor forward, in one transaction.
func (s *Store) AddNotifications(ctx context.Context, ns []parking.Notification, cursor string, seq int64) (int, error) {
	added := 0
	err := retry(ctx, func() error {
		added = 0
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			for _, n := range ns {
				b.Queue(`INSERT INTO notifications (id, dedupe_key, channel, kind, user_id, operator_id, lot_id,
						reservation_id, payment_id, event_seq, status, due_at, payload, created_at)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12, $13)
					ON CONFLICT (dedupe_key) DO NOTHING`,
					n.ID, n.DedupeKey, n.Channel, n.Kind, nullable(n.UserID), nullable(n.OperatorID), n.LotID,
					n.ReservationID, n.PaymentID, n.EventSeq, utc(n.DueAt), n.Payload, utc(n.CreatedAt)).
					Exec(func(tag pgconn.CommandTag) error {
						added += int(tag.RowsAffected())
						return nil
					})
			}
			if cursor != "" {
				b.Queue(`INSERT INTO notify_cursor (name, seq) VALUES ($1, $2)
					ON CONFLICT (name) DO UPDATE SET seq = GREATEST(notify_cursor.seq, EXCLUDED.seq)`, cursor, seq)
			}
			return tx.SendBatch(ctx, b).Close()
		})
	})
	return added, classify(err, "notification")
}

// NotifyCursor returns a cursor's seq, 0 if never set.
func (s *Store) NotifyCursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT seq FROM notify_cursor WHERE name = $1`, name).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return seq, err
}

// claimNotifications leases due rows. SKIP LOCKED lets instances claim side by
// side without waiting; a row another instance claimed and committed
// meanwhile is re-checked against the WHERE clause when locked (its
// claimed_until is now in the future), so no row is claimed twice.
const claimNotifications = `UPDATE notifications SET claim_token = $1, claimed_until = $2, attempts = attempts + 1
	WHERE id IN (
		SELECT id FROM notifications
		WHERE status = 'pending' AND due_at <= $3 AND (claimed_until IS NULL OR claimed_until <= $3)
		ORDER BY due_at, id LIMIT $4
		FOR UPDATE SKIP LOCKED
	)
	RETURNING ` + notificationColumns

// ClaimNotifications leases due notifications, each to one caller at a time.
func (s *Store) ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]parking.Notification, error) {
	rows, _ := s.pool.Query(ctx, claimNotifications, parking.NewID("clm"), utc(now.Add(lease)), utc(now), limit)
	ns, err := pgx.CollectRows(rows, scanNotification)
	return ns, classify(err, "notification")
}

// FinishNotification records what a worker did, if its claim still stands.
func (s *Store) FinishNotification(ctx context.Context, o parking.NotificationOutcome) error {
	var due, sent *time.Time
	if o.Status == parking.NotificationPending {
		t := utc(o.RetryAt)
		due = &t
	}
	if o.Status == parking.NotificationSent {
		t := utc(o.At)
		sent = &t
	}
	tag, err := s.pool.Exec(ctx, `UPDATE notifications SET status = $1, due_at = COALESCE($2, due_at),
			claimed_until = NULL, last_error = $3, subject = CASE WHEN $4 <> '' THEN $4 ELSE subject END,
			body = CASE WHEN $5 <> '' THEN $5 ELSE body END, sent_at = COALESCE($6, sent_at)
		WHERE id = $7 AND claim_token = $8 AND status = 'pending'`,
		o.Status, due, o.Error, o.Subject, o.Body, sent, o.ID, o.ClaimToken)
	if err != nil {
		return classify(err, "notification")
	}
	if tag.RowsAffected() == 0 {
		return parking.Errorf(parking.ESTATUS, "notification %s is no longer claimed by this worker", o.ID)
	}
	return nil
}

// Notification returns one notification.
func (s *Store) Notification(ctx context.Context, id string) (parking.Notification, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE id = $1`, id)
	n, err := pgx.CollectExactlyOneRow(rows, scanNotification)
	return n, classify(err, "notification")
}

// UserNotifications lists a user's sent in-app notifications, newest first.
func (s *Store) UserNotifications(ctx context.Context, userID string, f parking.NotificationFilter) ([]parking.Notification, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+notificationColumns+` FROM notifications
		WHERE user_id = $1 AND channel = 'in_app' AND status = 'sent' AND sent_at >= $2 AND (NOT $3 OR read_at IS NULL)
		ORDER BY sent_at DESC, id DESC LIMIT $4`, userID, utc(f.SentSince), f.Unread, f.Limit)
	ns, err := pgx.CollectRows(rows, scanNotification)
	if ns == nil {
		ns = []parking.Notification{}
	}
	return ns, classify(err, "notification")
}

// MarkNotificationsRead marks a user's in-app notifications read.
func (s *Store) MarkNotificationsRead(ctx context.Context, userID string, ids []string, at time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE notifications SET read_at = $1
		WHERE user_id = $2 AND channel = 'in_app' AND status = 'sent' AND read_at IS NULL
			AND (cardinality($3::text[]) = 0 OR id = ANY($3))`, utc(at), userID, nonNil(ids))
	return int(tag.RowsAffected()), classify(err, "notification")
}

// NotificationSettings returns a user's settings, the defaults if never saved.
func (s *Store) NotificationSettings(ctx context.Context, userID string) (parking.NotificationSettings, error) {
	st := parking.DefaultNotificationSettings(userID)
	var reminderLead, endingLead int64
	err := s.pool.QueryRow(ctx, `SELECT email, in_app, reminders, reminder_lead_us, ending_lead_us, updated_at, version
		FROM notification_settings WHERE user_id = $1`, userID).
		Scan(&st.Email, &st.InApp, &st.Reminders, &reminderLead, &endingLead, &st.UpdatedAt, &st.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil
	}
	st.ReminderLead = parking.Duration(time.Duration(reminderLead) * time.Microsecond)
	st.EndingLead = parking.Duration(time.Duration(endingLead) * time.Microsecond)
	st.UpdatedAt = st.UpdatedAt.UTC()
	return st, err
}

// SaveNotificationSettings stores st over the version it names, and moves
// the user's pending reminders and ending warnings that were not tried yet to
// the new lead times.
func (s *Store) SaveNotificationSettings(ctx context.Context, st *parking.NotificationSettings) error {
	reminderLead := time.Duration(st.ReminderLead).Microseconds()
	endingLead := time.Duration(st.EndingLead).Microseconds()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var tag pgconn.CommandTag
		var err error
		if st.Version == 0 {
			// Never saved as far as the caller knows: a row saved meanwhile wins.
			tag, err = tx.Exec(ctx, `INSERT INTO notification_settings (user_id, email, in_app, reminders, reminder_lead_us, ending_lead_us, updated_at, version)
				VALUES ($1, $2, $3, $4, $5, $6, $7, 1) ON CONFLICT (user_id) DO NOTHING`,
				st.UserID, st.Email, st.InApp, st.Reminders, reminderLead, endingLead, utc(st.UpdatedAt))
		} else {
			tag, err = tx.Exec(ctx, `UPDATE notification_settings SET email = $2, in_app = $3, reminders = $4,
					reminder_lead_us = $5, ending_lead_us = $6, updated_at = $7, version = version + 1
				WHERE user_id = $1 AND version = $8`,
				st.UserID, st.Email, st.InApp, st.Reminders, reminderLead, endingLead, utc(st.UpdatedAt), st.Version)
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return parking.Errorf(parking.EPRECONDITION, "the notification settings changed since they were read")
		}
		_, err = tx.Exec(ctx, `UPDATE notifications n SET due_at = CASE n.kind
				WHEN 'reminder' THEN r.starts_at - $1 * interval '1 microsecond'
				ELSE r.ends_at - $2 * interval '1 microsecond' END
			FROM reservations r
			WHERE r.id = n.reservation_id AND n.user_id = $3 AND n.status = 'pending' AND n.attempts = 0
				AND n.kind IN ('reminder', 'ending_soon')`, reminderLead, endingLead, st.UserID)
		return err
	})
	if err == nil {
		st.Version++
	}
	return classify(err, "user")
}

// OperatorWebhook returns an operator's webhook.
func (s *Store) OperatorWebhook(ctx context.Context, operatorID string) (parking.OperatorWebhook, error) {
	var w parking.OperatorWebhook
	err := s.pool.QueryRow(ctx, `SELECT operator_id, url, secret, updated_at FROM operator_webhooks WHERE operator_id = $1`, operatorID).
		Scan(&w.OperatorID, &w.URL, &w.Secret, &w.UpdatedAt)
	w.UpdatedAt = w.UpdatedAt.UTC()
	return w, classify(err, "webhook")
}

// SaveOperatorWebhook stores or replaces an operator's webhook.
func (s *Store) SaveOperatorWebhook(ctx context.Context, w parking.OperatorWebhook) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO operator_webhooks (operator_id, url, secret, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (operator_id) DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret, updated_at = EXCLUDED.updated_at`,
		w.OperatorID, w.URL, w.Secret, utc(w.UpdatedAt))
	return classify(err, "operator")
}

// DeleteOperatorWebhook forgets an operator's webhook.
func (s *Store) DeleteOperatorWebhook(ctx context.Context, operatorID string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM operator_webhooks WHERE operator_id = $1`, operatorID)
	return err
}
