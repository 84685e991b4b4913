package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"unicode/utf8"

	"parkd/internal/parking"
)

// MaxPage is the most notifications one list returns, and the most ids one
// mark-read names.
const MaxPage = 200

// Notifications lists a user's in-app notifications, newest first.
func (s *Service) Notifications(ctx context.Context, userID string, f parking.NotificationFilter) ([]parking.Notification, error) {
	return s.cfg.Store.UserNotifications(ctx, userID, f)
}

// MarkRead marks a user's notifications read: those ids names (at most
// MaxPage), or all of them. Ids that are not the user's, or already read,
// change nothing. It returns how many it marked.
func (s *Service) MarkRead(ctx context.Context, userID string, ids []string, all bool) (int, error) {
	var ve parking.ValidationError
	switch {
	case all && len(ids) > 0:
		ve.Add("ids", "send ids or all, not both")
	case !all && len(ids) == 0:
		ve.Add("ids", "is required: the notifications to mark read (or send \"all\": true)")
	case len(ids) > MaxPage:
		ve.Add("ids", fmt.Sprintf("may hold at most %d ids", MaxPage))
	}
	for i, id := range ids {
		if id == "" || len(id) > 64 {
			ve.Add(fmt.Sprintf("ids[%d]", i), "must be a notification id")
			break
		}
	}
	if err := ve.Err(); err != nil {
		return 0, err
	}
	return s.cfg.Store.MarkNotificationsRead(ctx, userID, ids, s.cfg.Clock.Now())
}

// Settings returns a user's notification settings; settings never saved
// are the defaults, at version 0.
func (s *Service) Settings(ctx context.Context, userID string) (parking.NotificationSettings, error) {
	return s.cfg.Store.NotificationSettings(ctx, userID)
}

// SettingsChange changes the settings it names; nil leaves one as it is.
type SettingsChange struct {
	Email        *bool
	InApp        *bool
	Reminders    *bool
	ReminderLead *parking.Duration
	EndingLead   *parking.Duration
}

// settingsAttempts bounds the redos of a change that keeps losing races to
// other changes; after that it fails as stale.
const settingsAttempts = 8

// ChangeSettings applies ch to a user's settings; their pending reminders and
// warnings move to the new lead times. The write is over the version read:
// check, when not nil, is asked whether that version is the one the caller
// saw (the API's If-Match), and a race lost to another change is the
// caller's to retry. Without check a lost race is redone on a fresh read, so
// two changes of different settings both land.
func (s *Service) ChangeSettings(ctx context.Context, userID string, ch SettingsChange, check func(version int64) error) (parking.NotificationSettings, error) {
	return s.saveSettings(ctx, userID, check, func(st *parking.NotificationSettings) error {
		for _, f := range []struct {
			dst *bool
			src *bool
		}{{&st.Email, ch.Email}, {&st.InApp, ch.InApp}, {&st.Reminders, ch.Reminders}} {
			if f.src != nil {
				*f.dst = *f.src
			}
		}
		if ch.ReminderLead != nil {
			st.ReminderLead = *ch.ReminderLead
		}
		if ch.EndingLead != nil {
			st.EndingLead = *ch.EndingLead
		}
		return st.Validate()
	})
}

// Unsubscribe turns email off for the user an unsubscribe link's token
// names (CheckUnsubscribeToken). A race lost to another change is redone on
// a fresh read, so it keeps that change.
func (s *Service) Unsubscribe(ctx context.Context, token string) error {
	userID, err := s.CheckUnsubscribeToken(token)
	if err != nil {
		return err
	}
	_, err = s.saveSettings(ctx, userID, nil, func(st *parking.NotificationSettings) error {
		st.Email = false
		return nil
	})
	return err
}

// saveSettings reads a user's settings, checks their version (if check is
// not nil), changes them and writes them over the version read, redoing it
// all when the write loses a race and check is nil.
func (s *Service) saveSettings(ctx context.Context, userID string, check func(int64) error, change func(*parking.NotificationSettings) error) (parking.NotificationSettings, error) {
	var st parking.NotificationSettings
	var err error
	for range settingsAttempts {
		err = func() (err error) {
			if st, err = s.cfg.Store.NotificationSettings(ctx, userID); err != nil {
				return err
			}
			if check != nil {
				if err := check(st.Version); err != nil {
					return err
				}
			}
			if err := change(&st); err != nil {
				return err
			}
			st.UpdatedAt = s.cfg.Clock.Now()
			return s.cfg.Store.SaveNotificationSettings(ctx, &st)
		}()
		if check != nil || !errors.Is(err, parking.ErrStale) {
			break
		}
	}
	return st, err
}

// Webhook returns the webhook of the operator operatorID, for its staff or
// an admin.
func (s *Service) Webhook(ctx context.Context, me parking.User, operatorID string) (parking.OperatorWebhook, error) {
	if err := s.webhookOwner(ctx, me, operatorID); err != nil {
		return parking.OperatorWebhook{}, err
	}
	return s.cfg.Store.OperatorWebhook(ctx, operatorID)
}

// SetWebhook sets where the operator's systems receive its lots' events.
// Without a secret parkd makes one; the webhook returned holds it, to be
// shown once.
func (s *Service) SetWebhook(ctx context.Context, me parking.User, operatorID, hookURL, secret string) (parking.OperatorWebhook, error) {
	if err := s.webhookOwner(ctx, me, operatorID); err != nil {
		return parking.OperatorWebhook{}, err
	}
	var ve parking.ValidationError
	if u, err := url.Parse(hookURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(hookURL) > 2000 {
		ve.Add("url", "must be an absolute http or https URL of at most 2000 characters")
	}
	if n := utf8.RuneCountInString(secret); secret != "" && (n < 16 || len(secret) > 200) {
		ve.Add("secret", "must be 16 to 200 characters, or left out for parkd to make one")
	}
	if err := ve.Err(); err != nil {
		return parking.OperatorWebhook{}, err
	}
	if secret == "" {
		b := make([]byte, 24)
		rand.Read(b)
		secret = "whsec_" + hex.EncodeToString(b)
	}
	hook := parking.OperatorWebhook{OperatorID: operatorID, URL: hookURL, Secret: secret, UpdatedAt: s.cfg.Clock.Now()}
	if err := s.cfg.Store.SaveOperatorWebhook(ctx, hook); err != nil {
		return parking.OperatorWebhook{}, err
	}
	return hook, nil
}

// DeleteWebhook stops sending the operator's events.
func (s *Service) DeleteWebhook(ctx context.Context, me parking.User, operatorID string) error {
	if err := s.webhookOwner(ctx, me, operatorID); err != nil {
		return err
	}
	return s.cfg.Store.DeleteOperatorWebhook(ctx, operatorID)
}

// webhookOwner checks that me may manage the operator's webhook and that the
// operator exists: forbidden first, so that others learn nothing of which
// operators exist.
func (s *Service) webhookOwner(ctx context.Context, me parking.User, operatorID string) error {
	if !me.WorksFor(operatorID) {
		return parking.Errorf(parking.EFORBIDDEN, "only the operator's own staff manage its webhook")
	}
	_, err := s.cfg.Store.Operator(ctx, operatorID)
	return err
}
