package share_test

// Helpers of the tests that pin the rules of this package down through its own API on a real
// database (mutation_*_test.go; docs/mutation.md). Their names start with "mt".

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/auth"
	"fileshare/internal/blob"
	"fileshare/internal/share"
	"fileshare/internal/testutil"
)

// mtFixture is a running fileshare, its service, and the user alice@acme.
type mtFixture struct {
	t   *testing.T
	e   *testutil.Env
	svc *share.Service
	ctx context.Context
}

func mtNew(t *testing.T, opts ...testutil.Option) *mtFixture {
	t.Helper()
	e := testutil.NewEnv(t, opts...)
	e.AddUser("alice@acme", "pw")
	return &mtFixture{t: t, e: e, svc: e.App.Service, ctx: context.Background()}
}

// alice is alice@acme as she authenticates now (with her tenant's limits of now).
func (f *mtFixture) alice() auth.Principal {
	f.t.Helper()
	p, err := f.e.App.Authn.Authenticate(f.ctx, "alice@acme", "pw", "192.0.2.1")
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

// limits sets acme's quota (0: unlimited).
func (f *mtFixture) limits(maxBytes, maxFileBytes int64) {
	f.t.Helper()
	if err := f.e.Admin.SetLimits(f.ctx, "acme", &maxBytes, &maxFileBytes); err != nil {
		f.t.Fatal(err)
	}
}

// usage is acme's usage, holds included.
func (f *mtFixture) usage() share.Usage {
	f.t.Helper()
	u, err := f.svc.Usage(f.ctx, f.alice())
	if err != nil {
		f.t.Fatal(err)
	}
	return u
}

// stage stages data for p as a simple upload's content; length is what the client announced
// (-1: nothing), limit the most bytes allowed.
func (f *mtFixture) stage(p auth.Principal, data []byte, length, limit int64) (*share.Pending, error) {
	f.t.Helper()
	c, err := f.svc.Stage(f.ctx, blob.KindUpload, bytes.NewReader(data), length, limit, share.ErrTooLarge, share.QuotaOf(p))
	if c != nil {
		f.t.Cleanup(func() { c.Discard(context.Background()) })
	}
	return c, err
}

// upload stores data as a simple upload of alice's with ttl seconds (0: the default).
func (f *mtFixture) upload(data []byte, ttl int64) share.Upload {
	f.t.Helper()
	p := f.alice()
	c, err := f.stage(p, data, int64(len(data)), 1<<20)
	if err != nil {
		f.t.Fatal(err)
	}
	up, err := f.svc.CreateUpload(f.ctx, p, c, share.NewUpload{Name: "f.txt", ContentType: "text/plain", TTLSeconds: ttl})
	if err != nil {
		f.t.Fatal(err)
	}
	return up
}

// read reads a whole download.
func (f *mtFixture) read(d *share.Download) []byte {
	f.t.Helper()
	r, err := d.Open(f.ctx, 0, d.Size)
	if err != nil {
		f.t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// session creates a session of alice's with ttl seconds (0: the default).
func (f *mtFixture) session(ttl int64) share.Session {
	f.t.Helper()
	s, err := f.svc.CreateSession(f.ctx, f.alice(), ttl)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// storedFile adds a file entry with data to session sid and stores it.
func (f *mtFixture) storedFile(sid uuid.UUID, name string, data []byte) share.File {
	f.t.Helper()
	p := f.alice()
	file, err := f.svc.CreateFile(f.ctx, p, sid, share.NewFile{Name: name})
	if err != nil {
		f.t.Fatal(err)
	}
	return f.put(share.Uploader{Principal: &p}, sid, file.ID, data)
}

// put stores data as the content of file entry fid, as who.
func (f *mtFixture) put(who share.Uploader, sid, fid uuid.UUID, data []byte) share.File {
	f.t.Helper()
	stored, err := f.tryPut(who, sid, fid, data)
	if err != nil {
		f.t.Fatal(err)
	}
	return stored
}

func (f *mtFixture) tryPut(who share.Uploader, sid, fid uuid.UUID, data []byte) (share.File, error) {
	f.t.Helper()
	u, err := f.svc.BeginFileUpload(f.ctx, who, sid, fid)
	if err != nil {
		return share.File{}, err
	}
	limit, errOver := u.Limit()
	c, err := f.svc.Stage(f.ctx, blob.KindFile, bytes.NewReader(data), int64(len(data)), limit, errOver, u.Quota)
	if err != nil {
		return share.File{}, err
	}
	defer c.Discard(f.ctx)
	return f.svc.FinishFileUpload(f.ctx, u, c)
}

// exec runs SQL on the fileshare's database and waits until its instance has heard of it.
func (f *mtFixture) exec(query string, args ...any) {
	f.t.Helper()
	testutil.Exec(f.t, f.e, query, args...)
}

func mtWantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}

// mtAbout fails t unless got is within a few seconds of want.
func mtAbout(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if d := got.Sub(want); d < -5*time.Second || d > 5*time.Second {
		t.Fatalf("%s %s, want about %s (%s off)", what, got, want, d)
	}
}
