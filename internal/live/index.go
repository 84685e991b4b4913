package live

import (
	"context"
	"errors"
	"time"

	"parkd/internal/parking"
)

// This file is the hub's index: what the booking engine reads of a lot
// instead of asking the database (booking.Index). A lot is loaded on its
// first read and stays while it is read or watched. Reads see every change
// this instance committed before they began (applyOwn) and other instances'
// changes once the next poll has applied them; edits of a lot's record or
// spots by other instances within RespotEvery.

// use returns the lot, loading it on Run's goroutine when it is not loaded,
// with the mutex read-locked; the caller unlocks it. A nil lot with a nil
// error means the index cannot answer now: the hub is not running, or the
// load waited loadWait behind others (a thousand lots coming into use at
// once), and is left to finish in the background. Ask the store.
func (h *Hub) use(ctx context.Context, lotID string) (*lot, error) {
	for {
		h.mu.RLock()
		if l := h.lots[lotID]; l != nil {
			l.used.Store(h.clock.Now().UnixNano())
			return l, nil
		}
		h.mu.RUnlock()
		wait, cancel := context.WithTimeout(ctx, loadWait)
		err := h.requestLoad(wait, lotID, false)
		cancel()
		switch {
		case errors.Is(err, ErrStopped):
			h.mu.RLock()
			return nil, nil
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			h.warm(lotID) // in case Run had not taken the request
			h.mu.RLock()
			return nil, nil
		case err != nil:
			return nil, err
		}
		// Loaded: look again (an idle lot may have been unloaded in between).
	}
}

// Lot returns the lot's record, policy included, from memory. ok is false
// when the hub is not running.
func (h *Hub) Lot(ctx context.Context, lotID string) (info parking.Lot, ok bool, err error) {
	l, err := h.use(ctx, lotID)
	if err != nil {
		return parking.Lot{}, false, err
	}
	defer h.mu.RUnlock()
	if l == nil {
		return parking.Lot{}, false, nil
	}
	return l.info, true, nil
}

// View returns the lot's spots and the strongest claim on each over
// [from, to) at now, as ReservationStore.Bookings answers it: a reservation
// claims its spot while Policy.Holds says so at now, over [its start,
// Reservation.ClaimEnd(now)). ok is false when the index cannot answer
// exactly (the hub is not running, or the window starts before the claims
// it loaded): ask the store.
func (h *Hub) View(ctx context.Context, lotID string, from, to, now time.Time) (v parking.LotView, ok bool, err error) {
	l, err := h.use(ctx, lotID)
	if err != nil {
		return parking.LotView{}, false, err
	}
	defer h.mu.RUnlock()
	if l == nil || from.Before(l.since) {
		return parking.LotView{}, false, nil
	}
	p := l.info.Policy
	v = parking.LotView{Lot: l.info, Spots: l.list, Claims: make([]parking.Status, len(l.list)), Version: h.version(l.version)}
	for i, sp := range l.list {
		best := 0
		for _, c := range l.spots[sp.ID].claims {
			r := c.reservation()
			if !p.Holds(r, now) {
				continue
			}
			// Whether it claims the window may change by time alone at t:
			// it stops holding its spot then, or (a car inside) its claim
			// stretches to the car's exit. Only a claim that overlaps the
			// window by then matters.
			if t := p.ClaimChangesAt(r, now); !t.IsZero() && (v.Until.IsZero() || t.Before(v.Until)) &&
				parking.Overlaps(r.StartsAt, r.ClaimEnd(t), from, to) {
				v.Until = t
			}
			if parking.Overlaps(r.StartsAt, r.ClaimEnd(now), from, to) && parking.ClaimRank(r.Status) > best {
				best, v.Claims[i] = parking.ClaimRank(r.Status), r.Status
			}
		}
	}
	return v, true, nil
}

// CountFree sets Total and Free of every lot of found over w from memory, as
// the store's CountFree counts them (booking.Index). It answers only when
// every lot of found is loaded with the claims of w, and never waits for a
// load: it queues the lots that are not to load in the background, so that
// the next search of the same page is answered here.
func (h *Hub) CountFree(found []parking.LotMatch, w parking.LotWindow) (ok bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	ok = true
	for _, m := range found {
		if l := h.lots[m.ID]; l == nil {
			h.warm(m.ID)
			ok = false
		} else if w.From.Before(l.since) {
			ok = false
		}
	}
	if !ok {
		return false
	}
	used := h.clock.Now().UnixNano()
	for i := range found {
		l := h.lots[found[i].ID]
		l.used.Store(used)
		found[i].Total, found[i].Free = l.countFree(w)
	}
	return true
}

// countFree counts the lot's spots w.Size fits, and those of them in service
// that no claim holds over w: the spots by size (setList), less the spots its
// claims hold, so that it costs the lot's claims, not its spots.
func (l *lot) countFree(w parking.LotWindow) (total, free int) {
	for size := max(w.Size, parking.Motorcycle); size <= parking.Large; size++ {
		total += l.sizes.all[size]
		free += l.sizes.inService[size]
	}
	p := l.info.Policy
	var claimed map[string]bool
	for key, spotID := range l.where {
		sp := l.spots[spotID]
		if sp == nil || sp.at < 0 || claimed[spotID] {
			continue // a spot the list lacks is not counted (nor is it by the store)
		}
		if spot := l.list[sp.at]; spot.Size < w.Size || !spot.InService {
			continue
		}
		if r := sp.claims[key].reservation(); p.Holds(r, w.Now) && parking.Overlaps(r.StartsAt, r.ClaimEnd(w.Now), w.From, w.To) {
			if claimed == nil {
				claimed = map[string]bool{}
			}
			claimed[spotID] = true
			free--
		}
	}
	return total, free
}

// spotCounts is a lot's spot list counted by size: every spot, and those in
// service.
type spotCounts struct{ all, inService [parking.Large + 1]int }

// setList makes list the lot's spots, counted by size (countFree).
func (l *lot) setList(list []parking.Spot) {
	l.list = list
	l.sizes = spotCounts{}
	for _, sp := range list {
		if sp.Size.Valid() {
			l.sizes.all[sp.Size]++
			if sp.InService {
				l.sizes.inService[sp.Size]++
			}
		}
	}
}

// warm queues a lot to load in the background (warmer), unless it is queued
// already or the queue is full.
func (h *Hub) warm(lotID string) {
	h.warmMu.Lock()
	defer h.warmMu.Unlock()
	if _, queued := h.warming[lotID]; queued {
		return
	}
	select {
	case h.warmQ <- lotID:
		h.warming[lotID] = struct{}{}
	default:
	}
}

// warmer loads the lots warm queued, one at a time, until ctx ends. Each
// load is Run's work, in turn with its polls.
func (h *Hub) warmer(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-h.warmQ:
			// A lot loaded meanwhile is left alone: loading it again would
			// read its spots past the stamps' check (respotDue).
			h.mu.RLock()
			_, loaded := h.lots[id]
			h.mu.RUnlock()
			if !loaded {
				if err := h.requestLoad(ctx, id, false); err != nil && ctx.Err() == nil && !errors.Is(err, ErrStopped) {
					h.log.Warn("live: loading a lot in the background", "lot", id, "err", err)
				}
			}
			h.warmMu.Lock()
			delete(h.warming, id)
			h.warmMu.Unlock()
		}
	}
}

// Version names the state of a loaded lot the index would answer from; ""
// when the lot is not loaded (nothing cached for it can be current).
func (h *Hub) Version(lotID string) string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if l := h.lots[lotID]; l != nil {
		return h.version(l.version)
	}
	return ""
}

// reservation is the part of a reservation that decides its claim.
func (c Claim) reservation() parking.Reservation {
	r := parking.Reservation{Status: parking.Status(c.Status), StartsAt: c.From, EndsAt: c.To}
	if c.HoldExpiresAt != nil {
		r.HoldExpiresAt = *c.HoldExpiresAt
	}
	return r
}

// applyOwn applies reservations as this instance's commit left them, before
// the request that made them answers, and has their rows read again at the
// next poll: a poll that read one of them before the commit must not undo it
// (see poll), and one that reads it after another instance changed it again
// restores that.
func (h *Hub) applyOwn(rs ...parking.Reservation) {
	if len(rs) == 0 {
		return
	}
	now := h.clock.Now()
	h.mu.Lock()
	for _, r := range rs {
		if r.ID == "" {
			continue
		}
		h.gen++
		key := "r" + r.ID
		h.ownGen[key] = h.gen
		if _, loading := h.loading[r.LotID]; loading {
			h.loading[r.LotID] = append(h.loading[r.LotID], r)
		}
		if h.lots[r.LotID] == nil {
			continue
		}
		c := claimChange(r)
		c.At = &now
		h.apply(r.LotID, c, nil)
	}
	h.mu.Unlock()
}

// respotOwn reads a lot's record and spots again on Run's goroutine after
// this instance edited them, before the edit's request answers. The lot is
// named, or found by one of its spots. The edit has committed whatever
// happens here: when the read fails, the next poll reads them again.
func (h *Hub) respotOwn(ctx context.Context, lotID, spotID string) {
	err := h.respotNow(ctx, lotID, spotID)
	if err != nil && ctx.Err() == nil {
		h.log.Error("live: reading an edited lot's spots", "lot", lotID, "spot", spotID, "err", err)
		h.mu.Lock()
		for _, l := range h.lots {
			if l.id == lotID || l.spots[spotID] != nil {
				l.respot = true
			}
		}
		h.mu.Unlock()
	}
}

func (h *Hub) respotNow(ctx context.Context, lotID, spotID string) error {
	h.mu.RLock()
	if lotID == "" {
		for id, l := range h.lots {
			if l.spots[spotID] != nil {
				lotID = id
				break
			}
		}
	}
	_, loaded := h.lots[lotID]
	h.mu.RUnlock()
	if !loaded {
		return nil // read afresh when it is loaded
	}
	if err := h.requestLoad(ctx, lotID, true); !errors.Is(err, ErrStopped) {
		return err
	}
	return nil // a stopped hub has no index to refresh
}
