package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"parkd/internal/notify"
	"parkd/internal/parking"
)

// MaxNotificationsPage is the most notifications one list returns.
const MaxNotificationsPage = 200

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
func handleListNotifications(log *slog.Logger, store parking.NotificationStore) http.Handler {
	type response struct {
		Notifications []notificationView `json:"notifications"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := requirePathUser(w, r, log)
		if !ok {
			return
		}
		f, err := notificationFilter(r.URL.Query())
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		ns, err := store.UserNotifications(r.Context(), id, f)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		out := response{Notifications: make([]notificationView, len(ns))}
		for i, n := range ns {
			out.Notifications[i] = viewNotification(n)
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, out)
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
func handleMarkNotificationsRead(log *slog.Logger, store parking.NotificationStore, clock parking.Clock) http.Handler {
	type request struct {
		IDs []string `json:"ids"`
		All bool     `json:"all"`
	}
	type response struct {
		Marked int `json:"marked"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := requirePathUser(w, r, log)
		if !ok {
			return
		}
		var req request
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, log, err)
			return
		}
		var ve parking.ValidationError
		switch {
		case req.All && len(req.IDs) > 0:
			ve.Add("ids", "send ids or all, not both")
		case !req.All && len(req.IDs) == 0:
			ve.Add("ids", "is required: the notifications to mark read (or send \"all\": true)")
		case len(req.IDs) > MaxNotificationsPage:
			ve.Add("ids", fmt.Sprintf("may hold at most %d ids", MaxNotificationsPage))
		}
		for i, nid := range req.IDs {
			if nid == "" || len(nid) > 64 {
				ve.Add(fmt.Sprintf("ids[%d]", i), "must be a notification id")
				break
			}
		}
		if err := ve.Err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		n, err := store.MarkNotificationsRead(r.Context(), id, req.IDs, clock.Now())
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, response{Marked: n})
	})
}

// Live notifications: how far back each poll looks for notifications sent
// (on any instance) that this stream has not pushed yet, and how often it
// polls when nothing wakes it.
const (
	notifyLiveWindow = 2 * time.Minute
	notifyLivePoll   = 5 * time.Second
	notifyLivePing   = 25 * time.Second
)

// handleNotificationsLive pushes the caller's in-app notifications as
// Server-Sent Events ("event: notification", the notification as data) as
// they are sent: at once when sent by this instance, within a few seconds
// when sent by another. ?since= (RFC 3339, at most two minutes back) also
// pushes those sent since then, so a client that listed its notifications
// first misses none.
func handleNotificationsLive(log *slog.Logger, store parking.NotificationStore, svc *notify.Service, clock parking.Clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := requirePathUser(w, r, log)
		if !ok {
			return
		}
		now := clock.Now()
		since, err := parseTime(r.URL.Query().Get("since"), "since", now)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		if since.Before(now.Add(-notifyLiveWindow)) || since.After(now.Add(time.Minute)) {
			writeError(w, r, log, parking.Errorf(parking.EINVALID, "since must be within the last two minutes"))
			return
		}
		// Subscribed before the first read, so that nothing sent in between
		// waits for the poll.
		var wake <-chan struct{}
		if svc != nil {
			c, stop := svc.Hub().Subscribe(id)
			defer stop()
			wake = c
		}
		// Everything sent before since is the client's already; the rest is
		// the first push.
		seen := map[string]time.Time{}
		ns, err := store.UserNotifications(r.Context(), id, parking.NotificationFilter{SentSince: now.Add(-notifyLiveWindow), Limit: MaxNotificationsPage})
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		for _, n := range ns {
			if n.SentAt != nil && n.SentAt.Before(since) {
				seen[n.ID] = *n.SentAt
			}
		}
		rc := http.NewResponseController(w)
		rc.SetReadDeadline(time.Time{})
		rc.SetWriteDeadline(time.Time{})
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "retry: 5000\n\n")
		if rc.Flush() != nil {
			return
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
				rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if _, err := fmt.Fprintf(w, "id: %s\nevent: notification\ndata: %s\n\n", n.ID, data); err != nil {
					return
				}
				lastWrite = time.Now()
			}
			for nid, at := range seen {
				if at.Before(now.Add(-2 * notifyLiveWindow)) {
					delete(seen, nid)
				}
			}
			if time.Since(lastWrite) > notifyLivePing {
				rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
					return
				}
				lastWrite = time.Now()
			}
			if rc.Flush() != nil {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-wake:
			case <-poll.C:
			}
			now = clock.Now()
			ns, err = store.UserNotifications(r.Context(), id, parking.NotificationFilter{SentSince: now.Add(-notifyLiveWindow), Limit: MaxNotificationsPage})
			if err != nil {
				if r.Context().Err() == nil {
					log.WarnContext(r.Context(), "live notifications", "user", id, "err", err)
				}
				return
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
func handleGetNotificationSettings(log *slog.Logger, store parking.NotificationStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := requirePathUser(w, r, log)
		if !ok {
			return
		}
		st, err := store.NotificationSettings(r.Context(), id)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		setETag(w, st.Version)
		writeJSON(w, http.StatusOK, st)
	})
}

// handlePatchNotificationSettings changes the settings the body names; the
// caller's pending reminders and warnings move to new lead times. The write is
// over the version read (versions.go): settings never saved are version 0.
func handlePatchNotificationSettings(log *slog.Logger, store parking.NotificationStore, clock parking.Clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := requirePathUser(w, r, log)
		if !ok {
			return
		}
		var p notificationSettingsPatch
		if err := decode(w, r, &p); err != nil {
			writeError(w, r, log, err)
			return
		}
		pre := ifMatch(r)
		var st parking.NotificationSettings
		err := patchVersioned(pre, func() (err error) {
			if st, err = store.NotificationSettings(r.Context(), id); err != nil {
				return err
			}
			if err := pre.check(st.Version); err != nil {
				return err
			}
			for _, f := range []struct {
				dst *bool
				src *bool
			}{{&st.Email, p.Email}, {&st.InApp, p.InApp}, {&st.Reminders, p.Reminders}} {
				if f.src != nil {
					*f.dst = *f.src
				}
			}
			if p.ReminderLead != nil {
				st.ReminderLead = *p.ReminderLead
			}
			if p.EndingLead != nil {
				st.EndingLead = *p.EndingLead
			}
			if err := st.Validate(); err != nil {
				return err
			}
			st.UpdatedAt = clock.Now()
			return store.SaveNotificationSettings(r.Context(), &st)
		})
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		setETag(w, st.Version)
		writeJSON(w, http.StatusOK, st)
	})
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
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := unsubscribeUser(svc, r); err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		unsubscribePage.Execute(w, map[string]any{"Token": r.URL.Query().Get("token")})
	})
}

// handleUnsubscribe turns email off for the user the token names: the page's
// button, and mail clients' one-click unsubscribe (RFC 8058). It answers HTML
// to browsers and JSON otherwise.
func handleUnsubscribe(log *slog.Logger, store parking.NotificationStore, svc *notify.Service, clock parking.Clock) http.Handler {
	type response struct {
		Unsubscribed bool `json:"unsubscribed"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		userID, err := unsubscribeUser(svc, r)
		if err == nil {
			// Without If-Match: a save that lost a race is redone on a fresh
			// read, so it keeps another change made meanwhile.
			err = patchVersioned(precondition{}, func() error {
				st, err := store.NotificationSettings(r.Context(), userID)
				if err != nil {
					return err
				}
				st.Email, st.UpdatedAt = false, clock.Now()
				return store.SaveNotificationSettings(r.Context(), &st)
			})
		}
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			unsubscribePage.Execute(w, map[string]any{"Done": true})
			return
		}
		writeJSON(w, http.StatusOK, response{Unsubscribed: true})
	})
}

// unsubscribeUser checks the request's token (in the query).
func unsubscribeUser(svc *notify.Service, r *http.Request) (string, error) {
	token := r.URL.Query().Get("token")
	if token == "" {
		return "", parking.Errorf(parking.EINVALID, "the unsubscribe link has no token")
	}
	if svc == nil {
		return "", parking.Errorf(parking.EINVALID, "the unsubscribe link is not valid here")
	}
	return svc.CheckUnsubscribeToken(token)
}

// webhookView is an operator's webhook; the secret is shown only when set.
type webhookView struct {
	OperatorID string    `json:"operator_id"`
	URL        string    `json:"url"`
	Secret     string    `json:"secret,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// requireOperator returns the operator {operator} if the caller runs it (or
// is an admin), or answers 401, 403 or 404 and returns false.
func requireOperator(w http.ResponseWriter, r *http.Request, log *slog.Logger, store parking.LotStore) (string, bool) {
	me, ok := requireUser(w, r, log)
	if !ok {
		return "", false
	}
	id := r.PathValue("operator")
	if me.Role != parking.RoleAdmin && (me.Role != parking.RoleOperator || me.OperatorID != id) {
		writeError(w, r, log, parking.Errorf(parking.EFORBIDDEN, "only the operator's own staff manage its webhook"))
		return "", false
	}
	if _, err := store.Operator(r.Context(), id); err != nil {
		writeError(w, r, log, err)
		return "", false
	}
	return id, true
}

func handleGetWebhook(log *slog.Logger, store lotNotificationStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := requireOperator(w, r, log, store)
		if !ok {
			return
		}
		hook, err := store.OperatorWebhook(r.Context(), id)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		writeJSON(w, http.StatusOK, webhookView{OperatorID: hook.OperatorID, URL: hook.URL, UpdatedAt: hook.UpdatedAt})
	})
}

// handlePutWebhook sets where the operator's systems receive its lots' events.
// Without a secret in the body parkd makes one; the answer shows it, once.
func handlePutWebhook(log *slog.Logger, store lotNotificationStore, clock parking.Clock) http.Handler {
	type request struct {
		URL    string `json:"url"`
		Secret string `json:"secret"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := requireOperator(w, r, log, store)
		if !ok {
			return
		}
		var req request
		if err := decode(w, r, &req); err != nil {
			writeError(w, r, log, err)
			return
		}
		var ve parking.ValidationError
		if u, err := url.Parse(req.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(req.URL) > 2000 {
			ve.Add("url", "must be an absolute http or https URL of at most 2000 characters")
		}
		if n := utf8.RuneCountInString(req.Secret); req.Secret != "" && (n < 16 || len(req.Secret) > 200) {
			ve.Add("secret", "must be 16 to 200 characters, or left out for parkd to make one")
		}
		if err := ve.Err(); err != nil {
			writeError(w, r, log, err)
			return
		}
		if req.Secret == "" {
			b := make([]byte, 24)
			rand.Read(b)
			req.Secret = "whsec_" + hex.EncodeToString(b)
		}
		hook := parking.OperatorWebhook{OperatorID: id, URL: req.URL, Secret: req.Secret, UpdatedAt: clock.Now()}
		if err := store.SaveOperatorWebhook(r.Context(), hook); err != nil {
			writeError(w, r, log, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, webhookView{OperatorID: id, URL: hook.URL, Secret: hook.Secret, UpdatedAt: hook.UpdatedAt})
	})
}

func handleDeleteWebhook(log *slog.Logger, store lotNotificationStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := requireOperator(w, r, log, store)
		if !ok {
			return
		}
		if err := store.DeleteOperatorWebhook(r.Context(), id); err != nil {
			writeError(w, r, log, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
