package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"parkd/internal/parking"
	"parkd/internal/pass"
	"parkd/internal/webhook"
)

// Webhook headers. The signature is the payment webhooks' scheme (see
// webhook.Sign): "t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">",
// keyed with the operator's secret.
const (
	SignatureHeader = "Parkd-Signature"
	WebhookIDHeader = "Parkd-Webhook-Id"
	EventHeader     = "Parkd-Event"
)

// Deliver sends every notification that is due and not claimed by another
// worker, and returns how many it sent.
func (s *Service) Deliver(ctx context.Context) (int, error) {
	sent := 0
	for {
		claimed := s.cfg.Clock.Now()
		ns, err := s.cfg.Store.ClaimNotifications(ctx, claimed, s.cfg.Lease, batchSize)
		if err != nil {
			return sent, err
		}
		// A row is sent only while its lease has room for a whole attempt:
		// once the lease runs out another instance may claim and send it.
		// The rest wait for their lease to pass and are claimed again.
		sendBy := claimed.Add(s.cfg.Lease - sendTimeout)
		b := newSending()
		for i, n := range ns {
			if s.cfg.Clock.Now().After(sendBy) {
				s.cfg.Log.WarnContext(ctx, "notification lease too short for the batch: the rest wait for the next claim", "left", len(ns)-i)
				return sent, nil
			}
			if ctx.Err() != nil {
				return sent, nil // stopping: the rest are claimed again once their lease passes
			}
			o := s.attempt(ctx, b, n)
			if ctx.Err() != nil && o.Status == parking.NotificationPending {
				return sent, nil // cut short by the stop, not a failure of its own: its lease passes and it is tried again
			}
			// What was done is recorded even while stopping: a message sent
			// but not recorded would be sent again.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
			err := s.cfg.Store.FinishNotification(rctx, o)
			cancel()
			if err != nil {
				// Sent (perhaps) but not recorded: the lease runs out and the
				// notification is tried again. See docs/notifications.md.
				s.cfg.Log.ErrorContext(ctx, "record notification outcome", "notification", n.ID, "status", o.Status, "err", err)
				continue
			}
			switch o.Status {
			case parking.NotificationSent:
				sent++
				if n.Channel == parking.ChannelInApp {
					s.cfg.Hub.Wake(n.UserID)
				}
			case parking.NotificationFailed:
				s.cfg.Log.WarnContext(ctx, "notification failed for good", "notification", n.ID, "kind", n.Kind,
					"channel", n.Channel, "attempts", n.Attempts, "err", o.Error)
			}
		}
		if len(ns) < batchSize {
			return sent, nil
		}
	}
}

// sending holds what one claimed batch's notifications share: a
// confirmation or a reminder goes out by email and in the app, and both would
// otherwise read the same user, lot and spot. The reservation and the
// driver's settings are read afresh for each, since they decide whether it is
// still sent.
type sending struct {
	users map[string]parking.User
	lots  map[string]parking.Lot
	spots map[string]parking.Spot
}

func newSending() *sending {
	return &sending{users: map[string]parking.User{}, lots: map[string]parking.Lot{}, spots: map[string]parking.Spot{}}
}

// skip is a reason not to send a notification: it no longer makes sense.
type skip string

func (s skip) Error() string { return string(s) }

// attempt sends one claimed notification and says what became of it.
func (s *Service) attempt(ctx context.Context, b *sending, n parking.Notification) parking.NotificationOutcome {
	o := parking.NotificationOutcome{ID: n.ID, ClaimToken: n.ClaimToken}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	var err error
	if n.Channel == parking.ChannelWebhook {
		err = s.sendWebhook(ctx, n)
	} else {
		o.Subject, o.Body, err = s.sendToUser(ctx, b, n)
	}
	o.At = s.cfg.Clock.Now()
	var sk skip
	var perm *PermanentError
	switch {
	case err == nil:
		o.Status = parking.NotificationSent
	case errors.As(err, &sk):
		o.Status, o.Error = parking.NotificationSkipped, err.Error()
	case errors.As(err, &perm) || n.Attempts >= s.cfg.MaxAttempts:
		o.Status, o.Error = parking.NotificationFailed, err.Error()
	default:
		o.Status, o.Error = parking.NotificationPending, err.Error()
		o.RetryAt = o.At.Add(s.backoff(n.Attempts))
	}
	return o
}

// sendToUser sends an email or in-app notification; in-app ones are
// delivered by being marked sent. It re-reads the reservation, so what no
// longer makes sense (a reminder for a cancelled booking) is skipped.
func (s *Service) sendToUser(ctx context.Context, b *sending, n parking.Notification) (subject, body string, err error) {
	st := s.cfg.Store
	now := s.cfg.Clock.Now()
	settings, err := st.NotificationSettings(ctx, n.UserID)
	if err != nil {
		return "", "", err
	}
	switch {
	case n.Channel == parking.ChannelEmail && !settings.Email:
		return "", "", skip("the driver turned email off")
	case n.Channel == parking.ChannelInApp && !settings.InApp:
		return "", "", skip("the driver turned in-app notifications off")
	case n.Channel == parking.ChannelEmail && s.cfg.Mailer == nil:
		return "", "", skip("email is not configured (PARKD_SMTP_ADDR)")
	}
	f := facts{BaseURL: s.cfg.BaseURL}
	if f.User, err = cached(ctx, b.users, n.UserID, st.User); err != nil {
		return "", "", err
	}
	if f.Reservation, err = st.Reservation(ctx, n.ReservationID); err != nil {
		return "", "", err
	}
	if f.Lot, err = cached(ctx, b.lots, f.Reservation.LotID, st.Lot); err != nil {
		return "", "", err
	}
	if f.Spot, err = cached(ctx, b.spots, f.Reservation.SpotID, st.Spot); err != nil {
		return "", "", err
	}
	if reason := stale(n.Kind, f.Reservation, f.Lot, settings, now); reason != "" {
		return "", "", skip(reason)
	}
	if reason := superseded(n, f.Reservation); reason != "" {
		return "", "", skip(reason)
	}
	switch n.Kind {
	case KindOverstayCharged, KindRefund, KindExtended:
		if n.PaymentID != "" {
			if f.Payment, err = st.Payment(ctx, n.PaymentID); err != nil {
				return "", "", err
			}
		}
	case KindReceipt, KindLotCancelled:
		if f.Payments, err = st.ReservationPayments(ctx, n.ReservationID); err != nil {
			return "", "", err
		}
	case KindMoved:
		var mv movePayload
		if err := json.Unmarshal(n.Payload, &mv); err != nil {
			return "", "", &PermanentError{fmt.Errorf("move notice %s: %w", n.ID, err)}
		}
		f.Reason = mv.Reason
		f.OldSpot, err = cached(ctx, b.spots, mv.From, st.Spot)
		if errors.Is(err, parking.ErrNotFound) {
			f.OldSpot, err = parking.Spot{Label: "your earlier spot"}, nil
		}
		if err != nil {
			return "", "", err
		}
	}
	var png []byte
	if n.Channel == parking.ChannelEmail && n.Kind == KindConfirmed && s.cfg.Gates != nil {
		// Without an image the email still links the pass, and says so.
		if png, err = s.passPNG(ctx, f.Reservation); err != nil {
			s.cfg.Log.WarnContext(ctx, "pass for the confirmation email", "reservation", n.ReservationID, "err", err)
			png = nil
		}
	}
	f.PassAttached = png != nil
	m := compose(n.Kind, f)
	if n.Channel == parking.ChannelInApp {
		return m.Subject, m.inAppBody(), nil
	}
	unsubscribe := s.UnsubscribeURL(n.UserID)
	text, html, err := m.render(unsubscribe)
	if err != nil {
		return "", "", err
	}
	e := Email{MessageID: n.ID + "@parkd", To: f.User.Email, Subject: m.Subject, Text: text, HTML: html,
		Date: now, Unsubscribe: unsubscribe}
	if png != nil {
		e.Attachments = []Attachment{{Name: "pass.png", ContentType: "image/png", Data: png}}
	}
	if err := s.cfg.Mailer.Send(ctx, e); err != nil {
		return "", "", err
	}
	return m.Subject, m.inAppBody(), nil
}

// stale says why a notification no longer makes sense, or "" if it does.
func stale(kind string, r parking.Reservation, lot parking.Lot, st parking.NotificationSettings, now time.Time) string {
	switch kind {
	case KindReminder, KindEndingSoon:
		switch {
		case !lot.Policy.Reminders:
			return "the lot turned reminders off"
		case !st.Reminders:
			return "the driver turned reminders off"
		case kind == KindReminder && (r.Status != parking.StatusConfirmed || !now.Before(r.StartsAt)):
			return "the reservation is " + string(r.Status) + " and due at " + r.StartsAt.Format(time.RFC3339)
		case kind == KindEndingSoon && (r.Status != parking.StatusCheckedIn || !now.Before(r.EndsAt)):
			return "the reservation is " + string(r.Status) + " and ends at " + r.EndsAt.Format(time.RFC3339)
		}
	case KindHoldExpiring:
		if r.Status != parking.StatusHeld || !now.Before(r.HoldExpiresAt) {
			return "the hold is " + string(r.Status)
		}
	case KindConfirmed:
		if r.Status != parking.StatusConfirmed && r.Status != parking.StatusCheckedIn {
			return "the reservation is " + string(r.Status)
		}
	}
	return ""
}

// superseded says why a notice about a change is no longer true, or "" if it
// still is: a move the booking has moved on from (the later move's notice
// names its spot), a warning for an end the stay no longer has (extended).
func superseded(n parking.Notification, r parking.Reservation) string {
	switch n.Kind {
	case KindMoved:
		var mv movePayload
		if json.Unmarshal(n.Payload, &mv) != nil {
			return "" // the send fails for good with the reason
		}
		switch {
		case r.SpotID != mv.To:
			return "the booking has moved on to another spot since: that move's notice names it"
		case r.Status == parking.StatusHeld:
			// Not paid yet: the confirmation will name the spot.
			return "the reservation is still held: its confirmation names the spot"
		case r.Status != parking.StatusConfirmed && r.Status != parking.StatusCheckedIn:
			return "the reservation is " + string(r.Status)
		}
	case KindEndingSoon:
		var end endingPayload
		if len(n.Payload) > 0 && json.Unmarshal(n.Payload, &end) == nil && !end.EndsAt.Equal(r.EndsAt) {
			return "the stay's end changed: it ends at " + r.EndsAt.Format(time.RFC3339) + ", not " + end.EndsAt.Format(time.RFC3339)
		}
	}
	return ""
}

// sendWebhook posts a webhook notification's payload to its operator's URL,
// signed with their secret at the time of sending.
func (s *Service) sendWebhook(ctx context.Context, n parking.Notification) error {
	hook, err := s.cfg.Store.OperatorWebhook(ctx, n.OperatorID)
	if errors.Is(err, parking.ErrNotFound) {
		return skip("the operator removed their webhook")
	}
	if err != nil {
		return err
	}
	if n.Kind == "reservation.ending_soon" {
		r, err := s.cfg.Store.Reservation(ctx, n.ReservationID)
		if err != nil {
			return err
		}
		if r.Status != parking.StatusCheckedIn || !s.cfg.Clock.Now().Before(r.EndsAt) {
			return skip("the ticket is " + string(r.Status))
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(n.Payload))
	if err != nil {
		return &PermanentError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "parkd-webhooks/1")
	req.Header.Set(SignatureHeader, webhook.Sign(hook.Secret, n.Payload, s.cfg.Clock.Now()))
	req.Header.Set(WebhookIDHeader, n.ID)
	req.Header.Set(EventHeader, n.Kind)
	resp, err := s.cfg.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook %s answered %s", hook.URL, resp.Status)
	}
	return nil
}

// passPNG is a reservation's gate pass as the image the pass.png link
// shows.
func (s *Service) passPNG(ctx context.Context, r parking.Reservation) ([]byte, error) {
	p, err := s.cfg.Gates.PassFor(ctx, r)
	if err != nil {
		return nil, err
	}
	return pass.PNG(p.Code, 512)
}
