package web

import (
	"net/http"
	"time"

	"parkd/internal/parking"
)

// notificationsShown is how many of the newest notifications the page lists.
const notificationsShown = 50

// notificationsPage is the notifications page's data.
type notificationsPage struct {
	Notifications []parking.Notification
	More          bool // there may be older ones than those shown
	// Blank is the pattern of a notification that arrives live: the
	// page's script fills in a copy.
	Blank parking.Notification
}

func (s *site) handleNotifications() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me, ok := s.signedIn(w, r)
		if !ok {
			return
		}
		ns, err := s.Notify.Notifications(r.Context(), me.ID, parking.NotificationFilter{Limit: notificationsShown})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.render(w, r, http.StatusOK, "notifications", "Notifications",
			notificationsPage{Notifications: ns, More: len(ns) == notificationsShown,
				Blank: parking.Notification{ReservationID: "-"}})
	})
}

// unread returns the time now and how many of the user's notifications sent
// before it are unread. Those sent from now on reach the page over the live
// stream (?since=now), so none is counted twice or missed. A failure leaves
// the badge empty rather than failing the page.
func (s *site) unread(r *http.Request, userID string) (time.Time, int) {
	// The stream reads since to the microsecond, as the store keeps times.
	now := s.Clock.Now().UTC().Truncate(time.Microsecond)
	ns, err := s.Notify.Notifications(r.Context(), userID, parking.NotificationFilter{Unread: true, Limit: maxUnread})
	if err != nil {
		s.Log.WarnContext(r.Context(), "unread notifications", "user", userID, "err", err)
		return now, 0
	}
	n := 0
	for _, x := range ns {
		if x.SentAt != nil && x.SentAt.Before(now) {
			n++
		}
	}
	return now, n
}
