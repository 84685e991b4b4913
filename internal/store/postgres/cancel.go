package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
)

// cancelRequestCode opens PostgreSQL's CancelRequest message.
const cancelRequestCode = 80877102

var errCancelNotSent = errors.New("postgres: parkd sends no cancel requests")

// withoutCancelRequests wraps dial so that no connection it makes sends a
// CancelRequest. pgx sends one whenever a connection breaks (a context
// cancelled, the hold limit reached); PostgreSQL answers a cancelled wait for
// the synchronous standby by keeping the transaction committed on the primary
// alone, where other requests would see it and could acknowledge it. Without
// the cancel the backend goes on waiting until a standby has the commit (or
// runs a cancelled query to its end). It recognises the message only on a
// connection without TLS: a TLS one is encrypted before it is written here,
// and ClaimIdempotencyKey's wait for durability is then what stands.
func withoutCancelRequests(dial pgconn.DialFunc) pgconn.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &cancelFilter{Conn: c}, nil
	}
}

// cancelFilter drops a connection whose first message is a CancelRequest.
type cancelFilter struct {
	net.Conn
	started bool
}

func (c *cancelFilter) Write(b []byte) (int, error) {
	if !c.started {
		c.started = true
		if len(b) >= 8 && binary.BigEndian.Uint32(b[4:8]) == cancelRequestCode {
			c.Conn.Close()
			return 0, errCancelNotSent
		}
	}
	return c.Conn.Write(b)
}
