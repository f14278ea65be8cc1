package httpapi_test

// Tests of upload URLs: an entry's one-time URL to upload its content without credentials.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/testutil"
)

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
