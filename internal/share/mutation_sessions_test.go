package share_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/share"
	"fileshare/internal/testutil"
)

// A session's expiry is its ttl, or the configured default; once expired it answers as
// expired, and as not found once its tombstone's retention has passed; a session of another
// tenant, or none, is not found.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	p := f.alice()
	s := f.session(0)
	mtAbout(t, "a default session's expiry", s.ExpiresAt, time.Now().Add(time.Duration(f.e.Config.SessionTTL)*time.Second))
	short := f.session(60)
	mtAbout(t, "a 60 s session's expiry", short.ExpiresAt, time.Now().Add(time.Minute))
	got, err := f.svc.GetSession(f.ctx, p, s.ID)
	if err != nil || got.ID != s.ID || got.CreatedBy != "alice@acme" {
		t.Fatalf("GetSession = %+v, %v", got, err)
	}
	_, err = f.svc.GetSession(f.ctx, p, uuid.New())
	mtWantErr(t, "no session", err, share.ErrSessionNotFound)
	f.e.AddUser("bob@globex", "pw")
	bob, err := f.e.App.Authn.Authenticate(f.ctx, "bob@globex", "pw", "192.0.2.2")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.GetSession(f.ctx, bob, s.ID)
	mtWantErr(t, "another tenant's session", err, share.ErrSessionNotFound)

	f.exec("UPDATE sessions SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id = $1", s.ID)
	_, err = f.svc.GetSession(f.ctx, p, s.ID)
	mtWantErr(t, "an expired session", err, share.ErrSessionExpired)
	_, err = f.svc.CreateFile(f.ctx, p, s.ID, share.NewFile{Name: "x"})
	mtWantErr(t, "a file entry of an expired session", err, share.ErrSessionExpired)
	f.exec("UPDATE sessions SET created_at = now() - interval '32 days', expires_at = now() - interval '31 days' WHERE id = $1", s.ID)
	_, err = f.svc.GetSession(f.ctx, p, s.ID)
	mtWantErr(t, "a session past its retention", err, share.ErrSessionNotFound)
}

// Sessions and file entries are listed a page at a time: one more row than the page tells
// whether another follows, and the cursor names the page's last row.
func TestListPages(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	p := f.alice()
	var sid uuid.UUID
	for range 3 {
		sid = f.session(0).ID
	}
	page, next, err := f.svc.ListSessions(f.ctx, p, 2, nil)
	if err != nil || len(page) != 2 || next == nil || next.ID != page[1].ID {
		t.Fatalf("first page of 2 sessions: %d, next %v, %v", len(page), next, err)
	}
	rest, after, err := f.svc.ListSessions(f.ctx, p, 2, next)
	if err != nil || len(rest) != 1 || after != nil || rest[0].ID == page[0].ID || rest[0].ID == page[1].ID {
		t.Fatalf("second page of sessions: %+v, next %v, %v", rest, after, err)
	}
	if all, next, err := f.svc.ListSessions(f.ctx, p, 3, nil); err != nil || len(all) != 3 || next != nil {
		t.Fatalf("a page of exactly all sessions: %d, next %v, %v", len(all), next, err)
	}

	for _, name := range []string{"a", "b", "c"} {
		f.storedFile(sid, name, []byte(name))
	}
	files, next, err := f.svc.ListFiles(f.ctx, p, sid, 2, nil)
	if err != nil || len(files) != 2 || next == nil || next.ID != files[1].ID || files[0].Name != "a" {
		t.Fatalf("first page of 2 files: %+v, next %v, %v", files, next, err)
	}
	more, after, err := f.svc.ListFiles(f.ctx, p, sid, 2, next)
	if err != nil || len(more) != 1 || after != nil || more[0].Name != "c" {
		t.Fatalf("second page of files: %+v, next %v, %v", more, after, err)
	}
	if all, next, err := f.svc.ListFiles(f.ctx, p, sid, 3, nil); err != nil || len(all) != 3 || next != nil {
		t.Fatalf("a page of exactly all files: %d, next %v, %v", len(all), next, err)
	}
}

// A cursor is 32 characters of 24 bytes whose time is within what PostgreSQL keeps.
func TestCursorBounds(t *testing.T) {
	t.Parallel()
	for _, micros := range []int64{0, 253402300799999999} {
		c := share.Cursor{CreatedAt: time.UnixMicro(micros), ID: uuid.New()}
		back, err := share.ParseCursor(c.String())
		if err != nil || !back.CreatedAt.Equal(c.CreatedAt) || back.ID != c.ID {
			t.Fatalf("cursor at %d µs: %+v, %v", micros, back, err)
		}
	}
	// The first time past year 9999, spelled as String spells it.
	over := share.Cursor{CreatedAt: time.UnixMicro(253402300800000000)}.String()
	for _, s := range []string{over, "", share.Cursor{}.String()[:31]} {
		if _, err := share.ParseCursor(s); err == nil {
			t.Errorf("ParseCursor(%q) accepted", s)
		}
	}
}

// A file entry shows its declared size until it is stored, then its size; a stored entry
// cannot be stored again; its content must have the declared size; an entry of another
// session is not found there; a deleted entry is gone with its content.
func TestFileEntries(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	p := f.alice()
	sid := f.session(0).ID
	five := int64(5)
	pending, err := f.svc.CreateFile(f.ctx, p, sid, share.NewFile{Name: "dir/a.txt", Size: &five})
	if err != nil {
		t.Fatal(err)
	}
	if pending.Size == nil || *pending.Size != 5 || pending.State != share.StatePending || pending.Name != "a.txt" || pending.ContentType != "text/plain; charset=utf-8" {
		t.Fatalf("pending entry %+v", pending)
	}
	who := share.Uploader{Principal: &p}
	u, err := f.svc.BeginFileUpload(f.ctx, who, sid, pending.ID)
	if err != nil {
		t.Fatal(err)
	}
	if limit, errOver := u.Limit(); limit != 5 || errOver != share.ErrSizeMismatch {
		t.Fatalf("limit of a declared entry %d, %v", limit, errOver)
	}
	_, err = f.tryPut(who, sid, pending.ID, []byte("four"))
	mtWantErr(t, "4 bytes for an entry declared of 5", err, share.ErrSizeMismatch)
	stored := f.put(who, sid, pending.ID, []byte("fives"))
	if stored.Size == nil || *stored.Size != 5 || stored.State != share.StateStored || len(stored.SHA256) != 32 {
		t.Fatalf("stored entry %+v", stored)
	}
	_, err = f.tryPut(who, sid, pending.ID, []byte("fives"))
	mtWantErr(t, "storing a stored entry", err, share.ErrAlreadyUploaded)

	free, err := f.svc.CreateFile(f.ctx, p, sid, share.NewFile{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if free.Size != nil {
		t.Fatalf("an entry without a declared size shows %d", *free.Size)
	}
	if u, err := f.svc.BeginFileUpload(f.ctx, who, sid, free.ID); err != nil {
		t.Fatal(err)
	} else if limit, errOver := u.Limit(); limit != f.e.Config.MaxUploadBytes || errOver != share.ErrTooLarge {
		t.Fatalf("limit of an undeclared entry %d, %v", limit, errOver)
	}

	other := f.session(0).ID
	_, err = f.svc.CreateToken(f.ctx, p, other, stored.ID, 0, false)
	mtWantErr(t, "an entry under another session", err, share.ErrFileNotFound)
	blobs := len(testutil.BlobFiles(t, f.e.DataDir))
	if err := f.svc.DeleteFile(f.ctx, p, sid, stored.ID); err != nil {
		t.Fatal(err)
	}
	if left := len(testutil.BlobFiles(t, f.e.DataDir)); left != blobs-1 {
		t.Fatalf("%d blobs after deleting a stored entry, want %d", left, blobs-1)
	}
	mtWantErr(t, "deleting it again", f.svc.DeleteFile(f.ctx, p, sid, stored.ID), share.ErrFileNotFound)
	_, err = f.svc.CreateToken(f.ctx, p, sid, stored.ID, 0, false)
	mtWantErr(t, "a token of a deleted entry", err, share.ErrFileNotFound)
	if err := f.svc.DeleteSession(f.ctx, p, sid); err != nil {
		t.Fatal(err)
	}
	mtWantErr(t, "deleting a deleted session", f.svc.DeleteSession(f.ctx, p, sid), share.ErrSessionNotFound)
}

// An upload URL lives for its ttl (an hour by default), for a pending entry only; its token
// stores the entry's content once; a malformed, unknown or expired one is refused.
func TestUploadURLs(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	p := f.alice()
	sid := f.session(0).ID
	entry := func() uuid.UUID {
		file, err := f.svc.CreateFile(f.ctx, p, sid, share.NewFile{Name: "u"})
		if err != nil {
			t.Fatal(err)
		}
		return file.ID
	}
	fid := entry()
	url, err := f.svc.CreateUploadURL(f.ctx, p, fid, 0)
	if err != nil {
		t.Fatal(err)
	}
	mtAbout(t, "a default upload URL's expiry", url.ExpiresAt, time.Now().Add(time.Hour))
	if url.SessionID != sid || url.FileID != fid || !share.ValidToken(url.Token) {
		t.Fatalf("upload URL %+v", url)
	}
	short, err := f.svc.CreateUploadURL(f.ctx, p, fid, 60)
	if err != nil {
		t.Fatal(err)
	}
	mtAbout(t, "a 60 s upload URL's expiry", short.ExpiresAt, time.Now().Add(time.Minute))

	holder := share.Uploader{UploadToken: url.Token, Addr: mtAddr}
	stored := f.put(holder, sid, fid, []byte("by URL"))
	if *stored.Size != 6 {
		t.Fatalf("stored %+v", stored)
	}
	_, err = f.tryPut(holder, sid, fid, []byte("again"))
	mtWantErr(t, "an upload URL used twice", err, share.ErrAlreadyUploaded)
	_, err = f.tryPut(share.Uploader{UploadToken: short.Token}, sid, fid, []byte("again"))
	mtWantErr(t, "another upload URL of a stored entry", err, share.ErrAlreadyUploaded)
	_, err = f.svc.CreateUploadURL(f.ctx, p, fid, 0)
	mtWantErr(t, "an upload URL of a stored entry", err, share.ErrAlreadyUploaded)
	_, err = f.svc.CreateUploadURL(f.ctx, p, uuid.New(), 0)
	mtWantErr(t, "an upload URL of no entry", err, share.ErrFileNotFound)

	next := entry()
	_, err = f.tryPut(share.Uploader{UploadToken: "nope"}, sid, next, []byte("x"))
	mtWantErr(t, "a malformed upload token", err, share.ErrUploadTokenInvalid)
	_, err = f.tryPut(share.Uploader{UploadToken: url.Token}, sid, next, []byte("x"))
	mtWantErr(t, "another entry's upload token", err, share.ErrUploadTokenInvalid)
	late, err := f.svc.CreateUploadURL(f.ctx, p, next, 60)
	if err != nil {
		t.Fatal(err)
	}
	f.exec("UPDATE upload_tokens SET expires_at = now() - interval '1 second' WHERE file_id = $1", next)
	_, err = f.tryPut(share.Uploader{UploadToken: late.Token}, sid, next, []byte("x"))
	mtWantErr(t, "an expired upload token", err, share.ErrUploadTokenExpired)
}

// Simple uploads: the default ttl; served from memory once read, unless about to expire;
// expired, then not found past the retention; deleted at once.
func TestUploadsServedAndExpired(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	p := f.alice()
	up := f.upload([]byte("content"), 0)
	mtAbout(t, "a default upload's expiry", up.ExpiresAt, time.Now().Add(time.Duration(f.e.Config.UploadTTL)*time.Second))
	if short := f.upload([]byte("x"), 60); short.ExpiresAt.Sub(up.ExpiresAt) > -time.Minute {
		t.Fatalf("a 60 s upload expires at %s", short.ExpiresAt)
	}
	open := func(id uuid.UUID) (*share.Download, bool, error) {
		t.Helper()
		hits, _ := f.svc.UploadCacheLookups()
		d, err := f.svc.OpenUpload(f.ctx, id)
		after, _ := f.svc.UploadCacheLookups()
		return d, after > hits, err
	}
	// The first read fills the cache (as soon as the instance serves from memory), the next
	// is a hit.
	var hit bool
	for deadline := time.Now().Add(10 * time.Second); !hit && time.Now().Before(deadline); {
		var d *share.Download
		var err error
		d, hit, err = open(up.ID)
		if err != nil || string(f.read(d)) != "content" {
			t.Fatalf("OpenUpload: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !hit {
		t.Fatal("an upload read twice was never served from memory")
	}

	soon := f.upload([]byte("soon"), 0)
	f.exec("UPDATE uploads SET expires_at = now() + interval '900 milliseconds' WHERE id = $1", soon.ID)
	for range 3 {
		// Read from the database: found, or expired meanwhile on a slow machine.
		if _, hit, err := open(soon.ID); hit || (err != nil && !errors.Is(err, share.ErrUploadExpired)) {
			t.Fatalf("an upload within a second of its expiry: hit %v, %v; want it read from the database", hit, err)
		}
	}

	f.exec("UPDATE uploads SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE id = $1", up.ID)
	_, _, err := open(up.ID)
	mtWantErr(t, "an expired upload", err, share.ErrUploadExpired)
	f.exec("UPDATE uploads SET created_at = now() - interval '32 days', expires_at = now() - interval '31 days' WHERE id = $1", up.ID)
	_, _, err = open(up.ID)
	mtWantErr(t, "an upload past its retention", err, share.ErrUploadNotFound)

	gone := f.upload([]byte("gone"), 0)
	if _, _, err := open(gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteUpload(f.ctx, p, gone.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = open(gone.ID)
	mtWantErr(t, "a deleted upload", err, share.ErrUploadNotFound)
	mtWantErr(t, "deleting it again", f.svc.DeleteUpload(f.ctx, p, gone.ID), share.ErrUploadNotFound)
}
