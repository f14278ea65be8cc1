package store

import (
	"context"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/store/internal/dbsqlc"
)

// Cache keeps the listening sessions of the instances that cache upload rows, and carries
// their announcements (package coherence). It concerns no tenant's data.
type Cache struct{ q *dbsqlc.Queries }

// Cache is cache coherence's.
func (r Repos) Cache() Cache { return Cache(r) }

// RenewSession registers or renews a listening session's lease and returns the database's
// clock.
func (c Cache) RenewSession(ctx context.Context, id uuid.UUID, lease time.Duration) (time.Time, error) {
	return c.q.CacheSessionRenew(ctx, dbsqlc.CacheSessionRenewParams{ID: id, LeaseMs: lease.Milliseconds()})
}

// EndSession removes a listening session.
func (c Cache) EndSession(ctx context.Context, id uuid.UUID) error {
	return c.q.CacheSessionEnd(ctx, id)
}

// SweepSessions removes the sessions whose lease ran out a minute ago.
func (c Cache) SweepSessions(ctx context.Context) error {
	return c.q.CacheSessionSweep(ctx)
}

// LiveSessions returns the sessions whose lease holds.
func (c Cache) LiveSessions(ctx context.Context) ([]uuid.UUID, error) {
	return c.q.CacheSessionsLive(ctx)
}

// StillLive returns those of ids whose lease still holds.
func (c Cache) StillLive(ctx context.Context, ids []uuid.UUID) ([]uuid.UUID, error) {
	return c.q.CacheSessionsStillLive(ctx, ids)
}

// TagChange tags the transaction's announcements of changed uploads with nonce, for the
// acknowledgements.
func (c Cache) TagChange(ctx context.Context, nonce string) error {
	return c.q.CacheNonceSet(ctx, nonce)
}

// Notify sends payload on channel (when the transaction, if any, commits).
func (c Cache) Notify(ctx context.Context, channel, payload string) error {
	return c.q.CacheNotify(ctx, dbsqlc.CacheNotifyParams{Channel: channel, Payload: payload})
}
