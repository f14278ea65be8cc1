package httpapi_test

// This file is over 400 lines: the tus protocol through the HTTP API, one suite with its request helpers.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fileshare/internal/blob"
	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

// Helpers of the tus tests carry the prefix tu.

// tuMeta encodes Upload-Metadata from key, value pairs.
func tuMeta(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	return strings.Join(parts, ",")
}

// tuRequest is a tus request (Tus-Resumable set) to path or an absolute URL.
func tuRequest(e *testutil.Env, method, path, login string, body []byte, header ...string) *http.Request {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := e.NewRequest(method, path, login, sessPW, r)
	req.Header.Set("Tus-Resumable", "1.0.0")
	if body != nil {
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

// tuCreate creates an upload of length bytes as alice and returns its URL.
func tuCreate(t *testing.T, e *testutil.Env, length int, meta string) string {
	t.Helper()
	r := e.Do(tuRequest(e, http.MethodPost, "/tus", sessAlice, nil, "Upload-Length", strconv.Itoa(length), "Upload-Metadata", meta))
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("POST /tus: %d %s", r.StatusCode, r.Body)
	}
	if r.Header.Get("Upload-Offset") != "0" || r.Header.Get("Tus-Resumable") != "1.0.0" {
		t.Fatalf("POST /tus: headers %v", r.Header)
	}
	return r.Header.Get("Location")
}

// tuPatch sends data at offset.
func tuPatch(e *testutil.Env, url string, offset int, data []byte, header ...string) *testutil.Response {
	return e.Do(tuRequest(e, http.MethodPatch, url, "", data, append([]string{"Upload-Offset", strconv.Itoa(offset)}, header...)...))
}

// tuWantOffset checks a PATCH answer.
func tuWantOffset(t *testing.T, r *testutil.Response, offset int) {
	t.Helper()
	if r.StatusCode != http.StatusNoContent || r.Header.Get("Upload-Offset") != strconv.Itoa(offset) {
		t.Fatalf("%s %s: %d offset %q, want 204 offset %d; body %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, r.Header.Get("Upload-Offset"), offset, r.Body)
	}
}

// tuOffset is the offset HEAD reports, or -status when it answers an error.
func tuOffset(t *testing.T, e *testutil.Env, url string) int {
	t.Helper()
	r := e.Do(tuRequest(e, http.MethodHead, url, "", nil))
	if r.StatusCode != http.StatusOK {
		return -r.StatusCode
	}
	n, err := strconv.Atoi(r.Header.Get("Upload-Offset"))
	if err != nil {
		t.Fatalf("HEAD %s: Upload-Offset %q", url, r.Header.Get("Upload-Offset"))
	}
	return n
}

// tuID is the upload id at the end of a tus URL.
func tuID(url string) string { return url[strings.LastIndexByte(url, '/')+1:] }

// tuUploadPath is the download path of the simple upload a completed tus upload became, as
// HEAD on its tus URL gives it (Fileshare-Upload-Url): an id of its own, never the tus id.
// Before completion there is none, and it is the tus id's path, which downloads nothing.
func tuUploadPath(t *testing.T, e *testutil.Env, url string) string {
	t.Helper()
	r := e.Do(tuRequest(e, http.MethodHead, url, "", nil))
	u := r.Header.Get("Fileshare-Upload-Url")
	if u == "" {
		return "/uploads/" + tuID(url)
	}
	pu, err := neturl.Parse(u)
	if err != nil || !strings.HasPrefix(pu.Path, "/uploads/") || tuID(u) == tuID(url) {
		t.Fatalf("Fileshare-Upload-Url %q of %s", u, url)
	}
	return pu.Path
}

// tuStages lists the staging files of resumable uploads in the data directory.
func tuStages(t *testing.T, e *testutil.Env) []string {
	t.Helper()
	var out []string
	for _, n := range testutil.TempFiles(t, e.DataDir) {
		if strings.HasPrefix(n, "tus-") {
			out = append(out, n)
		}
	}
	return out
}

func TestTusOptions(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	r := e.Do(e.NewRequest(http.MethodOptions, "/tus", "", "", nil))
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("OPTIONS /tus: %d", r.StatusCode)
	}
	for h, want := range map[string]string{
		"Tus-Resumable": "1.0.0", "Tus-Version": "1.0.0",
		"Tus-Extension": "creation,creation-with-upload,termination,expiration",
		"Tus-Max-Size":  strconv.FormatInt(e.Config.MaxUploadBytes, 10),
	} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("OPTIONS /tus: %s %q, want %q", h, got, want)
		}
	}
}

// A simple upload in chunks: invisible until the last byte is in, then exactly like an upload
// of POST /uploads, under the tus id.
func TestTusSimpleUpload(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	data := testutil.RandomBytes(t, 300<<10)
	before := time.Now()
	url := tuCreate(t, e, len(data), tuMeta("filename", "dir/call.wav", "filetype", "audio/wav", "ttl", "120", "extra", "kept"))
	if !strings.HasPrefix(url, e.URL+"/tus/") {
		t.Fatalf("Location %q", url)
	}
	tusID := tuID(url)
	head := e.Do(tuRequest(e, http.MethodHead, url, "", nil))
	exp, err := http.ParseTime(head.Header.Get("Upload-Expires"))
	if head.StatusCode != http.StatusOK || head.Header.Get("Upload-Length") != strconv.Itoa(len(data)) || err != nil ||
		exp.Before(before.Add(24*time.Hour-time.Minute)) || exp.After(time.Now().Add(24*time.Hour+time.Minute)) ||
		head.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("HEAD: %d %v", head.StatusCode, head.Header)
	}
	// The metadata comes back, in the client's order.
	if got := head.Header.Get("Upload-Metadata"); got != tuMeta("filename", "dir/call.wav", "filetype", "audio/wav", "ttl", "120", "extra", "kept") {
		t.Errorf("HEAD: Upload-Metadata %q", got)
	}
	tuWantOffset(t, tuPatch(e, url, 0, data[:100<<10]), 100<<10)
	if r := e.Do(e.NewRequest(http.MethodGet, "/uploads/"+tusID, "", "", nil)); r.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /uploads/%s before the last byte: %d", tusID, r.StatusCode)
	}
	if head.Header.Get("Fileshare-Upload-Url") != "" {
		t.Fatalf("Fileshare-Upload-Url before the last byte: %q", head.Header.Get("Fileshare-Upload-Url"))
	}
	if got := tuOffset(t, e, url); got != 100<<10 {
		t.Fatalf("HEAD offset %d", got)
	}
	r := tuPatch(e, url, 100<<10, data[100<<10:])
	tuWantOffset(t, r, len(data))
	if r.Header.Get("Upload-Expires") != "" {
		t.Errorf("completed upload still announces Upload-Expires")
	}
	// The download URL comes with the last byte, and from HEAD; the tus id downloads nothing.
	id := tuID(r.Header.Get("Fileshare-Upload-Url"))
	if r.Header.Get("Fileshare-Upload-Url") != e.URL+"/uploads/"+id || id == tusID || tuUploadPath(t, e, url) != "/uploads/"+id {
		t.Fatalf("Fileshare-Upload-Url %q of the last PATCH, %q from HEAD", r.Header.Get("Fileshare-Upload-Url"), tuUploadPath(t, e, url))
	}
	if r := e.Do(e.NewRequest(http.MethodGet, "/uploads/"+tusID, "", "", nil)); r.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /uploads/{tus id} of the completed upload: %d", r.StatusCode)
	}
	d := e.Do(e.NewRequest(http.MethodGet, "/uploads/"+id, "", "", nil))
	if d.StatusCode != http.StatusOK || !bytes.Equal(d.Body, data) {
		t.Fatalf("GET /uploads/%s: %d, %d bytes", id, d.StatusCode, len(d.Body))
	}
	if ct, cd := d.Header.Get("Content-Type"), d.Header.Get("Content-Disposition"); ct != "audio/wav" || !strings.Contains(cd, `filename="call.wav"`) {
		t.Errorf("download: Content-Type %q, Content-Disposition %q", ct, cd)
	}
	var expires time.Time
	e.Store.Pool.QueryRow(context.Background(), `SELECT expires_at FROM uploads WHERE id = $1`, id).Scan(&expires)
	if d := time.Until(expires); d < 100*time.Second || d > 121*time.Second {
		t.Errorf("upload expires in %s, want its ttl of 120 s", d)
	}
	// A completed upload: HEAD says so; the last PATCH sent again changes nothing.
	if got := tuOffset(t, e, url); got != len(data) {
		t.Errorf("HEAD of the completed upload: %d", got)
	}
	tuWantOffset(t, tuPatch(e, url, len(data), []byte{}), len(data))
	testutil.WantError(t, tuPatch(e, url, 0, data[:10]), http.StatusConflict, "offset mismatch")
	if s := tuStages(t, e); len(s) != 0 {
		t.Errorf("staging files left after completion: %v", s)
	}
}

// creation-with-upload, an empty upload, and the defaults of a nameless upload.
func TestTusCreationWithUpload(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	data := []byte("all of it in the creation")
	r := e.Do(tuRequest(e, http.MethodPost, "/tus", sessAlice, data, "Upload-Length", strconv.Itoa(len(data))))
	if r.StatusCode != http.StatusCreated || r.Header.Get("Upload-Offset") != strconv.Itoa(len(data)) {
		t.Fatalf("POST /tus with the content: %d %v %s", r.StatusCode, r.Header, r.Body)
	}
	d := e.Do(e.NewRequest(http.MethodGet, tuUploadPath(t, e, r.Header.Get("Location")), "", "", nil))
	if d.StatusCode != http.StatusOK || !bytes.Equal(d.Body, data) || d.Header.Get("Content-Type") != "application/octet-stream" ||
		!strings.Contains(d.Header.Get("Content-Disposition"), `filename="file"`) {
		t.Fatalf("download: %d %v", d.StatusCode, d.Header)
	}
	// Part of it first.
	r = e.Do(tuRequest(e, http.MethodPost, "/tus", sessAlice, data[:5], "Upload-Length", strconv.Itoa(len(data))))
	if r.StatusCode != http.StatusCreated || r.Header.Get("Upload-Offset") != "5" {
		t.Fatalf("POST /tus with 5 bytes: %d %v", r.StatusCode, r.Header)
	}
	tuWantOffset(t, tuPatch(e, r.Header.Get("Location"), 5, data[5:]), len(data))
	// An empty upload is complete at once.
	r = e.Do(tuRequest(e, http.MethodPost, "/tus", sessAlice, nil, "Upload-Length", "0", "Upload-Metadata", tuMeta("filename", "empty.txt")))
	if r.StatusCode != http.StatusCreated || r.Header.Get("Upload-Offset") != "0" || r.Header.Get("Upload-Expires") != "" {
		t.Fatalf("POST /tus of 0 bytes: %d %v", r.StatusCode, r.Header)
	}
	d = e.Do(e.NewRequest(http.MethodGet, tuUploadPath(t, e, r.Header.Get("Location")), "", "", nil))
	if d.StatusCode != http.StatusOK || len(d.Body) != 0 || d.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("download of the empty upload: %d %v", d.StatusCode, d.Header)
	}
}

// A file entry's content through tus, with Basic Auth or with its upload URL's token, stored
// exactly as after PUT; every refusal of PUT keeps its status and message.
func TestTusFileEntry(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	e.AddUser(sessBob, sessPW)
	s := sessCreateSession(t, e, sessAlice, nil)
	data := testutil.RandomBytes(t, 70<<10)
	size := len(data)

	// Basic Auth; the entry declared its size.
	f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "rec.ogg", "size": size})
	testutil.WantError(t, e.Do(tuRequest(e, http.MethodPost, "/tus", sessAlice, nil, "Upload-Length", strconv.Itoa(size-1),
		"Upload-Metadata", tuMeta("sessionId", s.ID, "fileId", f.ID))), http.StatusBadRequest, "size mismatch")
	testutil.WantError(t, e.Do(tuRequest(e, http.MethodPost, "/tus", sessBob, nil, "Upload-Length", strconv.Itoa(size),
		"Upload-Metadata", tuMeta("sessionId", s.ID, "fileId", f.ID))), http.StatusNotFound, "file not found")
	testutil.WantError(t, e.Do(tuRequest(e, http.MethodPost, "/tus", "", nil, "Upload-Length", strconv.Itoa(size),
		"Upload-Metadata", tuMeta("sessionId", s.ID, "fileId", f.ID))), http.StatusUnauthorized, "unauthorized")
	url := tuCreate(t, e, size, tuMeta("sessionId", s.ID, "fileId", f.ID))
	tuWantOffset(t, tuPatch(e, url, 0, data[:size/2]), size/2)
	if st := testutil.Decode[[]sessFile](t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID+"/files", sessAlice, nil), http.StatusOK)[0].State; st != "pending" {
		t.Fatalf("entry %s before the last byte", st)
	}
	tuWantOffset(t, tuPatch(e, url, size/2, data[size/2:]), size)
	got := testutil.Decode[[]sessFile](t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID+"/files", sessAlice, nil), http.StatusOK)[0]
	if got.State != "stored" || *got.Size != int64(size) || *got.SHA256 != testutil.SHA256(data) {
		t.Fatalf("entry after the last byte: %+v", got)
	}
	tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil)
	if d := e.Do(e.NewRequest(http.MethodGet, tok.URL, "", "", nil)); d.StatusCode != http.StatusOK || !bytes.Equal(d.Body, data) {
		t.Fatalf("token download: %d", d.StatusCode)
	}
	testutil.WantError(t, e.Do(tuRequest(e, http.MethodPost, "/tus", sessAlice, nil, "Upload-Length", strconv.Itoa(size),
		"Upload-Metadata", tuMeta("sessionId", s.ID, "fileId", f.ID))), http.StatusConflict, "file already uploaded")

	// The upload URL's token, without credentials: used once the last byte is in.
	f2 := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "two.bin"})
	up := sessCreateUploadURL(t, e, sessAlice, f2.ID, nil)
	token := up.URL[strings.Index(up.URL, "token=")+len("token="):]
	testutil.WantError(t, e.Do(tuRequest(e, http.MethodPost, "/tus", "", nil, "Upload-Length", "3",
		"Upload-Metadata", tuMeta("sessionId", s.ID, "fileId", f2.ID, "token", "wrong"))), http.StatusUnauthorized, "unauthorized")
	r := e.Do(tuRequest(e, http.MethodPost, "/tus", "", []byte("ab"), "Upload-Length", "3",
		"Upload-Metadata", tuMeta("sessionId", s.ID, "fileId", f2.ID, "token", token)))
	if r.StatusCode != http.StatusCreated || r.Header.Get("Upload-Offset") != "2" {
		t.Fatalf("POST /tus with the token: %d %s", r.StatusCode, r.Body)
	}
	url2 := r.Header.Get("Location")
	// The token is not used yet, and never shown back.
	if h := e.Do(tuRequest(e, http.MethodHead, url2, "", nil)); strings.Contains(h.Header.Get("Upload-Metadata"), "token") {
		t.Errorf("HEAD shows the token: %q", h.Header.Get("Upload-Metadata"))
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM upload_tokens WHERE used_at IS NULL`); n != 1 {
		t.Fatalf("%d unused upload tokens, want 1", n)
	}
	tuWantOffset(t, tuPatch(e, url2, 2, []byte("c")), 3)
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM upload_tokens WHERE used_at IS NOT NULL AND used_by_addr IS NOT NULL`); n != 1 {
		t.Fatalf("%d used upload tokens, want 1", n)
	}
	testutil.WantError(t, sessCall(t, e, http.MethodPut, "/sessions/"+s.ID+"/files/"+f2.ID+"?token="+token, "", []byte("abc")),
		http.StatusConflict, "file already uploaded")

	// An entry stored by PUT while a tus upload of it is under way: its last byte answers 409,
	// and the tus upload is gone with its bytes.
	f3 := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "race.bin"})
	url3 := tuCreate(t, e, 4, tuMeta("sessionId", s.ID, "fileId", f3.ID))
	tuWantOffset(t, tuPatch(e, url3, 0, []byte("tu")), 2)
	testutil.Decode[sessFile](t, sessPut(t, e, sessAlice, s.ID, f3.ID, []byte("put!")), http.StatusOK)
	testutil.WantError(t, tuPatch(e, url3, 2, []byte("s!")), http.StatusConflict, "file already uploaded")
	if got := tuOffset(t, e, url3); got != -http.StatusNotFound {
		t.Errorf("HEAD after the refused last byte: %d, want 404", got)
	}
	// An expired session: its tus uploads answer 410 session expired at once, like every route
	// below it.
	f4 := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "late.bin"})
	url4 := tuCreate(t, e, 4, tuMeta("sessionId", s.ID, "fileId", f4.ID))
	sessExpireSession(t, e, s.ID)
	testutil.WantError(t, tuPatch(e, url4, 0, []byte("late")), http.StatusGone, "session expired")
	testutil.WantError(t, e.Do(tuRequest(e, http.MethodHead, url4, "", nil)), http.StatusGone, "session expired")
	testutil.WantError(t, e.Do(tuRequest(e, http.MethodPost, "/tus", sessAlice, nil, "Upload-Length", "4",
		"Upload-Metadata", tuMeta("sessionId", s.ID, "fileId", f4.ID))), http.StatusGone, "session expired")
	if s := tuStages(t, e); len(s) != 1 {
		t.Errorf("staging files %v, want the expired upload's only", s)
	}
}

// The protocol's refusals: each with its status and JSON message, none writing a byte.
func TestTusProtocolErrors(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t, func(c *config.Config) { c.MaxUploadBytes = 1 << 20 })
	url := tuCreate(t, e, 10, "")
	tuWantOffset(t, tuPatch(e, url, 0, []byte("12345")), 5)
	cases := []struct {
		what   string
		req    *http.Request
		status int
		msg    string
	}{
		{"PATCH at the wrong offset", tuRequest(e, http.MethodPatch, url, "", []byte("x"), "Upload-Offset", "4"), http.StatusConflict, "offset mismatch"},
		{"PATCH from 0 again", tuRequest(e, http.MethodPatch, url, "", []byte("x"), "Upload-Offset", "0"), http.StatusConflict, "offset mismatch"},
		{"PATCH without Tus-Resumable", tuRequest(e, http.MethodPatch, url, "", []byte("x"), "Upload-Offset", "5", "Tus-Resumable", ""), http.StatusPreconditionFailed, "unsupported tus version"},
		{"PATCH of another version", tuRequest(e, http.MethodPatch, url, "", []byte("x"), "Upload-Offset", "5", "Tus-Resumable", "0.2.2"), http.StatusPreconditionFailed, "unsupported tus version"},
		{"HEAD without Tus-Resumable", tuRequest(e, http.MethodHead, url, "", nil, "Tus-Resumable", ""), http.StatusPreconditionFailed, "unsupported tus version"},
		{"POST without Tus-Resumable", tuRequest(e, http.MethodPost, "/tus", sessAlice, nil, "Upload-Length", "1", "Tus-Resumable", ""), http.StatusPreconditionFailed, "unsupported tus version"},
		{"PATCH past the length", tuRequest(e, http.MethodPatch, url, "", []byte("678901"), "Upload-Offset", "5"), http.StatusRequestEntityTooLarge, "upload length exceeded"},
		{"PATCH without Upload-Offset", tuRequest(e, http.MethodPatch, url, "", []byte("x")), http.StatusBadRequest, "invalid upload offset"},
		{"PATCH with a negative offset", tuRequest(e, http.MethodPatch, url, "", []byte("x"), "Upload-Offset", "-5"), http.StatusBadRequest, "invalid upload offset"},
		{"PATCH of another content type", tuRequest(e, http.MethodPatch, url, "", []byte("x"), "Upload-Offset", "5", "Content-Type", "application/octet-stream"), http.StatusUnsupportedMediaType, "invalid content type"},
		{"Upload-Length over the limit", tuRequest(e, http.MethodPost, "/tus", sessAlice, nil, "Upload-Length", strconv.Itoa(1<<20+1)), http.StatusRequestEntityTooLarge, "file too large"},
		{"no Upload-Length", tuRequest(e, http.MethodPost, "/tus", sessAlice, nil), http.StatusBadRequest, "invalid upload length"},
		{"Upload-Length not a number", tuRequest(e, http.MethodPost, "/tus", sessAlice, nil, "Upload-Length", "1e3"), http.StatusBadRequest, "invalid upload length"},
		{"Upload-Defer-Length", tuRequest(e, http.MethodPost, "/tus", sessAlice, nil, "Upload-Defer-Length", "1"), http.StatusBadRequest, "invalid upload length"},
		{"metadata not base64", tuRequest(e, http.MethodPost, "/tus", sessAlice, nil, "Upload-Length", "1", "Upload-Metadata", "filename !!!"), http.StatusBadRequest, "invalid upload metadata"},
		{"metadata key twice", tuRequest(e, http.MethodPost, "/tus", sessAlice, nil, "Upload-Length", "1", "Upload-Metadata", "a,a"), http.StatusBadRequest, "invalid upload metadata"},
		{"sessionId without fileId", tuRequest(e, http.MethodPost, "/tus", sessAlice, nil, "Upload-Length", "1", "Upload-Metadata", tuMeta("sessionId", "x")), http.StatusBadRequest, "invalid upload metadata"},
		{"bad ttl", tuRequest(e, http.MethodPost, "/tus", sessAlice, nil, "Upload-Length", "1", "Upload-Metadata", tuMeta("ttl", "0")), http.StatusBadRequest, "invalid ttl"},
		{"creation body past its length", tuRequest(e, http.MethodPost, "/tus", sessAlice, []byte("123"), "Upload-Length", "2"), http.StatusRequestEntityTooLarge, "upload length exceeded"},
		{"POST without credentials", tuRequest(e, http.MethodPost, "/tus", "", nil, "Upload-Length", "1"), http.StatusUnauthorized, "unauthorized"},
		{"unknown upload", tuRequest(e, http.MethodPatch, "/tus/00000000-0000-4000-8000-000000000000", "", []byte("x"), "Upload-Offset", "0"), http.StatusNotFound, "upload not found"},
		{"malformed id", tuRequest(e, http.MethodPatch, "/tus/nope", "", []byte("x"), "Upload-Offset", "0"), http.StatusNotFound, "upload not found"},
		{"HEAD of an unknown upload", tuRequest(e, http.MethodHead, "/tus/00000000-0000-4000-8000-000000000000", "", nil), http.StatusNotFound, "upload not found"},
		{"DELETE of an unknown upload", tuRequest(e, http.MethodDelete, "/tus/00000000-0000-4000-8000-000000000000", "", nil), http.StatusNotFound, "upload not found"},
		{"GET of a tus URL", tuRequest(e, http.MethodGet, url, "", nil), http.StatusMethodNotAllowed, "method not allowed"},
	}
	for _, tc := range cases {
		r := e.Do(tc.req)
		testutil.WantError(t, r, tc.status, tc.msg)
		if r.Header.Get("Upload-Offset") != "" {
			t.Errorf("%s: an error answer with Upload-Offset", tc.what)
		}
		if tc.status == http.StatusPreconditionFailed && r.Header.Get("Tus-Version") != "1.0.0" {
			t.Errorf("%s: 412 without Tus-Version", tc.what)
		}
		if r.Header.Get("Tus-Resumable") != "1.0.0" && tc.status != http.StatusMethodNotAllowed {
			t.Errorf("%s: no Tus-Resumable on the answer", tc.what)
		}
	}
	if got := tuOffset(t, e, url); got != 5 {
		t.Fatalf("offset %d after the refusals, want 5", got)
	}
	// The method override, for clients that can only POST.
	r := e.Do(tuRequest(e, http.MethodPost, url, "", []byte("67890"), "Upload-Offset", "5", "X-HTTP-Method-Override", "PATCH"))
	tuWantOffset(t, r, 10)
	d := e.Do(e.NewRequest(http.MethodGet, tuUploadPath(t, e, url), "", "", nil))
	if string(d.Body) != "1234567890" {
		t.Fatalf("download %q", d.Body)
	}
	// The error line names the route, never the tus id: a capability (docs/behaviour.md §14).
	if !strings.Contains(e.Logs.String(), "Error at /tus/<redacted>: message=offset mismatch, status=409") || strings.Contains(e.Logs.String(), tuID(url)) {
		t.Errorf("no redacted error line for the 409 in the log, or the tus id in it")
	}
}

// A PATCH whose connection breaks keeps the bytes that came in: HEAD reports them (durable),
// and the upload resumes from there.
func TestTusBrokenPatchResumes(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	data := testutil.RandomBytes(t, 600<<10)
	url := tuCreate(t, e, len(data), "")
	conn := testutil.TusPatchConn(t, url, len(data))
	sent := 400 << 10
	if _, err := conn.Write(data[:sent]); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	testutil.Eventually(t, 10*time.Second, "the cut PATCH's bytes to be recorded", func() bool { return tuOffset(t, e, url) == sent })
	tuWantOffset(t, tuPatch(e, url, sent, data[sent:]), len(data))
	d := e.Do(e.NewRequest(http.MethodGet, tuUploadPath(t, e, url), "", "", nil))
	if !bytes.Equal(d.Body, data) {
		t.Fatal("download differs from the upload")
	}
}

// Termination removes the upload and its staged bytes at once.
func TestTusTermination(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	url := tuCreate(t, e, 1000, "")
	tuWantOffset(t, tuPatch(e, url, 0, testutil.RandomBytes(t, 500)), 500)
	if s := tuStages(t, e); len(s) != 1 {
		t.Fatalf("staging files %v", s)
	}
	if r := e.Do(tuRequest(e, http.MethodDelete, url, "", nil)); r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.StatusCode, r.Body)
	}
	if s := tuStages(t, e); len(s) != 0 {
		t.Errorf("staging files left: %v", s)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM tus_uploads`); n != 0 {
		t.Errorf("%d tus rows left", n)
	}
	if got := tuOffset(t, e, url); got != -http.StatusNotFound {
		t.Errorf("HEAD after termination: %d", got)
	}
	testutil.WantError(t, tuPatch(e, url, 500, []byte("x")), http.StatusNotFound, "upload not found")
	testutil.WantError(t, e.Do(tuRequest(e, http.MethodDelete, url, "", nil)), http.StatusNotFound, "upload not found")
	// Terminating a completed upload forgets the tus record only.
	url = tuCreate(t, e, 3, "")
	tuWantOffset(t, tuPatch(e, url, 0, []byte("abc")), 3)
	download := tuUploadPath(t, e, url)
	if r := e.Do(tuRequest(e, http.MethodDelete, url, "", nil)); r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE of a completed upload: %d", r.StatusCode)
	}
	if d := e.Do(e.NewRequest(http.MethodGet, download, "", "", nil)); string(d.Body) != "abc" {
		t.Fatalf("the completed upload's content went with its tus record: %d", d.StatusCode)
	}
}

// An unfinished upload past Upload-Expires answers 410 at once and accepts nothing; the purge
// removes it with its bytes, and it answers 404 from then on. Staging files that no upload
// names (a crash) go too, after the grace period; those of live uploads stay.
func TestTusExpiryAndPurge(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t, func(c *config.Config) { c.TusExpiry = time.Hour })
	url := tuCreate(t, e, 1000, "")
	r := tuPatch(e, url, 0, testutil.RandomBytes(t, 300))
	tuWantOffset(t, r, 300)
	exp, err := http.ParseTime(r.Header.Get("Upload-Expires"))
	if err != nil || time.Until(exp) < 59*time.Minute || time.Until(exp) > time.Hour+time.Minute {
		t.Fatalf("Upload-Expires %q with FILESHARE_TUS_EXPIRY=1h", r.Header.Get("Upload-Expires"))
	}
	live := tuCreate(t, e, 1000, "")
	done := tuCreate(t, e, 2, "")
	tuWantOffset(t, tuPatch(e, done, 0, []byte("ok")), 2)
	doneDownload := tuUploadPath(t, e, done)
	testutil.Exec(t, e, `UPDATE tus_uploads SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id = ANY($1::uuid[])`,
		[]string{tuID(url), tuID(done)})
	testutil.WantError(t, tuPatch(e, url, 300, []byte("late")), http.StatusGone, "upload expired")
	if got := tuOffset(t, e, url); got != -http.StatusGone {
		t.Fatalf("HEAD of the expired upload: %d", got)
	}
	// A staging file of no upload, old enough to be swept, and the live upload's, as old.
	orphan := blob.NewKey(blob.KindUpload)
	if _, err := e.App.Blobs.CreateStage(context.Background(), orphan); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	for _, n := range tuStages(t, e) {
		os.Chtimes(filepath.Join(e.DataDir, "tmp", n), old, old)
	}
	res, err := e.App.Purger.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.TusUploadsExpired != 1 || res.TusBytes != 300 || res.StagesRemoved != 1 {
		t.Errorf("purge: %+v", res)
	}
	if got := tuOffset(t, e, url); got != -http.StatusNotFound {
		t.Errorf("HEAD of the purged upload: %d, want 404", got)
	}
	if got := tuOffset(t, e, done); got != -http.StatusNotFound {
		t.Errorf("HEAD of the expired completed upload: %d, want 404", got)
	}
	if d := e.Do(e.NewRequest(http.MethodGet, doneDownload, "", "", nil)); string(d.Body) != "ok" {
		t.Errorf("the completed upload's content went with its expired tus record")
	}
	if got := tuOffset(t, e, live); got != 0 {
		t.Errorf("HEAD of the live upload after the purge: %d", got)
	}
	if s := tuStages(t, e); len(s) != 1 {
		t.Errorf("staging files after the purge: %v, want the live upload's", s)
	}
}

// Content-Digest on the request that brings the last byte is of the whole file: a mismatch
// stores nothing (the upload stays where it was and the last bytes may be sent again), a
// malformed one of a known algorithm is a mismatch, an unknown algorithm alone is ignored.
func TestTusContentDigest(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	data := testutil.RandomBytes(t, 200<<10)
	s256 := sha256.Sum256(data)
	s512 := sha512.Sum512(data)
	right := digestField("sha-256", s256[:])
	wrong := digestField("sha-256", make([]byte, 32))
	half := len(data) / 2
	cases := []struct {
		what, field string
		stored      bool
	}{
		{"sha-256 right", right, true},
		{"sha-512 right", digestField("sha-512", s512[:]), true},
		{"both right", right + ", " + digestField("sha-512", s512[:]), true},
		{"unknown algorithm only", "md5=:" + base64.StdEncoding.EncodeToString(make([]byte, 16)) + ":", true},
		{"sha-256 wrong", wrong, false},
		{"sha-512 wrong", digestField("sha-512", make([]byte, 64)), false},
		{"sha-256 right, sha-512 wrong", right + ", " + digestField("sha-512", make([]byte, 64)), false},
		{"sha-256 malformed", "sha-256=:not base64!:", false},
		{"sha-256 of the wrong length", digestField("sha-256", s256[:16]), false},
	}
	for _, tc := range cases {
		url := tuCreate(t, e, len(data), "")
		// On a request that does not bring the last byte, a digest is not checked.
		tuWantOffset(t, tuPatch(e, url, 0, data[:half], "Content-Digest", wrong), half)
		r := tuPatch(e, url, half, data[half:], "Content-Digest", tc.field)
		if tc.stored {
			tuWantOffset(t, r, len(data))
			if d := e.Do(e.NewRequest(http.MethodGet, tuUploadPath(t, e, url), "", "", nil)); !bytes.Equal(d.Body, data) {
				t.Errorf("%s: download %d", tc.what, d.StatusCode)
			}
			continue
		}
		testutil.WantError(t, r, http.StatusBadRequest, "digest mismatch")
		if got := tuOffset(t, e, url); got != half {
			t.Errorf("%s: offset %d after the mismatch, want %d", tc.what, got, half)
		}
		if d := e.Do(e.NewRequest(http.MethodGet, tuUploadPath(t, e, url), "", "", nil)); d.StatusCode != http.StatusNotFound {
			t.Errorf("%s: the upload is visible: %d", tc.what, d.StatusCode)
		}
		// The last bytes again, with the right digest.
		tuWantOffset(t, tuPatch(e, url, half, data[half:], "Content-Digest", right), len(data))
	}
	// In one request, at creation: a mismatch leaves nothing, and no Location points at it.
	mismatch := e.Do(tuRequest(e, http.MethodPost, "/tus", sessAlice, data, "Upload-Length", strconv.Itoa(len(data)), "Content-Digest", wrong))
	testutil.WantError(t, mismatch, http.StatusBadRequest, "digest mismatch")
	if loc := mismatch.Header.Get("Location"); loc != "" {
		t.Errorf("the refused creation carries Location %q", loc)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM tus_uploads WHERE completed_at IS NULL`); n != 0 {
		t.Errorf("%d unfinished tus uploads left", n)
	}
	if s := tuStages(t, e); len(s) != 0 {
		t.Errorf("staging files left: %v", s)
	}
	var blobs int
	for _, b := range testutil.BlobFiles(t, e.DataDir) {
		if strings.HasPrefix(b, "u/") {
			blobs++
		}
	}
	if blobs != len(cases) {
		t.Errorf("%d upload blobs, want %d (one per stored upload)", blobs, len(cases))
	}
}

// A tus upload's id is a capability of its own (docs/behaviour.md §11 and §14): it is never the
// id of the upload it becomes, so a download link opens nothing of the tus upload — neither
// its metadata (HEAD) nor its bytes (PATCH) nor its termination (DELETE).
func TestTusIDIsNotTheDownloadID(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	data := []byte("the whole file")
	url := tuCreate(t, e, len(data), tuMeta("filename", "doc.txt", "relativePath", "/home/alice/secret-project/doc.txt"))
	r := tuPatch(e, url, 0, data)
	tuWantOffset(t, r, len(data))
	download := r.Header.Get("Fileshare-Upload-Url")
	if download == "" || tuID(download) == tuID(url) {
		t.Fatalf("Fileshare-Upload-Url %q for tus upload %s", download, url)
	}
	if d := e.Do(e.NewRequest(http.MethodGet, download, "", "", nil)); d.StatusCode != http.StatusOK || !bytes.Equal(d.Body, data) {
		t.Fatalf("download: %d %q", d.StatusCode, d.Body)
	}
	asTus := e.URL + "/tus/" + tuID(download)
	for _, req := range []*http.Request{
		tuRequest(e, http.MethodHead, asTus, "", nil),
		tuRequest(e, http.MethodPatch, asTus, "", []byte("more"), "Upload-Offset", strconv.Itoa(len(data))),
		tuRequest(e, http.MethodDelete, asTus, "", nil),
	} {
		r := e.Do(req)
		if r.StatusCode != http.StatusNotFound || r.Header.Get("Upload-Metadata") != "" {
			t.Fatalf("%s /tus/{download id}: %d %v", req.Method, r.StatusCode, r.Header)
		}
	}
	// The tus upload is untouched, and still says where its download is.
	if got := tuOffset(t, e, url); got != len(data) || tuUploadPath(t, e, url) != download[len(e.URL):] {
		t.Fatalf("the tus upload after the probes: offset %d, download %q", got, tuUploadPath(t, e, url))
	}
}

// A file entry has at most one unfinished tus upload: a second creation answers 409 upload in
// progress (with Basic Auth or with the entry's upload token), so an upload URL cannot hold the
// entry's size of the tenant's quota again and again. Terminating the first, or its expiry,
// frees the entry.
func TestTusOneUnfinishedUploadPerEntry(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "one.bin"})
	up := sessCreateUploadURL(t, e, sessAlice, f.ID, nil)
	token := up.URL[strings.Index(up.URL, "token=")+len("token="):]
	byToken := tuMeta("sessionId", s.ID, "fileId", f.ID, "token", token)
	byUser := tuMeta("sessionId", s.ID, "fileId", f.ID)
	create := func(login, meta string) *testutil.Response {
		return e.Do(tuRequest(e, http.MethodPost, "/tus", login, nil, "Upload-Length", "1000", "Upload-Metadata", meta))
	}
	first := create("", byToken)
	if first.StatusCode != http.StatusCreated {
		t.Fatalf("first creation: %d %s", first.StatusCode, first.Body)
	}
	for range 3 {
		testutil.WantError(t, create("", byToken), http.StatusConflict, "upload in progress")
		testutil.WantError(t, create(sessAlice, byUser), http.StatusConflict, "upload in progress")
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM tus_uploads WHERE file_id = $1`, f.ID); n != 1 {
		t.Fatalf("%d tus uploads of the entry, want 1", n)
	}
	if s := tuStages(t, e); len(s) != 1 {
		t.Fatalf("staging areas %v, want the first upload's only", s)
	}
	// Terminated, the entry is free again.
	if r := e.Do(tuRequest(e, http.MethodDelete, first.Header.Get("Location"), "", nil)); r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", r.StatusCode)
	}
	second := create(sessAlice, byUser)
	if second.StatusCode != http.StatusCreated {
		t.Fatalf("creation after the termination: %d %s", second.StatusCode, second.Body)
	}
	// Expired (not purged yet), it frees the entry too, and goes with its bytes.
	testutil.Exec(t, e, `UPDATE tus_uploads SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE id = $1`, tuID(second.Header.Get("Location")))
	third := create("", byToken)
	if third.StatusCode != http.StatusCreated {
		t.Fatalf("creation after the expiry: %d %s", third.StatusCode, third.Body)
	}
	if got := tuOffset(t, e, second.Header.Get("Location")); got != -http.StatusNotFound {
		t.Fatalf("HEAD of the expired upload after the new creation: %d, want 404", got)
	}
	if s := tuStages(t, e); len(s) != 1 {
		t.Fatalf("staging areas %v, want the third upload's only", s)
	}
}

// A tenant has at most FILESHARE_TUS_MAX_UNFINISHED unfinished resumable uploads (429 too many
// unfinished uploads past it, also when they are created at once); completing, terminating or
// the expiry of one frees a place, and another tenant has its own.
func TestTusUnfinishedUploadsPerTenantAreBounded(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t, func(c *config.Config) { c.TusMaxUnfinished = 3 })
	e.AddUser(sessBob, sessPW)
	create := func(login string) *testutil.Response {
		return e.Do(tuRequest(e, http.MethodPost, "/tus", login, nil, "Upload-Length", "2"))
	}
	var (
		mu   sync.Mutex
		urls []string
		wg   sync.WaitGroup
	)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := create(sessAlice)
			switch r.StatusCode {
			case http.StatusCreated:
				mu.Lock()
				urls = append(urls, r.Header.Get("Location"))
				mu.Unlock()
			case http.StatusTooManyRequests:
				if string(r.Body) != `{"message":"too many unfinished uploads"}` {
					t.Errorf("refusal: %s", r.Body)
				}
			default:
				t.Errorf("creation: %d %s", r.StatusCode, r.Body)
			}
		}()
	}
	wg.Wait()
	if len(urls) != 3 {
		t.Fatalf("%d of 6 concurrent creations accepted, want 3", len(urls))
	}
	if s := tuStages(t, e); len(s) != 3 {
		t.Fatalf("staging areas %v, want the 3 accepted uploads'", s)
	}
	testutil.WantError(t, create(sessAlice), http.StatusTooManyRequests, "too many unfinished uploads")
	if r := create(sessBob); r.StatusCode != http.StatusCreated {
		t.Fatalf("another tenant's upload: %d %s", r.StatusCode, r.Body)
	}
	// Completed: a place is free.
	tuWantOffset(t, tuPatch(e, urls[0], 0, []byte("ok")), 2)
	if r := create(sessAlice); r.StatusCode != http.StatusCreated {
		t.Fatalf("after a completion: %d %s", r.StatusCode, r.Body)
	}
	testutil.WantError(t, create(sessAlice), http.StatusTooManyRequests, "too many unfinished uploads")
	// Terminated: a place is free.
	if r := e.Do(tuRequest(e, http.MethodDelete, urls[1], "", nil)); r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", r.StatusCode)
	}
	if r := create(sessAlice); r.StatusCode != http.StatusCreated {
		t.Fatalf("after a termination: %d %s", r.StatusCode, r.Body)
	}
	// Expired, before the purge: a place is free.
	testutil.Exec(t, e, `UPDATE tus_uploads SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE id = $1`, tuID(urls[2]))
	if r := create(sessAlice); r.StatusCode != http.StatusCreated {
		t.Fatalf("after an expiry: %d %s", r.StatusCode, r.Body)
	}
}
