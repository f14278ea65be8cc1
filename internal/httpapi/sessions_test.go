package httpapi_test

// This file is over 400 lines: the session routes with the helpers the other session, file and token test files use.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

// Helpers of the session tests (sessions, their list, their file entries and upload URLs)
// carry the prefix sess, so that they do not clash with the helpers of the other test files of
// this package.

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
