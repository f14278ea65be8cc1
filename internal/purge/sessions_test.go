package purge_test

// Sessions, their file entries and tokens: expiry, the tombstone and its retention.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

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
