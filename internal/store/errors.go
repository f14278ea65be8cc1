package store

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The errors a database call returns in place of the driver's. The driver's error stays in
// the chain (errors.As still finds a *pgconn.PgError), so OutcomeUnknown can look at it.
var (
	// ErrNotFound: the query matched no row.
	ErrNotFound = errors.New("no such row")
	// ErrConflict: a unique constraint refused the row.
	ErrConflict = errors.New("unique constraint violated")
	// ErrReferenceMissing: a foreign key refused the row, as when its parent was deleted
	// concurrently.
	ErrReferenceMissing = errors.New("referenced row missing")
	// ErrUnavailable: the database could not be reached or did not answer in time.
	ErrUnavailable = errors.New("database unavailable")
)

// dbError is a driver error with the kind it was translated to.
type dbError struct {
	kind error
	err  error
}

func (e *dbError) Error() string        { return e.kind.Error() + ": " + e.err.Error() }
func (e *dbError) Unwrap() error        { return e.err }
func (e *dbError) Is(target error) bool { return target == e.kind }

// translate turns a driver error into one of the errors above, wrapping it; other errors
// (the caller's own, returned from an InTx callback) pass unchanged.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var done *dbError
	if errors.As(err, &done) {
		return err
	}
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return &dbError{ErrNotFound, err}
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
		return &dbError{ErrConflict, err}
	case errors.As(err, &pgErr) && pgErr.Code == "23503":
		return &dbError{ErrReferenceMissing, err}
	case unavailable(err):
		return &dbError{ErrUnavailable, err}
	}
	return err
}

// unavailable reports whether err means the database could not be reached or did not answer
// in time, as opposed to a statement that failed on its own.
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
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
		errors.Is(err, net.ErrClosed) || errors.Is(err, pgx.ErrTxClosed) || errors.Is(err, pgconn.ErrConnClosed)
}

// OutcomeUnknown reports whether a statement or commit that failed with err may nevertheless
// have taken effect: the connection was lost, or the call timed out or was cancelled, after the
// request may have reached the database. Whatever such a change makes visible (a row that names
// a blob) must then be kept; the orphan sweep removes it if the change did not happen.
func OutcomeUnknown(err error) bool {
	var pgErr *pgconn.PgError
	if err == nil || errors.As(err, &pgErr) {
		return false // refused by the server, so rolled back
	}
	if pgconn.SafeToRetry(err) && !errors.Is(err, pgconn.ErrConnClosed) {
		// Never sent. A connection found closed is not taken at its word: it may have been
		// closed by the failure of the very statement whose fate is in question.
		return false
	}
	return errors.Is(err, ErrUnavailable) || unavailable(err) || errors.Is(err, context.Canceled)
}
