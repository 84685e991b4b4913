package sqlite

import (
	"context"
	"database/sql"

	"parkd/internal/parking"
)

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
