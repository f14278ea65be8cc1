package httpapi_test

// This file is over 400 lines: one-time token downloads with the helpers the other token test files use.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

var sessTokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// sessCheckDownload checks a token download: the bytes and the headers of a docs/behaviour.md §3 download
// plus Cache-Control: no-store. The consuming answer's ETag is the delivery's secret: random,
// never the content's digest; a HEAD of an unused token has none, nor a digest.
func sessCheckDownload(t *testing.T, r *testutil.Response, content []byte, contentType, disposition string) {
	t.Helper()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, r.Body)
	}
	if r.Request.Method == http.MethodGet && !bytes.Equal(r.Body, content) {
		t.Fatalf("downloaded %d bytes that differ from the %d uploaded", len(r.Body), len(content))
	}
	want := map[string]string{
		"Content-Length":          strconv.Itoa(len(content)),
		"Content-Type":            contentType,
		"Content-Disposition":     disposition,
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "sandbox; default-src 'none'",
		"Referrer-Policy":         "no-referrer",
		"Cache-Control":           "no-store",
		"Accept-Ranges":           "bytes",
	}
	etag := r.Header.Get("ETag")
	if r.Request.Method == http.MethodHead {
		if etag != "" || r.Header.Get("Repr-Digest") != "" || r.Header.Get("Last-Modified") != "" {
			t.Errorf("HEAD of an unused token: ETag %q Repr-Digest %q Last-Modified %q, want none", etag, r.Header.Get("Repr-Digest"), r.Header.Get("Last-Modified"))
		}
	} else {
		if !deliveryETag.MatchString(etag) || strings.Contains(etag, testutil.SHA256(content)) {
			t.Errorf("%s %s: ETag %q, want a delivery secret", r.Request.Method, r.Request.URL.Path, etag)
		}
		want["Repr-Digest"] = "sha-256=:" + base64.StdEncoding.EncodeToString(sha256Sum(content)) + ":"
	}
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s %s: %s %q, want %q", r.Request.Method, r.Request.URL.Path, k, got, v)
		}
	}
}

// deliveryETag is the shape of a delivery's secret: 256 random bits, quoted.
var deliveryETag = regexp.MustCompile(`^"[A-Za-z0-9_-]{43}"$`)

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

func sessConsumed(t *testing.T, e *testutil.Env, token string) bool {
	t.Helper()
	h := sha256.Sum256([]byte(token))
	return testutil.QueryInt(t, e, `SELECT count(*) FROM download_tokens WHERE token_hash = $1 AND consumed_at IS NOT NULL`, h[:]) == 1
}

func TestTokenThreeRecipients(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	content := testutil.RandomBytes(t, 70<<10)
	f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "Bericht ü.pdf", "contentType": "application/pdf"})
	testutil.Decode[sessFile](t, sessPut(t, e, sessAlice, s.ID, f.ID, content), http.StatusOK)

	var toks []sessToken
	for range 3 {
		tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil)
		if !sessTokenRE.MatchString(tok.ID) || tok.FileID != f.ID || tok.SessionID != s.ID {
			t.Fatalf("token %+v", tok)
		}
		if raw, err := base64.RawURLEncoding.DecodeString(tok.ID); err != nil || len(raw)*8 < 128 {
			t.Fatalf("token %q carries fewer than 128 bits", tok.ID)
		}
		if tok.URL != e.URL+"/sessions/"+s.ID+"/files/"+f.ID+"/tokens/"+tok.ID {
			t.Fatalf("url %q", tok.URL)
		}
		if !tok.ExpiresAt.Equal(s.ExpiresAt) {
			t.Fatalf("expiresAt %s, want the session's %s by default", tok.ExpiresAt, s.ExpiresAt)
		}
		for _, o := range toks {
			if o.ID == tok.ID {
				t.Fatal("two tokens share an id")
			}
		}
		toks = append(toks, tok)
	}
	disposition := `attachment; filename="Bericht _.pdf"; filename*=UTF-8''Bericht%20%C3%BC.pdf`
	for i, tok := range toks {
		sessCheckDownload(t, sessCall(t, e, http.MethodGet, tok.URL, "", nil), content, "application/pdf", disposition)
		testutil.WantError(t, sessCall(t, e, http.MethodGet, tok.URL, "", nil), http.StatusGone, "download token already used")
		// The others still work until used.
		for _, later := range toks[i+1:] {
			if sessConsumed(t, e, later.ID) {
				t.Fatal("using one token consumed another")
			}
		}
	}
	for _, tok := range toks {
		testutil.WantError(t, sessCall(t, e, http.MethodGet, tok.URL, "", nil), http.StatusGone, "download token already used")
		testutil.WantError(t, sessCall(t, e, http.MethodHead, tok.URL, "", nil), http.StatusGone, "download token already used")
	}
	// Tokens never reach the log (docs/behaviour.md §2).
	logs := e.Logs.String()
	for _, tok := range toks {
		if strings.Contains(logs, tok.ID) {
			t.Fatalf("token %s is in the log", tok.ID)
		}
	}
	if !strings.Contains(logs, "Error at /sessions/"+s.ID+"/files/"+f.ID+"/tokens/<redacted>: message=download token already used, status=410") {
		t.Fatal("no redacted error line for the used token in the log")
	}
}

func TestTokenHeadDoesNotConsume(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	content := []byte("head first")
	f := sessStoredFile(t, e, sessAlice, s.ID, "head.txt", content)
	tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil)
	for range 2 {
		r := sessCall(t, e, http.MethodHead, tok.URL, "", nil)
		sessCheckDownload(t, r, content, "text/plain; charset=utf-8", `attachment; filename="head.txt"`)
		if len(r.Body) != 0 {
			t.Fatalf("HEAD sent %d body bytes", len(r.Body))
		}
	}
	if sessConsumed(t, e, tok.ID) {
		t.Fatal("HEAD consumed the token")
	}
	sessCheckDownload(t, sessCall(t, e, http.MethodGet, tok.URL, "", nil), content, "text/plain; charset=utf-8", `attachment; filename="head.txt"`)
	testutil.WantError(t, sessCall(t, e, http.MethodHead, tok.URL, "", nil), http.StatusGone, "download token already used")
	testutil.WantError(t, sessCall(t, e, http.MethodGet, tok.URL, "", nil), http.StatusGone, "download token already used")
}

func TestTokenOfPendingFile(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "later.bin", "size": 6})
	tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil)
	for range 2 {
		testutil.WantError(t, sessCall(t, e, http.MethodGet, tok.URL, "", nil), http.StatusConflict, "file not uploaded yet")
		testutil.WantError(t, sessCall(t, e, http.MethodHead, tok.URL, "", nil), http.StatusConflict, "file not uploaded yet")
	}
	if sessConsumed(t, e, tok.ID) {
		t.Fatal("a token of a pending file was consumed")
	}
	// A refused upload changes nothing.
	testutil.WantError(t, sessPut(t, e, sessAlice, s.ID, f.ID, []byte("wrong size")), http.StatusBadRequest, "size mismatch")
	testutil.WantError(t, sessCall(t, e, http.MethodGet, tok.URL, "", nil), http.StatusConflict, "file not uploaded yet")

	testutil.Decode[sessFile](t, sessPut(t, e, sessAlice, s.ID, f.ID, []byte("sixsix")), http.StatusOK)
	sessCheckDownload(t, sessCall(t, e, http.MethodGet, tok.URL, "", nil), []byte("sixsix"), "application/octet-stream", `attachment; filename="later.bin"`)
	testutil.WantError(t, sessCall(t, e, http.MethodGet, tok.URL, "", nil), http.StatusGone, "download token already used")
}

func TestTokenTTL(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, map[string]any{"ttl": 600})
	f := sessStoredFile(t, e, sessAlice, s.ID, "a", []byte("a"))
	path := "/sessions/" + s.ID + "/files/" + f.ID + "/tokens"

	if tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil); !tok.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("default expiry %s, want the session's %s", tok.ExpiresAt, s.ExpiresAt)
	}
	if tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, "{}"); !tok.ExpiresAt.Equal(s.ExpiresAt) {
		t.Fatalf("{}: expiry %s, want the session's %s", tok.ExpiresAt, s.ExpiresAt)
	}
	if tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, map[string]any{"ttl": 60}); tok.ExpiresAt.Sub(tok.CreatedAt) != time.Minute {
		t.Fatalf("ttl 60: created %s expires %s", tok.CreatedAt, tok.ExpiresAt)
	}
	for _, ttl := range []int{601, 86400, 2592000} {
		if tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, map[string]any{"ttl": ttl}); !tok.ExpiresAt.Equal(s.ExpiresAt) {
			t.Fatalf("ttl %d: expiry %s, want capped at the session's %s", ttl, tok.ExpiresAt, s.ExpiresAt)
		}
	}
	for _, body := range []string{`{"ttl":0}`, `{"ttl":-1}`, `{"ttl":2592001}`, `{"ttl":1.5}`} {
		testutil.WantError(t, sessCall(t, e, http.MethodPost, path, sessAlice, body), http.StatusBadRequest, "invalid ttl")
	}
	testutil.WantError(t, sessCall(t, e, http.MethodPost, path, sessAlice, `{"ttl":`), http.StatusBadRequest, "invalid JSON body")
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM download_tokens`); n != 6 {
		t.Fatalf("%d tokens, want the 6 accepted", n)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM download_tokens t JOIN sessions s ON s.id = t.session_id WHERE t.expires_at > s.expires_at`); n != 0 {
		t.Fatalf("%d tokens outlive their session", n)
	}
	// Unknown entries, and entries under another session.
	other := sessCreateSession(t, e, sessAlice, nil)
	testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions/"+other.ID+"/files/"+f.ID+"/tokens", sessAlice, nil), http.StatusNotFound, "file not found")
	testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions/"+s.ID+"/files/"+uuid.NewString()+"/tokens", sessAlice, nil), http.StatusNotFound, "file not found")
	testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions/"+s.ID+"/files/nope/tokens", sessAlice, nil), http.StatusNotFound, "file not found")
	testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions/nope/files/"+f.ID+"/tokens", sessAlice, nil), http.StatusNotFound, "session not found")
	testutil.WantError(t, sessCall(t, e, http.MethodPost, path, "", nil), http.StatusUnauthorized, "unauthorized")
}

func TestTokenExpired(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "a", []byte("a"))
	old := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil)
	h := sha256.Sum256([]byte(old.ID))
	testutil.Exec(t, e, `UPDATE download_tokens SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE token_hash = $1`, h[:])
	testutil.WantError(t, sessCall(t, e, http.MethodHead, old.URL, "", nil), http.StatusGone, "download token expired")
	testutil.WantError(t, sessCall(t, e, http.MethodGet, old.URL, "", nil), http.StatusGone, "download token expired")
	if sessConsumed(t, e, old.ID) {
		t.Fatal("an expired token was consumed")
	}

	// Running out on its own: HEAD (which never consumes) until it answers 410.
	tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, map[string]any{"ttl": 1})
	testutil.Eventually(t, 10*time.Second, "the token to expire", func() bool {
		r := sessCall(t, e, http.MethodHead, tok.URL, "", nil)
		if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusGone {
			t.Fatalf("HEAD: %d", r.StatusCode)
		}
		return r.StatusCode == http.StatusGone
	})
	testutil.WantError(t, sessCall(t, e, http.MethodGet, tok.URL, "", nil), http.StatusGone, "download token expired")
	if sessConsumed(t, e, tok.ID) {
		t.Fatal("an expired token was consumed")
	}
	// A fresh token works.
	fresh := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil)
	if r := sessCall(t, e, http.MethodGet, fresh.URL, "", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("fresh token: %d", r.StatusCode)
	}
}

func TestTokenUnknownOrMalformed(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "a", []byte("a"))
	g := sessStoredFile(t, e, sessAlice, s.ID, "b", []byte("b"))
	other := sessCreateSession(t, e, sessAlice, nil)
	tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil)
	base := "/sessions/" + s.ID + "/files/" + f.ID + "/tokens/"
	var first []byte
	for _, p := range []string{
		base + strings.Repeat("A", 43),
		base + "abc",
		base + tok.ID + "A",
		base + tok.ID[:42],
		base + strings.Repeat("!", 43),
		base + strings.Repeat("A", 42) + "=",
		base + "%00",
		"/sessions/" + s.ID + "/files/" + g.ID + "/tokens/" + tok.ID,     // another entry's token
		"/sessions/" + other.ID + "/files/" + f.ID + "/tokens/" + tok.ID, // another session
		"/sessions/" + uuid.NewString() + "/files/" + f.ID + "/tokens/" + tok.ID,
		"/sessions/nope/files/" + f.ID + "/tokens/" + tok.ID,
		"/sessions/" + s.ID + "/files/nope/tokens/" + tok.ID,
	} {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			r := sessCall(t, e, m, p, "", nil)
			testutil.WantError(t, r, http.StatusNotFound, "download token not found")
			if m == http.MethodGet {
				if first == nil {
					first = r.Body
				} else if !bytes.Equal(first, r.Body) {
					t.Fatalf("%s: body %s differs from %s", p, r.Body, first)
				}
			}
		}
	}
	if sessConsumed(t, e, tok.ID) {
		t.Fatal("a request of another path consumed the token")
	}
	if r := sessCall(t, e, http.MethodGet, tok.URL, "", nil); r.StatusCode != http.StatusOK || string(r.Body) != "a" {
		t.Fatalf("the token itself: %d %q", r.StatusCode, r.Body)
	}
}

// TestTokenStoredOnlyAsHash reads the database as an auditor would: it holds the SHA-256 of a
// token and no trace of the token, and records when and from where it was used.
func TestTokenStoredOnlyAsHash(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "a", []byte("audit me"))
	tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil)
	raw, err := base64.RawURLEncoding.DecodeString(tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256([]byte(tok.ID))
	var hash []byte
	var rowText, createdBy string
	var consumedAt *time.Time
	err = e.Store.Pool.QueryRow(context.Background(),
		`SELECT token_hash, t::text, created_by, consumed_at FROM download_tokens t WHERE file_id = $1`, f.ID).Scan(&hash, &rowText, &createdBy, &consumedAt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hash, want[:]) {
		t.Fatalf("token_hash %x, want sha256 of the token %x", hash, want)
	}
	for _, secret := range []string{tok.ID, hex.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw)} {
		if strings.Contains(strings.ToLower(rowText), strings.ToLower(secret)) {
			t.Fatalf("the token is in the database in clear: %s", rowText)
		}
	}
	if createdBy != sessAlice || consumedAt != nil {
		t.Fatalf("created_by %q consumed_at %v", createdBy, consumedAt)
	}
	// Nor is it anywhere else in the database.
	for _, table := range []string{"sessions", "session_files", "upload_tokens", "download_tokens", "uploads"} {
		if n := testutil.QueryInt(t, e, `SELECT count(*) FROM `+table+` x WHERE strpos(x::text, $1) > 0`, tok.ID); n != 0 {
			t.Fatalf("table %s holds the token", table)
		}
	}

	before := sessNow(t, e)
	if r := sessCall(t, e, http.MethodGet, tok.URL, "", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("GET: %d", r.StatusCode)
	}
	after := sessNow(t, e)
	var addr *string
	if err := e.Store.Pool.QueryRow(context.Background(),
		`SELECT consumed_at, host(consumed_by_addr) FROM download_tokens WHERE token_hash = $1`, want[:]).Scan(&consumedAt, &addr); err != nil {
		t.Fatal(err)
	}
	if consumedAt == nil || consumedAt.Before(before) || consumedAt.After(after) {
		t.Fatalf("consumed_at %v, want between %s and %s", consumedAt, before, after)
	}
	if addr == nil || *addr != "127.0.0.1" {
		t.Fatalf("consumed_by_addr %v, want 127.0.0.1", addr)
	}
	// A failed attempt later does not overwrite the record.
	testutil.WantError(t, sessCall(t, e, http.MethodGet, tok.URL, "", nil), http.StatusGone, "download token already used")
	var again time.Time
	if err := e.Store.Pool.QueryRow(context.Background(), `SELECT consumed_at FROM download_tokens WHERE token_hash = $1`, want[:]).Scan(&again); err != nil {
		t.Fatal(err)
	}
	if !again.Equal(*consumedAt) {
		t.Fatalf("consumed_at moved from %s to %s", consumedAt, again)
	}
}

// TestTokenRecordsClientAddress checks the consumer's address for auditors: the peer's, unless
// the peer is a trusted proxy, whose X-Forwarded-For is believed.
func TestTokenRecordsClientAddress(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		trusted []string
		want    string
	}{
		{nil, "127.0.0.1"},
		{[]string{"127.0.0.1/32"}, "203.0.113.7"},
	} {
		e := sessNewEnv(t, func(cfg *config.Config) { cfg.TrustedProxies = c.trusted })
		s := sessCreateSession(t, e, sessAlice, nil)
		f := sessStoredFile(t, e, sessAlice, s.ID, "a", []byte("a"))
		tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil)
		req := e.NewRequest(http.MethodGet, tok.URL, "", "", nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		if r := e.Do(req); r.StatusCode != http.StatusOK {
			t.Fatalf("GET: %d", r.StatusCode)
		}
		h := sha256.Sum256([]byte(tok.ID))
		var addr string
		if err := e.Store.Pool.QueryRow(context.Background(), `SELECT host(consumed_by_addr) FROM download_tokens WHERE token_hash = $1`, h[:]).Scan(&addr); err != nil {
			t.Fatal(err)
		}
		if addr != c.want {
			t.Fatalf("trusted proxies %v: consumed_by_addr %s, want %s", c.trusted, addr, c.want)
		}
	}
}

func sessNow(t *testing.T, e *testutil.Env) time.Time {
	t.Helper()
	var now time.Time
	if err := e.Store.Pool.QueryRow(context.Background(), `SELECT clock_timestamp()`).Scan(&now); err != nil {
		t.Fatal(err)
	}
	return now
}

type sessRaceResult struct {
	req    *http.Request
	resp   *http.Response
	body   []byte
	err    error
	status int
}

// TestTokenConcurrentDownloadsExactlyOnce is the heart of docs/behaviour.md §4: 200 requests for one token
// at the same moment, round after round; exactly one gets the file, every other gets 410 and
// not a byte of the file.
//
// On a machine so loaded that the database cannot answer in time, some requests answer 503
// (docs/behaviour.md §2). Such a round proves less, so it does not count towards the clean rounds needed,
// but it must still never give the file twice nor any byte of it to a loser.
func TestTokenConcurrentDownloadsExactlyOnce(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	const clients, minClean, wantClean, maxRounds = 200, 10, 15, 40
	const budget = 12 * time.Second
	transport := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: transport}
	defer transport.CloseIdleConnections()
	started := time.Now()
	clean, overloaded := 0, 0
	for round := 0; clean < wantClean && round < maxRounds; round++ {
		if clean >= minClean && time.Since(started) > budget {
			break
		}
		content := append([]byte(fmt.Sprintf("round %d:", round)), testutil.RandomBytes(t, 48<<10)...)
		f := sessStoredFile(t, e, sessAlice, s.ID, fmt.Sprintf("race-%d.bin", round), content)
		tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil)

		reqs := make([]*http.Request, clients)
		for i := range reqs {
			req, err := http.NewRequest(http.MethodGet, tok.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			reqs[i] = req
		}
		results := dlRace(t, client, reqs)

		winners, used, unavailable := 0, 0, 0
		for i := range results {
			r := &results[i]
			if r.status != http.StatusOK && (bytes.Contains(r.body, content[:16]) ||
				r.resp.Header.Get("Content-Disposition") != "" || r.resp.Header.Get("ETag") != "") {
				t.Fatalf("round %d: a loser (%d) received part of the file", round, r.status)
			}
			switch r.status {
			case http.StatusOK:
				winners++
				if !bytes.Equal(r.body, content) {
					t.Fatalf("round %d: the winner got %d bytes that are not the file's", round, len(r.body))
				}
				if r.resp.Header.Get("Cache-Control") != "no-store" {
					t.Fatalf("round %d: winner's Cache-Control %q", round, r.resp.Header.Get("Cache-Control"))
				}
			case http.StatusGone:
				used++
				if string(r.body) != `{"message":"download token already used"}` {
					t.Fatalf("round %d: loser body %.200q", round, r.body)
				}
			case http.StatusServiceUnavailable:
				unavailable++
				if string(r.body) != `{"message":"service unavailable"}` {
					t.Fatalf("round %d: 503 body %.200q", round, r.body)
				}
			default:
				t.Fatalf("round %d: status %d %.200q", round, r.status, r.body)
			}
		}
		if winners > 1 {
			t.Fatalf("round %d: %d requests got the file, want exactly 1", round, winners)
		}
		if unavailable > 0 {
			overloaded++
			t.Logf("round %d: database overloaded: %d × 503, %d × 200, %d × 410; not counted", round, unavailable, winners, used)
			continue
		}
		if winners != 1 || used != clients-1 {
			t.Fatalf("round %d: %d × 200 and %d × 410, want 1 and %d", round, winners, used, clients-1)
		}
		if !sessConsumed(t, e, tok.ID) {
			t.Fatalf("round %d: the token is not recorded as consumed", round)
		}
		clean++
	}
	if clean < minClean {
		t.Fatalf("only %d clean rounds (%d overloaded), want at least %d", clean, overloaded, minClean)
	}
	t.Logf("%d clean rounds (%d overloaded) of %d concurrent downloads in %s", clean, overloaded, clients, time.Since(started))
}

// sessSnapshot renders every row of a tenant's session tables, to tell whether anything changed.
func sessSnapshot(t *testing.T, e *testutil.Env, tenantID int64) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range []string{"sessions", "session_files", "upload_tokens", "download_tokens"} {
		var rows int64
		var text string
		err := e.Store.Pool.QueryRow(context.Background(),
			`SELECT count(*), coalesce(string_agg(x::text, E'\n' ORDER BY x::text), '') FROM `+table+` x WHERE tenant_id = $1`, tenantID).Scan(&rows, &text)
		if err != nil {
			t.Fatal(err)
		}
		out[table] = fmt.Sprintf("%d rows\n%s", rows, text)
	}
	return out
}

// TestTenantIsolation tries every session route with another tenant's ids: each answers 404
// exactly as for an id that does not exist, and nothing of the other tenant changes.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	e.AddUser(sessBob, sessPW)
	// Alice's tenant: a session with a stored entry (with a token) and a pending one (with an upload URL).
	as := sessCreateSession(t, e, sessAlice, nil)
	content := []byte("alice's secret")
	af := sessStoredFile(t, e, sessAlice, as.ID, "secret.txt", content)
	ap := sessCreateFile(t, e, sessAlice, as.ID, map[string]any{"name": "pending.txt"})
	atok := sessCreateToken(t, e, sessAlice, as.ID, af.ID, nil)
	aup := sessCreateUploadURL(t, e, sessAlice, ap.ID, nil)
	// Bob's tenant: a session and a pending entry of his own.
	bs := sessCreateSession(t, e, sessBob, nil)
	bp := sessCreateFile(t, e, sessBob, bs.ID, map[string]any{"name": "bob.txt"})
	bup := sessCreateUploadURL(t, e, sessBob, bp.ID, nil)

	aliceTenant := sessTenantID(t, e, "acme")
	before := sessSnapshot(t, e, aliceTenant)
	blobsBefore := testutil.BlobFiles(t, e.DataDir)

	r1, r2 := uuid.NewString(), uuid.NewString()
	type pair struct {
		method        string
		foreign, none string
		body          any
	}
	pairs := []pair{
		{http.MethodGet, "/sessions/" + as.ID, "/sessions/" + r1, nil},
		{http.MethodDelete, "/sessions/" + as.ID, "/sessions/" + r1, nil},
		{http.MethodGet, "/sessions/" + as.ID + "/files", "/sessions/" + r1 + "/files", nil},
		{http.MethodGet, "/sessions/" + as.ID + "/files?limit=1", "/sessions/" + r1 + "/files?limit=1", nil},
		{http.MethodPost, "/sessions/" + as.ID + "/files", "/sessions/" + r1 + "/files", map[string]any{"name": "x"}},
		{http.MethodPost, "/sessions/" + ap.ID, "/sessions/" + r1, nil},
		{http.MethodPost, "/sessions/" + af.ID, "/sessions/" + r1, map[string]any{"ttl": 60}},
		{http.MethodPost, "/sessions/" + as.ID + "/files/" + af.ID + "/tokens", "/sessions/" + r1 + "/files/" + r2 + "/tokens", nil},
		{http.MethodPost, "/sessions/" + bs.ID + "/files/" + af.ID + "/tokens", "/sessions/" + bs.ID + "/files/" + r2 + "/tokens", nil},
		{http.MethodPut, "/sessions/" + as.ID + "/files/" + ap.ID, "/sessions/" + r1 + "/files/" + r2, []byte("bob was here")},
		{http.MethodPut, "/sessions/" + as.ID + "/files/" + af.ID, "/sessions/" + r1 + "/files/" + r2, []byte("bob was here")},
		{http.MethodPut, "/sessions/" + bs.ID + "/files/" + ap.ID, "/sessions/" + bs.ID + "/files/" + r2, []byte("bob was here")},
		{http.MethodDelete, "/sessions/" + as.ID + "/files/" + af.ID, "/sessions/" + r1 + "/files/" + r2, nil},
		{http.MethodDelete, "/sessions/" + bs.ID + "/files/" + af.ID, "/sessions/" + bs.ID + "/files/" + r2, nil},
		{http.MethodDelete, "/sessions/" + as.ID + "/files/" + ap.ID, "/sessions/" + r1 + "/files/" + r2, nil},
	}
	for _, p := range pairs {
		foreign := sessCall(t, e, p.method, p.foreign, sessBob, p.body)
		none := sessCall(t, e, p.method, p.none, sessBob, p.body)
		if foreign.StatusCode != http.StatusNotFound || none.StatusCode != http.StatusNotFound {
			t.Fatalf("%s %s: %d %s (unknown id: %d %s), want 404", p.method, p.foreign, foreign.StatusCode, foreign.Body, none.StatusCode, none.Body)
		}
		if !bytes.Equal(foreign.Body, none.Body) || foreign.Header.Get("Content-Type") != none.Header.Get("Content-Type") {
			t.Fatalf("%s %s: answer %s differs from the unknown id's %s", p.method, p.foreign, foreign.Body, none.Body)
		}
	}
	// Bob's upload URL does not open Alice's entry.
	bobToken := bup.URL[strings.LastIndex(bup.URL, "=")+1:]
	testutil.WantError(t, sessCall(t, e, http.MethodPut, e.URL+"/sessions/"+as.ID+"/files/"+ap.ID+"?token="+bobToken, "", []byte("x")), http.StatusUnauthorized, "unauthorized")
	// Bob's list holds only his session.
	list := testutil.Decode[[]sessSession](t, sessCall(t, e, http.MethodGet, "/sessions", sessBob, nil), http.StatusOK)
	if len(list) != 1 || list[0].ID != bs.ID {
		t.Fatalf("bob lists %+v", list)
	}

	after := sessSnapshot(t, e, aliceTenant)
	for table, b := range before {
		if after[table] != b {
			t.Fatalf("alice's %s changed:\nbefore %s\nafter  %s", table, b, after[table])
		}
	}
	if got := testutil.BlobFiles(t, e.DataDir); len(got) != len(blobsBefore) {
		t.Fatalf("blobs %v, before %v", got, blobsBefore)
	}
	if b, err := os.ReadFile(sessBlobPath(t, e, af.ID)); err != nil || !bytes.Equal(b, content) {
		t.Fatalf("alice's blob: %q %v", b, err)
	}
	// Alice's things still work for her.
	got := testutil.Decode[sessSession](t, sessCall(t, e, http.MethodGet, "/sessions/"+as.ID, sessAlice, nil), http.StatusOK)
	if got.FileCount != 2 {
		t.Fatalf("alice's fileCount %d", got.FileCount)
	}
	sessCheckDownload(t, sessCall(t, e, http.MethodGet, atok.URL, "", nil), content, "text/plain; charset=utf-8", `attachment; filename="secret.txt"`)
	testutil.Decode[sessFile](t, sessCall(t, e, http.MethodPut, aup.URL, "", []byte("done")), http.StatusOK)
}
