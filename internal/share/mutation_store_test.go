package share_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"fileshare/internal/blob"
	"fileshare/internal/share"
	"fileshare/internal/testutil"
)

// begun is a store of a file entry that has checked its uploader and staged its content, not
// finished yet.
type begun struct {
	u *share.FileUpload
	c *share.Pending
}

func (f *mtFixture) begin(who share.Uploader, sid, fid uuid.UUID, data []byte) begun {
	f.t.Helper()
	u, err := f.svc.BeginFileUpload(f.ctx, who, sid, fid)
	if err != nil {
		f.t.Fatal(err)
	}
	limit, errOver := u.Limit()
	c, err := f.svc.Stage(f.ctx, blob.KindFile, bytes.NewReader(data), -1, limit, errOver, u.Quota)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Discard(f.ctx) })
	return begun{u, c}
}

func (f *mtFixture) finish(b begun) error {
	f.t.Helper()
	_, err := f.svc.FinishFileUpload(f.ctx, b.u, b.c)
	return err
}

// Of two stores of one entry that both began, the first commits and the second is told the
// entry is stored, its blob removed; with an upload URL, the same, and an upload URL that
// expired between the check and the commit is said to be expired.
func TestConcurrentStoresOfOneEntry(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	p := f.alice()
	sid := f.session(0).ID
	entry := func() uuid.UUID {
		file, err := f.svc.CreateFile(f.ctx, p, sid, share.NewFile{Name: "e"})
		if err != nil {
			t.Fatal(err)
		}
		return file.ID
	}
	blobs := func() int { return len(testutil.BlobFiles(t, f.e.DataDir)) }

	fid := entry()
	user := share.Uploader{Principal: &p}
	first, second := f.begin(user, sid, fid, []byte("one")), f.begin(user, sid, fid, []byte("two"))
	if err := f.finish(first); err != nil {
		t.Fatal(err)
	}
	before := blobs()
	mtWantErr(t, "the second store of an entry", f.finish(second), share.ErrAlreadyUploaded)
	if blobs() != before-1 {
		t.Fatalf("%d blobs after the refused store, want %d", blobs(), before-1)
	}

	fid = entry()
	url, err := f.svc.CreateUploadURL(f.ctx, p, fid, 0)
	if err != nil {
		t.Fatal(err)
	}
	holder := share.Uploader{UploadToken: url.Token}
	first, second = f.begin(holder, sid, fid, []byte("one")), f.begin(holder, sid, fid, []byte("two"))
	if err := f.finish(first); err != nil {
		t.Fatal(err)
	}
	mtWantErr(t, "the second store with one upload URL", f.finish(second), share.ErrAlreadyUploaded)

	fid = entry()
	url, err = f.svc.CreateUploadURL(f.ctx, p, fid, 0)
	if err != nil {
		t.Fatal(err)
	}
	late := f.begin(share.Uploader{UploadToken: url.Token}, sid, fid, []byte("late"))
	f.exec("UPDATE upload_tokens SET expires_at = now() - interval '1 second' WHERE file_id = $1", fid)
	mtWantErr(t, "a store whose upload URL expired meanwhile", f.finish(late), share.ErrUploadTokenExpired)
}

// A download reads any range of its content, whole or in part, also after its token opened
// it ahead; content whose blob vanished is the route's not-found.
func TestDownloadReads(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	up := f.upload([]byte("hello world"), 0)
	d, err := f.svc.OpenUpload(f.ctx, up.ID)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 5)
	if err := d.ReadAt(f.ctx, 6, p); err != nil || string(p) != "world" {
		t.Fatalf("ReadAt(6) = %q, %v", p, err)
	}

	sid, fid := f.tokenFile([]byte("token content"))
	tok := f.token(sid, fid, 0, false)
	td, err := f.deliver(tok, nil, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 7)
	if err := td.ReadAt(f.ctx, 6, part); err != nil || string(part) != "content" {
		t.Fatalf("ReadAt(6) past the range opened ahead = %q, %v", part, err)
	}
	whole := make([]byte, td.Size)
	if err := td.ReadAt(f.ctx, 0, whole); err != nil || string(whole) != "token content" {
		t.Fatalf("ReadAt of the range opened ahead = %q, %v", whole, err)
	}

	gone := f.upload([]byte("gone"), 0)
	d, err = f.svc.OpenUpload(f.ctx, gone.ID)
	if err != nil {
		t.Fatal(err)
	}
	before := testutil.BlobFiles(t, f.e.DataDir)
	for _, k := range before {
		if b, err := os.ReadFile(filepath.Join(f.e.DataDir, "blobs", k)); err == nil && string(b) == "gone" {
			if err := os.Remove(filepath.Join(f.e.DataDir, "blobs", k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, err = d.Open(f.ctx, 0, d.Size)
	mtWantErr(t, "opening a vanished blob", err, share.ErrUploadNotFound)
	mtWantErr(t, "reading a vanished blob", d.ReadAt(f.ctx, 0, make([]byte, 4)), share.ErrUploadNotFound)
}
