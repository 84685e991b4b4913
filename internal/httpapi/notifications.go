package httpapi

import (
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"parkd/internal/notify"
	"parkd/internal/parking"
)

// MaxNotificationsPage is the most notifications one list returns.
const MaxNotificationsPage = notify.MaxPage

// notificationView is an in-app notification as the app shows it.
type notificationView struct {
	ID            string     `json:"id"`
	Kind          string     `json:"kind"`
	Title         string     `json:"title"`
	Body          string     `json:"body"`
	ReservationID string     `json:"reservation_id,omitempty"`
	SentAt        time.Time  `json:"sent_at"`
	Read          bool       `json:"read"`
	ReadAt        *time.Time `json:"read_at,omitempty"`
}

func viewNotification(n parking.Notification) notificationView {
	v := notificationView{ID: n.ID, Kind: n.Kind, Title: n.Subject, Body: n.Body, ReservationID: n.ReservationID,
		Read: n.ReadAt != nil, ReadAt: n.ReadAt}
	if n.SentAt != nil {
		v.SentAt = *n.SentAt
	}
	return v
}

// handleListNotifications lists the caller's in-app notifications, newest
// first: ?unread=true for unread ones only, ?limit= (1 to 200, default 50).
func handleListNotifications(log *slog.Logger, svc *notify.Service) http.Handler {
	type response struct {
		Notifications []notificationView `json:"notifications"`
	}
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUser(r)
		if err != nil {
			return err
		}
		f, err := notificationFilter(r.URL.Query())
		if err != nil {
			return err
		}
		ns, err := svc.Notifications(r.Context(), id, f)
		if err != nil {
			return err
		}
		out := response{Notifications: make([]notificationView, len(ns))}
		for i, n := range ns {
			out.Notifications[i] = viewNotification(n)
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

func notificationFilter(q url.Values) (parking.NotificationFilter, error) {
	var f parking.NotificationFilter
	if v := q.Get("unread"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return f, parking.Errorf(parking.EINVALID, "unread must be true or false")
		}
		f.Unread = b
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxNotificationsPage {
			return f, parking.Errorf(parking.EINVALID, "limit must be a whole number from 1 to %d", MaxNotificationsPage)
		}
		f.Limit = n
	}
	return f, nil
}

// handleMarkNotificationsRead marks the caller's notifications read: {"ids":
// [...]} (at most 200) or {"all": true}. Ids that are not the caller's, or
// already read, change nothing.
func handleMarkNotificationsRead(log *slog.Logger, svc *notify.Service) http.Handler {
	type request struct {
		IDs []string `json:"ids"`
		All bool     `json:"all"`
	}
	type response struct {
		Marked int `json:"marked"`
	}
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUser(r)
		if err != nil {
			return err
		}
		var req request
		if err := decode(w, r, &req); err != nil {
			return err
		}
		n, err := svc.MarkRead(r.Context(), id, req.IDs, req.All)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, response{Marked: n})
		return nil
	})
}

// Live notifications: how far back each poll looks for notifications sent
// (on any instance) that this stream has not pushed yet, and how often it
// polls when nothing wakes it.
const (
	notifyLiveWindow = 2 * time.Minute
	notifyLivePoll   = 5 * time.Second
	notifyLivePing   = 25 * time.Second
	notifyLiveWrite  = 10 * time.Second
)

// handleNotificationsLive pushes the caller's in-app notifications as
// Server-Sent Events ("event: notification", the notification as data) as
// they are sent: at once when sent by this instance, within a few seconds
// when sent by another. ?since= (RFC 3339, at most two minutes back) also
// pushes those sent since then, so a client that listed its notifications
// first misses none.
func handleNotificationsLive(log *slog.Logger, svc *notify.Service, clock parking.Clock) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUser(r)
		if err != nil {
			return err
		}
		now := clock.Now()
		since, err := parseTime(r.URL.Query().Get("since"), "since", now)
		if err != nil {
			return err
		}
		if since.Before(now.Add(-notifyLiveWindow)) || since.After(now.Add(time.Minute)) {
			return parking.Errorf(parking.EINVALID, "since must be within the last two minutes")
		}
		// Subscribed before the first read, so that nothing sent in between
		// waits for the poll.
		wake, stop := svc.Hub().Subscribe(id)
		defer stop()
		// Everything sent before since is the client's already; the rest is
		// the first push.
		seen := map[string]time.Time{}
		ns, err := svc.Notifications(r.Context(), id, parking.NotificationFilter{SentSince: now.Add(-notifyLiveWindow), Limit: MaxNotificationsPage})
		if err != nil {
			return err
		}
		for _, n := range ns {
			if n.SentAt != nil && n.SentAt.Before(since) {
				seen[n.ID] = *n.SentAt
			}
		}
		rc := http.NewResponseController(w)
		rc.SetReadDeadline(time.Time{})
		rc.SetWriteDeadline(time.Time{})
		events := startEventStream(w, notifyLiveWrite)
		if events.retry(5*time.Second) != nil || events.flush() != nil {
			return nil
		}
		poll := time.NewTicker(notifyLivePoll)
		defer poll.Stop()
		lastWrite := time.Now()
		for {
			for i := len(ns) - 1; i >= 0; i-- { // oldest first
				n := ns[i]
				if _, done := seen[n.ID]; done || n.SentAt == nil {
					continue
				}
				seen[n.ID] = *n.SentAt
				data, _ := json.Marshal(viewNotification(n))
				if events.send(n.ID, "notification", data) != nil {
					return nil
				}
				lastWrite = time.Now()
			}
			for nid, at := range seen {
				if at.Before(now.Add(-2 * notifyLiveWindow)) {
					delete(seen, nid)
				}
			}
			if time.Since(lastWrite) > notifyLivePing {
				if events.comment("ping") != nil {
					return nil
				}
				lastWrite = time.Now()
			}
			if events.flush() != nil {
				return nil
			}
			select {
			case <-r.Context().Done():
				return nil
			case <-wake:
			case <-poll.C:
			}
			now = clock.Now()
			ns, err = svc.Notifications(r.Context(), id, parking.NotificationFilter{SentSince: now.Add(-notifyLiveWindow), Limit: MaxNotificationsPage})
			if err != nil {
				if r.Context().Err() == nil {
					log.WarnContext(r.Context(), "live notifications", "user", id, "err", err)
				}
				return nil
			}
		}
	})
}

// notificationSettingsPatch changes the fields it names.
type notificationSettingsPatch struct {
	Email        *bool             `json:"email"`
	InApp        *bool             `json:"in_app"`
	Reminders    *bool             `json:"reminders"`
	ReminderLead *parking.Duration `json:"reminder_lead"`
	EndingLead   *parking.Duration `json:"ending_lead"`
}

// handleGetNotificationSettings returns the caller's notification settings.
func handleGetNotificationSettings(log *slog.Logger, svc *notify.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUser(r)
		if err != nil {
			return err
		}
		st, err := svc.Settings(r.Context(), id)
		if err != nil {
			return err
		}
		setETag(w, st.Version)
		writeJSON(w, http.StatusOK, st)
		return nil
	})
}

// handlePatchNotificationSettings changes the settings the body names; the
// caller's pending reminders and warnings move to new lead times. The write is
// over the version read (versions.go): settings never saved are version 0.
func handlePatchNotificationSettings(log *slog.Logger, svc *notify.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathUser(r)
		if err != nil {
			return err
		}
		var p notificationSettingsPatch
		if err := decode(w, r, &p); err != nil {
			return err
		}
		st, err := svc.ChangeSettings(r.Context(), id, notify.SettingsChange(p), versionCheck(ifMatch(r)))
		if err != nil {
			return err
		}
		setETag(w, st.Version)
		writeJSON(w, http.StatusOK, st)
		return nil
	})
}

// versionCheck is the check of a versioned write that p asks for: nil when
// any version will do (no If-Match, or "*"), so that a write that loses a
// race is redone on a fresh read (patchVersioned).
func versionCheck(p precondition) func(version int64) error {
	if !p.given || p.any {
		return nil
	}
	return p.check
}

var unsubscribePage = template.Must(template.New("unsubscribe").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Unsubscribe - parkd</title></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto; line-height: 1.4">
{{if .Done}}<h1>You are unsubscribed</h1>
<p>parkd will send you no more email. Your reminders still show in the app; turn email back on in your notification settings.</p>
{{else}}<h1>Stop parkd emails?</h1>
<p>You will get no more confirmations, reminders or receipts by email. They still show in the app.</p>
<form method="post" action="/api/v1/notifications/unsubscribe?token={{.Token}}"><button type="submit">Unsubscribe</button></form>
{{end}}</body></html>
`))

// handleUnsubscribePage shows the page an email's unsubscribe link opens: a
// button, not the change itself, since mail scanners open links.
func handleUnsubscribePage(log *slog.Logger, svc *notify.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		token := r.URL.Query().Get("token")
		if _, err := svc.CheckUnsubscribeToken(token); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		unsubscribePage.Execute(w, map[string]any{"Token": token})
		return nil
	})
}

// handleUnsubscribe turns email off for the user the token names: the page's
// button, and mail clients' one-click unsubscribe (RFC 8058). It answers HTML
// to browsers and JSON otherwise.
func handleUnsubscribe(log *slog.Logger, svc *notify.Service) http.Handler {
	type response struct {
		Unsubscribed bool `json:"unsubscribed"`
	}
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		if err := svc.Unsubscribe(r.Context(), r.URL.Query().Get("token")); err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			unsubscribePage.Execute(w, map[string]any{"Done": true})
			return nil
		}
		writeJSON(w, http.StatusOK, response{Unsubscribed: true})
		return nil
	})
}

// webhookView is an operator's webhook; the secret is shown only when set.
type webhookView struct {
	OperatorID string    `json:"operator_id"`
	URL        string    `json:"url"`
	Secret     string    `json:"secret,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
}

func handleGetWebhook(log *slog.Logger, svc *notify.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		hook, err := svc.Webhook(r.Context(), me, r.PathValue("operator"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, webhookView{OperatorID: hook.OperatorID, URL: hook.URL, UpdatedAt: hook.UpdatedAt})
		return nil
	})
}

// handlePutWebhook sets where the operator's systems receive its lots' events.
// Without a secret in the body parkd makes one; the answer shows it, once.
func handlePutWebhook(log *slog.Logger, svc *notify.Service) http.Handler {
	type request struct {
		URL    string `json:"url"`
		Secret string `json:"secret"`
	}
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		var req request
		if err := decode(w, r, &req); err != nil {
			return err
		}
		hook, err := svc.SetWebhook(r.Context(), me, r.PathValue("operator"), req.URL, req.Secret)
		if err != nil {
			return err
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, webhookView{OperatorID: hook.OperatorID, URL: hook.URL, Secret: hook.Secret, UpdatedAt: hook.UpdatedAt})
		return nil
	})
}

func handleDeleteWebhook(log *slog.Logger, svc *notify.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		me, err := signedInUser(r)
		if err != nil {
			return err
		}
		if err := svc.DeleteWebhook(r.Context(), me, r.PathValue("operator")); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
