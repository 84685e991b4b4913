package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func TestUnavailable(t *testing.T) {
	// A real connection to a port nothing listens on: refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, refused := pgx.Connect(context.Background(), "postgres://postgres@"+addr+"/test?sslmode=disable&connect_timeout=2")

	for _, c := range []struct {
		err  error
		want bool
	}{
		{refused, true},
		{fmt.Errorf("begin: %w", &pgconn.PgError{Code: "25006"}), true}, // read_only_sql_transaction: a standby
		{&pgconn.PgError{Code: "57P01"}, true},                          // admin_shutdown
		{&pgconn.PgError{Code: "57P03"}, true},                          // cannot_connect_now: starting up
		{&pgconn.PgError{Code: "08006"}, true},                          // connection_failure
		{context.DeadlineExceeded, true},
		{pgconn.ErrConnClosed, true},
		{&pgconn.PgError{Code: "23505"}, false}, // a unique violation is the request's fault
		{&pgconn.PgError{Code: "28P01"}, false}, // a wrong password is a configuration error
		{pgx.ErrNoRows, false},
		{errors.New("other"), false},
		{nil, false},
	} {
		if got := Unavailable(c.err); got != c.want {
			t.Errorf("Unavailable(%v) = %v; want %v", c.err, got, c.want)
		}
	}
}
