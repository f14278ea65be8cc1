package share

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/store"
)

// A resumable upload's lease (docs/behaviour.md §11.4). The request that writes an upload
// (PATCH, the body of a creation, a termination) holds its lease, a row's columns that name it
// until a time of the database's clock, and renews it every tusLeaseRenewal while it works.
// No connection is held meanwhile: each statement takes one from the pool for its own length.
//
// A request that finds the lease held asks its holder to give it up, and waits a little. The
// holder sees the request at its next renewal; when its client's body has brought nothing for
// tusStalled (the connection is dead, or the client moved on), it stops reading as if the client
// had gone away, records the bytes that came in, and releases the lease. So a client whose
// connection broke without its server noticing resumes at once (HEAD, then PATCH), on any
// instance. A holder whose bytes still flow keeps its upload: a concurrent PATCH is the loser
// (423, nothing written), and never cuts a live upload short. A holder whose instance died releases nothing: its lease runs out after
// tusLeaseTTL, and until then the upload answers 423.
//
// Fencing: every change of the upload is conditional on the lease (store.TusByID), and a holder
// stops writing as soon as a renewal shows its lease lost, or when none has confirmed it for
// tusLeaseUnconfirmed — well before another request may take it.

const (
	// tusLeaseTTL is how long a lease lasts unless renewed.
	tusLeaseTTL = 10 * time.Second
	// tusLeaseRenewal is how often a holder renews its lease, and so how soon it sees that
	// another request asks for the upload.
	tusLeaseRenewal = time.Second
	// tusLeaseUnconfirmed: a holder whose lease no renewal confirmed for this long stops
	// writing, since it cannot know that it still holds it.
	tusLeaseUnconfirmed = tusLeaseTTL / 2
	// tusTakeoverWait bounds how long a request waits for a holder to give an upload up; then
	// it answers ErrTusLocked. tusTakeoverPoll is how often it looks meanwhile.
	tusTakeoverWait = 3 * time.Second
	tusTakeoverPoll = 100 * time.Millisecond
	// tusStalled: a holder asked for its upload gives it up once its client's body has
	// brought nothing for this long. Seen at a renewal, so within tusStalled+tusLeaseRenewal
	// of the last byte, inside tusTakeoverWait.
	tusStalled = time.Second
)

// The states of a lease, in the order they can follow each other.
const (
	leaseHeld  int32 = iota
	leaseAsked       // another request asks for the upload
	leaseLost        // renewal showed it lost, or could not confirm it in time
)

// tusLease is a lease a request holds.
type tusLease struct {
	s          *Service
	id, holder uuid.UUID
	// interrupt makes a read of the client's body in progress end (TusChunk.Stop); nil when the
	// request reads none.
	interrupt func()
	state     atomic.Int32
	// base and confirmed (since base) are when the last statement that confirmed the lease was
	// sent, on the monotonic clock.
	base      time.Time
	confirmed atomic.Int64
	// lastRead (since base) is when the client's body last brought bytes, or when the lease
	// was taken.
	lastRead atomic.Int64
	quit     chan struct{}
	done     chan struct{}
}

// takeTus takes upload id's lease, asking its holder to give it up and waiting up to
// tusTakeoverWait for that (ErrTusLocked then); ErrUploadNotFound when there is no such upload.
// The lease is renewed until release; interrupt (may be nil) is called when the request must
// stop reading its client's body.
func (s *Service) takeTus(ctx context.Context, id uuid.UUID, interrupt func()) (*tusLease, error) {
	l := &tusLease{
		s: s, id: id, holder: uuid.New(), interrupt: interrupt, base: time.Now(),
		quit: make(chan struct{}), done: make(chan struct{}),
	}
	err := awaitTus(ctx, func() (bool, error) {
		sent := time.Since(l.base)
		taken, err := s.st.TusByID().TakeLease(ctx, id, l.holder, tusLeaseTTL)
		l.confirmed.Store(int64(sent))
		return taken, err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUploadNotFound
	}
	if err != nil {
		return nil, err
	}
	l.lastRead.Store(int64(time.Since(l.base)))
	go l.renew()
	return l, nil
}

// awaitTusRelease asks the holder of upload id's lease, if any, to give it up, and waits up to
// tusTakeoverWait until it did (ErrTusLocked then), without taking the lease.
func (s *Service) awaitTusRelease(ctx context.Context, id uuid.UUID) error {
	return awaitTus(ctx, func() (bool, error) {
		held, err := s.st.TusByID().AskRelease(ctx, id)
		return !held, err
	})
}

// awaitTus calls try every tusTakeoverPoll until it reports done or fails, for at most
// tusTakeoverWait: ErrTusLocked then.
func awaitTus(ctx context.Context, try func() (bool, error)) error {
	deadline := time.Now().Add(tusTakeoverWait)
	for {
		done, err := try()
		if err != nil || done {
			return err
		}
		if time.Now().Add(tusTakeoverPoll).After(deadline) {
			return ErrTusLocked
		}
		t := time.NewTimer(tusTakeoverPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// renew renews the lease every tusLeaseRenewal until release, and gives the upload up when
// another request asks for it or the lease is lost.
func (l *tusLease) renew() {
	defer close(l.done)
	tick := time.NewTicker(tusLeaseRenewal)
	defer tick.Stop()
	for {
		select {
		case <-l.quit:
			return
		case <-tick.C:
		}
		sent := time.Since(l.base)
		ctx, cancel := context.WithTimeout(context.Background(), tusLeaseRenewal)
		asked, err := l.s.st.TusByID().RenewLease(ctx, l.id, l.holder, tusLeaseTTL)
		cancel()
		switch {
		case errors.Is(err, store.ErrNotFound):
			l.giveUp(leaseLost)
			return
		case err != nil:
			l.s.log.Debug("renewing a tus upload's lease failed; trying again", "err", err)
			if !l.fresh() {
				l.s.log.Warn("a tus upload's lease could not be renewed in time; its request stops writing", "err", err)
				l.giveUp(leaseLost)
				return
			}
		default:
			l.confirmed.Store(int64(sent))
			if asked && l.stalled() {
				l.giveUp(leaseAsked)
			}
		}
	}
}

// stalled reports whether the request reads no body, or its client's body has brought nothing
// for tusStalled.
func (l *tusLease) stalled() bool {
	return l.interrupt == nil || time.Since(l.base)-time.Duration(l.lastRead.Load()) >= tusStalled
}

// fresh reports whether a statement sent less than tusLeaseUnconfirmed ago confirmed the lease.
func (l *tusLease) fresh() bool {
	return time.Since(l.base)-time.Duration(l.confirmed.Load()) < tusLeaseUnconfirmed
}

// giveUp moves the lease to state (unless it is there or beyond already) and interrupts the
// reading of the client's body.
func (l *tusLease) giveUp(state int32) {
	for {
		cur := l.state.Load()
		if cur >= state {
			return
		}
		if l.state.CompareAndSwap(cur, state) {
			break
		}
	}
	if l.interrupt != nil {
		l.interrupt()
	}
}

// lost reports whether the holder must not record anything more: the lease is gone, or may be.
func (l *tusLease) lost() bool {
	if l.state.Load() != leaseLost && !l.fresh() {
		l.giveUp(leaseLost)
	}
	return l.state.Load() == leaseLost
}

// release stops the renewals and gives the lease back. A release that fails leaves the lease
// to run out.
func (l *tusLease) release() {
	close(l.quit)
	<-l.done
	ctx, cancel := context.WithTimeout(context.Background(), l.s.st.QueryTimeout())
	defer cancel()
	if err := l.s.st.TusByID().ReleaseLease(ctx, l.id, l.holder); err != nil {
		l.s.log.Warn("releasing a tus upload's lease failed; it runs out on its own", "err", err)
	}
}

// body is r, read while the request may go on: once another request asked for the upload, it
// ends (with what it read last) with ErrTusLocked, and once the lease is lost, at once.
func (l *tusLease) body(r io.Reader) io.Reader { return &leasedReader{r: r, l: l} }

type leasedReader struct {
	r io.Reader
	l *tusLease
}

func (r *leasedReader) Read(p []byte) (int, error) {
	if r.l.lost() || r.l.state.Load() != leaseHeld {
		return 0, ErrTusLocked
	}
	n, err := r.r.Read(p)
	if n > 0 {
		r.l.lastRead.Store(int64(time.Since(r.l.base)))
	}
	switch {
	case r.l.lost():
		return 0, ErrTusLocked
	case r.l.state.Load() != leaseHeld:
		return n, ErrTusLocked
	}
	return n, err
}
