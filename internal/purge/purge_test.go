package purge_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"fileshare/internal/config"
	"fileshare/internal/purge"
	"fileshare/internal/testutil"
)

const (
	login    = "alice@acme"
	password = "pw"
)

func newEnv(t testing.TB, opts ...testutil.Option) *testutil.Env {
	e := testutil.NewEnv(t, opts...)
	e.AddUser(login, password)
	return e
}

// upload stores content as a simple upload and returns its id.
func upload(t testing.TB, e *testutil.Env, content []byte, ttl string) string {
	t.Helper()
	parts := []testutil.Part{testutil.FilePart("f.bin", content)}
	if ttl != "" {
		parts = append(parts, testutil.FieldPart("ttl", ttl))
	}
	body, ctype := testutil.Multipart(t, parts...)
	req := e.NewRequest(http.MethodPost, "/uploads", login, password, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	return testutil.Decode[struct{ ID string }](t, e.Do(req), http.StatusCreated).ID
}

func status(t testing.TB, e *testutil.Env, path string) (int, string) {
	t.Helper()
	r := e.Do(e.NewRequest(http.MethodGet, path, "", "", nil))
	var m struct{ Message string }
	json.Unmarshal(r.Body, &m)
	return r.StatusCode, m.Message
}

func runOnce(t testing.TB, p *purge.Purger) purge.Result {
	t.Helper()
	r, err := p.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	return r
}

// expire moves an upload's expiry into the past, as if its ttl had run out ago.
func expireUpload(t testing.TB, e *testutil.Env, id string, ago time.Duration) {
	testutil.Exec(t, e, "UPDATE uploads SET created_at = now() - $2::interval - interval '1 hour', expires_at = now() - $2::interval WHERE id = $1",
		id, fmt.Sprintf("%d microseconds", ago.Microseconds()))
}

func TestExpiredUploadBecomesTombstoneThenGoes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.TombstoneRetention = time.Hour })
	live := upload(t, e, []byte("stays"), "")
	dead := upload(t, e, []byte("goes"), "")
	if n := len(testutil.BlobFiles(t, e.DataDir)); n != 2 {
		t.Fatalf("blobs before: %d, want 2", n)
	}
	expireUpload(t, e, dead, time.Second)

	// Expiry is decided at request time, before any purge.
	if code, msg := status(t, e, "/uploads/"+dead); code != http.StatusGone || msg != "upload expired" {
		t.Fatalf("expired before purge: %d %q", code, msg)
	}
	r := runOnce(t, e.App.Purger)
	if r.UploadsExpired != 1 || r.UploadBytes != 4 {
		t.Fatalf("result %+v, want 1 upload of 4 bytes", r)
	}
	if n := len(testutil.BlobFiles(t, e.DataDir)); n != 1 {
		t.Fatalf("blobs after purge: %d, want 1", n)
	}
	if testutil.QueryInt(t, e, "SELECT count(*) FROM uploads WHERE id = $1 AND purged_at IS NOT NULL", dead) != 1 {
		t.Fatal("expired upload is not a tombstone")
	}
	// The tombstone keeps the link answering 410.
	if code, msg := status(t, e, "/uploads/"+dead); code != http.StatusGone || msg != "upload expired" {
		t.Fatalf("tombstone: %d %q", code, msg)
	}
	if code, _ := status(t, e, "/uploads/"+live); code != http.StatusOK {
		t.Fatalf("live upload after purge: %d", code)
	}
	// A second pass within the retention keeps the tombstone.
	if r := runOnce(t, e.App.Purger); r.TombstonesDeleted != 0 || r.UploadsExpired != 0 {
		t.Fatalf("second pass %+v, want nothing", r)
	}
	// Past the retention the row goes and the link answers 404.
	expireUpload(t, e, dead, 2*time.Hour)
	if r := runOnce(t, e.App.Purger); r.TombstonesDeleted != 1 {
		t.Fatalf("pass after retention %+v, want 1 tombstone deleted", r)
	}
	if code, msg := status(t, e, "/uploads/"+dead); code != http.StatusNotFound || msg != "upload not found" {
		t.Fatalf("after retention: %d %q", code, msg)
	}
}

func TestUploadExpiresAtItsTTL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := upload(t, e, []byte("short"), "1")
	if code, _ := status(t, e, "/uploads/"+id); code != http.StatusOK {
		t.Fatalf("fresh upload: %d", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, msg := status(t, e, "/uploads/"+id)
		if code == http.StatusGone && msg == "upload expired" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("upload with ttl 1 still answers %d after 10 s", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDownloadSurvivesPurgeOfItsBlob(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	content := testutil.RandomBytes(t, 48<<20) // larger than the socket buffers, so the server blocks mid-way
	id := upload(t, e, content, "")
	resp, err := http.Get(e.URL + "/uploads/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	if _, err := io.CopyN(h, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	expireUpload(t, e, id, time.Second)
	if r := runOnce(t, e.App.Purger); r.UploadsExpired != 1 {
		t.Fatalf("purge: %+v", r)
	}
	if n := len(testutil.BlobFiles(t, e.DataDir)); n != 0 {
		t.Fatalf("blob still on disk after purge: %d", n)
	}
	if _, err := io.Copy(h, resp.Body); err != nil {
		t.Fatalf("rest of the download: %v", err)
	}
	if got, want := h.Sum(nil), sha256.Sum256(content); !bytes.Equal(got, want[:]) {
		t.Fatal("download interrupted by the purge is not intact")
	}
}
