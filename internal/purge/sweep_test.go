package purge_test

// The sweeps of what no row references, and purgers running side by side.

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"fileshare/internal/blob"
	"fileshare/internal/config"
	"fileshare/internal/purge"
	"fileshare/internal/testutil"
)

func writeBlob(t testing.TB, e *testutil.Env, key string, content []byte, mtime time.Time) string {
	t.Helper()
	p := filepath.Join(e.DataDir, "blobs", filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	return p
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func TestOrphanAndTempSweepRespectGrace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.OrphanGrace = time.Hour })
	old := time.Now().Add(-2 * time.Hour)
	oldOrphan := writeBlob(t, e, blob.NewKey(blob.KindUpload), []byte("crash leftover"), old)
	freshOrphan := writeBlob(t, e, blob.NewKey(blob.KindFile), []byte("upload about to commit"), time.Now())
	// An old blob that a live row needs stays.
	id := upload(t, e, []byte("needed"), "")
	var key string
	if err := e.Store.Pool.QueryRow(context.Background(), "SELECT blob_key FROM uploads WHERE id = $1", id).Scan(&key); err != nil {
		t.Fatal(err)
	}
	needed := filepath.Join(e.DataDir, "blobs", filepath.FromSlash(key))
	os.Chtimes(needed, old, old)
	// A stored session file too.
	_, fid, _ := sessionWithFile(t, e, []byte("file"))
	if err := e.Store.Pool.QueryRow(context.Background(), "SELECT blob_key FROM session_files WHERE id = $1", fid).Scan(&key); err != nil {
		t.Fatal(err)
	}
	neededFile := filepath.Join(e.DataDir, "blobs", filepath.FromSlash(key))
	os.Chtimes(neededFile, old, old)
	// Uploads in progress: one left by a crash and one being written now, in a blob
	// directory, and the same in tmp/ (where earlier versions wrote them).
	shard := filepath.Join(e.DataDir, "blobs", "u", "ab")
	os.MkdirAll(shard, 0o750)
	oldTemp := filepath.Join(shard, ".upload-crashed")
	freshTemp := filepath.Join(shard, ".upload-inprogress")
	oldLegacy := filepath.Join(e.DataDir, "tmp", "upload-crashed")
	freshLegacy := filepath.Join(e.DataDir, "tmp", "upload-inprogress")
	for _, p := range []string{oldTemp, freshTemp, oldLegacy, freshLegacy} {
		os.WriteFile(p, []byte("x"), 0o640)
	}
	os.Chtimes(oldTemp, old, old)
	os.Chtimes(oldLegacy, old, old)

	res := runOnce(t, e.App.Purger)
	if res.OrphansRemoved != 1 || res.TempFilesRemoved != 2 {
		t.Fatalf("result %+v, want 1 orphan and 2 temp files", res)
	}
	for p, want := range map[string]bool{oldOrphan: false, freshOrphan: true, needed: true, neededFile: true, oldTemp: false, freshTemp: true, oldLegacy: false, freshLegacy: true} {
		if exists(p) != want {
			t.Errorf("%s exists = %v, want %v", p, !want, want)
		}
	}
	if code, _ := status(t, e, "/uploads/"+id); code != http.StatusOK {
		t.Fatalf("needed upload after sweep: %d", code)
	}
}

// seedExpired inserts n expired uploads of tenant acme with a small blob each, directly, in
// chunks of 10,000.
func seedExpired(t testing.TB, e *testutil.Env, n int) {
	t.Helper()
	const chunk = 10_000
	for done := 0; done < n; done += chunk {
		keys := make([]string, min(chunk, n-done))
		for i := range keys {
			keys[i] = blob.NewKey(blob.KindUpload)
			writeBlob(t, e, keys[i], []byte("expired"), time.Now())
		}
		testutil.Exec(t, e, `INSERT INTO uploads (id, tenant_id, created_by, name, content_type, size, sha256, blob_key, created_at, expires_at)
			SELECT gen_random_uuid(), (SELECT id FROM tenants WHERE name = 'acme'), 'alice@acme', 'f', 'text/plain', 7,
			       sha256('expired'::bytea), k, now() - interval '2 hours', now() - interval '1 hour'
			FROM unnest($1::text[]) AS k`, keys)
	}
}

func TestParallelPurgersHandleEachRowOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 3000
	seedExpired(t, e, n)
	const purgers = 4
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		total   int64
		errs    []error
		results []purge.Result
	)
	start := make(chan struct{})
	for range purgers {
		p := purge.New(e.Store, e.App.Blobs, slog.New(slog.DiscardHandler), purge.Options{BatchSize: 100, OrphanGrace: time.Hour, TombstoneRetention: time.Hour})
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := p.RunOnce(context.Background())
			mu.Lock()
			defer mu.Unlock()
			total += r.UploadsExpired
			results = append(results, r)
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("purgers failed: %v", errs)
	}
	if total != n {
		t.Fatalf("uploads expired in all: %d, want each of %d exactly once (%+v)", total, n, results)
	}
	if left := testutil.QueryInt(t, e, "SELECT count(*) FROM uploads WHERE purged_at IS NULL"); left != 0 {
		t.Fatalf("%d uploads not purged", left)
	}
	if files := testutil.BlobFiles(t, e.DataDir); len(files) != 0 {
		t.Fatalf("%d blobs left", len(files))
	}
}
