package parking

import (
	"context"
	"time"
)

// Store is parkd's storage: the composition of one interface per aggregate,
// so that each service asks only for the parts it uses. Every backend passes
// the conformance suite in internal/store/storetest, and files the methods of
// each part in a file of the same name (lots.go, accounts.go, reservations.go,
// payments.go, gates.go, events.go, idempotency.go, operations.go). Missing
// rows are ErrNotFound.
type Store interface {
	Ping(ctx context.Context) error
	Close() error

	LotStore
	AccountStore
	ReservationStore
	PaymentStore
	GateStore
	EventStore
	NotificationStore // notify.go
	IdempotencyStore
	OperationsStore // operations.go
}

// LotStore holds operators, lots, their levels and spots.
type LotStore interface {
	CreateOperator(ctx context.Context, o *Operator) error
	Operator(ctx context.Context, id string) (Operator, error)
	CreateLot(ctx context.Context, l *Lot) error
	Lot(ctx context.Context, id string) (Lot, error)
	Lots(ctx context.Context) ([]Lot, error)

	// SearchLots answers q with at most q.Limit lots after q.After, ordered by
	// name and id, or near q.Near by DistanceKey and id, in one query.
	SearchLots(ctx context.Context, q LotQuery) ([]LotMatch, error)
	// CountFree sets Total and Free of every lot of found over w, in one
	// query whatever their number: Total the spots w.Size fits (every spot
	// when it is zero), Free those of them in service that nothing claims
	// over [w.From, w.To) at w.Now (as Bookings).
	CountFree(ctx context.Context, found []LotMatch, w LotWindow) error
	// LotStamps answers, in one query, the stamp of each of the lots named
	// that exists (LotStamp): whether a lot's record or spots changed since
	// they were read, without reading them.
	LotStamps(ctx context.Context, lotIDs []string) (map[string]LotStamp, error)

	// UpdateLot saves every field of l but its id, operator and creation time,
	// provided the stored lot is still at l.Version (the check is part of the
	// UPDATE): else ErrStale and nothing changes. On success l.Version is the
	// new version. Create* store version 1.
	UpdateLot(ctx context.Context, l *Lot) error

	CreateLevel(ctx context.Context, l *Level) error
	Levels(ctx context.Context, lotID string) ([]Level, error)

	// UpdateLevel saves a level's name, ordinal and plan size, as UpdateLot
	// over l.Version.
	UpdateLevel(ctx context.Context, l *Level) error

	// CreateSpots inserts spots all or none; a duplicate label in a lot is ErrConflict.
	CreateSpots(ctx context.Context, spots []Spot) error

	Spot(ctx context.Context, id string) (Spot, error)

	// Spots lists a lot's spots ordered by size, then label.
	Spots(ctx context.Context, lotID string) ([]Spot, error)

	// UpdateSpot saves a spot's label, size, position and amenities, as
	// UpdateLot over s.Version; its service state changes only through
	// SetSpotInService.
	UpdateSpot(ctx context.Context, s *Spot) error

	// SetSpotInService records the change and its event.
	SetSpotInService(ctx context.Context, spotID string, inService bool, at time.Time) error
}

// AccountStore holds users, their vehicles and their sign-in sessions.
type AccountStore interface {
	// CreateUser stores u; an email already taken is ErrConflict.
	CreateUser(ctx context.Context, u *User) error

	User(ctx context.Context, id string) (User, error)
	UserByEmail(ctx context.Context, email string) (User, error)
	CreateVehicle(ctx context.Context, v *Vehicle) error

	// Vehicle returns a vehicle, also one its owner removed (reservations keep
	// pointing at it); Vehicles lists only those not removed.
	Vehicle(ctx context.Context, id string) (Vehicle, error)

	Vehicles(ctx context.Context, userID string) ([]Vehicle, error)

	// DeleteVehicle removes a vehicle from its owner's list; a missing or
	// already removed vehicle is ErrNotFound.
	DeleteVehicle(ctx context.Context, id string, at time.Time) error

	CreateSession(ctx context.Context, s *Session) error

	// Session returns the session with this token hash, expired or not.
	Session(ctx context.Context, tokenHash string) (Session, error)

	// UserBySession returns the session with this token hash, expired or
	// not, and its user, in one query: a request's sign-in check costs one
	// round trip.
	UserBySession(ctx context.Context, tokenHash string) (Session, User, error)

	DeleteSession(ctx context.Context, tokenHash string) error
}

// ReservationStore holds reservations: the claims on spots, and every move of
// one through its lifecycle. The database decides every claim.
type ReservationStore interface {
	// Hold inserts r, a held reservation, on the first of candidates (spot ids, in
	// order of preference) that is free for r's window, and sets r.SpotID. Holds
	// whose expiry has passed by r.CreatedAt are expired first, and confirmed
	// reservations past their lot's no-show deadline are marked no-shows, so
	// neither ever blocks. Spots out of service take no hold, nor do spots
	// with a car inside past its window that came in before r ends (it holds
	// its spot until it leaves). The database decides: when two holds race for a spot, the first to commit
	// wins. If no candidate is free, Hold returns ErrSpotUnavailable.
	//
	// When key is not nil, the hold goes in only while the key is still the
	// caller's claim, in flight; the same transaction completes it with
	// key.Status and r's id, so a retry can never book twice. A key that is
	// not the caller's claim is ErrNotFound. With key.Record, nobody claimed
	// the key: the same transaction records it, completed with key.Status,
	// r's id and the response key.Record.Body renders of r on its spot; a
	// live record of the key is ErrKeyTaken and nothing is held (see
	// KeyRecord). Either way a hold that fails records nothing of the key.
	Hold(ctx context.Context, r *Reservation, candidates []string, key *KeyCompletion) error

	Reservation(ctx context.Context, id string) (Reservation, error)

	// UserReservations lists a user's reservations, newest window first.
	UserReservations(ctx context.Context, userID string) ([]Reservation, error)

	// LotReservations lists a lot's reservations of any status whose window
	// overlaps [from, to), and the cars inside that came in before to (they
	// hold their spots past their windows), by start.
	LotReservations(ctx context.Context, lotID string, from, to time.Time) ([]Reservation, error)

	// SpotReservations lists a spot's reservations that hold it at from and
	// claim it after from (Policy.Claims): held, confirmed, and every car
	// inside, overstaying or not; by start.
	SpotReservations(ctx context.Context, spotID string, from time.Time) ([]Reservation, error)

	// Bookings returns, for each spot of the lot with a reservation that claims
	// some of [from, to) at now (Policy.Claims: a car inside past its window
	// claims its spot until it leaves), its strongest claim.
	Bookings(ctx context.Context, lotID string, from, to, now time.Time) ([]SpotBooking, error)

	// ChangeStatus applies c and records its event. When the reservation is not
	// in one of c.From, it returns the reservation as it is and ErrInvalidStatus.
	// A reservation that would hold its spot afterwards is subject to the same
	// rule as Hold: checking a car in on a spot where another car is still
	// inside past its window is ErrSpotUnavailable.
	ChangeStatus(ctx context.Context, c StatusChange) (Reservation, error)

	// ExpireHolds expires every hold whose expiry is at or before now.
	ExpireHolds(ctx context.Context, now time.Time) (int, error)

	// MarkNoShows moves the lot's confirmed reservations whose start is at or
	// before startedBy to no_show, each exactly once (also with several
	// instances running it at once), records their events and returns them.
	MarkNoShows(ctx context.Context, lotID string, startedBy, at time.Time) ([]Reservation, error)

	// FlagOverstays returns the lot's checked-in reservations whose end is at
	// or before endedBy and that were not flagged before, flagging each exactly
	// once with a "reservation.overstaying" event.
	FlagOverstays(ctx context.Context, lotID string, endedBy, at time.Time) ([]Reservation, error)

	// MoveReservation applies m: the reservation goes to the first candidate
	// that is in service, has no claim on it overlapping the reservation's
	// window and no car inside past its window, and records a
	// "reservation.moved" event. The database decides, as for Hold. When no
	// candidate is free it returns ErrSpotUnavailable and changes nothing;
	// when the reservation is not held or confirmed on m.From (any more), it
	// returns it as it is with ErrInvalidStatus.
	MoveReservation(ctx context.Context, m Move) (Reservation, error)

	// ExtendReservation applies x in one transaction: each move, then the new
	// end (only from x.From: else ErrInvalidStatus with the reservation as it
	// is), then x.Charge, with a "reservation.extended" event. A move that
	// finds no spot, or a new end that overlaps another claim, is
	// ErrSpotUnavailable; a pending charge for another extension of the same
	// reservation is ErrConflict. Either way nothing changes.
	ExtendReservation(ctx context.Context, x Extension) (Reservation, []Reservation, error)

	// Displaced lists the lot's held and confirmed reservations, holding their
	// spots at now and starting at or before startsBy, whose spot is out of service
	// or has a car inside past its window that came in before they end: the
	// bookings to move before their drivers arrive.
	Displaced(ctx context.Context, lotID string, startsBy, now time.Time) ([]Reservation, error)

	// DisplacedUnrefunded lists reservations the lot cancelled (ChangeReason
	// set) that still have a succeeded charge with no live refund, at most
	// limit: refunds owed that a crash may have interrupted.
	DisplacedUnrefunded(ctx context.Context, limit int) ([]Reservation, error)
}

// PaymentStore holds charges, refunds and saved payment methods.
type PaymentStore interface {
	// CreatePayment stores a new payment. A second charge for a reservation
	// and purpose while one is pending or succeeded is ErrConflict.
	CreatePayment(ctx context.Context, p *Payment) error

	Payment(ctx context.Context, id string) (Payment, error)

	// PaymentByGatewayID finds a payment by its gateway's id.
	PaymentByGatewayID(ctx context.Context, gatewayID string) (Payment, error)

	// ReservationPayments lists a reservation's payments, oldest first.
	ReservationPayments(ctx context.Context, reservationID string) ([]Payment, error)

	// UserPayments lists a user's payments, newest first.
	UserPayments(ctx context.Context, userID string) ([]Payment, error)

	// ClaimPendingRefunds leases to claimer, until now+lease, at most limit
	// refunds still pending that were created before createdBefore and that
	// no lease holds at now (never claimed, released, or lapsed), oldest
	// first: the ones to send to the gateway again. The claim is one
	// conditional UPDATE, so of callers claiming at once, also on several
	// instances, each refund goes to one.
	ClaimPendingRefunds(ctx context.Context, claimer string, createdBefore, now time.Time, lease time.Duration, limit int) ([]Payment, error)

	// ReleaseRefundClaim ends claimer's lease on refund id, if it still holds
	// it, so that the next retry may send the refund again at once.
	ReleaseRefundClaim(ctx context.Context, id, claimer string) error

	// UpdatePayment applies u and returns the payment and its reservation as
	// they are afterwards. A payment not in u.From is returned as it is, with
	// ErrInvalidStatus. An extension's charge that fails moves the
	// reservation's end back from ExtendsTo to ExtendsFrom (if it is still
	// there), with a "reservation.extended" event, in the same transaction.
	UpdatePayment(ctx context.Context, u PaymentUpdate) (Payment, Reservation, error)

	// SavePaymentMethod stores (or replaces) a user's saved payment method.
	SavePaymentMethod(ctx context.Context, m SavedPaymentMethod) error

	// SavedPaymentMethod returns a user's saved payment method, or ErrNotFound.
	SavedPaymentMethod(ctx context.Context, userID string) (SavedPaymentMethod, error)

	// DeletePaymentMethod forgets a user's saved payment method; forgetting none is fine.
	DeletePaymentMethod(ctx context.Context, userID string) error
}

// GateStore holds gates, their device keys, the lots' gate logs and the
// keys gate passes are signed with.
type GateStore interface {
	CreateGate(ctx context.Context, g *Gate) error
	Gate(ctx context.Context, id string) (Gate, error)
	Gates(ctx context.Context, lotID string) ([]Gate, error)
	GateByKeyHash(ctx context.Context, keyHash string) (Gate, error)

	// CreateGatePairing stores a kiosk pairing link by its token's hash.
	CreateGatePairing(ctx context.Context, p *GatePairing) error
	// GatePairing finds a pairing by its token's hash (ErrNotFound if none).
	GatePairing(ctx context.Context, tokenHash string) (GatePairing, error)
	// UseGatePairing marks a pairing used at at, provided it is unused and
	// not expired at at (the check is part of the UPDATE, so of two
	// concurrent redeems one wins); otherwise ErrConflict.
	UseGatePairing(ctx context.Context, tokenHash string, at time.Time) error

	// RecordGateEvent appends one event to a lot's gate log.
	RecordGateEvent(ctx context.Context, e *GateEvent) error

	// GateEvents reads a lot's gate log, oldest first.
	GateEvents(ctx context.Context, lotID string, f GateEventFilter) ([]GateEvent, error)

	// EnsurePassKey stores k unless a pass key is stored already, and returns
	// every stored key, newest first, so all instances sign with the same one.
	EnsurePassKey(ctx context.Context, k PassKey) ([]PassKey, error)

	// SavePassCode records that the typed code whose digest is digest names
	// reservation reservationID; saving it again changes nothing.
	SavePassCode(ctx context.Context, digest, reservationID string) error

	// PassCodeReservations lists the reservations whose typed codes have any
	// of digests (several: a code may have been made with any key of the
	// ring).
	PassCodeReservations(ctx context.Context, digests []string) ([]string, error)
}

// EventStore reads the outbox: the events every change writes in its own
// transaction.
type EventStore interface {
	// Events lists a lot's events after seq, oldest first, at most limit; a
	// limit of zero or less means no limit (on Events and EventsSince alike).
	Events(ctx context.Context, lotID string, afterSeq int64, limit int) ([]Event, error)

	// EventsSince lists the events of every lot whose seq is above afterSeq or
	// in missing, by seq, at most limit. Readers that follow the outbox use
	// missing to look again for seqs they skipped: on PostgreSQL and MySQL a
	// lower seq can commit after a higher one.
	EventsSince(ctx context.Context, afterSeq int64, missing []int64, limit int) ([]Event, error)

	// LastEventSeq is the highest seq written so far (0 when there is none).
	LastEventSeq(ctx context.Context) (int64, error)
}

// IdempotencyStore records the Idempotency-Key of create and pay requests
// and the response each got, so a retry replays it.
type IdempotencyStore interface {
	// ClaimIdempotencyKey records k as in flight unless (user, key) is already
	// recorded. It returns the record as stored and whether this call claimed
	// it. An in-flight record created before staleBefore was abandoned (its
	// request died): it is claimed anew.
	ClaimIdempotencyKey(ctx context.Context, k IdempotencyKey, staleBefore time.Time) (IdempotencyKey, bool, error)

	// IdempotencyKey returns the record of (user, key) as stored, lapsed or
	// not, or ErrNotFound: a read, for a request whose change records its key
	// itself (KeyRecord) to find a retry's answer without writing.
	IdempotencyKey(ctx context.Context, userID, key string) (IdempotencyKey, error)

	// CompleteIdempotencyKey stores the response of a claimed key. A key a
	// hold completed keeps its reservation id.
	CompleteIdempotencyKey(ctx context.Context, userID, key string, status int, body []byte) error

	// ReleaseIdempotencyKey forgets a claimed key whose request failed, so it can be retried.
	ReleaseIdempotencyKey(ctx context.Context, userID, key string) error
}
