package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"parkd/internal/parking"
)

// The rule of parking.Policy.Holds and parking.Policy.Claims, once, for a row
// of reservations (columns unqualified, the table not aliased). now, from and
// to are SQL expressions (parameters); noShowUS is the lot's no-show window in
// microseconds. Every query that asks "is this spot taken" is built from these.

// holdsIn: the row holds its spot at now (a hold until it expires, a
// confirmed booking until its no-show deadline, a car inside until it leaves).
func holdsIn(now, noShowUS string) string {
	return `status IN ('held', 'confirmed', 'checked_in')
		AND (status <> 'held' OR hold_expires_at > ` + now + `)
		AND (status <> 'confirmed' OR starts_at > ` + now + ` - ` + noShowUS + ` * interval '1 microsecond')`
}

// claimsWindowIn: the row holds its spot at now and claims some of [from, to):
// its window overlaps it, or its car is inside past its window and came in
// before to (Reservation.ClaimEnd).
func claimsWindowIn(from, to, now, noShowUS string) string {
	return holdsIn(now, noShowUS) + `
		AND starts_at < ` + to + ` AND (ends_at > ` + from + ` OR (status = 'checked_in' AND ends_at <= ` + now + `))`
}

// lotNoShowUS reads the row's own lot's no-show window.
const lotNoShowUS = `(SELECT no_show_after_us FROM lots WHERE lots.id = reservations.lot_id)`

func claimsWindow(from, to, now string) string { return claimsWindowIn(from, to, now, lotNoShowUS) }

// priceSize stores the size a reservation was priced at, or NULL when unknown.
func priceSize(r *parking.Reservation) *int16 {
	if !r.PriceSize.Valid() {
		return nil
	}
	v := int16(r.PriceSize)
	return &v
}

// LotReservations lists a lot's reservations of any status whose window
// overlaps [from, to), and the cars inside that came in before to, by start.
// The bound on ends_at is what the lot indexes range-scan, since the
// reservations that end after from are the window's and the future's, not the
// lot's history; reservations_inside finds the cars inside.
func (s *Store) LotReservations(ctx context.Context, lotID string, from, to time.Time) ([]parking.Reservation, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+reservationColumns+` FROM reservations
		WHERE lot_id = $1 AND starts_at < $3 AND (ends_at > $2 OR status = 'checked_in')
		ORDER BY starts_at, id`, lotID, utc(from), utc(to))
	rs, err := pgx.CollectRows(rows, scanReservation)
	return rs, classify(err, "reservation")
}

// SpotReservations lists a spot's reservations that hold it at from and claim
// it after from: held, confirmed (until the no-show deadline) and every car
// inside, by start.
func (s *Store) SpotReservations(ctx context.Context, spotID string, from time.Time) ([]parking.Reservation, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+reservationColumns+` FROM reservations
		WHERE spot_id = $1 AND `+holdsIn("$2", lotNoShowUS)+` AND (ends_at > $2 OR status = 'checked_in')
		ORDER BY starts_at, id`, spotID, utc(from))
	rs, err := pgx.CollectRows(rows, scanReservation)
	return rs, classify(err, "reservation")
}

// lockMovable locks reservation $1 if it is held or confirmed on spot $2 and
// holds it at $3, and returns it.
var lockMovable = `SELECT ` + reservationColumns + ` FROM reservations
	WHERE id = $1 AND spot_id = $2 AND status IN ('held', 'confirmed') AND ` + holdsIn("$3", lotNoShowUS) + `
	FOR NO KEY UPDATE`

// moveTo puts reservation $1 on spot $2 at $4 for reason $3, with its event,
// if that spot is in service; the exclusion constraint and the
// reservations_car_inside trigger decide whether it is free. FOR SHARE waits
// for an operator's change of in_service, as insertHold does.
const moveTo = `WITH m AS (
		UPDATE reservations SET spot_id = $2, moved_from = spot_id, change_reason = $3, updated_at = $4
		WHERE id = $1 AND EXISTS (SELECT 1 FROM spots WHERE id = $2 AND in_service AND lot_id = reservations.lot_id FOR SHARE)
		RETURNING ` + reservationColumns + `
	), e AS (
		INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
		SELECT lot_id, 'reservation.moved', spot_id, id, $4 FROM m
	)
	SELECT ` + reservationColumns + ` FROM m`

// MoveReservation moves a held or confirmed reservation to the first free
// candidate, in one transaction.
func (s *Store) MoveReservation(ctx context.Context, m parking.Move) (parking.Reservation, error) {
	var r parking.Reservation
	err := retry(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var err error
			r, err = moveIn(ctx, tx, m)
			return err
		})
	})
	if errors.Is(err, parking.ErrInvalidStatus) {
		cur, rerr := s.Reservation(ctx, m.ID)
		if rerr != nil {
			return parking.Reservation{}, rerr
		}
		return cur, parking.ErrInvalidStatus
	}
	return r, classify(err, "reservation")
}

// moveIn applies m inside tx: each candidate is tried in a savepoint, so one
// the database refuses leaves the transaction usable for the next.
func moveIn(ctx context.Context, tx pgx.Tx, m parking.Move) (parking.Reservation, error) {
	at := utc(m.At)
	rows, _ := tx.Query(ctx, lockMovable, m.ID, m.From, at)
	cur, err := pgx.CollectExactlyOneRow(rows, scanReservation)
	if errors.Is(err, pgx.ErrNoRows) {
		return parking.Reservation{}, parking.ErrInvalidStatus
	}
	if err != nil {
		return parking.Reservation{}, err
	}
	for _, spotID := range m.Candidates {
		if spotID == m.From {
			continue
		}
		sp, err := tx.Begin(ctx)
		if err != nil {
			return parking.Reservation{}, err
		}
		if _, err := sp.Exec(ctx, releaseOverlapping, at, spotID, cur.StartsAt, cur.EndsAt); err != nil {
			sp.Rollback(ctx)
			return parking.Reservation{}, err
		}
		rows, _ := sp.Query(ctx, moveTo, m.ID, spotID, m.Reason, at)
		moved, err := pgx.CollectExactlyOneRow(rows, scanReservation)
		switch {
		case err == nil:
			return moved, sp.Commit(ctx)
		case errors.Is(err, pgx.ErrNoRows) || errors.Is(classify(err, "reservation"), parking.ErrSpotUnavailable):
			if err := sp.Rollback(ctx); err != nil {
				return parking.Reservation{}, err
			}
		default:
			sp.Rollback(ctx)
			return parking.Reservation{}, err
		}
	}
	return parking.Reservation{}, parking.ErrSpotUnavailable
}

// extendEnd moves reservation $1's end from $2 to $3 at $4, with its event.
const extendEnd = `WITH u AS (
		UPDATE reservations SET ends_at = $3, updated_at = $4
		WHERE id = $1 AND ends_at = $2 AND status IN ('confirmed', 'checked_in')
		RETURNING ` + reservationColumns + `
	), e AS (
		INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
		SELECT lot_id, 'reservation.extended', spot_id, id, $4 FROM u
	)
	SELECT ` + reservationColumns + ` FROM u`

// ExtendReservation applies x in one transaction: the moves, the new end
// (which the exclusion constraint checks against every other claim), the
// charge (which payments_one_pending_extension keeps to one at a time).
func (s *Store) ExtendReservation(ctx context.Context, x parking.Extension) (parking.Reservation, []parking.Reservation, error) {
	at := utc(x.At)
	var r parking.Reservation
	var moved []parking.Reservation
	err := retry(ctx, func() error {
		r, moved = parking.Reservation{}, nil
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			for _, m := range x.Moves {
				m.At = at
				mr, err := moveIn(ctx, tx, m)
				if errors.Is(err, parking.ErrInvalidStatus) {
					return parking.Errorf(parking.ECONFLICT, "a booking in the way changed meanwhile: try again")
				}
				if err != nil {
					return err
				}
				moved = append(moved, mr)
			}
			rows, _ := tx.Query(ctx, `SELECT spot_id FROM reservations WHERE id = $1`, x.ID)
			spotID, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, releaseOverlapping, at, spotID, utc(x.From), utc(x.To)); err != nil {
				return err
			}
			rows, _ = tx.Query(ctx, extendEnd, x.ID, utc(x.From), utc(x.To), at)
			r, err = pgx.CollectExactlyOneRow(rows, scanReservation)
			if errors.Is(err, pgx.ErrNoRows) {
				return parking.ErrInvalidStatus
			}
			if err != nil {
				return err
			}
			if x.Charge != nil {
				_, err = tx.Exec(ctx, createPayment, paymentArgs(x.Charge)...)
			}
			return err
		})
	})
	if errors.Is(err, parking.ErrInvalidStatus) {
		cur, rerr := s.Reservation(ctx, x.ID)
		if rerr != nil {
			return parking.Reservation{}, nil, rerr
		}
		return cur, nil, parking.ErrInvalidStatus
	}
	if err != nil {
		if errors.Is(classify(err, "payment"), parking.ErrConflict) {
			return parking.Reservation{}, nil, classify(err, "payment") // payments_one_pending_extension: see uniqueMessages
		}
		return parking.Reservation{}, nil, classify(err, "reservation")
	}
	return r, moved, nil
}

// Displaced lists the bookings to move: held or confirmed, holding their spot
// at $3, starting at or before $2, on a spot out of service or with a car inside
// past its window ($3) that came in before they end.
func (s *Store) Displaced(ctx context.Context, lotID string, startsBy, now time.Time) ([]parking.Reservation, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+reservationColumns+` FROM reservations
		WHERE lot_id = $1 AND status IN ('held', 'confirmed') AND starts_at <= $2 AND `+holdsIn("$3", lotNoShowUS)+`
			AND (EXISTS (SELECT 1 FROM spots s WHERE s.id = reservations.spot_id AND NOT s.in_service)
				OR EXISTS (SELECT 1 FROM reservations c
					WHERE c.spot_id = reservations.spot_id AND c.status = 'checked_in' AND c.id <> reservations.id
						AND c.ends_at <= $3 AND c.starts_at < reservations.ends_at))
		ORDER BY starts_at, id`, lotID, utc(startsBy), utc(now))
	rs, err := pgx.CollectRows(rows, scanReservation)
	return rs, classify(err, "reservation")
}

// DisplacedUnrefunded lists reservations the lot cancelled whose succeeded
// charges are not all refunded.
func (s *Store) DisplacedUnrefunded(ctx context.Context, limit int) ([]parking.Reservation, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+reservationColumns+` FROM reservations
		WHERE status = 'cancelled' AND change_reason <> '' AND EXISTS (
			SELECT 1 FROM payments p
			WHERE p.reservation_id = reservations.id AND p.kind = 'charge' AND p.status = 'succeeded'
				AND NOT EXISTS (SELECT 1 FROM payments f WHERE f.refund_of = p.id AND f.status IN ('pending', 'succeeded')))
		ORDER BY updated_at, id LIMIT $1`, limit)
	rs, err := pgx.CollectRows(rows, scanReservation)
	return rs, classify(err, "reservation")
}

// releaseOverlapping releases the reservations on one spot that overlap a
// window but no longer hold the spot, writing one event each: holds whose
// expiry has passed become expired, and confirmed reservations whose no-show
// deadline (start plus the lot's no_show_after_us) has passed become no_show.
// $1 is the time, $2 the spot, [$3, $4) the window. The range expression
// matches the exclusion constraint's, so the constraint's GiST index finds the
// rows. Rows are locked in id order, as ExpireHolds and MarkNoShows lock them,
// so none of them can deadlock over several reservations.
var releaseOverlapping = releaseLapsedOn("= $2")

// releaseLapsedOn is the statement of releaseOverlapping and
// releaseCandidates, for the spots spotMatch picks.
func releaseLapsedOn(spotMatch string) string {
	return `WITH x AS (
		UPDATE reservations SET status = CASE status WHEN 'held' THEN 'expired' ELSE 'no_show' END, updated_at = $1
		WHERE status IN ('held', 'confirmed') AND id IN (
			SELECT id FROM reservations
			WHERE spot_id ` + spotMatch + ` AND status IN ('held', 'confirmed')
				AND tstzrange(starts_at, ends_at, '[)') && tstzrange($3, $4, '[)')
				AND ` + lapsedBy + `
			ORDER BY id FOR UPDATE
		)
		RETURNING lot_id, spot_id, id, status
	)
	INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
	SELECT lot_id, 'reservation.' || status, spot_id, id, $1 FROM x`
}

// keyHeld and completeKey are a hold statement's part in its idempotency key:
// the key's owner, key and claim time are $19, $20 and $21, the status it
// records $22, all NULL without a key. keyHeld, the CTE held, is true without
// a key, or while the key is still the caller's claim (made at $21, not taken
// over since by a retry) and in flight; it locks the key's row, before any
// spot, until the commit. The hold goes in only when held is true, and
// completeKey then records the status and the reservation's id in the same
// statement: the hold and the key's completion commit together, in the one
// round trip of a hold without a key.
const (
	keyHeld = `held AS (
		SELECT $19::text IS NULL OR EXISTS (
			SELECT 1 FROM idempotency_keys
			WHERE user_id = $19 AND key = $20 AND created_at = $21 AND status_code IS NULL
			FOR NO KEY UPDATE) AS ok
	)`
	completeKey = `done AS (
		UPDATE idempotency_keys SET status_code = $22, reservation_id = $1
		WHERE user_id = $19 AND key = $20 AND EXISTS (SELECT 1 FROM ins)
	)`
)

// keyArgs are the parameters $19 to $22 of keyHeld and completeKey.
func keyArgs(key *parking.KeyCompletion) []any {
	if key == nil {
		return []any{nil, nil, nil, nil}
	}
	return []any{key.UserID, key.Key, utc(key.ClaimedAt), int32(key.Status)}
}

// holdArgs are the parameters $1 to $18 of a hold statement; $7 is the spot,
// or the candidates.
func holdArgs(r *parking.Reservation, spots any, key *parking.KeyCompletion) []any {
	return append([]any{r.ID, nullable(r.UserID), nullable(r.VehicleID), r.Plate, int16(r.VehicleSize), r.LotID, spots,
		r.StartsAt, r.EndsAt, string(r.Status), r.Amount, r.Currency, r.HoldExpiresAt, r.CreatedAt, r.UpdatedAt,
		r.CheckedInAt, r.CheckedOutAt, priceSize(r)}, keyArgs(key)...)
}

// errKeyNotHeld: the hold's idempotency key is gone (released, or swept after
// its expiry) or was claimed anew by a retry, so the hold did not go in:
// otherwise that retry could book a second spot.
var errKeyNotHeld = parking.Errorf(parking.ENOTFOUND, "idempotency key not found")

// insertHold inserts a reservation and, only if it went in, its event. The
// spot must be in service: FOR SHARE on its row waits for an operator's
// change of in_service to commit, so a hold cannot slip in beside it. It
// reports whether it inserted, whether the id was already taken before it
// ran (its subquery sees the snapshot from before the INSERT), and whether
// the idempotency key, if any, was held (see keyHeld).
//
// ON CONFLICT DO NOTHING with no target makes the exclusion constraint an
// arbiter: a clash with a live reservation inserts nothing instead of raising
// 23P01. Two reasons, both seen under contention: plain inserts that race on an
// exclusion constraint can deadlock (each inserts its index entry, then waits
// for the other; PostgreSQL breaks it only after deadlock_timeout, a second),
// while the speculative insertion behind ON CONFLICT waits without deadlocking;
// and pgx discards its prepared statements after any failed batch, which would
// cost two extra round trips after every lost race. The constraint still
// decides; nothing is checked first.
const insertHold = `WITH ` + keyHeld + `, ins AS (
		INSERT INTO reservations (id, user_id, vehicle_id, plate, vehicle_size, lot_id, spot_id,
			starts_at, ends_at, status, amount, currency, hold_expires_at, created_at, updated_at, checked_in_at, checked_out_at, price_size)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18
		WHERE (SELECT ok FROM held) AND EXISTS (SELECT 1 FROM spots WHERE id = $7 AND in_service FOR SHARE)
		ON CONFLICT DO NOTHING
		RETURNING lot_id, spot_id, id, status, created_at
	), ev AS (
		INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
		SELECT lot_id, 'reservation.' || status, spot_id, id, created_at FROM ins
	), ` + completeKey + `
	SELECT EXISTS (SELECT 1 FROM ins), EXISTS (SELECT 1 FROM reservations WHERE id = $1), (SELECT ok FROM held)`

// insertInside is insertHold for a car checked in at once (a drive-up): it
// locks the spot's row as the reservations_car_inside trigger then does, FOR
// NO KEY UPDATE. Taking FOR SHARE first and upgrading in the trigger
// deadlocks two drive-ups racing for the same last spot.
var insertInside = func() string {
	q := strings.Replace(insertHold, "in_service FOR SHARE", "in_service FOR NO KEY UPDATE", 1)
	if q == insertHold {
		panic("postgres: insertHold no longer locks the spot FOR SHARE: update insertInside")
	}
	return q
}()

// Hold inserts r on the first candidate spot free for its window. Each attempt
// is one batch sent in one round trip; a batch without BEGIN runs as one
// implicit transaction, so the release of lapsed holds and no-shows, the
// insert, its event and the completion of the idempotency key, if any, commit
// together. The exclusion constraint, not a prior SELECT, decides whether the
// spot is free, so two racing holds cannot both win.
func (s *Store) Hold(ctx context.Context, r *parking.Reservation, candidates []string, key *parking.KeyCompletion) error {
	if r.Status == "" {
		r.Status = parking.StatusHeld
	}
	r.StartsAt, r.EndsAt, r.HoldExpiresAt = utc(r.StartsAt), utc(r.EndsAt), utc(r.HoldExpiresAt)
	r.CreatedAt, r.UpdatedAt = utc(r.CreatedAt), utc(r.UpdatedAt)
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	r.CheckedInAt, r.CheckedOutAt = utcPtr(r.CheckedInAt), utcPtr(r.CheckedOutAt)
	if key != nil && key.Record != nil {
		return s.holdRecording(ctx, r, candidates, key)
	}
	if len(candidates) > 1 {
		return s.holdAny(ctx, r, candidates, key)
	}
	insert := insertHold
	if r.Status == parking.StatusCheckedIn {
		insert = insertInside
	}
	for _, spotID := range candidates {
		var inserted, idTaken, held bool
		err := retry(ctx, func() error {
			// A fresh batch per attempt: pgx records prepared statements in
			// the queued queries, and a failed batch invalidates them.
			b := &pgx.Batch{}
			b.Queue(releaseOverlapping, r.CreatedAt, spotID, r.StartsAt, r.EndsAt)
			b.Queue(insert, holdArgs(r, spotID, key)...).
				QueryRow(func(row pgx.Row) error { return row.Scan(&inserted, &idTaken, &held) })
			return s.pool.SendBatch(ctx, b).Close()
		})
		switch err = classify(err, "reservation"); {
		case err == nil && !held:
			return errKeyNotHeld
		case err == nil && inserted:
			r.SpotID = spotID
			return nil
		case err == nil && idTaken:
			return parking.Errorf(parking.ECONFLICT, "reservation already exists")
		case err != nil && !errors.Is(err, parking.ErrSpotUnavailable):
			return err
		}
	}
	return parking.ErrSpotUnavailable
}

// releaseCandidates is releaseOverlapping for a list of spots ($2).
var releaseCandidates = releaseLapsedOn("= ANY($2::text[])")

// pickAndInsertHold picks the first candidate ($7, in order) with no live
// reservation overlapping the window, locks its spot row, and inserts the hold
// there with its event. It returns the spot it picked (NULL if none), whether
// the insert went in, whether the id was already taken, and whether the
// idempotency key, if any, was held (see keyHeld; nothing is picked if not).
//
// The row lock is what lets many racers for "any spot" spread out instead of
// queueing: with SKIP LOCKED each takes the first spot no other in-flight hold
// has locked. NO KEY UPDATE does not conflict with the KEY SHARE lock that
// foreign-key checks take, so single-spot holds never wait on it. The exclusion
// constraint still has the last word (ON CONFLICT DO NOTHING, see insertHold).
var pickAndInsertHold = `WITH ` + keyHeld + `, pick AS (
		SELECT sp.id FROM unnest($7::text[]) WITH ORDINALITY AS c(id, ord)
		JOIN spots sp ON sp.id = c.id
		WHERE (SELECT ok FROM held) AND sp.in_service AND NOT EXISTS (
			SELECT 1 FROM reservations
			WHERE reservations.spot_id = sp.id AND ` + claimsWindow("$8", "$9", "$14") + `)
		ORDER BY c.ord
		LIMIT 1
		FOR NO KEY UPDATE OF sp %s
	), ins AS (
		INSERT INTO reservations (id, user_id, vehicle_id, plate, vehicle_size, lot_id, spot_id,
			starts_at, ends_at, status, amount, currency, hold_expires_at, created_at, updated_at, checked_in_at, checked_out_at, price_size)
		SELECT $1, $2, $3, $4, $5, $6, pick.id, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18 FROM pick
		ON CONFLICT DO NOTHING
		RETURNING lot_id, spot_id, id, status, created_at
	), ev AS (
		INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
		SELECT lot_id, 'reservation.' || status, spot_id, id, created_at FROM ins
	), ` + completeKey + `
	SELECT (SELECT id FROM pick), EXISTS (SELECT 1 FROM ins), EXISTS (SELECT 1 FROM reservations WHERE id = $1), (SELECT ok FROM held)`

var (
	pickSkipLocked = fmt.Sprintf(pickAndInsertHold, "SKIP LOCKED")
	pickWaiting    = fmt.Sprintf(pickAndInsertHold, "")
)

// holdAny holds the first free spot of several. It first skips spots that other
// in-flight holds have locked; only when that finds none does it wait for them,
// since a locked spot may still be free for this window once they finish.
func (s *Store) holdAny(ctx context.Context, r *parking.Reservation, candidates []string, key *parking.KeyCompletion) error {
	query := pickSkipLocked
	for range len(candidates) + 2 {
		var picked *string
		var inserted, idTaken, held bool
		err := retry(ctx, func() error {
			b := &pgx.Batch{}
			b.Queue(releaseCandidates, r.CreatedAt, candidates, r.StartsAt, r.EndsAt)
			b.Queue(query, holdArgs(r, candidates, key)...).
				QueryRow(func(row pgx.Row) error { return row.Scan(&picked, &inserted, &idTaken, &held) })
			return s.pool.SendBatch(ctx, b).Close()
		})
		if err = classify(err, "reservation"); err != nil {
			return err
		}
		switch {
		case !held:
			return errKeyNotHeld
		case inserted:
			r.SpotID = *picked
			return nil
		case idTaken:
			return parking.Errorf(parking.ECONFLICT, "reservation already exists")
		case picked == nil && query == pickWaiting:
			return parking.ErrSpotUnavailable
		case picked == nil:
			query = pickWaiting
		}
		// Otherwise a hold that did not lock the spot row took the picked spot
		// first; the next attempt's fresh snapshot sees it and moves on.
	}
	return parking.ErrSpotUnavailable
}

// recordKey is a hold statement's part in an idempotency key that nobody
// claimed before it (parking.KeyRecord): the key goes in, completed, only if
// the reservation did, with $19 to $22 as for completeKey, the request's hash
// $23, the response's body $24 and the expiry $25. A plain INSERT: a key
// recorded meanwhile by a racing request fails the whole statement on the
// primary key (23505), reservation and event with it.
const recordKey = `rec AS (
		INSERT INTO idempotency_keys (user_id, key, request_hash, status_code, response_body, reservation_id, created_at, expires_at)
		SELECT $19::text, $20::text, $23::text, $22::integer, $24::bytea, id, $21::timestamptz, $25::timestamptz FROM ins
	)`

// recording turns a hold statement that completes a claimed key into one
// that records the key itself (recordKey), with nothing to hold beforehand.
func recording(q string) string {
	out := strings.Replace(strings.Replace(q, keyHeld, `held AS (SELECT true AS ok)`, 1), completeKey, recordKey, 1)
	if !strings.Contains(out, recordKey) || strings.Contains(out, keyHeld) {
		panic("postgres: a hold statement no longer embeds keyHeld and completeKey: update recording")
	}
	return out
}

// lookedFree, appended to a recording pick of one candidate, says whether
// the candidate looked free to the statement's snapshot (in service, no
// claim committed): a spot passed over for that reason is worth waiting for;
// one already taken is not.
var lookedFree = `, EXISTS (SELECT 1 FROM spots sp WHERE sp.id = ($7::text[])[1] AND sp.in_service AND NOT EXISTS (
		SELECT 1 FROM reservations WHERE reservations.spot_id = sp.id AND ` + claimsWindow("$8", "$9", "$14") + `))`

var (
	insertHoldRecording   = recording(insertHold)
	insertInsideRecording = recording(insertInside)
	pickSkipRecording     = recording(pickSkipLocked) + lookedFree
	pickWaitRecording     = recording(pickWaiting) + lookedFree
)

// forgetLapsedKey deletes the record of an idempotency key that was
// abandoned in flight (created before $4) or has expired by $3, so that a
// hold recording the key anew ($1, $2) can insert it.
const forgetLapsedKey = `DELETE FROM idempotency_keys
	WHERE user_id = $1 AND key = $2 AND (expires_at <= $3 OR (status_code IS NULL AND created_at < $4))`

// holdRecording is Hold with a key that the hold records itself
// (key.Record). The stored response names the spot, so each attempt tries
// one candidate, rendered beforehand, in one batch and one implicit
// transaction: the release of lapsed reservations, of a lapsed record of the
// key, the insert with its event, and the key's record all commit together.
// One candidate waits for the exclusion constraint, as Hold does. Several
// ("any spot") are first tried in order with SKIP LOCKED, passing over the
// spots other in-flight holds have locked, so racers spread out as in
// holdAny; the spots passed over that looked free (locked by a hold still in
// flight) are then tried again, waiting. Each candidate is tried at most
// twice.
func (s *Store) holdRecording(ctx context.Context, r *parking.Reservation, candidates []string, key *parking.KeyCompletion) error {
	if len(candidates) == 1 {
		insert := insertHoldRecording
		if r.Status == parking.StatusCheckedIn {
			insert = insertInsideRecording
		}
		inserted, err := s.holdOneRecording(ctx, r, insert, candidates[0], key)
		if err == nil && !inserted {
			err = parking.ErrSpotUnavailable
		}
		return err
	}
	var passed []string
	for _, query := range []string{pickSkipRecording, pickWaitRecording} {
		tries := candidates
		if query == pickWaitRecording {
			tries = passed
		}
		for _, spotID := range tries {
			inserted, err := s.holdOneRecording(ctx, r, query, spotID, key)
			switch {
			case err != nil && !errors.Is(err, errNotPicked):
				return err
			case inserted:
				return nil
			case errors.Is(err, errNotPicked):
				passed = append(passed, spotID)
			}
		}
	}
	return parking.ErrSpotUnavailable
}

// errNotPicked: a pick statement passed over its one candidate, which looked
// free: another in-flight hold had locked it.
var errNotPicked = errors.New("candidate not picked")

// holdOneRecording runs one attempt of holdRecording on spotID with query
// (an insert, or a pick of the one candidate), and reports whether r went
// in; on success r.SpotID is spotID.
func (s *Store) holdOneRecording(ctx context.Context, r *parking.Reservation, query, spotID string, key *parking.KeyCompletion) (bool, error) {
	rendered := *r
	rendered.SpotID = spotID
	body, err := key.Record.Body(rendered)
	if err != nil {
		return false, err
	}
	args := holdArgs(r, spotID, key)
	isPick := query == pickSkipRecording || query == pickWaitRecording
	if isPick {
		args = holdArgs(r, []string{spotID}, key)
	}
	args = append(args, key.Record.RequestHash, body, utc(key.Record.ExpiresAt))
	var picked *string
	var inserted, idTaken, held, free bool
	err = retry(ctx, func() error {
		b := &pgx.Batch{}
		if isPick {
			b.Queue(releaseCandidates, r.CreatedAt, []string{spotID}, r.StartsAt, r.EndsAt)
		} else {
			b.Queue(releaseOverlapping, r.CreatedAt, spotID, r.StartsAt, r.EndsAt)
		}
		b.Queue(forgetLapsedKey, key.UserID, key.Key, utc(key.ClaimedAt), utc(key.Record.StaleBefore))
		if isPick {
			b.Queue(query, args...).QueryRow(func(row pgx.Row) error { return row.Scan(&picked, &inserted, &idTaken, &held, &free) })
		} else {
			b.Queue(query, args...).QueryRow(func(row pgx.Row) error { return row.Scan(&inserted, &idTaken, &held) })
		}
		return s.pool.SendBatch(ctx, b).Close()
	})
	if keyTaken(err) {
		return false, parking.ErrKeyTaken
	}
	switch err = classify(err, "reservation"); {
	case err == nil && inserted:
		r.SpotID = spotID
		return true, nil
	case err == nil && idTaken:
		return false, parking.Errorf(parking.ECONFLICT, "reservation already exists")
	case err == nil && isPick && picked == nil && free:
		return false, errNotPicked
	case errors.Is(err, parking.ErrSpotUnavailable):
		return false, nil
	}
	// A pick that did not go in: a hold that did not lock the spot row took
	// it first.
	return false, err
}

// keyTaken reports whether err is the primary key of idempotency_keys
// refusing a hold's record of its key: another request recorded it first.
func keyTaken(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == codeUniqueViolation && pe.ConstraintName == "idempotency_keys_pkey"
}

// Reservation returns the reservation with the given id.
func (s *Store) Reservation(ctx context.Context, id string) (parking.Reservation, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+reservationColumns+` FROM reservations WHERE id = $1`, id)
	r, err := pgx.CollectExactlyOneRow(rows, scanReservation)
	return r, classify(err, "reservation")
}

// UserReservations lists a user's reservations, newest window first.
func (s *Store) UserReservations(ctx context.Context, userID string) ([]parking.Reservation, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+reservationColumns+` FROM reservations WHERE user_id = $1
		ORDER BY starts_at DESC, id`, userID)
	rs, err := pgx.CollectRows(rows, scanReservation)
	return rs, classify(err, "reservation")
}

// ChangeStatus applies c and records its event in one statement. The WHERE
// clause is the guard: a reservation that moved on, or a hold that lapsed by
// c.At, matches no row, so two racing changes cannot both apply.
func (s *Store) ChangeStatus(ctx context.Context, c parking.StatusChange) (parking.Reservation, error) {
	from := make([]string, len(c.From))
	for i, st := range c.From {
		from[i] = string(st)
	}
	at := utc(c.At)
	var r parking.Reservation
	err := retry(ctx, func() error {
		rows, _ := s.pool.Query(ctx, `WITH u AS (
				UPDATE reservations SET
					status = $2,
					updated_at = $3,
					checked_in_at = CASE WHEN $2 = 'checked_in' THEN $3 ELSE checked_in_at END,
					checked_out_at = CASE WHEN $2 = 'completed' THEN $3 ELSE checked_out_at END,
					-- A cancellation without a reason is the driver's: an earlier
					-- move's reason must not make it look like the lot's.
					change_reason = CASE WHEN $5 = '' AND $2 <> 'cancelled' THEN change_reason ELSE $5 END
				WHERE id = $1 AND status = ANY($4) AND (status <> 'held' OR hold_expires_at > $3)
				RETURNING `+reservationColumns+`
			), e AS (
				INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
				SELECT lot_id, 'reservation.' || status, spot_id, id, $3 FROM u
			)
			SELECT `+reservationColumns+` FROM u`,
			c.ID, string(c.To), at, from, c.Reason)
		var err error
		r, err = pgx.CollectExactlyOneRow(rows, scanReservation)
		return err
	})
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return parking.Reservation{}, classify(err, "reservation")
	}
	cur, err := s.Reservation(ctx, c.ID)
	if err != nil {
		return parking.Reservation{}, err
	}
	return cur, parking.ErrInvalidStatus
}

// ExpireHolds expires every hold whose expiry is at or before now, one event per
// hold. Instances may run it at once: a row stops matching status = 'held' once
// another transaction has expired it, so each hold transitions once. Rows are
// locked in id order, as Hold locks them, so sweepers and holds cannot deadlock.
func (s *Store) ExpireHolds(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := retry(ctx, func() error {
		tag, err := s.pool.Exec(ctx, `WITH x AS (
				UPDATE reservations SET status = 'expired', updated_at = $1
				WHERE status = 'held' AND id IN (
					SELECT id FROM reservations WHERE status = 'held' AND hold_expires_at <= $1
					ORDER BY id FOR UPDATE
				)
				RETURNING lot_id, spot_id, id
			)
			INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
			SELECT lot_id, 'reservation.expired', spot_id, id, $1 FROM x`, utc(now))
		n = tag.RowsAffected()
		return err
	})
	return int(n), classify(err, "reservation")
}

// bookingsQuery repeats in its status test the predicate of
// reservations_lot_window, a partial index of blocking reservations that covers
// every column read, so the plan is one index-only range scan and a hash
// aggregate; written as an OR of the two cases instead, it defeats the index.
// A confirmed reservation blocks until its no-show deadline: the lot's window
// is one value for the whole query, which the planner reads once (an InitPlan)
// and compares with the indexed starts_at.
// Grouping needs only equality, so it uses the "C" collation: when the planner
// sorts to group, a byte-wise sort is several times cheaper than a locale's.
var bookingsQuery = `SELECT spot_id COLLATE "C",
		CASE max(CASE status WHEN 'checked_in' THEN 3 WHEN 'confirmed' THEN 2 ELSE 1 END)
			WHEN 3 THEN 'checked_in' WHEN 2 THEN 'confirmed' ELSE 'held' END
	FROM reservations
	WHERE lot_id = $1 AND ` + claimsWindowIn("$2", "$3", "$4", "(SELECT no_show_after_us FROM lots WHERE id = $1)") + `
	GROUP BY spot_id COLLATE "C"`

// Bookings returns each spot's strongest claim among the lot's reservations that
// overlap [from, to) and block at now (a confirmed one until its no-show
// deadline, whether or not MarkNoShows has run), in one query.
func (s *Store) Bookings(ctx context.Context, lotID string, from, to, now time.Time) ([]parking.SpotBooking, error) {
	rows, _ := s.pool.Query(ctx, bookingsQuery, lotID, utc(from), utc(to), utc(now))
	bs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parking.SpotBooking, error) {
		var b parking.SpotBooking
		err := row.Scan(&b.SpotID, &b.Status)
		return b, err
	})
	return bs, classify(err, "reservation")
}

// markNoShows moves a lot's ($1) confirmed reservations that started at or
// before $2 to no_show at $3, with their events, and returns them.
//
// Instances may run it at once and each reservation still moves once: the
// rows are locked first, in id order as Hold and ExpireHolds lock them (so
// none of them deadlock), and a row another run moved meanwhile no longer
// passes the status test once its lock is granted. NO KEY UPDATE leaves
// foreign-key checks (a payment or gate event naming the reservation)
// unblocked.
const markNoShows = `WITH x AS (
		UPDATE reservations SET status = 'no_show', updated_at = $3
		WHERE status = 'confirmed' AND id IN (
			SELECT id FROM reservations
			WHERE lot_id = $1 AND status = 'confirmed' AND starts_at <= $2
			ORDER BY id FOR NO KEY UPDATE
		)
		RETURNING ` + reservationColumns + `
	), ev AS (
		INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
		SELECT lot_id, 'reservation.no_show', spot_id, id, $3 FROM x
	)
	SELECT ` + reservationColumns + ` FROM x ORDER BY starts_at, id`

// MarkNoShows moves the lot's confirmed reservations whose start is at or
// before startedBy to no_show, each exactly once, in one statement.
func (s *Store) MarkNoShows(ctx context.Context, lotID string, startedBy, at time.Time) ([]parking.Reservation, error) {
	return s.transition(ctx, markNoShows, lotID, startedBy, at)
}

// flagOverstays flags a lot's ($1) checked-in reservations that ended at or
// before $2 and were not flagged before, at $3, with a
// "reservation.overstaying" event each, and returns them. It locks and
// re-tests rows as markNoShows does, so each is flagged once.
const flagOverstays = `WITH x AS (
		UPDATE reservations SET overstay_flagged_at = $3
		WHERE status = 'checked_in' AND overstay_flagged_at IS NULL AND id IN (
			SELECT id FROM reservations
			WHERE lot_id = $1 AND status = 'checked_in' AND ends_at <= $2 AND overstay_flagged_at IS NULL
			ORDER BY id FOR NO KEY UPDATE
		)
		RETURNING ` + reservationColumns + `
	), ev AS (
		INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
		SELECT lot_id, 'reservation.overstaying', spot_id, id, $3 FROM x
	)
	SELECT ` + reservationColumns + ` FROM x ORDER BY starts_at, id`

// FlagOverstays flags the lot's checked-in reservations whose end is at or
// before endedBy and that were not flagged before, each exactly once.
func (s *Store) FlagOverstays(ctx context.Context, lotID string, endedBy, at time.Time) ([]parking.Reservation, error) {
	return s.transition(ctx, flagOverstays, lotID, endedBy, at)
}

// transition runs markNoShows or flagOverstays, again if PostgreSQL broke a
// deadlock by aborting it.
func (s *Store) transition(ctx context.Context, query, lotID string, by, at time.Time) ([]parking.Reservation, error) {
	var rs []parking.Reservation
	err := retry(ctx, func() error {
		rows, _ := s.pool.Query(ctx, query, lotID, utc(by), utc(at))
		var err error
		rs, err = pgx.CollectRows(rows, scanReservation)
		return err
	})
	if err != nil {
		return nil, classify(err, "reservation")
	}
	if rs == nil {
		rs = []parking.Reservation{}
	}
	return rs, nil
}

var _ parking.UpcomingStore = (*Store)(nil)

// upcomingQuery reads every field of parking.Upcoming in one statement: $1 is
// now, $2 now plus the lead. Each part reads a partial index or a handful of
// rows: live reservations are few next to the finished ones. The displaced
// start starts from the spots out of service and the cars inside (few), not
// from every future booking (120 ms with 5,000 of them on issue 16's data set).
const upcomingQuery = `SELECT
	(SELECT min(hold_expires_at) FROM reservations WHERE status = 'held'),
	(SELECT min(r.starts_at + l.no_show_after_us * interval '1 microsecond')
		FROM reservations r JOIN lots l ON l.id = r.lot_id WHERE r.status = 'confirmed'),
	(SELECT min(ends_at) FROM reservations
		WHERE status = 'checked_in' AND (ends_at > $1 OR overstay_flagged_at IS NULL)),
	LEAST(
		(SELECT min(r.starts_at) FROM spots s JOIN reservations r ON r.spot_id = s.id
			WHERE NOT s.in_service AND r.status IN ('held', 'confirmed') AND r.starts_at > $2),
		(SELECT min(r.starts_at) FROM reservations c JOIN reservations r ON r.spot_id = c.spot_id
			WHERE c.status = 'checked_in' AND r.status IN ('held', 'confirmed') AND r.starts_at > $2
				AND r.id <> c.id AND c.starts_at < r.ends_at)),
	(SELECT min(GREATEST(due_at, COALESCE(claimed_until, due_at))) FROM notifications WHERE status = 'pending')`

// Upcoming reads when time alone next gives the sweeps work, in one statement.
func (s *Store) Upcoming(ctx context.Context, now time.Time, lead time.Duration) (parking.Upcoming, error) {
	var u parking.Upcoming
	var hold, noShow, end, displaced, note *time.Time
	err := s.pool.QueryRow(ctx, upcomingQuery, utc(now), utc(now.Add(lead))).Scan(&hold, &noShow, &end, &displaced, &note)
	if err != nil {
		return u, classify(err, "reservation")
	}
	at := func(t *time.Time) time.Time {
		if t == nil {
			return time.Time{}
		}
		return t.UTC()
	}
	return parking.Upcoming{HoldExpiry: at(hold), NoShow: at(noShow), End: at(end), DisplacedStart: at(displaced), Notification: at(note)}, nil
}
