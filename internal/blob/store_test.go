package blob_test

// This file is over 400 lines: the conformance suite both blob stores (disk and S3) must pass, kept in one place so they are tested alike.

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sort"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"fileshare/internal/blob"
	"fileshare/internal/testutil"
)

// The contract of blob.Store: every test here runs, unchanged, against the disk store and the
// S3 store on a real MinIO.

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.StopMinIO()
	os.Exit(code)
}

// storeCase is a store under test, with a look behind it: leftovers lists everything the
// store holds that is not a complete blob (temp files, incomplete multipart uploads) or that a
// failed Put should not have left (any blob at all, where the test put none that succeeded).
type storeCase struct {
	name string
	// open makes a store; the S3 one uploads in parts of partSize.
	open func(t *testing.T, partSize int) (blob.Store, func() []string)
}

// partSize is S3's smallest, so that the tests cross part boundaries with little data.
const partSize = 5 << 20

var storeCases = []storeCase{
	{"disk", func(t *testing.T, _ int) (blob.Store, func() []string) {
		dir := t.TempDir()
		d, err := blob.NewDisk(dir)
		if err != nil {
			t.Fatal(err)
		}
		return d, func() []string {
			var left []string
			filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					left = append(left, p)
				}
				return err
			})
			return left
		}
	}},
	{"s3", func(t *testing.T, partSize int) (blob.Store, func() []string) {
		m := testutil.StartMinIO(t)
		bucket := testutil.NewBucketName()
		opt := m.S3Options(bucket, "blobs/")
		opt.PartSize = partSize
		s, err := blob.NewS3(context.Background(), opt)
		if err != nil {
			t.Fatal(err)
		}
		return s, func() []string {
			left := m.Objects(t, bucket)
			for _, u := range m.IncompleteUploads(t, bucket) {
				left = append(left, "incomplete upload of "+u)
			}
			return left
		}
	}},
}

// eachStore runs test as a parallel subtest per store.
func eachStore(t *testing.T, test func(t *testing.T, s blob.Store, leftovers func() []string)) {
	for _, c := range storeCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, leftovers := c.open(t, partSize)
			test(t, s, leftovers)
		})
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	crand.Read(b)
	return b
}

func put(t *testing.T, s blob.Store, data []byte) string {
	t.Helper()
	key := blob.NewKey(blob.KindUpload)
	info, err := s.Put(context.Background(), key, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("put %d bytes: %v", len(data), err)
	}
	if info.Size != int64(len(data)) || info.SHA256 != sha256.Sum256(data) {
		t.Fatalf("put %d bytes: info %d %x, want %d %x", len(data), info.Size, info.SHA256, len(data), sha256.Sum256(data))
	}
	return key
}

func readAll(t *testing.T, s blob.Store, key string, size int64) []byte {
	t.Helper()
	r, err := s.Get(context.Background(), key, 0, size)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

func walk(t *testing.T, s blob.Store, olderThan time.Time) []string {
	t.Helper()
	var keys []string
	if err := s.Walk(context.Background(), olderThan, func(k string) error {
		keys = append(keys, k)
		return nil
	}); err != nil {
		t.Fatalf("walk: %v", err)
	}
	sort.Strings(keys)
	return keys
}

func sorted(keys ...string) []string {
	keys = append([]string(nil), keys...)
	sort.Strings(keys)
	return keys
}

func sameKeys(a, b []string) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// Sizes around the S3 store's boundaries: one PUT up to 256 KiB, then parts.
func TestPutOpen(t *testing.T) {
	t.Parallel()
	sizes := []int{0, 1, 5, 256<<10 - 1, 256 << 10, 256<<10 + 1, partSize, partSize + 1, 2*partSize + 3}
	eachStore(t, func(t *testing.T, s blob.Store, leftovers func() []string) {
		var keys []string
		for _, n := range sizes {
			data := randomBytes(n)
			key := put(t, s, data)
			keys = append(keys, key)
			if got := readAll(t, s, key, int64(n)); !bytes.Equal(got, data) {
				t.Fatalf("%d bytes: read back %d different bytes", n, len(got))
			}
		}
		if got := walk(t, s, time.Now().Add(time.Minute)); !sameKeys(got, sorted(keys...)) {
			t.Fatalf("walk: %v, want %v", got, sorted(keys...))
		}
		if got := len(leftovers()); got != len(sizes) {
			t.Fatalf("the store holds %d things for %d blobs: %v", got, len(sizes), leftovers())
		}
	})
}

func TestRangeReads(t *testing.T) {
	t.Parallel()
	data := randomBytes(1<<20 + 17)
	size := int64(len(data))
	eachStore(t, func(t *testing.T, s blob.Store, _ func() []string) {
		key := put(t, s, data)
		for _, r := range []struct{ off, n int64 }{
			{0, 10}, {10, 100}, {size - 5, 5}, {12345, 500000}, {3, 1}, {0, size}, {size - 1, 1},
		} {
			rc, err := s.Get(context.Background(), key, r.off, r.n)
			if err != nil {
				t.Fatalf("get %d@%d: %v", r.n, r.off, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatalf("read %d@%d: %v", r.n, r.off, err)
			}
			if !bytes.Equal(got, data[r.off:r.off+r.n]) {
				t.Fatalf("read %d@%d: %d wrong bytes", r.n, r.off, len(got))
			}
		}
		// A range read through WriteTo (the zero-copy path of a download) sends the same.
		rc, err := s.Get(context.Background(), key, 100, size-100)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, rc); err != nil || !bytes.Equal(buf.Bytes(), data[100:]) {
			t.Fatalf("copy from 100: %d bytes, %v", buf.Len(), err)
		}
		rc.Close()
	})
}

// A body that ends with an error, such as io.ErrUnexpectedEOF of a request body cut short,
// fails the Put and leaves nothing: it is never stored as if complete, whatever the context.
func TestPutRefusesTruncatedBody(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s blob.Store, leftovers func() []string) {
		for _, n := range []int{0, 1000, 300 << 10, partSize + 5} {
			body := io.MultiReader(bytes.NewReader(randomBytes(n)), iotest.ErrReader(io.ErrUnexpectedEOF))
			key := blob.NewKey(blob.KindFile)
			if _, err := s.Put(context.Background(), key, body); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%d bytes then a cut: Put = %v, want io.ErrUnexpectedEOF", n, err)
			}
			if nf, err := isNotFound(s, key); !nf {
				t.Fatalf("%d bytes then a cut: the blob exists (%v)", n, err)
			}
		}
		if left := leftovers(); len(left) != 0 {
			t.Fatalf("truncated bodies left %v", left)
		}
	})
}

// isNotFound reports whether getting key fails with ErrNotFound.
func isNotFound(s blob.Store, key string) (bool, error) {
	r, err := s.Get(context.Background(), key, 0, 10)
	if err != nil {
		return errors.Is(err, blob.ErrNotFound), err
	}
	r.Close()
	return false, nil
}

func TestNotFoundAndDelete(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s blob.Store, leftovers func() []string) {
		if nf, err := isNotFound(s, blob.NewKey(blob.KindFile)); !nf {
			t.Fatalf("a key never put: %v, want ErrNotFound", err)
		}
		if nf, err := isNotFound(s, "../../etc/passwd"); !nf {
			t.Fatalf("an invalid key: %v, want ErrNotFound", err)
		}
		a, b := put(t, s, []byte("first blob")), put(t, s, []byte("second"))
		if err := s.Delete(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		if nf, err := isNotFound(s, a); !nf {
			t.Fatalf("a deleted blob: %v, want ErrNotFound", err)
		}
		if err := s.Delete(context.Background(), a); err != nil {
			t.Fatalf("deleting a missing blob: %v", err)
		}
		if got := string(readAll(t, s, b, 6)); got != "second" {
			t.Fatalf("the other blob reads %q", got)
		}
		if err := s.Delete(context.Background(), "not/a/key"); err == nil {
			t.Fatal("deleting an invalid key succeeded")
		}
		if got := leftovers(); len(got) != 1 {
			t.Fatalf("after deleting one of two blobs the store holds %v", got)
		}
	})
}

func TestWalk(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s blob.Store, _ func() []string) {
		keys := []string{put(t, s, []byte("a")), put(t, s, []byte("bb")), put(t, s, nil)}
		if got := walk(t, s, time.Now().Add(-time.Hour)); len(got) != 0 {
			t.Fatalf("walk of blobs older than an hour: %v", got)
		}
		if got := walk(t, s, time.Now().Add(time.Minute)); !sameKeys(got, sorted(keys...)) {
			t.Fatalf("walk: %v, want %v", got, sorted(keys...))
		}
		// The purge deletes while it walks.
		var seen []string
		err := s.Walk(context.Background(), time.Now().Add(time.Minute), func(k string) error {
			seen = append(seen, k)
			return s.Delete(context.Background(), k)
		})
		if err != nil || len(seen) != 3 {
			t.Fatalf("walk deleting: %v, saw %v", err, seen)
		}
		if got := walk(t, s, time.Now().Add(time.Minute)); len(got) != 0 {
			t.Fatalf("walk after deleting all: %v", got)
		}
		put(t, s, []byte("x"))
		put(t, s, []byte("y"))
		stop := errors.New("stop")
		n := 0
		err = s.Walk(context.Background(), time.Now().Add(time.Minute), func(string) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Fatalf("walk stopped by fn: %v after %d calls", err, n)
		}
	})
}

// failingReader gives n bytes, then fails with err.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// A failed Put leaves nothing: no blob, no temp file, no incomplete multipart upload.
func TestFailedPutLeavesNothing(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s blob.Store, leftovers func() []string) {
		readerErr := errors.New("client went away")
		for _, n := range []int{0, 10, 300 << 10, 2*partSize + 5} {
			key := blob.NewKey(blob.KindFile)
			_, err := s.Put(context.Background(), key, &failingReader{bytes.NewReader(randomBytes(n)), readerErr})
			if !errors.Is(err, readerErr) {
				t.Fatalf("reader failing after %d bytes: Put returned %v", n, err)
			}
			// The HTTP layer answers a storage error with 500 and a reader error with 400.
			var se *blob.StorageError
			if errors.As(err, &se) {
				t.Fatalf("reader failing after %d bytes: reported as a storage error: %v", n, err)
			}
			if nf, err := isNotFound(s, key); !nf {
				t.Fatalf("reader failing after %d bytes: the key answers %v", n, err)
			}
			if left := leftovers(); len(left) != 0 {
				t.Fatalf("reader failing after %d bytes left %v", n, left)
			}
		}
		// A cancelled request, in the middle of a multipart upload.
		ctx, cancel := context.WithCancel(context.Background())
		r := &hookReader{r: bytes.NewReader(randomBytes(3 * partSize)), at: partSize + 1<<20, hook: cancel}
		_, err := s.Put(ctx, blob.NewKey(blob.KindFile), r)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled put: %v", err)
		}
		if left := leftovers(); len(left) != 0 {
			t.Fatalf("cancelled put left %v", left)
		}
		if n, err := s.SweepTemp(context.Background(), time.Now().Add(time.Minute)); n != 0 || err != nil {
			t.Fatalf("sweep after failed puts: %d removed, %v", n, err)
		}
	})
}

// hookReader calls hook once, when at bytes have been read.
type hookReader struct {
	r    io.Reader
	read int
	at   int
	hook func()
}

func (h *hookReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if h.read < h.at && h.read+n >= h.at {
		h.hook()
	}
	h.read += n
	return n, err
}

// blockingReader gives limit bytes, then signals blocked and waits for release, then fails.
type blockingReader struct {
	r       io.Reader
	left    int
	blocked chan struct{}
	release chan error
	once    sync.Once
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if b.left == 0 {
		b.once.Do(func() { close(b.blocked) })
		return 0, <-b.release
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
}

// An upload interrupted for good (its instance crashed) leaves a temp file or an incomplete
// multipart upload; SweepTemp removes it once older than the cut-off, and not before.
func TestSweepTemp(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s blob.Store, leftovers func() []string) {
		kept := put(t, s, []byte("complete blob"))
		// Past the first part, so that the S3 store has started a multipart upload.
		r := &blockingReader{r: bytes.NewReader(randomBytes(partSize + 1<<20)), left: partSize + 1<<20,
			blocked: make(chan struct{}), release: make(chan error, 1)}
		key := blob.NewKey(blob.KindFile)
		putErr := make(chan error, 1)
		go func() {
			_, err := s.Put(context.Background(), key, r)
			putErr <- err
		}()
		select {
		case <-r.blocked:
		case err := <-putErr:
			t.Fatalf("put ended before its reader blocked: %v", err)
		case <-time.After(time.Minute):
			t.Fatal("the reader was not drained within a minute")
		}
		if left := leftovers(); len(left) != 2 {
			t.Fatalf("during an interrupted upload the store holds %v, want the blob and a leftover", left)
		}
		if n, err := s.SweepTemp(context.Background(), time.Now().Add(-time.Hour)); n != 0 || err != nil {
			t.Fatalf("sweep of leftovers older than an hour: %d removed, %v", n, err)
		}
		if n, err := s.SweepTemp(context.Background(), time.Now().Add(time.Minute)); n != 1 || err != nil {
			t.Fatalf("sweep: %d removed, %v; want 1", n, err)
		}
		if left := leftovers(); len(left) != 1 {
			t.Fatalf("after the sweep the store holds %v, want only the complete blob", left)
		}
		r.release <- errors.New("connection reset")
		if err := <-putErr; err == nil {
			t.Fatal("the swept upload succeeded")
		}
		if left := leftovers(); len(left) != 1 {
			t.Fatalf("after the failed upload the store holds %v", left)
		}
		if got := readAll(t, s, kept, 13); string(got) != "complete blob" {
			t.Fatalf("the complete blob reads %q", got)
		}
	})
}

func TestConcurrentPuts(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s blob.Store, leftovers func() []string) {
		const n = 12
		keys := make([]string, n)
		datas := make([][]byte, n)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			size := 1000 * i
			if i%4 == 3 {
				size = partSize + 1000*i // a few multipart uploads among them
			}
			datas[i] = randomBytes(size)
			keys[i] = blob.NewKey(blob.KindUpload)
			wg.Add(1)
			go func() {
				defer wg.Done()
				info, err := s.Put(context.Background(), keys[i], bytes.NewReader(datas[i]))
				if err == nil && (info.Size != int64(size) || info.SHA256 != sha256.Sum256(datas[i])) {
					err = fmt.Errorf("put %d: wrong info %d %x", i, info.Size, info.SHA256)
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := range n {
			if got := readAll(t, s, keys[i], int64(len(datas[i]))); !bytes.Equal(got, datas[i]) {
				t.Fatalf("blob %d reads back wrong", i)
			}
		}
		if got := walk(t, s, time.Now().Add(time.Minute)); !sameKeys(got, sorted(keys...)) {
			t.Fatalf("walk: %d keys, want %d", len(got), n)
		}
		if left := leftovers(); len(left) != n {
			t.Fatalf("the store holds %d things for %d blobs", len(left), n)
		}
	})
}

// heapBytes is the heap's live and not yet collected objects, read without stopping the world.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// genReader gives left bytes, block over and over, without holding them, and notes the heap's
// peak.
type genReader struct {
	block []byte
	off   int
	left  int64
	peak  uint64
	next  int64
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n := copy(p, g.block[g.off:])
	g.off = (g.off + n) % len(g.block)
	p = p[:n]
	g.left -= int64(n)
	if g.left <= g.next {
		g.peak = max(g.peak, heapBytes())
		g.next -= 256 << 10
	}
	return len(p), nil
}

// peakWriter hashes what it is given and notes the heap's peak.
type peakWriter struct {
	h    io.Writer
	n    int64
	peak uint64
}

func (w *peakWriter) Write(p []byte) (int, error) {
	w.h.Write(p)
	if w.n/(256<<10) != (w.n+int64(len(p)))/(256<<10) {
		w.peak = max(w.peak, heapBytes())
	}
	w.n += int64(len(p))
	return len(p), nil
}

// A 64 MiB blob goes in and out with the heap growing by a bounded amount, far below its size.
// Not parallel: the heap is the whole test binary's, so this runs while no other test does.
func TestLargeBlobBoundedMemory(t *testing.T) {
	const size = 64 << 20
	for _, c := range storeCases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := c.open(t, blob.DefaultPartSize)
			// Odd-sized, so that parts do not all hold the same bytes.
			block := randomBytes(1<<20 + 7)
			want := sha256.New()
			io.Copy(want, &genReader{block: block, left: size, next: -1})

			runtime.GC()
			base := heapBytes()
			g := &genReader{block: block, left: size, next: size}
			key := blob.NewKey(blob.KindUpload)
			start := time.Now()
			info, err := s.Put(context.Background(), key, g)
			if err != nil {
				t.Fatal(err)
			}
			putTime := time.Since(start)
			if info.Size != size || !bytes.Equal(info.SHA256[:], want.Sum(nil)) {
				t.Fatalf("put: info %d %x", info.Size, info.SHA256)
			}
			putGrowth := int64(g.peak) - int64(base)

			runtime.GC()
			base = heapBytes()
			h := sha256.New()
			w := &peakWriter{h: h}
			start = time.Now()
			obj, err := s.Get(context.Background(), key, 0, size)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(w, obj); err != nil {
				t.Fatal(err)
			}
			getTime := time.Since(start)
			obj.Close()
			if w.n != size || !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
				t.Fatalf("read back %d bytes, different", w.n)
			}
			getGrowth := int64(w.peak) - int64(base)
			t.Logf("%s, 64 MiB: put %.0f MB/s, heap +%.1f MiB; read %.0f MB/s, heap +%.1f MiB",
				c.name, size/1e6/putTime.Seconds(), float64(putGrowth)/(1<<20), size/1e6/getTime.Seconds(), float64(getGrowth)/(1<<20))
			// The S3 store holds at most two 8 MiB part buffers; a store that buffered the
			// blob would grow by 64 MiB.
			if putGrowth > 32<<20 {
				t.Errorf("put of 64 MiB grew the heap by %.1f MiB", float64(putGrowth)/(1<<20))
			}
			if getGrowth > 8<<20 {
				t.Errorf("read of 64 MiB grew the heap by %.1f MiB", float64(getGrowth)/(1<<20))
			}
		})
	}
}
