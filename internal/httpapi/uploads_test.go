package httpapi_test

// This file is over 400 lines: simple uploads and downloads through the HTTP API, one suite.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

// The helpers of this file start with "up" so that they cannot collide with those of the other
// test files of the package.

// upPost sends POST /uploads with the given parts as login.
func upPost(e *testutil.Env, login, password string, parts ...testutil.Part) *testutil.Response {
	e.T.Helper()
	body, ctype := testutil.Multipart(e.T, parts...)
	req := e.NewRequest(http.MethodPost, "/uploads", login, password, bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	return e.Do(req)
}

// upAnswer is the body of a 201 of POST /uploads.
type upAnswer struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Size        int64     `json:"size"`
	ContentType string    `json:"contentType"`
	SHA256      string    `json:"sha256"`
	CreatedAt   time.Time `json:"createdAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
	URL         string    `json:"url"`
}

// upCreate uploads parts and fails the test unless the answer is a 201 with a consistent body.
func upCreate(e *testutil.Env, login, password string, parts ...testutil.Part) upAnswer {
	e.T.Helper()
	r := upPost(e, login, password, parts...)
	if r.StatusCode != http.StatusCreated {
		e.T.Fatalf("POST /uploads: %d %s", r.StatusCode, r.Body)
	}
	var a upAnswer
	if err := json.Unmarshal(r.Body, &a); err != nil {
		e.T.Fatalf("POST /uploads: body %s: %v", r.Body, err)
	}
	if loc := r.Header.Get("Location"); loc != a.URL {
		e.T.Fatalf("Location %q, url %q: want them equal", loc, a.URL)
	}
	return a
}

// upWantNothingLeft fails unless there is no upload row, no blob and no temp file.
func upWantNothingLeft(e *testutil.Env, what string) {
	e.T.Helper()
	if n := testutil.QueryInt(e.T, e, "SELECT count(*) FROM uploads"); n != 0 {
		e.T.Errorf("%s: %d rows left in uploads", what, n)
	}
	if f := testutil.BlobFiles(e.T, e.DataDir); len(f) != 0 {
		e.T.Errorf("%s: blobs left behind: %v", what, f)
	}
	if f := testutil.TempFiles(e.T, e.DataDir); len(f) != 0 {
		e.T.Errorf("%s: temp files left behind: %v", what, f)
	}
}

// upBlobPath is the blob file of an upload, read from its row.
func upBlobPath(e *testutil.Env, id string) string {
	e.T.Helper()
	var key string
	if err := e.Store.Pool.QueryRow(context.Background(), "SELECT blob_key FROM uploads WHERE id = $1", id).Scan(&key); err != nil {
		e.T.Fatalf("blob key of %s: %v", id, err)
	}
	return filepath.Join(e.DataDir, "blobs", filepath.FromSlash(key))
}

func upGet(e *testutil.Env, method, path string, header ...string) *testutil.Response {
	e.T.Helper()
	req := e.NewRequest(method, path, "", "", nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return e.Do(req)
}

// TestUploads covers POST /uploads, the downloads and DELETE on one service with the default
// configuration; the subtests run in parallel on uploads of their own.
func TestUploads(t *testing.T) {
	t.Parallel()
	env := testutil.NewEnv(t)
	env.AddUser("alice@acme", "pw")
	env.AddUser("bob@acme", "pw2")
	env.AddUser("eve@evil", "pw")
	for name, fn := range map[string]func(t *testing.T, e *testutil.Env){
		"create answer":                  upTestCreateAnswer,
		"empty and binary files":         upTestEmptyAndBinary,
		"name strips path parts":         upTestNameStripsPathParts,
		"content type":                   upTestContentType,
		"download headers":               upTestDownloadHeaders,
		"content disposition":            upTestContentDisposition,
		"conditional and range":          upTestConditionalAndRanges,
		"unlimited repeated downloads":   upTestUnlimitedRepeats,
		"expired":                        upTestExpired,
		"expires with ttl":               upTestExpiresWithTTL,
		"unknown and malformed ids":      upTestUnknownAndMalformedIDs,
		"delete":                         upTestDelete,
		"delete of another tenant's":     upTestDeleteOtherTenants,
		"unknown route and method":       upTestUnknownRouteAndMethod,
		"unauthenticated upload refused": upTestNeedsCredentials,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, env.Sub(t))
		})
	}
}

func upTestCreateAnswer(t *testing.T, e *testutil.Env) {
	data := []byte("hello, world\n")
	before := time.Now().Add(-2 * time.Second)
	a := upCreate(e, "alice@acme", "pw", testutil.Part{Field: "file", Filename: "test.txt", ContentType: "text/plain", Data: data})
	after := time.Now().Add(2 * time.Second)

	if _, err := uuid.Parse(a.ID); err != nil || len(a.ID) != 36 {
		t.Errorf("id %q is not a UUID", a.ID)
	}
	if a.Name != "test.txt" || a.Size != int64(len(data)) || a.ContentType != "text/plain" {
		t.Errorf("name %q size %d contentType %q, want test.txt %d text/plain", a.Name, a.Size, a.ContentType, len(data))
	}
	if a.SHA256 != testutil.SHA256(data) {
		t.Errorf("sha256 %s, want %s", a.SHA256, testutil.SHA256(data))
	}
	if want := e.URL + "/uploads/" + a.ID; a.URL != want {
		t.Errorf("url %q, want %q", a.URL, want)
	}
	if a.CreatedAt.Before(before) || a.CreatedAt.After(after) {
		t.Errorf("createdAt %s is not now", a.CreatedAt)
	}
	if d := a.ExpiresAt.Sub(a.CreatedAt); d != time.Hour {
		t.Errorf("default ttl: expiresAt-createdAt = %s, want 1h", d)
	}

	// The row and the blob are there, and the blob holds the bytes.
	var createdBy, name string
	var size int64
	var sum []byte
	if err := e.Store.Pool.QueryRow(context.Background(),
		"SELECT created_by, name, size, sha256 FROM uploads WHERE id = $1", a.ID).Scan(&createdBy, &name, &size, &sum); err != nil {
		t.Fatal(err)
	}
	if createdBy != "alice@acme" || name != "test.txt" || size != int64(len(data)) || hex.EncodeToString(sum) != a.SHA256 {
		t.Errorf("row: created_by %q name %q size %d sha256 %x", createdBy, name, size, sum)
	}
	got, err := os.ReadFile(upBlobPath(e, a.ID))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("blob file: %q, %v; want the uploaded bytes", got, err)
	}

	// The answer's url downloads the bytes.
	r := upGet(e, http.MethodGet, a.URL)
	if r.StatusCode != http.StatusOK || !bytes.Equal(r.Body, data) {
		t.Fatalf("GET url: %d %q", r.StatusCode, r.Body)
	}
}

func upTestEmptyAndBinary(t *testing.T, e *testutil.Env) {
	a := upCreate(e, "alice@acme", "pw", testutil.FilePart("empty.bin", nil))
	if a.Size != 0 || a.SHA256 != testutil.SHA256(nil) {
		t.Errorf("empty file: size %d sha256 %s", a.Size, a.SHA256)
	}
	r := upGet(e, http.MethodGet, "/uploads/"+a.ID)
	if r.StatusCode != http.StatusOK || len(r.Body) != 0 || r.Header.Get("Content-Length") != "0" {
		t.Errorf("empty download: %d, %d bytes, Content-Length %q", r.StatusCode, len(r.Body), r.Header.Get("Content-Length"))
	}

	// Every byte value, more than one read buffer of them, survives unchanged.
	data := make([]byte, 600<<10)
	for i := range data {
		data[i] = byte(i*7 + i/256)
	}
	a = upCreate(e, "alice@acme", "pw", testutil.FilePart("all.bin", data))
	if a.Size != int64(len(data)) || a.SHA256 != testutil.SHA256(data) {
		t.Errorf("binary file: size %d sha256 %s", a.Size, a.SHA256)
	}
	r = upGet(e, http.MethodGet, "/uploads/"+a.ID)
	if !bytes.Equal(r.Body, data) {
		t.Errorf("binary download differs from the upload (%d bytes, want %d)", len(r.Body), len(data))
	}
}

func upTestNameStripsPathParts(t *testing.T, e *testutil.Env) {
	for _, tc := range []struct{ sent, want string }{
		{"report.pdf", "report.pdf"},
		{"dir/sub/report.pdf", "report.pdf"},
		{"/etc/passwd", "passwd"},
		{"../../../etc/shadow", "shadow"},
		{`C:\Users\bob\evil.txt`, "evil.txt"},
		{`..\..\windows\system.ini`, "system.ini"},
		{`mixed/dir\name.txt`, "name.txt"},
		{"résumé 2024.pdf", "résumé 2024.pdf"},
		{"..", "file"},
	} {
		a := upCreate(e, "alice@acme", "pw", testutil.FilePart(tc.sent, []byte("x")))
		if a.Name != tc.want {
			t.Errorf("filename %q stored as %q, want %q", tc.sent, a.Name, tc.want)
		}
		r := upGet(e, http.MethodHead, "/uploads/"+a.ID)
		_, params, err := mime.ParseMediaType(r.Header.Get("Content-Disposition"))
		if err != nil || params["filename"] != tc.want {
			t.Errorf("filename %q: Content-Disposition %q names %q, want %q", tc.sent, r.Header.Get("Content-Disposition"), params["filename"], tc.want)
		}
	}
}

func upTestContentType(t *testing.T, e *testutil.Env) {
	for _, tc := range []struct{ name, sent, want string }{
		{"photo.png", "image/png", "image/png"},
		{"notes", "text/plain; charset=utf-8", "text/plain; charset=utf-8"},
		{"data", "", "application/octet-stream"},
		{"data.unknownext", "", "application/octet-stream"},
		{"data", "not a media type", "application/octet-stream"},
	} {
		a := upCreate(e, "alice@acme", "pw", testutil.Part{Field: "file", Filename: tc.name, ContentType: tc.sent, Data: []byte("x")})
		if a.ContentType != tc.want {
			t.Errorf("%s sent as %q: contentType %q, want %q", tc.name, tc.sent, a.ContentType, tc.want)
		}
		r := upGet(e, http.MethodGet, "/uploads/"+a.ID)
		if got := r.Header.Get("Content-Type"); got != tc.want {
			t.Errorf("%s sent as %q: download Content-Type %q, want %q", tc.name, tc.sent, got, tc.want)
		}
	}
}

func upTestDownloadHeaders(t *testing.T, e *testutil.Env) {
	data := []byte("%PDF-1.7 not really a pdf")
	a := upCreate(e, "alice@acme", "pw", testutil.Part{Field: "file", Filename: "report.pdf", ContentType: "application/pdf", Data: data})

	for _, method := range []string{http.MethodGet, http.MethodHead} {
		r := upGet(e, method, "/uploads/"+a.ID)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", method, r.StatusCode, r.Body)
		}
		want := map[string]string{
			"Content-Length":          strconv.Itoa(len(data)),
			"Content-Type":            "application/pdf",
			"Content-Disposition":     `attachment; filename="report.pdf"`,
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": "sandbox; default-src 'none'",
			"Referrer-Policy":         "no-referrer",
			"ETag":                    `"` + testutil.SHA256(data) + `"`,
			"Accept-Ranges":           "bytes",
		}
		for k, v := range want {
			if got := r.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", method, k, got, v)
			}
		}
		if cc := r.Header.Get("Cache-Control"); strings.Contains(cc, "public") || !strings.Contains(cc, "no-cache") && !strings.Contains(cc, "no-store") {
			t.Errorf("%s: Cache-Control %q lets caches serve a deleted upload", method, cc)
		}
		if method == http.MethodGet && !bytes.Equal(r.Body, data) {
			t.Errorf("GET body %q, want %q", r.Body, data)
		}
		if method == http.MethodHead && len(r.Body) != 0 {
			t.Errorf("HEAD has a body of %d bytes", len(r.Body))
		}
	}
	// No credentials are needed, and unrelated ones do not get in the way.
	req := e.NewRequest(http.MethodGet, "/uploads/"+a.ID, "nobody@nowhere", "x", nil)
	if r := e.Do(req); r.StatusCode != http.StatusOK {
		t.Errorf("download with unrelated credentials: %d", r.StatusCode)
	}
}

func upTestContentDisposition(t *testing.T, e *testutil.Env) {
	for _, tc := range []struct{ name, header string }{
		{"plain.txt", `attachment; filename="plain.txt"`},
		{"with space.txt", `attachment; filename="with space.txt"`},
		{"résumé.pdf", `attachment; filename="r_sum_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`},
		{"日本語 файл.txt", `attachment; filename="___ ____.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%E8%AA%9E%20%D1%84%D0%B0%D0%B9%D0%BB.txt`},
		{`say "hi".txt`, `attachment; filename="say _hi_.txt"; filename*=UTF-8''say%20%22hi%22.txt`},
		{`semi;colon,comma.txt`, `attachment; filename="semi;colon,comma.txt"`},
		{"100%.txt", `attachment; filename="100%.txt"`},
	} {
		a := upCreate(e, "alice@acme", "pw", testutil.FilePart(tc.name, []byte("x")))
		r := upGet(e, http.MethodGet, "/uploads/"+a.ID)
		got := r.Header.Get("Content-Disposition")
		if got != tc.header {
			t.Errorf("%q: Content-Disposition %s, want %s", tc.name, got, tc.header)
		}
		// A client that understands RFC 6266/5987 recovers the exact name.
		disp, params, err := mime.ParseMediaType(got)
		if err != nil || disp != "attachment" || params["filename"] != tc.name {
			t.Errorf("%q: parsed as %q %q (%v)", tc.name, disp, params["filename"], err)
		}
	}
}

func upTestConditionalAndRanges(t *testing.T, e *testutil.Env) {
	data := []byte("0123456789abcdefghij")
	a := upCreate(e, "alice@acme", "pw", testutil.FilePart("r.bin", data))
	path := "/uploads/" + a.ID
	etag := `"` + a.SHA256 + `"`

	r := upGet(e, http.MethodGet, path, "If-None-Match", etag)
	if r.StatusCode != http.StatusNotModified || len(r.Body) != 0 || r.Header.Get("ETag") != etag {
		t.Errorf("If-None-Match current: %d, %d bytes, ETag %q", r.StatusCode, len(r.Body), r.Header.Get("ETag"))
	}
	r = upGet(e, http.MethodGet, path, "If-None-Match", `"`+strings.Repeat("0", 64)+`"`)
	if r.StatusCode != http.StatusOK || !bytes.Equal(r.Body, data) {
		t.Errorf("If-None-Match stale: %d %q", r.StatusCode, r.Body)
	}

	for _, tc := range []struct {
		rng, want, contentRange string
	}{
		{"bytes=2-5", "2345", "bytes 2-5/20"},
		{"bytes=15-", "fghij", "bytes 15-19/20"},
		{"bytes=-3", "hij", "bytes 17-19/20"},
		{"bytes=18-100", "ij", "bytes 18-19/20"},
	} {
		r := upGet(e, http.MethodGet, path, "Range", tc.rng)
		if r.StatusCode != http.StatusPartialContent || string(r.Body) != tc.want ||
			r.Header.Get("Content-Range") != tc.contentRange || r.Header.Get("Content-Length") != strconv.Itoa(len(tc.want)) {
			t.Errorf("Range %s: %d %q Content-Range %q Content-Length %q; want 206 %q %q",
				tc.rng, r.StatusCode, r.Body, r.Header.Get("Content-Range"), r.Header.Get("Content-Length"), tc.want, tc.contentRange)
		}
		if r.Header.Get("Content-Disposition") == "" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("Range %s: a partial answer lacks the download headers", tc.rng)
		}
	}

	for _, rng := range []string{"bytes=20-30", "bytes=100-"} {
		r := upGet(e, http.MethodGet, path, "Range", rng)
		e.WantErrorLogged(r, loggedPath(path), http.StatusRequestedRangeNotSatisfiable, "range not satisfiable")
		if cd := r.Header.Get("Content-Disposition"); cd != "" {
			t.Errorf("Range %s: a JSON error carries Content-Disposition %q", rng, cd)
		}
		if cr := r.Header.Get("Content-Range"); cr != "bytes */20" {
			t.Errorf("Range %s: 416 with Content-Range %q, want the size as bytes */20", rng, cr)
		}
	}
}

func upTestUnlimitedRepeats(t *testing.T, e *testutil.Env) {
	data := []byte("again and again")
	a := upCreate(e, "alice@acme", "pw", testutil.FilePart("r.txt", data))
	for i := range 25 {
		r := upGet(e, http.MethodGet, "/uploads/"+a.ID)
		if r.StatusCode != http.StatusOK || !bytes.Equal(r.Body, data) {
			t.Fatalf("download %d: %d %q", i+1, r.StatusCode, r.Body)
		}
	}
}

func upTestExpired(t *testing.T, e *testutil.Env) {
	// Expiry is decided in the database's time: move the upload's expiry into the past.
	a := upCreate(e, "alice@acme", "pw", testutil.FilePart("old.txt", []byte("old")))
	if _, err := e.Store.Pool.Exec(context.Background(),
		"UPDATE uploads SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE id = $1", a.ID); err != nil {
		t.Fatal(err)
	}
	path := "/uploads/" + a.ID
	r := upGet(e, http.MethodGet, path)
	e.WantErrorLogged(r, path, http.StatusGone, "upload expired")
	if r.Header.Get("Content-Disposition") != "" || r.Header.Get("ETag") != "" {
		t.Errorf("an expired answer carries download headers: %v", r.Header)
	}
	if r := upGet(e, http.MethodHead, path); r.StatusCode != http.StatusGone {
		t.Errorf("HEAD of an expired upload: %d", r.StatusCode)
	}
	// The blob is still there (the purge removes it), but it is not served.
	if _, err := os.Stat(upBlobPath(e, a.ID)); err != nil {
		t.Errorf("blob of an expired, unpurged upload: %v", err)
	}
	// An expired upload is still the tenant's: it can be deleted, then it is unknown.
	if r := e.Do(e.NewRequest(http.MethodDelete, path, "alice@acme", "pw", nil)); r.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE of an expired upload: %d %s", r.StatusCode, r.Body)
	}
	e.WantErrorLogged(upGet(e, http.MethodGet, path), loggedPath(path), http.StatusNotFound, "upload not found")
}

func upTestExpiresWithTTL(t *testing.T, e *testutil.Env) {
	a := upCreate(e, "alice@acme", "pw", testutil.FilePart("short.txt", []byte("short")), testutil.FieldPart("ttl", "1"))
	path := "/uploads/" + a.ID
	if r := upGet(e, http.MethodGet, path); r.StatusCode != http.StatusOK {
		t.Fatalf("fresh upload with ttl 1: %d %s", r.StatusCode, r.Body)
	}
	var last *testutil.Response
	testutil.Eventually(t, 10*time.Second, "the upload to expire", func() bool {
		last = upGet(e, http.MethodGet, path)
		if last.StatusCode != http.StatusOK && last.StatusCode != http.StatusGone {
			t.Fatalf("while expiring: %d %s", last.StatusCode, last.Body)
		}
		return last.StatusCode == http.StatusGone
	})
	e.WantErrorLogged(last, path, http.StatusGone, "upload expired")
	if !time.Now().Add(time.Second).After(a.ExpiresAt) {
		t.Errorf("410 long before expiresAt %s", a.ExpiresAt)
	}
}

func upTestUnknownAndMalformedIDs(t *testing.T, e *testutil.Env) {
	a := upCreate(e, "alice@acme", "pw", testutil.FilePart("a.txt", []byte("a")))
	long := strings.Repeat("a", 300)
	for _, id := range []string{
		uuid.NewString(),
		"00000000-0000-0000-0000-000000000000",
		"abc",
		"1",
		strings.ReplaceAll(a.ID, "-", ""),      // the real id without dashes
		"{" + a.ID + "}",                       // in braces
		"urn:uuid:" + a.ID,                     // as a URN
		a.ID + "0",                             // one character too many
		a.ID[:35],                              // one too few
		"zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", // right length, not hex
		"%27%20OR%201=1--",
		long,
	} {
		req := e.NewRequest(http.MethodGet, "/uploads/"+id, "", "", nil)
		logged := loggedPath(req.URL.Path) // an id in that place is redacted, whatever it is
		e.WantErrorLogged(e.Do(req), logged, http.StatusNotFound, "upload not found")
		if r := upGet(e, http.MethodHead, "/uploads/"+id); r.StatusCode != http.StatusNotFound {
			t.Errorf("HEAD %s: %d", req.URL.Path, r.StatusCode)
		}
		r := e.Do(e.NewRequest(http.MethodDelete, "/uploads/"+id, "alice@acme", "pw", nil))
		e.WantErrorLogged(r, logged, http.StatusNotFound, "upload not found")
	}
	// None of that touched the real upload.
	if r := upGet(e, http.MethodGet, "/uploads/"+a.ID); r.StatusCode != http.StatusOK {
		t.Errorf("the real upload: %d", r.StatusCode)
	}
}

func upTestDelete(t *testing.T, e *testutil.Env) {
	a := upCreate(e, "alice@acme", "pw", testutil.FilePart("gone.txt", []byte("soon gone")))
	keep := upCreate(e, "alice@acme", "pw", testutil.FilePart("keep.txt", []byte("stays")))
	blobFile := upBlobPath(e, a.ID)
	if _, err := os.Stat(blobFile); err != nil {
		t.Fatalf("blob before DELETE: %v", err)
	}
	path := "/uploads/" + a.ID

	// Without credentials: refused, nothing deleted.
	r := e.Do(e.NewRequest(http.MethodDelete, path, "", "", nil))
	e.WantErrorLogged(r, loggedPath(path), http.StatusUnauthorized, "unauthorized")
	if r := upGet(e, http.MethodGet, path); r.StatusCode != http.StatusOK {
		t.Fatalf("after an unauthenticated DELETE: %d", r.StatusCode)
	}

	// Another user of the same tenant may delete it.
	r = e.Do(e.NewRequest(http.MethodDelete, path, "bob@acme", "pw2", nil))
	if r.StatusCode != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("DELETE: %d %q", r.StatusCode, r.Body)
	}
	if _, err := os.Stat(blobFile); !os.IsNotExist(err) {
		t.Errorf("blob file still on disk after DELETE: %v", err)
	}
	var n int
	if err := e.Store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM uploads WHERE id = $1", a.ID).Scan(&n); err != nil || n != 0 {
		t.Errorf("row after DELETE: %d (%v)", n, err)
	}
	if r := upGet(e, http.MethodHead, path); r.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD after DELETE: %d", r.StatusCode)
	}
	e.WantErrorLogged(upGet(e, http.MethodGet, path), loggedPath(path), http.StatusNotFound, "upload not found")
	r = e.Do(e.NewRequest(http.MethodDelete, path, "alice@acme", "pw", nil))
	e.WantErrorLogged(r, loggedPath(path), http.StatusNotFound, "upload not found")

	// The other upload is untouched.
	if r := upGet(e, http.MethodGet, "/uploads/"+keep.ID); r.StatusCode != http.StatusOK || string(r.Body) != "stays" {
		t.Errorf("other upload after DELETE: %d %q", r.StatusCode, r.Body)
	}
}

func upTestDeleteOtherTenants(t *testing.T, e *testutil.Env) {
	a := upCreate(e, "alice@acme", "pw", testutil.FilePart("secret.txt", []byte("secret")))
	path := "/uploads/" + a.ID

	foreign := e.Do(e.NewRequest(http.MethodDelete, path, "eve@evil", "pw", nil))
	e.WantErrorLogged(foreign, loggedPath(path), http.StatusNotFound, "upload not found")
	unknown := e.Do(e.NewRequest(http.MethodDelete, "/uploads/"+uuid.NewString(), "eve@evil", "pw", nil))
	if foreign.StatusCode != unknown.StatusCode || !bytes.Equal(foreign.Body, unknown.Body) ||
		foreign.Header.Get("Content-Type") != unknown.Header.Get("Content-Type") {
		t.Errorf("a foreign id answers %d %s, an unknown one %d %s: want them identical",
			foreign.StatusCode, foreign.Body, unknown.StatusCode, unknown.Body)
	}
	if r := upGet(e, http.MethodGet, path); r.StatusCode != http.StatusOK || string(r.Body) != "secret" {
		t.Errorf("upload after a foreign DELETE: %d %q", r.StatusCode, r.Body)
	}
	if _, err := os.Stat(upBlobPath(e, a.ID)); err != nil {
		t.Errorf("blob after a foreign DELETE: %v", err)
	}
}

func upTestUnknownRouteAndMethod(t *testing.T, e *testutil.Env) {
	e.WantErrorLogged(upGet(e, http.MethodGet, "/no/such/route"), "/no/such/route", http.StatusNotFound, "not found")
	r := e.Do(e.NewRequest(http.MethodPut, "/uploads", "", "", nil))
	e.WantErrorLogged(r, "/uploads", http.StatusMethodNotAllowed, "method not allowed")
}

func upTestNeedsCredentials(t *testing.T, e *testutil.Env) {
	var before int
	e.Store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM uploads WHERE name = 'refused.txt'").Scan(&before)
	for _, login := range [][2]string{{"", ""}, {"alice@acme", "wrong"}, {"mallory@acme", "pw"}} {
		r := upPost(e, login[0], login[1], testutil.FilePart("refused.txt", []byte("a")))
		e.WantErrorLogged(r, "/uploads", http.StatusUnauthorized, "unauthorized")
		if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="fileshare"` {
			t.Errorf("WWW-Authenticate %q", got)
		}
	}
	var after int
	e.Store.Pool.QueryRow(context.Background(), "SELECT count(*) FROM uploads WHERE name = 'refused.txt'").Scan(&after)
	if before != 0 || after != 0 {
		t.Errorf("unauthenticated uploads left %d rows", after)
	}
}

// upLimitsConfig is the configuration of the tests of limits: small enough to reach.
func upLimitsConfig(c *config.Config) {
	c.MaxUploadBytes = 1024
	c.MaxTTL = 7200
	c.SessionTTL = 3600
	c.UploadTTL = 90
	c.PublicURL = "https://files.example.com/rtc/fileshare/"
}

// TestUploadRefusalsLeaveNothing sends every kind of refused or aborted upload, one after the
// other, each followed by the check that no row, no blob and no temp file is left. The service
// sees no successful upload, so "nothing" is exact.
func TestUploadRefusalsLeaveNothing(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t, upLimitsConfig)
	e.AddUser("alice@acme", "pw")

	t.Run("invalid ttl", func(t *testing.T) {
		e := e.Sub(t)
		for _, ttl := range []string{
			"0", "-1", "abc", "1.5", "", " ", "7201", "1e3", "+5", " 5", "5 ", "0x10",
			"99999999999999999999", "9223372036854775808", "١٢", // Arabic-Indic digits
		} {
			for _, ttlFirst := range []bool{true, false} {
				parts := []testutil.Part{testutil.FilePart("t.txt", bytes.Repeat([]byte("x"), 1000)), testutil.FieldPart("ttl", ttl)}
				if ttlFirst {
					parts[0], parts[1] = parts[1], parts[0]
				}
				r := upPost(e, "alice@acme", "pw", parts...)
				e.WantErrorLogged(r, "/uploads", http.StatusBadRequest, "invalid ttl")
				upWantNothingLeft(e, fmt.Sprintf("ttl %q (first %v)", ttl, ttlFirst))
			}
		}
	})

	t.Run("no file part", func(t *testing.T) {
		e := e.Sub(t)
		multi := func(parts ...testutil.Part) func() *http.Request {
			return func() *http.Request {
				body, ctype := testutil.Multipart(t, parts...)
				req := e.NewRequest(http.MethodPost, "/uploads", "alice@acme", "pw", bytes.NewReader(body))
				req.Header.Set("Content-Type", ctype)
				return req
			}
		}
		raw := func(ctype, body string) func() *http.Request {
			return func() *http.Request {
				var r io.Reader
				if body != "" {
					r = strings.NewReader(body)
				}
				req := e.NewRequest(http.MethodPost, "/uploads", "alice@acme", "pw", r)
				if ctype != "" {
					req.Header.Set("Content-Type", ctype)
				}
				return req
			}
		}
		for name, mk := range map[string]func() *http.Request{
			"only a ttl field":              multi(testutil.FieldPart("ttl", "60")),
			"file under another field name": multi(testutil.Part{Field: "upload", Filename: "a.txt", Data: []byte("a")}),
			"empty multipart body":          multi(),
			"JSON body":                     raw("application/json", `{"file":"x"}`),
			"raw body, no content type":     raw("", "raw bytes"),
			"urlencoded form":               raw("application/x-www-form-urlencoded", "file=abc"),
			"no body":                       raw("", ""),
			"multipart without boundary":    raw("multipart/form-data", "x"),
		} {
			r := e.Do(mk())
			if r.StatusCode != http.StatusBadRequest {
				t.Fatalf("%s: %d %s", name, r.StatusCode, r.Body)
			}
			e.WantErrorLogged(r, "/uploads", http.StatusBadRequest, "file is required")
			upWantNothingLeft(e, name)
		}
	})

	t.Run("second file part", func(t *testing.T) {
		e := e.Sub(t)
		// The first part, already stored, is discarded again.
		r := upPost(e, "alice@acme", "pw", testutil.FilePart("a.txt", []byte("first")), testutil.FilePart("b.txt", []byte("second")))
		e.WantErrorLogged(r, "/uploads", http.StatusBadRequest, "only one file part is allowed")
		upWantNothingLeft(e, "two file parts")
	})

	t.Run("oversized field and too many parts", func(t *testing.T) {
		e := e.Sub(t)
		r := upPost(e, "alice@acme", "pw", testutil.FieldPart("ttl", strings.Repeat("1", 2000)), testutil.FilePart("a.txt", []byte("a")))
		e.WantErrorLogged(r, "/uploads", http.StatusBadRequest, "form field too large")
		upWantNothingLeft(e, "oversized field")
		parts := []testutil.Part{testutil.FilePart("a.txt", []byte("a"))}
		for i := range 20 {
			parts = append(parts, testutil.FieldPart(fmt.Sprintf("f%d", i), "v"))
		}
		r = upPost(e, "alice@acme", "pw", parts...)
		e.WantErrorLogged(r, "/uploads", http.StatusBadRequest, "too many multipart parts")
		upWantNothingLeft(e, "too many parts")
	})

	t.Run("truncated body", func(t *testing.T) {
		e := e.Sub(t)
		body, ctype := testutil.Multipart(t, testutil.FilePart("a.txt", []byte("content")))
		// Cut in the closing boundary, and in the middle of the file's bytes.
		for _, end := range []int{len(body) - 10, bytes.Index(body, []byte("content")) + 4} {
			req := e.NewRequest(http.MethodPost, "/uploads", "alice@acme", "pw", bytes.NewReader(body[:end]))
			req.Header.Set("Content-Type", ctype)
			e.WantErrorLogged(e.Do(req), "/uploads", http.StatusBadRequest, "malformed multipart body")
			upWantNothingLeft(e, fmt.Sprintf("body cut after %d of %d bytes", end, len(body)))
		}
	})

	t.Run("too large", func(t *testing.T) {
		e := e.Sub(t)
		for _, size := range []int{1025, 3 * 1024, 300 << 10} {
			r := upPost(e, "alice@acme", "pw", testutil.FilePart("big.bin", bytes.Repeat([]byte("b"), size)))
			e.WantErrorLogged(r, "/uploads", http.StatusRequestEntityTooLarge, "file too large")
			upWantNothingLeft(e, fmt.Sprintf("%d bytes over a limit of 1024", size))
		}
	})

	t.Run("aborted by the client", func(t *testing.T) {
		e := e.Sub(t)
		upAbort(e, 1024)
		upWantNothingLeft(e, "aborted upload")
		for _, m := range e.LogMessages() {
			if strings.Contains(m, "status=500") || m == "internal error" || m == "panic" {
				t.Errorf("an aborted upload is not a server failure, but the log has %q", m)
			}
		}
	})
}

// upAbort starts an upload on a raw connection, waits until the service streams it into a temp
// file, closes the connection in the middle of the file part, and waits until the handler is done.
func upAbort(e *testutil.Env, limit int) {
	t := e.T
	t.Helper()
	body, ctype := testutil.Multipart(t, testutil.FilePart("aborted.bin", bytes.Repeat([]byte("z"), limit)))
	conn, err := net.Dial("tcp", e.Server.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	requestsBefore := upCountRequestLines(e)
	auth := e.NewRequest(http.MethodPost, "/uploads", "alice@acme", "pw", nil).Header.Get("Authorization")
	fmt.Fprintf(conn, "POST /uploads HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		e.Server.Listener.Addr(), auth, ctype, len(body))
	if _, err := conn.Write(body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}
	// The handler is streaming the part into a temp file…
	testutil.Eventually(t, 10*time.Second, "the upload's temp file", func() bool {
		return len(testutil.TempFiles(t, e.DataDir)) > 0
	})
	// …when the client goes away.
	conn.Close()
	testutil.Eventually(t, 10*time.Second, "the aborted request's log line", func() bool {
		return upCountRequestLines(e) > requestsBefore
	})
}

// upCountRequestLines counts the access log lines of POST /uploads.
func upCountRequestLines(e *testutil.Env) int {
	n := 0
	for _, line := range strings.Split(e.Logs.String(), "\n") {
		if strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"method":"POST"`) && strings.Contains(line, `"route":"/uploads"`) {
			n++
		}
	}
	return n
}

// TestUploadConfiguredLimits checks that the configured ttls, size limit and public URL are
// the ones applied.
func TestUploadConfiguredLimits(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t, upLimitsConfig)
	e.AddUser("alice@acme", "pw")

	a := upCreate(e, "alice@acme", "pw", testutil.FilePart("t.txt", []byte("t")))
	if d := a.ExpiresAt.Sub(a.CreatedAt); d != 90*time.Second {
		t.Errorf("without ttl: expiresAt-createdAt = %s, want the configured upload ttl 90s", d)
	}
	if want := "https://files.example.com/rtc/fileshare/uploads/" + a.ID; a.URL != want {
		t.Errorf("url %q, want %q", a.URL, want)
	}

	for _, tc := range []struct {
		ttl  string
		want time.Duration
	}{
		{"1", time.Second},
		{"120", 2 * time.Minute},
		{"0120", 2 * time.Minute},
		{"7200", 2 * time.Hour}, // the configured maximum itself
	} {
		// The ttl field may come before or after the file.
		for _, ttlFirst := range []bool{true, false} {
			parts := []testutil.Part{testutil.FilePart("t.txt", []byte("t")), testutil.FieldPart("ttl", tc.ttl)}
			if ttlFirst {
				parts[0], parts[1] = parts[1], parts[0]
			}
			a := upCreate(e, "alice@acme", "pw", parts...)
			if d := a.ExpiresAt.Sub(a.CreatedAt); d != tc.want {
				t.Errorf("ttl %q (first %v): expiresAt-createdAt = %s, want %s", tc.ttl, ttlFirst, d, tc.want)
			}
		}
	}

	// Exactly the size limit is accepted.
	data := bytes.Repeat([]byte("a"), 1024)
	a = upCreate(e, "alice@acme", "pw", testutil.FilePart("exact.bin", data))
	if a.Size != 1024 || a.SHA256 != testutil.SHA256(data) {
		t.Errorf("size %d, want 1024", a.Size)
	}
	if r := upGet(e, http.MethodGet, "/uploads/"+a.ID); !bytes.Equal(r.Body, data) {
		t.Errorf("download of the upload at the limit: %d, %d bytes", r.StatusCode, len(r.Body))
	}
	// Successful uploads leave no temp file behind either.
	if f := testutil.TempFiles(t, e.DataDir); len(f) != 0 {
		t.Errorf("temp files left after successful uploads: %v", f)
	}
}
