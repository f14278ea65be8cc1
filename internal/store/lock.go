package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrLocked: another database session holds the lock.
var ErrLocked = errors.New("locked")

// defaultLockConns bounds the connections that hold locks (see Options.LockConns).
const defaultLockConns = 32

// Held is a PostgreSQL session-level advisory lock, held by a connection of its own for as long
// as a request works on what it guards (a resumable upload's bytes), on any instance. The lock
// goes with its connection: when the instance dies, PostgreSQL releases it at once. The
// request runs its queries on the same connection (its repositories, InTx), so that it needs
// one connection however long it takes.
type Held struct {
	// Repos run on the lock's connection.
	Repos
	conn    *pgxpool.Conn
	key     int64
	timeout time.Duration
}

// TryLock takes the advisory lock key without waiting: ErrLocked when another session holds
// it. The locks have a pool of their own (Options.LockConns), so that requests holding locks
// for long never starve the others of connections.
func (s *Store) TryLock(ctx context.Context, key int64) (*Held, error) {
	actx, cancel := bound(ctx, s.queryTimeout)
	defer cancel()
	conn, err := s.locks.Acquire(actx)
	if err != nil {
		return nil, translate(err)
	}
	var ok bool
	if err := conn.QueryRow(actx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		// The lock may have been taken all the same; closing the connection drops it.
		conn.Conn().Close(context.Background())
		conn.Release()
		return nil, translate(err)
	}
	if !ok {
		conn.Release()
		return nil, ErrLocked
	}
	return &Held{Repos: newRepos(conn, s.queryTimeout), conn: conn, key: key, timeout: s.queryTimeout}, nil
}

// InTx runs fn in one transaction on the lock's connection, like Store.InTx.
func (h *Held) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	return inTx(ctx, h.conn, h.timeout, fn)
}

// Release unlocks and gives the connection back; when the unlock fails, the connection is
// closed, which releases the lock all the same.
func (h *Held) Release() {
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout)
	defer cancel()
	if _, err := h.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", h.key); err != nil {
		h.conn.Conn().Close(ctx)
	}
	h.conn.Release()
}
