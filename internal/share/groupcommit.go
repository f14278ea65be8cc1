package share

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"fileshare/internal/store"
	"fileshare/internal/store/dbsqlc"
	"fileshare/internal/webhook"
)

// maxGroup bounds the uploads committed by one transaction.
const maxGroup = 128

// uploadGroup commits the simple uploads that arrive together in one transaction: one
// statement inserts their rows, one records their events, one releases their quota holds,
// and one commit (one flush of PostgreSQL's log) makes them all durable. Nothing waits to
// fill a group: while one transaction runs, the uploads that arrive meanwhile gather for the
// next. Each upload is answered only after the commit of its own row.
//
// When a group's transaction fails, each of its uploads is committed on its own, so that one
// bad row (a tenant removed meanwhile) fails only its own upload.
type uploadGroup struct {
	s *Service
	// grouped counts the transactions that committed more than one upload, and the uploads
	// they committed.
	grouped, groupedUploads atomic.Int64
	// failed counts the group transactions that failed, whose uploads were then committed one
	// by one.
	failed atomic.Int64

	mu      sync.Mutex
	queue   []*groupedUpload
	running bool
}

// groupedUpload is one upload waiting for its group's commit.
type groupedUpload struct {
	ctx     context.Context
	content *Pending
	params  dbsqlc.UploadCreateParams
	login   string
	row     dbsqlc.Upload
	err     error
	done    chan struct{}
}

// commit commits u in the next group and returns its row.
func (g *uploadGroup) commit(u *groupedUpload) (dbsqlc.Upload, error) {
	u.done = make(chan struct{})
	g.mu.Lock()
	g.queue = append(g.queue, u)
	lead := !g.running
	g.running = true
	g.mu.Unlock()
	if lead {
		g.lead()
	}
	<-u.done
	return u.row, u.err
}

// lead commits the queued uploads, group after group, until none is left. The request that
// finds no group running leads; once its own upload is committed, a goroutine takes over
// the groups that gathered meanwhile, so that no request waits for others' commits.
func (g *uploadGroup) lead() {
	g.mu.Lock()
	batch := g.queue[:min(len(g.queue), maxGroup)]
	g.queue = append([]*groupedUpload(nil), g.queue[len(batch):]...)
	g.mu.Unlock()
	g.run(batch)
	g.mu.Lock()
	if len(g.queue) == 0 {
		g.running = false
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	go g.lead()
}

// run commits batch, then settles each upload's content.
func (g *uploadGroup) run(batch []*groupedUpload) {
	live := batch[:0:0]
	for _, u := range batch {
		if err := u.ctx.Err(); err != nil {
			u.err = u.content.settle(u.ctx, err)
			close(u.done)
			continue
		}
		live = append(live, u)
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 {
		u := live[0]
		u.err = g.s.commitUploadAlone(u)
		close(u.done)
		return
	}
	// The group's transaction belongs to no single request: a client that goes away does
	// not take the others' commits with it.
	ctx := context.WithoutCancel(live[0].ctx)
	err := g.s.commitUploads(ctx, live)
	if err == nil {
		g.grouped.Add(1)
		g.groupedUploads.Add(int64(len(live)))
	}
	if err != nil && !store.OutcomeUnknown(err) {
		g.failed.Add(1)
		for _, u := range live {
			u.err = g.s.commitUploadAlone(u)
			close(u.done)
		}
		return
	}
	for _, u := range live {
		u.err = u.content.settle(u.ctx, err)
		close(u.done)
	}
}

// GroupCommits counts the transactions that committed several simple uploads together, the
// uploads they committed, and the group transactions that failed (their uploads were then
// committed one by one).
func (s *Service) GroupCommits() (transactions, uploads, failed int64) {
	return s.group.grouped.Load(), s.group.groupedUploads.Load(), s.group.failed.Load()
}

// commitUploadAlone commits one upload in a transaction of its own.
func (s *Service) commitUploadAlone(u *groupedUpload) error {
	return u.content.commit(u.ctx, func(q *dbsqlc.Queries, ev *events) error {
		var err error
		u.row, err = q.UploadCreate(u.ctx, u.params)
		if err == nil {
			ev.uploadStored(u.row, u.login)
		}
		return err
	})
}

// commitUploads commits the rows of several uploads in one transaction.
func (s *Service) commitUploads(ctx context.Context, batch []*groupedUpload) error {
	n := len(batch)
	p := dbsqlc.UploadCreateManyParams{
		Ids: make([]uuid.UUID, n), TenantIds: make([]int64, n), CreatedBy: make([]string, n),
		Names: make([]string, n), ContentTypes: make([]string, n), Sizes: make([]int64, n),
		Sha256s: make([][]byte, n), BlobKeys: make([]string, n), TtlSeconds: make([]int64, n),
	}
	var holds []uuid.UUID
	for i, u := range batch {
		a := u.params
		p.Ids[i], p.TenantIds[i], p.CreatedBy[i], p.Names[i] = a.ID, a.TenantID, a.CreatedBy, a.Name
		p.ContentTypes[i], p.Sizes[i], p.Sha256s[i], p.BlobKeys[i], p.TtlSeconds[i] = a.ContentType, a.Size, a.Sha256, a.BlobKey, a.TtlSeconds
		if h := u.content.hold; h != nil {
			holds = append(holds, h.id)
		}
	}
	return s.change(ctx, func(q *dbsqlc.Queries, ev *events) error {
		rows, err := q.UploadCreateMany(ctx, p)
		if err != nil {
			return err
		}
		byID := make(map[uuid.UUID]dbsqlc.Upload, len(rows))
		for _, r := range rows {
			byID[r.ID] = r
		}
		for _, u := range batch {
			r, ok := byID[u.params.ID]
			if !ok {
				return store.ErrNotFound
			}
			u.row = r
			ev.uploadStored(r, u.login)
		}
		if len(holds) > 0 {
			return q.QuotaReleaseMany(ctx, holds)
		}
		return nil
	})
}

// uploadStored reports the upload of row r by login.
func (e *events) uploadStored(r dbsqlc.Upload, login string) {
	e.add(webhook.UploadStored, r.TenantID, uploadEvent(r.ID, r.Name, r.ContentType, r.Size, r.Sha256, r.CreatedBy, r.ExpiresAt, &login))
}
