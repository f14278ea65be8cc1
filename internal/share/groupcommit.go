package share

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/store"
	"fileshare/internal/webhook"
)

// maxGroup bounds the uploads committed by one transaction.
const maxGroup = 128

// batcher gathers the commits of simple uploads (Pending values and the rows that will name
// them) that arrive together, and runs them as one transaction (commitTx): one statement
// inserts their rows, one records their events, one releases their quota holds, and one
// commit (one flush of PostgreSQL's log) makes them all durable. Nothing waits to fill a
// group: while one transaction runs, the uploads that arrive meanwhile gather for the next.
// Each upload is answered only after the commit of its own row.
//
// A group of several uploads that fails before its commit is sent — a bad row, a statement
// that takes more than half the budget of a database call, a panic — has committed nothing,
// and is no one's answer: each of its uploads commits again on its own, in its own request,
// at once and all at the same time, within the rest of the budget. So one bad or slow row
// fails only its own upload, and no upload waits for the others' second attempts. A group
// whose commit was sent and whose answer was lost may have committed: its uploads end as one
// upload would (store.OutcomeUnknown), their blobs kept for the orphan sweep.
type batcher struct {
	s *Service
	// grouped counts the transactions that committed more than one upload, and the uploads
	// they committed.
	grouped, groupedUploads atomic.Int64
	// failed counts the group transactions that failed before their commit was sent, whose
	// uploads were then committed one by one.
	failed atomic.Int64

	mu      sync.Mutex
	queue   []*batched
	running bool
}

// batched is one upload waiting for its group.
type batched struct {
	ctx     context.Context
	content *Pending
	params  uploadRow
	done    chan struct{}

	// What the group did, set before done is closed.
	row store.Upload
	// err is the group's failure.
	err error
	// alone: the upload is to be committed on its own (its group of several failed before
	// its commit was sent, or its client went away while it waited), by the time in by when
	// that is not zero.
	alone bool
	by    time.Time
	// unknown: the group's commit was sent and its answer lost.
	unknown bool
}

// errGroupPanicked fails a group whose commit panicked.
var errGroupPanicked = errors.New("group commit panicked")

// commitUpload commits the content of a simple upload as the row params, in the next group,
// and returns the row.
func (s *Service) commitUpload(ctx context.Context, content *Pending, params uploadRow) (store.Upload, error) {
	b := &batched{ctx: ctx, content: content, params: params, done: make(chan struct{})}
	s.group.commit(b)
	switch {
	case b.alone:
		if b.err != nil {
			if f := s.hooks.alone; f != nil {
				f(params.ID)
			}
		}
		content.deadline = b.by
		return s.commitUploadAlone(ctx, content, params)
	case b.err != nil:
		content.maybeCommitted = b.unknown
		return store.Upload{}, content.settle(ctx, b.err)
	}
	content.done = true
	return b.row, nil
}

// commitUploadAlone commits one simple upload in a transaction of its own.
func (s *Service) commitUploadAlone(ctx context.Context, content *Pending, params uploadRow) (store.Upload, error) {
	var row store.Upload
	err := content.commit(ctx, func(ctx context.Context, tx *store.Tx, ev *events) error {
		rows, err := createUploads(ctx, tx, ev, params)
		if err == nil {
			row = rows[0]
		}
		return err
	})
	return row, err
}

// commit queues b and returns once its group is done with it. The request that finds no
// group running leads: it runs the first group (its own upload's), then hands the queue to a
// goroutine, so that no request waits for the commits of others.
func (g *batcher) commit(b *batched) {
	g.mu.Lock()
	g.queue = append(g.queue, b)
	lead := !g.running
	g.running = true
	g.mu.Unlock()
	if lead {
		g.lead()
	}
	<-b.done
}

// lead runs the next group, then leaves the batcher to a goroutine when uploads gathered
// meanwhile, or idle. Whatever its group does, a panic included, every upload of it is
// answered and the batcher goes on: a stuck batcher would hold every later upload for ever.
func (g *batcher) lead() {
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	batch := g.queue[:n:n]
	g.queue = append([]*batched(nil), g.queue[n:]...)
	g.mu.Unlock()
	defer g.next()
	g.run(batch)
}

// next hands the batcher on after a group: to a goroutine when uploads are queued, else idle.
func (g *batcher) next() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) == 0 {
		g.running = false
		return
	}
	go g.lead()
}

// run commits batch in one transaction and answers each of its uploads.
func (g *batcher) run(batch []*batched) {
	live := batch[:0:0]
	for _, b := range batch {
		if b.ctx.Err() != nil {
			// Its client went away before its commit was sent: its own commit discards it.
			b.alone = true
			close(b.done)
			continue
		}
		live = append(live, b)
	}
	if len(live) == 0 {
		return
	}
	sent, by, err := g.commitGroup(live)
	panicked := errors.Is(err, errGroupPanicked)
	switch {
	case err == nil:
		if len(live) > 1 {
			g.grouped.Add(1)
			g.groupedUploads.Add(int64(len(live)))
		}
	case sent && (panicked || store.OutcomeUnknown(err)):
		for _, b := range live {
			b.unknown = true
		}
	case len(live) > 1 || panicked:
		// Nothing committed. No upload pays for another's failure, nor waits for another's
		// second attempt.
		if time.Now().Before(by) {
			g.failed.Add(1)
			for _, b := range live {
				b.alone, b.by = true, by
			}
		}
	}
	for _, b := range live {
		b.err = err
		close(b.done)
	}
}

// commitGroup commits the uploads of live in one transaction, within the budget of one
// database call from now, and returns by when that budget ends, and whether its commit was
// sent (every statement went through): only then may a failure have committed it. The
// statements of a group of several get half of the budget, so that its uploads have the rest
// to commit alone when it fails. A panic fails the group with errGroupPanicked.
func (g *batcher) commitGroup(live []*batched) (sent bool, by time.Time, err error) {
	s := g.s
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("group commit panicked", "uploads", len(live), "sent", sent, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = errGroupPanicked
		}
	}()
	params := make([]uploadRow, len(live))
	contents := make([]*Pending, len(live))
	for i, b := range live {
		params[i], contents[i] = b.params, b.content
	}
	if f := s.hooks.beforeBatch; f != nil {
		f(uploadIDs(params))
	}
	budget := s.st.QueryTimeout()
	now := time.Now()
	by = now.Add(budget)
	// The group's transaction belongs to no single request: a client that goes away does
	// not take the others' commits with it.
	ctx, cancel := context.WithDeadline(context.WithoutCancel(live[0].ctx), by)
	defer cancel()
	stmts := ctx
	if len(live) > 1 {
		var cancel context.CancelFunc
		stmts, cancel = context.WithDeadline(ctx, now.Add(budget/2))
		defer cancel()
	}
	sent, err = s.commitTx(ctx, s.st.InTx, contents, func(_ context.Context, tx *store.Tx, ev *events) error {
		rows, err := createUploads(stmts, tx, ev, params...)
		if err != nil {
			return err
		}
		for i, b := range live {
			b.row = rows[i]
		}
		if f := s.hooks.inGroup; f != nil {
			return f(stmts, uploadIDs(params))
		}
		return nil
	})
	return sent, by, err
}

// GroupCommits counts the transactions that committed several simple uploads together, the
// uploads they committed, and the group transactions that failed (their uploads were then
// committed one by one).
func (s *Service) GroupCommits() (transactions, uploads, failed int64) {
	return s.group.grouped.Load(), s.group.groupedUploads.Load(), s.group.failed.Load()
}

// uploadRow is the row of a simple upload to make.
type uploadRow struct {
	ID          uuid.UUID
	TenantID    int64
	CreatedBy   string
	Name        string
	ContentType string
	Size        int64
	SHA256      []byte
	BlobKey     string
	TTLSeconds  int64
}

// createUploads makes the rows of simple uploads, with their upload.stored events, in the
// transaction tx: the one place an upload row is made, for simple uploads alone or grouped
// and for resumable ones. It returns the rows in the order of params.
func createUploads(ctx context.Context, tx *store.Tx, ev *events, params ...uploadRow) ([]store.Upload, error) {
	n := len(params)
	// Each row is bound to its own tenant; one statement inserts them all.
	bound := make([]store.BoundUpload, n)
	for i, a := range params {
		bound[i] = tx.Tenant(a.TenantID).Uploads().Bind(store.NewUpload{
			ID: a.ID, CreatedBy: a.CreatedBy, Name: a.Name, ContentType: a.ContentType, Size: a.Size,
			SHA256: a.SHA256, BlobKey: a.BlobKey, TTLSeconds: a.TTLSeconds,
		})
	}
	inserted, err := tx.UploadBatch().Create(ctx, bound)
	if err != nil {
		return nil, err
	}
	byID := make(map[uuid.UUID]store.Upload, len(inserted))
	for _, r := range inserted {
		byID[r.ID] = r
	}
	rows := make([]store.Upload, n)
	for i, a := range params {
		r, ok := byID[a.ID]
		if !ok {
			return nil, fmt.Errorf("upload %s: no row made: %w", a.ID, store.ErrNotFound)
		}
		ev.add(webhook.UploadStored, r.TenantID, uploadEvent(r.ID, r.Name, r.ContentType, r.Size, r.SHA256, r.CreatedBy, r.ExpiresAt, &r.CreatedBy))
		rows[i] = r
	}
	return rows, nil
}

func uploadIDs(params []uploadRow) []uuid.UUID {
	ids := make([]uuid.UUID, len(params))
	for i, p := range params {
		ids[i] = p.ID
	}
	return ids
}
