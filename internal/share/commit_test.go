package share_test

// This file is over 400 lines: each defect of the commit path with the fault that provokes it; the injected faults share their set-up.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/auth"
	"fileshare/internal/blob"
	"fileshare/internal/share"
	"fileshare/internal/testutil"
)

// The faults of the commit path (share.batcher, Pending.commit, the quota hold), injected
// through share.CommitHooks into a real service on a real database. Each test plays the
// upload that must not pay for another's fault.

// stuck bounds how long an upload may wait for its commit before the test calls the batcher
// stuck; every commit here takes milliseconds, or at most two query timeouts (2 s each).
const stuck = 20 * time.Second

// commitFixture is a service whose commit path a test drives: it can hold the batcher on a
// group of its own until the uploads under test wait behind it, so that they then commit as
// one group.
type commitFixture struct {
	t     *testing.T
	e     *testutil.Env
	svc   *share.Service
	alice auth.Principal

	mu         sync.Mutex
	hold, held chan struct{} // the next group waits for hold, once held is closed
}

func newCommitFixture(t *testing.T) *commitFixture {
	e := testutil.NewEnv(t)
	e.AddUser("alice@acme", "pw")
	return &commitFixture{
		t: t, e: e, svc: e.App.Service,
		alice: auth.Principal{TenantID: testutil.QueryInt(t, e, "SELECT id FROM tenants WHERE name = 'acme'"), Login: "alice@acme"},
	}
}

// setHooks installs h, with a BeforeBatch that holds a group when the test asks for it.
func (f *commitFixture) setHooks(h share.CommitHooks) {
	before := h.BeforeBatch
	h.BeforeBatch = func(ids []uuid.UUID) {
		f.mu.Lock()
		hold, held := f.hold, f.held
		f.hold, f.held = nil, nil
		f.mu.Unlock()
		if hold != nil {
			close(held)
			select {
			case <-hold:
			case <-time.After(stuck):
			}
		}
		if before != nil {
			before(ids)
		}
	}
	share.SetCommitHooks(f.svc, h)
}

// stage stages data for p.
func (f *commitFixture) stage(ctx context.Context, p auth.Principal, data []byte) (*share.Pending, error) {
	return f.svc.Stage(ctx, blob.KindUpload, bytes.NewReader(data), int64(len(data)), 1<<20, share.ErrTooLarge, share.QuotaOf(p))
}

// upload stages data for p and commits it as a simple upload, as the HTTP handler does; a
// panic becomes an error, as the router's recovery makes it a 500.
func (f *commitFixture) upload(ctx context.Context, p auth.Principal, data []byte) (up share.Upload, err error) {
	return f.uploadStagedBy(ctx, p, p, data)
}

// uploadStagedBy is upload with the bytes held by stager's tenant (a tenant that does not
// exist cannot even hold them).
func (f *commitFixture) uploadStagedBy(ctx context.Context, stager, p auth.Principal, data []byte) (up share.Upload, err error) {
	content, err := f.stage(ctx, stager, data)
	if err != nil {
		return share.Upload{}, err
	}
	defer content.Discard(ctx)
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return f.svc.CreateUpload(ctx, p, content, share.NewUpload{Name: "f.txt", ContentType: "text/plain"})
}

// within runs fn and fails the test when it has not returned after stuck.
func (f *commitFixture) within(what string, fn func()) {
	f.t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(stuck):
		f.t.Fatalf("%s: still waiting for its commit after %s: the batcher is stuck", what, stuck)
	}
}

// together runs do(0…n-1), each in a goroutine of its own, so that they commit as one group:
// the batcher is held on a group of its own (a blocker's upload) until all n wait behind it;
// meanwhile then runs before the batcher goes on. It returns their errors.
func (f *commitFixture) together(n int, do func(i int) error, meanwhile func()) []error {
	f.t.Helper()
	hold, held := make(chan struct{}), make(chan struct{})
	f.mu.Lock()
	f.hold, f.held = hold, held
	f.mu.Unlock()
	blocker := make(chan error, 1)
	go func() {
		_, err := f.upload(context.Background(), f.alice, []byte("blocker"))
		blocker <- err
	}()
	select {
	case <-held:
	case <-time.After(stuck):
		f.t.Fatal("the blocker's group never started")
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = do(i)
		}()
	}
	testutil.Eventually(f.t, stuck, fmt.Sprintf("%d uploads waiting for a group", n), func() bool {
		return share.QueuedCommits(f.svc) == n
	})
	if meanwhile != nil {
		meanwhile()
	}
	close(hold)
	f.within(fmt.Sprintf("a group of %d uploads", n), wg.Wait)
	if err := <-blocker; err != nil {
		f.t.Fatalf("the blocker's upload: %v", err)
	}
	return errs
}

// downloads checks that up downloads as data.
func (f *commitFixture) downloads(up share.Upload, data []byte) {
	f.t.Helper()
	if r := f.e.Do(f.e.NewRequest("GET", "/uploads/"+up.ID.String(), "", "", nil)); r.StatusCode != 200 || !bytes.Equal(r.Body, data) {
		f.t.Errorf("upload %q: %d %q", data, r.StatusCode, r.Body)
	}
}

// consistent checks that every blob has its row and every row its blob, and that no quota is
// held any more.
func (f *commitFixture) consistent(wantRows int64) {
	f.t.Helper()
	rows, blobs := testutil.QueryInt(f.t, f.e, "SELECT count(*) FROM uploads"), int64(len(testutil.BlobFiles(f.t, f.e.DataDir)))
	if rows != wantRows || blobs != rows {
		f.t.Errorf("%d rows and %d blobs, want %d of each", rows, blobs, wantRows)
	}
	if n := testutil.QueryInt(f.t, f.e, "SELECT count(*) FROM quota_reservations"); n != 0 {
		f.t.Errorf("%d quota holds left", n)
	}
}

func payload(i int) []byte { return []byte(fmt.Sprintf("upload %d", i)) }

// A panic in a group's commit neither leaves the batcher stuck (every later upload would wait
// for ever) nor fails the group's uploads: each commits again on its own.
func TestGroupCommitPanic(t *testing.T) {
	t.Parallel()
	f := newCommitFixture(t)
	// A group of at least panicAt uploads panics in its transaction, once; 0: none.
	var panicAt atomic.Int64
	f.setHooks(share.CommitHooks{InGroup: func(_ context.Context, ids []uuid.UUID) error {
		if n := panicAt.Load(); n > 0 && len(ids) >= int(n) && panicAt.CompareAndSwap(n, 0) {
			panic("injected panic")
		}
		return nil
	}})
	ctx := context.Background()

	// A group of one, led by its own request.
	panicAt.Store(1)
	var first, next share.Upload
	var err error
	f.within("the upload whose group panicked", func() { first, err = f.upload(ctx, f.alice, []byte("first")) })
	if err != nil {
		t.Errorf("the upload whose group panicked: %v", err)
	}
	f.within("the upload after a panic", func() { next, err = f.upload(ctx, f.alice, []byte("next")) })
	if err != nil {
		t.Fatalf("the upload after a panic: %v", err)
	}

	// A group of several, led by the batcher's goroutine.
	panicAt.Store(2)
	ups := make([]share.Upload, 4)
	for i, err := range f.together(len(ups), func(i int) (err error) {
		ups[i], err = f.upload(ctx, f.alice, payload(i))
		return err
	}, nil) {
		if err != nil {
			t.Errorf("upload %d of the group that panicked: %v", i, err)
		}
	}
	var last share.Upload
	f.within("the upload after a group's panic", func() { last, err = f.upload(ctx, f.alice, []byte("last")) })
	if err != nil {
		t.Fatalf("the upload after a group's panic: %v", err)
	}

	if first.ID != uuid.Nil {
		f.downloads(first, []byte("first"))
	}
	f.downloads(next, []byte("next"))
	f.downloads(last, []byte("last"))
	for i, up := range ups {
		f.downloads(up, payload(i))
	}
	f.consistent(3 + 1 + int64(len(ups)))
	if _, _, failed := f.svc.GroupCommits(); failed != 2 {
		t.Errorf("%d failed groups counted, want the 2 that panicked", failed)
	}
	if n := strings.Count(f.e.Logs.String(), "group commit panicked"); n != 2 {
		t.Errorf("%d panics logged, want 2", n)
	}
}

// When a group fails on a bad row (a tenant that does not exist), every upload of it commits
// again on its own at once, all at the same time: none waits while a leader commits the
// others one by one. Only the bad row's upload fails, and its blob goes.
func TestGroupFailureRetriesEachUploadAtOnce(t *testing.T) {
	t.Parallel()
	f := newCommitFixture(t)
	ghost := auth.Principal{TenantID: 1 << 40, Login: "ghost@nowhere"}
	// The second attempt of each upload of the failed group waits, up to a bound, until all
	// of them have started theirs.
	var (
		mu      sync.Mutex
		group   = map[uuid.UUID]bool{}
		arrived int
		all     = make(chan struct{})
		waited  atomic.Int64
	)
	f.setHooks(share.CommitHooks{
		BeforeBatch: func(ids []uuid.UUID) {
			if len(ids) > 1 {
				mu.Lock()
				for _, id := range ids {
					group[id] = true
				}
				mu.Unlock()
			}
		},
		Alone: func(id uuid.UUID) {
			mu.Lock()
			if !group[id] {
				mu.Unlock()
				return
			}
			if arrived++; arrived == len(group) {
				close(all)
			}
			mu.Unlock()
			select {
			case <-all:
			case <-time.After(3 * time.Second):
				waited.Add(1)
			}
		},
	})
	ctx := context.Background()
	const n, bad = 5, 2
	ups := make([]share.Upload, n)
	errs := f.together(n, func(i int) (err error) {
		p := f.alice
		if i == bad {
			p = ghost
		}
		ups[i], err = f.uploadStagedBy(ctx, f.alice, p, payload(i))
		return err
	}, nil)
	for i, err := range errs {
		switch {
		case i == bad && err == nil:
			t.Error("the upload of a tenant that does not exist was committed")
		case i != bad && err != nil:
			t.Errorf("upload %d: %v", i, err)
		case i != bad:
			f.downloads(ups[i], payload(i))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(group) != n {
		t.Fatalf("the failed group had %d uploads, want %d: the test did not test a group", len(group), n)
	}
	if w := waited.Load(); w > 0 {
		t.Errorf("%d uploads of the failed group waited for the second attempts of others: they are made one by one", w)
	}
	f.consistent(1 + n - 1)
}

// A group whose statements take too long (past half the budget of a database call) has
// committed nothing; instead of failing, its uploads commit one by one within the rest of the
// budget, each reported once.
func TestGroupTimeoutFallsBack(t *testing.T) {
	t.Parallel()
	f := newCommitFixture(t)
	var slow atomic.Bool
	f.setHooks(share.CommitHooks{InGroup: func(ctx context.Context, ids []uuid.UUID) error {
		if len(ids) > 1 && slow.CompareAndSwap(true, false) {
			<-ctx.Done() // a statement that does not answer in time
			return ctx.Err()
		}
		return nil
	}})
	// Every upload of acme is reported to an endpoint (recorded, never sent: no dispatcher
	// runs here).
	testutil.Exec(t, f.e, `INSERT INTO webhooks (id, tenant_id, url, secret, created_by)
		VALUES (gen_random_uuid(), $1, 'https://hooks.example/fileshare', decode(repeat('ab', 32), 'hex'), 'alice@acme')`, f.alice.TenantID)
	ctx := context.Background()
	const n = 4
	slow.Store(true)
	ups := make([]share.Upload, n)
	for i, err := range f.together(n, func(i int) (err error) {
		ups[i], err = f.upload(ctx, f.alice, payload(i))
		return err
	}, nil) {
		if err != nil {
			t.Fatalf("upload %d of the group that timed out: %v", i, err)
		}
		f.downloads(ups[i], payload(i))
	}
	if slow.Load() {
		t.Fatal("no group timed out: the test did not test the fallback")
	}
	f.consistent(1 + n)
	if rows, events := testutil.QueryInt(t, f.e, "SELECT count(*) FROM uploads"),
		testutil.QueryInt(t, f.e, "SELECT count(*) FROM webhook_events WHERE type = 'upload.stored'"); events != rows {
		t.Errorf("%d upload.stored events for %d uploads", events, rows)
	}
	if _, _, failed := f.svc.GroupCommits(); failed != 1 {
		t.Errorf("%d failed groups counted, want 1", failed)
	}
}

// A client that goes away while its upload waits for its group has nothing committed: its
// blob and its quota hold go at once, and the log tells a cancelled request, not a commit
// whose outcome is unknown (which would leave the blob to the orphan sweep).
func TestCancelledBeforeCommit(t *testing.T) {
	t.Parallel()
	f := newCommitFixture(t)
	f.setHooks(share.CommitHooks{})
	testutil.Exec(t, f.e, "UPDATE tenants SET max_bytes = 1 << 30 WHERE id = $1", f.alice.TenantID)
	f.alice.Quota.MaxBytes = 1 << 30
	ctx, cancel := context.WithCancel(context.Background())
	errs := f.together(1, func(int) error {
		_, err := f.upload(ctx, f.alice, []byte("gone"))
		return err
	}, cancel)
	if !errors.Is(errs[0], context.Canceled) {
		t.Fatalf("the upload of a client that went away: %v, want context.Canceled", errs[0])
	}
	f.consistent(1)
	logs := f.e.Logs.String()
	if strings.Contains(logs, "commit outcome unknown") {
		t.Error("a cancelled request was logged as a commit whose outcome is unknown")
	}
	if !strings.Contains(logs, "upload cancelled by its client before its commit") {
		t.Error("the cancelled request was not logged")
	}
}

// A tenant's quota decision that takes its time (it holds the tenant's row) holds up no other
// tenant's upload, even one committed in a group with an upload of that tenant: the inserts
// that reference the tenant do not wait for its decision.
func TestSlowQuotaDecisionHoldsUpNoOtherTenant(t *testing.T) {
	t.Parallel()
	f := newCommitFixture(t)
	f.e.AddUser("bob@slowco", "pw")
	slowco := testutil.QueryInt(t, f.e, "SELECT id FROM tenants WHERE name = 'slowco'")
	testutil.Exec(t, f.e, "UPDATE tenants SET max_bytes = 1 << 30 WHERE id = $1", slowco)
	bob := auth.Principal{TenantID: slowco, Login: "bob@slowco", Quota: auth.Quota{MaxBytes: 1 << 30}}
	var slow atomic.Bool
	locked, release := make(chan struct{}), make(chan struct{})
	f.setHooks(share.CommitHooks{QuotaLocked: func(tenantID int64) {
		if tenantID == slowco && slow.CompareAndSwap(true, false) {
			close(locked)
			select {
			case <-release:
			case <-time.After(stuck):
			}
		}
	}})
	ctx := context.Background()
	contents := make([]*share.Pending, 2)
	owners := []auth.Principal{bob, f.alice}
	for i, p := range owners {
		c, err := f.stage(ctx, p, payload(i))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Discard(ctx)
		contents[i] = c
	}
	// bob's next upload takes its time to decide.
	slow.Store(true)
	decided := make(chan struct{})
	go func() {
		defer close(decided)
		if c, err := f.stage(ctx, bob, []byte("decided slowly")); err == nil {
			c.Discard(ctx)
		}
	}()
	select {
	case <-locked:
	case <-time.After(stuck):
		t.Fatal("the slow decision never started")
	}
	groupsBefore, _, _ := f.svc.GroupCommits()
	ups := make([]share.Upload, 2)
	errs := f.together(2, func(i int) (err error) {
		ups[i], err = f.svc.CreateUpload(ctx, owners[i], contents[i], share.NewUpload{Name: "f.txt", ContentType: "text/plain"})
		return err
	}, nil)
	close(release)
	<-decided
	for i, err := range errs {
		if err != nil {
			t.Errorf("upload of %s committed while slowco's decision held its row: %v", owners[i].Login, err)
			continue
		}
		f.downloads(ups[i], payload(i))
	}
	groups, _, failed := f.svc.GroupCommits()
	if groups != groupsBefore+1 || failed != 0 {
		t.Errorf("%d groups committed and %d failed, want the one group of both uploads committed", groups-groupsBefore, failed)
	}
	f.consistent(3)
}
