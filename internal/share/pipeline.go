package share

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/blob"
	"fileshare/internal/store"
)

// The upload pipeline. Every upload, whatever its route, goes the same way:
//
//  1. Stage streams the body into a new blob (temp file, fsync, rename, fsync of the
//     directory: see blob.Store.Put), computing its size and SHA-256, and returns a Pending;
//  2. the caller checks what it must of the content (size, form fields);
//  3. commit runs the one transaction that makes a row name the blob, with the events it
//     reports; from then on the content is visible;
//  4. a Pending that is not committed is discarded: the blob goes at once.
//
// So a blob is either named by a committed row or removed, and the only exception is a
// commit whose answer was lost: the row may exist, so its blob is kept, and the purge's orphan
// sweep removes it later if no row took it.

// Pending is content made durable in the blob store that no row names yet. Its holder must
// commit it or Discard it; Discard after a commit does nothing, so the way to hold one is
//
//	p, err := svc.Stage(…)
//	…
//	defer p.Discard(ctx)
type Pending struct {
	s    *Service
	key  string
	info blob.Info
	done bool
	// hold is the quota held for the content: it goes in the transaction that commits the content, or with Discard — unless keepHold: a resumable
	// upload keeps its hold while it is in progress, whatever happens to one attempt to seal it.
	hold     *hold
	keepHold bool
	// maybeCommitted: its group's commit was sent and may have happened, whatever the error
	// says (a panic), so its blob is never discarded.
	maybeCommitted bool
	// deadline, when not zero, is when its commit's budget ends (the rest of the budget of a
	// group that failed).
	deadline time.Time
}

// Size is the content's length in bytes.
func (p *Pending) Size() int64 { return p.info.Size }

// SHA256 is the content's SHA-256.
func (p *Pending) SHA256() []byte { return p.info.SHA256[:] }

// Stage streams body into a new blob of the given kind, for an upload of the tenant of q. A
// body longer than limit bytes (or than the tenant's largest file) fails with errOver (resp.
// ErrTooLarge), as soon as the limit is passed, or at once when length, the size the client
// announced or -1, says so. The upload holds its bytes before they are stored, whether or not
// its tenant has a quota: all at once when length is known, else as the body streams; past the
// quota the upload fails with ErrQuotaExceeded. A body that ends with an error, such as one cut short, fails: only a
// clean end makes content.
func (s *Service) Stage(ctx context.Context, kind blob.Kind, body io.Reader, length, limit int64, errOver error, q Quota) (*Pending, error) {
	limit, errOver = q.FileLimit(limit, errOver)
	if length > limit {
		return nil, errOver
	}
	// The size limit is checked before quota is held, so that a file over both is too large.
	var r io.Reader = &limitReader{r: body, left: limit, errOver: errOver}
	h := &hold{s: s, id: uuid.New(), tenantID: q.TenantID}
	if length >= 0 {
		if err := h.grow(ctx, length); err != nil {
			return nil, err
		}
	} else {
		r = &holdingReader{ctx: ctx, r: r, h: h}
	}
	key := blob.NewKey(kind)
	info, err := s.blobs.Put(ctx, key, r)
	if err != nil {
		h.release(ctx, err)
		return nil, err
	}
	return &Pending{s: s, key: key, info: info, hold: h}, nil
}

// sealed is content that a resumable upload staged over many requests and sealed into the
// blob under key (see blob.Stager): a Pending like any other from here on. The quota its
// upload held goes with its commit.
func (s *Service) sealed(key string, info blob.Info, h *hold) *Pending {
	return &Pending{s: s, key: key, info: info, hold: h, keepHold: true}
}

// commitFunc makes rows name staged content, in the transaction tx, with the events it
// reports in ev. Its statements run under ctx, the commit's own: not the client's.
type commitFunc func(ctx context.Context, tx *store.Tx, ev *events) error

// commit runs fn, which makes a row name the blob, in one transaction with the events it
// reports (Service.change) and the release of the quota held for the content. The Pending is
// done afterwards: when nothing was committed, the blob is discarded, unless the commit may
// have happened all the same (its answer was lost), since a row must never lose its blob.
//
// A client that went away before the commit was sent has nothing committed: its content is
// discarded and its error is its context's. Once sent, the commit is the service's, not the
// client's: a client that goes away then does not leave its outcome unknown.
func (p *Pending) commit(ctx context.Context, fn commitFunc) error {
	if err := p.cancelled(ctx); err != nil {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	if !p.deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, p.deadline)
		defer cancel()
	}
	_, err := p.s.commitTx(ctx, p.s.st.InTx, []*Pending{p}, fn)
	return p.settle(ctx, err)
}

// commitTx runs fn, which makes rows name the blobs of ps, in one transaction with the events
// it reports and the release of the quota held for ps: the transaction of every commit, of
// one Pending or of a group (batcher). It settles nothing. sent reports that the commit was
// sent (every statement went through): a failure without it committed nothing.
func (s *Service) commitTx(ctx context.Context, inTx txRunner, ps []*Pending, fn commitFunc) (sent bool, err error) {
	committing := func(ctx context.Context, fn func(*store.Tx) error) error {
		return inTx(ctx, func(tx *store.Tx) error {
			err := fn(tx)
			sent = err == nil
			return err
		})
	}
	err = s.changeOn(ctx, committing, func(tx *store.Tx, ev *events) error {
		if err := fn(ctx, tx, ev); err != nil {
			return err
		}
		var holds []uuid.UUID
		for _, p := range ps {
			if p.hold != nil {
				holds = append(holds, p.hold.id)
			}
		}
		if len(holds) == 0 {
			return nil
		}
		return tx.HoldsByID().ReleaseMany(ctx, holds)
	})
	return sent, err
}

// cancelled discards the content of a client that went away before its commit was sent, and
// returns the context's error; nil while the client is there.
func (p *Pending) cancelled(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	p.s.log.Info("upload cancelled by its client before its commit; its blob is removed", "key", p.key, "err", err)
	p.Discard(ctx)
	return err
}

// settle ends the Pending after a commit that returned err: done when it committed, kept for
// the orphan sweep when it may have (its outcome is unknown), discarded otherwise.
func (p *Pending) settle(ctx context.Context, err error) error {
	switch {
	case err == nil:
		p.done = true
	case store.OutcomeUnknown(err) || p.maybeCommitted:
		p.done = true
		p.s.log.Warn("commit outcome unknown; the blob is left to the orphan sweep", "key", p.key, "err", err)
		// Safe either way: a committed upload's hold went in its transaction.
		if !p.keepHold {
			p.hold.release(ctx, err)
		}
	default:
		p.discard(ctx, err)
	}
	return err
}

// Discard removes the blob unless it was committed. It runs even when ctx is done (the client
// went away), because a blob left behind would be an orphan until the next sweep.
func (p *Pending) Discard(ctx context.Context) { p.discard(ctx, nil) }

// discard is Discard after the failure cause (nil: none), which bounds the release of the hold.
func (p *Pending) discard(ctx context.Context, cause error) {
	if p == nil || p.done {
		return
	}
	p.done = true
	p.s.removeBlob(ctx, p.key)
	if !p.keepHold {
		p.hold.release(ctx, cause)
	}
}

// removeBlob deletes a blob that no row names (any more). A failure is left to the orphan
// sweep.
func (s *Service) removeBlob(ctx context.Context, key string) {
	if err := s.blobs.Delete(context.WithoutCancel(ctx), key); err != nil {
		s.log.Warn("removing blob failed; the orphan sweep will remove it", "key", key, "err", err)
	}
}

// removeBlobs removes the blobs of rows that are already deleted (the row goes first).
func (s *Service) removeBlobs(ctx context.Context, keys []*string) {
	for _, k := range keys {
		if k != nil && *k != "" {
			s.removeBlob(ctx, *k)
		}
	}
}

// limitReader fails with errOver once more than left bytes have been read.
type limitReader struct {
	r       io.Reader
	left    int64
	errOver error
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, l.errOver
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, l.errOver
	}
	return n, err
}

// errBlobGone maps a blob that vanished between its row's query and its read to the
// not-found error of the route.
func errBlobGone(err, notFound error) error {
	if errors.Is(err, blob.ErrNotFound) {
		return notFound
	}
	return err
}

// Download is content ready to be sent: what the answer says about it, and a way to read any
// range of it.
type Download struct {
	FileMeta
	// Memo is where the HTTP layer keeps what it derives from FileMeta (header values): one
	// slot shared by every download of an upload kept in memory; nil otherwise.
	Memo     *atomic.Value
	key      string
	blobs    blob.Store
	notFound error
	// ahead is a range opened before the answer was decided on (openAhead), not read yet.
	ahead *aheadRange
}

type aheadRange struct {
	off, length int64
	r           io.ReadCloser
}

// openAhead opens length bytes from off now, so that content that cannot be read fails before
// anything is decided on it (a one-time token is consumed only once its file is open). The
// first Open or ReadAt of that range takes it; Close releases it when it was not read.
func (d *Download) openAhead(ctx context.Context, off, length int64) error {
	r, err := d.Open(ctx, off, length)
	if err != nil {
		return err
	}
	d.ahead = &aheadRange{off: off, length: length, r: r}
	return nil
}

// takeAhead returns the range opened ahead when it is [off, off+length).
func (d *Download) takeAhead(off, length int64) io.ReadCloser {
	a := d.ahead
	if a == nil || a.off != off || a.length != length {
		return nil
	}
	d.ahead = nil
	return a.r
}

// Close releases what was opened ahead and not read.
func (d *Download) Close() {
	if d.ahead != nil {
		d.ahead.r.Close()
		d.ahead = nil
	}
}

// Open opens length bytes of the content from off. A blob deleted since its row was read
// answers as the route's not-found error.
func (d *Download) Open(ctx context.Context, off, length int64) (io.ReadCloser, error) {
	if r := d.takeAhead(off, length); r != nil {
		return r, nil
	}
	r, err := d.blobs.Get(ctx, d.key, off, length)
	if err != nil {
		return nil, errBlobGone(err, d.notFound)
	}
	return r, nil
}

// ReadAt reads len(p) bytes of the content from off into p: for small answers, read whole
// before they are sent.
func (d *Download) ReadAt(ctx context.Context, off int64, p []byte) error {
	if r := d.takeAhead(off, int64(len(p))); r != nil {
		defer r.Close()
		if _, err := io.ReadFull(r, p); err != nil {
			return errBlobGone(err, d.notFound)
		}
		return nil
	}
	if err := blob.ReadAt(ctx, d.blobs, d.key, off, p); err != nil {
		return errBlobGone(err, d.notFound)
	}
	return nil
}

func (s *Service) download(meta FileMeta, key string, notFound error) *Download {
	return &Download{FileMeta: meta, key: key, blobs: s.blobs, notFound: notFound}
}
