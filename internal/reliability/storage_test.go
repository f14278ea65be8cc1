package reliability_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fileshare/internal/blob"
	"fileshare/internal/purge"
	"fileshare/internal/store"
	"fileshare/internal/testutil"
)

type blobRow struct {
	size int64
	sha  []byte
}

// liveBlobs are the blobs that rows make visible, by key.
func liveBlobs(t testing.TB, st *store.Store) map[string]blobRow {
	t.Helper()
	rows, err := st.Pool.Query(context.Background(), `
		SELECT blob_key, size, sha256 FROM uploads WHERE purged_at IS NULL
		UNION ALL
		SELECT blob_key, size, sha256 FROM session_files WHERE blob_key IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	live := map[string]blobRow{}
	for rows.Next() {
		var key string
		var b blobRow
		if err := rows.Scan(&key, &b.size, &b.sha); err != nil {
			t.Fatal(err)
		}
		live[key] = b
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return live
}

// checkStorage checks the invariants of docs/behaviour.md §3 and §6 on the database and the data directory:
// every visible row has its complete blob (right size and SHA-256, so no partial file can be
// served), no blob lacks a row, no temp file is left. Blobs in hashed were hashed before and are
// only measured (a blob never changes); it returns the number of rows checked.
func checkStorage(t testing.TB, st *store.Store, dataDir string, hashed map[string]bool) int {
	t.Helper()
	live := liveBlobs(t, st)
	for key, row := range live {
		p := filepath.Join(dataDir, "blobs", filepath.FromSlash(key))
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			t.Errorf("row without its blob: %s", key)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != row.size {
			t.Errorf("partial blob %s: %d bytes, its row says %d", key, fi.Size(), row.size)
			continue
		}
		if !hashed[key] {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if h := sha256.Sum256(b); !bytes.Equal(h[:], row.sha) {
				t.Errorf("blob %s: sha256 %x, its row says %x", key, h, row.sha)
				continue
			}
			if hashed != nil {
				hashed[key] = true
			}
		}
	}
	for _, key := range testutil.BlobFiles(t, dataDir) {
		if _, ok := live[key]; !ok {
			t.Errorf("orphan blob: %s", key)
		}
	}
	for _, name := range testutil.TempFiles(t, dataDir) {
		t.Errorf("temp file left: %s", name)
	}
	return len(live)
}

// sweepAndCheck runs a purge pass whose grace period has passed for everything, as an operator
// would after the service's own hour, then checks the storage.
func sweepAndCheck(t testing.TB, st *store.Store, dataDir string) purge.Result {
	t.Helper()
	disk, err := blob.NewDisk(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	p := purge.New(st, disk, slog.New(slog.DiscardHandler), purge.Options{OrphanGrace: time.Nanosecond, TombstoneRetention: time.Hour})
	res, err := p.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	checkStorage(t, st, dataDir, nil)
	return res
}
