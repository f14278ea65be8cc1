// Package browsertest_test opens one-time links in a real headless Chromium: the landing page
// must show the file and leave the token unused, however long the page stays open; its
// Download button must save the file and consume the token; a PIN token must take the PIN
// from the page's form. The package has a directory of its own so that the browser driver is a
// dependency of this test alone.
package browsertest_test

// This file is over 400 lines: the browser driver, its loopback-only proxy and the landing-page scenarios, which the other browser tests reuse.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"fileshare/internal/testutil"
)

const (
	alice    = "alice@acme"
	alicePW  = "pw"
	fileName = "Bericht ü.pdf"
	// The landing page's Download button and PIN field.
	downloadButton = chromedp.CSS(`form[method="post"] button[type="submit"]`)
	pinInput       = chromedp.CSS(`form[method="post"] input[name="pin"]`)
)

// chromiumPath finds the browser: Debian's package chromium. A missing browser fails the test
// rather than skipping it, so that a machine without it cannot pass for one that ran it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("no chromium on PATH (%v): this test drives a real headless browser; install Debian's package chromium (apt-get install chromium)", err)
	}
	return p
}

// outsideRequests is the browser's proxy: the browser reaches loopback addresses directly and
// everything else only through it, and it refuses everything. So nothing the browser does
// leaves the machine. What it refused is logged: a few of Chromium's own background requests
// (sign-in state, an on-demand component) start despite every flag that turns such things off.
type outsideRequests struct {
	mu   sync.Mutex
	seen []string
}

func (o *outsideRequests) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.seen = append(o.seen, r.Method+" "+r.Host+r.URL.Path)
	o.mu.Unlock()
	http.Error(w, "no network here", http.StatusForbidden)
}

func (o *outsideRequests) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.seen)
}

// startChromium starts a headless Chromium with a fresh profile and returns its context: each
// chromedp.NewContext of it is a new tab of the same browser. The browser ends with the test.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	exe := chromiumPath(t)
	dir := t.TempDir()
	proxy := &outsideRequests{}
	ps := httptest.NewServer(proxy)
	t.Cleanup(func() {
		ps.Close()
		if seen := proxy.list(); len(seen) > 0 {
			t.Logf("refused %d requests of the browser for outside addresses: %q", len(seen), seen)
		}
	})
	var out syncBuffer
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // CI runs as root, where Chromium's sandbox does not start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.WindowSize(1024, 768),
		chromedp.CombinedOutput(&out),
		// Nothing from outside: no background fetches, no updates, no QUIC; what still tries
		// goes to the refusing proxy, and no name but the loopback's resolves.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,NetworkTimeServiceQuerying"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.ProxyServer(ps.URL),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		if t.Failed() {
			t.Logf("chromium's output:\n%s", out.tail(4000))
		}
	})
	// The first Run starts the browser.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v\n%s", exe, err, out.tail(4000))
	}
	return bctx
}

// syncBuffer collects the browser's output.
type syncBuffer struct {
	testutil.LogBuffer
}

func (b *syncBuffer) tail(n int) string {
	var keep []string
	for line := range strings.Lines(b.String()) {
		// Headless, it has no D-Bus to talk to, and says so often.
		if !strings.Contains(line, "dbus") {
			keep = append(keep, line)
		}
	}
	s := strings.Join(keep, "")
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// tab is a browser tab that records the response of every main document it loads, and what
// the browser's console says about its pages.
type tab struct {
	t    *testing.T
	ctx  context.Context
	docs chan *network.Response

	mu         sync.Mutex
	complaints []string
}

func (tb *tab) addComplaint(s string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.complaints = append(tb.complaints, s)
}

// console is what the browser's console has said about the tab's pages so far.
func (tb *tab) console() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return slices.Clone(tb.complaints)
}

// checkConsole fails the test when the browser's console has complained about a page.
func (tb *tab) checkConsole() {
	tb.t.Helper()
	if c := tb.console(); len(c) > 0 {
		tb.t.Errorf("the browser's console: %q", c)
	}
}

func newTab(t *testing.T, bctx context.Context) *tab {
	t.Helper()
	return openTab(t, bctx, 45*time.Second)
}

// openTab opens a tab that may work for timeout; opts may put it in a browser context of its
// own (another profile: no cookies shared).
func openTab(t *testing.T, bctx context.Context, timeout time.Duration, opts ...chromedp.ContextOption) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx, opts...)
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancelTimeout)
	tb := &tab{t: t, ctx: ctx, docs: make(chan *network.Response, 32)}
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventResponseReceived:
			if ev.Type == network.ResourceTypeDocument {
				select {
				case tb.docs <- ev.Response:
				default:
				}
			}
		case *cdplog.EventEntryAdded:
			// The browser's own complaints about the page: a blocked form submission or
			// style, an intervention. (The 403 and 410 of refused links are "network" entries.)
			if ev.Entry.Source != cdplog.EntrySourceNetwork {
				tb.addComplaint(fmt.Sprintf("%s %s: %s", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text))
			}
		case *runtime.EventExceptionThrown:
			tb.addComplaint("exception: " + ev.ExceptionDetails.Text)
		}
	})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return tb
}

func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// document returns the response of the next main document the tab received.
func (tb *tab) document(what string) *network.Response {
	tb.t.Helper()
	select {
	case r := <-tb.docs:
		return r
	case <-time.After(15 * time.Second):
		tb.t.Fatalf("%s: no document response", what)
		return nil
	}
}

// noDocument checks that the tab loaded no further document.
func (tb *tab) noDocument(what string) {
	tb.t.Helper()
	select {
	case r := <-tb.docs:
		tb.t.Fatalf("%s: the tab loaded %s (%d) by itself", what, r.URL, r.Status)
	default:
	}
}

// open navigates to url and returns the main document's status.
func (tb *tab) open(url string) int64 {
	tb.t.Helper()
	return tb.load("open the link", chromedp.Navigate(url))
}

// load runs a navigation and returns the main document's status.
func (tb *tab) load(what string, nav chromedp.Action[chromedp.Void]) int64 {
	tb.t.Helper()
	tb.noDocument("before " + what)
	tb.do(what, nav)
	r := tb.document(what)
	if ct := r.Headers["Content-Type"]; ct != "text/html; charset=utf-8" {
		tb.t.Errorf("the page's Content-Type is %v", ct)
	}
	return r.Status
}

// submit clicks the Download button and waits for the page that answers it.
func (tb *tab) submit() int64 {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(downloadButton))); err != nil {
		tb.t.Fatalf("click Download and wait for the page: %v; the browser's console: %q", err, tb.console())
	}
	return tb.document("the Download button's answer").Status
}

func (tb *tab) text(sel chromedp.CSS) string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Text(sel))
	if err != nil {
		tb.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (tb *tab) count(sel string) int {
	tb.t.Helper()
	n, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
	if err != nil {
		tb.t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

// checkLanding checks that the tab shows the landing page of the file, with a PIN field or
// without one.
func (tb *tab) checkLanding(withPIN bool) {
	tb.t.Helper()
	if got := tb.text(".file .name"); got != fileName {
		tb.t.Errorf("the page names the file %q, want %q", got, fileName)
	}
	if got := tb.text(".file"); !strings.Contains(got, "Link valid until") || !strings.Contains(got, "kB") {
		tb.t.Errorf("the page's file box %q lacks the size or the expiry", got)
	}
	if n := tb.count(`form[method="post"]:not([action]) button[type="submit"]`); n != 1 {
		tb.t.Errorf("%d Download buttons in a form posting to the page, want 1", n)
	}
	want := 0
	if withPIN {
		want = 1
	}
	if n := tb.count(`form[method="post"] input[name="pin"]`); n != want {
		tb.t.Errorf("%d PIN fields, want %d", n, want)
	}
	if n := tb.count("script, iframe, img, link, meta[http-equiv]"); n != 0 {
		tb.t.Errorf("the page has %d scripts, frames, images, links or refreshes", n)
	}
}

// download clicks the Download button and waits until the browser has saved the file into
// dir; it returns the saved file's name and content.
func (tb *tab) download(dir string) (string, []byte) {
	tb.t.Helper()
	_, err := chromedp.CallBrowser(tb.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, EventsEnabled: new(true),
		// The tab's own browser context (a profile of its own, or the default one).
		BrowserContextID: chromedp.FromContext(tb.ctx).BrowserContextID,
	})
	if err != nil {
		tb.t.Fatalf("set the download directory: %v", err)
	}
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	tb.do("click Download", chromedp.Click(downloadButton))
	for ev, err := range progress {
		if err != nil {
			tb.t.Fatalf("waiting for the download: %v; the browser's console: %q", err, tb.console())
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			tb.t.Fatalf("the browser canceled the download after %v of %v bytes", ev.ReceivedBytes, ev.TotalBytes)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			break
		}
	}
	// The POST's answer came as the tab's document, and the browser made it a download.
	if r := tb.document("the Download button's answer"); r.Status != http.StatusOK || !strings.HasPrefix(fmt.Sprint(r.Headers["Content-Disposition"]), "attachment") {
		tb.t.Errorf("the Download button's answer: status %d, Content-Disposition %v", r.Status, r.Headers["Content-Disposition"])
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.t.Fatal(err)
	}
	if len(entries) != 1 {
		names := make([]string, len(entries))
		for i, e := range entries {
			names[i] = e.Name()
		}
		tb.t.Fatalf("the download directory holds %q, want one file", names)
	}
	name := entries[0].Name()
	if strings.HasSuffix(name, ".crdownload") {
		tb.t.Fatalf("the download %q is not complete", name)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		tb.t.Fatal(err)
	}
	return name, b
}

// screenshot saves a PNG of the whole page into the test's directory, and under
// FILESHARE_SCREENSHOT_DIR when that is set, and checks that it is a picture.
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	b, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatalf("screenshot: %v", err)
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		tb.t.Fatalf("the screenshot (%d bytes) is not a PNG", len(b))
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil || cfg.Width < 100 || cfg.Height < 100 {
		tb.t.Fatalf("the screenshot: %dx%d, %v", cfg.Width, cfg.Height, err)
	}
	if err := os.WriteFile(filepath.Join(tb.t.TempDir(), name), b, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	if dir := os.Getenv("FILESHARE_SCREENSHOT_DIR"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tb.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			tb.t.Fatal(err)
		}
	}
}

// The API side: a session, a stored file entry and its tokens.

type sharedFile struct {
	sid, fid string
	content  []byte
}

type token struct {
	ID  string `json:"id"`
	Ref string `json:"ref"`
	URL string `json:"url"`
	PIN string `json:"pin"`
}

// call sends a request as alice; body is as testutil.Env.Call takes it.
func call(t *testing.T, e *testutil.Env, method, path string, body any) *testutil.Response {
	t.Helper()
	return e.Sub(t).Call(method, path, alice, alicePW, body)
}

// shareFile creates a session with a file entry named fileName and uploads random content.
func shareFile(t *testing.T, e *testutil.Env) sharedFile {
	t.Helper()
	type idOnly struct {
		ID string `json:"id"`
	}
	s := testutil.Decode[idOnly](t, call(t, e, http.MethodPost, "/sessions", nil), http.StatusCreated)
	f := testutil.Decode[idOnly](t, call(t, e, http.MethodPost, "/sessions/"+s.ID+"/files", map[string]any{"name": fileName, "contentType": "application/pdf"}), http.StatusCreated)
	content := testutil.RandomBytes(t, 300<<10)
	testutil.Decode[idOnly](t, call(t, e, http.MethodPut, "/sessions/"+s.ID+"/files/"+f.ID, content), http.StatusOK)
	return sharedFile{sid: s.ID, fid: f.ID, content: content}
}

func (f sharedFile) newToken(t *testing.T, e *testutil.Env, withPIN bool) token {
	t.Helper()
	body := `{}`
	if withPIN {
		body = `{"pin":true}`
	}
	tok := testutil.Decode[token](t, call(t, e, http.MethodPost, "/sessions/"+f.sid+"/files/"+f.fid+"/tokens", body), http.StatusCreated)
	if withPIN != (tok.PIN != "") {
		t.Fatalf("token made with pin=%v has PIN %q", withPIN, tok.PIN)
	}
	return tok
}

// state is the token's state in its file entry's token list.
func (f sharedFile) state(t *testing.T, e *testutil.Env, tok token) string {
	t.Helper()
	list := testutil.Decode[[]struct {
		Ref   string `json:"ref"`
		State string `json:"state"`
	}](t, call(t, e, http.MethodGet, "/sessions/"+f.sid+"/files/"+f.fid+"/tokens?limit=100", nil), http.StatusOK)
	for _, s := range list {
		if s.Ref == tok.Ref {
			return s.State
		}
	}
	t.Fatalf("token %s is not in the list", tok.Ref)
	return ""
}

func (f sharedFile) wantState(t *testing.T, e *testutil.Env, tok token, what string, states ...string) {
	t.Helper()
	if got := f.state(t, e, tok); !slices.Contains(states, got) {
		t.Fatalf("%s: token state %q, want %s", what, got, strings.Join(states, " or "))
	}
}

// checkSaved checks the file the browser saved: its name is the entry's, its bytes are the
// uploaded ones.
func (f sharedFile) checkSaved(t *testing.T, name string, b []byte) {
	t.Helper()
	if name != fileName {
		t.Errorf("the browser saved the file as %q, want %q", name, fileName)
	}
	if testutil.SHA256(b) != testutil.SHA256(f.content) {
		t.Fatalf("the saved file (%d bytes, SHA-256 %s) is not the uploaded one (%d bytes, %s)", len(b), testutil.SHA256(b), len(f.content), testutil.SHA256(f.content))
	}
}

// wantLinkRequests checks the requests that the server answered on the entry's links, as
// "METHOD status" in order, from its request log: what the browser sent, and nothing more (no
// prefetch, no second request for the download).
func (f sharedFile) wantLinkRequests(t *testing.T, e *testutil.Env, want ...string) {
	t.Helper()
	prefix := "/sessions/" + f.sid + "/files/" + f.fid + "/tokens/"
	var got []string
	// A request's log line is written as its answer ends, so the last may come a moment after
	// the browser has it.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got = got[:0]
		for line := range strings.Lines(e.Logs.String()) {
			var l struct {
				Msg, Method, Path string
				Status            int
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "request" && strings.HasPrefix(l.Path, prefix) {
				got = append(got, fmt.Sprintf("%s %d", l.Method, l.Status))
			}
		}
		if slices.Equal(got, want) || time.Now().After(deadline) {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("the server answered on the link: %q, want %q", got, want)
	}
}

// checkUsedPage loads a consumed link again (nav reloads the page or opens the link): the
// "already used" page with status 410.
func (tb *tab) checkUsedPage(nav chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if status := tb.load("reopen the used link", nav); status != http.StatusGone {
		tb.t.Errorf("reopening a used link: status %d, want 410", status)
	}
	if h := tb.text("h1"); h != "This link has already been used" {
		tb.t.Errorf("reopening a used link: heading %q", h)
	}
	if n := tb.count("form, input, button"); n != 0 {
		tb.t.Errorf("the used link's page has %d form elements", n)
	}
}

func TestLandingPageInChromium(t *testing.T) {
	chromiumPath(t) // first, so that a machine without it fails at once
	start := time.Now()
	e := testutil.NewEnv(t)
	e.AddUser(alice, alicePW)
	bctx := startChromium(t)
	t.Logf("chromium started in %s", time.Since(start).Round(time.Millisecond))

	t.Run("plain", func(t *testing.T) {
		f := shareFile(t, e)
		tok := f.newToken(t, e, false)
		tb := newTab(t, bctx)

		if status := tb.open(tok.URL); status != http.StatusOK {
			t.Fatalf("landing page: status %d", status)
		}
		tb.checkLanding(false)
		f.wantState(t, e, tok, "after the landing page", "unused")
		tb.screenshot("landing.png")

		// A link scanner opens the page and lingers, its JavaScript on: nothing happens.
		if on, err := chromedp.Run(tb.ctx, chromedp.Evaluate[bool]("typeof document.forms[0].submit === 'function'")); err != nil || !on {
			t.Fatalf("JavaScript does not run in the tab: %v, %v", on, err)
		}
		tb.do("linger", chromedp.Sleep(3*time.Second))
		tb.noDocument("lingering on the landing page")
		f.wantState(t, e, tok, "after lingering on the landing page", "unused")

		name, b := tb.download(t.TempDir())
		f.checkSaved(t, name, b)
		f.wantState(t, e, tok, "after the download", "consumed", "delivered")

		// The tab still shows the landing page: the person reloads it.
		if loc, err := chromedp.Run(tb.ctx, chromedp.Location()); err != nil || loc != tok.URL {
			t.Fatalf("after the download the tab shows %q (%v), want the link", loc, err)
		}
		tb.checkUsedPage(chromedp.Reload())
		tb.screenshot("used.png")
		f.wantLinkRequests(t, e, "GET 200", "POST 200", "GET 410")
		tb.checkConsole()
	})

	t.Run("pin", func(t *testing.T) {
		f := shareFile(t, e)
		tok := f.newToken(t, e, true)
		tb := newTab(t, bctx)

		if status := tb.open(tok.URL); status != http.StatusOK {
			t.Fatalf("landing page: status %d", status)
		}
		tb.checkLanding(true)
		tb.screenshot("landing-pin.png")
		f.wantState(t, e, tok, "after the landing page", "unused")

		// A wrong PIN: the page again, with 403, the PIN field and what was wrong.
		wrong := []byte(tok.PIN)
		wrong[5] = '0' + (wrong[5]-'0'+1)%10
		tb.do("type a wrong PIN", chromedp.SendKeys(pinInput, string(wrong)))
		if status := tb.submit(); status != http.StatusForbidden {
			t.Fatalf("a wrong PIN: status %d, want 403", status)
		}
		tb.checkLanding(true)
		if msg := tb.text(".error"); !strings.Contains(msg, "PIN is wrong") {
			t.Errorf("a wrong PIN: the page says %q", msg)
		}
		tb.screenshot("wrong-pin.png")
		f.wantState(t, e, tok, "after a wrong PIN", "unused")

		// The right PIN into the page shown again.
		tb.do("type the PIN", chromedp.SendKeys(pinInput, tok.PIN))
		name, b := tb.download(t.TempDir())
		f.checkSaved(t, name, b)
		f.wantState(t, e, tok, "after the download", "consumed", "delivered")

		// The tab shows the answer of the wrong PIN's POST, which a reload would send again:
		// the person opens the link again.
		tb.checkUsedPage(chromedp.Navigate(tok.URL))
		f.wantLinkRequests(t, e, "GET 200", "POST 403", "POST 200", "GET 410")
		tb.checkConsole()
	})
	t.Logf("the browser test took %s", time.Since(start).Round(time.Millisecond))
}
