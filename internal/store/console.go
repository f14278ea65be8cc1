package store

import (
	"context"
	"time"

	"fileshare/internal/store/internal/dbsqlc"
)

// ConsoleSessions are the signed-in sessions of the browser console, found by the hash of
// their random id (the cookie): like the other …ByHash lookups, the secret is the authority,
// and the user (with its tenant) is what it names.
type ConsoleSessions struct{ q *dbsqlc.Queries }

// ConsoleSessions is the console's.
func (r Repos) ConsoleSessions() ConsoleSessions { return ConsoleSessions(r) }

// NewConsoleSession is a session to insert.
type NewConsoleSession struct {
	IDHash []byte
	UserID int64
	// AppPasswordID is the application password the user signed in with; nil for the password.
	AppPasswordID *int64
	TTL           time.Duration
	// MaxPerUser bounds the sessions a user keeps: the oldest go.
	MaxPerUser int
}

// Create inserts a session and returns its expiry; the user's ended sessions, and its oldest
// past MaxPerUser, go in the same statement.
func (s ConsoleSessions) Create(ctx context.Context, in NewConsoleSession) (time.Time, error) {
	return s.q.ConsoleSessionCreate(ctx, dbsqlc.ConsoleSessionCreateParams{
		IDHash: in.IDHash, UserID: in.UserID, AppPasswordID: in.AppPasswordID,
		TtlSeconds: seconds(in.TTL), MaxSessions: int32(in.MaxPerUser),
	})
}

// ConsoleUser is the user of a live console session.
type ConsoleUser struct {
	UserID, TenantID int64
	UserName, Tenant string
	AppPasswordID    *int64
	ExpiresAt        time.Time
	Limits
}

// Lookup finds the user of the live session whose id hashes to idHash: ErrNotFound when the
// session has ended, or its user is disabled, deleted, or has changed the password it signed
// in with.
func (s ConsoleSessions) Lookup(ctx context.Context, idHash []byte) (ConsoleUser, error) {
	r, err := s.q.ConsoleSessionLookup(ctx, idHash)
	if err != nil {
		return ConsoleUser{}, err
	}
	return ConsoleUser{
		UserID: r.UserID, TenantID: r.TenantID, UserName: r.UserName, Tenant: r.TenantName,
		AppPasswordID: r.AppPasswordID, ExpiresAt: r.ExpiresAt,
		Limits: Limits{MaxBytes: r.MaxBytes, MaxFileBytes: r.MaxFileBytes},
	}, nil
}

// Delete ends a session (sign-out).
func (s ConsoleSessions) Delete(ctx context.Context, idHash []byte) error {
	_, err := s.q.ConsoleSessionDelete(ctx, idHash)
	return err
}
