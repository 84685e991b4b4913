// Package live keeps each lot in use in memory, current with the events
// outbox: its record and policy, its spots and the claims on them. The
// instance's map reads, "any spot" and drive-up capacity read this index
// (index.go), and every change fans out to the lot's subscribers (the live
// map's WebSocket and SSE connections). docs/live.md describes what clients
// get.
//
// One goroutine (Run) follows the outbox: it loads a lot when its first
// reader or subscriber comes, turns each event into a message by reading the
// changed row as it is now, and applies the messages in the order it read
// them. Because every message states the row's current truth, and every change
// is followed by its own event, a message applied twice or late is harmless
// and the state converges on the database. This instance's own commits are
// applied at once by the store wrapper (waking.go), before the request that
// made them answers, and read again at the next poll.
package live

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
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
	// idleLot is how long a lot without subscribers or readers stays loaded.
	idleLot = time.Minute
	// horizon is how far ahead a lot's claims are loaded.
	horizon = 5 * 366 * 24 * time.Hour
	// loadBack is how far behind the moment of loading a lot's claims are
	// loaded: the index answers windows that start no earlier than that
	// (a hold may start PastTolerance ago; older windows ask the store).
	loadBack = time.Hour
	// RespotEvery is how often, at most, a lot in use has its record and
	// spots read again: editing a lot or its spots writes no event, so
	// another instance's edit reaches this one within this bound (this
	// instance's own edits at once, see waking.go).
	RespotEvery = 5 * time.Second
	// stampEvery is how often, at most, Run asks whether the lots due to be
	// read again changed (respotDue).
	stampEvery = time.Second
	// loadWait is how long a read waits for its lot to load before it asks
	// the store instead (use).
	loadWait = 250 * time.Millisecond
	// warmQueue is how many lots a search may queue to load (CountFree).
	warmQueue = 1024
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

	mu   sync.RWMutex
	lots map[string]*lot
	// Own commits (see applyOwn), guarded by mu: gen numbers them, ownGen
	// says which row each last changed, dirty lists the rows a poll read
	// while an own commit changed them, to read again at the next poll, and
	// loading keeps those of lots being loaded.
	gen     int64
	ownGen  map[string]int64
	dirty   []parking.Event
	loading map[string][]parking.Reservation

	loads   chan loadRequest
	pending []parking.Event // handed over by the tailer, not applied yet (Run's goroutine only)
	stamped time.Time       // when respotDue last read stamps (Run's goroutine only)
	wake    chan struct{}   // a change was committed here: poll now
	stopped chan struct{}   // closed when Run returns
	// listening is the poll interval while a Listener announces every
	// commit (see Listen), zero while none does; retime tells Run it changed.
	listening atomic.Int64
	retime    chan struct{}
	// announcer is the Listener that announces own commits (Listen), nil
	// while there is none.
	announcer atomic.Pointer[Listener]

	// warmQ holds the lots a count found unloaded (CountFree), for warmer
	// to load; warming, guarded by warmMu, those queued or loading.
	warmQ   chan string
	warmMu  sync.Mutex
	warming map[string]struct{}
}

// Message is one message for clients: its version and its JSON.
type Message struct {
	Version string
	Data    []byte
}

type loadRequest struct {
	lotID  string
	respot bool // read the lot's record and spots again, if it is loaded
	done   chan error
}

// lot is one lot in use. Its fields are guarded by the hub's mutex, but used.
type lot struct {
	id    string
	info  parking.Lot
	list  []parking.Spot // as the store lists them; replaced (setList), never modified, on a change
	sizes spotCounts     // list counted by size
	order []string       // spot ids: list's, then any spot a claim named before the list had it
	spots map[string]*spotState
	where map[string]string // claim key -> the spot it is on, so a move leaves the old spot
	since time.Time         // every claim that held its spot at or after this is known
	// version is the hub's sequence number at the lot's last change: it
	// names the state the index answers from.
	version int64
	base    int64 // the version when it was loaded: a since below it is unknown here
	evicted int64 // the highest version dropped from the ring
	ring    []ringEntry
	subs    map[*Subscription]struct{}
	idle    time.Time    // when the last subscriber left
	used    atomic.Int64 // when the index last read it, in Unix nanoseconds
	spotted time.Time    // when its record and spots were last read
	respot  bool         // a claim named a spot the list lacks: read them again
}

type spotState struct {
	at     int // its index in lot.list; -1 until the list has it
	claims map[string]Claim
}

// inService reports the spot's service state; a spot the list lacks yet is
// taken as in service, as a new spot is.
func (l *lot) inService(sp *spotState) bool { return sp.at < 0 || l.list[sp.at].InService }

type ringEntry struct {
	version int64
	msg     *Message
}

// NewHub returns a hub; Run must be running for Subscribe and the index to
// work.
func NewHub(log *slog.Logger, store Store, clock parking.Clock) *Hub {
	var b [4]byte
	rand.Read(b[:])
	return &Hub{
		log: log, store: store, clock: clock,
		epoch:   hex.EncodeToString(b[:]),
		lots:    map[string]*lot{},
		ownGen:  map[string]int64{},
		loading: map[string][]parking.Reservation{},
		loads:   make(chan loadRequest),
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
		retime:  make(chan struct{}, 1),
		warmQ:   make(chan string, warmQueue),
		warming: map[string]struct{}{},
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
	go h.warmer(ctx)
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
			if req.respot {
				req.done <- h.respot(ctx, req.lotID)
			} else {
				req.done <- h.load(ctx, req.lotID)
			}
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
		h.respotDue(ctx)
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
//
// A row this instance changed after the poll began (applyOwn) keeps the state
// its own commit gave it: the read here may be older, and the row is read
// again at the next poll.
func (h *Hub) poll(ctx context.Context, tail *feed.Tailer) error {
	h.mu.Lock()
	began := h.gen
	for k, g := range h.ownGen {
		if g <= began {
			delete(h.ownGen, k)
		}
	}
	own := h.dirty
	h.dirty = nil
	h.mu.Unlock()
	events, err := tail.Poll(ctx)
	events = append(append(h.pending, own...), events...)
	h.pending = nil
	if err != nil {
		h.pending = events
		return err
	}
	var order []string
	reread := false
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
		var spot *parking.Spot
		if rows[key].spot {
			sp, err := h.store.Spot(ctx, e.SpotID)
			if err != nil {
				h.pendFrom(rows, order[i:])
				return err
			}
			c, spot = Change{Type: "spot", SpotID: sp.ID, InService: &sp.InService}, &sp
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
		h.mu.Lock()
		if h.ownGen[key] <= began {
			h.apply(e.LotID, c, spot)
		} else {
			// An own commit changed the row while this poll read it: the
			// read may be older or newer than that commit. Read it again.
			h.dirty = append(h.dirty, e)
			reread = true
		}
		h.mu.Unlock()
	}
	if reread {
		h.Wake()
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
	h.mu.RLock()
	defer h.mu.RUnlock()
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
// subscriber, dropping those that have fallen too far behind. A "spot" change
// comes with the spot's record as read. The caller holds the mutex.
func (h *Hub) apply(lotID string, c Change, spot *parking.Spot) {
	l := h.lots[lotID]
	if l == nil {
		return
	}
	sp := l.spots[c.SpotID]
	if sp == nil {
		// A spot added since the lot's spots were read: it is kept aside
		// until they are read again, at the next poll. Clients see it on
		// their next snapshot.
		sp = &spotState{at: -1, claims: map[string]Claim{}}
		l.spots[c.SpotID] = sp
		l.order = append(l.order, c.SpotID)
		l.respot = true
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
		if sp.at >= 0 && spot != nil {
			list := slices.Clone(l.list)
			list[sp.at] = *spot
			l.setList(list)
		}
	}
	v := h.seq.Add(1)
	l.version = v
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

// load reads a lot's record, spots and claims; it runs on Run's goroutine, so
// no change is applied while it reads. A lot loaded already has its record
// and spots read again when they are RespotEvery old (a new subscriber sees
// spots added since).
func (h *Hub) load(ctx context.Context, lotID string) error {
	now := h.clock.Now()
	h.mu.Lock()
	l, ok := h.lots[lotID]
	stale := ok && now.Sub(l.spotted) >= RespotEvery
	if !ok {
		h.loading[lotID] = nil
	}
	h.mu.Unlock()
	if ok {
		if stale {
			return h.respot(ctx, lotID)
		}
		return nil
	}
	defer func() {
		h.mu.Lock()
		delete(h.loading, lotID)
		h.mu.Unlock()
	}()
	spots, err := h.store.Spots(ctx, lotID)
	if err != nil {
		return err
	}
	lotInfo, err := h.store.Lot(ctx, lotID)
	if err != nil {
		return err
	}
	since := now.Add(-loadBack)
	rs, err := h.store.LotReservations(ctx, lotID, since, now.Add(horizon))
	if err != nil {
		return err
	}
	l = &lot{id: lotID, info: lotInfo, order: make([]string, 0, len(spots)), spots: make(map[string]*spotState, len(spots)),
		where: map[string]string{}, since: since, subs: map[*Subscription]struct{}{}, idle: now, spotted: now}
	l.used.Store(now.UnixNano())
	l.setList(spots)
	for i, sp := range spots {
		l.order = append(l.order, sp.ID)
		l.spots[sp.ID] = &spotState{at: i, claims: map[string]Claim{}}
	}
	for _, r := range rs {
		if sp := l.spots[r.SpotID]; sp != nil && lotInfo.Policy.Holds(r, now) {
			c := claimOf(r)
			sp.claims[c.Key] = c
			l.where[c.Key] = r.SpotID
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	l.version = h.seq.Add(1)
	l.base = l.version
	h.lots[lotID] = l
	// This instance's commits while the lot was read may have come too late
	// for the read: apply them again (a later state read since is restored
	// by the next poll, which reads their rows again).
	for _, r := range h.loading[lotID] {
		h.apply(lotID, claimChange(r), nil)
	}
	return nil
}

// respot reads a loaded lot's record and spots again: other instances' edits
// of them write no event. Spots keep their claims; a spot removed from the
// list (none are, today) would keep its claims aside.
func (h *Hub) respot(ctx context.Context, lotID string) error {
	now := h.clock.Now()
	spots, err := h.store.Spots(ctx, lotID)
	if err != nil {
		return err
	}
	lotInfo, err := h.store.Lot(ctx, lotID)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	l := h.lots[lotID]
	if l == nil {
		return nil
	}
	l.spotted, l.respot = now, false
	if lotInfo.Version == l.info.Version && sameSpots(l.list, spots) {
		return nil
	}
	l.info = lotInfo
	l.setList(spots)
	for _, sp := range l.spots {
		sp.at = -1
	}
	for i, sp := range spots {
		if st := l.spots[sp.ID]; st != nil {
			st.at = i
			continue
		}
		l.order = append(l.order, sp.ID)
		l.spots[sp.ID] = &spotState{at: i, claims: map[string]Claim{}}
	}
	l.version = h.seq.Add(1)
	return nil
}

// sameSpots reports whether two readings of a lot's spots list the same
// versions of the same spots.
func sameSpots(a, b []parking.Spot) bool {
	return slices.EqualFunc(a, b, func(x, y parking.Spot) bool { return x.ID == y.ID && x.Version == y.Version })
}

// dueRespot lists the loaded lots whose record and spots should be read
// again: a claim named a spot they lack, or they were used since they were
// read RespotEvery ago. A lot nobody uses costs no query.
func (h *Hub) dueRespot() []string {
	now := h.clock.Now()
	h.mu.RLock()
	defer h.mu.RUnlock()
	var due []string
	for id, l := range h.lots {
		used := time.Unix(0, l.used.Load())
		if l.respot || now.Sub(l.spotted) >= RespotEvery && used.After(l.spotted) {
			due = append(due, id)
		}
	}
	return due
}

// respotDue reads again the record and spots of the lots dueRespot lists
// that changed since they were read: their stamps are read in one query, at
// most every stampEvery, and only a lot whose stamp differs (or a claim found
// lacking a spot) is read again, so that a thousand lots in use cost a query
// a second, not two queries a lot every RespotEvery.
func (h *Hub) respotDue(ctx context.Context) {
	now := h.clock.Now()
	if now.Sub(h.stamped) < stampEvery {
		return
	}
	due := h.dueRespot()
	if len(due) == 0 {
		return
	}
	h.stamped = now
	stamps, err := h.store.LotStamps(ctx, due)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Error("live: reading the stamps of lots in use", "lots", len(due), "err", err)
		}
		return
	}
	for _, id := range due {
		h.mu.Lock()
		l := h.lots[id]
		changed := l != nil && (l.respot || stamps[id] != parking.StampOf(l.info, l.list))
		if l != nil && !changed {
			l.spotted = now
		}
		h.mu.Unlock()
		if !changed {
			continue
		}
		if err := h.respot(ctx, id); err != nil && ctx.Err() == nil {
			h.log.Error("live: reading a lot's spots again", "lot", id, "err", err)
		}
	}
}

// unloadIdle forgets lots nobody has watched or read for a while.
func (h *Hub) unloadIdle() {
	now := h.clock.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, l := range h.lots {
		used := time.Unix(0, l.used.Load())
		if len(l.subs) == 0 && now.Sub(l.idle) > idleLot && now.Sub(used) > idleLot {
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
	if err := h.requestLoad(ctx, lotID, false); err != nil {
		return nil, err
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
		st := SpotState{ID: id, InService: l.inService(sp), Claims: []Claim{}}
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

// requestLoad asks Run's goroutine to load a lot (see load), or with respot
// to read its record and spots again (see respot), and waits for it;
// ErrStopped when the hub is not running.
func (h *Hub) requestLoad(ctx context.Context, lotID string, respot bool) error {
	req := loadRequest{lotID: lotID, respot: respot, done: make(chan error, 1)}
	select {
	case h.loads <- req:
	case <-h.stopped:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
