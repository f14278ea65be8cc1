package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"fileshare/internal/store"
)

// TestOutcomeUnknown: only a failure that may have happened after the database received the
// statement leaves its outcome unknown (and so its blob kept); an answer of the server, a row
// that did not match, or a domain error of the caller's own are known failures.
func TestOutcomeUnknown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"server error", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "23505"}), false},
		{"server shutting down", &pgconn.PgError{Code: "57P01"}, false},
		{"no rows", fmt.Errorf("store: %w", pgx.ErrNoRows), false},
		{"domain error", errors.New("upload token already used or expired"), false},
		{"timeout", fmt.Errorf("commit: %w", context.DeadlineExceeded), true},
		{"cancelled", fmt.Errorf("commit: %w", context.Canceled), true},
		{"connection lost", fmt.Errorf("commit: %w", io.ErrUnexpectedEOF), true},
	} {
		if got := store.OutcomeUnknown(tc.err); got != tc.want {
			t.Errorf("%s: OutcomeUnknown(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
