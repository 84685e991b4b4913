// Package postgres stores parkd's data in PostgreSQL through pgx. The database,
// not Go code, decides every race: an exclusion constraint keeps two live
// reservations off the same spot at the same time, and each state change writes
// its outbox event in the same transaction.
//
// Methods are filed by part of parking.Store, in files named alike in every
// backend: lots.go, accounts.go, reservations.go, payments.go, gates.go,
// events.go (events and notifications), idempotency.go and operations.go;
// beside them postgres.go (opening the store), migrate.go, errors.go (the one table
// from driver errors to domain errors) and backup.go.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"parkd/internal/parking"
)

// migrationLock is the pg_advisory_xact_lock key that serialises migration runs
// across processes. It is one key for the whole database, not one per schema,
// because CREATE EXTENSION is database-wide and races otherwise.
const migrationLock int64 = 0x7061726b64 // "parkd"

// Store is a parking.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
	// holdLimit is how long, in nanoseconds, one use of a connection (a
	// statement, or a transaction from BEGIN to COMMIT) may take before the
	// connection is cut: 0 while the migrations run, which may take long.
	holdLimit atomic.Int64

	// announce has Announce's pending request; stopAnnouncing ends the
	// goroutine that sends them, which closes announced when it returns.
	announce       chan struct{}
	stopAnnouncing context.CancelFunc
	announced      chan struct{}
}

// DefaultHoldLimit is how long one use of a connection may take (Option
// HoldLimit). Commits on a cluster with synchronous replication wait for a
// standby; with none left they wait for ever, and so would the requests.
const DefaultHoldLimit = 10 * time.Second

// Option changes how Open sets up the store.
type Option func(*options)

type options struct{ holdLimit time.Duration }

// HoldLimit bounds one use of a connection, a statement or a transaction from
// BEGIN to COMMIT (DefaultHoldLimit; 0 for no bound). Past it the connection
// is cut and the call fails with a network timeout, which parkd answers 503
// unavailable. A commit so cut may still have committed on the server (pgx
// sends a cancel request for a broken connection, and a cancelled wait for
// the standby leaves the transaction committed on the primary alone): the
// outcome is unknown, a retry with the same Idempotency-Key finds the hold's
// record (written in the hold's own transaction), and ClaimIdempotencyKey
// replays it only once it is durable.
func HoldLimit(d time.Duration) Option { return func(o *options) { o.holdLimit = d } }

var _ parking.Store = (*Store)(nil)

// Open connects to the database at dsn (a URL or keyword/value string that pgx
// accepts), checks that it answers and applies pending migrations.
//
// With a multi-host dsn and target_session_attrs=read-write (as behind
// pg_auto_failover) each new connection goes to whichever host takes writes
// now: after a failover, connections to the old primary break, the pool
// drops them, and the next ones reach the new primary.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{holdLimit: DefaultHoldLimit}
	for _, opt := range opts {
		opt(&o)
	}
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
	// parkd's own parameter, not one for the server.
	requireStandby := false
	if v, set := cfg.ConnConfig.RuntimeParams[RequireSyncStandbyParam]; set {
		delete(cfg.ConnConfig.RuntimeParams, RequireSyncStandbyParam)
		if requireStandby, err = strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("postgres: dsn: %s must be true or false, not %q", RequireSyncStandbyParam, v)
		}
	}
	if requireStandby {
		cfg.AfterConnect = requireSyncStandby
	}
	cfg.ConnConfig.DialFunc = withoutCancelRequests(cfg.ConnConfig.DialFunc)
	s := &Store{}
	cfg.PrepareConn = func(_ context.Context, c *pgx.Conn) (bool, error) {
		if limit := time.Duration(s.holdLimit.Load()); limit > 0 {
			return true, c.PgConn().Conn().SetDeadline(time.Now().Add(limit))
		}
		return true, nil
	}
	cfg.AfterRelease = func(c *pgx.Conn) bool {
		return c.PgConn().Conn().SetDeadline(time.Time{}) == nil
	}
	// Idle connections to a primary that is gone are found within seconds,
	// not pgxpool's minute; a connection in use finds it at its next call.
	cfg.HealthCheckPeriod = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	s.pool = pool
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	s.holdLimit.Store(int64(o.holdLimit))
	var actx context.Context
	actx, s.stopAnnouncing = context.WithCancel(context.Background())
	s.announce, s.announced = make(chan struct{}, 1), make(chan struct{})
	go s.announcing(actx)
	return s, nil
}

// RequireSyncStandbyParam is the parameter of parkd's database address
// (true or false, default false) that has parkd refuse a connection to a
// server that commits without a synchronous standby (its
// synchronous_standby_names is empty): the strict mode of a replicated
// cluster, where a write no standby confirmed must be refused rather than
// acknowledged. pg_auto_failover runs a newly promoted primary so (state
// wait_primary) until a standby has caught up with it; with this set, parkd
// answers 503 meanwhile. A server without replication never qualifies: leave
// it unset there.
const RequireSyncStandbyParam = "parkd_require_sync_standby"

// ErrNoSyncStandby is a connection refused under RequireSyncStandbyParam: the
// server takes writes without a synchronous standby. Unavailable reports it.
var ErrNoSyncStandby = errors.New("postgres: the server commits without a synchronous standby (synchronous_standby_names is empty), and parkd_require_sync_standby is set")

// requireSyncStandby refuses a new connection to a server whose commits do
// not wait for a standby. Once per connection is enough in strict mode:
// pg_auto_failover then empties synchronous_standby_names only on a newly
// promoted primary (wait_primary), to which every connection is new.
func requireSyncStandby(ctx context.Context, c *pgx.Conn) error {
	var names string
	if err := c.QueryRow(ctx, `SELECT current_setting('synchronous_standby_names')`).Scan(&names); err != nil {
		return err
	}
	if strings.TrimSpace(names) == "" {
		return ErrNoSyncStandby
	}
	return nil
}

// Close closes every connection in the pool; it is safe to call more than once.
func (s *Store) Close() error {
	s.stopAnnouncing()
	<-s.announced
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.pool.Ping(ctx)
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

// lapsedBy is true of a held or confirmed row of reservations that no longer
// holds its spot at $1: a hold whose expiry has passed, or a confirmed
// reservation nobody checked in by its no-show deadline.
const lapsedBy = `CASE status
					WHEN 'held' THEN hold_expires_at
					ELSE starts_at + (SELECT no_show_after_us FROM lots WHERE lots.id = reservations.lot_id) * interval '1 microsecond'
				END <= $1`

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
