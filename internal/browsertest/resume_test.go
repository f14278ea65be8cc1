package browsertest_test

// This file is over 400 lines: a real Chromium download cut by a proxy written here; the proxy, its HTTP parsing and the test belong together.

// A download through the landing page's Download button that the network cuts: Chromium
// resumes it with a Range request for the rest, conditional (If-Range) on the entity tag of
// the cut answer, and the token ends delivered. A TCP proxy between the browser and the
// service cuts the first download's answer and logs what the browser sends.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"fileshare/internal/testutil"
)

// exchange is one request the proxy passed to the service and what came back.
type exchange struct {
	conn       int // the browser's connection, numbered from 1 as accepted
	method     string
	path       string
	header     http.Header
	body       []byte
	status     int // 0: no answer
	respHeader http.Header
	bodyLen    int64 // the answer's Content-Length (-1 unknown)
	forwarded  int64 // bytes of the answer's body passed to the browser
	cut        bool  // the proxy cut the answer and closed both connections
}

func (x exchange) String() string {
	return fmt.Sprintf("conn %d: %s %s Range=%q If-Range=%q Accept=%q Content-Type=%q Content-Length=%q body=%q → %d Content-Range=%q ETag=%q Accept-Ranges=%q, %d of %d body bytes passed on, cut=%v",
		x.conn, x.method, x.path, x.header.Get("Range"), x.header.Get("If-Range"), x.header.Get("Accept"),
		x.header.Get("Content-Type"), x.header.Get("Content-Length"), x.body, x.status,
		x.respHeader.Get("Content-Range"), x.respHeader.Get("ETag"), x.respHeader.Get("Accept-Ranges"),
		x.forwarded, x.bodyLen, x.cut)
}

// cuttingProxy is a TCP proxy on the loopback between the browser and the service. It passes
// the bytes on as they come, in both directions, and reads the HTTP messages in them to log
// them. The answer to the first POST that the service answers 200 (the Download button's) it
// passes on only with its headers and cutPercent of its body, and then closes both
// connections: the service stops sending mid-file, the browser sees its transfer cut. Every
// other request and answer passes untouched.
type cuttingProxy struct {
	t          *testing.T
	ln         net.Listener
	upstream   string
	cutPercent int64

	wg sync.WaitGroup
	mu sync.Mutex
	// conns are the open connections, closed when the test ends.
	conns  map[net.Conn]struct{}
	nconn  int
	cutYet bool
	seen   []exchange
}

func startCuttingProxy(t *testing.T, upstream string, cutPercent int64) *cuttingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{t: t, ln: ln, upstream: upstream, cutPercent: cutPercent, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.nconn++
			id := p.nconn
			p.mu.Unlock()
			if !p.track(c) {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.serve(id, c)
			}()
		}
	}()
	return p
}

// URL is the proxy's address in place of the service's in u.
func (p *cuttingProxy) URL(t *testing.T, e *testutil.Env, u string) string {
	t.Helper()
	rest, ok := strings.CutPrefix(u, e.URL)
	if !ok {
		t.Fatalf("the link %q is not on the service's address %s", u, e.URL)
	}
	return "http://" + p.ln.Addr().String() + rest
}

// track adds c to the connections closed at the end; false (c closed) when the test has
// ended.
func (p *cuttingProxy) track(c net.Conn) bool {
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

func (p *cuttingProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	c.Close()
}

func (p *cuttingProxy) record(x exchange) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, x)
}

func (p *cuttingProxy) exchanges() []exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.seen)
}

// takeCut reports whether this answer is the one to cut: the first one asking.
func (p *cuttingProxy) takeCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cutYet {
		return false
	}
	p.cutYet = true
	return true
}

// recorder keeps what is read through it until taken: the raw bytes to pass on.
type recorder struct {
	r   io.Reader
	buf []byte
}

func (r *recorder) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.buf = append(r.buf, b[:n]...)
	return n, err
}

func (r *recorder) take() []byte {
	b := r.buf
	r.buf = nil
	return b
}

// serve passes the requests on one of the browser's connections to the service, on a
// connection of its own, and their answers back.
func (p *cuttingProxy) serve(id int, client net.Conn) {
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
	// A small receive buffer towards the service, so that little of the file is in flight
	// when the proxy cuts it: the service then really stops mid-file, instead of having
	// written all of it into the kernel's buffers.
	_ = up.(*net.TCPConn).SetReadBuffer(64 << 10)

	fromClient := &recorder{r: client}
	clientReader := bufio.NewReader(fromClient)
	fromService := &recorder{r: up}
	serviceReader := bufio.NewReader(fromService)
	buf := make([]byte, 32<<10)
	for {
		req, err := http.ReadRequest(clientReader)
		if err != nil {
			return // the browser closed the connection
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		x := exchange{conn: id, method: req.Method, path: req.URL.Path, header: req.Header, body: body, bodyLen: -1}
		if _, err := up.Write(fromClient.take()); err != nil {
			p.record(x)
			return
		}
		resp, err := http.ReadResponse(serviceReader, req)
		if err != nil {
			p.record(x)
			return
		}
		x.status, x.respHeader, x.bodyLen = resp.StatusCode, resp.Header, resp.ContentLength
		// What was read beyond the answer's head is its body.
		head := int64(len(fromService.buf) - serviceReader.Buffered())
		limit := int64(-1) // bytes to pass on before the cut; -1: all
		if req.Method == http.MethodPost && resp.StatusCode == http.StatusOK && resp.ContentLength > 0 && p.takeCut() {
			limit = head + resp.ContentLength*p.cutPercent/100
		}
		var passed int64
		var failed error
		for failed == nil && (limit < 0 || passed < limit) {
			_, rerr := resp.Body.Read(buf)
			b := fromService.take()
			if limit >= 0 && passed+int64(len(b)) > limit {
				b = b[:limit-passed]
			}
			n, werr := client.Write(b)
			passed += int64(n)
			failed = werr
			if rerr == io.EOF {
				break
			} else if rerr != nil {
				failed = rerr
			}
		}
		x.forwarded = max(passed-head, 0)
		x.cut = limit >= 0
		p.record(x)
		if x.cut || failed != nil || resp.Close || req.Close {
			return
		}
	}
}

// shareSized is shareFile with content of size bytes.
func shareSized(t *testing.T, e *testutil.Env, size int) sharedFile {
	t.Helper()
	type idOnly struct {
		ID string `json:"id"`
	}
	s := testutil.Decode[idOnly](t, call(t, e, http.MethodPost, "/sessions", nil), http.StatusCreated)
	f := testutil.Decode[idOnly](t, call(t, e, http.MethodPost, "/sessions/"+s.ID+"/files", map[string]any{"name": fileName, "contentType": "application/pdf"}), http.StatusCreated)
	content := testutil.RandomBytes(t, size)
	testutil.Decode[idOnly](t, call(t, e, http.MethodPut, "/sessions/"+s.ID+"/files/"+f.ID, content), http.StatusOK)
	return sharedFile{sid: s.ID, fid: f.ID, content: content}
}

// downloadWatch follows the browser's downloads as its DevTools events tell them.
type downloadWatch struct {
	t    *testing.T
	mu   sync.Mutex
	log  []string // the events, the progress only where its state changes
	last browser.EventDownloadProgress
	n    int // progress events
	done chan browser.EventDownloadProgress
}

func watchDownloads(t *testing.T, tb *tab, dir string) *downloadWatch {
	t.Helper()
	_, err := chromedp.CallBrowser(tb.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, EventsEnabled: new(true),
	})
	if err != nil {
		t.Fatalf("set the download directory: %v", err)
	}
	w := &downloadWatch{t: t, done: make(chan browser.EventDownloadProgress, 1)}
	start := time.Now()
	err = chromedp.ListenBrowser(tb.ctx, func(ev any) {
		w.mu.Lock()
		defer w.mu.Unlock()
		at := time.Since(start).Round(time.Millisecond)
		switch ev := ev.(type) {
		case *browser.EventDownloadWillBegin:
			w.log = append(w.log, fmt.Sprintf("%s willBegin %s %q", at, ev.GUID, ev.SuggestedFilename))
		case *browser.EventDownloadProgress:
			w.n++
			if ev.State != w.last.State || ev.ReceivedBytes < w.last.ReceivedBytes {
				w.log = append(w.log, fmt.Sprintf("%s progress %s %.0f/%.0f", at, ev.State, ev.ReceivedBytes, ev.TotalBytes))
			}
			w.last = *ev
			if ev.State != browser.DownloadProgressStateInProgress {
				select {
				case w.done <- *ev:
				default:
				}
			}
		}
	})
	if err != nil {
		t.Fatalf("listen to the browser: %v", err)
	}
	return w
}

func (w *downloadWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("%d progress events, the last %s %.0f/%.0f; %q", w.n, w.last.State, w.last.ReceivedBytes, w.last.TotalBytes, w.log)
}

// wait waits until the download has ended, completed or canceled, or fails the test after
// timeout.
func (w *downloadWatch) wait(timeout time.Duration, why func() string) browser.EventDownloadProgress {
	w.t.Helper()
	select {
	case ev := <-w.done:
		return ev
	case <-time.After(timeout):
		w.t.Fatalf("the download has not ended after %s: %s; %s", timeout, w, why())
		return browser.EventDownloadProgress{}
	}
}

// headerList is h as "Name: value" lines, sorted.
func headerList(h http.Header) []string {
	var l []string
	for k, vs := range h {
		for _, v := range vs {
			l = append(l, k+": "+v)
		}
	}
	slices.Sort(l)
	return l
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestCutDownloadResumesInChromium(t *testing.T) {
	chromiumPath(t)
	start := time.Now()
	e := testutil.NewEnv(t)
	e.AddUser(alice, alicePW)
	// A few MiB: what remains after the cut (60 %) is more than the socket buffers between
	// the service and the proxy hold (net.ipv4.tcp_wmem's 4 MiB at most, and the proxy's small
	// receive buffer), so that the service cannot have written the last byte.
	f := shareSized(t, e, 10<<20)
	tok := f.newToken(t, e, false)
	proxy := startCuttingProxy(t, e.Server.Listener.Addr().String(), 40)
	link := proxy.URL(t, e, tok.URL)
	bctx := startChromium(t)
	tb := newTab(t, bctx)

	// The landing page, through the proxy: a plain form posting to the link.
	if status := tb.open(link); status != http.StatusOK {
		t.Fatalf("landing page: status %d", status)
	}
	if n := tb.count(`form[method="post"]:not([action]) button[type="submit"]`); n != 1 {
		t.Fatalf("%d Download buttons in a form posting to the page, want 1", n)
	}
	f.wantState(t, e, tok, "after the landing page", "unused")

	dir := t.TempDir()
	w := watchDownloads(t, tb, dir)
	tb.do("click Download", chromedp.Click(downloadButton))
	logExchanges := func() string {
		var b strings.Builder
		for _, x := range proxy.exchanges() {
			b.WriteString("\n\t" + x.String())
		}
		return "the proxy saw:" + b.String() + fmt.Sprintf("\nthe download directory holds %q", dirNames(t, dir))
	}
	ev := w.wait(30*time.Second, logExchanges)
	t.Logf("the download ended %s after %s: %s", ev.State, time.Since(start).Round(time.Millisecond), w)
	if ev.State != browser.DownloadProgressStateCompleted {
		t.Fatalf("the download ended %s; %s", ev.State, logExchanges())
	}

	// The answer that completed the download may be logged by the proxy a moment after the
	// browser had its last byte.
	path := strings.TrimPrefix(link, "http://"+proxy.ln.Addr().String())
	var post, resume *exchange
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		post, resume = nil, nil
		xs := proxy.exchanges()
		for i := range xs {
			x := &xs[i]
			switch {
			case x.path != path:
			case post == nil && x.method == http.MethodPost:
				post = x
			case post != nil && resume == nil && x.header.Get("Range") != "":
				resume = x
			}
		}
		if (post != nil && resume != nil && resume.status != 0) || time.Now().After(deadline) {
			break
		}
	}
	for _, x := range proxy.exchanges() {
		t.Logf("the proxy saw %s", x)
	}
	if post == nil {
		t.Fatalf("the proxy saw no POST to the link; %s", logExchanges())
	}
	if post.status != http.StatusOK || !post.cut || post.forwarded <= 0 || post.forwarded >= post.bodyLen {
		t.Fatalf("the Download button's answer: status %d, %d of %d bytes passed on, cut %v: the proxy did not cut it", post.status, post.forwarded, post.bodyLen, post.cut)
	}
	if got := post.respHeader.Get("Accept-Ranges"); got != "bytes" {
		t.Errorf("the Download button's answer: Accept-Ranges %q, want bytes", got)
	}
	etag := post.respHeader.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 3 {
		t.Errorf("the Download button's answer: ETag %q is not a strong entity tag", etag)
	}
	// The entity tag is a secret of this delivery: not the content's digest, which anyone
	// who has the file (or its published checksum) knows.
	if sum := testutil.SHA256(f.content); strings.Contains(strings.ToLower(etag), sum) {
		t.Errorf("the Download button's answer: ETag %q is the file's SHA-256, not a secret of the delivery", etag)
	}

	if resume == nil {
		t.Fatalf("the browser completed the download without a Range request for the rest; %s", logExchanges())
	}
	t.Logf("the Download button's request: %s, headers %s, body %q", post.method, headerList(post.header), post.body)
	t.Logf("the browser's resuming request: %s, headers %s, body %q", resume.method, headerList(resume.header), resume.body)
	from, ok := strings.CutSuffix(strings.TrimPrefix(resume.header.Get("Range"), "bytes="), "-")
	n, err := strconv.ParseInt(from, 10, 64)
	if !ok || err != nil || !strings.HasPrefix(resume.header.Get("Range"), "bytes=") || n <= 0 || n > post.forwarded {
		t.Errorf("the resuming request's Range %q: want bytes=N- with 0 < N ≤ %d (the bytes the browser had)", resume.header.Get("Range"), post.forwarded)
	}
	if got := resume.header.Get("If-Range"); got != etag {
		t.Errorf("the resuming request's If-Range %q, want the cut answer's ETag %q", got, etag)
	}
	size := int64(len(f.content))
	if want := fmt.Sprintf("bytes %d-%d/%d", n, size-1, size); resume.status != http.StatusPartialContent || resume.respHeader.Get("Content-Range") != want {
		t.Errorf("the resuming request's answer: status %d, Content-Range %q; want 206, %q (token state now %q)", resume.status, resume.respHeader.Get("Content-Range"), want, f.state(t, e, tok))
	}

	// The saved file is the uploaded one.
	names := dirNames(t, dir)
	if len(names) != 1 {
		t.Fatalf("the download directory holds %q, want one file", names)
	}
	b, err := os.ReadFile(filepath.Join(dir, names[0]))
	if err != nil {
		t.Fatal(err)
	}
	f.checkSaved(t, names[0], b)

	// Every byte has been sent: the token is delivered.
	var state string
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if state = f.state(t, e, tok); state == "delivered" || time.Now().After(deadline) {
			break
		}
	}
	if state != "delivered" {
		t.Errorf("after the resumed download: token state %q, want delivered", state)
	}
	tb.checkConsole()
	t.Logf("the test took %s", time.Since(start).Round(time.Millisecond))
}
