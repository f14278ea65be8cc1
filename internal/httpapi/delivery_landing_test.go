package httpapi_test

// Tests of the landing page of a one-time link: what link-preview bots and mail scanners get
// before the recipient, the pages of links that cannot be downloaded, and a race of API
// clients and browser forms for one token.

import (
	"bytes"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"fileshare/internal/testutil"
)

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
