package httpapi_test

// This file is over 400 lines: the rules of file entries (create, list, put by every route, sizes, states) through the HTTP API, one suite.

// Tests of a session's file entries: creation, upload (raw and multipart), deletion and the
// entry list.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

func TestFileCreatePending(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, map[string]any{"ttl": 3600})

	r := sessCall(t, e, http.MethodPost, "/sessions/"+s.ID+"/files", sessAlice, map[string]any{"name": "report.pdf", "size": 5})
	f := testutil.Decode[sessFile](t, r, http.StatusCreated)
	if _, err := uuid.Parse(f.ID); err != nil || f.SessionID != s.ID || f.Name != "report.pdf" || f.State != "pending" {
		t.Fatalf("entry %+v", f)
	}
	if f.ContentType != "application/pdf" {
		t.Errorf("contentType %q, want one guessed from the name", f.ContentType)
	}
	if f.Size == nil || *f.Size != 5 || f.SHA256 != nil {
		t.Errorf("size %v sha256 %v, want the declared 5 and null", f.Size, f.SHA256)
	}
	if !f.ExpiresAt.Equal(s.ExpiresAt) {
		t.Errorf("expiresAt %s, want the session's %s", f.ExpiresAt, s.ExpiresAt)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatal(err)
	}
	if string(raw["sha256"]) != "null" {
		t.Errorf("sha256 %s, want null", raw["sha256"])
	}

	g := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "notes", "contentType": "text/plain; charset=utf-8"})
	if g.Size != nil || g.ContentType != "text/plain; charset=utf-8" {
		t.Errorf("entry without size: size %v contentType %q", g.Size, g.ContentType)
	}
	h := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "blob", "contentType": "not a type"})
	if h.ContentType != "application/octet-stream" {
		t.Errorf("contentType %q, want application/octet-stream", h.ContentType)
	}
	z := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "empty", "size": 0})
	if z.Size == nil || *z.Size != 0 {
		t.Errorf("declared size 0: %v", z.Size)
	}

	list := testutil.Decode[[]sessFile](t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID+"/files", sessAlice, nil), http.StatusOK)
	if len(list) != 4 || list[0].ID != f.ID || list[1].ID != g.ID || list[2].ID != h.ID || list[3].ID != z.ID {
		t.Fatalf("list %+v, want the four entries oldest first", list)
	}
	for _, l := range list {
		if l.State != "pending" {
			t.Fatalf("listed %+v", l)
		}
	}
	testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions/"+uuid.NewString()+"/files", sessAlice, map[string]any{"name": "x"}), http.StatusNotFound, "session not found")
	testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions/nope/files", sessAlice, map[string]any{"name": "x"}), http.StatusNotFound, "session not found")
}

func TestFileCreateValidation(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t, func(c *config.Config) { c.MaxUploadBytes = 1 << 20 })
	s := sessCreateSession(t, e, sessAlice, nil)
	path := "/sessions/" + s.ID + "/files"
	for _, body := range []any{nil, "{}", `{"name":""}`, `{"name":"   "}`, `{"name":"dir/"}`, `{"name":".."}`, `{"name":"a/.."}`, `{"name":"\u0000\u0007"}`} {
		testutil.WantError(t, sessCall(t, e, http.MethodPost, path, sessAlice, body), http.StatusBadRequest, "name is required")
	}
	for _, body := range []string{`{"name":"a","size":-1}`, `{"name":"a","size":1.5}`, `{"name":"a","size":1e3}`, `{"name":"a","size":1048577}`,
		`{"name":"a","size":99999999999999999999999}`} {
		testutil.WantError(t, sessCall(t, e, http.MethodPost, path, sessAlice, body), http.StatusBadRequest, "invalid size")
	}
	for _, body := range []string{`{`, `[]`, `{"name":5}`, `{"name":"a"} {}`, `{"name":"a","size":true}`} {
		testutil.WantError(t, sessCall(t, e, http.MethodPost, path, sessAlice, body), http.StatusBadRequest, "invalid JSON body")
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM session_files`); n != 0 {
		t.Fatalf("refused requests created %d entries", n)
	}
	// The largest size allowed is the upload limit.
	if f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "max", "size": 1 << 20}); *f.Size != 1<<20 {
		t.Fatalf("size %d", *f.Size)
	}

	// Names are sanitised: path parts stripped, control characters dropped, 255 bytes at most.
	long := strings.Repeat("é", 200) // 400 bytes
	for in, want := range map[string]string{
		"../../etc/passwd":        "passwd",
		`C:\Users\x\report.txt`:   "report.txt",
		"a\x00b\nc\x7f.txt":       "abc.txt",
		"  spaced name.txt  ":     "spaced name.txt",
		"evil\u202etxt.exe":       "eviltxt.exe",
		"ünïcødé 文件.txt":          "ünïcødé 文件.txt",
		long:                      strings.Repeat("é", 127),
		"x/" + long + "/y/z.bin":  "z.bin",
		"semi;colon\"quote\".txt": "semi;colon\"quote\".txt",
	} {
		f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": in})
		if f.Name != want {
			t.Errorf("name %q became %q, want %q", in, f.Name, want)
		}
	}
}

func TestFilePutRawBody(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	content := testutil.RandomBytes(t, 300<<10)
	f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "data.bin", "size": len(content)})
	got := testutil.Decode[sessFile](t, sessPut(t, e, sessAlice, s.ID, f.ID, content), http.StatusOK)
	if got.ID != f.ID || got.State != "stored" || got.Size == nil || *got.Size != int64(len(content)) ||
		got.SHA256 == nil || *got.SHA256 != testutil.SHA256(content) || !got.ExpiresAt.Equal(s.ExpiresAt) || got.Name != "data.bin" {
		t.Fatalf("stored entry %+v", got)
	}
	b, err := os.ReadFile(sessBlobPath(t, e, f.ID))
	if err != nil || !bytes.Equal(b, content) {
		t.Fatalf("blob on disk: %d bytes, err %v", len(b), err)
	}
	if tmp := testutil.TempFiles(t, e.DataDir); len(tmp) != 0 {
		t.Fatalf("temp files left: %v", tmp)
	}
	list := testutil.Decode[[]sessFile](t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID+"/files", sessAlice, nil), http.StatusOK)
	if len(list) != 1 || list[0].State != "stored" || *list[0].SHA256 != testutil.SHA256(content) {
		t.Fatalf("list %+v", list)
	}
	// An entry without a declared size takes any size, an empty body too.
	g := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "empty.txt"})
	stored := testutil.Decode[sessFile](t, sessPut(t, e, sessAlice, s.ID, g.ID, []byte{}), http.StatusOK)
	if *stored.Size != 0 || *stored.SHA256 != testutil.SHA256(nil) {
		t.Fatalf("empty entry %+v", stored)
	}
	// Unknown entries, and an entry under another session.
	other := sessCreateSession(t, e, sessAlice, nil)
	h := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "h"})
	testutil.WantError(t, sessPut(t, e, sessAlice, other.ID, h.ID, []byte("x")), http.StatusNotFound, "file not found")
	testutil.WantError(t, sessPut(t, e, sessAlice, s.ID, uuid.NewString(), []byte("x")), http.StatusNotFound, "file not found")
	testutil.WantError(t, sessPut(t, e, sessAlice, s.ID, "nope", []byte("x")), http.StatusNotFound, "file not found")
	testutil.WantError(t, sessPut(t, e, "", s.ID, h.ID, []byte("x")), http.StatusUnauthorized, "unauthorized")
	if n := len(testutil.BlobFiles(t, e.DataDir)); n != 2 {
		t.Fatalf("%d blobs, want 2", n)
	}
}

func sessPutMultipart(t *testing.T, e *testutil.Env, path, login string, body []byte, ct string) *testutil.Response {
	t.Helper()
	req := e.NewRequest(http.MethodPut, path, login, sessPW, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	return e.Do(req)
}

func TestFilePutMultipart(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	content := testutil.RandomBytes(t, 100<<10)
	f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "entry-name.bin", "size": len(content)})
	path := "/sessions/" + s.ID + "/files/" + f.ID

	body, ct := testutil.Multipart(t, testutil.FieldPart("note", "before the file"))
	testutil.WantError(t, sessPutMultipart(t, e, path, sessAlice, body, ct), http.StatusBadRequest, "file is required")

	body, ct = testutil.Multipart(t, testutil.FieldPart("note", "before the file"), testutil.FilePart("ignored.txt", content))
	got := testutil.Decode[sessFile](t, sessPutMultipart(t, e, path, sessAlice, body, ct), http.StatusOK)
	if got.State != "stored" || *got.Size != int64(len(content)) || *got.SHA256 != testutil.SHA256(content) {
		t.Fatalf("stored %+v", got)
	}
	if got.Name != "entry-name.bin" {
		t.Errorf("name %q: the entry's own name must stay", got.Name)
	}
	b, err := os.ReadFile(sessBlobPath(t, e, f.ID))
	if err != nil || !bytes.Equal(b, content) {
		t.Fatalf("blob on disk differs from the part (%d bytes, %v)", len(b), err)
	}
	if n := len(testutil.BlobFiles(t, e.DataDir)); n != 1 {
		t.Fatalf("%d blobs, want 1", n)
	}
	if tmp := testutil.TempFiles(t, e.DataDir); len(tmp) != 0 {
		t.Fatalf("temp files left: %v", tmp)
	}
}

func TestFilePutSizeMismatch(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	content := testutil.RandomBytes(t, 1000)
	f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "exact.bin", "size": len(content)})
	path := "/sessions/" + s.ID + "/files/" + f.ID
	bodies := [][]byte{content[:999], append(bytes.Clone(content), 'x'), nil, testutil.RandomBytes(t, 200<<10)}
	for _, b := range bodies {
		testutil.WantError(t, sessPut(t, e, sessAlice, s.ID, f.ID, b), http.StatusBadRequest, "size mismatch")
	}
	for _, b := range [][]byte{content[:10], append(bytes.Clone(content), 'y')} {
		mp, ct := testutil.Multipart(t, testutil.FieldPart("note", "before the file"), testutil.FilePart("x.bin", b))
		testutil.WantError(t, sessPutMultipart(t, e, path, sessAlice, mp, ct), http.StatusBadRequest, "size mismatch")
	}
	list := testutil.Decode[[]sessFile](t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID+"/files", sessAlice, nil), http.StatusOK)
	if len(list) != 1 || list[0].State != "pending" || list[0].SHA256 != nil || *list[0].Size != 1000 {
		t.Fatalf("after mismatches: %+v, want still pending", list)
	}
	if n := len(testutil.BlobFiles(t, e.DataDir)); n != 0 {
		t.Fatalf("refused uploads left %d blobs", n)
	}
	if tmp := testutil.TempFiles(t, e.DataDir); len(tmp) != 0 {
		t.Fatalf("refused uploads left temp files %v", tmp)
	}
	// The entry still takes the right content.
	got := testutil.Decode[sessFile](t, sessPut(t, e, sessAlice, s.ID, f.ID, content), http.StatusOK)
	if *got.SHA256 != testutil.SHA256(content) {
		t.Fatalf("stored %+v", got)
	}
	// An upload URL works after a mismatch too.
	g := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "g", "size": 3})
	up := sessCreateUploadURL(t, e, sessAlice, g.ID, nil)
	testutil.WantError(t, sessCall(t, e, http.MethodPut, up.URL, "", []byte("toolong")), http.StatusBadRequest, "size mismatch")
	testutil.Decode[sessFile](t, sessCall(t, e, http.MethodPut, up.URL, "", []byte("abc")), http.StatusOK)
}

func TestFilePutTwice(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	first := sessStoredFile(t, e, sessAlice, s.ID, "a.txt", []byte("first"))
	testutil.WantError(t, sessPut(t, e, sessAlice, s.ID, first.ID, []byte("second")), http.StatusConflict, "file already uploaded")
	mp, ct := testutil.Multipart(t, testutil.FieldPart("note", "before the file"), testutil.FilePart("a.txt", []byte("second")))
	testutil.WantError(t, sessPutMultipart(t, e, "/sessions/"+s.ID+"/files/"+first.ID, sessAlice, mp, ct), http.StatusConflict, "file already uploaded")
	b, err := os.ReadFile(sessBlobPath(t, e, first.ID))
	if err != nil || string(b) != "first" {
		t.Fatalf("blob %q %v, want the first content", b, err)
	}
	if n := len(testutil.BlobFiles(t, e.DataDir)); n != 1 {
		t.Fatalf("%d blobs, want 1", n)
	}
	list := testutil.Decode[[]sessFile](t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID+"/files", sessAlice, nil), http.StatusOK)
	if *list[0].SHA256 != testutil.SHA256([]byte("first")) {
		t.Fatalf("sha256 changed: %+v", list[0])
	}
}

func TestFileDelete(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "a.txt", []byte("content"))
	keep := sessStoredFile(t, e, sessAlice, s.ID, "b.txt", []byte("kept"))
	t1 := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil)
	t2 := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil)
	keepTok := sessCreateToken(t, e, sessAlice, s.ID, keep.ID, nil)
	blob := sessBlobPath(t, e, f.ID)
	// HEAD works before the delete.
	if r := sessCall(t, e, http.MethodHead, t1.URL, "", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("HEAD before delete: %d", r.StatusCode)
	}

	r := sessCall(t, e, http.MethodDelete, "/sessions/"+s.ID+"/files/"+f.ID, sessAlice, nil)
	if r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.StatusCode, r.Body)
	}
	for _, tok := range []sessToken{t1, t2} {
		testutil.WantError(t, sessCall(t, e, http.MethodGet, tok.URL, "", nil), http.StatusNotFound, "download token not found")
		testutil.WantError(t, sessCall(t, e, http.MethodHead, tok.URL, "", nil), http.StatusNotFound, "download token not found")
	}
	if _, err := os.Stat(blob); !os.IsNotExist(err) {
		t.Fatalf("blob still there: %v", err)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM download_tokens WHERE file_id = $1`, f.ID); n != 0 {
		t.Fatalf("%d tokens of the deleted entry left", n)
	}
	testutil.WantError(t, sessCall(t, e, http.MethodDelete, "/sessions/"+s.ID+"/files/"+f.ID, sessAlice, nil), http.StatusNotFound, "file not found")
	testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions/"+s.ID+"/files/"+f.ID+"/tokens", sessAlice, nil), http.StatusNotFound, "file not found")
	testutil.WantError(t, sessPut(t, e, sessAlice, s.ID, f.ID, []byte("x")), http.StatusNotFound, "file not found")
	testutil.WantError(t, sessCall(t, e, http.MethodDelete, "/sessions/"+s.ID+"/files/nope", sessAlice, nil), http.StatusNotFound, "file not found")
	testutil.WantError(t, sessCall(t, e, http.MethodDelete, "/sessions/nope/files/"+keep.ID, sessAlice, nil), http.StatusNotFound, "session not found")
	// Under another session of the tenant, the entry is not found either.
	other := sessCreateSession(t, e, sessAlice, nil)
	testutil.WantError(t, sessCall(t, e, http.MethodDelete, "/sessions/"+other.ID+"/files/"+keep.ID, sessAlice, nil), http.StatusNotFound, "file not found")

	list := testutil.Decode[[]sessFile](t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID+"/files", sessAlice, nil), http.StatusOK)
	if len(list) != 1 || list[0].ID != keep.ID {
		t.Fatalf("list %+v, want only %s", list, keep.ID)
	}
	if got := testutil.Decode[sessSession](t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID, sessAlice, nil), http.StatusOK); got.FileCount != 1 {
		t.Fatalf("fileCount %d, want 1", got.FileCount)
	}
	if r := sessCall(t, e, http.MethodGet, keepTok.URL, "", nil); r.StatusCode != http.StatusOK || string(r.Body) != "kept" {
		t.Fatalf("other entry's token: %d %q", r.StatusCode, r.Body)
	}

	// A pending entry with an upload URL: the URL dies with it.
	p := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "p"})
	up := sessCreateUploadURL(t, e, sessAlice, p.ID, nil)
	if r := sessCall(t, e, http.MethodDelete, "/sessions/"+s.ID+"/files/"+p.ID, sessAlice, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE pending: %d %s", r.StatusCode, r.Body)
	}
	testutil.WantError(t, sessCall(t, e, http.MethodPut, up.URL, "", []byte("x")), http.StatusUnauthorized, "unauthorized")
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM upload_tokens`); n != 0 {
		t.Fatalf("%d upload tokens left", n)
	}
	if n := len(testutil.BlobFiles(t, e.DataDir)); n != 1 {
		t.Fatalf("%d blobs, want 1", n)
	}
}

func sessSeedFiles(t *testing.T, e *testutil.Env, sid string, n int) {
	t.Helper()
	testutil.Exec(t, e, `INSERT INTO session_files (id, session_id, tenant_id, name, content_type)
		SELECT gen_random_uuid(), s.id, s.tenant_id, 'seed-' || g, 'text/plain' FROM sessions s, generate_series(1, $2) g WHERE s.id = $1`, sid, n)
}

func TestFileListPagination(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	other := sessCreateSession(t, e, sessAlice, nil)
	sessSeedFiles(t, e, s.ID, 60)
	for i := range 5 {
		sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": fmt.Sprintf("late-%d", i)})
	}
	sessSeedFiles(t, e, s.ID, 50)
	sessSeedFiles(t, e, other.ID, 30) // another session's entries are never listed
	all := 115

	r := sessCall(t, e, http.MethodGet, "/sessions/"+s.ID+"/files", sessAlice, nil)
	if page := testutil.Decode[[]sessFile](t, r, http.StatusOK); len(page) != 100 || sessNextLink(t, e, r) == "" {
		t.Fatalf("default page: %d rows, Link %q", len(page), r.Header.Get("Link"))
	}
	for _, limit := range []int{1, 9, 57, 114, 115, 116, 1000} {
		rows, pages := sessWalk[sessFile](t, e, sessAlice, fmt.Sprintf("/sessions/%s/files?limit=%d", s.ID, limit), nil)
		if len(rows) != all {
			t.Fatalf("limit %d: %d rows, want %d", limit, len(rows), all)
		}
		if want := (all + limit - 1) / limit; pages != want {
			t.Fatalf("limit %d: %d pages, want %d", limit, pages, want)
		}
		seen := map[string]bool{}
		at, ids := make([]time.Time, len(rows)), make([]string, len(rows))
		for i, f := range rows {
			if seen[f.ID] || f.SessionID != s.ID {
				t.Fatalf("limit %d: entry %+v listed twice or of another session", limit, f)
			}
			seen[f.ID] = true
			at[i], ids[i] = f.CreatedAt, f.ID
		}
		sessCheckOrder(t, at, ids, false)
	}
}

// TestFileListPaginationWhileCreating walks a session's entries while other goroutines add
// entries to it: the entries that existed at the start are each seen once, nothing twice.
func TestFileListPaginationWhileCreating(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	sessSeedFiles(t, e, s.ID, 40)
	for i := range 10 {
		sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": fmt.Sprintf("http-%d", i)})
	}
	sessSeedFiles(t, e, s.ID, 30)
	existing := map[string]bool{}
	for _, f := range testutil.Decode[[]sessFile](t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID+"/files?limit=1000", sessAlice, nil), http.StatusOK) {
		existing[f.ID] = true
	}
	if len(existing) != 80 {
		t.Fatalf("%d entries at the start", len(existing))
	}

	const writers, perWriter = 4, 12
	between, wait := sessWriters(t, e, "entries", writers, perWriter, 2, func(w, i int) *http.Request {
		req := e.NewRequest(http.MethodPost, "/sessions/"+s.ID+"/files", sessAlice, sessPW, strings.NewReader(fmt.Sprintf(`{"name":"w%d-%d"}`, w, i)))
		req.Header.Set("Content-Type", "application/json")
		return req
	})
	rows, _ := sessWalk[sessFile](t, e, sessAlice, "/sessions/"+s.ID+"/files?limit=7", between)
	wait()
	seen := map[string]int{}
	at, ids := make([]time.Time, len(rows)), make([]string, len(rows))
	for i, f := range rows {
		seen[f.ID]++
		at[i], ids[i] = f.CreatedAt, f.ID
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("entry %s seen %d times", id, n)
		}
	}
	for id := range existing {
		if seen[id] != 1 {
			t.Fatalf("entry %s existed at the start and was seen %d times", id, seen[id])
		}
	}
	sessCheckOrder(t, at, ids, false)
}

// GET of one file entry: as the list shows it, pending or stored; another tenant's ids and
// unknown ones answer alike (404); below an expired session, 410.
func TestGetOneFileEntry(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	e.AddUser(sessBob, sessPW)
	s := sessCreateSession(t, e, sessAlice, nil)
	pending := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "later.bin", "size": 3})
	stored := sessStoredFile(t, e, sessAlice, s.ID, "now.txt", []byte("stored"))
	list := testutil.Decode[[]sessFile](t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID+"/files", sessAlice, nil), http.StatusOK)
	byID := map[string]sessFile{}
	for _, f := range list {
		byID[f.ID] = f
	}
	for _, id := range []string{pending.ID, stored.ID} {
		r := sessCall(t, e, http.MethodGet, "/sessions/"+s.ID+"/files/"+id, sessAlice, nil)
		got := testutil.Decode[sessFile](t, r, http.StatusOK)
		if !reflect.DeepEqual(got, byID[id]) {
			t.Fatalf("GET of entry %s: %+v, the list says %+v", id, got, byID[id])
		}
	}
	other := sessCreateSession(t, e, sessAlice, nil)
	for _, p := range []string{
		"/sessions/" + s.ID + "/files/" + uuid.NewString(),
		"/sessions/" + other.ID + "/files/" + stored.ID, // an entry of another session
		"/sessions/" + s.ID + "/files/nope",
	} {
		testutil.WantError(t, sessCall(t, e, http.MethodGet, p, sessAlice, nil), http.StatusNotFound, "file not found")
	}
	foreign := sessCall(t, e, http.MethodGet, "/sessions/"+s.ID+"/files/"+stored.ID, sessBob, nil)
	unknown := sessCall(t, e, http.MethodGet, "/sessions/"+uuid.NewString()+"/files/"+uuid.NewString(), sessBob, nil)
	if foreign.StatusCode != http.StatusNotFound || string(foreign.Body) != string(unknown.Body) {
		t.Fatalf("another tenant's entry: %d %s; unknown ids: %d %s", foreign.StatusCode, foreign.Body, unknown.StatusCode, unknown.Body)
	}
	testutil.WantError(t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID+"/files/"+stored.ID, "", nil), http.StatusUnauthorized, "unauthorized")
	sessExpireSession(t, e, s.ID)
	testutil.WantError(t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID+"/files/"+stored.ID, sessAlice, nil), http.StatusGone, "session expired")
}
