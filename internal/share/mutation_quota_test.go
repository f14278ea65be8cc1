package share_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	"fileshare/internal/auth"
	"fileshare/internal/blob"
	"fileshare/internal/config"
	"fileshare/internal/share"
	"fileshare/internal/testutil"
)

// Content of a known size holds its bytes at once, up to the quota exactly; what is held counts
// in the usage until it is committed (then as the upload's bytes) or discarded.
func TestQuotaHoldsKnownSizes(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	f.limits(100, 0)
	p := f.alice()
	first, err := f.stage(p, make([]byte, 60), 60, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if u := f.usage(); u.Bytes != 60 || u.MaxBytes != 100 {
		t.Fatalf("usage %+v while 60 bytes are held, want 60 of 100", u)
	}
	_, err = f.stage(p, make([]byte, 41), 41, 1<<20)
	mtWantErr(t, "41 bytes more than 60 of 100", err, share.ErrQuotaExceeded)
	second, err := f.stage(p, make([]byte, 40), 40, 1<<20)
	if err != nil {
		t.Fatalf("40 bytes more than 60 of 100: %v", err)
	}
	if u := f.usage(); u.Bytes != 100 {
		t.Fatalf("usage %d with the quota held, want 100", u.Bytes)
	}
	second.Discard(f.ctx)
	if u := f.usage(); u.Bytes != 60 {
		t.Fatalf("usage %d after a discard, want 60", u.Bytes)
	}
	if _, err := f.svc.CreateUpload(f.ctx, p, first, share.NewUpload{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if u := f.usage(); u.Bytes != 60 || u.Uploads != 1 {
		t.Fatalf("usage %+v after the commit, want 60 bytes in 1 upload", u)
	}
	_, err = f.stage(p, make([]byte, 41), 41, 1<<20)
	mtWantErr(t, "41 bytes more than an upload of 60 of 100", err, share.ErrQuotaExceeded)
	if u := f.usage(); u.Bytes != 60 {
		t.Fatalf("a refused upload left a hold: usage %d, want 60", u.Bytes)
	}
}

// Content of unknown size holds its bytes as they stream, a MiB at a time and exactly what it
// needs near the quota: a body of exactly the quota fits, one byte more does not, and a
// refused body holds nothing afterwards.
func TestQuotaHoldsUnknownSizesAsTheyStream(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	const quota = 3<<20 + 100
	f.limits(quota, 0)
	p := f.alice()
	c, err := f.stage(p, make([]byte, quota), -1, 16<<20)
	if err != nil {
		t.Fatalf("a body of exactly the quota: %v", err)
	}
	if u := f.usage(); u.Bytes != quota {
		t.Fatalf("usage %d while the body is held, want %d", u.Bytes, quota)
	}
	c.Discard(f.ctx)
	if u := f.usage(); u.Bytes != 0 {
		t.Fatalf("usage %d after a discard, want 0", u.Bytes)
	}
	_, err = f.stage(p, make([]byte, quota+1), -1, 16<<20)
	mtWantErr(t, "a body one byte over the quota", err, share.ErrQuotaExceeded)
	if u := f.usage(); u.Bytes != 0 {
		t.Fatalf("a refused body left a hold of %d bytes", u.Bytes)
	}
	// A tenant without a quota holds its bytes too, a step ahead of what came in, so that a
	// quota set later counts them.
	f.limits(0, 0)
	if _, err := f.stage(f.alice(), make([]byte, 1000), -1, 16<<20); err != nil {
		t.Fatal(err)
	}
	if u := f.usage(); u.Bytes != 1<<20 {
		t.Fatalf("a tenant without a quota holds %d bytes for a body of 1000, want a step of 1 MiB", u.Bytes)
	}
}

// A tenant's largest file narrows a file's limit, with its own error; a limit at or under it
// keeps the caller's error.
func TestFileLimit(t *testing.T) {
	t.Parallel()
	q := share.Quota{Quota: auth.Quota{MaxFileBytes: 10}}
	for _, tc := range []struct {
		limit, want int64
		err         error
	}{
		{20, 10, share.ErrTooLarge},
		{11, 10, share.ErrTooLarge},
		{10, 10, share.ErrSizeMismatch},
		{5, 5, share.ErrSizeMismatch},
	} {
		if got, err := q.FileLimit(tc.limit, share.ErrSizeMismatch); got != tc.want || err != tc.err {
			t.Errorf("FileLimit(%d) = %d, %v; want %d, %v", tc.limit, got, err, tc.want, tc.err)
		}
	}
	if got, err := (share.Quota{}).FileLimit(5, share.ErrSizeMismatch); got != 5 || err != share.ErrSizeMismatch {
		t.Errorf("without a largest file: %d, %v", got, err)
	}
}

// A body of exactly its limit is staged; one byte more fails with the limit's error, at once
// when its announced length says so, else once the byte comes; the tenant's largest file
// narrows the limit.
func TestStageLimits(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	stage := func(n int, length, limit int64) error {
		t.Helper()
		c, err := f.svc.Stage(f.ctx, blob.KindUpload, bytes.NewReader(make([]byte, n)), length, limit, share.ErrSizeMismatch, share.QuotaOf(f.alice()))
		if err == nil {
			if c.Size() != int64(n) {
				t.Fatalf("staged %d bytes of %d", c.Size(), n)
			}
			c.Discard(f.ctx)
		}
		return err
	}
	for _, length := range []int64{-1, 5} {
		if err := stage(5, length, 5); err != nil {
			t.Fatalf("5 bytes (announced %d) within a limit of 5: %v", length, err)
		}
	}
	for _, length := range []int64{-1, 6} {
		mtWantErr(t, "6 bytes within a limit of 5", stage(6, length, 5), share.ErrSizeMismatch)
	}
	mtWantErr(t, "5 bytes announced as 6", stage(5, 6, 5), share.ErrSizeMismatch)
	if err := stage(0, 0, 0); err != nil {
		t.Fatalf("an empty body within a limit of 0: %v", err)
	}
	f.limits(0, 4)
	mtWantErr(t, "5 bytes over the largest file of 4", stage(5, -1, 5), share.ErrTooLarge)
	if err := stage(4, -1, 5); err != nil {
		t.Fatalf("4 bytes within the largest file of 4: %v", err)
	}
}

// A declared size is refused at the entry's creation when it is negative or over the
// configured maximum, over the tenant's largest file, or over what is left of its quota.
func TestDeclaredSizes(t *testing.T) {
	t.Parallel()
	f := mtNew(t, func(c *config.Config) { c.MaxUploadBytes = 1000 })
	sid := f.session(0).ID
	create := func(size int64) error {
		t.Helper()
		_, err := f.svc.CreateFile(f.ctx, f.alice(), sid, share.NewFile{Name: "f", Size: &size})
		return err
	}
	for _, size := range []int64{0, 1000} {
		if err := create(size); err != nil {
			t.Fatalf("declared %d of at most 1000: %v", size, err)
		}
	}
	mtWantErr(t, "declared -1", create(-1), share.ErrInvalidSize)
	mtWantErr(t, "declared 1001 of at most 1000", create(1001), share.ErrInvalidSize)
	f.limits(100, 10)
	mtWantErr(t, "declared 11 over the largest file of 10", create(11), share.ErrTooLarge)
	if err := create(10); err != nil {
		t.Fatalf("declared 10 within the largest file of 10: %v", err)
	}
	f.limits(100, 0)
	f.upload(make([]byte, 60), 0)
	mtWantErr(t, "declared 41 more than 60 of 100", create(41), share.ErrQuotaExceeded)
	if err := create(40); err != nil {
		t.Fatalf("declared 40 more than 60 of 100: %v", err)
	}
	_, err := f.svc.CreateFile(f.ctx, f.alice(), sid, share.NewFile{Name: "/"})
	mtWantErr(t, "a name with nothing left", err, share.ErrNameRequired)
}

// A body of unknown size streaming while its tenant has no quota holds what it received (a
// step ahead); a quota set below that refuses it at its next step, and nothing stays held.
func TestQuotaSetWhileABodyStreams(t *testing.T) {
	t.Parallel()
	f := mtNew(t)
	p := f.alice()
	r, w := io.Pipe()
	staged := make(chan error, 1)
	go func() {
		c, err := f.svc.Stage(f.ctx, blob.KindUpload, r, -1, 16<<20, share.ErrTooLarge, share.QuotaOf(p))
		if c != nil {
			c.Discard(f.ctx)
		}
		r.CloseWithError(err)
		staged <- err
	}()
	step := make([]byte, 1<<20)
	if _, err := w.Write(step); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the streamed MiB held", func() bool { return f.usage().Bytes == 1<<20 })
	f.limits(1<<20, 0)
	w.Write(step) // refused on the way, or taken and refused at the next step
	w.Write([]byte("x"))
	w.Close()
	mtWantErr(t, "the body past a quota set while it streamed", <-staged, share.ErrQuotaExceeded)
	if u := f.usage(); u.Bytes != 0 {
		t.Fatalf("usage %d after the refusal, want 0", u.Bytes)
	}
}
