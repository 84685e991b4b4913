package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"parkd/internal/parking"
)

// CreateSession stores sess.
func (s *Store) CreateSession(ctx context.Context, sess *parking.Session) error {
	sess.CreatedAt, sess.ExpiresAt = utc(sess.CreatedAt), utc(sess.ExpiresAt)
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		sess.TokenHash, sess.UserID, sess.CreatedAt, sess.ExpiresAt)
	return classify(err, "session")
}

// Session returns the session with this token hash, expired or not: the caller
// judges expiry against its own clock.
func (s *Store) Session(ctx context.Context, tokenHash string) (parking.Session, error) {
	var sess parking.Session
	err := s.pool.QueryRow(ctx, `SELECT token_hash, user_id, created_at, expires_at FROM sessions WHERE token_hash = $1`, tokenHash).
		Scan(&sess.TokenHash, &sess.UserID, &sess.CreatedAt, &sess.ExpiresAt)
	sess.CreatedAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.ExpiresAt.UTC()
	return sess, classify(err, "session")
}

// UserBySession returns the session with this token hash and its user, in
// one query.
func (s *Store) UserBySession(ctx context.Context, tokenHash string) (parking.Session, parking.User, error) {
	var sess parking.Session
	var u parking.User
	var operatorID *string
	err := s.pool.QueryRow(ctx, `SELECT s.token_hash, s.user_id, s.created_at, s.expires_at,
			u.id, u.name, u.email, u.password_hash, u.role, u.operator_id, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`, tokenHash).
		Scan(&sess.TokenHash, &sess.UserID, &sess.CreatedAt, &sess.ExpiresAt,
			&u.ID, &u.Name, &u.Email, &u.PasswordHash, &u.Role, &operatorID, &u.CreatedAt)
	sess.CreatedAt, sess.ExpiresAt, u.CreatedAt = sess.CreatedAt.UTC(), sess.ExpiresAt.UTC(), u.CreatedAt.UTC()
	u.OperatorID = deref(operatorID)
	return sess, u, classify(err, "session")
}

// DeleteSession forgets a session. Deleting one that is already gone is not an
// error: signing out twice must not fail.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
	return classify(err, "session")
}

// DeleteVehicle marks a vehicle removed rather than deleting its row, which the
// reservations made with it still name. A missing or already removed vehicle is
// ErrNotFound.
func (s *Store) DeleteVehicle(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE vehicles SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL`, id, utc(at))
	if err != nil {
		return classify(err, "vehicle")
	}
	if tag.RowsAffected() == 0 {
		return parking.Errorf(parking.ENOTFOUND, "vehicle not found")
	}
	return nil
}

// updated is the outcome of an UPDATE of one row by id: a driver error
// classified, or ErrNotFound when no row had the id.
func updated(rows int64, err error, what string) error {
	if err != nil {
		return classify(err, what)
	}
	if rows == 0 {
		return parking.Errorf(parking.ENOTFOUND, "%s not found", what)
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
