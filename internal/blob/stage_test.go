package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"fileshare/internal/blob"
)

// The contract of blob.Stager, on both stores: appends of any size, across S3's part size and
// its 5 MiB minimum, each durable when it returns; an append that is not recorded is as if it
// never happened; a body that breaks keeps what came in; Seal makes exactly the staged bytes
// the blob; RemoveStage leaves nothing; SweepTemp leaves staging areas alone.

// stageAppend appends data from st and fails the test on error.
func stageAppend(t *testing.T, s blob.Store, key string, st blob.Stage, data []byte) blob.Stage {
	t.Helper()
	next, err := s.Append(context.Background(), key, st, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("append %d bytes at %d: %v", len(data), st.Size, err)
	}
	if next.Size != st.Size+int64(len(data)) {
		t.Fatalf("append %d bytes at %d: size %d", len(data), st.Size, next.Size)
	}
	return next
}

func TestStageAppendSeal(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s blob.Store, leftovers func() []string) {
		ctx := context.Background()
		// Chunks below, at and across the 5 MiB minimum and the part size.
		chunks := []int{1, 100 << 10, 3 << 20, partSize - 1, 2, 6 << 20, 11 << 20, 0, 4 << 20}
		var want []byte
		key := blob.NewKey(blob.KindUpload)
		st, err := s.CreateStage(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range chunks {
			data := randomBytes(n)
			if i == 3 {
				// An append that is not recorded: the next one starts from st again.
				if _, err := s.Append(ctx, key, st, bytes.NewReader(randomBytes(7<<20))); err != nil {
					t.Fatal(err)
				}
			}
			st = stageAppend(t, s, key, st, data)
			want = append(want, data...)
		}
		// A body that breaks off: what came in before is kept.
		broken := randomBytes(2 << 20)
		next, err := s.Append(ctx, key, st, &failingReader{r: bytes.NewReader(broken), err: io.ErrUnexpectedEOF})
		if !errors.Is(err, io.ErrUnexpectedEOF) || next.Size != st.Size+int64(len(broken)) {
			t.Fatalf("broken append: size %d, %v", next.Size, err)
		}
		st = next
		want = append(want, broken...)
		if _, err := s.Get(ctx, key, 0, 1); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("a staged blob can be read before its seal: %v", err)
		}
		if keys := walk(t, s, time.Now().Add(time.Hour)); len(keys) != 0 {
			t.Fatalf("Walk lists staged blobs: %v", keys)
		}
		var stages []string
		s.WalkStages(ctx, time.Now().Add(time.Minute), func(k string) error { stages = append(stages, k); return nil })
		if len(stages) != 1 || stages[0] != key {
			t.Fatalf("WalkStages: %v, want %s", stages, key)
		}
		if n, err := s.SweepTemp(ctx, time.Now().Add(time.Minute)); n != 0 || err != nil {
			t.Fatalf("SweepTemp removed %d (%v) of a staging area", n, err)
		}
		if _, err := s.Seal(ctx, key, st); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, s, key, int64(len(want))); !bytes.Equal(got, want) {
			t.Fatalf("sealed blob: %d bytes differ from the %d staged", len(got), len(want))
		}
		if err := s.RemoveStage(ctx, key); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, s, key, int64(len(want))); !bytes.Equal(got, want) {
			t.Fatal("RemoveStage took the sealed blob")
		}
		if left := leftovers(); len(left) != 1 {
			t.Fatalf("after the seal and RemoveStage the store holds %v, want the blob only", left)
		}
	})
}

// Small uploads: all of it in the tail (S3 seals without a multipart upload), an empty one,
// and a seal that is repeated after its commit failed (the blob deleted).
func TestStageSmallAndResealed(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s blob.Store, leftovers func() []string) {
		ctx := context.Background()
		for _, size := range []int{0, 1, 300 << 10} {
			key := blob.NewKey(blob.KindFile)
			st, err := s.CreateStage(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			data := randomBytes(size)
			if size > 0 {
				st = stageAppend(t, s, key, st, data[:size/2])
				st = stageAppend(t, s, key, st, data[size/2:])
			}
			reusable, err := s.Seal(ctx, key, st)
			if err != nil || !reusable {
				t.Fatalf("seal of %d bytes: reusable %v, %v", size, reusable, err)
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Seal(ctx, key, st); err != nil {
				t.Fatalf("second seal of %d bytes: %v", size, err)
			}
			if got := readAll(t, s, key, int64(size)); !bytes.Equal(got, data) {
				t.Fatalf("sealed blob of %d bytes differs", size)
			}
			if err := s.RemoveStage(ctx, key); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
		if left := leftovers(); len(left) != 0 {
			t.Fatalf("the store holds %v", left)
		}
	})
}

// RemoveStage of an unfinished upload leaves nothing: no staged bytes, no incomplete
// multipart upload; appending to it afterwards says it is lost.
func TestRemoveStage(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, s blob.Store, leftovers func() []string) {
		ctx := context.Background()
		key := blob.NewKey(blob.KindUpload)
		st, err := s.CreateStage(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		st = stageAppend(t, s, key, st, randomBytes(partSize+3<<20))
		if left := leftovers(); len(left) == 0 {
			t.Fatal("nothing staged")
		}
		if err := s.RemoveStage(ctx, key); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveStage(ctx, key); err != nil {
			t.Fatalf("second RemoveStage: %v", err)
		}
		if left := leftovers(); len(left) != 0 {
			t.Fatalf("after RemoveStage the store holds %v", left)
		}
		if _, err := s.Append(ctx, key, st, strings.NewReader("more")); !errors.Is(err, blob.ErrStageLost) {
			t.Fatalf("append to a removed staging area: %v, want ErrStageLost", err)
		}
	})
}

// A 64 MiB request appended in one go grows the heap by a bounded amount: one part buffer on
// S3, a copy buffer on disk. Not parallel, like TestLargeBlobBoundedMemory.
func TestLargeAppendBoundedMemory(t *testing.T) {
	const size = 64 << 20
	for _, c := range storeCases {
		t.Run(c.name, func(t *testing.T) {
			s, _ := c.open(t, blob.DefaultPartSize)
			ctx := context.Background()
			block := randomBytes(1<<20 + 7)
			want := sha256.New()
			io.Copy(want, &genReader{block: block, left: size, next: -1})
			key := blob.NewKey(blob.KindUpload)
			st, err := s.CreateStage(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			// A small first request, so that the big one starts from a tail.
			first := make([]byte, 3<<20)
			g := &genReader{block: block, left: size, next: -1}
			io.ReadFull(g, first)
			st = stageAppend(t, s, key, st, first)
			runtime.GC()
			base := heapBytes()
			g.next = g.left
			start := time.Now()
			st, err = s.Append(ctx, key, st, g)
			if err != nil || st.Size != size {
				t.Fatalf("append: %d, %v", st.Size, err)
			}
			elapsed := time.Since(start)
			growth := int64(g.peak) - int64(base)
			t.Logf("%s, 61 MiB appended at %.0f MB/s, heap +%.1f MiB", c.name, (size-3<<20)/1e6/elapsed.Seconds(), float64(growth)/(1<<20))
			if growth > 24<<20 {
				t.Errorf("append of 61 MiB grew the heap by %.1f MiB", float64(growth)/(1<<20))
			}
			if _, err := s.Seal(ctx, key, st); err != nil {
				t.Fatal(err)
			}
			r, err := s.Get(ctx, key, 0, size)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			h := sha256.New()
			io.Copy(h, r)
			if !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
				t.Fatal("sealed blob differs")
			}
		})
	}
}
