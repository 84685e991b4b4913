package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"parkd/internal/parking"
)

// Events lists a lot's events after seq, oldest first.
func (s *Store) Events(ctx context.Context, lotID string, afterSeq int64, limit int) ([]parking.Event, error) {
	return s.queryEvents(ctx, `SELECT seq, lot_id, type, spot_id, reservation_id, at FROM events
		WHERE lot_id = ? AND seq > ? ORDER BY seq LIMIT ?`, lotID, afterSeq, noLimit(limit))
}

// EventsSince lists every lot's events after afterSeq or in missing. One
// writer numbers SQLite's events in commit order, so missing seqs never turn
// up later; they are looked up all the same, as the contract says.
func (s *Store) EventsSince(ctx context.Context, afterSeq int64, missing []int64, limit int) ([]parking.Event, error) {
	if len(missing) == 0 {
		return s.queryEvents(ctx, `SELECT seq, lot_id, type, spot_id, reservation_id, at FROM events
			WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, noLimit(limit))
	}
	list, err := json.Marshal(missing)
	if err != nil {
		return nil, err
	}
	return s.queryEvents(ctx, `SELECT seq, lot_id, type, spot_id, reservation_id, at FROM events
		WHERE seq > ? OR seq IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?`, afterSeq, string(list), noLimit(limit))
}

// noLimit is limit for a LIMIT clause, where SQLite reads a negative one as no
// limit at all; zero or less means no limit, as on the other backends.
func noLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

// LastEventSeq is the highest event seq.
func (s *Store) LastEventSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := s.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&seq)
	return seq, err
}

func (s *Store) queryEvents(ctx context.Context, query string, args ...any) ([]parking.Event, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	events := []parking.Event{}
	for rows.Next() {
		var e parking.Event
		var at int64
		if err := rows.Scan(&e.Seq, &e.LotID, &e.Type, &e.SpotID, &e.ReservationID, &at); err != nil {
			return nil, err
		}
		e.At = fromMicros(at)
		events = append(events, e)
	}
	return events, rows.Err()
}

const notificationColumns = `id, dedupe_key, channel, kind, COALESCE(user_id, ''), COALESCE(operator_id, ''), lot_id,
	reservation_id, payment_id, event_seq, status, due_at, attempts, claim_token, subject, body, payload, last_error,
	created_at, sent_at, read_at`

func scanNotification(row interface{ Scan(...any) error }) (parking.Notification, error) {
	var n parking.Notification
	var due, created int64
	var sent, read sql.NullInt64
	err := row.Scan(&n.ID, &n.DedupeKey, &n.Channel, &n.Kind, &n.UserID, &n.OperatorID, &n.LotID,
		&n.ReservationID, &n.PaymentID, &n.EventSeq, &n.Status, &due, &n.Attempts, &n.ClaimToken, &n.Subject, &n.Body,
		&n.Payload, &n.LastError, &created, &sent, &read)
	n.DueAt, n.CreatedAt = fromMicros(due), fromMicros(created)
	n.SentAt, n.ReadAt = fromNullMicros(sent), fromNullMicros(read)
	return n, err
}

// AddNotifications inserts ns, skipping dedupe keys already stored, and moves
// the cursor, in one transaction.
func (s *Store) AddNotifications(ctx context.Context, ns []parking.Notification, cursor string, seq int64) (int, error) {
	added := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, n := range ns {
			res, err := tx.ExecContext(ctx, `INSERT INTO notifications (id, dedupe_key, channel, kind, user_id, operator_id, lot_id,
					reservation_id, payment_id, event_seq, status, due_at, payload, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)
				ON CONFLICT (dedupe_key) DO NOTHING`,
				n.ID, n.DedupeKey, n.Channel, n.Kind, nullString(n.UserID), nullString(n.OperatorID), n.LotID,
				n.ReservationID, n.PaymentID, n.EventSeq, micros(n.DueAt), n.Payload, micros(n.CreatedAt))
			if err != nil {
				return classify(err, "notification")
			}
			k, _ := res.RowsAffected()
			added += int(k)
		}
		if cursor == "" {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO notify_cursor (name, seq) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET seq = max(seq, excluded.seq)`, cursor, seq)
		return err
	})
	return added, err
}

// NotifyCursor returns a cursor's seq, 0 if never set.
func (s *Store) NotifyCursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := s.read.QueryRowContext(ctx, `SELECT seq FROM notify_cursor WHERE name = ?`, name).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return seq, err
}

// ClaimNotifications leases due notifications. The single writer runs the
// claim, so no two callers can take the same row.
func (s *Store) ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]parking.Notification, error) {
	var ns []parking.Notification
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE notifications SET claim_token = ?, claimed_until = ?, attempts = attempts + 1
			WHERE id IN (
				SELECT id FROM notifications
				WHERE status = 'pending' AND due_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
				ORDER BY due_at, id LIMIT ?
			)
			RETURNING `+notificationColumns, parking.NewID("clm"), micros(now.Add(lease)), micros(now), micros(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			n, err := scanNotification(rows)
			if err != nil {
				return err
			}
			ns = append(ns, n)
		}
		return rows.Err()
	})
	return ns, err
}

// FinishNotification records what a worker did, if its claim still stands.
func (s *Store) FinishNotification(ctx context.Context, o parking.NotificationOutcome) error {
	due := sql.NullInt64{}
	if o.Status == parking.NotificationPending {
		due = sql.NullInt64{Int64: micros(o.RetryAt), Valid: true}
	}
	var sent sql.NullInt64
	if o.Status == parking.NotificationSent {
		sent = sql.NullInt64{Int64: micros(o.At), Valid: true}
	}
	res, err := s.write.ExecContext(ctx, `UPDATE notifications SET status = ?, due_at = COALESCE(?, due_at),
			claimed_until = NULL, last_error = ?, subject = CASE WHEN ? <> '' THEN ? ELSE subject END,
			body = CASE WHEN ? <> '' THEN ? ELSE body END, sent_at = COALESCE(?, sent_at)
		WHERE id = ? AND claim_token = ? AND status = 'pending'`,
		o.Status, due, o.Error, o.Subject, o.Subject, o.Body, o.Body, sent, o.ID, o.ClaimToken)
	if err != nil {
		return classify(err, "notification")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return parking.Errorf(parking.ESTATUS, "notification %s is no longer claimed by this worker", o.ID)
	}
	return nil
}

// Notification returns one notification.
func (s *Store) Notification(ctx context.Context, id string) (parking.Notification, error) {
	n, err := scanNotification(s.read.QueryRowContext(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE id = ?`, id))
	return n, classify(err, "notification")
}

// UserNotifications lists a user's sent in-app notifications, newest first.
func (s *Store) UserNotifications(ctx context.Context, userID string, f parking.NotificationFilter) ([]parking.Notification, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	unread := 0
	if f.Unread {
		unread = 1
	}
	rows, err := s.read.QueryContext(ctx, `SELECT `+notificationColumns+` FROM notifications
		WHERE user_id = ? AND channel = 'in_app' AND status = 'sent' AND sent_at >= ? AND (? = 0 OR read_at IS NULL)
		ORDER BY sent_at DESC, id DESC LIMIT ?`, userID, micros(f.SentSince), unread, f.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ns := []parking.Notification{}
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, err
		}
		ns = append(ns, n)
	}
	return ns, rows.Err()
}

// MarkNotificationsRead marks a user's in-app notifications read.
func (s *Store) MarkNotificationsRead(ctx context.Context, userID string, ids []string, at time.Time) (int, error) {
	query := `UPDATE notifications SET read_at = ? WHERE user_id = ? AND channel = 'in_app' AND status = 'sent' AND read_at IS NULL`
	args := []any{micros(at), userID}
	if len(ids) > 0 {
		query += ` AND id IN (` + placeholders(len(ids)) + `)`
		for _, id := range ids {
			args = append(args, id)
		}
	}
	res, err := s.write.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// NotificationSettings returns a user's settings, the defaults if never saved.
func (s *Store) NotificationSettings(ctx context.Context, userID string) (parking.NotificationSettings, error) {
	st := parking.DefaultNotificationSettings(userID)
	var reminderLead, endingLead, updated int64
	err := s.read.QueryRowContext(ctx, `SELECT email, in_app, reminders, reminder_lead_us, ending_lead_us, updated_at, version
		FROM notification_settings WHERE user_id = ?`, userID).
		Scan(&st.Email, &st.InApp, &st.Reminders, &reminderLead, &endingLead, &updated, &st.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	st.ReminderLead = parking.Duration(time.Duration(reminderLead) * time.Microsecond)
	st.EndingLead = parking.Duration(time.Duration(endingLead) * time.Microsecond)
	st.UpdatedAt = fromMicros(updated)
	return st, err
}

// SaveNotificationSettings stores st over the version it names, and moves the
// user's pending reminders and ending warnings that were not tried yet to the
// new lead times.
func (s *Store) SaveNotificationSettings(ctx context.Context, st *parking.NotificationSettings) error {
	reminderLead := time.Duration(st.ReminderLead).Microseconds()
	endingLead := time.Duration(st.EndingLead).Microseconds()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		if st.Version == 0 {
			// Never saved as far as the caller knows: a row saved meanwhile wins.
			res, err = tx.ExecContext(ctx, `INSERT INTO notification_settings (user_id, email, in_app, reminders, reminder_lead_us, ending_lead_us, updated_at, version)
				VALUES (?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (user_id) DO NOTHING`,
				st.UserID, st.Email, st.InApp, st.Reminders, reminderLead, endingLead, micros(st.UpdatedAt))
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE notification_settings SET email = ?, in_app = ?, reminders = ?,
					reminder_lead_us = ?, ending_lead_us = ?, updated_at = ?, version = version + 1
				WHERE user_id = ? AND version = ?`,
				st.Email, st.InApp, st.Reminders, reminderLead, endingLead, micros(st.UpdatedAt), st.UserID, st.Version)
		}
		if err != nil {
			return classify(err, "user")
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return parking.Errorf(parking.EPRECONDITION, "the notification settings changed since they were read")
		}
		_, err = tx.ExecContext(ctx, `UPDATE notifications SET due_at = (
				SELECT CASE notifications.kind WHEN 'reminder' THEN r.starts_at - ? ELSE r.ends_at - ? END
				FROM reservations r WHERE r.id = notifications.reservation_id)
			WHERE user_id = ? AND status = 'pending' AND attempts = 0 AND kind IN ('reminder', 'ending_soon')
				AND reservation_id IN (SELECT id FROM reservations)`, reminderLead, endingLead, st.UserID)
		return err
	})
	if err == nil {
		st.Version++
	}
	return err
}

// OperatorWebhook returns an operator's webhook.
func (s *Store) OperatorWebhook(ctx context.Context, operatorID string) (parking.OperatorWebhook, error) {
	var w parking.OperatorWebhook
	var updated int64
	err := s.read.QueryRowContext(ctx, `SELECT operator_id, url, secret, updated_at FROM operator_webhooks WHERE operator_id = ?`, operatorID).
		Scan(&w.OperatorID, &w.URL, &w.Secret, &updated)
	w.UpdatedAt = fromMicros(updated)
	return w, classify(err, "webhook")
}

// SaveOperatorWebhook stores or replaces an operator's webhook.
func (s *Store) SaveOperatorWebhook(ctx context.Context, w parking.OperatorWebhook) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO operator_webhooks (operator_id, url, secret, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (operator_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, updated_at = excluded.updated_at`,
		w.OperatorID, w.URL, w.Secret, micros(w.UpdatedAt))
	return classify(err, "operator")
}

// DeleteOperatorWebhook forgets an operator's webhook.
func (s *Store) DeleteOperatorWebhook(ctx context.Context, operatorID string) error {
	_, err := s.write.ExecContext(ctx, `DELETE FROM operator_webhooks WHERE operator_id = ?`, operatorID)
	return err
}
