package coherence

// The deleting side of the rules: a change tags its transaction, so that every session
// acknowledges its announcement, and waits for those acknowledgements (at most one lease).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/store"
)

// Change is a deletion (or any change of cached rows) that waits for the caches: Begin before
// the transaction, Tag inside it, Wait after its commit, Done in the end.
type Change struct {
	b     *Bus
	nonce string
	w     *waiter
}

// Begin starts a change; on a nil Bus (no caches anywhere) it does nothing.
func (b *Bus) Begin() *Change {
	if b == nil {
		return nil
	}
	var r [16]byte
	_, _ = rand.Read(r[:])
	c := &Change{b: b, nonce: hex.EncodeToString(r[:]), w: &waiter{acked: map[uuid.UUID]bool{}, wake: make(chan struct{}, 1)}}
	b.mu.Lock()
	b.waiters[c.nonce] = c.w
	b.mu.Unlock()
	return c
}

// Tag marks the transaction tx, so that the announcements of its changes carry this change's
// nonce and are acknowledged.
func (c *Change) Tag(ctx context.Context, tx *store.Tx) error {
	if c == nil {
		return nil
	}
	return tx.Cache().TagChange(ctx, c.nonce)
}

// Wait returns once every session that held a lease after the commit has acknowledged the
// change or lost its lease: from then on, no instance serves what the change removed. It
// waits at most one lease.
func (c *Change) Wait(ctx context.Context) error {
	if c == nil {
		return nil
	}
	limit := time.NewTimer(c.b.lease)
	defer limit.Stop()
	live, err := c.b.st.Cache().LiveSessions(ctx)
	if err != nil {
		// Not knowing who listens, wait until any lease granted before the commit is over.
		c.b.log.Warn("cache sessions unknown; a deletion waits for the leases to run out", "err", err)
		select {
		case <-limit.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	poll := time.NewTicker(stillLivePoll)
	defer poll.Stop()
	for {
		live = c.unacked(live)
		if len(live) == 0 {
			return nil
		}
		select {
		case <-c.w.wake:
		case <-poll.C:
			if still, err := c.b.st.Cache().StillLive(ctx, live); err == nil {
				live = still
			}
		case <-limit.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *Change) unacked(sessions []uuid.UUID) []uuid.UUID {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	out := sessions[:0]
	for _, s := range sessions {
		if !c.w.acked[s] {
			out = append(out, s)
		}
	}
	return out
}

// Barrier returns once every live session has applied the announcements of all the changes
// committed before it was called: an announcement of its own, which sessions receive in
// commit order, is acknowledged by each.
func (b *Bus) Barrier(ctx context.Context) error {
	c := b.Begin()
	defer c.Done()
	if err := b.st.Cache().Notify(ctx, Channel, "inv "+c.nonce+" "); err != nil {
		return err
	}
	return c.Wait(ctx)
}

// Done forgets the change.
func (c *Change) Done() {
	if c == nil {
		return
	}
	c.b.mu.Lock()
	delete(c.b.waiters, c.nonce)
	c.b.mu.Unlock()
}
