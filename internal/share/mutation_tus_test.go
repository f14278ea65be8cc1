package share_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/config"
	"fileshare/internal/share"
)

// createTus creates a resumable simple upload of alice's of length bytes.
func (f *mtFixture) createTus(length int64) (share.TusUpload, error) {
	f.t.Helper()
	p := f.alice()
	return f.svc.CreateTus(f.ctx, share.Uploader{Principal: &p}, share.NewTus{
		Length: length, Metadata: "filename dC50eHQ=", Upload: share.NewUpload{Name: "t.txt", ContentType: "text/plain"},
	})
}

// appendTus sends data at offset, announced as length bytes (-1: not announced).
func (f *mtFixture) appendTus(id uuid.UUID, offset int64, data []byte, length int64, d share.Digests) (share.TusUpload, error) {
	f.t.Helper()
	return f.svc.AppendTus(f.ctx, id, share.TusChunk{Offset: offset, Body: bytes.NewReader(data), Length: length, Digests: d, Addr: mtAddr})
}

func mtWantOffset(t *testing.T, what string, up share.TusUpload, err error, offset int64, completed bool) {
	t.Helper()
	if err != nil || up.Offset != offset || up.Completed != completed {
		t.Fatalf("%s: offset %d, completed %v, %v; want %d, %v", what, up.Offset, up.Completed, err, offset, completed)
	}
}

// A resumable upload takes its bytes at the offset it is at, never more than its length, and
// becomes a simple upload of its own id with the request that brings its last byte; sent again
// after that, it answers as complete.
func TestTusUploadOffsetsAndLength(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	up, err := f.createTus(11)
	if err != nil {
		t.Fatal(err)
	}
	if up.Offset != 0 || up.Length != 11 || up.Metadata != "filename dC50eHQ=" {
		t.Fatalf("created %+v", up)
	}
	mtAbout(t, "a resumable upload's expiry", up.ExpiresAt, time.Now().Add(f.e.Config.TusExpiry))
	got, err := f.appendTus(up.ID, 0, []byte("hello"), 5, share.Digests{})
	mtWantOffset(t, "the first 5 bytes", got, err, 5, false)
	if head, err := f.svc.GetTus(f.ctx, up.ID); err != nil || head.Offset != 5 || head.Completed {
		t.Fatalf("HEAD after 5 bytes: %+v, %v", head, err)
	}
	_, err = f.appendTus(up.ID, 3, []byte("lo world"), -1, share.Digests{})
	mtWantErr(t, "bytes at an offset behind", err, share.ErrTusOffsetMismatch)
	_, err = f.appendTus(up.ID, 5, []byte(" world"), 7, share.Digests{})
	mtWantErr(t, "7 bytes announced where 6 are left", err, share.ErrTusLengthExceeded)
	_, err = f.appendTus(up.ID, 5, []byte(" world!"), -1, share.Digests{})
	mtWantErr(t, "7 bytes sent where 6 are left", err, share.ErrTusLengthExceeded)
	if head, _ := f.svc.GetTus(f.ctx, up.ID); head.Offset != 5 {
		t.Fatalf("a refused request moved the offset to %d", head.Offset)
	}
	done, err := f.appendTus(up.ID, 5, []byte(" world"), 6, share.Digests{})
	mtWantOffset(t, "the last 6 bytes", done, err, 11, true)
	if done.UploadID == nil || *done.UploadID == up.ID {
		t.Fatalf("completed as upload %v: want an id of its own", done.UploadID)
	}
	d, err := f.svc.OpenUpload(f.ctx, *done.UploadID)
	if err != nil || string(f.read(d)) != "hello world" || d.Name != "t.txt" {
		t.Fatalf("the upload it became: %v", err)
	}

	again, err := f.appendTus(up.ID, 11, nil, 0, share.Digests{})
	mtWantOffset(t, "the last request sent again", again, err, 11, true)
	_, err = f.appendTus(up.ID, 5, []byte(" world"), 6, share.Digests{})
	mtWantErr(t, "bytes behind a completed upload", err, share.ErrTusOffsetMismatch)
	_, err = f.appendTus(up.ID, 11, []byte("!"), 1, share.Digests{})
	mtWantErr(t, "bytes past a completed upload", err, share.ErrTusLengthExceeded)
	if head, err := f.svc.GetTus(f.ctx, up.ID); err != nil || !head.Completed || head.UploadID == nil {
		t.Fatalf("HEAD of a completed upload: %+v, %v", head, err)
	}

	empty, err := f.createTus(0)
	if err != nil {
		t.Fatal(err)
	}
	got, err = f.appendTus(empty.ID, 0, nil, 0, share.Digests{})
	mtWantOffset(t, "an empty upload's only request", got, err, 0, true)
}

// A resumable upload is refused at its creation when its length is negative or over the
// largest file, without a user, or over the quota, which it holds whole while in progress and
// gives back when terminated.
func TestTusCreationRefusals(t *testing.T) {
	t.Parallel()
	f := mtNew(t, func(c *config.Config) { c.MaxUploadBytes = 1000 })
	_, err := f.createTus(-1)
	mtWantErr(t, "a negative length", err, share.ErrInvalidSize)
	_, err = f.createTus(1001)
	mtWantErr(t, "a length over the maximum of 1000", err, share.ErrTooLarge)
	unlimited, err := f.createTus(1000)
	if err != nil {
		t.Fatalf("a length of the maximum: %v", err)
	}
	_, err = f.svc.CreateTus(f.ctx, share.Uploader{}, share.NewTus{Length: 1})
	mtWantErr(t, "a simple upload without a user", err, share.ErrUploadTokenInvalid)
	f.limits(100, 50)
	// The upload begun while the tenant had no quota holds its 1000 bytes under the new one.
	_, err = f.createTus(50)
	mtWantErr(t, "50 bytes while an upload begun without a quota holds 1000", err, share.ErrQuotaExceeded)
	if err := f.svc.TerminateTus(f.ctx, unlimited.ID); err != nil {
		t.Fatal(err)
	}
	_, err = f.createTus(51)
	mtWantErr(t, "a length over the largest file of 50", err, share.ErrTooLarge)
	held, err := f.createTus(50)
	if err != nil {
		t.Fatal(err)
	}
	if u := f.usage(); u.Bytes != 50 {
		t.Fatalf("usage %d while an upload of 50 is in progress", u.Bytes)
	}
	if _, err := f.createTus(50); err != nil {
		t.Fatalf("50 more of 100: %v", err)
	}
	_, err = f.createTus(1)
	mtWantErr(t, "a byte over the quota", err, share.ErrQuotaExceeded)
	if err := f.svc.TerminateTus(f.ctx, held.ID); err != nil {
		t.Fatal(err)
	}
	if u := f.usage(); u.Bytes != 50 {
		t.Fatalf("usage %d after a termination, want 50", u.Bytes)
	}
	mtWantErr(t, "terminating it again", f.svc.TerminateTus(f.ctx, held.ID), share.ErrUploadNotFound)
	_, err = f.svc.GetTus(f.ctx, held.ID)
	mtWantErr(t, "HEAD of a terminated upload", err, share.ErrUploadNotFound)
	_, err = f.appendTus(held.ID, 0, []byte("x"), 1, share.Digests{})
	mtWantErr(t, "PATCH of a terminated upload", err, share.ErrUploadNotFound)
}

// The digests of the whole content are checked when its last byte comes: a mismatch leaves
// the upload as it was before that request (SHA-256) or refuses it (SHA-512); matching ones
// let it complete.
func TestTusDigests(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	content := []byte("abcde")
	s256, s512 := sha256.Sum256(content), sha512.Sum512(content)
	wrong256, wrong512 := sha256.Sum256([]byte("x")), sha512.Sum512([]byte("x"))

	up, err := f.createTus(5)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.appendTus(up.ID, 0, content[:2], 2, share.Digests{SHA256: wrong256[:]})
	mtWantOffset(t, "a first part, digests unchecked", got, err, 2, false)
	_, err = f.appendTus(up.ID, 2, content[2:], 3, share.Digests{SHA256: wrong256[:]})
	mtWantErr(t, "the last part with a wrong SHA-256", err, share.ErrDigestMismatch)
	if head, _ := f.svc.GetTus(f.ctx, up.ID); head.Offset != 2 || head.Completed {
		t.Fatalf("after a digest mismatch: %+v, want it at 2", head)
	}
	got, err = f.appendTus(up.ID, 2, content[2:], 3, share.Digests{SHA256: s256[:], SHA512: s512[:]})
	mtWantOffset(t, "the last part with the right digests", got, err, 5, true)

	other, err := f.createTus(5)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.appendTus(other.ID, 0, content, 5, share.Digests{SHA512: wrong512[:]})
	mtWantErr(t, "the content with a wrong SHA-512", err, share.ErrDigestMismatch)
	if head, err := f.svc.GetTus(f.ctx, other.ID); err == nil && head.Completed {
		t.Fatal("an upload with a wrong SHA-512 completed")
	}
}

// A resumable upload of a file entry: its length must be the declared size, one at a time,
// by the entry's user or its upload URL; it stores the entry and becomes no simple upload;
// an expired one answers so, and frees the entry for another.
func TestTusFileEntry(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	p := f.alice()
	sid := f.session(0).ID
	five := int64(5)
	entry, err := f.svc.CreateFile(f.ctx, p, sid, share.NewFile{Name: "e", Size: &five})
	if err != nil {
		t.Fatal(err)
	}
	create := func(who share.Uploader, fid uuid.UUID, length int64) (share.TusUpload, error) {
		return f.svc.CreateTus(f.ctx, who, share.NewTus{Length: length, File: &share.TusFile{SessionID: sid, FileID: fid}})
	}
	user := share.Uploader{Principal: &p}
	for _, n := range []int64{4, 6} {
		_, err := create(user, entry.ID, n)
		mtWantErr(t, "a length that is not the declared size", err, share.ErrSizeMismatch)
	}
	up, err := create(user, entry.ID, 5)
	if err != nil {
		t.Fatal(err)
	}
	_, err = create(user, entry.ID, 5)
	mtWantErr(t, "a second upload of the entry", err, share.ErrUploadInProgress)
	f.exec("UPDATE tus_uploads SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE id = $1", up.ID)
	_, err = f.svc.GetTus(f.ctx, up.ID)
	mtWantErr(t, "HEAD of an expired upload", err, share.ErrUploadExpired)
	_, err = f.appendTus(up.ID, 0, []byte("fives"), 5, share.Digests{})
	mtWantErr(t, "PATCH of an expired upload", err, share.ErrUploadExpired)
	up, err = create(user, entry.ID, 5)
	if err != nil {
		t.Fatalf("an upload of an entry whose last one expired: %v", err)
	}
	got, err := f.appendTus(up.ID, 0, []byte("fives"), 5, share.Digests{})
	mtWantOffset(t, "the entry's content", got, err, 5, true)
	if got.UploadID != nil {
		t.Fatalf("a file entry's upload became simple upload %s", got.UploadID)
	}
	files, _, err := f.svc.ListFiles(f.ctx, p, sid, 10, nil)
	if err != nil || len(files) != 1 || files[0].State != share.StateStored {
		t.Fatalf("entries %+v, %v; want the one stored", files, err)
	}

	other, err := f.svc.CreateFile(f.ctx, p, sid, share.NewFile{Name: "o"})
	if err != nil {
		t.Fatal(err)
	}
	url, err := f.svc.CreateUploadURL(f.ctx, p, other.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	byURL, err := create(share.Uploader{UploadToken: url.Token, Addr: mtAddr}, other.ID, 3)
	if err != nil {
		t.Fatal(err)
	}
	got, err = f.appendTus(byURL.ID, 0, []byte("url"), 3, share.Digests{})
	mtWantOffset(t, "an upload URL's content", got, err, 3, true)
	f.exec("UPDATE sessions SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id = $1", sid)
	_, err = f.svc.GetTus(f.ctx, byURL.ID)
	if err != nil {
		t.Fatalf("HEAD of a completed upload of an expired session: %v", err)
	}
	late, err := f.svc.CreateFile(f.ctx, p, f.session(0).ID, share.NewFile{Name: "l"})
	if err != nil {
		t.Fatal(err)
	}
	pending, err := f.svc.CreateTus(f.ctx, user, share.NewTus{Length: 1, File: &share.TusFile{SessionID: late.SessionID, FileID: late.ID}})
	if err != nil {
		t.Fatal(err)
	}
	f.exec("UPDATE sessions SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id = $1", late.SessionID)
	_, err = f.svc.GetTus(f.ctx, pending.ID)
	mtWantErr(t, "HEAD of an upload of an expired session", err, share.ErrSessionExpired)
}
