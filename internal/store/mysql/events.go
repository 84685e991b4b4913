package mysql

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"parkd/internal/parking"
)

// This file holds the outbox of events and the notifications derived from it.

const eventColumns = `seq, lot_id, type, spot_id, reservation_id, at`

func scanEvent(row scanner) (parking.Event, error) {
	var e parking.Event
	err := row.Scan(&e.Seq, &e.LotID, &e.Type, &e.SpotID, &e.ReservationID, &e.At)
	e.At = e.At.UTC()
	return e, err
}

// limitClause is " LIMIT n" for a positive limit; zero or less means no limit.
func limitClause(limit int, args []any) (string, []any) {
	if limit <= 0 {
		return "", args
	}
	return " LIMIT ?", append(args, limit)
}

// Events lists a lot's events after seq, oldest first, at most limit; a limit of
// zero or less means no limit.
func (s *Store) Events(ctx context.Context, lotID string, afterSeq int64, limit int) ([]parking.Event, error) {
	lim, args := limitClause(limit, []any{lotID, afterSeq})
	return collect(ctx, s.db, scanEvent, `SELECT `+eventColumns+` FROM events WHERE lot_id = ? AND seq > ? ORDER BY seq`+lim, args...)
}

// EventsSince lists every lot's events after afterSeq or in missing. seq is an
// AUTO_INCREMENT value taken when the event is inserted, not when its
// transaction commits, so a lower one can commit after a higher one, and a
// reader looks for the seqs it skipped again.
func (s *Store) EventsSince(ctx context.Context, afterSeq int64, missing []int64, limit int) ([]parking.Event, error) {
	where := `seq > ?`
	args := []any{afterSeq}
	if len(missing) > 0 {
		where = `seq > ? OR seq IN (` + placeholders(len(missing)) + `)`
		for _, m := range missing {
			args = append(args, m)
		}
	}
	lim, args := limitClause(limit, args)
	return collect(ctx, s.db, scanEvent, `SELECT `+eventColumns+` FROM events WHERE `+where+` ORDER BY seq`+lim, args...)
}

// LastEventSeq is the highest committed event seq.
func (s *Store) LastEventSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&seq)
	return seq, classify(err, "event")
}

const notificationColumns = `id, dedupe_key, channel, kind, COALESCE(user_id, ''), COALESCE(operator_id, ''), lot_id,
	reservation_id, payment_id, event_seq, status, due_at, attempts, claim_token, subject, body, payload, last_error,
	created_at, sent_at, read_at`

func scanNotification(row scanner) (parking.Notification, error) {
	var n parking.Notification
	var sent, read sql.NullTime
	err := row.Scan(&n.ID, &n.DedupeKey, &n.Channel, &n.Kind, &n.UserID, &n.OperatorID, &n.LotID,
		&n.ReservationID, &n.PaymentID, &n.EventSeq, &n.Status, &n.DueAt, &n.Attempts, &n.ClaimToken, &n.Subject, &n.Body,
		&n.Payload, &n.LastError, &n.CreatedAt, &sent, &read)
	n.DueAt, n.CreatedAt = n.DueAt.UTC(), n.CreatedAt.UTC()
	n.SentAt, n.ReadAt = fromNull(sent), fromNull(read)
	return n, err
}

// AddNotifications inserts ns, skipping dedupe keys already stored, and moves
// the cursor forward, in one transaction. An insert that meets a dedupe key
// another instance is inserting at this moment waits for it, then fails on
// notifications_dedupe (which undoes only that statement) and is skipped.
func (s *Store) AddNotifications(ctx context.Context, ns []parking.Notification, cursor string, seq int64) (int, error) {
	added := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		added = 0
		for _, n := range ns {
			_, err := tx.ExecContext(ctx, `INSERT INTO notifications (id, dedupe_key, channel, kind, user_id, operator_id, lot_id,
					reservation_id, payment_id, event_seq, status, due_at, payload, subject, body, last_error, created_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, '', '', '', ?)`,
				n.ID, n.DedupeKey, n.Channel, n.Kind, nullable(n.UserID), nullable(n.OperatorID), n.LotID,
				n.ReservationID, n.PaymentID, n.EventSeq, ts(n.DueAt), n.Payload, ts(n.CreatedAt))
			switch {
			case isDuplicate(err, "notifications_dedupe"):
			case err != nil:
				return classify(err, "notification")
			default:
				added++
			}
		}
		if cursor == "" {
			return nil
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO notify_cursor (name, seq) VALUES (?, ?)
			ON DUPLICATE KEY UPDATE seq = GREATEST(seq, VALUES(seq))`, cursor, seq)
		return err
	})
	return added, err
}

// NotifyCursor returns a cursor's seq, 0 if never set.
func (s *Store) NotifyCursor(ctx context.Context, name string) (int64, error) {
	var seq int64
	err := s.db.QueryRowContext(ctx, `SELECT seq FROM notify_cursor WHERE name = ?`, name).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return seq, err
}

// ClaimNotifications leases due notifications, each to one caller at a time.
// SKIP LOCKED lets instances claim side by side without waiting; a row another
// instance claimed and committed meanwhile no longer matches once read again
// (its claimed_until is in the future), so no row is claimed twice.
func (s *Store) ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]parking.Notification, error) {
	token := parking.NewID("clm")
	var ns []parking.Notification
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ns = nil
		ids, err := collect(ctx, tx, func(row scanner) (any, error) {
			var id string
			err := row.Scan(&id)
			return id, err
		}, `SELECT id FROM notifications
			WHERE status = 'pending' AND due_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?)
			ORDER BY due_at, id LIMIT ?
			FOR UPDATE SKIP LOCKED`, ts(now), ts(now), limit)
		if err != nil || len(ids) == 0 {
			return err
		}
		in := placeholders(len(ids))
		if _, err := tx.ExecContext(ctx, `UPDATE notifications SET claim_token = ?, claimed_until = ?, attempts = attempts + 1
			WHERE id IN (`+in+`)`, append([]any{token, ts(now.Add(lease))}, ids...)...); err != nil {
			return err
		}
		ns, err = collect(ctx, tx, scanNotification, `SELECT `+notificationColumns+` FROM notifications WHERE id IN (`+in+`)
			ORDER BY due_at, id`, ids...)
		return err
	})
	return ns, classify(err, "notification")
}

// FinishNotification records what a worker did, if its claim still stands.
func (s *Store) FinishNotification(ctx context.Context, o parking.NotificationOutcome) error {
	var due, sent any
	if o.Status == parking.NotificationPending {
		due = ts(o.RetryAt)
	}
	if o.Status == parking.NotificationSent {
		sent = ts(o.At)
	}
	res, err := s.exec(ctx, `UPDATE notifications SET status = ?, due_at = COALESCE(?, due_at),
			claimed_until = NULL, last_error = ?, subject = CASE WHEN ? <> '' THEN ? ELSE subject END,
			body = CASE WHEN ? <> '' THEN ? ELSE body END, sent_at = COALESCE(?, sent_at)
		WHERE id = ? AND claim_token = ? AND status = 'pending'`,
		o.Status, due, o.Error, o.Subject, o.Subject, o.Body, o.Body, sent, o.ID, o.ClaimToken)
	if err != nil {
		return classify(err, "notification")
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return parking.Errorf(parking.ESTATUS, "notification %s is no longer claimed by this worker", o.ID)
	}
	return nil
}

// Notification returns one notification.
func (s *Store) Notification(ctx context.Context, id string) (parking.Notification, error) {
	n, err := scanNotification(s.db.QueryRowContext(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE id = ?`, id))
	return n, classify(err, "notification")
}

// UserNotifications lists a user's sent in-app notifications, newest first.
func (s *Store) UserNotifications(ctx context.Context, userID string, f parking.NotificationFilter) ([]parking.Notification, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	return collect(ctx, s.db, scanNotification, `SELECT `+notificationColumns+` FROM notifications
		WHERE user_id = ? AND channel = 'in_app' AND status = 'sent' AND sent_at >= ? AND (NOT ? OR read_at IS NULL)
		ORDER BY sent_at DESC, id DESC LIMIT ?`, userID, ts(f.SentSince), f.Unread, f.Limit)
}

// MarkNotificationsRead marks a user's in-app notifications read: those with
// the given ids, or all when ids is empty.
func (s *Store) MarkNotificationsRead(ctx context.Context, userID string, ids []string, at time.Time) (int, error) {
	query := `UPDATE notifications SET read_at = ? WHERE user_id = ? AND channel = 'in_app' AND status = 'sent' AND read_at IS NULL`
	args := []any{ts(at), userID}
	if len(ids) > 0 {
		query += ` AND id IN (` + placeholders(len(ids)) + `)`
		args = append(args, strArgs(ids)...)
	}
	res, err := s.exec(ctx, query, args...)
	if err != nil {
		return 0, classify(err, "notification")
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// NotificationSettings returns a user's settings, the defaults if never saved.
func (s *Store) NotificationSettings(ctx context.Context, userID string) (parking.NotificationSettings, error) {
	st := parking.DefaultNotificationSettings(userID)
	var reminderLead, endingLead int64
	err := s.db.QueryRowContext(ctx, `SELECT email, in_app, reminders, reminder_lead_us, ending_lead_us, updated_at, version
		FROM notification_settings WHERE user_id = ?`, userID).
		Scan(&st.Email, &st.InApp, &st.Reminders, &reminderLead, &endingLead, &st.UpdatedAt, &st.Version)
	if errors.Is(err, sql.ErrNoRows) {
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
	stale := parking.Errorf(parking.EPRECONDITION, "the notification settings changed since they were read")
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if st.Version == 0 {
			// Never saved as far as the caller knows: a row saved meanwhile wins.
			_, err := tx.ExecContext(ctx, `INSERT INTO notification_settings (user_id, email, in_app, reminders, reminder_lead_us, ending_lead_us, updated_at, version)
				VALUES (?, ?, ?, ?, ?, ?, ?, 1)`,
				st.UserID, st.Email, st.InApp, st.Reminders, reminderLead, endingLead, ts(st.UpdatedAt))
			if isDuplicate(err, "PRIMARY") {
				return stale
			} else if err != nil {
				return err
			}
		} else {
			res, err := tx.ExecContext(ctx, `UPDATE notification_settings SET email = ?, in_app = ?, reminders = ?,
					reminder_lead_us = ?, ending_lead_us = ?, updated_at = ?, version = version + 1
				WHERE user_id = ? AND version = ?`,
				st.Email, st.InApp, st.Reminders, reminderLead, endingLead, ts(st.UpdatedAt), st.UserID, st.Version)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return stale
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE notifications n JOIN reservations r ON r.id = n.reservation_id
			SET n.due_at = CASE n.kind WHEN 'reminder' THEN r.starts_at - INTERVAL ? MICROSECOND ELSE r.ends_at - INTERVAL ? MICROSECOND END
			WHERE n.user_id = ? AND n.status = 'pending' AND n.attempts = 0 AND n.kind IN ('reminder', 'ending_soon')`,
			reminderLead, endingLead, st.UserID)
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
	err := s.db.QueryRowContext(ctx, `SELECT operator_id, url, secret, updated_at FROM operator_webhooks WHERE operator_id = ?`, operatorID).
		Scan(&w.OperatorID, &w.URL, &w.Secret, &w.UpdatedAt)
	w.UpdatedAt = w.UpdatedAt.UTC()
	return w, classify(err, "webhook")
}

// SaveOperatorWebhook stores or replaces an operator's webhook.
func (s *Store) SaveOperatorWebhook(ctx context.Context, w parking.OperatorWebhook) error {
	_, err := s.exec(ctx, `INSERT INTO operator_webhooks (operator_id, url, secret, updated_at) VALUES (?, ?, ?, ?)
		ON DUPLICATE KEY UPDATE url = VALUES(url), secret = VALUES(secret), updated_at = VALUES(updated_at)`,
		w.OperatorID, w.URL, w.Secret, ts(w.UpdatedAt))
	return classify(err, "operator")
}

// DeleteOperatorWebhook forgets an operator's webhook.
func (s *Store) DeleteOperatorWebhook(ctx context.Context, operatorID string) error {
	_, err := s.exec(ctx, `DELETE FROM operator_webhooks WHERE operator_id = ?`, operatorID)
	return err
}
