// Package postgres stores parkd's data in PostgreSQL through pgx. The database,
// not Go code, decides every race: an exclusion constraint keeps two live
// reservations off the same spot at the same time, and each state change writes
// its outbox event in the same transaction.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"parkd/internal/parking"
	"parkd/internal/store/migrate"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the pg_advisory_xact_lock key that serialises migration runs
// across processes. It is one key for the whole database, not one per schema,
// because CREATE EXTENSION is database-wide and races otherwise.
const migrationLock int64 = 0x7061726b64 // "parkd"

// Store is a parking.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

var _ parking.Store = (*Store)(nil)

// Open connects to the database at dsn (a URL or keyword/value string that pgx
// accepts), checks that it answers and applies pending migrations.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse dsn: %w", err)
	}
	// pgxpool's own default (max(4, NumCPU)) is too small for a server whose
	// requests mostly wait on the network; honour pool_max_conns when given.
	// ParseConfig has already removed it from cfg, so parse once more to tell.
	raw, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse dsn: %w", err)
	}
	if _, set := raw.RuntimeParams["pool_max_conns"]; !set {
		cfg.MaxConns = int32(max(16, 8*runtime.GOMAXPROCS(0)))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s := &Store{pool: pool}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	return s, nil
}

// Close closes every connection in the pool; it is safe to call more than once.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.pool.Ping(ctx)
}

// migrate applies each pending migration in its own transaction together with
// its schema_migrations row. Every transaction first takes the advisory lock, so
// instances starting together apply each migration exactly once; the lock is
// transaction-scoped so that no error path can leave it held on a pooled
// connection.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrate.Read(migrations, "migrations")
	if err != nil {
		return err
	}
	var applied map[int]bool
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL
		)`); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return err
		}
		applied = make(map[int]bool, len(versions))
		for _, v := range versions {
			applied[v] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
				return err
			}
			// Another instance may have applied it while we waited for the lock.
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&done); err != nil || done {
				return err
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, time.Now().UTC())
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// CreateOperator stores o.
func (s *Store) CreateOperator(ctx context.Context, o *parking.Operator) error {
	o.CreatedAt = utc(o.CreatedAt)
	_, err := s.pool.Exec(ctx, `INSERT INTO operators (id, name, created_at) VALUES ($1, $2, $3)`,
		o.ID, o.Name, o.CreatedAt)
	return classify(err, "operator")
}

// Operator returns the operator with the given id.
func (s *Store) Operator(ctx context.Context, id string) (parking.Operator, error) {
	var o parking.Operator
	err := s.pool.QueryRow(ctx, `SELECT id, name, created_at FROM operators WHERE id = $1`, id).
		Scan(&o.ID, &o.Name, &o.CreatedAt)
	o.CreatedAt = o.CreatedAt.UTC()
	return o, classify(err, "operator")
}

// CreateLot stores l.
func (s *Store) CreateLot(ctx context.Context, l *parking.Lot) error {
	policy, err := json.Marshal(l.Policy)
	if err != nil {
		return fmt.Errorf("lot %s: encode policy: %w", l.ID, err)
	}
	l.CreatedAt = utc(l.CreatedAt)
	_, err = s.pool.Exec(ctx, `INSERT INTO lots (id, operator_id, name, address, lat, lng, time_zone, currency, policy, no_show_after_us, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		l.ID, l.OperatorID, l.Name, l.Address, l.Lat, l.Lng, l.TimeZone, l.Currency, policy, noShowAfter(l.Policy), l.CreatedAt)
	if err == nil {
		l.Version = 1 // the column's default
	}
	return classify(err, "lot")
}

const lotColumns = `id, operator_id, name, address, lat, lng, time_zone, currency, policy, created_at, version`

func scanLot(row pgx.CollectableRow) (parking.Lot, error) {
	var l parking.Lot
	var policy []byte
	if err := row.Scan(&l.ID, &l.OperatorID, &l.Name, &l.Address, &l.Lat, &l.Lng, &l.TimeZone, &l.Currency, &policy, &l.CreatedAt, &l.Version); err != nil {
		return l, err
	}
	if err := json.Unmarshal(policy, &l.Policy); err != nil {
		return l, fmt.Errorf("lot %s: decode policy: %w", l.ID, err)
	}
	l.CreatedAt = l.CreatedAt.UTC()
	return l, nil
}

// Lot returns the lot with the given id.
func (s *Store) Lot(ctx context.Context, id string) (parking.Lot, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+lotColumns+` FROM lots WHERE id = $1`, id)
	l, err := pgx.CollectExactlyOneRow(rows, scanLot)
	return l, classify(err, "lot")
}

// Lots lists every lot ordered by name.
func (s *Store) Lots(ctx context.Context) ([]parking.Lot, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+lotColumns+` FROM lots ORDER BY name, id`)
	ls, err := pgx.CollectRows(rows, scanLot)
	return ls, classify(err, "lot")
}

// CreateLevel stores l.
func (s *Store) CreateLevel(ctx context.Context, l *parking.Level) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO levels (id, lot_id, name, ordinal, width, height) VALUES ($1, $2, $3, $4, $5, $6)`,
		l.ID, l.LotID, l.Name, l.Ordinal, l.Width, l.Height)
	if err == nil {
		l.Version = 1
	}
	return classify(err, "level")
}

// Levels lists a lot's levels from the lowest up.
func (s *Store) Levels(ctx context.Context, lotID string) ([]parking.Level, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, lot_id, name, ordinal, width, height, version FROM levels WHERE lot_id = $1 ORDER BY ordinal, id`, lotID)
	ls, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parking.Level, error) {
		var l parking.Level
		err := row.Scan(&l.ID, &l.LotID, &l.Name, &l.Ordinal, &l.Width, &l.Height, &l.Version)
		return l, err
	})
	return ls, classify(err, "level")
}

// CreateSpots inserts spots with one COPY, which is a single statement and so
// all or nothing.
func (s *Store) CreateSpots(ctx context.Context, spots []parking.Spot) error {
	if len(spots) == 0 {
		return nil
	}
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"spots"},
		[]string{"id", "lot_id", "level_id", "label", "size", "lat", "lng", "x", "y", "amenities", "in_service"},
		pgx.CopyFromSlice(len(spots), func(i int) ([]any, error) {
			sp := &spots[i]
			return []any{sp.ID, sp.LotID, sp.LevelID, sp.Label, int16(sp.Size), sp.Lat, sp.Lng, sp.X, sp.Y, nonNil(sp.Amenities), sp.InService}, nil
		}))
	if err == nil {
		for i := range spots {
			spots[i].Version = 1 // the column's default
		}
	}
	return classify(err, "spot")
}

const spotColumns = `id, lot_id, level_id, label, size, lat, lng, x, y, amenities, in_service, version`

func scanSpot(row pgx.CollectableRow) (parking.Spot, error) {
	var sp parking.Spot
	var size int16
	err := row.Scan(&sp.ID, &sp.LotID, &sp.LevelID, &sp.Label, &size, &sp.Lat, &sp.Lng, &sp.X, &sp.Y, &sp.Amenities, &sp.InService, &sp.Version)
	sp.Size = parking.Size(size)
	sp.Amenities = nonNil(sp.Amenities)
	return sp, err
}

// Spot returns the spot with the given id.
func (s *Store) Spot(ctx context.Context, id string) (parking.Spot, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+spotColumns+` FROM spots WHERE id = $1`, id)
	sp, err := pgx.CollectExactlyOneRow(rows, scanSpot)
	return sp, classify(err, "spot")
}

// Spots lists a lot's spots ordered by size, then label.
func (s *Store) Spots(ctx context.Context, lotID string) ([]parking.Spot, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+spotColumns+` FROM spots WHERE lot_id = $1 ORDER BY size, label`, lotID)
	sps, err := pgx.CollectRows(rows, scanSpot)
	return sps, classify(err, "spot")
}

// SetSpotInService records the change and its event in one statement.
func (s *Store) SetSpotInService(ctx context.Context, spotID string, inService bool, at time.Time) error {
	typ := "spot.out_of_service"
	if inService {
		typ = "spot.in_service"
	}
	tag, err := s.pool.Exec(ctx, `WITH u AS (
			UPDATE spots SET in_service = $2, version = version + 1 WHERE id = $1 RETURNING lot_id, id
		)
		INSERT INTO events (lot_id, type, spot_id, at)
		SELECT lot_id, $3, id, $4 FROM u`,
		spotID, inService, typ, utc(at))
	if err != nil {
		return classify(err, "spot")
	}
	if tag.RowsAffected() == 0 {
		return parking.Errorf(parking.ENOTFOUND, "spot not found")
	}
	return nil
}

// CreateUser stores u; an email already taken is a conflict.
func (s *Store) CreateUser(ctx context.Context, u *parking.User) error {
	u.CreatedAt = utc(u.CreatedAt)
	_, err := s.pool.Exec(ctx, `INSERT INTO users (id, name, email, password_hash, role, operator_id, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		u.ID, u.Name, u.Email, u.PasswordHash, string(u.Role), nullable(u.OperatorID), u.CreatedAt)
	return classify(err, "user")
}

const userColumns = `id, name, email, password_hash, role, operator_id, created_at`

func scanUser(row pgx.CollectableRow) (parking.User, error) {
	var u parking.User
	var operatorID *string
	err := row.Scan(&u.ID, &u.Name, &u.Email, &u.PasswordHash, &u.Role, &operatorID, &u.CreatedAt)
	u.OperatorID = deref(operatorID)
	u.CreatedAt = u.CreatedAt.UTC()
	return u, err
}

// User returns the user with the given id.
func (s *Store) User(ctx context.Context, id string) (parking.User, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)
	u, err := pgx.CollectExactlyOneRow(rows, scanUser)
	return u, classify(err, "user")
}

// UserByEmail returns the user whose email is exactly email; the caller
// normalises it first.
func (s *Store) UserByEmail(ctx context.Context, email string) (parking.User, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE email = $1`, email)
	u, err := pgx.CollectExactlyOneRow(rows, scanUser)
	return u, classify(err, "user")
}

// CreateVehicle stores v.
func (s *Store) CreateVehicle(ctx context.Context, v *parking.Vehicle) error {
	v.CreatedAt = utc(v.CreatedAt)
	_, err := s.pool.Exec(ctx, `INSERT INTO vehicles (id, user_id, plate, size, created_at) VALUES ($1, $2, $3, $4, $5)`,
		v.ID, v.UserID, v.Plate, int16(v.Size), v.CreatedAt)
	return classify(err, "vehicle")
}

const vehicleColumns = `id, user_id, plate, size, created_at`

func scanVehicle(row pgx.CollectableRow) (parking.Vehicle, error) {
	var v parking.Vehicle
	var size int16
	err := row.Scan(&v.ID, &v.UserID, &v.Plate, &size, &v.CreatedAt)
	v.Size = parking.Size(size)
	v.CreatedAt = v.CreatedAt.UTC()
	return v, err
}

// Vehicle returns the vehicle with the given id, also one its owner removed:
// reservations made with it still name it.
func (s *Store) Vehicle(ctx context.Context, id string) (parking.Vehicle, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+vehicleColumns+` FROM vehicles WHERE id = $1`, id)
	v, err := pgx.CollectExactlyOneRow(rows, scanVehicle)
	return v, classify(err, "vehicle")
}

// Vehicles lists a user's vehicles that are not removed, oldest first.
func (s *Store) Vehicles(ctx context.Context, userID string) ([]parking.Vehicle, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+vehicleColumns+` FROM vehicles WHERE user_id = $1 AND deleted_at IS NULL
		ORDER BY created_at, id`, userID)
	vs, err := pgx.CollectRows(rows, scanVehicle)
	return vs, classify(err, "vehicle")
}

const reservationColumns = `id, user_id, vehicle_id, plate, vehicle_size, lot_id, spot_id, starts_at, ends_at, status,
	amount, currency, hold_expires_at, created_at, updated_at, checked_in_at, checked_out_at, moved_from, change_reason, price_size`

func scanReservation(row pgx.CollectableRow) (parking.Reservation, error) {
	var r parking.Reservation
	var userID, vehicleID *string
	var size int16
	var priceSize *int16
	err := row.Scan(&r.ID, &userID, &vehicleID, &r.Plate, &size, &r.LotID, &r.SpotID, &r.StartsAt, &r.EndsAt, &r.Status,
		&r.Amount, &r.Currency, &r.HoldExpiresAt, &r.CreatedAt, &r.UpdatedAt, &r.CheckedInAt, &r.CheckedOutAt,
		&r.MovedFrom, &r.ChangeReason, &priceSize)
	r.UserID, r.VehicleID = deref(userID), deref(vehicleID)
	r.VehicleSize = parking.Size(size)
	if priceSize != nil {
		r.PriceSize = parking.Size(*priceSize)
	}
	r.StartsAt, r.EndsAt = r.StartsAt.UTC(), r.EndsAt.UTC()
	r.HoldExpiresAt, r.CreatedAt, r.UpdatedAt = r.HoldExpiresAt.UTC(), r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	r.CheckedInAt, r.CheckedOutAt = utcPtr(r.CheckedInAt), utcPtr(r.CheckedOutAt)
	return r, err
}

// releaseOverlapping releases the reservations on one spot that overlap a
// window but no longer hold the spot, writing one event each: holds whose
// expiry has passed become expired, and confirmed reservations whose no-show
// deadline (start plus the lot's no_show_after_us) has passed become no_show.
// $1 is the time, $2 the spot, [$3, $4) the window. The range expression
// matches the exclusion constraint's, so the constraint's GiST index finds the
// rows. Rows are locked in id order, as ExpireHolds and MarkNoShows lock them,
// so none of them can deadlock over several reservations.
const releaseOverlapping = `WITH x AS (
		UPDATE reservations SET status = CASE status WHEN 'held' THEN 'expired' ELSE 'no_show' END, updated_at = $1
		WHERE status IN ('held', 'confirmed') AND id IN (
			SELECT id FROM reservations
			WHERE spot_id = $2 AND status IN ('held', 'confirmed')
				AND tstzrange(starts_at, ends_at, '[)') && tstzrange($3, $4, '[)')
				AND ` + lapsedBy + `
			ORDER BY id FOR UPDATE
		)
		RETURNING lot_id, spot_id, id, status
	)
	INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
	SELECT lot_id, 'reservation.' || status, spot_id, id, $1 FROM x`

// lapsedBy is true of a held or confirmed row of reservations that no longer
// holds its spot at $1: a hold whose expiry has passed, or a confirmed
// reservation nobody checked in by its no-show deadline.
const lapsedBy = `CASE status
					WHEN 'held' THEN hold_expires_at
					ELSE starts_at + (SELECT no_show_after_us FROM lots WHERE lots.id = reservations.lot_id) * interval '1 microsecond'
				END <= $1`

// insertHold inserts a reservation and, only if it went in, its event. The
// spot must be in service: FOR SHARE on its row waits for an operator's
// change of in_service to commit, so a hold cannot slip in beside it. It
// reports whether it inserted and whether the id was already taken before it
// ran (its subquery sees the snapshot from before the INSERT).
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
const insertHold = `WITH ins AS (
		INSERT INTO reservations (id, user_id, vehicle_id, plate, vehicle_size, lot_id, spot_id,
			starts_at, ends_at, status, amount, currency, hold_expires_at, created_at, updated_at, checked_in_at, checked_out_at, price_size)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18
		WHERE EXISTS (SELECT 1 FROM spots WHERE id = $7 AND in_service FOR SHARE)
		ON CONFLICT DO NOTHING
		RETURNING lot_id, spot_id, id, status, created_at
	), ev AS (
		INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
		SELECT lot_id, 'reservation.' || status, spot_id, id, created_at FROM ins
	)
	SELECT EXISTS (SELECT 1 FROM ins), EXISTS (SELECT 1 FROM reservations WHERE id = $1)`

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
// insert and its event commit together. The exclusion constraint, not a prior SELECT, decides whether
// the spot is free, so two racing holds cannot both win.
//
// With a key to complete, each attempt runs in an explicit transaction that
// also completes the key (see holdTx): two round trips when the hold goes in.
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
	tx := &holdTx{pool: s.pool, key: key}
	if key != nil && len(candidates) > 0 {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("postgres: acquire connection: %w", err)
		}
		// Release destroys rather than pools a connection that an error left
		// inside a transaction, so none is ever reused mid-transaction.
		defer conn.Release()
		tx.conn = conn
	}
	if len(candidates) > 1 {
		return s.holdAny(ctx, tx, r, candidates)
	}
	insert := insertHold
	if r.Status == parking.StatusCheckedIn {
		insert = insertInside
	}
	for _, spotID := range candidates {
		var inserted, idTaken bool
		err := retry(ctx, func() error {
			// A fresh batch per attempt: pgx records prepared statements in
			// the queued queries, and a failed batch invalidates them.
			b := tx.batch()
			b.Queue(releaseOverlapping, r.CreatedAt, spotID, r.StartsAt, r.EndsAt)
			b.Queue(insert, r.ID, nullable(r.UserID), nullable(r.VehicleID), r.Plate, int16(r.VehicleSize), r.LotID, spotID,
				r.StartsAt, r.EndsAt, string(r.Status), r.Amount, r.Currency, r.HoldExpiresAt, r.CreatedAt, r.UpdatedAt,
				r.CheckedInAt, r.CheckedOutAt, priceSize(r)).
				QueryRow(func(row pgx.Row) error { return row.Scan(&inserted, &idTaken) })
			return tx.send(ctx, b)
		})
		switch err = classify(err, "reservation"); {
		case err == nil && inserted:
			return tx.complete(ctx, r, spotID)
		case err == nil:
			if err := tx.commit(ctx); err != nil {
				return err
			}
			if idTaken {
				return parking.Errorf(parking.ECONFLICT, "reservation already exists")
			}
		case !errors.Is(err, parking.ErrSpotUnavailable):
			return err
		}
	}
	return parking.ErrSpotUnavailable
}

// holdTx is where Hold's attempts run. Without a key it is the pool, and each
// batch is its own implicit transaction, exactly as before keys existed.
//
// With a key, every attempt runs on one connection in an explicit transaction:
// the first batch is BEGIN, a lock on the key's row and the hold's statements;
// if the hold went in, Go renders the response and a second batch updates the
// key and commits. pgx sends a batch as one pipeline with a single Sync, and
// PostgreSQL lets BEGIN turn that pipeline's implicit transaction into an
// explicit one that stays open after it. Locking the key first means the
// second batch's UPDATE cannot miss it (a released or swept key is found
// missing before anything is committed) and keeps the lock order key, then
// spot. The transaction holds the spot while Render runs, so Render must only
// format.
type holdTx struct {
	pool *pgxpool.Pool
	key  *parking.KeyCompletion
	conn *pgxpool.Conn // nil without a key

	keyFound bool // set by the key lock in the last batch
}

// batch starts an attempt's batch: empty without a key, else BEGIN and the
// lock on the key's row.
func (h *holdTx) batch() *pgx.Batch {
	b := &pgx.Batch{}
	if h.conn == nil {
		return b
	}
	h.keyFound = false
	b.Queue(`BEGIN`)
	b.Queue(`WITH k AS (
			SELECT 1 FROM idempotency_keys WHERE user_id = $1 AND key = $2 FOR NO KEY UPDATE
		)
		SELECT count(*) > 0 FROM k`, h.key.UserID, h.key.Key).
		QueryRow(func(row pgx.Row) error { return row.Scan(&h.keyFound) })
	return b
}

// send runs an attempt's batch. With a key the transaction stays open when the
// batch succeeded, for complete or commit to end it, and is rolled back when
// it failed or the key is gone.
func (h *holdTx) send(ctx context.Context, b *pgx.Batch) error {
	if h.conn == nil {
		return h.pool.SendBatch(ctx, b).Close()
	}
	if err := h.conn.SendBatch(ctx, b).Close(); err != nil {
		h.rollback(ctx)
		return err
	}
	if !h.keyFound {
		h.rollback(ctx)
		return parking.Errorf(parking.ENOTFOUND, "idempotency key not found")
	}
	return nil
}

// complete settles an attempt whose hold went in on spotID: it sets r.SpotID
// and, with a key, completes the key with Render's response and commits. When
// Render or the commit fails, the hold is rolled back and r.SpotID restored.
func (h *holdTx) complete(ctx context.Context, r *parking.Reservation, spotID string) error {
	prev := r.SpotID
	r.SpotID = spotID
	if h.conn == nil {
		return nil
	}
	status, body, err := h.key.Render(*r)
	if err != nil {
		h.rollback(ctx)
		r.SpotID = prev
		return err
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE idempotency_keys SET status_code = $3, response_body = $4 WHERE user_id = $1 AND key = $2`,
		h.key.UserID, h.key.Key, status, body)
	b.Queue(`COMMIT`)
	if err := h.conn.SendBatch(ctx, b).Close(); err != nil {
		h.rollback(ctx)
		r.SpotID = prev
		return classify(err, "idempotency key")
	}
	return nil
}

// commit ends an attempt whose hold did not go in. It commits rather than rolls
// back so the lapsed holds the attempt expired stay expired, as they do
// without a key.
func (h *holdTx) commit(ctx context.Context) error {
	if h.conn == nil {
		return nil
	}
	if _, err := h.conn.Exec(ctx, `COMMIT`); err != nil {
		h.rollback(ctx)
		return err
	}
	return nil
}

// rollback ends the transaction after a failure. Its own error is dropped: the
// failure being reported matters more, and a connection it could not roll back
// is still in a transaction, which Release sees and destroys.
func (h *holdTx) rollback(ctx context.Context) {
	_, _ = h.conn.Exec(ctx, `ROLLBACK`)
}

// releaseCandidates is releaseOverlapping for a list of spots ($2).
const releaseCandidates = `WITH x AS (
		UPDATE reservations SET status = CASE status WHEN 'held' THEN 'expired' ELSE 'no_show' END, updated_at = $1
		WHERE status IN ('held', 'confirmed') AND id IN (
			SELECT id FROM reservations
			WHERE spot_id = ANY($2::text[]) AND status IN ('held', 'confirmed')
				AND tstzrange(starts_at, ends_at, '[)') && tstzrange($3, $4, '[)')
				AND ` + lapsedBy + `
			ORDER BY id FOR UPDATE
		)
		RETURNING lot_id, spot_id, id, status
	)
	INSERT INTO events (lot_id, type, spot_id, reservation_id, at)
	SELECT lot_id, 'reservation.' || status, spot_id, id, $1 FROM x`

// pickAndInsertHold picks the first candidate ($7, in order) with no live
// reservation overlapping the window, locks its spot row, and inserts the hold
// there with its event. It returns the spot it picked (NULL if none), whether
// the insert went in, and whether the id was already taken.
//
// The row lock is what lets many racers for "any spot" spread out instead of
// queueing: with SKIP LOCKED each takes the first spot no other in-flight hold
// has locked. NO KEY UPDATE does not conflict with the KEY SHARE lock that
// foreign-key checks take, so single-spot holds never wait on it. The exclusion
// constraint still has the last word (ON CONFLICT DO NOTHING, see insertHold).
var pickAndInsertHold = `WITH pick AS (
		SELECT sp.id FROM unnest($7::text[]) WITH ORDINALITY AS c(id, ord)
		JOIN spots sp ON sp.id = c.id
		WHERE sp.in_service AND NOT EXISTS (
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
	)
	SELECT (SELECT id FROM pick), EXISTS (SELECT 1 FROM ins), EXISTS (SELECT 1 FROM reservations WHERE id = $1)`

var (
	pickSkipLocked = fmt.Sprintf(pickAndInsertHold, "SKIP LOCKED")
	pickWaiting    = fmt.Sprintf(pickAndInsertHold, "")
)

// holdAny holds the first free spot of several. It first skips spots that other
// in-flight holds have locked; only when that finds none does it wait for them,
// since a locked spot may still be free for this window once they finish.
func (s *Store) holdAny(ctx context.Context, tx *holdTx, r *parking.Reservation, candidates []string) error {
	query := pickSkipLocked
	for range len(candidates) + 2 {
		var picked *string
		var inserted, idTaken bool
		err := retry(ctx, func() error {
			b := tx.batch()
			b.Queue(releaseCandidates, r.CreatedAt, candidates, r.StartsAt, r.EndsAt)
			b.Queue(query, r.ID, nullable(r.UserID), nullable(r.VehicleID), r.Plate, int16(r.VehicleSize), r.LotID, candidates,
				r.StartsAt, r.EndsAt, string(r.Status), r.Amount, r.Currency, r.HoldExpiresAt, r.CreatedAt, r.UpdatedAt,
				r.CheckedInAt, r.CheckedOutAt, priceSize(r)).
				QueryRow(func(row pgx.Row) error { return row.Scan(&picked, &inserted, &idTaken) })
			return tx.send(ctx, b)
		})
		if err = classify(err, "reservation"); err != nil {
			return err
		}
		if inserted {
			return tx.complete(ctx, r, *picked)
		}
		if err := tx.commit(ctx); err != nil {
			return err
		}
		switch {
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

// Events lists a lot's events after seq, oldest first, at most limit; a limit of
// zero or less means no limit.
func (s *Store) Events(ctx context.Context, lotID string, afterSeq int64, limit int) ([]parking.Event, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, _ := s.pool.Query(ctx, `SELECT seq, lot_id, type, spot_id, reservation_id, at FROM events
		WHERE lot_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, lotID, afterSeq, lim)
	return collectEvents(rows)
}

// EventsSince lists every lot's events after afterSeq or in missing: a seq is
// taken when its transaction inserts the event, so a lower one can commit after
// a higher one, and a reader looks for the seqs it skipped again.
func (s *Store) EventsSince(ctx context.Context, afterSeq int64, missing []int64, limit int) ([]parking.Event, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	if missing == nil {
		missing = []int64{}
	}
	rows, _ := s.pool.Query(ctx, `SELECT seq, lot_id, type, spot_id, reservation_id, at FROM events
		WHERE seq > $1 OR seq = ANY($2) ORDER BY seq LIMIT $3`, afterSeq, missing, lim)
	return collectEvents(rows)
}

// LastEventSeq is the highest committed event seq.
func (s *Store) LastEventSeq(ctx context.Context) (int64, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&seq)
	return seq, classify(err, "event")
}

func collectEvents(rows pgx.Rows) ([]parking.Event, error) {
	es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (parking.Event, error) {
		var e parking.Event
		err := row.Scan(&e.Seq, &e.LotID, &e.Type, &e.SpotID, &e.ReservationID, &e.At)
		e.At = e.At.UTC()
		return e, err
	})
	return es, classify(err, "event")
}

// utc returns t in UTC at the microsecond precision timestamptz stores, so a
// value the caller keeps equals the one read back.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := utc(*t)
	return &u
}

// nullable stores an absent optional reference as NULL, which foreign keys skip.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// nonNil keeps amenities a JSON array rather than null, and satisfies the
// column's NOT NULL.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
