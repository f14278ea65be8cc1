package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"fileshare/internal/store/internal/dbsqlc"
)

// executor is the dbsqlc.DBTX every generated query runs on: a pool or a transaction, with
// each call bounded by the query timeout (unless its context has a deadline already) and its
// errors translated. It is where a database error becomes one of this package's errors.
type executor struct {
	db      dbsqlc.DBTX
	timeout time.Duration
}

func (e executor) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	ctx, cancel := bound(ctx, e.timeout)
	defer cancel()
	tag, err := e.db.Exec(ctx, sql, args...)
	return tag, translate(err)
}

func (e executor) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	ctx, cancel := bound(ctx, e.timeout)
	rows, err := e.db.Query(ctx, sql, args...)
	if err != nil {
		cancel()
		return nil, translate(err)
	}
	return &boundRows{Rows: rows, cancel: cancel}, nil
}

func (e executor) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	ctx, cancel := bound(ctx, e.timeout)
	return boundRow{row: e.db.QueryRow(ctx, sql, args...), cancel: cancel}
}

// boundRow releases its call's timeout once scanned.
type boundRow struct {
	row    pgx.Row
	cancel context.CancelFunc
}

func (r boundRow) Scan(dest ...any) error {
	defer r.cancel()
	return translate(r.row.Scan(dest...))
}

// boundRows releases its call's timeout once closed.
type boundRows struct {
	pgx.Rows
	cancel context.CancelFunc
}

func (r *boundRows) Scan(dest ...any) error { return translate(r.Rows.Scan(dest...)) }

func (r *boundRows) Err() error { return translate(r.Rows.Err()) }

func (r *boundRows) Close() {
	r.Rows.Close()
	r.cancel()
}
