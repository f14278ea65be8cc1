package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Listener is a connection of its own, outside the pools, that receives PostgreSQL
// notifications on one channel. Queries run on it (Cache) deliver the notifications that
// arrived meanwhile to Wait, in the order PostgreSQL sent them: a notification is sent before
// the answer of any statement that began after the notifying transaction committed.
type Listener struct {
	conn *pgx.Conn
	// Cache runs the cache sessions' queries on the listening connection: a lease renewed
	// there proves that the connection hears its notifications.
	Cache Cache
}

// ListenerApplicationName is the application_name of listening connections.
const ListenerApplicationName = "fileshare listener"

// Listen opens a connection of its own (to the direct URL when there is one) and listens on
// channel. ErrNoSession when the connection leads to a pooler, which would not keep the
// LISTEN: there is nothing to listen with then.
func (s *Store) Listen(ctx context.Context, channel string) (*Listener, error) {
	ctx, cancel := bound(ctx, s.queryTimeout)
	defer cancel()
	cfg := s.sessionConfig()
	// Named for pg_stat_activity: an operator can tell the listening sessions apart.
	cfg.RuntimeParams["application_name"] = ListenerApplicationName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, translate(err)
	}
	pooled, err := isPooled(ctx, conn)
	if err == nil && pooled {
		err = ErrNoSession
	}
	if err != nil {
		conn.Close(context.Background())
		return nil, translate(err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		conn.Close(context.Background())
		return nil, translate(err)
	}
	return &Listener{conn: conn, Cache: newRepos(conn, s.queryTimeout).Cache()}, nil
}

// Wait returns the next notification: one already received at once, else the next to arrive
// before ctx is done. A done ctx leaves the connection usable (ErrNoNotification); any other
// error means the connection is lost.
func (l *Listener) Wait(ctx context.Context) (*pgconn.Notification, error) {
	n, err := l.conn.WaitForNotification(ctx)
	if n != nil {
		return n, nil
	}
	if ctx.Err() != nil && !l.conn.IsClosed() {
		return nil, ErrNoNotification
	}
	if err == nil {
		err = errors.New("listening connection: no notification")
	}
	return nil, translate(err)
}

// closeTimeout bounds the goodbye to the server of a closing connection.
const closeTimeout = 2 * time.Second

// ErrNoNotification: Wait's context ended before a notification arrived.
var ErrNoNotification = errors.New("no notification")

// Notify sends payload on channel, at once (outside any transaction).
func (l *Listener) Notify(ctx context.Context, channel, payload string) error {
	return l.Cache.Notify(ctx, channel, payload)
}

// Close closes the connection; PostgreSQL stops sending it notifications.
func (l *Listener) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	l.conn.Close(ctx)
}
