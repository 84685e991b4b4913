package mysql

import (
	"context"
	"database/sql"
	"time"

	"parkd/internal/parking"
)

// This file holds users, their vehicles and their sessions.

// CreateUser stores u; an email already taken is a conflict.
func (s *Store) CreateUser(ctx context.Context, u *parking.User) error {
	u.CreatedAt = utc(u.CreatedAt)
	_, err := s.exec(ctx, `INSERT INTO users (id, name, email, password_hash, role, operator_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Name, u.Email, u.PasswordHash, string(u.Role), nullable(u.OperatorID), ts(u.CreatedAt))
	return classify(err, "user")
}

const userColumns = `id, name, email, password_hash, role, operator_id, created_at`

func scanUser(row scanner) (parking.User, error) {
	var u parking.User
	var operatorID sql.NullString
	err := row.Scan(&u.ID, &u.Name, &u.Email, &u.PasswordHash, &u.Role, &operatorID, &u.CreatedAt)
	u.OperatorID = operatorID.String
	u.CreatedAt = u.CreatedAt.UTC()
	return u, err
}

// User returns the user with the given id.
func (s *Store) User(ctx context.Context, id string) (parking.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	return u, classify(err, "user")
}

// UserByEmail returns the user whose email is exactly email; the caller
// normalises it first.
func (s *Store) UserByEmail(ctx context.Context, email string) (parking.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
	return u, classify(err, "user")
}

// CreateVehicle stores v.
func (s *Store) CreateVehicle(ctx context.Context, v *parking.Vehicle) error {
	v.CreatedAt = utc(v.CreatedAt)
	_, err := s.exec(ctx, `INSERT INTO vehicles (id, user_id, plate, size, created_at) VALUES (?, ?, ?, ?, ?)`,
		v.ID, v.UserID, v.Plate, int16(v.Size), ts(v.CreatedAt))
	return classify(err, "vehicle")
}

const vehicleColumns = `id, user_id, plate, size, created_at`

func scanVehicle(row scanner) (parking.Vehicle, error) {
	var v parking.Vehicle
	err := row.Scan(&v.ID, &v.UserID, &v.Plate, &v.Size, &v.CreatedAt)
	v.CreatedAt = v.CreatedAt.UTC()
	return v, err
}

// Vehicle returns the vehicle with the given id, also one its owner removed:
// reservations made with it still name it.
func (s *Store) Vehicle(ctx context.Context, id string) (parking.Vehicle, error) {
	v, err := scanVehicle(s.db.QueryRowContext(ctx, `SELECT `+vehicleColumns+` FROM vehicles WHERE id = ?`, id))
	return v, classify(err, "vehicle")
}

// Vehicles lists a user's vehicles that are not removed, oldest first.
func (s *Store) Vehicles(ctx context.Context, userID string) ([]parking.Vehicle, error) {
	return collect(ctx, s.db, scanVehicle, `SELECT `+vehicleColumns+` FROM vehicles WHERE user_id = ? AND deleted_at IS NULL
		ORDER BY created_at, id`, userID)
}

// DeleteVehicle marks a vehicle removed rather than deleting its row, which the
// reservations made with it still name. A missing or already removed vehicle is
// ErrNotFound.
func (s *Store) DeleteVehicle(ctx context.Context, id string, at time.Time) error {
	res, err := s.exec(ctx, `UPDATE vehicles SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL`, ts(at), id)
	return updated(res, err, "vehicle")
}

// CreateSession stores sess.
func (s *Store) CreateSession(ctx context.Context, sess *parking.Session) error {
	sess.CreatedAt, sess.ExpiresAt = utc(sess.CreatedAt), utc(sess.ExpiresAt)
	_, err := s.exec(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		sess.TokenHash, sess.UserID, ts(sess.CreatedAt), ts(sess.ExpiresAt))
	return classify(err, "session")
}

// Session returns the session with this token hash, expired or not: the caller
// judges expiry against its own clock.
func (s *Store) Session(ctx context.Context, tokenHash string) (parking.Session, error) {
	var sess parking.Session
	err := s.db.QueryRowContext(ctx, `SELECT token_hash, user_id, created_at, expires_at FROM sessions WHERE token_hash = ?`, tokenHash).
		Scan(&sess.TokenHash, &sess.UserID, &sess.CreatedAt, &sess.ExpiresAt)
	sess.CreatedAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.ExpiresAt.UTC()
	return sess, classify(err, "session")
}

// UserBySession returns the session with this token hash and its user, in
// one query.
func (s *Store) UserBySession(ctx context.Context, tokenHash string) (parking.Session, parking.User, error) {
	var sess parking.Session
	var u parking.User
	var operatorID sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT s.token_hash, s.user_id, s.created_at, s.expires_at,
			u.id, u.name, u.email, u.password_hash, u.role, u.operator_id, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, tokenHash).
		Scan(&sess.TokenHash, &sess.UserID, &sess.CreatedAt, &sess.ExpiresAt,
			&u.ID, &u.Name, &u.Email, &u.PasswordHash, &u.Role, &operatorID, &u.CreatedAt)
	sess.CreatedAt, sess.ExpiresAt, u.CreatedAt = sess.CreatedAt.UTC(), sess.ExpiresAt.UTC(), u.CreatedAt.UTC()
	u.OperatorID = operatorID.String
	return sess, u, classify(err, "session")
}

// DeleteSession forgets a session. Deleting one that is already gone is not an
// error: signing out twice must not fail.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := s.exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
	return classify(err, "session")
}
