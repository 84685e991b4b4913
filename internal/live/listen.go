package live

import (
	"context"
	"time"
)

// Listener announces events as they commit, on any instance: PostgreSQL's
// LISTEN/NOTIFY (postgres.Store).
type Listener interface {
	// Announce tells every listening instance, this one included, that
	// events have committed. It must not wait: the hub calls it after each
	// own commit that wrote events, before the request answers.
	Announce()

	// ListenEvents calls wake after each commit that wrote events until ctx
	// ends. It calls state with nil when it starts listening and with the
	// reason when it stops; it then tries again. Commits made while it does
	// not listen are not announced.
	ListenEvents(ctx context.Context, wake func(), state func(error)) error
}

// Listen has l wake the hub at each commit, on any instance, until ctx ends:
// while l listens, Run polls only every fallback, in case an announcement is
// lost; while it does not, Run polls at its own interval, and once l listens
// again the hub reads the outbox at once, so no change is missed.
func (h *Hub) Listen(ctx context.Context, l Listener, fallback time.Duration) error {
	h.announcer.Store(&l)
	return l.ListenEvents(ctx, h.Wake, func(err error) {
		if err == nil {
			h.listening.Store(int64(fallback))
			h.log.Info("live: listening for committed events", "fallback_poll", fallback.String())
		} else {
			h.listening.Store(0)
			h.log.Warn("live: not listening for committed events: polling until listening again", "err", err)
		}
		select {
		case h.retime <- struct{}{}:
		default: // Run has yet to take the last one
		}
		h.Wake() // read what committed while nobody listened
	})
}

// Listening reports whether a Listener announces commits to the hub now.
func (h *Hub) Listening() bool { return h.listening.Load() > 0 }

// changed tells the hub that an own call that may have committed a change
// has returned; wrote is true when it committed events. Those are announced
// to every instance by the Listener, if any; while it listens, that
// announcement wakes this hub too, so it is not woken twice (one outbox poll
// per commit, not two). Otherwise the hub is woken at once. Read-your-writes
// waits for neither: the call applied its own reservations (applyOwn).
func (h *Hub) changed(wrote bool) {
	if wrote {
		if l := h.announcer.Load(); l != nil {
			(*l).Announce()
			if h.Listening() {
				return
			}
		}
	}
	h.Wake()
}
