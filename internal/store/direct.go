package store

// Sessions of their own, and what a pooler in front of PostgreSQL changes.
//
// The pool's connections may lead to PgBouncer in transaction pooling mode, which hands each
// transaction to whichever server connection is free: nothing that lasts longer than a
// transaction (LISTEN, a session-level lock, a named prepared statement) can be relied on
// through it. What needs a session of its own connects to the direct URL when one is given
// (FILESHARE_DATABASE_DIRECT_URL); without one it connects like the pool, and a listening
// connection that turns out to be pooled is refused (ErrNoSession), so that the instance
// does without rather than believing it hears what it cannot.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNoSession: the connection leads to a pooler, not to a PostgreSQL session of its own, and
// no direct URL was given.
var ErrNoSession = errors.New("no session of its own: the database URL leads to a connection pooler; set FILESHARE_DATABASE_DIRECT_URL to reach PostgreSQL itself")

// QueueListenerApplicationName is the application_name of the job queue's listening
// connection.
const QueueListenerApplicationName = "fileshare queue listener"

// PoolConns is the size of the pool of queries within a budget of connections
// (FILESHARE_DB_MAX_CONNS): what the sessions of their own leave. Where it can have sessions
// (PostgreSQL reached directly, or a direct URL), an instance listens for the cache
// announcements on one connection and the job queue (River) listens for new jobs on another.
// Behind a pooler without a direct URL it has none: it serves nothing from memory and the
// queue polls. River's queries, the webhook deliveries and the purge share the pool with the
// requests.
func PoolConns(budget int, sessions bool) int32 {
	if sessions {
		budget -= 2
	}
	return int32(max(budget, 1))
}

// openSessions opens the (lazy) session pool: on the direct URL, else on url when it is not
// pooled; nil when there is no session to have.
func openSessions(url string, pooled bool, opt Options) (*pgxpool.Pool, error) {
	switch {
	case opt.DirectURL != "":
		return newSessionPool(opt.DirectURL, opt)
	case !pooled:
		return newSessionPool(url, opt)
	}
	return nil, nil
}

// explicitExecMode reports whether url chooses pgx's query execution mode itself.
func explicitExecMode(url string) bool { return strings.Contains(url, "default_query_exec_mode") }

// probe connects once with cfg and reports whether the connection leads to a pooler: the
// process id PostgreSQL gives a client at the start (for cancel requests) is the backend's own
// on a direct connection, and a pooler's invention behind one.
func probe(ctx context.Context, cfg *pgx.ConnConfig) (pooled bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return isPooled(ctx, conn)
}

func isPooled(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var pid uint32
	// The simple protocol: no prepared statement, which a pooler may not carry.
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()", pgx.QueryExecModeSimpleProtocol).Scan(&pid); err != nil {
		return false, err
	}
	return pid != conn.PgConn().PID(), nil
}

// openDirect parses the direct URL and checks that it reaches PostgreSQL itself.
func openDirect(ctx context.Context, url string, opt Options) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("invalid direct database URL: %w", err)
	}
	cfg.ConnectTimeout = opt.ConnectTimeout
	ctx, cancel := context.WithTimeout(ctx, opt.ConnectTimeout+opt.QueryTimeout)
	defer cancel()
	pooled, err := probe(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("direct database URL unreachable: %w", err)
	}
	if pooled {
		return nil, errors.New("the direct database URL leads to a connection pooler, not to PostgreSQL itself")
	}
	return cfg, nil
}

// Pooled reports whether the pool's connections lead to a pooler (PgBouncer): then its
// queries use no named prepared statements.
func (s *Store) Pooled() bool { return s.pooled }

// Direct reports whether a direct URL was given.
func (s *Store) Direct() bool { return s.direct != nil }

// SessionPool is a pool of at most one connection of its own (to the direct URL, else to the
// pool's when that is no pooler), for the job queue's listener: River's notifier takes its
// connection from it and keeps it. nil behind a pooler without a direct URL: the queue polls.
func (s *Store) SessionPool() *pgxpool.Pool { return s.sessions }

// newSessionPool returns the (lazy) pool of SessionPool on url.
func newSessionPool(url string, opt Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("invalid database URL: %w", err)
	}
	cfg.ConnConfig.ConnectTimeout = opt.ConnectTimeout
	cfg.ConnConfig.RuntimeParams["application_name"] = QueueListenerApplicationName
	cfg.MaxConns = 1
	cfg.MinConns = 0
	return pgxpool.NewWithConfig(context.Background(), cfg)
}

// sessionConfig is the configuration of a connection of its own: the direct URL's, else the
// pool's.
func (s *Store) sessionConfig() *pgx.ConnConfig {
	if s.direct != nil {
		return s.direct.Copy()
	}
	return s.Pool.Config().ConnConfig.Copy()
}
