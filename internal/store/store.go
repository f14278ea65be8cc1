// Package store owns the PostgreSQL connection pool, the transaction helper, the embedded
// migrations and the classification of database errors. The sqlc-generated queries live in
// store/dbsqlc and are used only by the packages that implement the product's logic.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"fileshare/internal/store/dbsqlc"
)

// ErrUnavailable reports that the database could not be reached or did not answer in time.
var ErrUnavailable = errors.New("database unavailable")

// Options tune the pool.
type Options struct {
	// ConnectTimeout bounds how long opening one connection may take.
	ConnectTimeout time.Duration
	// QueryTimeout bounds every database call made through Ctx.
	QueryTimeout time.Duration
	// MaxConns caps the pool; 0 keeps the URL's pool_max_conns, else defaultMaxConns.
	MaxConns int32
}

// defaultMaxConns is the pool size unless the URL sets pool_max_conns.
const defaultMaxConns = 16

// Store is the database handle shared by the services.
type Store struct {
	Pool *pgxpool.Pool
	Q    *dbsqlc.Queries

	queryTimeout time.Duration
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
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, opt.ConnectTimeout+opt.QueryTimeout)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database unreachable: %w", err)
	}
	return &Store{Pool: pool, Q: dbsqlc.New(), queryTimeout: opt.QueryTimeout}, nil
}

// Close closes the pool.
func (s *Store) Close() { s.Pool.Close() }

// Ctx bounds the database work done under the returned context, so that a request never hangs
// on an unreachable database.
func (s *Store) Ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.queryTimeout)
}

// InTx runs fn in a transaction, committing when it returns nil and rolling back otherwise.
func (s *Store) InTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.Pool, fn)
}

// Ping checks that the database answers within the query timeout.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.Ctx(ctx)
	defer cancel()
	return s.Pool.Ping(ctx)
}

// IsNotFound reports whether err is a query that found no row.
func IsNotFound(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// IsUniqueViolation reports whether err is a unique constraint violation.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// IsForeignKeyViolation reports whether err is a foreign key violation, as when a row's parent
// is deleted concurrently.
func IsForeignKeyViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23503"
}

// IsUnavailable reports whether err means the database could not be reached or did not answer
// in time, as opposed to a query that failed on its own.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code[:2] == "08", // connection exception
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutdown, cannot connect now
			pgErr.Code == "53300": // too many connections
			return true
		}
		return false
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) || pgconn.Timeout(err) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, pgx.ErrTxClosed)
}

// OutcomeUnknown reports whether a statement or commit that failed with err may nevertheless
// have taken effect: the connection was lost, or the call timed out or was cancelled, after the
// request may have reached the database. Whatever such a change makes visible (a row that names
// a blob) must then be kept; the orphan sweep removes it if the change did not happen.
func OutcomeUnknown(err error) bool {
	var pgErr *pgconn.PgError
	if err == nil || errors.As(err, &pgErr) || pgconn.SafeToRetry(err) {
		return false // refused by the server (so rolled back), or never sent
	}
	return IsUnavailable(err) || errors.Is(err, context.Canceled)
}
