package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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
// before its recipient does, PINs, downloads cut on mobile connections and resumed, and what
// the sender sees of each token. Helpers carry the prefix dl.

const (
	// dlBrowserAccept is what browsers, and the preview bots that pose as one, send.
	dlBrowserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8"
	dlChromeUA      = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	dlCurlUA        = "curl/8.5.0"
)

// dlToken is a token as its creation answers it.
type dlToken struct {
	sessToken
	Ref string `json:"ref"`
	PIN string `json:"pin"`
}

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
	// ETag is the delivery's secret, from the consuming answer (dlCutConsume), not the list.
	ETag string `json:"-"`
}

var dlPINRE = regexp.MustCompile(`^[0-9]{6}$`)

func dlTokensPath(sid, fid string) string { return "/sessions/" + sid + "/files/" + fid + "/tokens" }

// dlCreateToken makes a token of alice's entry, with a PIN when pin.
func dlCreateToken(t *testing.T, e *testutil.Env, sid, fid string, pin bool) dlToken {
	t.Helper()
	var body any
	if pin {
		body = map[string]any{"pin": true}
	}
	tok := testutil.Decode[dlToken](t, sessCall(t, e, http.MethodPost, dlTokensPath(sid, fid), sessAlice, body), http.StatusCreated)
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

// dlNoScript reports whether a Content-Security-Policy allows no script at all: no script
// element and no inline event handler.
func dlNoScript(csp string) bool {
	dirs := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		name := strings.ToLower(f[0])
		if _, ok := dirs[name]; !ok { // the first of a name counts
			dirs[name] = strings.Join(f[1:], " ")
		}
	}
	for _, specific := range []string{"script-src-elem", "script-src-attr"} {
		v, ok := "", false
		for _, name := range []string{specific, "script-src", "default-src"} {
			if v, ok = dirs[name]; ok {
				break
			}
		}
		if !ok || v != "'none'" {
			return false
		}
	}
	return true
}

var (
	dlScriptRE  = regexp.MustCompile(`(?i)<script|javascript:|http-equiv\s*=\s*["']?refresh|\son[a-z]+\s*=`)
	dlFormRE    = regexp.MustCompile(`(?i)<form\b[^>]*\bmethod="post"[^>]*>`)
	dlActionRE  = regexp.MustCompile(`(?i)\baction\s*=`)
	dlPINFieldR = regexp.MustCompile(`(?i)<input\b[^>]*\bname="pin"`)
)

// dlWantPage checks an HTML answer to a link: its status and the headers of every landing
// page; a page that nothing runs or submits by itself; never the file's content.
func dlWantPage(t *testing.T, r *testutil.Response, status int) {
	t.Helper()
	what := r.Request.Method + " " + r.Request.URL.Path
	if r.StatusCode != status {
		t.Fatalf("%s: status %d, want %d with a page; body %.300q", what, r.StatusCode, status, r.Body)
	}
	want := map[string]string{
		"Content-Type":        "text/html; charset=utf-8",
		"Cache-Control":       "no-store",
		"Referrer-Policy":     "no-referrer",
		"Content-Disposition": "",
	}
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s: %s %q, want %q", what, k, got, v)
		}
	}
	if xr := r.Header.Get("X-Robots-Tag"); !strings.Contains(strings.ToLower(xr), "noindex") {
		t.Errorf("%s: X-Robots-Tag %q, want noindex", what, xr)
	}
	if csp := r.Header.Get("Content-Security-Policy"); !dlNoScript(csp) {
		t.Errorf("%s: Content-Security-Policy %q allows scripts", what, csp)
	}
	if r.Request.Method == http.MethodHead {
		if len(r.Body) != 0 {
			t.Errorf("%s: %d body bytes", what, len(r.Body))
		}
		return
	}
	if !bytes.Contains(bytes.ToLower(r.Body), []byte("<html")) {
		t.Errorf("%s: not an HTML page: %.200q", what, r.Body)
	}
	if m := dlScriptRE.Find(r.Body); m != nil {
		t.Errorf("%s: the page runs or submits something by itself: %q", what, m)
	}
}

// dlWantLanding checks the landing page of an unused token: a page that shows the file (its
// name, size and the link's expiry) and a Download button, a plain form posted to the link
// itself.
func dlWantLanding(t *testing.T, r *testutil.Response, name string, size int, expires time.Time, content []byte) {
	t.Helper()
	dlWantPage(t, r, http.StatusOK)
	if r.Request.Method == http.MethodHead {
		return
	}
	page := string(r.Body)
	if html.EscapeString(name) != name && strings.Contains(page, name) {
		t.Errorf("the page holds the file name %q unescaped", name)
	}
	if !strings.Contains(html.UnescapeString(page), name) {
		t.Errorf("the page does not show the file name %q", name)
	}
	sizes := []string{strconv.Itoa(size), fmt.Sprintf("%.1f kB", float64(size)/1000), fmt.Sprintf("%.1f KB", float64(size)/1000),
		fmt.Sprintf("%.1f KiB", float64(size)/1024), fmt.Sprintf("%d,%03d", size/1000, size%1000)}
	shown := false
	for _, s := range sizes {
		shown = shown || strings.Contains(page, s)
	}
	if !shown {
		t.Errorf("the page shows none of %q for the size", sizes)
	}
	if day := expires.UTC(); !strings.Contains(page, day.Format("02 Jan 2006")) && !strings.Contains(page, day.Format("2 Jan 2006")) &&
		!strings.Contains(page, day.Format("Jan 2, 2006")) && !strings.Contains(page, day.Format("2006-01-02")) {
		t.Errorf("the page does not show the link's expiry %s", day)
	}
	form := dlFormRE.FindString(page)
	if form == "" {
		t.Fatalf(`the page has no <form method="post">: %s`, page)
	}
	if dlActionRE.MatchString(form) {
		t.Errorf("the form posts elsewhere: %s", form)
	}
	if bytes.Contains(r.Body, content[:32]) {
		t.Error("the page holds the file's content")
	}
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

// dlCut is a recipient on a connection that drops: it reads n bytes of the answer to a GET of
// u, then the connection is gone. Its small receive buffer keeps the server from sending the
// rest into the kernel's buffers before the cut.
func dlCut(t *testing.T, u string, n int64, header ...string) (*http.Response, []byte) {
	t.Helper()
	var dialer net.Dialer
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetReadBuffer(64 << 10)
			}
			return c, err
		},
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "*/*")
	req.Header.Set("User-Agent", dlCurlUA)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("GET with %v: %v", header, err)
	}
	buf := make([]byte, n)
	if resp.StatusCode/100 == 2 {
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			t.Fatalf("GET with %v: reading %d bytes: %v", header, n, err)
		}
	} else {
		buf, _ = io.ReadAll(resp.Body)
	}
	resp.Body.Close()
	testutil.ValidateResponse(t, req, resp, buf)
	return resp, buf
}

// dlCutConsume consumes tok with a download cut after n bytes, and waits until the server has
// recorded what it sent: the token is consumed, not delivered.
func dlCutConsume(t *testing.T, e *testutil.Env, tok dlToken, n int64, content []byte) dlStatus {
	t.Helper()
	resp, got := dlCut(t, tok.URL, n)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("consuming GET: %d %s", resp.StatusCode, got)
	}
	if !bytes.Equal(got, content[:n]) {
		t.Fatal("the consuming download's first bytes are not the file's")
	}
	st := dlEventually(t, e, tok, "the cut download to be recorded", func(st dlStatus) bool { return st.BytesSent > 0 })
	if st.State != "consumed" || st.ConsumedAt == nil || st.DeliveredAt != nil {
		t.Fatalf("after a cut download: %+v, want consumed and not delivered", st)
	}
	if st.BytesSent >= int64(len(content)) {
		t.Fatalf("bytesSent %d after a cut at %d of %d", st.BytesSent, n, len(content))
	}
	st.ETag = resp.Header.Get("ETag")
	if !deliveryETag.MatchString(st.ETag) {
		t.Fatalf("consuming answer's ETag %q is not a delivery secret", st.ETag)
	}
	return st
}

// dlWantPart checks a 206 answer that resumes a download: exactly content[start:end+1].
func dlWantPart(t *testing.T, status int, h http.Header, body, content []byte, start, end int64) {
	t.Helper()
	size := int64(len(content))
	if status != http.StatusPartialContent {
		t.Fatalf("resume of bytes %d-%d: status %d, want 206; body %.200q", start, end, status, body)
	}
	if cr, want := h.Get("Content-Range"), fmt.Sprintf("bytes %d-%d/%d", start, end, size); cr != want {
		t.Fatalf("Content-Range %q, want %q", cr, want)
	}
	if int64(len(body)) != end-start+1 || int64(len(body)) > size-start || !bytes.Equal(body, content[start:end+1]) {
		t.Fatalf("resume of bytes %d-%d: %d bytes that are not the file's", start, end, len(body))
	}
	if !deliveryETag.MatchString(h.Get("ETag")) || h.Get("Cache-Control") != "no-store" || h.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("resume headers: ETag %q Cache-Control %q Accept-Ranges %q", h.Get("ETag"), h.Get("Cache-Control"), h.Get("Accept-Ranges"))
	}
}

// dlTokenHash is what the database keeps of a token.
func dlTokenHash(tok dlToken) []byte {
	h := sha256.Sum256([]byte(tok.ID))
	return h[:]
}

// dlWrongPIN is a PIN that is not right, a different one for each i < 999999.
func dlWrongPIN(t *testing.T, right string, i int) string {
	t.Helper()
	n, err := strconv.Atoi(right)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%06d", (n+1+i)%1_000_000)
}

// dlLock locks a PIN token with five wrong PINs, one after the other.
func dlLock(t *testing.T, e *testutil.Env, tok dlToken) {
	t.Helper()
	for i := range 4 {
		testutil.WantError(t, dlCurl(e, http.MethodGet, tok.URL, "Fileshare-Pin", dlWrongPIN(t, tok.PIN, i)), http.StatusForbidden, "wrong pin")
	}
	// The fifth is a wrong PIN like the others, and locks the token.
	testutil.WantError(t, dlCurl(e, http.MethodGet, tok.URL, "Fileshare-Pin", dlWrongPIN(t, tok.PIN, 4)), http.StatusForbidden, "wrong pin")
	testutil.WantError(t, dlCurl(e, http.MethodGet, tok.URL, "Fileshare-Pin", tok.PIN), http.StatusGone, "download token locked")
}

// TestTokenLinkPreviewBots opens a link as the preview bots of chat apps and the link
// scanners of mail really do, before the recipient does: none of them consumes the token,
// each gets the landing page and none of the file. Then the recipient's curl downloads it,
// once.
func TestTokenLinkPreviewBots(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	const name = `<b>"x"&.txt`
	content := dlMarked(t, 1500)
	f := sessStoredFile(t, e, sessAlice, s.ID, name, content)
	tok := dlCreateToken(t, e, s.ID, f.ID, false)

	bots := []struct{ who, method, ua string }{
		{"Slack", http.MethodGet, "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"},
		{"WhatsApp", http.MethodGet, "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"},
		{"Telegram", http.MethodGet, "TelegramBot (like TwitterBot)"},
		{"Discord", http.MethodGet, "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)"},
		{"Teams", http.MethodGet, "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com"},
		{"Outlook Safe Links", http.MethodGet, dlChromeUA},
		{"a HEAD probe", http.MethodHead, "Go-http-client/1.1"},
	}
	for _, b := range bots {
		r := upGet(e, b.method, tok.URL, "Accept", dlBrowserAccept, "User-Agent", b.ua)
		dlWantLanding(t, r, name, len(content), tok.ExpiresAt, content)
		if sessConsumed(t, e, tok.ID) {
			t.Fatalf("%s consumed the token", b.who)
		}
	}
	// Go's client asks for no type at all: its HEAD is answered as an API client's, and does
	// not consume either.
	if r := upGet(e, http.MethodHead, tok.URL, "User-Agent", "Go-http-client/1.1"); r.StatusCode != http.StatusOK || r.Header.Get("Content-Disposition") == "" {
		t.Fatalf("HEAD without Accept: %d Content-Disposition %q", r.StatusCode, r.Header.Get("Content-Disposition"))
	}
	st := dlWantState(t, e, tok, "unused")
	if st.ConsumedAt != nil || st.DeliveredAt != nil || st.ConsumerAddress != nil || st.BytesSent != 0 || st.PIN {
		t.Fatalf("after the bots: %+v", st)
	}

	// The recipient's curl.
	r := dlCurl(e, http.MethodGet, tok.URL)
	sessCheckDownload(t, r, content, "text/plain; charset=utf-8", `attachment; filename="<b>_x_&.txt"; filename*=UTF-8''%3Cb%3E%22x%22&.txt`)
	st = dlEventually(t, e, tok, "the token to be delivered", func(st dlStatus) bool { return st.State == "delivered" })
	if st.ConsumedAt == nil || st.DeliveredAt == nil || st.BytesSent != int64(len(content)) || st.ConsumerAddress == nil || *st.ConsumerAddress != "127.0.0.1" {
		t.Fatalf("after the download: %+v", st)
	}
	// Once.
	testutil.WantError(t, dlCurl(e, http.MethodGet, tok.URL), http.StatusGone, "download token already used")
	r = dlBrowser(e, http.MethodGet, tok.URL)
	dlWantPage(t, r, http.StatusGone)
	if bytes.Contains(r.Body, content[:32]) || dlFormRE.Match(r.Body) {
		t.Fatal("the page of a used link offers the file")
	}
	dlWantPage(t, dlBrowser(e, http.MethodHead, tok.URL), http.StatusGone)
}

// TestTokenLandingPagesOfRefusedLinks opens links that cannot be downloaded as a browser:
// each gets a page with the status of the JSON answer an API client gets, and nothing is
// consumed.
func TestTokenLandingPagesOfRefusedLinks(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	content := dlMarked(t, 100)
	f := sessStoredFile(t, e, sessAlice, s.ID, "a.txt", content)
	pending := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "later.txt"})

	used := dlCreateToken(t, e, s.ID, f.ID, false)
	sessCheckDownload(t, dlCurl(e, http.MethodGet, used.URL), content, "text/plain; charset=utf-8", `attachment; filename="a.txt"`)
	expired := dlCreateToken(t, e, s.ID, f.ID, false)
	testutil.Exec(t, e, `UPDATE download_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1`, dlTokenHash(expired))
	revoked := dlCreateToken(t, e, s.ID, f.ID, false)
	if r := sessCall(t, e, http.MethodDelete, dlTokensPath(s.ID, f.ID)+"/"+revoked.Ref, sessAlice, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}
	locked := dlCreateToken(t, e, s.ID, f.ID, true)
	dlLock(t, e, locked)
	waiting := dlCreateToken(t, e, s.ID, pending.ID, false)
	unknown := used.URL[:strings.LastIndex(used.URL, "/")+1] + strings.Repeat("A", 43)
	malformed := e.URL + "/sessions/not-a-session/files/" + f.ID + "/tokens/" + used.ID

	for _, c := range []struct {
		what, url string
		status    int
		msg       string
	}{
		{"used", used.URL, http.StatusGone, "download token already used"},
		{"expired", expired.URL, http.StatusGone, "download token expired"},
		{"revoked", revoked.URL, http.StatusGone, "download token revoked"},
		{"locked", locked.URL, http.StatusGone, "download token locked"},
		{"pending", waiting.URL, http.StatusConflict, "file not uploaded yet"},
		{"unknown", unknown, http.StatusNotFound, "download token not found"},
		{"malformed", malformed, http.StatusNotFound, "download token not found"},
	} {
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
			r := dlBrowser(e, m, c.url)
			dlWantPage(t, r, c.status)
			if m != http.MethodHead && (bytes.Contains(r.Body, content[:32]) || dlFormRE.Match(r.Body)) {
				t.Fatalf("%s %s: the page offers the file", c.what, m)
			}
		}
		testutil.WantError(t, dlCurl(e, http.MethodGet, c.url), c.status, c.msg)
		testutil.WantError(t, dlCurl(e, http.MethodPost, c.url), c.status, c.msg)
	}
	if sessConsumed(t, e, expired.ID) || sessConsumed(t, e, revoked.ID) || sessConsumed(t, e, locked.ID) || sessConsumed(t, e, waiting.ID) {
		t.Fatal("a refused link was consumed")
	}

	// An expired session: a page with 410 too.
	live := dlCreateToken(t, e, s.ID, f.ID, false)
	sessExpireSession(t, e, s.ID)
	dlWantPage(t, dlBrowser(e, http.MethodGet, live.URL), http.StatusGone)
	testutil.WantError(t, dlCurl(e, http.MethodGet, live.URL), http.StatusGone, "session expired")
}

// TestTokenGetAndPostRace sends 100 GETs of API clients and 100 POSTs (half of them the
// landing page's form) of one token at the same moment, round after round: exactly one
// receives the file, every other gets 410 and none of its bytes.
func TestTokenGetAndPostRace(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	content := dlMarked(t, 48<<10)
	f := sessStoredFile(t, e, sessAlice, s.ID, "race.bin", content)
	const each, wantClean, maxRounds = 100, 3, 10
	transport := &http.Transport{MaxIdleConns: 2 * each, MaxIdleConnsPerHost: 2 * each}
	client := &http.Client{Transport: transport}
	defer transport.CloseIdleConnections()

	clean := 0
	for round := 0; clean < wantClean && round < maxRounds; round++ {
		tok := dlCreateToken(t, e, s.ID, f.ID, false)
		var reqs []*http.Request
		for i := range 2 * each {
			var req *http.Request
			var err error
			switch {
			case i < each: // API clients: curl, and Go's client, which sends no Accept
				req, err = http.NewRequest(http.MethodGet, tok.URL, nil)
				if i%2 == 0 {
					req.Header.Set("Accept", "*/*")
				}
			case i%2 == 0: // POST of an API client
				req, err = http.NewRequest(http.MethodPost, tok.URL, nil)
			default: // the landing page's Download button
				req, err = http.NewRequest(http.MethodPost, tok.URL, strings.NewReader(""))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Accept", dlBrowserAccept)
			}
			if err != nil {
				t.Fatal(err)
			}
			reqs = append(reqs, req)
		}
		results := dlRace(t, client, reqs)
		winners, used, unavailable := 0, 0, 0
		for _, r := range results {
			if r.status != http.StatusOK && (bytes.Contains(r.body, content[:32]) ||
				r.resp.Header.Get("Content-Disposition") != "" || r.resp.Header.Get("ETag") != "") {
				t.Fatalf("round %d: a loser (%s, %d) received part of the file", round, r.req.Method, r.status)
			}
			switch r.status {
			case http.StatusOK:
				winners++
				if !bytes.Equal(r.body, content) {
					t.Fatalf("round %d: the winner (%s) got %d bytes that are not the file's", round, r.req.Method, len(r.body))
				}
			case http.StatusGone:
				used++
				if strings.HasPrefix(r.resp.Header.Get("Content-Type"), "text/html") {
					if r.req.Header.Get("Accept") != dlBrowserAccept {
						t.Fatalf("round %d: a page for an API client", round)
					}
				} else if string(r.body) != `{"message":"download token already used"}` {
					t.Fatalf("round %d: loser body %.200q", round, r.body)
				}
			case http.StatusServiceUnavailable:
				unavailable++
			default:
				t.Fatalf("round %d: %s answered %d %.200q", round, r.req.Method, r.status, r.body)
			}
		}
		if winners > 1 {
			t.Fatalf("round %d: %d requests got the file, want exactly 1", round, winners)
		}
		if unavailable > 0 {
			t.Logf("round %d: database overloaded: %d × 503, %d × 200, %d × 410; not counted", round, unavailable, winners, used)
			continue
		}
		if winners != 1 || used != 2*each-1 {
			t.Fatalf("round %d: %d × 200 and %d × 410, want 1 and %d", round, winners, used, 2*each-1)
		}
		st := dlEventually(t, e, tok, "the winner's download to be recorded", func(st dlStatus) bool { return st.State == "delivered" })
		if st.BytesSent != int64(len(content)) {
			t.Fatalf("round %d: bytesSent %d, want %d: the file went out once", round, st.BytesSent, len(content))
		}
		clean++
	}
	if clean < wantClean {
		t.Fatalf("only %d clean rounds, want %d", clean, wantClean)
	}
}

// TestTokenPIN checks tokens made with a PIN: the PIN is shown once, the link needs it
// (header or the landing page's form), a missing or wrong PIN leaves the token unused, and
// five wrong PINs, however concurrent, lock it for good.
func TestTokenPIN(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	content := dlMarked(t, 3000)
	f := sessStoredFile(t, e, sessAlice, s.ID, "pin.txt", content)
	const ct, disposition = "text/plain; charset=utf-8", `attachment; filename="pin.txt"`

	plain := dlCreateToken(t, e, s.ID, f.ID, false)
	tok := dlCreateToken(t, e, s.ID, f.ID, true)
	if st := dlWantState(t, e, tok, "unused"); !st.PIN {
		t.Fatalf("the list shows pin:false for a PIN token: %+v", st)
	}
	if st := dlWantState(t, e, plain, "unused"); st.PIN {
		t.Fatalf("the list shows pin:true for a plain token: %+v", st)
	}
	// The PIN is not in the database, nor in the list.
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM download_tokens x WHERE strpos(x::text, $1) > 0`, tok.PIN); n != 0 {
		t.Fatal("the PIN is in the database in clear")
	}
	if r := sessCall(t, e, http.MethodGet, dlTokensPath(s.ID, f.ID), sessAlice, nil); bytes.Contains(r.Body, []byte(tok.PIN)) {
		t.Fatal("the list shows the PIN")
	}

	// The landing page of a PIN token asks for it; a plain token's does not.
	page := dlBrowser(e, http.MethodGet, tok.URL)
	dlWantLanding(t, page, "pin.txt", len(content), tok.ExpiresAt, content)
	if form := page.Body[dlFormRE.FindIndex(page.Body)[0]:]; !dlPINFieldR.Match(form) {
		t.Fatalf("the landing page of a PIN token has no PIN field in its form: %s", page.Body)
	}
	if page := dlBrowser(e, http.MethodGet, plain.URL); dlPINFieldR.Match(page.Body) {
		t.Fatal("the landing page of a plain token asks for a PIN")
	}

	// Missing and wrong PINs leave the token unused.
	testutil.WantError(t, dlCurl(e, http.MethodGet, tok.URL), http.StatusForbidden, "pin required")
	testutil.WantError(t, dlCurl(e, http.MethodPost, tok.URL), http.StatusForbidden, "pin required")
	testutil.WantError(t, dlCurl(e, http.MethodGet, tok.URL, "Fileshare-Pin", dlWrongPIN(t, tok.PIN, 0)), http.StatusForbidden, "wrong pin")
	// A browser that posts a wrong PIN gets the page again, with the PIN field.
	r := dlPostForm(e, tok.URL, url.Values{"pin": {dlWrongPIN(t, tok.PIN, 1)}})
	dlWantPage(t, r, http.StatusForbidden)
	if !dlPINFieldR.Match(r.Body) || bytes.Contains(r.Body, content[:32]) {
		t.Fatalf("the page after a wrong PIN: %s", r.Body)
	}
	dlWantPage(t, dlPostForm(e, tok.URL, url.Values{}), http.StatusForbidden)
	if st := dlWantState(t, e, tok, "unused"); st.ConsumedAt != nil || st.BytesSent != 0 {
		t.Fatalf("after refused PINs: %+v", st)
	}
	if sessConsumed(t, e, tok.ID) {
		t.Fatal("a refused PIN consumed the token")
	}
	if n := testutil.QueryInt(t, e, `SELECT pin_failures FROM download_tokens WHERE token_hash = $1`, dlTokenHash(tok)); n != 2 {
		t.Fatalf("pin_failures %d after two wrong PINs", n)
	}

	// The right PIN in the header downloads, once.
	sessCheckDownload(t, dlCurl(e, http.MethodGet, tok.URL, "Fileshare-Pin", tok.PIN), content, ct, disposition)
	testutil.WantError(t, dlCurl(e, http.MethodGet, tok.URL, "Fileshare-Pin", tok.PIN), http.StatusGone, "download token already used")
	dlEventually(t, e, tok, "the PIN token to be delivered", func(st dlStatus) bool { return st.State == "delivered" })

	// The right PIN in the landing page's form downloads.
	form := dlCreateToken(t, e, s.ID, f.ID, true)
	sessCheckDownload(t, dlPostForm(e, form.URL, url.Values{"pin": {form.PIN}}), content, ct, disposition)
	dlEventually(t, e, form, "the PIN token to be delivered", func(st dlStatus) bool { return st.State == "delivered" && st.PIN })
	// The right PIN of another token is a wrong PIN.
	other := dlCreateToken(t, e, s.ID, f.ID, true)
	if other.PIN != form.PIN {
		testutil.WantError(t, dlCurl(e, http.MethodGet, other.URL, "Fileshare-Pin", form.PIN), http.StatusForbidden, "wrong pin")
	}

	// Twenty wrong guesses at once: five count, then the token is locked.
	lock := dlCreateToken(t, e, s.ID, f.ID, true)
	var reqs []*http.Request
	for i := range 20 {
		var req *http.Request
		if i%2 == 0 {
			req = e.NewRequest(http.MethodGet, lock.URL, "", "", nil)
			req.Header.Set("Fileshare-Pin", dlWrongPIN(t, lock.PIN, i))
		} else {
			req = e.NewRequest(http.MethodPost, lock.URL, "", "", strings.NewReader(url.Values{"pin": {dlWrongPIN(t, lock.PIN, i)}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		reqs = append(reqs, req)
	}
	transport := &http.Transport{MaxIdleConnsPerHost: len(reqs)}
	defer transport.CloseIdleConnections()
	wrong, lockedAnswers := 0, 0
	for _, r := range dlRace(t, &http.Client{Transport: transport}, reqs) {
		switch {
		case r.status == http.StatusForbidden && string(r.body) == `{"message":"wrong pin"}`:
			wrong++
		case r.status == http.StatusGone && string(r.body) == `{"message":"download token locked"}`:
			lockedAnswers++
		default:
			t.Fatalf("a wrong guess answered %d %s", r.status, r.body)
		}
	}
	// Five wrong PINs count, each answered as one; the fifth locks the token: the rest locked.
	if wrong != 5 || lockedAnswers != 15 {
		t.Fatalf("%d × wrong pin and %d × locked, want 5 and 15", wrong, lockedAnswers)
	}
	if n := testutil.QueryInt(t, e, `SELECT pin_failures FROM download_tokens WHERE token_hash = $1`, dlTokenHash(lock)); n != 5 {
		t.Fatalf("pin_failures %d, want exactly 5", n)
	}
	// Locked for good: the right PIN no longer opens it, in any way.
	testutil.WantError(t, dlCurl(e, http.MethodGet, lock.URL, "Fileshare-Pin", lock.PIN), http.StatusGone, "download token locked")
	r = dlPostForm(e, lock.URL, url.Values{"pin": {lock.PIN}})
	dlWantPage(t, r, http.StatusGone)
	if bytes.Contains(r.Body, content[:32]) {
		t.Fatal("a locked token gave the file")
	}
	dlWantPage(t, dlBrowser(e, http.MethodGet, lock.URL), http.StatusGone)
	if st := dlWantState(t, e, lock, "locked"); st.ConsumedAt != nil || st.BytesSent != 0 {
		t.Fatalf("locked token: %+v", st)
	}
	if sessConsumed(t, e, lock.ID) {
		t.Fatal("the locked token was consumed")
	}
	if n := testutil.QueryInt(t, e, `SELECT pin_failures FROM download_tokens WHERE token_hash = $1`, dlTokenHash(lock)); n != 5 {
		t.Fatalf("pin_failures %d after the lock, want still 5", n)
	}

	// The metrics count every wrong PIN once, and the lock once.
	m, _ := scrape(t, e)
	failures := testutil.QueryInt(t, e, `SELECT sum(pin_failures) FROM download_tokens`)
	if got := m["fileshare_download_token_events_total{event=wrong_pin}"]; got != float64(failures) {
		t.Errorf("wrong_pin events %v, want the %d wrong PINs counted", got, failures)
	}
	if got := m["fileshare_download_token_events_total{event=locked}"]; got != 1 {
		t.Errorf("locked events %v, want 1: one token was locked", got)
	}
}

// TestTokenResumeAfterCuts downloads 64 MiB over a connection that drops twice: the download
// resumes with Range and the delivery's secret in If-Range on the other instance and then on
// the first, and the pieces make the file. Nothing else is served from the consumed token, and
// nothing at all once it has been delivered.
func TestTokenResumeAfterCuts(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	twin := e.Twin()
	const size = 64 << 20
	content := testutil.RandomBytes(t, size)
	contentTag := `"` + testutil.SHA256(content) + `"`
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "recording.wav", content)
	tok := dlCreateToken(t, e, s.ID, f.ID, false)
	twinURL := dlOn(twin, e, tok.URL)

	// The consuming download, cut at 40%.
	cut1 := int64(size * 2 / 5)
	resp, part1 := dlCut(t, tok.URL, cut1)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK || !deliveryETag.MatchString(etag) || resp.Header.Get("Accept-Ranges") != "bytes" ||
		resp.Header.Get("Content-Length") != strconv.Itoa(size) {
		t.Fatalf("consuming GET: %d ETag %q Accept-Ranges %q Content-Length %q", resp.StatusCode,
			resp.Header.Get("ETag"), resp.Header.Get("Accept-Ranges"), resp.Header.Get("Content-Length"))
	}
	if !bytes.Equal(part1, content[:cut1]) {
		t.Fatal("the first part is not the file's")
	}
	st := dlEventually(t, e, tok, "the cut to be recorded", func(st dlStatus) bool { return st.BytesSent > 0 })
	if st.State != "consumed" || st.DeliveredAt != nil {
		t.Fatalf("after the cut: %+v", st)
	}
	sent1 := st.BytesSent
	other := dlCutConsume(t, e, dlCreateToken(t, e, s.ID, f.ID, false), 1<<20, content).ETag

	// Nothing without the delivery's secret: not the file again, no range, not with another
	// entity tag (the content's, another delivery's, a date); on neither instance.
	from := fmt.Sprintf("bytes=%d-", cut1)
	for _, inst := range []*testutil.Env{e, twin} {
		u := dlOn(inst, e, tok.URL)
		for _, hdr := range [][]string{
			nil,
			{"Range", "bytes=0-"},
			{"Range", "bytes=0-99"},
			{"Range", "bytes=-1000"},
			{"Range", from + "," + "bytes=1-2"},
			{"Range", from},
			{"Range", "bytes=1-"},
			{"Range", from, "If-Range", `"0123456789abcdef"`},
			{"Range", from, "If-Range", contentTag},
			{"Range", "bytes=0-", "If-Range", contentTag},
			{"Range", from, "If-Range", other},
			{"Range", from, "If-Range", "W/" + etag},
			{"Range", from, "If-Range", time.Now().UTC().Format(http.TimeFormat)},
			{"Range", "bytes=-1000", "If-Range", etag},
			{"Range", from + ",bytes=1-2", "If-Range", etag},
			{"If-Range", etag},
			{"Range", fmt.Sprintf("bytes=%d-", size), "If-Range", etag},
		} {
			for _, m := range []string{http.MethodGet, http.MethodPost} {
				r := dlCurl(inst, m, u, hdr...)
				testutil.WantError(t, r, http.StatusGone, "download token already used")
				if r.Header.Get("Content-Range") != "" || r.Header.Get("ETag") != "" {
					t.Fatalf("%s with %v: a refusal with the headers of content", m, hdr)
				}
			}
		}
		dlWantPage(t, dlBrowser(inst, http.MethodGet, u), http.StatusGone)
	}

	// The first resume, on the other instance, by a download manager that poses as a browser;
	// cut again at 70%.
	cut2 := int64(size * 7 / 10)
	resp, part2 := dlCut(t, twinURL, cut2-cut1, "Range", from, "If-Range", etag, "Accept", dlBrowserAccept, "User-Agent", dlChromeUA)
	if resp.StatusCode != http.StatusPartialContent ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", cut1, size-1, size) ||
		resp.Header.Get("Content-Length") != strconv.FormatInt(size-cut1, 10) || resp.Header.Get("ETag") != etag {
		t.Fatalf("first resume: %d Content-Range %q Content-Length %q ETag %q", resp.StatusCode,
			resp.Header.Get("Content-Range"), resp.Header.Get("Content-Length"), resp.Header.Get("ETag"))
	}
	st = dlEventually(t, e, tok, "the second cut to be recorded", func(st dlStatus) bool { return st.BytesSent > sent1 })
	if st.State != "consumed" || st.DeliveredAt != nil {
		t.Fatalf("after the second cut: %+v", st)
	}

	// The final resume, a POST on the first instance (without If-Range, refused).
	testutil.WantError(t, dlCurl(e, http.MethodPost, tok.URL, "Range", fmt.Sprintf("bytes=%d-", cut2)), http.StatusGone, "download token already used")
	r := dlCurl(e, http.MethodPost, tok.URL, "Range", fmt.Sprintf("bytes=%d-", cut2), "If-Range", etag)
	if r.Header.Get("ETag") != etag {
		t.Fatalf("resume's ETag %q, want the delivery's %q", r.Header.Get("ETag"), etag)
	}
	dlWantPart(t, r.StatusCode, r.Header, r.Body, content, cut2, size-1)
	whole := sha256.New()
	whole.Write(part1)
	whole.Write(part2)
	whole.Write(r.Body)
	if got := fmt.Sprintf("%x", whole.Sum(nil)); got != testutil.SHA256(content) {
		t.Fatalf("the assembled file's SHA-256 %s differs from the original's %s", got, testutil.SHA256(content))
	}

	// Delivered: no more resumes, on either instance.
	st = dlEventually(t, e, tok, "the token to be delivered", func(st dlStatus) bool { return st.State == "delivered" })
	if st.DeliveredAt == nil || st.ConsumedAt == nil || st.DeliveredAt.Before(*st.ConsumedAt) || st.BytesSent < size {
		t.Fatalf("delivered token: %+v", st)
	}
	for _, u := range []string{tok.URL, twinURL} {
		for _, rg := range []string{fmt.Sprintf("bytes=%d-", cut2), "bytes=1-10", fmt.Sprintf("bytes=%d-", size-1)} {
			testutil.WantError(t, dlCurl(e, http.MethodGet, u, "Range", rg, "If-Range", etag), http.StatusGone, "download token already used")
		}
	}
	if after := dlStatusOf(t, e, tok); after.BytesSent != st.BytesSent || after.DeliveredAt == nil || !after.DeliveredAt.Equal(*st.DeliveredAt) {
		t.Fatalf("refusals changed the record: %+v, then %+v", st, after)
	}
}

// TestTokenResumeWindow resumes a cut download within the resume window, and not past it.
func TestTokenResumeWindow(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	const size = 16 << 20
	content := testutil.RandomBytes(t, size)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "window.bin", content)
	tok := dlCreateToken(t, e, s.ID, f.ID, false)
	etag := dlCutConsume(t, e, tok, 1<<20, content).ETag

	set := func(ago string) {
		t.Helper()
		testutil.Exec(t, e, `UPDATE download_tokens SET consumed_at = now() - $2::interval WHERE token_hash = $1`, dlTokenHash(tok), ago)
	}
	resume := func() *testutil.Response {
		t.Helper()
		return dlCurl(e, http.MethodGet, tok.URL, "Range", "bytes=1000-1999", "If-Range", etag)
	}
	set("14 minutes")
	r := resume()
	dlWantPart(t, r.StatusCode, r.Header, r.Body, content, 1000, 1999)
	set("16 minutes")
	testutil.WantError(t, resume(), http.StatusGone, "download token already used")
	set("15 minutes 1 second")
	testutil.WantError(t, resume(), http.StatusGone, "download token already used")
	if st := dlWantState(t, e, tok, "consumed"); st.DeliveredAt != nil {
		t.Fatalf("past the window: %+v", st)
	}
}

// TestTokenConcurrentResumes sends 50 resumes of one cut download at once, to both instances:
// each with the delivery's secret gets exactly the bytes of its range and never the whole file;
// each without it gets nothing.
func TestTokenConcurrentResumes(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	twin := e.Twin()
	const size = 16 << 20
	content := testutil.RandomBytes(t, size)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "many.bin", content)
	tok := dlCreateToken(t, e, s.ID, f.ID, false)
	first := dlCutConsume(t, e, tok, 1<<20, content)
	sent, etag := first.BytesSent, first.ETag

	type span struct{ start, end int64 } // end -1: open-ended
	transport := &http.Transport{MaxIdleConnsPerHost: 50}
	client := &http.Client{Transport: transport}
	defer transport.CloseIdleConnections()
	send := func(spans []span) []sessRaceResult {
		t.Helper()
		var reqs []*http.Request
		for i, sp := range spans {
			inst := []*testutil.Env{e, twin}[i%2]
			method := []string{http.MethodGet, http.MethodPost}[i/2%2]
			req, err := http.NewRequest(method, dlOn(inst, e, tok.URL), nil)
			if err != nil {
				t.Fatal(err)
			}
			rg := fmt.Sprintf("bytes=%d-", sp.start)
			if sp.end >= 0 {
				rg += strconv.FormatInt(sp.end, 10)
			}
			req.Header.Set("Range", rg)
			if i%3 != 0 {
				req.Header.Set("If-Range", etag)
			}
			reqs = append(reqs, req)
		}
		return dlRace(t, client, reqs)
	}
	withSecret := func(i int) bool { return i%3 != 0 }
	check := func(i int, sp span, r sessRaceResult) bool {
		t.Helper()
		if !withSecret(i) {
			if r.status != http.StatusGone || string(r.body) != `{"message":"download token already used"}` {
				t.Fatalf("resume of %v without the secret: %d %.100q, want 410", sp, r.status, r.body)
			}
			return false
		}
		if r.status == http.StatusOK {
			t.Fatalf("a resume of %v got the whole file", sp)
		}
		if r.status == http.StatusGone {
			if string(r.body) != `{"message":"download token already used"}` {
				t.Fatalf("resume of %v: 410 %s", sp, r.body)
			}
			return false
		}
		end := sp.end
		if end < 0 || end > size-1 {
			end = size - 1
		}
		dlWantPart(t, r.status, r.resp.Header, r.body, content, sp.start, end)
		return true
	}

	// Fifty ranges short of the last byte, all at once: every one is served.
	var spans []span
	for i := range 50 {
		start := 1 + int64(i)*(size/50) + int64(i*7919)%4096
		spans = append(spans, span{start, min(start+int64(i%5)*64<<10+int64(i), size-2)})
	}
	spans[0], spans[1] = span{1, 1}, span{1, 100 << 10}
	spans[2] = span{size - 2, size - 2}
	for i, r := range send(spans) {
		if check(i, spans[i], r) {
			sent += int64(len(r.body))
		} else if withSecret(i) {
			t.Fatalf("resume of %v refused while the download is not delivered", spans[i])
		}
	}
	// What went out is recorded, every byte once.
	st := dlEventually(t, e, tok, "the resumes to be recorded", func(st dlStatus) bool { return st.BytesSent >= sent })
	if st.State != "consumed" || st.DeliveredAt != nil || st.BytesSent != sent {
		t.Fatalf("after resumes short of the last byte: %+v, want consumed with bytesSent %d", st, sent)
	}

	// Ranges to the end, at once: each with the secret is served; the last byte went out, but
	// the file is not covered, so the token is not delivered.
	spans = nil
	for i := range 10 {
		if i%2 == 0 {
			spans = append(spans, span{size - 1 - int64(i)*1000, -1})
		} else {
			spans = append(spans, span{size - 1 - int64(i)*1000, size + 1000})
		}
	}
	for i, r := range send(spans) {
		if check(i, spans[i], r) {
			sent += int64(len(r.body))
		} else if withSecret(i) {
			t.Fatalf("resume of %v refused while the download is not delivered", spans[i])
		}
	}
	st = dlEventually(t, e, tok, "the resumes to the end to be recorded", func(st dlStatus) bool { return st.BytesSent >= sent })
	if st.State != "consumed" || st.DeliveredAt != nil {
		t.Fatalf("after scattered resumes: %+v, want consumed: the file is not covered", st)
	}
	// The rest after the first cut covers the file: delivered.
	r := dlCurl(e, http.MethodGet, tok.URL, "Range", fmt.Sprintf("bytes=%d-", first.BytesSent), "If-Range", etag)
	dlWantPart(t, r.StatusCode, r.Header, r.Body, content, first.BytesSent, size-1)
	sent += int64(len(r.Body))
	st = dlEventually(t, e, tok, "the token to be delivered", func(st dlStatus) bool { return st.State == "delivered" && st.BytesSent >= sent })
	if st.DeliveredAt == nil || st.BytesSent != sent {
		t.Fatalf("delivered: %+v, want bytesSent %d", st, sent)
	}
	testutil.WantError(t, dlCurl(e, http.MethodGet, tok.URL, "Range", "bytes=1-1", "If-Range", etag), http.StatusGone, "download token already used")
}

// TestTokenRevokeAndList revokes tokens, and reads the token list: its pages, its order and
// every state a token can be in.
func TestTokenRevokeAndList(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	content := dlMarked(t, 100)
	f := sessStoredFile(t, e, sessAlice, s.ID, "r.txt", content)
	path := dlTokensPath(s.ID, f.ID)

	// Pages of two over five tokens, in the order they were made.
	var made []dlToken
	for range 5 {
		made = append(made, dlCreateToken(t, e, s.ID, f.ID, false))
	}
	got, pages := sessWalk[dlStatus](t, e, sessAlice, path+"?limit=2", nil)
	if pages != 3 || len(got) != len(made) {
		t.Fatalf("%d tokens on %d pages, want 5 on 3", len(got), pages)
	}
	for i, st := range got {
		if st.Ref != made[i].Ref || st.FileID != f.ID || st.SessionID != s.ID || st.State != "unused" ||
			!st.CreatedAt.Equal(made[i].CreatedAt) || !st.ExpiresAt.Equal(made[i].ExpiresAt) {
			t.Fatalf("token %d of the list: %+v, want %+v", i, st, made[i])
		}
	}
	if r := sessCall(t, e, http.MethodGet, path+"?limit=5", sessAlice, nil); r.Header.Get("Link") != "" {
		t.Fatalf("a Link after the last page: %q", r.Header.Get("Link"))
	}
	for _, bad := range []string{"?limit=0", "?limit=1001", "?after=nope"} {
		if r := sessCall(t, e, http.MethodGet, path+bad, sessAlice, nil); r.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: %d", bad, r.StatusCode)
		}
	}
	testutil.WantError(t, sessCall(t, e, http.MethodGet, path, "", nil), http.StatusUnauthorized, "unauthorized")

	// Revoking an unused token.
	rev := made[1]
	if r := sessCall(t, e, http.MethodDelete, path+"/"+rev.Ref, sessAlice, nil); r.StatusCode != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}
	testutil.WantError(t, dlCurl(e, http.MethodGet, rev.URL), http.StatusGone, "download token revoked")
	testutil.WantError(t, dlCurl(e, http.MethodPost, rev.URL), http.StatusGone, "download token revoked")
	testutil.WantError(t, dlCurl(e, http.MethodHead, rev.URL), http.StatusGone, "download token revoked")
	dlWantPage(t, dlBrowser(e, http.MethodGet, rev.URL), http.StatusGone)
	if st := dlWantState(t, e, rev, "revoked"); st.ConsumedAt != nil {
		t.Fatalf("revoked: %+v", st)
	}
	if sessConsumed(t, e, rev.ID) {
		t.Fatal("the revoked token was consumed")
	}
	// Only unused tokens can be revoked.
	testutil.WantError(t, sessCall(t, e, http.MethodDelete, path+"/"+rev.Ref, sessAlice, nil), http.StatusConflict, "download token already used")
	sessCheckDownload(t, dlCurl(e, http.MethodGet, made[0].URL), content, "text/plain; charset=utf-8", `attachment; filename="r.txt"`)
	testutil.WantError(t, sessCall(t, e, http.MethodDelete, path+"/"+made[0].Ref, sessAlice, nil), http.StatusConflict, "download token already used")
	// Unknown and malformed refs, refs of another entry, the token instead of its ref.
	g := sessStoredFile(t, e, sessAlice, s.ID, "g.txt", []byte("g"))
	for _, p := range []string{
		path + "/" + uuid.NewString(),
		path + "/nope",
		path + "/" + made[3].ID,
		dlTokensPath(s.ID, g.ID) + "/" + made[3].Ref,
	} {
		testutil.WantError(t, sessCall(t, e, http.MethodDelete, p, sessAlice, nil), http.StatusNotFound, "download token not found")
	}
	testutil.WantError(t, sessCall(t, e, http.MethodDelete, dlTokensPath(s.ID, uuid.NewString())+"/"+made[3].Ref, sessAlice, nil), http.StatusNotFound, "file not found")
	testutil.WantError(t, sessCall(t, e, http.MethodDelete, path+"/"+made[3].Ref, "", nil), http.StatusUnauthorized, "unauthorized")
	dlWantState(t, e, made[3], "unused")
	sessCheckDownload(t, dlCurl(e, http.MethodGet, made[3].URL), content, "text/plain; charset=utf-8", `attachment; filename="r.txt"`)

	// Every state in one list: unused, consumed (cut), delivered, expired, revoked, locked.
	const size = 16 << 20
	big := testutil.RandomBytes(t, size)
	bf := sessStoredFile(t, e, sessAlice, s.ID, "big.bin", big)
	unused := dlCreateToken(t, e, s.ID, bf.ID, false)
	consumed := dlCreateToken(t, e, s.ID, bf.ID, false)
	delivered := dlCreateToken(t, e, s.ID, bf.ID, false)
	expired := dlCreateToken(t, e, s.ID, bf.ID, false)
	revoked := dlCreateToken(t, e, s.ID, bf.ID, false)
	locked := dlCreateToken(t, e, s.ID, bf.ID, true)
	dlCutConsume(t, e, consumed, 1<<20, big)
	if r := dlCurl(e, http.MethodGet, delivered.URL); r.StatusCode != http.StatusOK || !bytes.Equal(r.Body, big) {
		t.Fatalf("download: %d, %d bytes", r.StatusCode, len(r.Body))
	}
	testutil.Exec(t, e, `UPDATE download_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = $1`, dlTokenHash(expired))
	if r := sessCall(t, e, http.MethodDelete, dlTokensPath(s.ID, bf.ID)+"/"+revoked.Ref, sessAlice, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}
	dlLock(t, e, locked)
	dlEventually(t, e, delivered, "the download to be delivered", func(st dlStatus) bool { return st.State == "delivered" })

	want := []struct {
		tok   dlToken
		state string
	}{{unused, "unused"}, {consumed, "consumed"}, {delivered, "delivered"}, {expired, "expired"}, {revoked, "revoked"}, {locked, "locked"}}
	list, pages := sessWalk[dlStatus](t, e, sessAlice, dlTokensPath(s.ID, bf.ID)+"?limit=2", nil)
	if len(list) != len(want) || pages != 3 {
		t.Fatalf("%d tokens on %d pages, want %d on 3", len(list), pages, len(want))
	}
	for i, w := range want {
		st := list[i]
		if st.Ref != w.tok.Ref || st.State != w.state {
			t.Fatalf("token %d: ref %s state %q, want %s %q", i, st.Ref, st.State, w.tok.Ref, w.state)
		}
		started := w.state == "consumed" || w.state == "delivered"
		if (st.ConsumedAt != nil) != started || (st.ConsumerAddress != nil) != started || (st.BytesSent > 0) != started {
			t.Errorf("%s token: consumedAt %v consumerAddress %v bytesSent %d", w.state, st.ConsumedAt, st.ConsumerAddress, st.BytesSent)
		}
		if (st.DeliveredAt != nil) != (w.state == "delivered") {
			t.Errorf("%s token: deliveredAt %v", w.state, st.DeliveredAt)
		}
		if st.PIN != (w.state == "locked") {
			t.Errorf("%s token: pin %v", w.state, st.PIN)
		}
	}
	// Tokens that are not unused cannot be revoked.
	for _, w := range want[1:] {
		testutil.WantError(t, sessCall(t, e, http.MethodDelete, dlTokensPath(s.ID, bf.ID)+"/"+w.tok.Ref, sessAlice, nil), http.StatusConflict, "download token already used")
	}
}

// TestTokenListAndRevokeTenantIsolation tries the token list and revocation with another
// tenant's ids: 404 as for ids that do not exist, and the token stays unused.
func TestTokenListAndRevokeTenantIsolation(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	e.AddUser(sessBob, sessPW)
	as := sessCreateSession(t, e, sessAlice, nil)
	content := dlMarked(t, 100)
	af := sessStoredFile(t, e, sessAlice, as.ID, "a.txt", content)
	tok := dlCreateToken(t, e, as.ID, af.ID, false)
	bs := sessCreateSession(t, e, sessBob, nil)
	bf := sessStoredFile(t, e, sessBob, bs.ID, "b.txt", []byte("bob"))

	r1, r2, r3 := uuid.NewString(), uuid.NewString(), uuid.NewString()
	for _, p := range []struct{ method, foreign, none string }{
		{http.MethodGet, dlTokensPath(as.ID, af.ID), dlTokensPath(r1, r2)},
		{http.MethodGet, dlTokensPath(as.ID, af.ID) + "?limit=1", dlTokensPath(r1, r2) + "?limit=1"},
		{http.MethodGet, dlTokensPath(bs.ID, af.ID), dlTokensPath(bs.ID, r2)},
		{http.MethodDelete, dlTokensPath(as.ID, af.ID) + "/" + tok.Ref, dlTokensPath(r1, r2) + "/" + r3},
		{http.MethodDelete, dlTokensPath(bs.ID, af.ID) + "/" + tok.Ref, dlTokensPath(bs.ID, r2) + "/" + r3},
		{http.MethodDelete, dlTokensPath(bs.ID, bf.ID) + "/" + tok.Ref, dlTokensPath(bs.ID, bf.ID) + "/" + r3},
	} {
		foreign := sessCall(t, e, p.method, p.foreign, sessBob, nil)
		none := sessCall(t, e, p.method, p.none, sessBob, nil)
		if foreign.StatusCode != http.StatusNotFound || none.StatusCode != http.StatusNotFound {
			t.Fatalf("%s %s: %d %s (unknown ids: %d %s), want 404", p.method, p.foreign, foreign.StatusCode, foreign.Body, none.StatusCode, none.Body)
		}
		if !bytes.Equal(foreign.Body, none.Body) {
			t.Fatalf("%s %s: answer %s differs from the unknown ids' %s", p.method, p.foreign, foreign.Body, none.Body)
		}
	}
	if st := dlWantState(t, e, tok, "unused"); st.ConsumedAt != nil {
		t.Fatalf("alice's token: %+v", st)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM download_tokens WHERE revoked_at IS NOT NULL`); n != 0 {
		t.Fatal("bob revoked a token")
	}
	sessCheckDownload(t, dlCurl(e, http.MethodGet, tok.URL), content, "text/plain; charset=utf-8", `attachment; filename="a.txt"`)
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
