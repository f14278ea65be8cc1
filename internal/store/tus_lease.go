package store

import (
	"context"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/store/internal/dbsqlc"
)

// A resumable upload's lease (docs/behaviour.md §11.4): the request that writes the upload
// holds it in the upload's row, named by a random holder id, until a time the database's clock
// decides. Each of its statements takes a connection of the pool only for its own length, so a
// request that waits for its client's bytes holds no connection; it renews the lease while it
// works and releases it at its end. Every change of the upload (TusByID's Advance, Complete,
// Delete) is conditional on the lease.

// TakeLease takes the lease of upload id for holder, for ttl: true when taken, false when
// another request holds it, which is then asked to give it up (it sees that when it renews).
// ErrNotFound when there is no such upload.
func (t TusByID) TakeLease(ctx context.Context, id, holder uuid.UUID, ttl time.Duration) (bool, error) {
	return t.q.TusLeaseTake(ctx, dbsqlc.TusLeaseTakeParams{ID: id, Holder: holder, TtlMs: ttl.Milliseconds()})
}

// RenewLease extends holder's lease by ttl, and reports whether another request asks for the
// upload. ErrNotFound when holder lost the lease (it ran out and another request took it), or
// the upload is gone.
func (t TusByID) RenewLease(ctx context.Context, id, holder uuid.UUID, ttl time.Duration) (releaseRequested bool, err error) {
	return t.q.TusLeaseRenew(ctx, dbsqlc.TusLeaseRenewParams{ID: id, Holder: holder, TtlMs: ttl.Milliseconds()})
}

// ReleaseLease gives holder's lease back; nothing when holder no longer holds it.
func (t TusByID) ReleaseLease(ctx context.Context, id, holder uuid.UUID) error {
	return t.q.TusLeaseRelease(ctx, dbsqlc.TusLeaseReleaseParams{ID: id, Holder: holder})
}

// AskRelease asks the holder of upload id's lease to give it up, without taking it; false when
// nobody holds it (or there is no such upload).
func (t TusByID) AskRelease(ctx context.Context, id uuid.UUID) (bool, error) {
	n, err := t.q.TusLeaseAsk(ctx, id)
	return n > 0, err
}
