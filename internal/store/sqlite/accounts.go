package sqlite

import (
	"context"
	"database/sql"
	"time"

	"parkd/internal/parking"
)

// CreateSession stores a session.
func (s *Store) CreateSession(ctx context.Context, sess *parking.Session) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		sess.TokenHash, sess.UserID, micros(sess.CreatedAt), micros(sess.ExpiresAt))
	return classify(err, "session")
}

// Session returns the session with this token hash.
func (s *Store) Session(ctx context.Context, tokenHash string) (parking.Session, error) {
	var sess parking.Session
	var created, expires int64
	err := s.read.QueryRowContext(ctx, `SELECT token_hash, user_id, created_at, expires_at FROM sessions WHERE token_hash = ?`, tokenHash).
		Scan(&sess.TokenHash, &sess.UserID, &created, &expires)
	sess.CreatedAt, sess.ExpiresAt = fromMicros(created), fromMicros(expires)
	return sess, classify(err, "session")
}

// UserBySession returns the session with this token hash and its user, in
// one query.
func (s *Store) UserBySession(ctx context.Context, tokenHash string) (parking.Session, parking.User, error) {
	var sess parking.Session
	var u parking.User
	var op sql.NullString
	var created, expires, userCreated int64
	err := s.read.QueryRowContext(ctx, `SELECT s.token_hash, s.user_id, s.created_at, s.expires_at,
			u.id, u.name, u.email, u.password_hash, u.role, u.operator_id, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, tokenHash).
		Scan(&sess.TokenHash, &sess.UserID, &created, &expires,
			&u.ID, &u.Name, &u.Email, &u.PasswordHash, &u.Role, &op, &userCreated)
	sess.CreatedAt, sess.ExpiresAt = fromMicros(created), fromMicros(expires)
	u.OperatorID, u.CreatedAt = op.String, fromMicros(userCreated)
	return sess, u, classify(err, "session")
}

// DeleteSession forgets a session; forgetting one twice is fine.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := s.write.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
	return err
}

// DeleteVehicle removes a vehicle from its owner's list.
func (s *Store) DeleteVehicle(ctx context.Context, id string, at time.Time) error {
	res, err := s.write.ExecContext(ctx, `UPDATE vehicles SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL`, micros(at), id)
	return affectedOne(res, err, "vehicle")
}

// affectedOne turns "no row changed" into ErrNotFound.
func affectedOne(res sql.Result, err error, what string) error {
	if err != nil {
		return classify(err, what)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return parking.Errorf(parking.ENOTFOUND, "%s not found", what)
	}
	return nil
}

// CreateUser stores u; a taken email is a conflict.
func (s *Store) CreateUser(ctx context.Context, u *parking.User) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO users (id, name, email, password_hash, role, operator_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Name, u.Email, u.PasswordHash, u.Role, nullString(u.OperatorID), micros(u.CreatedAt))
	return classify(err, "user")
}

const userColumns = `id, name, email, password_hash, role, operator_id, created_at`

func scanUser(row *sql.Row) (parking.User, error) {
	var u parking.User
	var op sql.NullString
	var created int64
	err := row.Scan(&u.ID, &u.Name, &u.Email, &u.PasswordHash, &u.Role, &op, &created)
	u.OperatorID, u.CreatedAt = op.String, fromMicros(created)
	return u, classify(err, "user")
}

// User returns the user with the given id.
func (s *Store) User(ctx context.Context, id string) (parking.User, error) {
	return scanUser(s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
}

// UserByEmail returns the user with exactly this (normalised) email.
func (s *Store) UserByEmail(ctx context.Context, email string) (parking.User, error) {
	return scanUser(s.read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
}

// CreateVehicle stores v.
func (s *Store) CreateVehicle(ctx context.Context, v *parking.Vehicle) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO vehicles (id, user_id, plate, size, created_at) VALUES (?, ?, ?, ?, ?)`,
		v.ID, v.UserID, v.Plate, v.Size, micros(v.CreatedAt))
	return classify(err, "vehicle")
}

func scanVehicle(row interface{ Scan(...any) error }) (parking.Vehicle, error) {
	var v parking.Vehicle
	var created int64
	err := row.Scan(&v.ID, &v.UserID, &v.Plate, &v.Size, &created)
	v.CreatedAt = fromMicros(created)
	return v, err
}

// Vehicle returns the vehicle with the given id.
func (s *Store) Vehicle(ctx context.Context, id string) (parking.Vehicle, error) {
	v, err := scanVehicle(s.read.QueryRowContext(ctx, `SELECT id, user_id, plate, size, created_at FROM vehicles WHERE id = ?`, id))
	return v, classify(err, "vehicle")
}

// Vehicles lists a user's vehicles, oldest first.
func (s *Store) Vehicles(ctx context.Context, userID string) ([]parking.Vehicle, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, user_id, plate, size, created_at FROM vehicles WHERE user_id = ? AND deleted_at IS NULL ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	vs := []parking.Vehicle{}
	for rows.Next() {
		v, err := scanVehicle(rows)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, rows.Err()
}
