package share

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"fileshare/internal/store"
	"fileshare/internal/store/dbsqlc"
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
// A group of several uploads that fails, whatever the failure (a bad row, a timeout, a
// panic), is no one's answer: each of its uploads commits again on its own, in its own
// request, at once and all at the same time, so that one bad row fails only its own upload
// and no upload waits for the others' second attempts. A second attempt inserts the row under
// the same id as the first, so a group whose answer was lost but which did commit is found
// committed, never committed twice.
type batcher struct {
	s *Service
	// grouped counts the transactions that committed more than one upload, and the uploads
	// they committed.
	grouped, groupedUploads atomic.Int64
	// failed counts the group transactions that failed, whose uploads were then committed one
	// by one.
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
	row dbsqlc.Upload
	// err is the group's failure.
	err error
	// alone: the upload is to be committed on its own (its group of several failed, or its
	// client went away while it waited).
	alone bool
	// maybeCommitted: the group may have committed it all the same.
	maybeCommitted bool
}

// errGroupPanicked fails a group whose commit panicked.
var errGroupPanicked = errors.New("group commit panicked")

// commitUpload commits the content of a simple upload as the row params, in the next group,
// and returns the row.
func (s *Service) commitUpload(ctx context.Context, content *Pending, params uploadRow) (dbsqlc.Upload, error) {
	b := &batched{ctx: ctx, content: content, params: params, done: make(chan struct{})}
	s.group.commit(b)
	switch {
	case b.alone:
		content.maybeCommitted = content.maybeCommitted || b.maybeCommitted
		if b.err != nil {
			if f := s.hooks.alone; f != nil {
				f(params.ID)
			}
		}
		return s.commitUploadAlone(ctx, content, params)
	case b.err != nil:
		return dbsqlc.Upload{}, content.settle(ctx, b.err)
	}
	content.done = true
	return b.row, nil
}

// commitUploadAlone commits one simple upload in a transaction of its own.
func (s *Service) commitUploadAlone(ctx context.Context, content *Pending, params uploadRow) (dbsqlc.Upload, error) {
	var row dbsqlc.Upload
	err := content.commit(ctx, func(q *dbsqlc.Queries, ev *events) error {
		rows, err := createUploads(ctx, q, ev, params)
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
// meanwhile, or idle. It never panics, and whatever its group does, every upload of it is
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
	err := g.commitGroup(live)
	switch {
	case err == nil && len(live) > 1:
		g.grouped.Add(1)
		g.groupedUploads.Add(int64(len(live)))
	case err != nil && (len(live) > 1 || errors.Is(err, errGroupPanicked)):
		// No upload pays for another's failure, nor waits for another's second attempt.
		g.failed.Add(1)
		for _, b := range live {
			b.alone = true
			b.maybeCommitted = store.OutcomeUnknown(err) || errors.Is(err, errGroupPanicked)
		}
	}
	for _, b := range live {
		b.err = err
		close(b.done)
	}
}

// commitGroup commits the uploads of live in one transaction. A panic fails it with
// errGroupPanicked; where the panic happened is not known, so neither is the outcome.
func (g *batcher) commitGroup(live []*batched) (err error) {
	s := g.s
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("group commit panicked; its uploads commit one by one", "uploads", len(live), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
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
	// The group's transaction belongs to no single request: a client that goes away does
	// not take the others' commits with it.
	ctx := context.WithoutCancel(live[0].ctx)
	err = s.commitTx(ctx, s.st.Transact, contents, func(q *dbsqlc.Queries, ev *events) error {
		rows, err := createUploads(ctx, q, ev, params...)
		if err != nil {
			return err
		}
		for i, b := range live {
			b.row = rows[i]
		}
		if f := s.hooks.inGroup; f != nil {
			return f(uploadIDs(params))
		}
		return nil
	})
	if f := s.hooks.afterGroup; f != nil {
		err = f(uploadIDs(params), err)
	}
	return err
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
// transaction of q: the one place an upload row is made, for simple uploads alone or grouped
// and for resumable ones. It returns the rows in the order of params. A row that exists
// already under its id (a group committed it and its answer was lost) is returned as it is,
// with no second event.
func createUploads(ctx context.Context, q *dbsqlc.Queries, ev *events, params ...uploadRow) ([]dbsqlc.Upload, error) {
	n := len(params)
	p := dbsqlc.UploadCreateManyParams{
		Ids: make([]uuid.UUID, n), TenantIds: make([]int64, n), CreatedBy: make([]string, n),
		Names: make([]string, n), ContentTypes: make([]string, n), Sizes: make([]int64, n),
		Sha256s: make([][]byte, n), BlobKeys: make([]string, n), TtlSeconds: make([]int64, n),
	}
	for i, a := range params {
		p.Ids[i], p.TenantIds[i], p.CreatedBy[i], p.Names[i] = a.ID, a.TenantID, a.CreatedBy, a.Name
		p.ContentTypes[i], p.Sizes[i], p.Sha256s[i], p.BlobKeys[i], p.TtlSeconds[i] = a.ContentType, a.Size, a.SHA256, a.BlobKey, a.TTLSeconds
	}
	inserted, err := q.UploadCreateMany(ctx, p)
	if err != nil {
		return nil, err
	}
	byID := make(map[uuid.UUID]dbsqlc.Upload, len(inserted))
	for _, r := range inserted {
		byID[r.ID] = r
	}
	rows := make([]dbsqlc.Upload, n)
	for i, a := range params {
		r, ok := byID[a.ID]
		if ok {
			ev.add(webhook.UploadStored, r.TenantID, uploadEvent(r.ID, r.Name, r.ContentType, r.Size, r.Sha256, r.CreatedBy, r.ExpiresAt, &r.CreatedBy))
			rows[i] = r
			continue
		}
		got, err := q.UploadGet(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		if got.TenantID != a.TenantID || got.BlobKey != a.BlobKey {
			return nil, fmt.Errorf("upload %s: another row has its id: %w", a.ID, store.ErrConflict)
		}
		rows[i] = dbsqlc.Upload{
			ID: got.ID, TenantID: got.TenantID, CreatedBy: got.CreatedBy, Name: got.Name, ContentType: got.ContentType,
			Size: got.Size, Sha256: got.Sha256, BlobKey: got.BlobKey, CreatedAt: got.CreatedAt, ExpiresAt: got.ExpiresAt,
			PurgedAt: got.PurgedAt, Ref: got.Ref,
		}
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
