package browsertest_test

// This file is over 400 lines: clients on other origins in a real Chromium, with the origins, proxy and page they need.

// Browser applications on other origins (README "Browser applications on other origins
// (CORS)"): a page served by a second loopback server — another origin than the
// service's — runs in Chromium with the stock clients an integrator would load (tus-js-client,
// and Uppy with @uppy/tus from Uppy's prebuilt bundle, installed by `npm ci` in client/), and
// uses the API across origins: a fetch PUT through an upload URL, two resumable uploads that a
// proxy cuts mid-PATCH, a fetch of a one-time link. A page of an origin that is not listed
// cannot read the API's answers (and spends no one-time token), and with
// FILESHARE_CORS_ORIGINS=* no page may send credentials.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

// clientDir is the directory of the page and of the browser clients' packages; a missing
// node_modules fails the test (as a missing chromium does), with what to run.
func clientDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("client")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tus-js-client/dist/tus.min.js", "uppy/dist/uppy.min.js", "axe-core/axe.min.js"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", f)); err != nil {
			t.Fatalf("the browser clients are not installed (%v): run `npm ci` in %s (scripts/test.sh does)", err, dir)
		}
	}
	return dir
}

// pageOrigin is a browser application's own origin: a loopback server of its own (so another
// port, another origin than the service's) serving the page, the clients' bundles, and the
// bytes the page uploads.
type pageOrigin struct {
	URL string

	mu   sync.Mutex
	data map[string][]byte
}

func startPageOrigin(t *testing.T, dir string) *pageOrigin {
	t.Helper()
	o := &pageOrigin{data: map[string][]byte{}}
	file := func(path, contentType string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, err := os.ReadFile(filepath.Join(dir, path))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", contentType)
			w.Header().Set("Cache-Control", "no-store")
			w.Write(b)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", file("page.html", "text/html; charset=utf-8"))
	mux.Handle("GET /lib/tus.min.js", file("node_modules/tus-js-client/dist/tus.min.js", "text/javascript"))
	mux.Handle("GET /lib/uppy.min.js", file("node_modules/uppy/dist/uppy.min.js", "text/javascript"))
	mux.HandleFunc("GET /data/{name}", func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		b, ok := o.data[r.PathValue("name")]
		o.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(b)
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	o.URL = s.URL
	return o
}

// put makes b the page's data NAME (GET /data/NAME on its origin).
func (o *pageOrigin) put(name string, b []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.data[name] = b
}

// openPage opens the page of origin o in a new tab, with both clients loaded.
func openPage(t *testing.T, bctx context.Context, o *pageOrigin) *tab {
	t.Helper()
	tb := newTab(t, bctx)
	if status := tb.open(o.URL + "/"); status != http.StatusOK {
		t.Fatalf("the page of %s: status %d", o.URL, status)
	}
	loaded, err := chromedp.Run(tb.ctx, chromedp.Evaluate[[]string](`[window.fileshare.tusVersion, window.fileshare.uppyVersion]`))
	if err != nil || len(loaded) != 2 || loaded[0] == "" || loaded[1] == "" {
		t.Fatalf("the page has not loaded tus-js-client and Uppy: %q, %v; the browser's console: %q", loaded, err, tb.console())
	}
	return tb
}

// run calls the page's window.fileshare.fn with args (JSON-encoded), waits at most timeout for
// the promise it returns, and decodes its result.
func run[T any](tb *tab, timeout time.Duration, fn string, args ...any) T {
	tb.t.Helper()
	js := make([]string, len(args))
	for i, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			tb.t.Fatal(err)
		}
		js[i] = string(b)
	}
	expr := fmt.Sprintf("window.fileshare.%s(%s)", fn, strings.Join(js, ", "))
	ctx, cancel := context.WithTimeout(tb.ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("%s in the page: %v; the browser's console: %q", fn, err, tb.console())
	}
	return v
}

// fetchResult is what the page's call and put return.
type fetchResult struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	Error   string            `json:"error"`
}

// digestResult is what the page's digest returns.
type digestResult struct {
	Status int    `json:"status"`
	Size   int    `json:"size"`
	ETag   string `json:"etag"`
	SHA256 string `json:"sha256"`
	Error  string `json:"error"`
}

// uploadResult is what the page's tus and uppy return.
type uploadResult struct {
	OK        bool     `json:"ok"`
	Error     string   `json:"error"`
	Failed    []string `json:"failed"`
	URL       string   `json:"url"`
	TusURL    string   `json:"tusUrl"`
	UploadURL string   `json:"uploadUrl"`
	Events    []string `json:"events"`
}

// uploadURLAnswer is the answer of POST /sessions/{fileId}.
type uploadURLAnswer struct {
	URL       string `json:"url"`
	Token     string `json:"token"`
	TusURL    string `json:"tusUrl"`
	SessionID string `json:"sessionId"`
	FileID    string `json:"fileId"`
}

// entry is a file entry as its session's list shows it.
type entry struct {
	ID     string  `json:"id"`
	State  string  `json:"state"`
	Size   *int64  `json:"size"`
	SHA256 *string `json:"sha256"`
}

// pendingEntry creates a session with a pending file entry named name, and an upload URL for
// it (with Basic Auth, as the application's server would).
func pendingEntry(t *testing.T, e *testutil.Env, name string) uploadURLAnswer {
	t.Helper()
	type idOnly struct {
		ID string `json:"id"`
	}
	s := testutil.Decode[idOnly](t, call(t, e, http.MethodPost, "/sessions", nil), http.StatusCreated)
	f := testutil.Decode[idOnly](t, call(t, e, http.MethodPost, "/sessions/"+s.ID+"/files", map[string]any{"name": name}), http.StatusCreated)
	up := testutil.Decode[uploadURLAnswer](t, call(t, e, http.MethodPost, "/sessions/"+f.ID, nil), http.StatusCreated)
	if up.Token == "" || up.SessionID != s.ID || up.FileID != f.ID || up.TusURL != e.URL+"/tus" {
		t.Fatalf("the upload-URL answer %+v", up)
	}
	return up
}

// entryOf is the entry up names, from its session's list.
func entryOf(t *testing.T, e *testutil.Env, up uploadURLAnswer) entry {
	t.Helper()
	for _, f := range testutil.Decode[[]entry](t, call(t, e, http.MethodGet, "/sessions/"+up.SessionID+"/files", nil), http.StatusOK) {
		if f.ID == up.FileID {
			return f
		}
	}
	t.Fatalf("file entry %s is not in its session's list", up.FileID)
	return entry{}
}

// wantStored checks that the entry is stored with content, and that a one-time download of it
// in Go brings content.
func wantStored(t *testing.T, e *testutil.Env, up uploadURLAnswer, content []byte) {
	t.Helper()
	f := entryOf(t, e, up)
	sum := testutil.SHA256(content)
	if f.State != "stored" || f.Size == nil || *f.Size != int64(len(content)) || f.SHA256 == nil || *f.SHA256 != sum {
		t.Fatalf("the entry after the upload: %+v (size %v, sha256 %v), want stored, %d bytes, %s", f, deref(f.Size), deref(f.SHA256), len(content), sum)
	}
	tok := sharedFile{sid: up.SessionID, fid: up.FileID}.newToken(t, e, false)
	r := e.Sub(t).Call(http.MethodGet, tok.URL, "", "", nil)
	if r.StatusCode != http.StatusOK || testutil.SHA256(r.Body) != sum {
		t.Fatalf("the entry's download: status %d, %d bytes, SHA-256 %s, want %d bytes, %s", r.StatusCode, len(r.Body), testutil.SHA256(r.Body), len(content), sum)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// requests lists the requests the service logged for paths starting with prefix, as "METHOD
// path status".
func requests(e *testutil.Env, prefix string) []string {
	var got []string
	for line := range strings.Lines(e.Logs.String()) {
		var l struct {
			Msg, Method, Path string
			Status            int
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "request" && strings.HasPrefix(l.Path, prefix) {
			got = append(got, fmt.Sprintf("%s %s %d", l.Method, l.Path, l.Status))
		}
	}
	return got
}

// basicAuth is the Authorization header of login.
func basicAuth(login, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(login+":"+password))
}

// A tus upload in the browser that the network cuts in the middle of a PATCH: the proxy
// between the page and the service passes the request's head and the first cutAfter bytes of
// its body and closes the connection to the service, which keeps what arrived; once the
// service reports that offset, the proxy closes the browser's connection too. The client finds
// out where the upload is (HEAD) and resumes from there.
//
// The order matters: Chromium itself sends a request again, whole, when the connection it
// reused for it breaks before an answer. Were the browser's connection cut first, that second
// PATCH from offset 0 could take the upload's lock before the cut one has recorded its bytes,
// and complete the upload without any resume.

// tusExchange is one request that the proxy passed on, and its answer.
type tusExchange struct {
	method, path string
	offset       string // Upload-Offset of the request
	length       int64  // the request's Content-Length
	sent         int64  // bytes of the body passed to the service
	status       int    // 0: no answer
	respOffset   string // Upload-Offset of the answer
	cut          bool
	kept         string // of a cut PATCH: the service's offset when the browser's connection closed
}

func (x tusExchange) String() string {
	s := fmt.Sprintf("%s %s Upload-Offset=%q Content-Length=%d: %d body bytes passed on → %d Upload-Offset=%q",
		x.method, x.path, x.offset, x.length, x.sent, x.status, x.respOffset)
	if x.cut {
		s += fmt.Sprintf(", cut; the service kept up to %s", x.kept)
	}
	return s
}

type tusCutter struct {
	t        *testing.T
	ln       net.Listener
	upstream string
	cutAfter int64

	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	cutYet bool
	seen   []tusExchange
}

func startTusCutter(t *testing.T, e *testutil.Env, cutAfter int64) *tusCutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tusCutter{t: t, ln: ln, upstream: e.Server.Listener.Addr().String(), cutAfter: cutAfter, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !p.track(c) {
				return
			}
			p.wg.Go(func() { p.serve(c) })
		}
	})
	return p
}

// URL is the proxy's base URL: the service's answers name it (their URLs are built from the
// request's Host).
func (p *tusCutter) URL() string { return "http://" + p.ln.Addr().String() }

func (p *tusCutter) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.t.Context().Done():
		c.Close()
		return false
	default:
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *tusCutter) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	c.Close()
}

func (p *tusCutter) record(x tusExchange) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, x)
}

func (p *tusCutter) exchanges() []tusExchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen)
}

func (p *tusCutter) log() string {
	var b strings.Builder
	for _, x := range p.exchanges() {
		b.WriteString("\n\t" + x.String())
	}
	return "the proxy passed on:" + b.String()
}

// takeCut reports whether a PATCH is the one to cut: the first one with more than cutAfter
// bytes.
func (p *tusCutter) takeCut(req *http.Request) bool {
	if req.Method != http.MethodPatch || req.ContentLength <= p.cutAfter {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cutYet {
		return false
	}
	p.cutYet = true
	return true
}

// waitForOffset waits (5 s at most) until the service reports offset want for the tus upload
// at path, and returns the last offset it reported.
func (p *tusCutter) waitForOffset(path string, want int64) string {
	var got string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		req, err := http.NewRequestWithContext(p.t.Context(), http.MethodHead, "http://"+p.upstream+path, nil)
		if err != nil {
			p.t.Errorf("proxy: %v", err)
			return ""
		}
		req.Header.Set("Tus-Resumable", "1.0.0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "HEAD: " + err.Error()
		}
		resp.Body.Close()
		got = resp.Header.Get("Upload-Offset")
		if got == strconv.FormatInt(want, 10) {
			break
		}
	}
	return got
}

// serve passes the requests of one of the browser's connections to the service, on a
// connection of its own, and the answers back.
func (p *tusCutter) serve(client net.Conn) {
	defer p.untrack(client)
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		p.t.Logf("proxy: dial the service: %v", err)
		return
	}
	if !p.track(up) {
		return
	}
	defer p.untrack(up)
	clientReader := bufio.NewReader(client)
	fromService := &recorder{r: up}
	serviceReader := bufio.NewReader(fromService)
	for {
		req, err := http.ReadRequest(clientReader)
		if err != nil {
			return // the browser closed the connection
		}
		x := tusExchange{method: req.Method, path: req.URL.Path, offset: req.Header.Get("Upload-Offset"), length: req.ContentLength}
		if req.ContentLength < 0 {
			p.t.Errorf("proxy: %s %s with a body of unknown length", req.Method, req.URL.Path)
			return
		}
		var head bytes.Buffer
		fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\n", req.Method, req.RequestURI, req.Host)
		h := req.Header.Clone()
		h.Set("Content-Length", strconv.FormatInt(req.ContentLength, 10))
		h.Write(&head)
		head.WriteString("\r\n")
		n := req.ContentLength
		x.cut = p.takeCut(req)
		if x.cut {
			n = p.cutAfter
		}
		if _, err := up.Write(head.Bytes()); err != nil {
			p.record(x)
			return
		}
		x.sent, err = io.CopyN(up, req.Body, n)
		if x.cut && err == nil {
			// The service reads the end of its request's body before its Content-Length;
			// the browser's connection closes (deferred) once the service has kept it.
			up.Close()
			x.kept = p.waitForOffset(req.URL.Path, mustInt(p.t, x.offset)+x.sent)
		}
		if x.cut || err != nil {
			p.record(x)
			return
		}
		resp, err := http.ReadResponse(serviceReader, req)
		if err != nil {
			p.record(x)
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		x.status, x.respOffset = resp.StatusCode, resp.Header.Get("Upload-Offset")
		p.record(x)
		if err != nil {
			return
		}
		if _, err := client.Write(fromService.take()); err != nil || resp.Close || req.Close {
			return
		}
	}
}

// checkCutAndResumed checks that the proxy cut one PATCH and that the client then resumed
// with a PATCH from an offset past 0 — what the service kept of the cut one — and did not
// start again.
func (p *tusCutter) checkCutAndResumed(t *testing.T, size int64) {
	t.Helper()
	xs := p.exchanges()
	cut := slices.IndexFunc(xs, func(x tusExchange) bool { return x.cut })
	if cut < 0 {
		t.Fatalf("the proxy cut no PATCH; %s", p.log())
	}
	// Only the cut upload's exchanges count: a page served through the proxy (the console)
	// sends others meanwhile, other uploads too.
	path := xs[cut].path
	xs = slices.DeleteFunc(xs, func(x tusExchange) bool { return x.path != path })
	cut = slices.IndexFunc(xs, func(x tusExchange) bool { return x.cut })
	var resumedAt int64 = -1
	for _, x := range xs[cut+1:] {
		if x.method == http.MethodPatch && x.status == http.StatusNoContent {
			resumedAt, _ = strconv.ParseInt(x.offset, 10, 64)
			break
		}
	}
	kept := mustInt(t, xs[cut].offset) + xs[cut].sent
	if xs[cut].kept != strconv.FormatInt(kept, 10) {
		t.Fatalf("the service did not keep the %d bytes of the cut PATCH; %s", xs[cut].sent, p.log())
	}
	if resumedAt != kept {
		t.Fatalf("after the cut no PATCH resumed from what the service kept (%d bytes); %s", kept, p.log())
	}
	last := xs[len(xs)-1]
	if last.method != http.MethodPatch || last.status != http.StatusNoContent || last.respOffset != strconv.FormatInt(size, 10) {
		t.Fatalf("the last request did not complete the upload; %s", p.log())
	}
	t.Logf("cut after %d bytes of a PATCH from %s, resumed at %d; %s", xs[cut].sent, xs[cut].offset, resumedAt, p.log())
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

func TestClientsOnAnotherOrigin(t *testing.T) {
	chromiumPath(t)
	dir := clientDir(t)
	start := time.Now()
	app := startPageOrigin(t, dir)      // the origin FILESHARE_CORS_ORIGINS lists
	stranger := startPageOrigin(t, dir) // an origin it does not list
	e := testutil.NewEnv(t, func(c *config.Config) { c.CORSOrigins = []string{app.URL} })
	e.AddUser(alice, alicePW)
	bctx := startChromium(t)
	t.Logf("the service on %s, the application's page on %s, a stranger's on %s", e.URL, app.URL, stranger.URL)
	const big = 8 << 20

	t.Run("fetch PUT through an upload URL", func(t *testing.T) {
		up := pendingEntry(t, e, "from-fetch.bin")
		content := testutil.RandomBytes(t, 300<<10)
		app.put("fetch.bin", content)
		tb := openPage(t, bctx, app)
		r := run[fetchResult](tb, 15*time.Second, "put", up.URL, "fetch.bin")
		if r.Error != "" || r.Status != http.StatusOK || !strings.Contains(r.Body, `"stored"`) {
			t.Fatalf("the page's PUT: %+v", r)
		}
		wantStored(t, e, up, content)
		tb.checkConsole()
	})

	t.Run("tus-js-client with the upload token, cut and resumed", func(t *testing.T) {
		up := pendingEntry(t, e, "from-tus-js-client.bin")
		content := testutil.RandomBytes(t, big)
		app.put("tus.bin", content)
		proxy := startTusCutter(t, e, 3<<20+12345)
		tb := openPage(t, bctx, app)
		r := run[uploadResult](tb, 30*time.Second, "tus", proxy.URL()+"/tus", "tus.bin",
			map[string]string{"sessionId": up.SessionID, "fileId": up.FileID, "token": up.Token})
		if !r.OK {
			t.Fatalf("tus-js-client: %+v; %s", r, proxy.log())
		}
		t.Logf("tus-js-client: %q", r.Events)
		proxy.checkCutAndResumed(t, big)
		wantStored(t, e, up, content)
		tb.checkConsole()
	})

	t.Run("Uppy with Basic Auth, cut and resumed", func(t *testing.T) {
		content := testutil.RandomBytes(t, big)
		app.put("uppy.bin", content)
		proxy := startTusCutter(t, e, 5<<20+54321)
		tb := openPage(t, bctx, app)
		r := run[uploadResult](tb, 30*time.Second, "uppy", proxy.URL()+"/tus", "uppy.bin", "application/octet-stream", basicAuth(alice, alicePW))
		if !r.OK {
			t.Fatalf("Uppy: %+v; %s", r, proxy.log())
		}
		t.Logf("Uppy: %q", r.Events)
		proxy.checkCutAndResumed(t, big)
		// The last answer's Fileshare-Upload-Url, which the page could read because CORS
		// exposes it: the download URL, on the address the page used.
		rest, ok := strings.CutPrefix(r.UploadURL, proxy.URL()+"/uploads/")
		tusID, _ := strings.CutPrefix(r.TusURL, proxy.URL()+"/tus/")
		if !ok || rest == "" || tusID == "" || strings.Contains(rest, tusID) {
			t.Fatalf("Fileshare-Upload-Url as the page read it: %q (the tus upload %q)", r.UploadURL, r.TusURL)
		}
		d := e.Sub(t).Call(http.MethodGet, "/uploads/"+rest, "", "", nil)
		if d.StatusCode != http.StatusOK || testutil.SHA256(d.Body) != testutil.SHA256(content) {
			t.Fatalf("the upload's download: status %d, %d bytes, SHA-256 %s, want %d bytes, %s", d.StatusCode, len(d.Body), testutil.SHA256(d.Body), len(content), testutil.SHA256(content))
		}
		if cd := d.Header.Get("Content-Disposition"); !strings.Contains(cd, "uppy.bin") {
			t.Errorf("the upload's Content-Disposition %q does not name the file", cd)
		}
		tb.checkConsole()
	})

	t.Run("fetch of a one-time link", func(t *testing.T) {
		f := shareSized(t, e, 2<<20)
		tok := f.newToken(t, e, false)
		tb := openPage(t, bctx, app)
		r := run[digestResult](tb, 15*time.Second, "digest", tok.URL)
		sum := testutil.SHA256(f.content)
		if r.Error != "" || r.Status != http.StatusOK || r.Size != len(f.content) || r.SHA256 != sum {
			t.Fatalf("the page's fetch of the link: %+v, want 200, %d bytes, SHA-256 %s", r, len(f.content), sum)
		}
		// The delivery's secret, readable by the page (exposed), and not the file's digest.
		if r.ETag == "" || strings.Contains(r.ETag, sum) {
			t.Errorf("the page read the ETag %q (the file's SHA-256 is %s)", r.ETag, sum)
		}
		f.wantState(t, e, tok, "after the page's fetch", "consumed", "delivered")
		tb.checkConsole()
	})

	t.Run("an origin not listed", func(t *testing.T) {
		f := shareSized(t, e, 64<<10)
		tok := f.newToken(t, e, false)
		tb := openPage(t, bctx, stranger)
		r := run[digestResult](tb, 15*time.Second, "digest", tok.URL)
		if !strings.HasPrefix(r.Error, "TypeError") {
			t.Fatalf("the fetch of a page of an origin not listed: %+v, want a TypeError", r)
		}
		f.wantState(t, e, tok, "after a page of an origin not listed fetched the link", "unused")
		// A simple GET needs no preflight: the browser did send it, and only hid the answer.
		// The service refused it without spending the token.
		var got []string
		for _, l := range requests(e, "/sessions/"+f.sid+"/files/"+f.fid+"/tokens/") {
			got = append(got, l[:strings.Index(l, " ")]+l[strings.LastIndex(l, " "):])
		}
		if !slices.Equal(got, []string{"GET 403"}) {
			t.Errorf("the service answered on the link: %q, want one GET 403", got)
		}
		wantCORSComplaint(t, tb, stranger.URL, "No 'Access-Control-Allow-Origin' header")
	})

	t.Run("any origin, never credentials", func(t *testing.T) {
		star := testutil.NewEnv(t, func(c *config.Config) { c.CORSOrigins = []string{"*"} })
		star.AddUser(alice, alicePW)
		tb := openPage(t, bctx, app)
		// Basic Auth, and the browser's own credentials: the preflight's answer allows any
		// origin but not credentials, so the browser refuses and never sends the request.
		r := run[fetchResult](tb, 15*time.Second, "call", star.URL+"/sessions",
			map[string]any{"credentials": "include", "headers": map[string]string{"Authorization": basicAuth(alice, alicePW)}})
		if !strings.HasPrefix(r.Error, "TypeError") {
			t.Fatalf("a fetch with credentials under *: %+v, want a TypeError", r)
		}
		if got := requests(star, "/sessions"); len(got) != 1 || !strings.HasPrefix(got[0], "OPTIONS /sessions ") {
			t.Errorf("the service answered %q, want the preflight alone", got)
		}
		// A public route without credentials: any page may read it.
		r = run[fetchResult](tb, 15*time.Second, "call", star.URL+"/healthz", nil)
		if r.Error != "" || r.Status != http.StatusOK || !strings.Contains(r.Body, `"ok"`) {
			t.Fatalf("a fetch of /healthz without credentials under *: %+v", r)
		}
		// The same route with the browser's credentials: the answer allows any origin but not
		// credentials, so the page cannot read it.
		r = run[fetchResult](tb, 15*time.Second, "call", star.URL+"/healthz", map[string]any{"credentials": "include"})
		if !strings.HasPrefix(r.Error, "TypeError") {
			t.Fatalf("a fetch of /healthz with credentials under *: %+v, want a TypeError", r)
		}
		wantCORSComplaint(t, tb, app.URL, "must not be the wildcard '*' when the request's credentials mode is 'include'")
	})
	t.Logf("the test took %s", time.Since(start).Round(time.Millisecond))
}

// wantCORSComplaint checks that the browser's console blamed the CORS policy for the failure
// of origin's requests, for reason, and said nothing else.
func wantCORSComplaint(t *testing.T, tb *tab, origin, reason string) {
	t.Helper()
	c := tb.console()
	t.Logf("the browser's console: %q", c)
	if len(c) == 0 {
		t.Errorf("the browser's console is silent about the refused request")
	}
	for _, s := range c {
		if !strings.Contains(s, "blocked by CORS policy") || !strings.Contains(s, "'"+origin+"'") || !strings.Contains(s, reason) {
			t.Errorf("the browser's console: %q", s)
		}
	}
}
