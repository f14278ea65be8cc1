package purge_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fileshare/internal/blob"
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

// session creates a session with one stored file and returns their ids and a token URL.
func sessionWithFile(t testing.TB, e *testutil.Env, content []byte) (sid, fid, tokenURL string) {
	t.Helper()
	r := e.Do(e.NewRequest(http.MethodPost, "/sessions", login, password, nil))
	var s struct{ ID string }
	json.Unmarshal(r.Body, &s)
	req := e.NewRequest(http.MethodPost, "/sessions/"+s.ID+"/files", login, password, strings.NewReader(`{"name":"a.bin"}`))
	req.Header.Set("Content-Type", "application/json")
	r = e.Do(req)
	var f struct{ ID string }
	json.Unmarshal(r.Body, &f)
	r = e.Do(e.NewRequest(http.MethodPut, "/sessions/"+s.ID+"/files/"+f.ID, login, password, bytes.NewReader(content)))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("put: %d %s", r.StatusCode, r.Body)
	}
	r = e.Do(e.NewRequest(http.MethodPost, "/sessions/"+s.ID+"/files/"+f.ID+"/tokens", login, password, nil))
	var tok struct{ URL string }
	json.Unmarshal(r.Body, &tok)
	if tok.URL == "" {
		t.Fatalf("token: %d %s", r.StatusCode, r.Body)
	}
	return s.ID, f.ID, tok.URL
}

func TestExpiredSessionGoesWithFilesTokensAndBlobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	deadSID, _, deadToken := sessionWithFile(t, e, []byte("session one"))
	liveSID, _, liveToken := sessionWithFile(t, e, []byte("session two"))
	// A pending entry and an upload URL of the expiring session go too.
	req := e.NewRequest(http.MethodPost, "/sessions/"+deadSID+"/files", login, password, strings.NewReader(`{"name":"p"}`))
	r := e.Do(req)
	var pending struct{ ID string }
	json.Unmarshal(r.Body, &pending)
	if r := e.Do(e.NewRequest(http.MethodPost, "/sessions/"+pending.ID, login, password, nil)); r.StatusCode != http.StatusCreated {
		t.Fatalf("upload URL: %d %s", r.StatusCode, r.Body)
	}
	testutil.Exec(t, e, "UPDATE sessions SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE id = $1", deadSID)

	if code, msg := status(t, e, deadToken[strings.Index(deadToken, "/sessions/"):]); code != http.StatusGone || msg != "session expired" {
		t.Fatalf("token of expired session before purge: %d %q", code, msg)
	}
	res := runOnce(t, e.App.Purger)
	if res.SessionsExpired != 1 || res.FilesDeleted != 2 || res.FileBytes != int64(len("session one")) {
		t.Fatalf("result %+v, want 1 session, 2 files, 11 bytes", res)
	}
	for _, table := range []string{"session_files", "download_tokens", "upload_tokens"} {
		if n := testutil.QueryInt(t, e, "SELECT count(*) FROM "+table+" WHERE session_id = $1", deadSID); n != 0 {
			t.Fatalf("%s rows of the expired session: %d", table, n)
		}
	}
	if n := testutil.QueryInt(t, e, "SELECT count(*) FROM sessions WHERE id = $1 AND purged_at IS NOT NULL", deadSID); n != 1 {
		t.Fatalf("the expired session left no tombstone")
	}
	if n := len(testutil.BlobFiles(t, e.DataDir)); n != 1 {
		t.Fatalf("blobs after purge: %d, want the live session's 1", n)
	}
	if code, _ := status(t, e, liveToken[strings.Index(liveToken, "/sessions/"):]); code != http.StatusOK {
		t.Fatalf("live session's token after purge: %d", code)
	}
	if testutil.QueryInt(t, e, "SELECT count(*) FROM sessions WHERE id = $1", liveSID) != 1 {
		t.Fatal("live session purged")
	}
}

func TestSpentTokensKeptForRetentionThenDeleted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.TombstoneRetention = time.Hour })
	_, fid, used := sessionWithFile(t, e, []byte("x"))
	path := used[strings.Index(used, "/sessions/"):]
	if code, _ := status(t, e, path); code != http.StatusOK {
		t.Fatalf("first download: %d", code)
	}
	// An unused token that expired, and an expired upload URL.
	testutil.Exec(t, e, `INSERT INTO download_tokens (token_hash, file_id, session_id, tenant_id, created_by, created_at, expires_at)
		SELECT sha256('expired'::bytea), id, session_id, tenant_id, 'x', now() - interval '3 hours', now() - interval '2 hours' FROM session_files WHERE id = $1`, fid)
	testutil.Exec(t, e, `INSERT INTO upload_tokens (token_hash, file_id, session_id, tenant_id, created_by, created_at, expires_at)
		SELECT sha256('up'::bytea), id, session_id, tenant_id, 'x', now() - interval '3 hours', now() - interval '1 second' FROM session_files WHERE id = $1`, fid)

	res := runOnce(t, e.App.Purger)
	if res.TokensDeleted != 1 || res.UploadURLsDeleted != 1 {
		t.Fatalf("result %+v, want the token expired 2 h ago and the expired upload URL", res)
	}
	// The consumed token is within its retention: it still says "already used".
	if code, msg := status(t, e, path); code != http.StatusGone || msg != "download token already used" {
		t.Fatalf("consumed token within retention: %d %q", code, msg)
	}
	testutil.Exec(t, e, "UPDATE download_tokens SET consumed_at = now() - interval '2 hours'")
	if res := runOnce(t, e.App.Purger); res.TokensDeleted != 1 {
		t.Fatalf("result %+v, want the consumed token deleted", res)
	}
	if n := testutil.QueryInt(t, e, "SELECT count(*) FROM download_tokens"); n != 0 {
		t.Fatalf("%d tokens left", n)
	}
}

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

// An expired session is a tombstone: it and every route below it (its files, its token links,
// its upload URLs) answer 410 "session expired" before and after purges, until the retention
// has passed since its expiry; then 404, whether or not the purge has run.
func TestSessionTombstone(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.TombstoneRetention = time.Hour })
	sid, fid, tokenURL := sessionWithFile(t, e, []byte("tombstone"))
	r := e.Do(e.NewRequest(http.MethodPost, "/sessions/"+sid+"/files", login, password, strings.NewReader(`{"name":"p"}`)))
	var pending struct{ ID string }
	json.Unmarshal(r.Body, &pending)
	r = e.Do(e.NewRequest(http.MethodPost, "/sessions/"+pending.ID, login, password, nil))
	var up struct{ URL string }
	json.Unmarshal(r.Body, &up)
	if up.URL == "" {
		t.Fatalf("upload URL: %d %s", r.StatusCode, r.Body)
	}
	token := tokenURL[strings.Index(tokenURL, "/sessions/"):]
	upload := up.URL[strings.Index(up.URL, "/sessions/"):]
	routes := []struct {
		method, path string
		auth         bool
		body         string
	}{
		{http.MethodGet, "/sessions/" + sid, true, ""},
		{http.MethodGet, "/sessions/" + sid + "/files", true, ""},
		{http.MethodPost, "/sessions/" + sid + "/files", true, `{"name":"late"}`},
		{http.MethodPut, "/sessions/" + sid + "/files/" + pending.ID, true, "late content"},
		{http.MethodDelete, "/sessions/" + sid + "/files/" + fid, true, ""},
		{http.MethodPost, "/sessions/" + sid + "/files/" + fid + "/tokens", true, ""},
		{http.MethodGet, token, false, ""},
		{http.MethodHead, token, false, ""},
		{http.MethodPut, upload, false, "late content"},
	}
	check := func(when string, want int, wantMsg string) {
		t.Helper()
		for _, rt := range routes {
			l, p := "", ""
			if rt.auth {
				l, p = login, password
			}
			var body io.Reader
			if rt.body != "" {
				body = strings.NewReader(rt.body)
			}
			r := e.Do(e.NewRequest(rt.method, rt.path, l, p, body))
			var m struct{ Message string }
			json.Unmarshal(r.Body, &m)
			want := want
			if want == http.StatusNotFound && rt.path == upload {
				want = http.StatusUnauthorized // an upload token nobody knows
			}
			if r.StatusCode != want || (rt.method != http.MethodHead && wantMsg != "" && m.Message != wantMsg) {
				t.Errorf("%s: %s %s → %d %q, want %d %q", when, rt.method, rt.path, r.StatusCode, m.Message, want, wantMsg)
			}
		}
	}
	// An upload URL of an entry of the session (POST /sessions/{fileId}) is a route below it
	// too: 410 while the tombstone is kept, 404 past it, like every other.
	uploadURL := func(when string, want int, wantMsg string) {
		t.Helper()
		r := e.Do(e.NewRequest(http.MethodPost, "/sessions/"+pending.ID, login, password, nil))
		var m struct{ Message string }
		json.Unmarshal(r.Body, &m)
		if r.StatusCode != want || m.Message != wantMsg {
			t.Errorf("%s: POST /sessions/{fileId} → %d %q, want %d %q", when, r.StatusCode, m.Message, want, wantMsg)
		}
	}
	testutil.Exec(t, e, "UPDATE sessions SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE id = $1", sid)
	check("expired, before any purge", http.StatusGone, "session expired")
	uploadURL("expired, before any purge", http.StatusGone, "session expired")
	testutil.Exec(t, e, "UPDATE sessions SET created_at = now() - interval '3 hours', expires_at = now() - interval '61 minutes' WHERE id = $1", sid)
	uploadURL("past the retention, before the purge", http.StatusNotFound, "file not found")
	testutil.Exec(t, e, "UPDATE sessions SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE id = $1", sid)
	if res := runOnce(t, e.App.Purger); res.SessionsExpired != 1 {
		t.Fatalf("purge: %+v, want one session emptied", res)
	}
	if n := testutil.QueryInt(t, e, "SELECT count(*) FROM session_files WHERE session_id = $1", sid); n != 0 {
		t.Fatalf("%d file entries left in the tombstone", n)
	}
	check("after a purge", http.StatusGone, "session expired")
	runOnce(t, e.App.Purger)
	check("after a second purge", http.StatusGone, "session expired")

	// Past the retention: 404, first before the purge has removed the row, then after.
	testutil.Exec(t, e, "UPDATE sessions SET created_at = now() - interval '3 hours', expires_at = now() - interval '61 minutes' WHERE id = $1", sid)
	check("past the retention, before the purge", http.StatusNotFound, "")
	if res := runOnce(t, e.App.Purger); res.SessionTombstonesDeleted != 1 {
		t.Fatalf("purge: %+v, want the tombstone deleted", res)
	}
	if n := testutil.QueryInt(t, e, "SELECT count(*) FROM sessions WHERE id = $1", sid); n != 0 {
		t.Fatal("the tombstone outlived its retention")
	}
	check("past the retention, after the purge", http.StatusNotFound, "")
}
