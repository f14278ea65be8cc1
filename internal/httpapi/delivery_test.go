package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

// Tests of one-time links in the field: link-preview bots and mail scanners that open a link
// before its recipient does (delivery_landing_test.go), PINs (delivery_pin_test.go), downloads
// cut on mobile connections and resumed (delivery_resume_test.go), and what the sender sees of
// each token (delivery_tokenlist_test.go, and the events, metrics and audit view here).
// Helpers carry the prefix dl; those that several of these files use are here.

const (
	// dlBrowserAccept is what browsers, and the preview bots that pose as one, send.
	dlBrowserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8"
	dlChromeUA      = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	dlCurlUA        = "curl/8.5.0"
)

// dlToken is a token as its creation answers it.
type dlToken = testutil.Token

// dlStatus is a token in its file entry's token list.
type dlStatus struct {
	Ref             string     `json:"ref"`
	FileID          string     `json:"fileId"`
	SessionID       string     `json:"sessionId"`
	CreatedAt       time.Time  `json:"createdAt"`
	ExpiresAt       time.Time  `json:"expiresAt"`
	State           string     `json:"state"`
	ConsumedAt      *time.Time `json:"consumedAt"`
	DeliveredAt     *time.Time `json:"deliveredAt"`
	ViewedAt        *time.Time `json:"viewedAt"`
	ConsumerAddress *string    `json:"consumerAddress"`
	PIN             bool       `json:"pin"`
	BytesSent       int64      `json:"bytesSent"`
	Label           *string    `json:"label"`
	// ETag is the delivery's secret, from the consuming answer (dlCutConsume), not the list.
	ETag string `json:"-"`
}

var dlPINRE = regexp.MustCompile(`^[0-9]{6}$`)

func dlTokensPath(sid, fid string) string { return "/sessions/" + sid + "/files/" + fid + "/tokens" }

// dlCreateToken makes a token of alice's entry, with a PIN when pin.
func dlCreateToken(t *testing.T, e *testutil.Env, sid, fid string, pin bool) dlToken {
	t.Helper()
	tok := e.Token(t, sessAlice, testutil.StoredFile{SessionID: sid, ID: fid}, pin)
	if _, err := uuid.Parse(tok.Ref); err != nil {
		t.Fatalf("ref %q: %v", tok.Ref, err)
	}
	if pin && !dlPINRE.MatchString(tok.PIN) {
		t.Fatalf("pin %q is not 6 digits", tok.PIN)
	}
	if !pin && tok.PIN != "" {
		t.Fatalf("a token made without a PIN has the pin %q", tok.PIN)
	}
	return tok
}

// dlList walks the whole token list of an entry of alice's.
func dlList(t *testing.T, e *testutil.Env, sid, fid string) []dlStatus {
	t.Helper()
	all, _ := sessWalk[dlStatus](t, e, sessAlice, dlTokensPath(sid, fid), nil)
	return all
}

// dlStatusOf finds tok in its entry's list.
func dlStatusOf(t *testing.T, e *testutil.Env, tok dlToken) dlStatus {
	t.Helper()
	for _, st := range dlList(t, e, tok.SessionID, tok.FileID) {
		if st.Ref == tok.Ref {
			return st
		}
	}
	t.Fatalf("token %s is not in its entry's list", tok.Ref)
	return dlStatus{}
}

// dlWantState checks the state the list shows for tok.
func dlWantState(t *testing.T, e *testutil.Env, tok dlToken, state string) dlStatus {
	t.Helper()
	st := dlStatusOf(t, e, tok)
	if st.State != state {
		t.Fatalf("token %s: state %q, want %q (%+v)", tok.Ref, st.State, state, st)
	}
	return st
}

// dlEventually polls tok's list entry until cond holds. What a download sent is recorded once
// its last byte is out, a moment after the client may have read it.
func dlEventually(t *testing.T, e *testutil.Env, tok dlToken, what string, cond func(dlStatus) bool) dlStatus {
	t.Helper()
	var st dlStatus
	testutil.Eventually(t, 10*time.Second, what, func() bool {
		st = dlStatusOf(t, e, tok)
		return cond(st)
	})
	return st
}

// dlBrowser sends a request as a browser (or a preview bot posing as one) would.
func dlBrowser(e *testutil.Env, method, u string, header ...string) *testutil.Response {
	e.T.Helper()
	return upGet(e, method, u, append([]string{"Accept", dlBrowserAccept, "User-Agent", dlChromeUA}, header...)...)
}

// dlCurl sends a request as curl does.
func dlCurl(e *testutil.Env, method, u string, header ...string) *testutil.Response {
	e.T.Helper()
	return upGet(e, method, u, append([]string{"Accept", "*/*", "User-Agent", dlCurlUA}, header...)...)
}

// dlPostForm posts the landing page's form as a browser does.
func dlPostForm(e *testutil.Env, u string, form url.Values) *testutil.Response {
	e.T.Helper()
	req := e.NewRequest(http.MethodPost, u, "", "", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", dlBrowserAccept)
	req.Header.Set("User-Agent", dlChromeUA)
	return e.Do(req)
}

// dlOn is u, a URL of e, on another instance.
func dlOn(other, e *testutil.Env, u string) string {
	return other.URL + strings.TrimPrefix(u, e.URL)
}

// dlMarked is content whose first bytes are text that no answer but the file's may hold.
func dlMarked(t *testing.T, n int) []byte {
	t.Helper()
	b := bytes.Repeat([]byte("x"), n)
	copy(b, "FILE-CONTENT-"+testutil.SHA256(testutil.RandomBytes(t, 16)))
	return b
}

// dlRace sends every request at the same moment and reads every answer whole.
func dlRace(t *testing.T, client *http.Client, reqs []*http.Request) []sessRaceResult {
	t.Helper()
	results := make([]sessRaceResult, len(reqs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, req := range reqs {
		results[i].req = req
		wg.Add(1)
		go func(r *sessRaceResult) {
			defer wg.Done()
			<-start
			r.resp, r.err = client.Do(r.req)
			if r.err != nil {
				return
			}
			r.status = r.resp.StatusCode
			r.body, r.err = io.ReadAll(r.resp.Body)
			r.resp.Body.Close()
		}(&results[i])
	}
	close(start)
	wg.Wait()
	for i := range results {
		r := &results[i]
		if r.err != nil {
			t.Fatalf("request %d (%s): %v", i, r.req.Method, r.err)
		}
		testutil.ValidateResponse(t, r.req, r.resp, r.body)
	}
	return results
}

// dlTokenHash is what the database keeps of a token.
func dlTokenHash(tok dlToken) []byte {
	h := sha256.Sum256([]byte(tok.ID))
	return h[:]
}

// TestTokenEventMetrics counts what happened to one-time links.
func TestTokenEventMetrics(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	const size = 16 << 20
	content := testutil.RandomBytes(t, size)
	f := sessStoredFile(t, e, sessAlice, s.ID, "m.bin", content)

	// A landing page, a consumption cut and resumed to delivery.
	tok := dlCreateToken(t, e, s.ID, f.ID, false)
	dlWantPage(t, dlBrowser(e, http.MethodGet, tok.URL), http.StatusOK)
	etag := dlCutConsume(t, e, tok, 1<<20, content).ETag
	r := dlCurl(e, http.MethodGet, tok.URL, "Range", "bytes=1048576-", "If-Range", etag)
	dlWantPart(t, r.StatusCode, r.Header, r.Body, content, 1<<20, size-1)
	dlEventually(t, e, tok, "the token to be delivered", func(st dlStatus) bool { return st.State == "delivered" })
	// Five wrong PINs lock a token.
	dlLock(t, e, dlCreateToken(t, e, s.ID, f.ID, true))
	// A revocation.
	rev := dlCreateToken(t, e, s.ID, f.ID, false)
	if r := sessCall(t, e, http.MethodDelete, dlTokensPath(s.ID, f.ID)+"/"+rev.Ref, sessAlice, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d", r.StatusCode)
	}

	m, text := scrape(t, e)
	for event, want := range map[string]float64{
		"landing": 1, "consumed": 1, "resumed": 1, "delivered": 1, "wrong_pin": 5, "locked": 1, "revoked": 1,
	} {
		if got := m["fileshare_download_token_events_total{event="+event+"}"]; got != want {
			t.Errorf("event %s counted %v, want %v", event, got, want)
		}
	}
	if strings.Contains(text, tok.ID) || strings.Contains(text, tok.Ref) {
		t.Fatal("/metrics names a token")
	}
}

// TestTokenAuditView reads a delivered token as an auditor does: its ref, state, bytes sent
// and time of delivery, and neither the token nor its PIN.
func TestTokenAuditView(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	content := dlMarked(t, 5000)
	f := sessStoredFile(t, e, sessAlice, s.ID, "audit.txt", content)
	tok := dlCreateToken(t, e, s.ID, f.ID, true)
	sessCheckDownload(t, dlCurl(e, http.MethodGet, tok.URL, "Fileshare-Pin", tok.PIN), content, "text/plain; charset=utf-8", `attachment; filename="audit.txt"`)
	st := dlEventually(t, e, tok, "the token to be delivered", func(st dlStatus) bool { return st.State == "delivered" })

	read := func(q pgx.Tx) {
		t.Helper()
		var (
			ref, state, tenant string
			bytesSent          int64
			deliveredAt        *time.Time
			pin                bool
		)
		err := q.QueryRow(context.Background(), `SELECT ref::text, state, bytes_sent, delivered_at, pin, tenant FROM audit.download_tokens WHERE file_id = $1`, f.ID).
			Scan(&ref, &state, &bytesSent, &deliveredAt, &pin, &tenant)
		if err != nil {
			t.Fatal(err)
		}
		if ref != tok.Ref || state != "delivered" || bytesSent != int64(len(content)) || deliveredAt == nil || !deliveredAt.Equal(*st.DeliveredAt) || !pin || tenant != "acme" {
			t.Fatalf("audit row: ref %s state %s bytes_sent %d delivered_at %v pin %v tenant %s; the list says %+v", ref, state, bytesSent, deliveredAt, pin, tenant, st)
		}
		var secrets int64
		if err := q.QueryRow(context.Background(), `SELECT count(*) FROM information_schema.columns WHERE table_schema = 'audit' AND table_name = 'download_tokens' AND column_name IN ('token_hash', 'pin_hash')`).Scan(&secrets); err != nil {
			t.Fatal(err)
		}
		if secrets != 0 {
			t.Fatal("the audit view shows a token or PIN hash")
		}
	}
	tx, err := e.Store.Pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	read(tx)
	// As the auditors' role, when the server lets the migration create it.
	if testutil.QueryInt(t, e, `SELECT count(*) FROM pg_roles WHERE rolname = 'fileshare_audit' AND pg_has_role(current_user, oid, 'MEMBER')`) == 1 {
		if _, err := tx.Exec(context.Background(), `SET LOCAL ROLE fileshare_audit`); err != nil {
			t.Fatal(err)
		}
		read(tx)
	}
}

// A consuming request whose file cannot be opened (its blob went missing) sends nothing: the
// token stays unused, not spent on the error, and no token.consumed event is left behind.
func TestTokenNotSpentOnAnError(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t, func(c *config.Config) { c.WebhookAllowPrivate = true })
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(receiver.Close)
	if r := sessCall(t, e, http.MethodPost, "/webhooks", sessAlice, map[string]any{"url": receiver.URL, "events": []string{"token.consumed"}}); r.StatusCode != http.StatusCreated {
		t.Fatalf("register a webhook: %d %s", r.StatusCode, r.Body)
	}
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "gone.bin", []byte("soon gone"))
	tok := dlCreateToken(t, e, s.ID, f.ID, false)
	for _, b := range testutil.BlobFiles(t, e.DataDir) {
		if err := os.Remove(filepath.Join(e.DataDir, "blobs", b)); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WantError(t, dlCurl(e, http.MethodGet, tok.URL), http.StatusNotFound, "file not found")
	if st := dlWantState(t, e, tok, "unused"); st.ConsumedAt != nil {
		t.Fatalf("the token is marked consumed: %+v", st)
	}
	consumed := func(ref string) int64 {
		return testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_events WHERE type = 'token.consumed' AND body::jsonb #>> '{data,ref}' = $1`, ref)
	}
	if n := consumed(tok.Ref); n != 0 {
		t.Fatalf("%d token.consumed events of a token whose file could not be opened", n)
	}
	// A token whose file opens is consumed with its event.
	g := sessStoredFile(t, e, sessAlice, s.ID, "here.bin", []byte("here"))
	ok := dlCreateToken(t, e, s.ID, g.ID, false)
	sessCheckDownload(t, dlCurl(e, http.MethodGet, ok.URL), []byte("here"), "application/octet-stream", `attachment; filename="here.bin"`)
	if n := consumed(ok.Ref); n != 1 {
		t.Fatalf("%d token.consumed events of a consumed token, want 1", n)
	}
}
