// Package coherence lets every instance keep rows that never change in memory — the metadata
// of simple uploads, read by every download — while a deletion, made on any instance, still
// takes effect on all of them before it is answered (docs/behaviour.md §13).
//
// The rules, each needed for that promise:
//
//   - Every change of an upload row that a cache could still serve is announced by a trigger
//     in PostgreSQL (NOTIFY, sent when the transaction commits), whoever makes it.
//   - Each instance listens on a connection of its own. Every listening session registers
//     under a fresh id with a lease that it renews each second on that same connection, and
//     it serves from its memory only while its lease holds: a session that stops hearing from
//     PostgreSQL stops serving from memory before its lease runs out.
//   - PostgreSQL delivers a notification before the answer of any statement that began after
//     the notifying commit, so a renewal that follows a deletion brings its announcement with
//     it; the announcement is applied before the lease is extended.
//   - A fill (a row read from the database, then kept) is dropped when an invalidation was
//     applied while it was being read.
//   - The deleting request, after its commit, waits until every session with a live lease has
//     acknowledged the announcement, or has lost its lease; whatever happens, one lease after
//     the commit no session can still serve what was deleted.
package coherence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/lifecycle"
	"fileshare/internal/lifecycle/testsignal"
	"fileshare/internal/store"
)

// Channel is the PostgreSQL notification channel of announcements and acknowledgements.
const Channel = "fileshare_cache"

const (
	// defaultLease is how long a session may serve from memory after a renewal began, and so
	// the longest a deletion waits for a session that stopped answering.
	defaultLease = 5 * time.Second
	// defaultRenew is how often a session renews its lease.
	defaultRenew = time.Second
	// leaseMargin is taken off the lease on the instance's side, for the time a renewal takes
	// to reach the database.
	leaseMargin = 500 * time.Millisecond
	// stillLivePoll is how often a waiting deletion checks whether the sessions it waits for
	// still hold their leases.
	stillLivePoll = 250 * time.Millisecond
)

// Options tune a Bus; zero values take the defaults.
type Options struct {
	Lease time.Duration
	Renew time.Duration
}

// Bus is an instance's end of the announcements: it keeps the instance's listening session
// and lease, applies invalidations to its caches, acknowledges them, and collects the
// acknowledgements of its own deletions. It is a background worker: until Start, and after
// Stop, nothing is served from memory.
type Bus struct {
	lifecycle.Runner
	// TestSignals are the points of the session that tests wait for (off unless Init).
	TestSignals TestSignals

	st    *store.Store
	log   *slog.Logger
	lease time.Duration
	renew time.Duration
	base  time.Time // origin of the monotonic clock readings below
	// listen is the channel the session listens on: Channel, which its announcements,
	// acknowledgements and heartbeats are sent on (tests listen elsewhere, to be deaf).
	listen string

	validUntil atomic.Int64 // nanoseconds since base; the session's lease as this side sees it
	skew       atomic.Int64 // the database's clock minus ours, nanoseconds (an estimate)
	heard      atomic.Value // the last heartbeat this instance heard ("beat SESSION N")

	mu      sync.Mutex
	caches  []invalidator
	waiters map[string]*waiter
}

// TestSignals are the points of a listening session that a test can wait for.
type TestSignals struct {
	// Renewed is signalled after each renewal of the lease, with whether the session may
	// serve from memory since.
	Renewed testsignal.Signal[bool]
}

// Init turns the signals on; call it before Start.
func (s *TestSignals) Init() { s.Renewed.Init() }

type invalidator interface {
	invalidate(ids []uuid.UUID, all bool)
}

type waiter struct {
	acked map[uuid.UUID]bool
	wake  chan struct{}
}

// New returns a Bus on st; Start makes it work.
func New(st *store.Store, log *slog.Logger, opt Options) *Bus {
	if opt.Lease <= 0 {
		opt.Lease = defaultLease
	}
	if opt.Renew <= 0 {
		opt.Renew = defaultRenew
	}
	return &Bus{Runner: lifecycle.Runner{Name: "coherence"}, st: st, log: log, lease: opt.Lease, renew: opt.Renew, base: time.Now(), listen: Channel, waiters: map[string]*waiter{}}
}

func (b *Bus) mono() int64 { return int64(time.Since(b.base)) }

// Serving reports whether the instance may answer from its caches now.
func (b *Bus) Serving() bool {
	return b != nil && b.mono() < b.validUntil.Load()
}

// DBNow estimates the database's clock, which decides expiry.
func (b *Bus) DBNow() time.Time {
	if b == nil {
		return time.Now()
	}
	return time.Now().Add(time.Duration(b.skew.Load()))
}

// Start keeps a listening session, in the background, until Stop or the end of ctx, opening a
// new one whenever the last was lost. Between sessions nothing is served from memory. Stop
// returns once the session has ended (its row deleted, so that no deletion waits for it).
func (b *Bus) Start(ctx context.Context) error {
	return b.Runner.Start(ctx, func(ctx context.Context, g *lifecycle.Group) error {
		g.Go(b.run)
		return nil
	})
}

func (b *Bus) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	var last uuid.UUID // a session whose row may be left (its connection was lost)
	for {
		began := time.Now()
		err := b.session(ctx, &last)
		b.stopServing()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, store.ErrNoSession) {
			// Behind a pooler without a direct URL there is nothing to listen with, and a
			// deaf session would make every deletion wait for it: none is kept.
			b.log.Warn("cache coherence off: serving downloads from the database", "err", err)
			<-ctx.Done()
			return
		}
		b.log.Warn("cache coherence session lost; serving downloads from the database until it is back", "err", err)
		if time.Since(began) > time.Minute {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (b *Bus) stopServing() {
	b.validUntil.Store(0)
	b.invalidate(nil, true)
}

func (b *Bus) invalidate(ids []uuid.UUID, all bool) {
	b.mu.Lock()
	caches := b.caches
	b.mu.Unlock()
	for _, c := range caches {
		c.invalidate(ids, all)
	}
}

// session listens, registers a fresh session and keeps its lease until ctx ends or the
// connection fails. *last is the previous session, if its row may still be there: it served
// nothing since it was lost, so its row goes at once rather than holding deletions up until
// its lease runs out.
func (b *Bus) session(ctx context.Context, last *uuid.UUID) error {
	l, err := b.st.Listen(ctx, b.listen)
	if err != nil {
		return err
	}
	defer l.Close()
	// Whatever was kept before this session listened may have been deleted unheard.
	b.stopServing()
	if *last != uuid.Nil {
		if err := l.Cache.EndSession(ctx, *last); err != nil {
			return err
		}
		*last = uuid.Nil
	}
	id := uuid.New()
	*last = id
	defer func() {
		b.stopServing()
		end, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if l.Cache.EndSession(end, id) == nil {
			*last = uuid.Nil
		}
	}()
	if err := l.Cache.SweepSessions(ctx); err != nil {
		return err
	}
	var beats int
	for {
		start := b.mono()
		// A heartbeat that this session must hear, sent the way deletions are announced: on
		// the pool, not on the listening connection. Only a session that hears what the
		// pool commits may serve from memory; one that does not (a listening connection
		// that lost its LISTEN, or that reaches another database than the pool) serves
		// nothing. A heartbeat that cannot be sent is one not heard.
		beats++
		beat := fmt.Sprintf("beat %s %d", id, beats)
		beatErr := b.st.Cache().Notify(ctx, Channel, beat)
		sent := time.Now()
		dbNow, err := l.Cache.RenewSession(ctx, id, b.lease)
		if err != nil {
			return err
		}
		rtt := time.Since(sent)
		b.skew.Store(int64(dbNow.Sub(sent.Add(rtt / 2))))
		// What was committed before the renewal began — the heartbeat among it — came with
		// its answer: applied before the lease is extended.
		if err := b.apply(ctx, l, id, time.Time{}); err != nil {
			return err
		}
		if beatErr == nil && b.heard.Load() == beat {
			b.validUntil.Store(start + int64(b.lease-leaseMargin))
		} else {
			if b.Serving() || beats == 1 {
				b.log.Warn("cache coherence: the listening connection does not hear the notifications sent on the pool; serving downloads from the database", "err", beatErr)
			}
			b.stopServing()
		}
		b.TestSignals.Renewed.Signal(b.Serving())
		if err := b.apply(ctx, l, id, time.Now().Add(b.renew)); err != nil {
			return err
		}
	}
}

// apply applies notifications as they arrive until the deadline; with a deadline passed, only
// those already received.
func (b *Bus) apply(ctx context.Context, l *store.Listener, id uuid.UUID, deadline time.Time) error {
	for {
		wctx, cancel := context.WithDeadline(ctx, deadline)
		n, err := l.Wait(wctx)
		cancel()
		if errors.Is(err, store.ErrNoNotification) {
			return ctx.Err()
		}
		if err != nil {
			return err
		}
		if err := b.handle(ctx, l, id, n.Payload); err != nil {
			return err
		}
	}
}

// handle applies one notification: "inv NONCE IDS" invalidates (and is acknowledged when a
// deletion waits for it), "ack NONCE SESSION" is a session's acknowledgement.
func (b *Bus) handle(ctx context.Context, l *store.Listener, self uuid.UUID, payload string) error {
	kind, rest, _ := strings.Cut(payload, " ")
	nonce, arg, _ := strings.Cut(rest, " ")
	switch kind {
	case "inv":
		ids, all := parseIDs(arg)
		b.invalidate(ids, all)
		if nonce != "-" && nonce != "" {
			return l.Notify(ctx, Channel, "ack "+nonce+" "+self.String())
		}
	case "beat":
		// "beat SESSION N": every session hears every beat, and keeps its own.
		if nonce == self.String() {
			b.heard.Store(payload)
		}
	case "ack":
		session, err := uuid.Parse(arg)
		if err != nil {
			return nil
		}
		b.mu.Lock()
		if w := b.waiters[nonce]; w != nil {
			w.acked[session] = true
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
		b.mu.Unlock()
	}
	return nil
}

// parseIDs reads a comma-separated list of ids; "*", or anything unreadable, means all.
func parseIDs(s string) (ids []uuid.UUID, all bool) {
	if s == "" {
		return nil, false
	}
	for part := range strings.SplitSeq(s, ",") {
		id, err := uuid.Parse(part)
		if err != nil {
			return nil, true
		}
		ids = append(ids, id)
	}
	return ids, false
}
