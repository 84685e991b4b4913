// Package live keeps each watched lot's spot states in memory, current with the
// events outbox, and fans every change out to the lot's subscribers (the live
// map's WebSocket and SSE connections). docs/live.md describes what clients get.
//
// One goroutine (Run) follows the outbox and owns every change to the state:
// it loads a lot when its first subscriber comes, turns each event into a
// message by reading the changed row as it is now, and applies the messages in
// the order it read them. Because every message states the row's current
// truth, and every change is followed by its own event, a message applied
// twice or late is harmless and the state converges on the database.
package live

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"parkd/internal/feed"
	"parkd/internal/parking"
)

// Tuning.
const (
	// RingSize is how many messages a lot keeps for clients that reconnect.
	RingSize = 4096
	// QueueSize is how many messages a subscriber may fall behind by before it
	// is dropped.
	QueueSize = 256
	// idleLot is how long a lot without subscribers stays loaded.
	idleLot = time.Minute
	// horizon is how far ahead a lot's claims are loaded.
	horizon = 5 * 366 * 24 * time.Hour
	// respotEvery is how often, at most, a watched lot's spots are read again
	// for a new subscriber: adding spots writes no event.
	respotEvery = 5 * time.Second
)

// Claim is a reservation holding a spot, named by a key that does not reveal
// the reservation.
type Claim struct {
	Key           string     `json:"key"`
	From          time.Time  `json:"from"`
	To            time.Time  `json:"to"`
	Status        string     `json:"status"` // held, confirmed, checked_in
	HoldExpiresAt *time.Time `json:"hold_expires_at,omitempty"`
}

// end is when c stops holding its spot, as known at now: a car inside past
// its window holds it until a "released" message (Reservation.ClaimEnd).
func (c Claim) end(now time.Time) time.Time {
	r := parking.Reservation{Status: parking.Status(c.Status), EndsAt: c.To}
	return r.ClaimEnd(now)
}

// SpotState is one spot in a snapshot.
type SpotState struct {
	ID        string  `json:"id"`
	InService bool    `json:"in_service"`
	Claims    []Claim `json:"claims"`
}

// Snapshot is the first message a new subscriber gets.
type Snapshot struct {
	Type    string      `json:"type"` // "snapshot"
	Version string      `json:"version"`
	LotID   string      `json:"lot_id"`
	From    time.Time   `json:"from"`
	To      time.Time   `json:"to"`
	Now     time.Time   `json:"now"`
	Spots   []SpotState `json:"spots"`
}

// Change is every message after the snapshot: a claim that changed, a spot
// that went in or out of service, or a request to resync.
type Change struct {
	Type          string     `json:"type"` // "claim", "spot" or "resync"
	Version       string     `json:"version"`
	SpotID        string     `json:"spot_id,omitempty"`
	Key           string     `json:"key,omitempty"`
	From          *time.Time `json:"from,omitempty"`
	To            *time.Time `json:"to,omitempty"`
	Status        string     `json:"status,omitempty"` // held, confirmed, checked_in, released
	HoldExpiresAt *time.Time `json:"hold_expires_at,omitempty"`
	InService     *bool      `json:"in_service,omitempty"`
	// At is when the change happened (the event's time): a client can tell
	// how long it took to arrive.
	At *time.Time `json:"at,omitempty"`
}

// ErrSlow is why a subscriber that fell QueueSize messages behind was dropped.
var ErrSlow = errors.New("live: subscriber too slow")

// ErrStopped answers a subscriber that comes when the hub is not running (the
// server is shutting down).
var ErrStopped = parking.Errorf(parking.EUNAVAILABLE, "the live feed is stopping: reconnect in a moment")

// Store is what the hub asks of parkd's storage.
type Store interface {
	parking.LotStore
	parking.ReservationStore
	parking.EventStore
}

// Hub is the live state of the watched lots.
type Hub struct {
	log   *slog.Logger
	store Store
	clock parking.Clock
	epoch string       // names this process's versions
	seq   atomic.Int64 // the last version given to a message, of any lot
	// dropped counts subscribers dropped for falling behind (ErrSlow).
	dropped atomic.Int64

	mu   sync.Mutex
	lots map[string]*lot

	loads   chan loadRequest
	pending []parking.Event // handed over by the tailer, not applied yet (Run's goroutine only)
	wake    chan struct{}   // a change was committed here: poll now
	stopped chan struct{}   // closed when Run returns
	// listening is the poll interval while a Listener announces every
	// commit (see Listen), zero while none does; retime tells Run it changed.
	listening atomic.Int64
	retime    chan struct{}
}

// Message is one message for clients: its version and its JSON.
type Message struct {
	Version string
	Data    []byte
}

type loadRequest struct {
	lotID string
	done  chan error
}

// lot is one watched lot. Its fields are guarded by the hub's mutex.
type lot struct {
	id      string
	order   []string // spot ids, as the store lists them
	spots   map[string]*spotState
	where   map[string]string // claim key -> the spot it is on, so a move leaves the old spot
	base    int64             // the version when it was loaded: a since below it is unknown here
	evicted int64             // the highest version dropped from the ring
	ring    []ringEntry
	subs    map[*Subscription]struct{}
	idle    time.Time // when the last subscriber left
	spotted time.Time // when its spots were last read
}

type spotState struct {
	inService bool
	claims    map[string]Claim
}

type ringEntry struct {
	version int64
	msg     *Message
}

// NewHub returns a hub; Run must be running for Subscribe to work.
func NewHub(log *slog.Logger, store Store, clock parking.Clock) *Hub {
	var b [4]byte
	rand.Read(b[:])
	return &Hub{
		log: log, store: store, clock: clock,
		epoch:   hex.EncodeToString(b[:]),
		lots:    map[string]*lot{},
		loads:   make(chan loadRequest),
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
		retime:  make(chan struct{}, 1),
	}
}

// Wake makes Run poll now rather than at its next tick (see Waking).
func (h *Hub) Wake() {
	select {
	case h.wake <- struct{}{}:
	default: // a wake is pending already
	}
}

// Run follows the outbox until ctx ends: at once when woken (Wake, or a
// Listener), and otherwise every interval, or every Listen's fallback while a
// Listener announces other instances' commits.
func (h *Hub) Run(ctx context.Context, every time.Duration) error {
	defer close(h.stopped)
	tail, err := feed.Start(ctx, h.store)
	for err != nil {
		h.log.Error("live: cannot read the outbox", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		tail, err = feed.Start(ctx, h.store)
	}
	timer := time.NewTimer(h.pollEvery(every))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			h.closeAll()
			return ctx.Err()
		case req := <-h.loads:
			req.done <- h.load(ctx, req.lotID)
			continue
		case <-h.retime:
			timer.Reset(h.pollEvery(every))
			continue
		case <-timer.C:
		case <-h.wake:
			if lots, _ := h.Watched(); lots == 0 {
				continue // nobody watches: the timer keeps the tailer moving
			}
		}
		if err := h.poll(ctx, tail); err != nil && ctx.Err() == nil {
			h.log.Error("live: following the outbox", "err", err)
		}
		h.unloadIdle()
		timer.Reset(h.pollEvery(every))
	}
}

// pollEvery is how long Run waits for a wake before it polls anyway.
func (h *Hub) pollEvery(every time.Duration) time.Duration {
	if d := time.Duration(h.listening.Load()); d > 0 {
		return d
	}
	return every
}

// poll applies the events that became visible to the lots being watched. A
// row that changed several times since the last poll is read once: a message
// states the row as it is now, so one message covers all its events. Events it
// could not apply (the store failed) stay pending for the next poll: the
// tailer has handed them over and will not again.
func (h *Hub) poll(ctx context.Context, tail *feed.Tailer) error {
	events, err := tail.Poll(ctx)
	events = append(h.pending, events...)
	h.pending = nil
	if err != nil {
		h.pending = events
		return err
	}
	var order []string
	rows := map[string]*changedRow{}
	for _, e := range events {
		var key string
		switch {
		case strings.HasPrefix(e.Type, "reservation."):
			key = "r" + e.ReservationID
		case strings.HasPrefix(e.Type, "spot."):
			key = "s" + e.SpotID
		default:
			continue
		}
		if !h.watched(e.LotID) {
			continue
		}
		if rows[key] == nil {
			order = append(order, key)
			rows[key] = &changedRow{spot: key[0] == 's'}
		}
		rows[key].event = e
	}
	for i, key := range order {
		e := rows[key].event
		var c Change
		if rows[key].spot {
			sp, err := h.store.Spot(ctx, e.SpotID)
			if err != nil {
				h.pendFrom(rows, order[i:])
				return err
			}
			c = Change{Type: "spot", SpotID: sp.ID, InService: &sp.InService}
		} else {
			r, err := h.store.Reservation(ctx, e.ReservationID)
			if err != nil {
				h.pendFrom(rows, order[i:])
				return err
			}
			c = claimChange(r)
		}
		at := e.At
		c.At = &at
		h.apply(e.LotID, c)
	}
	return nil
}

// changedRow is a spot or reservation that changed since the last poll.
type changedRow struct {
	event parking.Event // its latest event
	spot  bool          // a spot's event, else a reservation's
}

// pendFrom keeps the latest events of rows not yet applied for the next poll.
func (h *Hub) pendFrom(rows map[string]*changedRow, keys []string) {
	for _, k := range keys {
		h.pending = append(h.pending, rows[k].event)
	}
}

func (h *Hub) watched(lotID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.lots[lotID]
	return ok
}

// ClaimKey names a reservation in public: the id's hash, too short to guess
// the id from and enough to tell a lot's claims apart.
func ClaimKey(reservationID string) string {
	sum := sha256.Sum256([]byte(reservationID))
	return hex.EncodeToString(sum[:8])
}

func claimOf(r parking.Reservation) Claim {
	c := Claim{Key: ClaimKey(r.ID), From: r.StartsAt, To: r.EndsAt, Status: string(r.Status)}
	if r.Status == parking.StatusHeld {
		exp := r.HoldExpiresAt
		c.HoldExpiresAt = &exp
	}
	return c
}

func claimChange(r parking.Reservation) Change {
	c := claimOf(r)
	ch := Change{Type: "claim", SpotID: r.SpotID, Key: c.Key, From: &c.From, To: &c.To, Status: c.Status, HoldExpiresAt: c.HoldExpiresAt}
	if !r.Status.Active() {
		ch.Status, ch.HoldExpiresAt = "released", nil
	}
	return ch
}

// apply changes a lot's state, numbers the change and sends it to every
// subscriber, dropping those that have fallen too far behind.
func (h *Hub) apply(lotID string, c Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.lots[lotID]
	if l == nil {
		return
	}
	sp := l.spots[c.SpotID]
	if sp == nil {
		// A spot added since the lot was loaded: the spots list comes from
		// the store, so a fresh load has it. Clients see it on their next
		// snapshot.
		sp = &spotState{inService: true, claims: map[string]Claim{}}
		l.spots[c.SpotID] = sp
		l.order = append(l.order, c.SpotID)
	}
	switch c.Type {
	case "claim":
		if prev, ok := l.where[c.Key]; ok && prev != c.SpotID {
			// Moved to another spot: its claim leaves the old one. Clients
			// do the same with the claim message (docs/live.md).
			if old := l.spots[prev]; old != nil {
				delete(old.claims, c.Key)
			}
		}
		if c.Status == "released" {
			delete(sp.claims, c.Key)
			delete(l.where, c.Key)
		} else {
			sp.claims[c.Key] = Claim{Key: c.Key, From: *c.From, To: *c.To, Status: c.Status, HoldExpiresAt: c.HoldExpiresAt}
			l.where[c.Key] = c.SpotID
		}
	case "spot":
		sp.inService = *c.InService
	}
	v := h.seq.Add(1)
	c.Version = h.version(v)
	data, err := json.Marshal(c)
	if err != nil {
		h.log.Error("live: encoding a change", "err", err)
		return
	}
	msg := &Message{Version: c.Version, Data: data}
	if len(l.ring) == RingSize {
		l.evicted = l.ring[0].version
		copy(l.ring, l.ring[1:])
		l.ring = l.ring[:RingSize-1]
	}
	l.ring = append(l.ring, ringEntry{version: v, msg: msg})
	for s := range l.subs {
		select {
		case s.ch <- msg:
		default:
			h.dropped.Add(1)
			h.drop(l, s, ErrSlow)
		}
	}
}

func (h *Hub) version(v int64) string { return h.epoch + "." + strconv.FormatInt(v, 10) }

// parseVersion returns the number of a version this process gave, or false.
func (h *Hub) parseVersion(s string) (int64, bool) {
	epoch, n, ok := strings.Cut(s, ".")
	if !ok || epoch != h.epoch {
		return 0, false
	}
	v, err := strconv.ParseInt(n, 10, 64)
	return v, err == nil
}

// load reads a lot's spots and claims; it runs on Run's goroutine, so no
// change is applied while it reads.
func (h *Hub) load(ctx context.Context, lotID string) error {
	now := h.clock.Now()
	h.mu.Lock()
	l, ok := h.lots[lotID]
	stale := ok && now.Sub(l.spotted) >= respotEvery
	h.mu.Unlock()
	if ok && !stale {
		return nil
	}
	spots, err := h.store.Spots(ctx, lotID)
	if err != nil {
		return err
	}
	if ok {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, sp := range spots {
			if l.spots[sp.ID] == nil {
				l.order = append(l.order, sp.ID)
				l.spots[sp.ID] = &spotState{inService: sp.InService, claims: map[string]Claim{}}
			}
		}
		l.spotted = now
		return nil
	}
	lotInfo, err := h.store.Lot(ctx, lotID)
	if err != nil {
		return err
	}
	rs, err := h.store.LotReservations(ctx, lotID, now, now.Add(horizon))
	if err != nil {
		return err
	}
	l = &lot{id: lotID, order: make([]string, 0, len(spots)), spots: make(map[string]*spotState, len(spots)), where: map[string]string{},
		base: h.seq.Load(), subs: map[*Subscription]struct{}{}, idle: now, spotted: now}
	for _, sp := range spots {
		l.order = append(l.order, sp.ID)
		l.spots[sp.ID] = &spotState{inService: sp.InService, claims: map[string]Claim{}}
	}
	for _, r := range rs {
		if sp := l.spots[r.SpotID]; sp != nil && lotInfo.Policy.Holds(r, now) {
			c := claimOf(r)
			sp.claims[c.Key] = c
			l.where[c.Key] = r.SpotID
		}
	}
	h.mu.Lock()
	h.lots[lotID] = l
	h.mu.Unlock()
	return nil
}

// unloadIdle forgets lots nobody has watched for a while.
func (h *Hub) unloadIdle() {
	now := h.clock.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, l := range h.lots {
		if len(l.subs) == 0 && now.Sub(l.idle) > idleLot {
			delete(h.lots, id)
		}
	}
}

func (h *Hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, l := range h.lots {
		for s := range l.subs {
			h.drop(l, s, context.Canceled)
		}
		delete(h.lots, id)
	}
}

// drop ends a subscription; the caller holds the mutex.
func (h *Hub) drop(l *lot, s *Subscription, err error) {
	delete(l.subs, s)
	if len(l.subs) == 0 {
		l.idle = h.clock.Now()
	}
	s.err = err
	close(s.ch)
}

// Subscription is one client watching one lot.
type Subscription struct {
	hub *Hub
	lot *lot
	// Backlog is what the client gets first: a snapshot, or the messages it
	// missed since the version it had.
	Backlog []*Message
	ch      chan *Message
	err     error // why ch was closed, set before closing it
}

// C delivers the changes after the backlog. It is closed when the hub drops
// the subscriber (see Err) or the hub stops.
func (s *Subscription) C() <-chan *Message { return s.ch }

// Err says why C was closed: ErrSlow, or the hub stopping.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if _, ok := s.lot.subs[s]; ok {
		s.hub.drop(s.lot, s, nil)
	}
}

// Subscribe starts watching a lot over the window [from, to). With since, a
// version the client had from this process, the backlog is the messages after
// it when the lot still keeps them; otherwise it is a fresh snapshot.
func (h *Hub) Subscribe(ctx context.Context, lotID string, from, to time.Time, since string) (*Subscription, error) {
	req := loadRequest{lotID: lotID, done: make(chan error, 1)}
	select {
	case h.loads <- req:
	case <-h.stopped:
		return nil, ErrStopped
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case err := <-req.done:
		if err != nil {
			return nil, err
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.lots[lotID]
	if l == nil { // unloaded between the load and now: it was idle, so nothing changed
		return nil, errors.New("live: lot unloaded while subscribing; try again")
	}
	s := &Subscription{hub: h, lot: l, ch: make(chan *Message, QueueSize)}
	if v, ok := h.parseVersion(since); ok && v >= l.base && v >= l.evicted {
		for _, e := range l.ring {
			if e.version > v {
				s.Backlog = append(s.Backlog, e.msg)
			}
		}
	} else {
		snap := h.snapshot(l, from, to)
		data, err := json.Marshal(snap)
		if err != nil {
			return nil, err
		}
		s.Backlog = []*Message{{Version: snap.Version, Data: data}}
	}
	l.subs[s] = struct{}{}
	return s, nil
}

// snapshot is the lot as it is now, with the claims overlapping [from, to);
// the caller holds the mutex.
func (h *Hub) snapshot(l *lot, from, to time.Time) Snapshot {
	snap := Snapshot{Type: "snapshot", Version: h.version(h.seq.Load()), LotID: l.id, From: from, To: to,
		Now: h.clock.Now(), Spots: make([]SpotState, 0, len(l.order))}
	for _, id := range l.order {
		sp := l.spots[id]
		st := SpotState{ID: id, InService: sp.inService, Claims: []Claim{}}
		for _, c := range sp.claims {
			if parking.Overlaps(c.From, c.end(snap.Now), from, to) {
				st.Claims = append(st.Claims, c)
			}
		}
		snap.Spots = append(snap.Spots, st)
	}
	return snap
}

// Resync is the message a dropped subscriber gets, if it can take one.
func (h *Hub) Resync() *Message {
	c := Change{Type: "resync", Version: h.version(h.seq.Load())}
	data, _ := json.Marshal(c)
	return &Message{Version: c.Version, Data: data}
}

// Dropped reports how many subscribers were dropped for falling QueueSize
// messages behind.
func (h *Hub) Dropped() int64 { return h.dropped.Load() }

// Watched reports how many lots are loaded and how many subscribers they have.
func (h *Hub) Watched() (lots, subscribers int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.lots {
		subscribers += len(l.subs)
	}
	return len(h.lots), subscribers
}
