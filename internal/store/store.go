// Package store is the one boundary between fileshare and PostgreSQL. It owns the connection
// pool, the embedded migrations, the transaction helper and the repositories (repos.go), and
// every query made through it runs on an executor that bounds the call with the query timeout
// and translates the driver's errors once into the errors of errors.go. The sqlc-generated
// queries live in store/internal/dbsqlc, which no other package can import: the rest of the
// service sees the repositories' methods and this package's own types.
package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options tune the pool.
type Options struct {
	// ConnectTimeout bounds how long opening one connection may take.
	ConnectTimeout time.Duration
	// QueryTimeout bounds every database call whose context carries no deadline of its own,
	// and every transaction of InTx.
	QueryTimeout time.Duration
	// MaxConns caps the pool; 0 keeps the URL's pool_max_conns, else defaultMaxConns.
	MaxConns int32
	// Budget, when set, bounds every connection the store opens (FILESHARE_DB_MAX_CONNS), its
	// sessions of their own included: the pool gets what they leave (PoolConns), whatever
	// MaxConns says.
	Budget int
	// DirectURL leads to the same database as the pool's URL, but to PostgreSQL itself where
	// the pool's may lead to a pooler: the connections that need a session of their own
	// (listening) use it (direct.go). Empty: they connect like the pool.
	DirectURL string
}

// defaultMaxConns is the pool size unless the URL sets pool_max_conns.
const defaultMaxConns = 16

// Store is the database handle shared by the services. Its repositories run on the pool.
type Store struct {
	// Pool is the raw pool, for the migrator, River, metrics and tests; the services query
	// through the repositories.
	Pool *pgxpool.Pool
	Repos

	queryTimeout time.Duration
	pooled       bool            // the pool's URL leads to a pooler
	direct       *pgx.ConnConfig // of DirectURL; nil without one
	sessions     *pgxpool.Pool   // SessionPool; nil without a direct URL
}

// Open connects a pool to url and checks that the database answers.
func Open(ctx context.Context, url string, opt Options) (*Store, error) {
	if opt.ConnectTimeout <= 0 {
		opt.ConnectTimeout = 2 * time.Second
	}
	if opt.QueryTimeout <= 0 {
		// Short enough that a request fails within a few seconds while the database is
		// unreachable; every query of a request is an indexed lookup or a bounded page.
		opt.QueryTimeout = 2 * time.Second
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("invalid database URL: %w", err)
	}
	cfg.ConnConfig.ConnectTimeout = opt.ConnectTimeout
	switch {
	case opt.MaxConns > 0:
		cfg.MaxConns = opt.MaxConns
	case !strings.Contains(url, "pool_max_conns"):
		// pgx's default (4 on two cores) queues requests behind each other under load; the
		// server copes with more, and each request holds a connection only for its queries.
		cfg.MaxConns = defaultMaxConns
	}
	pingCtx, cancel := context.WithTimeout(ctx, opt.ConnectTimeout+opt.QueryTimeout)
	defer cancel()
	pooled, err := probe(pingCtx, cfg.ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("database unreachable: %w", err)
	}
	if pooled && !explicitExecMode(url) {
		// A pooler in transaction mode may run a statement's execution on another server
		// connection than its preparation: cache only the statements' descriptions, and send
		// each query whole (PgBouncer before 1.21 carries no prepared statements).
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	}
	var direct *pgx.ConnConfig
	if opt.DirectURL != "" {
		if direct, err = openDirect(ctx, opt.DirectURL, opt); err != nil {
			return nil, err
		}
	}
	sessions, err := openSessions(url, pooled, opt)
	if err != nil {
		return nil, err
	}
	if opt.Budget > 0 {
		cfg.MaxConns = PoolConns(opt.Budget, sessions != nil)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		closePool(sessions)
		return nil, fmt.Errorf("database: %w", err)
	}
	return &Store{Pool: pool, Repos: newRepos(pool, opt.QueryTimeout), queryTimeout: opt.QueryTimeout,
		pooled: pooled, direct: direct, sessions: sessions}, nil
}

// Close closes the pool.
func (s *Store) Close() {
	s.Pool.Close()
	closePool(s.sessions)
}

func closePool(p *pgxpool.Pool) {
	if p != nil {
		p.Close()
	}
}

// InTx runs fn in one transaction, committing when it returns nil and rolling back otherwise.
// fn gets the repositories bound to the transaction. Unless ctx already has a deadline, the
// whole transaction is bounded by the query timeout. Its error is translated like any call's.
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	return inTx(ctx, s.Pool, s.queryTimeout, fn)
}

// inTx runs fn in a transaction begun on db.
func inTx(ctx context.Context, db interface {
	Begin(context.Context) (pgx.Tx, error)
}, timeout time.Duration, fn func(tx *Tx) error) error {
	ctx, cancel := bound(ctx, timeout)
	defer cancel()
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		return fn(&Tx{Repos: newRepos(tx, timeout), tx: tx})
	})
	return translate(err)
}

// QueryTimeout is the budget of a call, or of a transaction, whose context has no deadline.
func (s *Store) QueryTimeout() time.Duration { return s.queryTimeout }

// Ping checks that the database answers within the query timeout.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := bound(ctx, s.queryTimeout)
	defer cancel()
	return translate(s.Pool.Ping(ctx))
}

// bound gives ctx the timeout unless it already has a deadline (the purge's batches bring
// their own, longer one).
func bound(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, timeout)
}
