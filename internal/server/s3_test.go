package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"fileshare/internal/blob"
	"fileshare/internal/config"
	"fileshare/internal/purge"
	"fileshare/internal/testutil"
)

// The service assembled on the S3 blob store, against a real MinIO, through the HTTP API.

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.StopMinIO()
	os.Exit(code)
}

const (
	login    = "alice@acme"
	password = "pw"
)

// s3Request is what the recording proxy saw of one request to MinIO.
type s3Request struct {
	Method, Path, Range string
	// ContentSHA256 is the payload hash the request was signed with.
	ContentSHA256 string
}

// recorder is a reverse proxy in front of MinIO that notes every request to it.
type recorder struct {
	mu   sync.Mutex
	seen []s3Request
}

func (r *recorder) requests() []s3Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]s3Request(nil), r.seen...)
}

// newS3Env serves fileshare with its blobs in a fresh bucket, reached through a recording
// proxy, so that tests can see what the service asks of S3.
func newS3Env(t *testing.T, opts ...testutil.Option) (*testutil.Env, *testutil.MinIO, string, *recorder) {
	t.Helper()
	m := testutil.StartMinIO(t)
	target, err := url.Parse(m.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, s3Request{r.Method, r.URL.Path, r.Header.Get("Range"), r.Header.Get("X-Amz-Content-Sha256")})
		rec.mu.Unlock()
		// The Host header is signed: it must reach MinIO as the client sent it.
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	bucket := testutil.NewBucketName()
	opts = append([]testutil.Option{m.WithS3(bucket), func(c *config.Config) { c.S3Endpoint = srv.URL }}, opts...)
	e := testutil.NewEnv(t, opts...)
	e.AddUser(login, password)
	return e, m, bucket, rec
}

func wantStatus(t *testing.T, r *testutil.Response, status int, what string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s: %d %.300s, want %d", what, r.StatusCode, r.Body, status)
	}
}

type uploadJSON struct {
	ID     string `json:"id"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	URL    string `json:"url"`
}

func upload(t *testing.T, e *testutil.Env, data []byte) uploadJSON {
	t.Helper()
	body, ctype := testutil.Multipart(t, testutil.FilePart("call.wav", data))
	req := e.NewRequest(http.MethodPost, "/uploads", login, password, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	u := testutil.Decode[uploadJSON](t, e.Do(req), http.StatusCreated)
	if u.Size != int64(len(data)) || u.SHA256 != testutil.SHA256(data) {
		t.Fatalf("upload answered size %d sha256 %s", u.Size, u.SHA256)
	}
	return u
}

// call sends a request as the test user with a JSON body (none when body is nil).
func call(t *testing.T, e *testutil.Env, method, path string, body any) *testutil.Response {
	t.Helper()
	return e.Sub(t).Call(method, path, login, password, body)
}

func objects(t *testing.T, m *testutil.MinIO, bucket string) []string {
	t.Helper()
	return m.Objects(t, bucket)
}

func blobKey(t *testing.T, e *testutil.Env, table, id string) string {
	t.Helper()
	var key string
	if err := e.Store.Pool.QueryRow(context.Background(), "SELECT blob_key FROM "+table+" WHERE id = $1", id).Scan(&key); err != nil {
		t.Fatal(err)
	}
	return key
}

// Simple uploads on S3: a multipart upload through the API, downloads with Range passed
// through to S3, HEAD answered from the row without asking S3, deletion.
func TestS3Uploads(t *testing.T) {
	t.Parallel()
	e, m, bucket, rec := newS3Env(t)
	wantStatus(t, e.Do(e.NewRequest(http.MethodGet, "/readyz", "", "", nil)), http.StatusOK, "readyz")

	// Larger than one 8 MiB part: a multipart upload.
	data := testutil.RandomBytes(t, blob.DefaultPartSize+3<<20)
	u := upload(t, e, data)
	key := blobKey(t, e, "uploads", u.ID)
	if got := objects(t, m, bucket); len(got) != 1 || got[0] != key {
		t.Fatalf("bucket holds %v, want only %s", got, key)
	}
	if left := m.IncompleteUploads(t, bucket); len(left) != 0 {
		t.Fatalf("incomplete uploads left: %v", left)
	}
	// Each part is signed with its own SHA-256 (which S3 checks), not sent unsigned.
	var parts []string
	for _, r := range rec.requests() {
		if r.Method == http.MethodPut && strings.HasSuffix(r.Path, key) {
			parts = append(parts, r.ContentSHA256)
		}
	}
	firstPart := sha256.Sum256(data[:blob.DefaultPartSize])
	lastPart := sha256.Sum256(data[blob.DefaultPartSize:])
	want := []string{hex.EncodeToString(firstPart[:]), hex.EncodeToString(lastPart[:])}
	// The parts go up concurrently.
	sort.Strings(parts)
	sort.Strings(want)
	if len(parts) != 2 || parts[0] != want[0] || parts[1] != want[1] {
		t.Errorf("the upload went up in PUTs signed with %v, want 2 parts signed with their SHA-256", parts)
	}

	r := e.Do(e.NewRequest(http.MethodGet, "/uploads/"+u.ID, "", "", nil))
	wantStatus(t, r, http.StatusOK, "download")
	if !bytes.Equal(r.Body, data) {
		t.Fatalf("download: %d bytes, different", len(r.Body))
	}
	if r.Header.Get("ETag") != `"`+u.SHA256+`"` || r.Header.Get("Content-Disposition") != `attachment; filename="call.wav"` {
		t.Fatalf("download headers: %v", r.Header)
	}

	before := len(rec.requests())
	req := e.NewRequest(http.MethodGet, "/uploads/"+u.ID, "", "", nil)
	req.Header.Set("Range", "bytes=100-199")
	r = e.Do(req)
	wantStatus(t, r, http.StatusPartialContent, "range download")
	if !bytes.Equal(r.Body, data[100:200]) || r.Header.Get("Content-Range") != "bytes 100-199/"+strconv.Itoa(len(data)) {
		t.Fatalf("range download: %d bytes, Content-Range %q", len(r.Body), r.Header.Get("Content-Range"))
	}
	if got := rec.requests()[before:]; len(got) != 1 || got[0].Method != http.MethodGet || got[0].Range != "bytes=100-199" {
		t.Fatalf("a range download asked S3 for %+v, want one GET of bytes=100-199", got)
	}

	// Several ranges: one GET of each from S3, in one multipart/byteranges answer.
	before = len(rec.requests())
	req = e.NewRequest(http.MethodGet, "/uploads/"+u.ID, "", "", nil)
	req.Header.Set("Range", "bytes=0-9,5000000-5000009")
	r = e.Do(req)
	wantStatus(t, r, http.StatusPartialContent, "multi-range download")
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(bytes.NewReader(r.Body), params["boundary"])
	for _, want := range [][]byte{data[0:10], data[5000000:5000010]} {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("multi-range download: %v", err)
		}
		if got, _ := io.ReadAll(p); !bytes.Equal(got, want) {
			t.Fatalf("multi-range download: part %q", p.Header.Get("Content-Range"))
		}
	}
	// One GET of exactly each range.
	if got := rec.requests()[before:]; len(got) != 2 || got[0].Range != "bytes=0-9" || got[1].Range != "bytes=5000000-5000009" {
		t.Fatalf("a multi-range download asked S3 for %+v", got)
	}

	before = len(rec.requests())
	r = e.Do(e.NewRequest(http.MethodHead, "/uploads/"+u.ID, "", "", nil))
	wantStatus(t, r, http.StatusOK, "head")
	if r.Header.Get("Content-Length") != strconv.Itoa(len(data)) {
		t.Fatalf("head: Content-Length %q", r.Header.Get("Content-Length"))
	}
	if got := rec.requests()[before:]; len(got) != 0 {
		t.Fatalf("HEAD asked S3 for %+v, want nothing", got)
	}

	wantStatus(t, call(t, e, http.MethodDelete, "/uploads/"+u.ID, nil), http.StatusNoContent, "delete")
	testutil.WantError(t, e.Do(e.NewRequest(http.MethodGet, "/uploads/"+u.ID, "", "", nil)), http.StatusNotFound, "upload not found")
	if got := objects(t, m, bucket); len(got) != 0 {
		t.Fatalf("after the delete the bucket holds %v", got)
	}

	// A blob that disappears behind the row's back (deleted between the query and the fetch)
	// answers 404, not a truncated 200.
	u = upload(t, e, []byte("short-lived"))
	// A small blob goes up in one PUT, signed with its SHA-256.
	if got := rec.requests(); got[len(got)-1].Method != http.MethodPut || got[len(got)-1].ContentSHA256 != u.SHA256 {
		t.Fatalf("a small upload's last request to S3: %+v, want a PUT signed with %s", got[len(got)-1], u.SHA256)
	}
	if err := m.Client(t).RemoveObject(context.Background(), bucket, blobKey(t, e, "uploads", u.ID), minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.WantError(t, e.Do(e.NewRequest(http.MethodGet, "/uploads/"+u.ID, "", "", nil)), http.StatusNotFound, "upload not found")
}

type session struct {
	ID string `json:"id"`
}

type file struct {
	ID    string `json:"id"`
	State string `json:"state"`
	Size  *int64 `json:"size"`
}

type token struct {
	URL string `json:"url"`
}

// Sessions, file entries and one-time tokens on S3.
func TestS3SessionsAndTokens(t *testing.T) {
	t.Parallel()
	e, m, bucket, _ := newS3Env(t)
	s := testutil.Decode[session](t, call(t, e, http.MethodPost, "/sessions", nil), http.StatusCreated)
	f := testutil.Decode[file](t, call(t, e, http.MethodPost, "/sessions/"+s.ID+"/files", map[string]any{"name": "call.wav"}), http.StatusCreated)
	data := testutil.RandomBytes(t, 300<<10)
	req := e.NewRequest(http.MethodPut, "/sessions/"+s.ID+"/files/"+f.ID, login, password, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/octet-stream")
	stored := testutil.Decode[file](t, e.Do(req), http.StatusOK)
	if stored.State != "stored" || stored.Size == nil || *stored.Size != int64(len(data)) {
		t.Fatalf("put answered %+v", stored)
	}
	if got := objects(t, m, bucket); len(got) != 1 || got[0] != blobKey(t, e, "session_files", f.ID) {
		t.Fatalf("bucket holds %v", got)
	}

	tokens := "/sessions/" + s.ID + "/files/" + f.ID + "/tokens"
	t1 := testutil.Decode[token](t, call(t, e, http.MethodPost, tokens, nil), http.StatusCreated)
	t2 := testutil.Decode[token](t, call(t, e, http.MethodPost, tokens, nil), http.StatusCreated)

	r := e.Do(e.NewRequest(http.MethodGet, t1.URL, "", "", nil))
	wantStatus(t, r, http.StatusOK, "token download")
	if !bytes.Equal(r.Body, data) || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token download: %d bytes, Cache-Control %q", len(r.Body), r.Header.Get("Cache-Control"))
	}
	testutil.WantError(t, e.Do(e.NewRequest(http.MethodGet, t1.URL, "", "", nil)), http.StatusGone, "download token already used")
	wantStatus(t, e.Do(e.NewRequest(http.MethodHead, t2.URL, "", "", nil)), http.StatusOK, "head of token 2")
	// A token's one download is the whole file, whatever Range it asks for.
	req = e.NewRequest(http.MethodGet, t2.URL, "", "", nil)
	req.Header.Set("Range", "bytes=1000-")
	r = e.Do(req)
	wantStatus(t, r, http.StatusOK, "token 2 with a range")
	if !bytes.Equal(r.Body, data) {
		t.Fatalf("token 2: %d bytes, different", len(r.Body))
	}

	// An upload URL puts the content of another entry without credentials.
	f2 := testutil.Decode[file](t, call(t, e, http.MethodPost, "/sessions/"+s.ID+"/files", map[string]any{"name": "b.bin"}), http.StatusCreated)
	uu := testutil.Decode[token](t, call(t, e, http.MethodPost, "/sessions/"+f2.ID, nil), http.StatusCreated)
	wantStatus(t, e.Do(e.NewRequest(http.MethodPut, uu.URL, "", "", strings.NewReader("via upload url"))), http.StatusOK, "put via upload URL")
	if got := objects(t, m, bucket); len(got) != 2 {
		t.Fatalf("bucket holds %v, want 2 blobs", got)
	}

	wantStatus(t, call(t, e, http.MethodDelete, "/sessions/"+s.ID, nil), http.StatusNoContent, "delete session")
	if got := objects(t, m, bucket); len(got) != 0 {
		t.Fatalf("after deleting the session the bucket holds %v", got)
	}
}

// The purge on S3: blobs of expired uploads go, orphans and stale incomplete multipart uploads
// are swept, live blobs stay.
func TestS3Purge(t *testing.T) {
	t.Parallel()
	e, m, bucket, _ := newS3Env(t, func(c *config.Config) { c.OrphanGrace = time.Millisecond })
	live := upload(t, e, []byte("live"))
	expired := upload(t, e, []byte("expired"))
	if _, err := e.Store.Pool.Exec(context.Background(),
		"UPDATE uploads SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id = $1", expired.ID); err != nil {
		t.Fatal(err)
	}
	orphan := blob.NewKey(blob.KindUpload)
	if _, err := e.App.Blobs.Put(context.Background(), orphan, strings.NewReader("crash leftover")); err != nil {
		t.Fatal(err)
	}
	// An upload whose instance died after starting it.
	core := minio.Core{Client: m.Client(t)}
	if _, err := core.NewMultipartUpload(context.Background(), bucket, blob.NewKey(blob.KindFile), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	liveKey := blobKey(t, e, "uploads", live.ID)
	// The cut-off is a millisecond before each pass: pass until it has overtaken the leftovers
	// (S3 times have millisecond precision), and count what all passes removed.
	var total purge.Result
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := e.App.Purger.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		total.UploadsExpired += res.UploadsExpired
		total.OrphansRemoved += res.OrphansRemoved
		total.TempFilesRemoved += res.TempFilesRemoved
		total.BlobErrors += res.BlobErrors
		if total.OrphansRemoved > 0 && total.TempFilesRemoved > 0 || time.Now().After(deadline) {
			break
		}
	}
	if total.UploadsExpired != 1 || total.OrphansRemoved != 1 || total.TempFilesRemoved != 1 || total.BlobErrors != 0 {
		t.Fatalf("purge: %+v", total)
	}
	if got := objects(t, m, bucket); len(got) != 1 || got[0] != liveKey {
		t.Fatalf("after the purge the bucket holds %v, want only %s", got, liveKey)
	}
	if left := m.IncompleteUploads(t, bucket); len(left) != 0 {
		t.Fatalf("incomplete uploads left: %v", left)
	}
	testutil.WantError(t, e.Do(e.NewRequest(http.MethodGet, "/uploads/"+expired.ID, "", "", nil)), http.StatusGone, "upload expired")
	wantStatus(t, e.Do(e.NewRequest(http.MethodGet, "/uploads/"+live.ID, "", "", nil)), http.StatusOK, "live upload")
}

// /readyz follows the bucket.
func TestS3Readiness(t *testing.T) {
	t.Parallel()
	e, m, bucket, _ := newS3Env(t)
	wantStatus(t, e.Do(e.NewRequest(http.MethodGet, "/readyz", "", "", nil)), http.StatusOK, "readyz")
	c := m.Client(t)
	if err := c.RemoveBucket(context.Background(), bucket); err != nil {
		t.Fatal(err)
	}
	testutil.WantError(t, e.Do(e.NewRequest(http.MethodGet, "/readyz", "", "", nil)), http.StatusServiceUnavailable, "service unavailable")
	if err := c.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e.Do(e.NewRequest(http.MethodGet, "/readyz", "", "", nil)), http.StatusOK, "readyz with the bucket back")
}
