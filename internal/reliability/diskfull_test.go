package reliability_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"fileshare/internal/blob"
	"fileshare/internal/server"
	"fileshare/internal/store"
	"fileshare/internal/testutil"
)

const (
	fullLogin, fullPassword = "ops@full", "full-password"
	// fsSize is the size of the small filesystem (or of the injected quota).
	fsSize = 2 << 20
)

// TestDiskFull fills the data directory: an upload that does not fit answers 507
// {"message":"insufficient storage"} and leaves no row, no blob and no temp file, a session PUT
// that does not fit leaves its entry pending; once space is freed, the same uploads work.
//
// "tmpfs" mounts a real 2 MiB filesystem as the data directory (the test runs as root in CI);
// where mounting is not allowed it runs on an injected ENOSPC instead, as "injected" always does.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	t.Run("tmpfs", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
			t.Logf("cannot mount a tmpfs (%v): running on an injected ENOSPC instead", err)
			testDiskFull(t, injectedFullDisk(t, dir))
			return
		}
		t.Cleanup(func() {
			if err := syscall.Unmount(dir, 0); err != nil {
				t.Errorf("unmount %s: %v", dir, err)
			}
		})
		testDiskFull(t, realDisk(t, dir))
	})
	t.Run("injected", func(t *testing.T) {
		t.Parallel()
		testDiskFull(t, injectedFullDisk(t, t.TempDir()))
	})
}

// fullFixture is where a disk-full test runs: a data directory and the blob store on it.
type fullFixture struct {
	dataDir string
	blobs   blob.Store
	kind    string
}

func realDisk(t *testing.T, dir string) fullFixture {
	d, err := blob.NewDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	return fullFixture{dataDir: dir, blobs: d, kind: "tmpfs of 2 MiB"}
}

func injectedFullDisk(t *testing.T, dir string) fullFixture {
	d, err := blob.NewDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	q := &quotaStore{Store: d, dir: dir}
	q.free = fsSize
	return fullFixture{dataDir: dir, blobs: q, kind: "injected ENOSPC at 2 MiB"}
}

// quotaStore is a disk store with room for only so many bytes: writing past them fails as a
// full disk does (the disk store removes its temp file, the error is ENOSPC).
type quotaStore struct {
	blob.Store
	dir  string
	mu   sync.Mutex
	free int64
}

var errQuota = errors.New("quota")

type quotaReader struct {
	r    io.Reader
	left int64
}

func (q *quotaReader) Read(p []byte) (int, error) {
	n, err := q.r.Read(p)
	q.left -= int64(n)
	if q.left < 0 {
		return 0, errQuota
	}
	return n, err
}

func (q *quotaStore) Put(ctx context.Context, key string, r io.Reader) (blob.Info, error) {
	q.mu.Lock()
	free := q.free
	q.mu.Unlock()
	info, err := q.Store.Put(ctx, key, &quotaReader{r: r, left: free})
	if errors.Is(err, errQuota) {
		return blob.Info{}, &blob.StorageError{Err: &os.PathError{Op: "write", Path: key, Err: syscall.ENOSPC}}
	}
	if err == nil {
		q.mu.Lock()
		q.free -= info.Size
		q.mu.Unlock()
	}
	return info, err
}

func (q *quotaStore) Delete(ctx context.Context, key string) error {
	var size int64
	if fi, err := os.Stat(filepath.Join(q.dir, "blobs", filepath.FromSlash(key))); err == nil {
		size = fi.Size()
	}
	err := q.Store.Delete(ctx, key)
	if err == nil {
		q.mu.Lock()
		q.free += size
		q.mu.Unlock()
	}
	return err
}

// serveWith serves the service assembled on blobs instead of its own disk store.
func serveWith(t *testing.T, st *store.Store, blobs blob.Store) string {
	cfg := testutil.DefaultConfig()
	cfg.DataDir = t.TempDir()
	app, err := server.Assemble(cfg, st, blobs, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler)
	t.Cleanup(srv.Close)
	return srv.URL
}

func testDiskFull(t *testing.T, f fullFixture) {
	dbURL := testutil.NewDatabase(t)
	st, err := store.Open(context.Background(), dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	addUser(t, st, fullLogin, fullPassword)
	hc := newClient(30 * time.Second)
	t.Cleanup(hc.CloseIdleConnections)
	c := client{t: t, c: hc, base: serveWith(t, st, f.blobs), login: fullLogin, password: fullPassword}

	a := content(10, 1200<<10)
	b := content(11, 1500<<10)
	small := content(12, 300<<10)
	aID := c.upload("a.bin", a)

	insufficient := func(ans answer, what string) {
		t.Helper()
		if ans.status != http.StatusInsufficientStorage || string(ans.body) != `{"message":"insufficient storage"}` {
			t.Errorf("%s on a full disk: %d %s", what, ans.status, ans.body)
		}
	}
	countRows := func() (uploads, stored int) {
		t.Helper()
		err := st.Pool.QueryRow(context.Background(),
			`SELECT (SELECT count(*) FROM uploads), (SELECT count(*) FROM session_files WHERE state = 'stored')`).Scan(&uploads, &stored)
		if err != nil {
			t.Fatal(err)
		}
		return uploads, stored
	}

	// Does not fit: 507, and nothing of it is left.
	body, ctype := multipartBody(t, "b.bin", b)
	insufficient(c.must("POST", "/uploads", body, ctype, http.StatusInsufficientStorage), "POST /uploads")
	sid := c.session()
	var e struct{ ID string }
	c.decode(c.must("POST", "/sessions/"+sid+"/files", strings.NewReader(`{"name":"s.bin"}`), "application/json", http.StatusCreated), &e)
	insufficient(c.must("PUT", "/sessions/"+sid+"/files/"+e.ID, bytes.NewReader(b), "application/octet-stream", http.StatusInsufficientStorage), "PUT file")
	mp, mpType := multipartBody(t, "s.bin", b)
	insufficient(c.must("PUT", "/sessions/"+sid+"/files/"+e.ID, mp, mpType, http.StatusInsufficientStorage), "PUT file (multipart)")
	if uploads, stored := countRows(); uploads != 1 || stored != 0 {
		t.Errorf("after the failed uploads: %d uploads and %d stored files, want 1 and 0", uploads, stored)
	}
	checkStorage(t, st, f.dataDir, nil) // no temp file, no blob without its row
	var files []struct{ State string }
	c.decode(c.must("GET", "/sessions/"+sid+"/files", nil, "", http.StatusOK), &files)
	if len(files) != 1 || files[0].State != "pending" {
		t.Errorf("file entries after a failed PUT: %+v, want one pending", files)
	}

	// Space returns: the same uploads work.
	c.must("DELETE", "/uploads/"+aID, nil, "", http.StatusNoContent)
	bID := c.upload("b.bin", b)
	c.must("PUT", "/sessions/"+sid+"/files/"+e.ID, bytes.NewReader(small), "application/octet-stream", http.StatusOK)
	if got := c.must("GET", "/uploads/"+bID, nil, "", http.StatusOK).body; testutil.SHA256(got) != testutil.SHA256(b) {
		t.Error("upload after space returned: downloaded content differs")
	}
	if got := c.must("GET", c.token(sid, e.ID), nil, "", http.StatusOK).body; testutil.SHA256(got) != testutil.SHA256(small) {
		t.Error("file after space returned: downloaded content differs")
	}
	checkStorage(t, st, f.dataDir, nil)
	if left := testutil.TempFiles(t, f.dataDir); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
	figure(t, "%s: 3 uploads past the free space (POST, raw PUT, multipart PUT) → 507; no row, no blob, no temp file left, entry still pending; once space was freed both stored and downloaded intact", f.kind)
}
