package browsertest_test

// This file is over 400 lines: the console's whole story in one browser (sign-in, uploads cut and resumed, links, a recipient, revocation, sign-out), with its accessibility and screenshots.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"fileshare/internal/testutil"
)

// The console in a real Chromium (README "Console"): alice signs in with the form, uploads a
// 20 MiB and a 1 KiB file at once through the file picker — the network cuts the big one in
// the middle and tus-js-client resumes it where the service is — makes a session, drops a file
// into it, makes a PIN link for Bob and plain links for Carol and Dave; Bob, in a browser
// profile of his own, opens his link and downloads it with the PIN while alice's page, never
// reloaded, shows it viewed, then delivered; alice revokes Dave's link and Dave's page says so;
// alice signs out and the old cookie opens nothing. Each page passes axe-core with no serious
// violation and is photographed at phone and desktop widths (FILESHARE_SCREENSHOT_DIR keeps the
// pictures).

const (
	bigSize   = 20 << 20
	smallSize = 1 << 10
	// cutAt is where the network cuts the big upload's PATCH.
	cutAt = 7<<20 + 4321
	// consoleTimeout bounds the whole story in one tab (a loaded machine runs it with -race).
	consoleTimeout = 4 * time.Minute
)

// widths are the screenshots' viewports: a phone and a desktop.
var widths = []struct {
	name          string
	width, height int64
	mobile        bool
}{
	{"phone", 390, 844, true},
	{"desktop", 1280, 900, false},
}

func TestConsoleInChromium(t *testing.T) {
	chromiumPath(t)
	dir := clientDir(t)
	checkVendoredTus(t, dir)
	start := time.Now()
	e := testutil.NewEnv(t)
	e.AddUser(alice, alicePW)
	// The browser reaches the service only through the proxy that cuts the big upload.
	proxy := startTusCutter(t, e, cutAt)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(proxy.log())
		}
	})
	site := proxy.URL() + "/console"
	bctx := startChromium(t)
	axe := readFile(t, filepath.Join(dir, "node_modules", "axe-core", "axe.min.js"))

	tb := openTab(t, bctx, consoleTimeout)
	if status := tb.open(site + "/"); status != http.StatusOK {
		t.Fatalf("the console without a sign-in: status %d", status)
	}
	if loc := tb.location(); loc != site+"/signin" {
		t.Fatalf("the console without a sign-in shows %s, want the sign-in page", loc)
	}
	tb.check(axe, "signin")

	// A wrong password: the form again, saying so.
	tb.do("type a wrong password", chromedp.SendKeys(chromedp.CSS("#login"), alice), chromedp.SendKeys(chromedp.CSS("#password"), "wrong"))
	if status := tb.load("sign in with a wrong password", chromedp.Click(chromedp.CSS(`form button[type="submit"]`))); status != http.StatusUnauthorized {
		t.Fatalf("a wrong password: status %d", status)
	}
	tb.do("the form again", chromedp.WaitVisible(chromedp.CSS(`.error`)))
	if msg := tb.text(".error"); msg != "Wrong login or password." {
		t.Fatalf("a wrong password: the page says %q", msg)
	}
	tb.do("type the password", chromedp.SendKeys(chromedp.CSS("#password"), alicePW))
	if status := tb.load("sign in", chromedp.Click(chromedp.CSS(`form button[type="submit"]`))); status != http.StatusOK {
		t.Fatalf("sign in: status %d", status)
	}
	tb.do("the home page", chromedp.WaitVisible(chromedp.CSS(`[data-drop]`)))
	if who := tb.text(".who"); who != alice {
		t.Fatalf("signed in as %q", who)
	}
	cookie := tb.sessionCookie(site)

	// Two files at once through the picker; the big one is cut after cutAt bytes.
	files := t.TempDir()
	big := testutil.RandomBytes(t, bigSize)
	small := testutil.RandomBytes(t, smallSize)
	writeFile(t, filepath.Join(files, "recording.wav"), big)
	writeFile(t, filepath.Join(files, "notes.txt"), small)
	tb.watchProgress()
	tb.do("choose two files", chromedp.SetUploadFiles(chromedp.CSS("#upload-files"), []string{
		filepath.Join(files, "recording.wav"), filepath.Join(files, "notes.txt"),
	}))
	links := tb.wait(2*time.Minute, "the two uploads' links", `(() => {
		const f = [...document.querySelectorAll('[data-uploads] li')].map(li => [li.dataset.upload, (li.querySelector('.url') || {}).value || '']);
		return f.length === 2 && f.every(x => x[1]) ? Object.fromEntries(f) : null;
	})()`)
	proxy.checkCutAndResumed(t, bigSize)
	tb.checkProgressMoved("recording.wav", bigSize)
	for name, want := range map[string][]byte{"recording.wav": big, "notes.txt": small} {
		got := fetch(t, links.(map[string]any)[name].(string))
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: the link serves %d bytes, not the %d uploaded", name, len(got), len(want))
		}
	}
	if n := tb.count(`[data-uploads] li button`); n < 2 {
		t.Errorf("%d copy buttons next to the links", n)
	}
	tb.check(axe, "home")
	t.Logf("signed in and uploaded after %s", time.Since(start).Round(time.Millisecond))

	// A session, and a file dropped into it.
	if status := tb.load("new session", chromedp.Click(chromedp.CSS(`#new-session button[type="submit"]`))); status != http.StatusOK {
		t.Fatalf("new session: status %d", status)
	}
	tb.do("the session page", chromedp.WaitVisible(chromedp.CSS(`[data-session]`)))
	report := patterned(300 << 10)
	tb.do("drop a file", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const bytes = new Uint8Array(%d).map((_, i) => (i * 7 + 3) %% 251);
		const dt = new DataTransfer();
		dt.items.add(new File([bytes], 'report.pdf', {type: 'application/pdf'}));
		document.querySelector('[data-drop]').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
	})()`, len(report))))
	tb.wait(time.Minute, "the dropped file stored", `!!document.querySelector('[data-file] form.make-links:not([hidden])')`)

	// Links for three recipients: Bob with a PIN, Carol and Dave without.
	tb.do("recipients",
		chromedp.SendKeys(chromedp.CSS(`.recipient:nth-child(1) [data-label]`), "for Bob"),
		chromedp.Click(chromedp.CSS(`.recipient:nth-child(1) [data-pin]`)),
		chromedp.Click(chromedp.CSS(`form.make-links button[type="button"]`)),
		chromedp.SendKeys(chromedp.CSS(`.recipient:nth-child(2) [data-label]`), "for Carol"),
		chromedp.Click(chromedp.CSS(`form.make-links button[type="button"]`)),
		chromedp.SendKeys(chromedp.CSS(`.recipient:nth-child(3) [data-label]`), "for Dave"),
		chromedp.Click(chromedp.CSS(`form.make-links button[type="submit"]`)))
	made := tb.wait(30*time.Second, "three new links", `(() => {
		const l = [...document.querySelectorAll('[data-new-link]')].map(li => ({
			ref: li.dataset.newLink, url: li.querySelector('.url').value,
			pin: (li.querySelector('[data-pin-value]') || {}).value || ''}));
		return l.length === 3 ? l : null;
	})()`).([]any)
	bobLink, daveLink := linkOf(made[0]), linkOf(made[2])
	if len(bobLink.pin) != 6 || linkOf(made[1]).pin != "" || daveLink.pin != "" {
		t.Fatalf("the PINs shown: %+v", made)
	}
	tb.do("show Bob's QR code", chromedp.Click(chromedp.CSS(`[data-new-link="`+bobLink.ref+`"] button[aria-expanded]`)))
	tb.wait(10*time.Second, "the QR code", `(() => { const i = document.querySelector('[data-new-link="`+bobLink.ref+`"] img.qr'); return i && !i.hidden && i.complete && i.naturalWidth > 0; })()`)
	tb.waitState(bobLink.ref, "unused")
	tb.check(axe, "session")

	// Bob, in a profile of his own, opens his link: alice's page shows it viewed, unreloaded.
	bobTab := openTab(t, bctx, time.Minute, chromedp.WithNewBrowserContext())
	if status := bobTab.open(bobLink.url); status != http.StatusOK {
		t.Fatalf("Bob's landing page: status %d", status)
	}
	tb.waitState(bobLink.ref, "viewed")
	bobTab.do("type the PIN", chromedp.SendKeys(pinInput, bobLink.pin))
	name, got := bobTab.download(t.TempDir())
	if name != "report.pdf" || !bytes.Equal(got, report) {
		t.Fatalf("Bob saved %q, %d bytes; want report.pdf, %d bytes", name, len(got), len(report))
	}
	tb.waitState(bobLink.ref, "delivered")
	tb.screenshots("session-delivered")

	// Alice revokes Dave's link; Dave's page says so.
	tb.do("revoke Dave's link", chromedp.Click(chromedp.CSS(`tr[data-link="`+daveLink.ref+`"] button`)))
	tb.waitState(daveLink.ref, "revoked")
	daveTab := openTab(t, bctx, time.Minute, chromedp.WithNewBrowserContext())
	if status := daveTab.open(daveLink.url); status != http.StatusGone {
		t.Fatalf("Dave's revoked link: status %d", status)
	}
	// The landing page's words for a revoked link.
	if h := daveTab.text("h1"); h != "This link has been withdrawn" {
		t.Fatalf("Dave's revoked link says %q", h)
	}
	tb.noDocument("watching the links")
	tb.checkConsole()

	// Sign-out: the sign-in page; the old cookie opens neither a page nor a call.
	if status := tb.load("sign out", chromedp.Click(chromedp.CSS(`.account button[type="submit"]`))); status != http.StatusOK {
		t.Fatalf("sign out: status %d", status)
	}
	if loc := tb.location(); loc != site+"/signin" {
		t.Fatalf("after sign-out the tab shows %s", loc)
	}
	checkCookieDead(t, site, cookie)
	tb.checkConsole()
	t.Logf("the console test took %s", time.Since(start).Round(time.Millisecond))
}

type newLink struct{ ref, url, pin string }

func linkOf(v any) newLink {
	m := v.(map[string]any)
	return newLink{ref: m["ref"].(string), url: m["url"].(string), pin: m["pin"].(string)}
}

// patterned is the content the page's dropped file has: byte i is (7i+3) mod 251.
func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((i*7 + 3) % 251)
	}
	return b
}

// checkVendoredTus checks that the console's copy of tus-js-client is the bundle of the version
// the client packages' lock file holds.
func checkVendoredTus(t *testing.T, dir string) {
	t.Helper()
	vendored := readFile(t, filepath.Join("..", "console", "assets", "vendor", "tus.min.js"))
	installed := readFile(t, filepath.Join(dir, "node_modules", "tus-js-client", "dist", "tus.min.js"))
	if !bytes.Equal(vendored, installed) {
		t.Fatal("internal/console/assets/vendor/tus.min.js is not tus-js-client's dist/tus.min.js of client/package-lock.json: copy it again")
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fetch downloads url (a simple upload's link) with Go.
func fetch(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return b
}

func (tb *tab) location() string {
	tb.t.Helper()
	loc, err := chromedp.Run(tb.ctx, chromedp.Location())
	if err != nil {
		tb.t.Fatal(err)
	}
	return loc
}

// wait polls a JavaScript expression of the page until it is truthy, and returns its value.
func (tb *tab) wait(timeout time.Duration, what, expr string) any {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Poll[any](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		tb.t.Fatalf("waiting for %s: %v; the browser's console: %q", what, err, tb.console())
	}
	return v
}

// waitState waits until the page shows the link's state (the page polls the service; the test
// never reloads it).
func (tb *tab) waitState(ref, state string) {
	tb.t.Helper()
	tb.wait(20*time.Second, "the link's state "+state, fmt.Sprintf(`(() => {
		const c = document.querySelector('tr[data-link="%s"] .state');
		return c && c.textContent === %q;
	})()`, ref, state))
}

// watchProgress records every value the page's progress bars take.
func (tb *tab) watchProgress() {
	tb.t.Helper()
	tb.do("watch the progress bars", chromedp.Evaluate[chromedp.Void](`(() => {
		window.seenProgress = [];
		new MutationObserver(ms => ms.forEach(m => {
			if (m.target.tagName === 'PROGRESS' && m.attributeName === 'value')
				window.seenProgress.push([m.target.getAttribute('aria-label'), Number(m.target.value)]);
		})).observe(document.body, {subtree: true, attributes: true, attributeFilter: ['value']});
	})()`))
}

// checkProgressMoved checks that the file's progress bar took values between nothing and
// everything, on both sides of the cut.
func (tb *tab) checkProgressMoved(name string, size int) {
	tb.t.Helper()
	seen, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[][]any](`window.seenProgress`))
	if err != nil {
		tb.t.Fatal(err)
	}
	var before, after int
	for _, s := range seen {
		v := int(s[1].(float64))
		if s[0] != "Upload of "+name || v <= 0 || v >= size {
			continue
		}
		if v <= cutAt {
			before++
		} else {
			after++
		}
	}
	if before == 0 || after == 0 {
		tb.t.Fatalf("the progress bar of %s took %d values before the cut and %d after it, out of %d: %v", name, before, after, len(seen), seen)
	}
}

// sessionCookie is the console's cookie as the browser keeps it; it must be HttpOnly and
// SameSite=Strict.
func (tb *tab) sessionCookie(site string) string {
	tb.t.Helper()
	res, err := chromedp.Call(tb.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{site + "/"}})
	if err != nil {
		tb.t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == "fileshare_console" {
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
				tb.t.Fatalf("the cookie: %+v", c)
			}
			if v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[string](`document.cookie`)); err != nil || strings.Contains(v, c.Value) {
				tb.t.Fatalf("the page's script reads the cookie: %q %v", v, err)
			}
			return c.Value
		}
	}
	tb.t.Fatalf("no console cookie among %d", len(res.Cookies))
	return ""
}

// checkCookieDead checks that a signed-out cookie opens neither a page nor a call.
func checkCookieDead(t *testing.T, site, cookie string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct{ method, path string }{{http.MethodGet, "/"}, {http.MethodGet, "/api/usage"}, {http.MethodPost, "/api/sessions"}} {
		req, err := http.NewRequest(c.method, site+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.AddCookie(&http.Cookie{Name: "fileshare_console", Value: cookie})
		req.Header.Set("Origin", strings.TrimSuffix(site, "/console"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s %s with the signed-out cookie: %d", c.method, c.path, resp.StatusCode)
		}
	}
}

// check runs axe-core on the page (no serious or critical violation may remain) and takes its
// screenshots.
func (tb *tab) check(axe []byte, page string) {
	tb.t.Helper()
	for _, w := range widths {
		tb.viewport(w.width, w.height, w.mobile)
		tb.axe(axe, page+" ("+w.name+")")
	}
	tb.screenshots(page)
}

func (tb *tab) viewport(width, height int64, mobile bool) {
	tb.t.Helper()
	tb.do("viewport", chromedp.EmulateViewport(width, height, func(p1 *emulation.SetDeviceMetricsOverrideParams, p2 *emulation.SetTouchEmulationEnabledParams) {
		p1.Mobile = mobile
		p2.Enabled = mobile
	}))
}

// axe runs axe-core (from the client packages, injected through the DevTools protocol, which
// the page's CSP does not govern) and fails on serious or critical violations.
func (tb *tab) axe(src []byte, what string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, time.Minute)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](string(src))); err != nil {
		tb.t.Fatalf("load axe-core into %s: %v", what, err)
	}
	type violation struct {
		ID     string `json:"id"`
		Impact string `json:"impact"`
		Help   string `json:"help"`
		Nodes  []struct {
			Target []any `json:"target"`
		} `json:"nodes"`
	}
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]violation](`axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({target: n.target}))})))`, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("axe-core on %s: %v", what, err)
	}
	for _, v := range vs {
		msg := fmt.Sprintf("axe-core on %s: %s (%s): %s at %v", what, v.ID, v.Impact, v.Help, v.Nodes)
		if v.Impact == "serious" || v.Impact == "critical" {
			tb.t.Error(msg)
		} else {
			tb.t.Log(msg)
		}
	}
}

// screenshots photographs the page at each width (the whole page, not only the viewport).
func (tb *tab) screenshots(page string) {
	tb.t.Helper()
	for _, w := range widths {
		tb.viewport(w.width, w.height, w.mobile)
		tb.screenshot("console-" + page + "-" + w.name + ".png")
	}
}
