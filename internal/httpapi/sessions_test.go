package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

// Helpers of the session tests carry the prefix sess, so that they do not clash with the
// helpers of the other test files of this package.

const (
	sessAlice = "alice@acme"
	sessBob   = "bob@other"
	sessPW    = "pw"
)

type sessSession struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	CreatedBy string    `json:"createdBy"`
	FileCount int64     `json:"fileCount"`
}

type sessFile struct {
	ID          string    `json:"id"`
	SessionID   string    `json:"sessionId"`
	Name        string    `json:"name"`
	ContentType string    `json:"contentType"`
	Size        *int64    `json:"size"`
	SHA256      *string   `json:"sha256"`
	State       string    `json:"state"`
	CreatedAt   time.Time `json:"createdAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
}

type sessToken struct {
	ID        string    `json:"id"`
	FileID    string    `json:"fileId"`
	SessionID string    `json:"sessionId"`
	URL       string    `json:"url"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

type sessUploadURL struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// sessNewEnv starts a fileshare with the user alice@acme.
func sessNewEnv(t *testing.T, opts ...testutil.Option) *testutil.Env {
	t.Helper()
	e := testutil.NewEnv(t, opts...)
	e.AddUser(sessAlice, sessPW)
	return e
}

// sessCall sends a request as login (anonymous when empty) with the password sessPW; body is
// as testutil.Env.Call takes it.
func sessCall(t *testing.T, e *testutil.Env, method, path, login string, body any) *testutil.Response {
	t.Helper()
	return e.Sub(t).Call(method, path, login, sessPW, body)
}

func sessCreateSession(t *testing.T, e *testutil.Env, login string, body any) sessSession {
	t.Helper()
	return testutil.Decode[sessSession](t, sessCall(t, e, http.MethodPost, "/sessions", login, body), http.StatusCreated)
}

func sessCreateFile(t *testing.T, e *testutil.Env, login, sid string, body any) sessFile {
	t.Helper()
	return testutil.Decode[sessFile](t, sessCall(t, e, http.MethodPost, "/sessions/"+sid+"/files", login, body), http.StatusCreated)
}

func sessPut(t *testing.T, e *testutil.Env, login, sid, fid string, data []byte) *testutil.Response {
	t.Helper()
	return sessCall(t, e, http.MethodPut, "/sessions/"+sid+"/files/"+fid, login, data)
}

// sessStoredFile creates a file entry of sid named name and uploads data into it.
func sessStoredFile(t *testing.T, e *testutil.Env, login, sid, name string, data []byte) sessFile {
	t.Helper()
	f := sessCreateFile(t, e, login, sid, map[string]any{"name": name})
	return testutil.Decode[sessFile](t, sessPut(t, e, login, sid, f.ID, data), http.StatusOK)
}

func sessCreateToken(t *testing.T, e *testutil.Env, login, sid, fid string, body any) sessToken {
	t.Helper()
	return testutil.Decode[sessToken](t, sessCall(t, e, http.MethodPost, "/sessions/"+sid+"/files/"+fid+"/tokens", login, body), http.StatusCreated)
}

func sessCreateUploadURL(t *testing.T, e *testutil.Env, login, fid string, body any) sessUploadURL {
	t.Helper()
	return testutil.Decode[sessUploadURL](t, sessCall(t, e, http.MethodPost, "/sessions/"+fid, login, body), http.StatusCreated)
}

func sessTenantID(t *testing.T, e *testutil.Env, name string) int64 {
	t.Helper()
	return testutil.QueryInt(t, e, `SELECT id FROM tenants WHERE name = $1`, name)
}

// sessExpireSession moves a session's expiry an hour into the past.
func sessExpireSession(t *testing.T, e *testutil.Env, sid string) {
	t.Helper()
	testutil.Exec(t, e, `UPDATE sessions SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id = $1`, sid)
}

// sessBlobPath returns the file holding a stored entry's content.
func sessBlobPath(t *testing.T, e *testutil.Env, fid string) string {
	t.Helper()
	var key string
	if err := e.Store.Pool.QueryRow(context.Background(), `SELECT blob_key FROM session_files WHERE id = $1`, fid).Scan(&key); err != nil {
		t.Fatalf("blob key of %s: %v", fid, err)
	}
	return filepath.Join(e.DataDir, "blobs", filepath.FromSlash(key))
}

var sessLinkRE = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// sessNextLink returns the URL of the Link rel="next" header, or "" when there is none.
func sessNextLink(t *testing.T, e *testutil.Env, r *testutil.Response) string {
	t.Helper()
	links := r.Header.Values("Link")
	if len(links) == 0 {
		return ""
	}
	if len(links) != 1 {
		t.Fatalf("%d Link headers: %q", len(links), links)
	}
	m := sessLinkRE.FindStringSubmatch(links[0])
	if m == nil {
		t.Fatalf("Link %q is not <url>; rel=\"next\"", links[0])
	}
	if !strings.HasPrefix(m[1], e.URL+"/") {
		t.Fatalf("Link %q is not an absolute URL of %s", m[1], e.URL)
	}
	return m[1]
}

// sessWalk follows a paginated list from first to its end and returns every row in order.
// between runs after each page.
func sessWalk[T any](t *testing.T, e *testutil.Env, login, first string, between func()) ([]T, int) {
	t.Helper()
	var all []T
	pages := 0
	for next := first; next != ""; {
		r := sessCall(t, e, http.MethodGet, next, login, nil)
		page := testutil.Decode[[]T](t, r, http.StatusOK)
		pages++
		next = sessNextLink(t, e, r)
		if next != "" && len(page) == 0 {
			t.Fatalf("empty page %s with a Link to another", r.Request.URL)
		}
		all = append(all, page...)
		if pages > 10000 {
			t.Fatal("pagination does not end")
		}
		if between != nil {
			between()
		}
	}
	return all, pages
}

func TestSessionCreateDefaults(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	before := time.Now()
	for _, body := range []any{nil, "", "{}", `{"ttl":null}`} {
		r := sessCall(t, e, http.MethodPost, "/sessions", sessAlice, body)
		s := testutil.Decode[sessSession](t, r, http.StatusCreated)
		if _, err := uuid.Parse(s.ID); err != nil {
			t.Fatalf("id %q: %v", s.ID, err)
		}
		if got := s.ExpiresAt.Sub(s.CreatedAt); got != 604800*time.Second {
			t.Errorf("body %v: lifetime %s, want the default 604800 s", body, got)
		}
		if s.CreatedAt.Before(before.Add(-time.Minute)) || s.CreatedAt.After(time.Now().Add(time.Minute)) {
			t.Errorf("createdAt %s is not now", s.CreatedAt)
		}
		if s.CreatedBy != sessAlice || s.FileCount != 0 {
			t.Errorf("createdBy %q fileCount %d, want %q 0", s.CreatedBy, s.FileCount, sessAlice)
		}
		if loc := r.Header.Get("Location"); loc != e.URL+"/sessions/"+s.ID {
			t.Errorf("Location %q", loc)
		}
		got := testutil.Decode[sessSession](t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID, sessAlice, nil), http.StatusOK)
		if got.ID != s.ID || !got.CreatedAt.Equal(s.CreatedAt) || !got.ExpiresAt.Equal(s.ExpiresAt) || got.CreatedBy != s.CreatedBy {
			t.Errorf("GET answers %+v, POST answered %+v", got, s)
		}
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM sessions`); n != 4 {
		t.Fatalf("%d sessions in the database, want 4", n)
	}
}

func TestSessionCreateCustomTTL(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t, func(c *config.Config) { c.SessionTTL = 1000 })
	for _, ttl := range []int64{1, 60, 2592000} {
		s := sessCreateSession(t, e, sessAlice, map[string]any{"ttl": ttl})
		if got := s.ExpiresAt.Sub(s.CreatedAt); got != time.Duration(ttl)*time.Second {
			t.Errorf("ttl %d: lifetime %s", ttl, got)
		}
	}
	// The configured default (models.session.ttl) applies without a ttl.
	s := sessCreateSession(t, e, sessAlice, nil)
	if got := s.ExpiresAt.Sub(s.CreatedAt); got != 1000*time.Second {
		t.Errorf("default lifetime %s, want the configured 1000 s", got)
	}
}

func TestSessionCreateBadTTL(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	for _, body := range []string{`{"ttl":0}`, `{"ttl":-1}`, `{"ttl":1.5}`, `{"ttl":1e3}`, `{"ttl":2592001}`,
		`{"ttl":99999999999999999999999}`} {
		testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions", sessAlice, body), http.StatusBadRequest, "invalid ttl")
	}
	for _, body := range []string{`{`, `[1]`, `"ttl"`, `{"ttl":60} {}`, `{"ttl":60}x`, `{"ttl":true}`, `{"ttl":"x"}`} {
		testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions", sessAlice, body), http.StatusBadRequest, "invalid JSON body")
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM sessions`); n != 0 {
		t.Fatalf("refused requests created %d sessions", n)
	}
}

func TestSessionGetUnknown(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	for _, id := range []string{uuid.NewString(), "not-a-uuid", s.ID[:35], s.ID + "0", "{" + s.ID + "}"} {
		testutil.WantError(t, sessCall(t, e, http.MethodGet, "/sessions/"+id, sessAlice, nil), http.StatusNotFound, "session not found")
	}
	// Credentials are needed.
	r := sessCall(t, e, http.MethodGet, "/sessions/"+s.ID, "", nil)
	testutil.WantError(t, r, http.StatusUnauthorized, "unauthorized")
	if r.Header.Get("WWW-Authenticate") != `Basic realm="fileshare"` {
		t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
	}
}

func TestSessionListNewestFirstWithFileCount(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	e.AddUser("carol@acme", sessPW) // same tenant: sees alice's sessions
	var made []sessSession
	for i := range 4 {
		s := sessCreateSession(t, e, sessAlice, nil)
		for j := 0; j < i; j++ {
			sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": fmt.Sprintf("f%d.txt", j)})
		}
		made = append(made, s)
	}
	gone := made[1]
	sessExpireSession(t, e, gone.ID)
	list := testutil.Decode[[]sessSession](t, sessCall(t, e, http.MethodGet, "/sessions", "carol@acme", nil), http.StatusOK)
	want := []sessSession{made[3], made[2], made[0]}
	if len(list) != len(want) {
		t.Fatalf("listed %d sessions, want %d (the expired one left out): %+v", len(list), len(want), list)
	}
	for i, w := range want {
		if list[i].ID != w.ID {
			t.Fatalf("position %d: %s, want %s (newest first)", i, list[i].ID, w.ID)
		}
	}
	for i, n := range []int64{3, 2, 0} {
		if list[i].FileCount != n {
			t.Errorf("session %s: fileCount %d, want %d", list[i].ID, list[i].FileCount, n)
		}
	}
	got := testutil.Decode[sessSession](t, sessCall(t, e, http.MethodGet, "/sessions/"+made[3].ID, sessAlice, nil), http.StatusOK)
	if got.FileCount != 3 {
		t.Fatalf("GET fileCount %d, want 3", got.FileCount)
	}
}

func TestSessionDeleteRemovesFilesTokensAndBlobs(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	other := sessCreateSession(t, e, sessAlice, nil)
	content := testutil.RandomBytes(t, 4096)
	stored := sessStoredFile(t, e, sessAlice, s.ID, "a.bin", content)
	pending := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "b.bin"})
	tok := sessCreateToken(t, e, sessAlice, s.ID, stored.ID, nil)
	pendingTok := sessCreateToken(t, e, sessAlice, s.ID, pending.ID, nil)
	up := sessCreateUploadURL(t, e, sessAlice, pending.ID, nil)
	keep := sessStoredFile(t, e, sessAlice, other.ID, "keep.bin", []byte("keep me"))
	keepTok := sessCreateToken(t, e, sessAlice, other.ID, keep.ID, nil)
	blob := sessBlobPath(t, e, stored.ID)
	keepBlob := sessBlobPath(t, e, keep.ID)
	if n := len(testutil.BlobFiles(t, e.DataDir)); n != 2 {
		t.Fatalf("%d blobs before the delete, want 2", n)
	}

	r := sessCall(t, e, http.MethodDelete, "/sessions/"+s.ID, sessAlice, nil)
	if r.StatusCode != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("DELETE: %d %s", r.StatusCode, r.Body)
	}
	testutil.WantError(t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID, sessAlice, nil), http.StatusNotFound, "session not found")
	testutil.WantError(t, sessCall(t, e, http.MethodDelete, "/sessions/"+s.ID, sessAlice, nil), http.StatusNotFound, "session not found")
	testutil.WantError(t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID+"/files", sessAlice, nil), http.StatusNotFound, "session not found")
	testutil.WantError(t, sessCall(t, e, http.MethodGet, tok.URL, "", nil), http.StatusNotFound, "download token not found")
	testutil.WantError(t, sessCall(t, e, http.MethodGet, pendingTok.URL, "", nil), http.StatusNotFound, "download token not found")
	testutil.WantError(t, sessCall(t, e, http.MethodPut, up.URL, "", []byte("late")), http.StatusUnauthorized, "unauthorized")

	for table, col := range map[string]string{"sessions": "id", "session_files": "session_id", "download_tokens": "session_id", "upload_tokens": "session_id"} {
		if n := testutil.QueryInt(t, e, `SELECT count(*) FROM `+table+` WHERE `+col+` = $1`, s.ID); n != 0 {
			t.Errorf("%d rows of the deleted session left in %s", n, table)
		}
	}
	if _, err := os.Stat(blob); !os.IsNotExist(err) {
		t.Fatalf("blob %s still there after the delete: %v", blob, err)
	}
	if got := testutil.BlobFiles(t, e.DataDir); len(got) != 1 {
		t.Fatalf("blobs left: %v, want only the other session's", got)
	}
	// The other session is untouched.
	if b, err := os.ReadFile(keepBlob); err != nil || string(b) != "keep me" {
		t.Fatalf("other session's blob: %q %v", b, err)
	}
	got := testutil.Decode[sessSession](t, sessCall(t, e, http.MethodGet, "/sessions/"+other.ID, sessAlice, nil), http.StatusOK)
	if got.FileCount != 1 {
		t.Fatalf("other session fileCount %d", got.FileCount)
	}
	if r := sessCall(t, e, http.MethodGet, keepTok.URL, "", nil); r.StatusCode != http.StatusOK || string(r.Body) != "keep me" {
		t.Fatalf("other session's token: %d %q", r.StatusCode, r.Body)
	}
}

// TestSessionExpiredEveryRoute expires a session in the database and checks every route below it.
func TestSessionExpiredEveryRoute(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	live := sessCreateSession(t, e, sessAlice, nil)
	stored := sessStoredFile(t, e, sessAlice, s.ID, "a.txt", []byte("hello"))
	pending := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "b.txt"})
	tok := sessCreateToken(t, e, sessAlice, s.ID, stored.ID, nil)
	up := sessCreateUploadURL(t, e, sessAlice, pending.ID, nil)
	sessExpireSession(t, e, s.ID)

	base := "/sessions/" + s.ID
	checks := []struct {
		method, path, login string
		body                any
	}{
		{http.MethodGet, base, sessAlice, nil},
		{http.MethodGet, base + "/files", sessAlice, nil},
		{http.MethodGet, base + "/files?limit=1", sessAlice, nil},
		{http.MethodPost, base + "/files", sessAlice, map[string]any{"name": "c.txt"}},
		{http.MethodPut, base + "/files/" + pending.ID, sessAlice, []byte("late")},
		{http.MethodPut, base + "/files/" + stored.ID, sessAlice, []byte("late")},
		{http.MethodPut, up.URL, "", []byte("late")},
		{http.MethodDelete, base + "/files/" + stored.ID, sessAlice, nil},
		{http.MethodPost, "/sessions/" + pending.ID, sessAlice, nil},
		{http.MethodPost, base + "/files/" + stored.ID + "/tokens", sessAlice, nil},
		{http.MethodPost, base + "/files/" + pending.ID + "/tokens", sessAlice, nil},
		{http.MethodGet, tok.URL, "", nil},
		{http.MethodHead, tok.URL, "", nil},
	}
	for _, c := range checks {
		testutil.WantError(t, sessCall(t, e, c.method, c.path, c.login, c.body), http.StatusGone, "session expired")
	}
	// Nothing changed: the entry stays pending, the token unused, the file and blob in place.
	if st := testutil.QueryInt(t, e, `SELECT count(*) FROM session_files WHERE session_id = $1 AND state = 'pending'`, s.ID); st != 1 {
		t.Fatalf("%d pending entries, want 1", st)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM download_tokens WHERE consumed_at IS NOT NULL`); n != 0 {
		t.Fatalf("a token of an expired session was consumed")
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM upload_tokens WHERE used_at IS NOT NULL`); n != 0 {
		t.Fatalf("an upload token of an expired session was used")
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM session_files WHERE session_id = $1`, s.ID); n != 2 {
		t.Fatalf("%d entries left, want 2", n)
	}
	if got := len(testutil.BlobFiles(t, e.DataDir)); got != 1 {
		t.Fatalf("%d blobs, want 1 (refused PUTs must leave nothing)", got)
	}
	if tmp := testutil.TempFiles(t, e.DataDir); len(tmp) != 0 {
		t.Fatalf("temp files left: %v", tmp)
	}
	// The expired session is not listed; the live one is.
	list := testutil.Decode[[]sessSession](t, sessCall(t, e, http.MethodGet, "/sessions", sessAlice, nil), http.StatusOK)
	if len(list) != 1 || list[0].ID != live.ID {
		t.Fatalf("list %+v, want only %s", list, live.ID)
	}
	logs := e.Logs.String()
	if want := "Error at /sessions/" + s.ID + ": message=session expired, status=410"; !strings.Contains(logs, want) {
		t.Fatalf("log has no line %q", want)
	}
	// The owner can still delete an expired session.
	if r := sessCall(t, e, http.MethodDelete, base, sessAlice, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE of an expired session: %d %s", r.StatusCode, r.Body)
	}
	if got := len(testutil.BlobFiles(t, e.DataDir)); got != 0 {
		t.Fatalf("%d blobs after deleting the expired session", got)
	}
}

// TestSessionExpiresOnItsOwn lets a session of short ttl run out, with its tokens and upload URL,
// whose expiries were capped at the session's.
func TestSessionExpiresOnItsOwn(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	// The set-up must finish before the session runs out: on a machine too busy for that, try
	// again with a longer ttl.
	var (
		s   sessSession
		tok sessToken
		up  sessUploadURL
	)
	for ttl := 2; ; ttl *= 2 {
		if ttl > 32 {
			t.Fatal("could not set up a session before it expired")
		}
		s = sessCreateSession(t, e, sessAlice, map[string]any{"ttl": ttl})
		step := func(r *testutil.Response, status int, v any) bool {
			t.Helper()
			if r.StatusCode == http.StatusGone {
				return false // expired during the set-up
			}
			if r.StatusCode != status {
				t.Fatalf("%s %s: %d %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, r.Body)
			}
			if v != nil {
				if err := json.Unmarshal(r.Body, v); err != nil {
					t.Fatal(err)
				}
			}
			return true
		}
		var stored, pending sessFile
		files := "/sessions/" + s.ID + "/files"
		if step(sessCall(t, e, http.MethodPost, files, sessAlice, map[string]any{"name": "a.txt"}), http.StatusCreated, &stored) &&
			step(sessPut(t, e, sessAlice, s.ID, stored.ID, []byte("hello")), http.StatusOK, nil) &&
			step(sessCall(t, e, http.MethodPost, files, sessAlice, map[string]any{"name": "b.txt"}), http.StatusCreated, &pending) &&
			step(sessCall(t, e, http.MethodPost, files+"/"+stored.ID+"/tokens", sessAlice, map[string]any{"ttl": 3600}), http.StatusCreated, &tok) &&
			step(sessCall(t, e, http.MethodPost, "/sessions/"+pending.ID, sessAlice, nil), http.StatusCreated, &up) {
			break
		}
	}
	if !tok.ExpiresAt.Equal(s.ExpiresAt) || !up.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("token expires %s, upload URL %s: want both capped at the session's %s", tok.ExpiresAt, up.ExpiresAt, s.ExpiresAt)
	}
	testutil.Eventually(t, 40*time.Second, "the session to expire", func() bool {
		r := sessCall(t, e, http.MethodGet, "/sessions/"+s.ID, sessAlice, nil)
		return r.StatusCode == http.StatusGone
	})
	testutil.WantError(t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID, sessAlice, nil), http.StatusGone, "session expired")
	testutil.WantError(t, sessCall(t, e, http.MethodGet, tok.URL, "", nil), http.StatusGone, "session expired")
	testutil.WantError(t, sessCall(t, e, http.MethodPut, up.URL, "", []byte("late")), http.StatusGone, "session expired")
	testutil.WantError(t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID+"/files", sessAlice, nil), http.StatusGone, "session expired")
}

func TestSessionListLimitAndCursorValidation(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	for _, path := range []string{"/sessions", "/sessions/" + s.ID + "/files"} {
		for _, limit := range []string{"0", "-1", "1001", "abc", "", "1.5", "99999999999999999999"} {
			testutil.WantError(t, sessCall(t, e, http.MethodGet, path+"?limit="+limit, sessAlice, nil), http.StatusBadRequest, "invalid limit")
		}
		for _, after := range []string{"", "zzz", "AAAA", "!!!!", strings.Repeat("A", 31), strings.Repeat("A", 33)} {
			testutil.WantError(t, sessCall(t, e, http.MethodGet, path+"?after="+after, sessAlice, nil), http.StatusBadRequest, "invalid cursor")
		}
		for _, limit := range []string{"1", "1000"} {
			testutil.Decode[[]json.RawMessage](t, sessCall(t, e, http.MethodGet, path+"?limit="+limit, sessAlice, nil), http.StatusOK)
		}
	}
}

// sessSeedSessions inserts n sessions of tenant in one statement, so that they share one
// created_at and their order rests on the id alone.
func sessSeedSessions(t *testing.T, e *testutil.Env, tenant string, n int) {
	t.Helper()
	testutil.Exec(t, e, `INSERT INTO sessions (id, tenant_id, created_by, expires_at)
		SELECT gen_random_uuid(), $1, 'seed@' || $3, now() + interval '1 day' FROM generate_series(1, $2)`,
		sessTenantID(t, e, tenant), n, tenant)
}

func sessSessionIDs(t *testing.T, e *testutil.Env) map[string]bool {
	t.Helper()
	rows, err := e.Store.Pool.Query(context.Background(), `SELECT id::text FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// sessCheckOrder checks that rows are strictly ordered by (createdAt, id), descending or not.
func sessCheckOrder(t *testing.T, at []time.Time, ids []string, desc bool) {
	t.Helper()
	for i := 1; i < len(ids); i++ {
		c := at[i-1].Compare(at[i])
		if c == 0 {
			c = strings.Compare(ids[i-1], ids[i])
		}
		if desc {
			c = -c
		}
		if c >= 0 {
			t.Fatalf("rows %d and %d out of order: (%s, %s) then (%s, %s)", i-1, i, at[i-1], ids[i-1], at[i], ids[i])
		}
	}
}

func TestSessionListPagination(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	e.AddUser(sessBob, sessPW)
	sessSeedSessions(t, e, "acme", 130)
	sessSeedSessions(t, e, "other", 20) // another tenant's rows are never listed
	for range 5 {
		sessCreateSession(t, e, sessAlice, nil)
	}
	sessExpireSession(t, e, sessCreateSession(t, e, sessAlice, nil).ID) // expired: never listed
	all := 135

	// The default page is 100 rows, with a Link while more remain.
	r := sessCall(t, e, http.MethodGet, "/sessions", sessAlice, nil)
	if page := testutil.Decode[[]sessSession](t, r, http.StatusOK); len(page) != 100 {
		t.Fatalf("default page: %d rows, want 100", len(page))
	}
	if sessNextLink(t, e, r) == "" {
		t.Fatal("no Link on the first of two pages")
	}

	for _, limit := range []int{1, 7, 45, 134, 135, 136, 1000} {
		rows, pages := sessWalk[sessSession](t, e, sessAlice, fmt.Sprintf("/sessions?limit=%d", limit), nil)
		if len(rows) != all {
			t.Fatalf("limit %d: %d rows, want %d", limit, len(rows), all)
		}
		if want := (all + limit - 1) / limit; pages != want {
			t.Fatalf("limit %d: %d pages, want %d (no Link once nothing remains)", limit, pages, want)
		}
		seen := map[string]bool{}
		at, ids := make([]time.Time, len(rows)), make([]string, len(rows))
		for i, s := range rows {
			if seen[s.ID] {
				t.Fatalf("limit %d: session %s listed twice", limit, s.ID)
			}
			seen[s.ID] = true
			at[i], ids[i] = s.CreatedAt, s.ID
			if !strings.HasSuffix(s.CreatedBy, "@acme") {
				t.Fatalf("limit %d: listed another tenant's session %+v", limit, s)
			}
		}
		sessCheckOrder(t, at, ids, true)
	}
}

// sessWriters starts writers goroutines that each send perWriter requests made by newReq(w, i),
// every one of which must answer 201. between waits until step more of them have answered
// (or all have), so that a walk of a list runs while rows are being added; wait waits for the
// writers to finish, fails on any error of theirs and returns how many requests succeeded.
func sessWriters(t *testing.T, e *testutil.Env, what string, writers, perWriter int, step int64, newReq func(w, i int) *http.Request) (between func(), wait func() int64) {
	t.Helper()
	var made atomic.Int64
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				req := newReq(w, i)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs <- fmt.Errorf("%s %s: %d", req.Method, req.URL.Path, resp.StatusCode)
					return
				}
				made.Add(1)
			}
		})
	}
	between = func() {
		want := min(made.Load()+step, int64(writers*perWriter))
		testutil.Eventually(t, 10*time.Second, "the writers to add "+what, func() bool {
			select {
			case err := <-errs:
				t.Fatalf("writer: %v", err)
			default:
			}
			return made.Load() >= want
		})
	}
	wait = func() int64 {
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("writer: %v", err)
		}
		return made.Load()
	}
	return between, wait
}

// TestSessionListPaginationWhileCreating walks the list while other goroutines keep creating
// sessions: every session that existed at the start is seen exactly once, none twice.
func TestSessionListPaginationWhileCreating(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	sessSeedSessions(t, e, "acme", 40)
	for range 10 {
		sessCreateSession(t, e, sessAlice, nil)
	}
	sessSeedSessions(t, e, "acme", 30)
	existing := sessSessionIDs(t, e)

	// Between pages, wait until the writers have made progress, so that the walk really runs
	// while rows are being added.
	const writers, perWriter = 4, 15
	between, wait := sessWriters(t, e, "sessions", writers, perWriter, 3, func(_, _ int) *http.Request {
		return e.NewRequest(http.MethodPost, "/sessions", sessAlice, sessPW, nil)
	})
	rows, _ := sessWalk[sessSession](t, e, sessAlice, "/sessions?limit=6", between)
	made := wait()
	seen := map[string]int{}
	at, ids := make([]time.Time, len(rows)), make([]string, len(rows))
	for i, s := range rows {
		seen[s.ID]++
		at[i], ids[i] = s.CreatedAt, s.ID
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("session %s seen %d times", id, n)
		}
	}
	for id := range existing {
		if seen[id] != 1 {
			t.Fatalf("session %s existed at the start and was seen %d times", id, seen[id])
		}
	}
	sessCheckOrder(t, at, ids, true)
	if made != writers*perWriter {
		t.Fatalf("writers made %d sessions", made)
	}
}

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

func TestUploadURLWorksOnce(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "up.bin"})
	up := sessCreateUploadURL(t, e, sessAlice, f.ID, nil)
	spare := sessCreateUploadURL(t, e, sessAlice, f.ID, nil)
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(e.URL+"/sessions/"+s.ID+"/files/"+f.ID) + `\?token=([A-Za-z0-9_-]{43})$`)
	m := re.FindStringSubmatch(up.URL)
	if m == nil {
		t.Fatalf("url %q", up.URL)
	}
	if up.URL == spare.URL {
		t.Fatal("two upload URLs share a token")
	}
	// The database holds the token's hash, never the token.
	h := sha256.Sum256([]byte(m[1]))
	var createdAt, expiresAt time.Time
	err := e.Store.Pool.QueryRow(context.Background(), `SELECT created_at, expires_at FROM upload_tokens WHERE token_hash = $1`, h[:]).Scan(&createdAt, &expiresAt)
	if err != nil {
		t.Fatalf("upload token row by hash: %v", err)
	}
	if !expiresAt.Equal(up.ExpiresAt) || expiresAt.Sub(createdAt) != time.Hour {
		t.Fatalf("expires %s (answer %s), created %s: want the default 3600 s", expiresAt, up.ExpiresAt, createdAt)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM upload_tokens t WHERE strpos(t::text, $1) > 0`, m[1]); n != 0 {
		t.Fatal("the upload token is stored in clear")
	}

	content := []byte("uploaded without credentials")
	got := testutil.Decode[sessFile](t, sessCall(t, e, http.MethodPut, up.URL, "", content), http.StatusOK)
	if got.State != "stored" || *got.SHA256 != testutil.SHA256(content) {
		t.Fatalf("stored %+v", got)
	}
	var usedAt *time.Time
	var addr *string
	if err := e.Store.Pool.QueryRow(context.Background(), `SELECT used_at, host(used_by_addr) FROM upload_tokens WHERE token_hash = $1`, h[:]).Scan(&usedAt, &addr); err != nil {
		t.Fatal(err)
	}
	if usedAt == nil || addr == nil || *addr != "127.0.0.1" {
		t.Fatalf("used_at %v used_by_addr %v", usedAt, addr)
	}
	testutil.WantError(t, sessCall(t, e, http.MethodPut, up.URL, "", []byte("again")), http.StatusConflict, "file already uploaded")
	testutil.WantError(t, sessCall(t, e, http.MethodPut, spare.URL, "", []byte("again")), http.StatusConflict, "file already uploaded")
	testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions/"+f.ID, sessAlice, nil), http.StatusConflict, "file already uploaded")
	b, err := os.ReadFile(sessBlobPath(t, e, f.ID))
	if err != nil || !bytes.Equal(b, content) {
		t.Fatalf("blob %q %v", b, err)
	}
	if n := len(testutil.BlobFiles(t, e.DataDir)); n != 1 {
		t.Fatalf("%d blobs, want 1", n)
	}
	// The token never reaches the log.
	if strings.Contains(e.Logs.String(), m[1]) {
		t.Fatal("the upload token is in the log")
	}
	// An upload URL of a stored entry made by Basic Auth is refused as well.
	g := sessStoredFile(t, e, sessAlice, s.ID, "g", []byte("g"))
	testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions/"+g.ID, sessAlice, nil), http.StatusConflict, "file already uploaded")
}

func TestUploadURLBadToken(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "a"})
	g := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "b"})
	upG := sessCreateUploadURL(t, e, sessAlice, g.ID, nil)
	tokG := upG.URL[strings.LastIndex(upG.URL, "=")+1:]
	base := e.URL + "/sessions/" + s.ID + "/files/" + f.ID
	random := strings.Repeat("A", 43)
	for _, u := range []string{
		base + "?token=" + random,
		base + "?token=abc",
		base + "?token=",
		base + "?token=" + tokG + "x",
		base + "?token=" + tokG, // another entry's token
		e.URL + "/sessions/" + uuid.NewString() + "/files/" + g.ID + "?token=" + tokG, // right entry, wrong session
		base, // neither token nor credentials
	} {
		r := sessCall(t, e, http.MethodPut, u, "", []byte("x"))
		testutil.WantError(t, r, http.StatusUnauthorized, "unauthorized")
		if r.Header.Get("WWW-Authenticate") != `Basic realm="fileshare"` {
			t.Fatalf("%s: WWW-Authenticate %q", u, r.Header.Get("WWW-Authenticate"))
		}
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM session_files WHERE state = 'stored'`); n != 0 {
		t.Fatalf("%d entries stored by bad tokens", n)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM upload_tokens WHERE used_at IS NOT NULL`); n != 0 {
		t.Fatal("an upload token was used by a bad request")
	}
	if n := len(testutil.BlobFiles(t, e.DataDir)); n != 0 {
		t.Fatalf("%d blobs", n)
	}
	// The good token still works.
	testutil.Decode[sessFile](t, sessCall(t, e, http.MethodPut, upG.URL, "", []byte("ok")), http.StatusOK)
	// Unknown and malformed entries for an upload URL.
	testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions/"+uuid.NewString(), sessAlice, nil), http.StatusNotFound, "file not found")
	testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions/"+s.ID, sessAlice, nil), http.StatusNotFound, "file not found")
	testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions/nope", sessAlice, nil), http.StatusNotFound, "file not found")
	testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions/"+f.ID, "", nil), http.StatusUnauthorized, "unauthorized")
}

func TestUploadURLExpiry(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	long := sessCreateSession(t, e, sessAlice, map[string]any{"ttl": 7200})
	short := sessCreateSession(t, e, sessAlice, map[string]any{"ttl": 120})
	a := sessCreateFile(t, e, sessAlice, long.ID, map[string]any{"name": "a"})
	b := sessCreateFile(t, e, sessAlice, short.ID, map[string]any{"name": "b"})

	// Default 3600 s, capped at the session's expiry; a ttl likewise.
	before := time.Now()
	up := sessCreateUploadURL(t, e, sessAlice, a.ID, nil)
	if d := up.ExpiresAt.Sub(before); d < time.Hour-time.Minute || d > time.Hour+time.Minute || !up.ExpiresAt.Before(long.ExpiresAt) {
		t.Fatalf("default expiry %s (in %s), want about 3600 s", up.ExpiresAt, d)
	}
	if got := sessCreateUploadURL(t, e, sessAlice, b.ID, nil); !got.ExpiresAt.Equal(short.ExpiresAt) {
		t.Fatalf("expiry %s, want capped at the session's %s", got.ExpiresAt, short.ExpiresAt)
	}
	if got := sessCreateUploadURL(t, e, sessAlice, b.ID, map[string]any{"ttl": 100000}); !got.ExpiresAt.Equal(short.ExpiresAt) {
		t.Fatalf("ttl 100000: expiry %s, want capped at the session's %s", got.ExpiresAt, short.ExpiresAt)
	}
	if got := sessCreateUploadURL(t, e, sessAlice, a.ID, map[string]any{"ttl": 60}); got.ExpiresAt.Sub(before) > 2*time.Minute {
		t.Fatalf("ttl 60: expiry %s", got.ExpiresAt)
	}
	for _, body := range []string{`{"ttl":0}`, `{"ttl":-5}`, `{"ttl":2592001}`, `{"ttl":1.5}`} {
		testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions/"+a.ID, sessAlice, body), http.StatusBadRequest, "invalid ttl")
	}

	// Expired in the database: 410, and the entry stays pending.
	testutil.Exec(t, e, `UPDATE upload_tokens SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second'`)
	testutil.WantError(t, sessCall(t, e, http.MethodPut, up.URL, "", []byte("late")), http.StatusGone, "upload token expired")
	if n := len(testutil.BlobFiles(t, e.DataDir)); n != 0 {
		t.Fatalf("%d blobs after a refused PUT", n)
	}

	// Expiring on its own, with ttl 1.
	c := sessCreateFile(t, e, sessAlice, long.ID, map[string]any{"name": "c"})
	up1 := sessCreateUploadURL(t, e, sessAlice, c.ID, map[string]any{"ttl": 1})
	testutil.Eventually(t, 10*time.Second, "the upload token to expire", func() bool {
		return testutil.QueryInt(t, e, `SELECT count(*) FROM upload_tokens WHERE file_id = $1 AND expires_at <= now()`, c.ID) == 1
	})
	testutil.WantError(t, sessCall(t, e, http.MethodPut, up1.URL, "", []byte("late")), http.StatusGone, "upload token expired")
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM session_files WHERE state = 'stored'`); n != 0 {
		t.Fatalf("%d entries stored with expired tokens", n)
	}
	// A fresh URL works.
	testutil.Decode[sessFile](t, sessCall(t, e, http.MethodPut, sessCreateUploadURL(t, e, sessAlice, c.ID, nil).URL, "", []byte("ok")), http.StatusOK)
}

type sessPutResult struct {
	req    *http.Request
	resp   *http.Response
	body   []byte
	err    error
	upload []byte
}

// TestUploadURLConcurrentPuts sends two PUTs of different content with one upload URL at the
// same moment, round after round: exactly one stores, its content intact, and the other
// attempt leaves no blob behind.
func TestUploadURLConcurrentPuts(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	defer client.CloseIdleConnections()
	const rounds = 20
	for round := range rounds {
		f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": fmt.Sprintf("r%d.bin", round)})
		up := sessCreateUploadURL(t, e, sessAlice, f.ID, nil)
		results := make([]sessPutResult, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range results {
			content := testutil.RandomBytes(t, 64<<10)
			req, err := http.NewRequest(http.MethodPut, up.URL, bytes.NewReader(content))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/octet-stream")
			results[i] = sessPutResult{req: req, upload: content}
			wg.Add(1)
			go func(r *sessPutResult) {
				defer wg.Done()
				<-start
				r.resp, r.err = client.Do(r.req)
				if r.err == nil {
					r.body, r.err = io.ReadAll(r.resp.Body)
					r.resp.Body.Close()
				}
			}(&results[i])
		}
		close(start)
		wg.Wait()
		var winner *sessPutResult
		for i := range results {
			r := &results[i]
			if r.err != nil {
				t.Fatalf("round %d: PUT: %v", round, r.err)
			}
			testutil.ValidateResponse(t, r.req, r.resp, r.body)
			switch r.resp.StatusCode {
			case http.StatusOK:
				if winner != nil {
					t.Fatalf("round %d: both PUTs stored", round)
				}
				winner = r
			case http.StatusConflict:
				if string(r.body) != `{"message":"file already uploaded"}` {
					t.Fatalf("round %d: loser body %s", round, r.body)
				}
			default:
				t.Fatalf("round %d: PUT answered %d %s", round, r.resp.StatusCode, r.body)
			}
		}
		if winner == nil {
			t.Fatalf("round %d: no PUT stored", round)
		}
		var stored sessFile
		if err := json.Unmarshal(winner.body, &stored); err != nil {
			t.Fatal(err)
		}
		if *stored.SHA256 != testutil.SHA256(winner.upload) || *stored.Size != int64(len(winner.upload)) {
			t.Fatalf("round %d: stored %+v, not the winner's content", round, stored)
		}
		b, err := os.ReadFile(sessBlobPath(t, e, f.ID))
		if err != nil || !bytes.Equal(b, winner.upload) {
			t.Fatalf("round %d: blob on disk is not the winner's content (%v)", round, err)
		}
		if blobs := testutil.BlobFiles(t, e.DataDir); len(blobs) != round+1 {
			t.Fatalf("round %d: %d blobs on disk, want %d: the loser's blob was left behind", round, len(blobs), round+1)
		}
		if tmp := testutil.TempFiles(t, e.DataDir); len(tmp) != 0 {
			t.Fatalf("round %d: temp files left: %v", round, tmp)
		}
		if n := testutil.QueryInt(t, e, `SELECT count(*) FROM upload_tokens WHERE file_id = $1 AND used_at IS NOT NULL`, f.ID); n != 1 {
			t.Fatalf("round %d: %d upload tokens used", round, n)
		}
	}
	// The same with two Basic Auth PUTs of one entry.
	for round := range 5 {
		f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "basic"})
		results := make([]sessPutResult, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range results {
			content := testutil.RandomBytes(t, 32<<10)
			req, _ := http.NewRequest(http.MethodPut, e.URL+"/sessions/"+s.ID+"/files/"+f.ID, bytes.NewReader(content))
			req.SetBasicAuth(sessAlice, sessPW)
			results[i] = sessPutResult{req: req, upload: content}
			wg.Add(1)
			go func(r *sessPutResult) {
				defer wg.Done()
				<-start
				r.resp, r.err = client.Do(r.req)
				if r.err == nil {
					r.body, r.err = io.ReadAll(r.resp.Body)
					r.resp.Body.Close()
				}
			}(&results[i])
		}
		close(start)
		wg.Wait()
		codes := map[int]int{}
		var winner []byte
		for _, r := range results {
			if r.err != nil {
				t.Fatal(r.err)
			}
			testutil.ValidateResponse(t, r.req, r.resp, r.body)
			codes[r.resp.StatusCode]++
			if r.resp.StatusCode == http.StatusOK {
				winner = r.upload
			}
		}
		if codes[http.StatusOK] != 1 || codes[http.StatusConflict] != 1 {
			t.Fatalf("basic round %d: statuses %v", round, codes)
		}
		if b, _ := os.ReadFile(sessBlobPath(t, e, f.ID)); !bytes.Equal(b, winner) {
			t.Fatalf("basic round %d: blob is not the winner's", round)
		}
		if blobs := testutil.BlobFiles(t, e.DataDir); len(blobs) != rounds+round+1 {
			t.Fatalf("basic round %d: %d blobs", round, len(blobs))
		}
	}
}

// TestSessionURLsUsePublicURL checks that absolute URLs in answers come from the configured
// public URL.
func TestSessionURLsUsePublicURL(t *testing.T) {
	t.Parallel()
	const pub = "https://files.example.com/rtc/fileshare"
	e := sessNewEnv(t, func(c *config.Config) { c.PublicURL = pub })
	s := sessCreateSession(t, e, sessAlice, nil)
	sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "a", []byte("a"))
	p := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "p"})
	if tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil); tok.URL != pub+"/sessions/"+s.ID+"/files/"+f.ID+"/tokens/"+tok.ID {
		t.Fatalf("token url %q", tok.URL)
	}
	if up := sessCreateUploadURL(t, e, sessAlice, p.ID, nil); !strings.HasPrefix(up.URL, pub+"/sessions/"+s.ID+"/files/"+p.ID+"?token=") {
		t.Fatalf("upload url %q", up.URL)
	}
	r := sessCall(t, e, http.MethodGet, "/sessions?limit=1", sessAlice, nil)
	if l := r.Header.Get("Link"); !strings.HasPrefix(l, "<"+pub+"/sessions?") {
		t.Fatalf("Link %q", l)
	}
}
