package httpapi_test

// This file is over 400 lines: each way a stranger may try a consumed token, and the recipient's resumes, with their shared checks.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

// Tests of the secret of a one-time token's delivery: the consuming answer's ETag is a secret
// of that delivery (random, never derived from the content, never sent before the
// consumption), and only a request that names it in If-Range resumes the download; a token is
// delivered when the byte ranges its answers wrote cover the file. Nothing answered before the
// consumption reveals the content.
//
// Helpers carry the prefix ts and depend on testutil and the session helpers only.

const (
	tsBrowserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8"
	tsCurlUA        = "curl/8.5.0"
	tsChromeUA      = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	tsUsed          = "download token already used"
)

// tsToken is a token as its creation answers it.
type tsToken = testutil.Token

// tsStatus is a token in its entry's token list.
type tsStatus struct {
	Ref         string     `json:"ref"`
	State       string     `json:"state"`
	ConsumedAt  *time.Time `json:"consumedAt"`
	DeliveredAt *time.Time `json:"deliveredAt"`
	ViewedAt    *time.Time `json:"viewedAt"`
	BytesSent   int64      `json:"bytesSent"`
}

func tsTokensPath(sid, fid string) string { return "/sessions/" + sid + "/files/" + fid + "/tokens" }

// tsCreateToken makes a token of alice's entry, with a PIN when pin.
func tsCreateToken(t *testing.T, e *testutil.Env, sid, fid string, pin bool) tsToken {
	t.Helper()
	return e.Token(t, sessAlice, testutil.StoredFile{SessionID: sid, ID: fid}, pin)
}

// tsStatusOf finds tok in its entry's token list.
func tsStatusOf(t *testing.T, e *testutil.Env, tok tsToken) tsStatus {
	t.Helper()
	all, _ := sessWalk[tsStatus](t, e, sessAlice, tsTokensPath(tok.SessionID, tok.FileID), nil)
	for _, st := range all {
		if st.Ref == tok.Ref {
			return st
		}
	}
	t.Fatalf("token %s is not in its entry's list", tok.Ref)
	return tsStatus{}
}

// tsEventually polls tok's list entry until cond holds.
func tsEventually(t *testing.T, e *testutil.Env, tok tsToken, what string, cond func(tsStatus) bool) tsStatus {
	t.Helper()
	var st tsStatus
	testutil.Eventually(t, 15*time.Second, what, func() bool {
		st = tsStatusOf(t, e, tok)
		return cond(st)
	})
	return st
}

// tsWantConsumed checks that tok is consumed and not delivered.
func tsWantConsumed(t *testing.T, e *testutil.Env, tok tsToken, when string) tsStatus {
	t.Helper()
	st := tsStatusOf(t, e, tok)
	if st.State != "consumed" || st.ConsumedAt == nil || st.DeliveredAt != nil {
		t.Fatalf("%s: state %q consumedAt %v deliveredAt %v, want consumed and not delivered (%+v)", when, st.State, st.ConsumedAt, st.DeliveredAt, st)
	}
	return st
}

// tsConsumed reports whether the database has tok consumed.
func tsConsumed(t *testing.T, e *testutil.Env, tok tsToken) bool {
	t.Helper()
	h := sha256.Sum256([]byte(tok.ID))
	return testutil.QueryInt(t, e, `SELECT count(*) FROM download_tokens WHERE token_hash = $1 AND consumed_at IS NOT NULL`, h[:]) == 1
}

// tsOn is u, a URL of e, on another instance.
func tsOn(other, e *testutil.Env, u string) string {
	return other.URL + strings.TrimPrefix(u, e.URL)
}

// tsRequest builds an anonymous request with the header pairs hdr (curl's Accept and
// User-Agent unless hdr sets them) and an X-Request-ID of its own, which it returns: the
// access log line of the request names it.
func tsRequest(t *testing.T, method, u string, hdr ...string) (*http.Request, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := "ts-" + uuid.NewString()
	req.Header.Set("X-Request-ID", id)
	req.Header.Set("Accept", "*/*")
	req.Header.Set("User-Agent", tsCurlUA)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i]) // "": no such header at all
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	return req, id
}

// tsDo sends a request to inst and reads the whole answer; it returns the answer and the
// request's id.
func tsDo(t *testing.T, inst *testutil.Env, method, u string, hdr ...string) (*testutil.Response, string) {
	t.Helper()
	req, id := tsRequest(t, method, u, hdr...)
	return inst.Sub(t).Do(req), id
}

// tsSettled waits until inst has logged the access line of the request id: its handler has
// returned, so what the answer sent has been recorded on the token.
func tsSettled(t *testing.T, inst *testutil.Env, id string) {
	t.Helper()
	needle := `"request_id":"` + id + `"`
	testutil.Eventually(t, 15*time.Second, "the access log line of request "+id, func() bool {
		for _, line := range strings.Split(inst.Logs.String(), "\n") {
			if strings.Contains(line, needle) && strings.Contains(line, `"msg":"request"`) {
				return true
			}
		}
		return false
	})
}

// tsOpen sends a request over a connection of its own, whose small receive buffer keeps the
// server from pushing the whole answer into the kernel's buffers, and returns the answer
// unread (closed when the test ends) and the request's id.
func tsOpen(t *testing.T, method, u string, hdr ...string) (*http.Response, string) {
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
	req, id := tsRequest(t, method, u, hdr...)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("%s with %v: %v", method, hdr, err)
	}
	t.Cleanup(func() {
		resp.Body.Close()
		tr.CloseIdleConnections()
	})
	return resp, id
}

// tsCut is a download over a connection that drops: it reads n bytes of the answer (all of a
// refusal), then the connection is gone. It waits until inst has finished the request.
func tsCut(t *testing.T, inst *testutil.Env, method, u string, n int64, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	resp, id := tsOpen(t, method, u, hdr...)
	buf := make([]byte, n)
	if resp.StatusCode/100 == 2 {
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			t.Fatalf("%s with %v: reading %d bytes: %v", method, hdr, n, err)
		}
	} else {
		buf, _ = io.ReadAll(resp.Body)
	}
	resp.Body.Close()
	tsSettled(t, inst, id)
	return resp, buf
}

// tsLeak finds the file's bytes in an answer: any 63 consecutive bytes of the file hold one of
// its 32-byte blocks at an offset that is a multiple of 32, so an answer that holds a 64-byte
// slice of the file holds one of those blocks.
type tsLeak struct {
	content []byte
	at      map[uint64]int
}

const tsBlock = 32

func tsNewLeak(content []byte) *tsLeak {
	l := &tsLeak{content: content, at: make(map[uint64]int, len(content)/tsBlock)}
	for off := 0; off+tsBlock <= len(content); off += tsBlock {
		l.at[binary.LittleEndian.Uint64(content[off:])] = off
	}
	return l
}

// in reports whether b holds a slice of 63 or more bytes of the file.
func (l *tsLeak) in(b []byte) bool {
	for i := 0; i+tsBlock <= len(b); i++ {
		if off, ok := l.at[binary.LittleEndian.Uint64(b[i:])]; ok && bytes.Equal(b[i:i+tsBlock], l.content[off:off+tsBlock]) {
			return true
		}
	}
	return false
}

// tsSHAForms are the spellings of the file's SHA-256 an entity tag derived from it could use.
func tsSHAForms(content []byte) []string {
	sum := sha256.Sum256(content)
	return []string{
		hex.EncodeToString(sum[:]),
		base64.StdEncoding.EncodeToString(sum[:]),
		base64.RawStdEncoding.EncodeToString(sum[:]),
		base64.URLEncoding.EncodeToString(sum[:]),
		base64.RawURLEncoding.EncodeToString(sum[:]),
	}
}

// tsReprDigest is the Repr-Digest member of the file's SHA-256.
func tsReprDigest(content []byte) string {
	sum := sha256.Sum256(content)
	return "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
}

// tsCheckSecretETag checks the ETag of a consuming answer: a strong entity tag whose opaque
// part carries at least 128 bits and is not derived from the file's SHA-256. It reports
// (t.Errorf) rather than stops, so that a test goes on to what it is about.
func tsCheckSecretETag(t *testing.T, what, etag string, content []byte) {
	t.Helper()
	if etag == "" {
		t.Errorf("%s: no ETag", what)
		return
	}
	if strings.HasPrefix(etag, "W/") {
		t.Errorf("%s: weak ETag %q, want a strong one", what, etag)
		return
	}
	if len(etag) < 2 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		t.Errorf("%s: ETag %q is not a quoted entity tag", what, etag)
		return
	}
	opaque := etag[1 : len(etag)-1]
	for i := 0; i < len(opaque); i++ {
		if c := opaque[i]; c == '"' || c <= 0x20 || c == 0x7f {
			t.Errorf("%s: ETag %q holds %q", what, etag, c)
			return
		}
	}
	hexOnly := strings.Trim(opaque, "0123456789abcdefABCDEF") == ""
	if (hexOnly && len(opaque) < 32) || len(opaque) < 22 {
		t.Errorf("%s: ETag %q carries fewer than 128 bits", what, etag)
	}
	lo := strings.ToLower(opaque)
	for _, f := range tsSHAForms(content) {
		f = strings.ToLower(f)
		if strings.Contains(lo, f[:16]) || strings.Contains(f, lo) {
			t.Errorf("%s: ETag %q is derived from the file's SHA-256 %s", what, etag, f)
			return
		}
	}
}

// tsWantNoContentHeaders fails t when an answer carries a header that identifies the content
// or its delivery.
func tsWantNoContentHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	for _, k := range []string{"ETag", "Repr-Digest", "Content-Range"} {
		if v := h.Get(k); v != "" {
			t.Errorf("%s: %s %q", what, k, v)
		}
	}
}

// tsWantRefused checks that an answer to a request on a consumed token is the refusal "download
// token already used" (a page with status 410 when html) and carries no byte of the file.
func tsWantRefused(t *testing.T, what string, r *testutil.Response, html bool, leak *tsLeak) {
	t.Helper()
	if leak.in(r.Body) {
		t.Fatalf("%s: %d %q: the answer holds %d bytes, among them the file's", what, r.StatusCode, r.Header.Get("Content-Range"), len(r.Body))
	}
	if r.StatusCode != http.StatusGone {
		t.Fatalf("%s: status %d (Content-Range %q, %d body bytes), want 410", what, r.StatusCode, r.Header.Get("Content-Range"), len(r.Body))
	}
	for _, k := range []string{"Content-Range", "ETag", "Repr-Digest", "Content-Disposition"} {
		if v := r.Header.Get(k); v != "" {
			t.Fatalf("%s: a refusal with %s %q", what, k, v)
		}
	}
	if html {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !bytes.Contains(bytes.ToLower(r.Body), []byte("<html")) {
			t.Fatalf("%s: Content-Type %q, body %.200q, want a page", what, ct, r.Body)
		}
		return
	}
	if string(r.Body) != `{"message":"`+tsUsed+`"}` {
		testutil.WantError(t, r, http.StatusGone, tsUsed)
	}
}

// tsWantPart checks an answer that resumes a download: 206 with exactly content[start:end+1],
// the delivery's ETag and the headers of a download.
func tsWantPart(t *testing.T, what string, status int, h http.Header, body, content []byte, start, end int64, etag string) {
	t.Helper()
	size := int64(len(content))
	if status != http.StatusPartialContent {
		t.Fatalf("%s: resume of bytes %d-%d: status %d, want 206; body %.200q", what, start, end, status, body)
	}
	if cr, want := h.Get("Content-Range"), fmt.Sprintf("bytes %d-%d/%d", start, end, size); cr != want {
		t.Fatalf("%s: Content-Range %q, want %q", what, cr, want)
	}
	if int64(len(body)) != end-start+1 || !bytes.Equal(body, content[start:end+1]) {
		t.Fatalf("%s: resume of bytes %d-%d: %d bytes that are not the file's", what, start, end, len(body))
	}
	if h.Get("ETag") != etag {
		t.Fatalf("%s: ETag %q, want the delivery's %q", what, h.Get("ETag"), etag)
	}
	if h.Get("Accept-Ranges") != "bytes" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("%s: Accept-Ranges %q Cache-Control %q", what, h.Get("Accept-Ranges"), h.Get("Cache-Control"))
	}
}

// tsWantConsuming checks the headers of a consuming answer and returns its ETag.
func tsWantConsuming(t *testing.T, what string, resp *http.Response, content []byte) string {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d, want 200", what, resp.StatusCode)
	}
	if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(content)) {
		t.Errorf("%s: Content-Length %q, want %d", what, cl, len(content))
	}
	if ar := resp.Header.Get("Accept-Ranges"); ar != "bytes" {
		t.Errorf("%s: Accept-Ranges %q, want bytes", what, ar)
	}
	if rd := resp.Header.Get("Repr-Digest"); !strings.Contains(rd, tsReprDigest(content)) {
		t.Errorf("%s: Repr-Digest %q, want %s", what, rd, tsReprDigest(content))
	}
	etag := resp.Header.Get("ETag")
	tsCheckSecretETag(t, what, etag, content)
	return etag
}

// tsWebhookEvents counts the events of type typ recorded for the token whose ref is ref.
func tsWebhookEvents(t *testing.T, e *testutil.Env, typ, ref string) int64 {
	t.Helper()
	return testutil.QueryInt(t, e, `SELECT count(*) FROM webhook_events WHERE type = $1 AND body::jsonb #>> '{data,ref}' = $2`, typ, ref)
}

// TestStrangerGetsNoByteAfterConsumption has a stranger try every way of reading a consumed
// token's file, on both instances, while its recipient's download is running, after it was
// cut and after it completed: a Range with no If-Range, a wrong one, the file's SHA-256,
// another delivery's secret or a date; suffix and multiple ranges; GET and POST; as curl and
// as a browser. Every attempt is refused with 410 and none carries a byte of the file.
func TestStrangerGetsNoByteAfterConsumption(t *testing.T) {
	t.Parallel()
	// The recipient's download stands still while the stranger tries: the server must not
	// give it up as idle meanwhile.
	e := sessNewEnv(t, func(c *config.Config) { c.BodyIdleTimeout = 3 * time.Minute })
	twin := e.Twin()
	const size = 16 << 20
	content := testutil.RandomBytes(t, size)
	leak := tsNewLeak(content)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "secret.bin", content)

	// Another delivery of the same file, consumed and read whole: its secret opens nothing else.
	t0 := tsCreateToken(t, e, s.ID, f.ID, false)
	r, _ := tsDo(t, e, http.MethodGet, t0.URL)
	if r.StatusCode != http.StatusOK || !bytes.Equal(r.Body, content) {
		t.Fatalf("consuming GET: %d, %d bytes", r.StatusCode, len(r.Body))
	}
	secret0 := tsWantConsuming(t, "consuming GET of another token", r.Response, content)
	lastModified := r.Header.Get("Last-Modified")

	stranger := func(phase string, tok tsToken, otherSecrets ...string) {
		t.Helper()
		ifRanges := []string{
			"",
			`"0123456789abcdef0123456789abcdef"`,
			`"` + testutil.SHA256(content) + `"`,
			time.Now().Add(time.Hour).UTC().Format(http.TimeFormat),
		}
		if lastModified != "" {
			ifRanges = append(ifRanges, lastModified)
		}
		for _, o := range otherSecrets {
			if o != "" {
				ifRanges = append(ifRanges, o)
			}
		}
		for _, inst := range []*testutil.Env{e, twin} {
			u := tsOn(inst, e, tok.URL)
			for _, rg := range []string{"", "bytes=1-", "bytes=0-", "bytes=-100", "bytes=1-10,20-30", fmt.Sprintf("bytes=%d-", size-1)} {
				for _, ir := range ifRanges {
					for _, m := range []string{http.MethodGet, http.MethodPost} {
						for _, html := range []bool{false, true} {
							hdr := []string{}
							if html {
								hdr = append(hdr, "Accept", tsBrowserAccept, "User-Agent", tsChromeUA)
							}
							if rg != "" {
								hdr = append(hdr, "Range", rg)
							}
							if ir != "" {
								hdr = append(hdr, "If-Range", ir)
							}
							r, _ := tsDo(t, inst, m, u, hdr...)
							what := fmt.Sprintf("%s: stranger's %s on %s with Range %q If-Range %q html %v", phase, m, map[bool]string{true: "A", false: "B"}[inst == e], rg, ir, html)
							tsWantRefused(t, what, r, html, leak)
						}
					}
				}
			}
		}
	}

	// 1. While the recipient's download runs: it reads 64 KiB at a time with a pause, and does
	// not read its second half before the stranger is done.
	t1 := tsCreateToken(t, e, s.ID, f.ID, false)
	resp, _ := tsOpen(t, http.MethodGet, t1.URL)
	secret1 := tsWantConsuming(t, "the recipient's consuming GET", resp, content)
	var (
		got         []byte
		readErr     error
		firstChunk  = make(chan struct{})
		strangerEnd = make(chan struct{})
		readerDone  = make(chan struct{})
		endOnce     sync.Once
	)
	endStranger := func() { endOnce.Do(func() { close(strangerEnd) }) }
	t.Cleanup(endStranger)
	go func() {
		defer close(readerDone)
		buf := make([]byte, 64<<10)
		for {
			if len(got) >= size/2 {
				<-strangerEnd
			}
			n, err := io.ReadFull(resp.Body, buf)
			got = append(got, buf[:n]...)
			if len(got) > 0 && len(got) == n {
				close(firstChunk)
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
			if err != nil {
				readErr = err
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	select {
	case <-firstChunk:
	case <-readerDone:
		t.Fatalf("the recipient's download ended before its first chunk: %v", readErr)
	}
	stranger("during the recipient's download", t1, secret0)
	endStranger()
	<-readerDone
	if readErr != nil || !bytes.Equal(got, content) {
		t.Fatalf("the recipient's download: %d bytes, err %v; want the whole file", len(got), readErr)
	}
	tsEventually(t, e, t1, "the recipient's download to be delivered", func(st tsStatus) bool { return st.State == "delivered" })

	// 2. After the recipient's download was cut.
	t2 := tsCreateToken(t, e, s.ID, f.ID, false)
	cut := int64(size * 3 / 10)
	resp, part := tsCut(t, e, http.MethodGet, t2.URL, cut)
	secret2 := tsWantConsuming(t, "the recipient's cut consuming GET", resp, content)
	if !bytes.Equal(part, content[:cut]) {
		t.Fatal("the cut download's bytes are not the file's")
	}
	tsWantConsumed(t, e, t2, "after the cut")
	stranger("after the recipient's download was cut", t2, secret0, secret1)
	// The recipient, with the secret, still resumes: the refusals were the stranger's.
	r, _ = tsDo(t, twin, http.MethodGet, tsOn(twin, e, t2.URL), "Range", fmt.Sprintf("bytes=%d-", cut), "If-Range", secret2)
	tsWantPart(t, "the recipient's resume", r.StatusCode, r.Header, r.Body, content, cut, size-1, secret2)

	// 3. After the recipient's download completed.
	stranger("after the recipient's download completed", t1, secret0, secret2)
}

// TestRecipientResumesWithSecretOnOtherInstance cuts a download twice and resumes it with the
// delivery's secret, on the other instance and then on the first: the pieces make the file,
// the token ends delivered, and no resume is served after that. The secret appears nowhere
// before the consumption, and is kept neither in the database nor in the logs.
func TestRecipientResumesWithSecretOnOtherInstance(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	twin := e.Twin()
	const size = 24 << 20
	content := testutil.RandomBytes(t, size)
	leak := tsNewLeak(content)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "recording.wav", content)
	tok := tsCreateToken(t, e, s.ID, f.ID, false)
	twinURL := tsOn(twin, e, tok.URL)

	// A HEAD before the consumption: the headers of the download, and no ETag, no Repr-Digest.
	for _, inst := range []*testutil.Env{e, twin} {
		r, _ := tsDo(t, inst, http.MethodHead, tsOn(inst, e, tok.URL))
		if r.StatusCode != http.StatusOK || r.Header.Get("Content-Length") != strconv.Itoa(size) || r.Header.Get("Content-Disposition") == "" {
			t.Fatalf("HEAD of the unused token: %d Content-Length %q Content-Disposition %q", r.StatusCode, r.Header.Get("Content-Length"), r.Header.Get("Content-Disposition"))
		}
		tsWantNoContentHeaders(t, "HEAD of the unused token", r.Header)
	}
	if st := tsStatusOf(t, e, tok); st.State != "unused" || st.ConsumedAt != nil {
		t.Fatalf("after HEAD: %+v, want unused", st)
	}

	// The consuming download on A, cut at 30 %.
	cut1 := int64(size * 3 / 10)
	resp, part1 := tsCut(t, e, http.MethodGet, tok.URL, cut1)
	etag := tsWantConsuming(t, "consuming GET", resp, content)
	if !bytes.Equal(part1, content[:cut1]) {
		t.Fatal("the first part is not the file's")
	}
	tsWantConsumed(t, e, tok, "after the first cut")

	// Resume on B from where it was cut, with the secret; cut again at 70 %.
	cut2 := int64(size * 7 / 10)
	resp, part2 := tsCut(t, twin, http.MethodGet, twinURL, cut2-cut1, "Range", fmt.Sprintf("bytes=%d-", cut1), "If-Range", etag)
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("ETag") != etag ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", cut1, size-1, size) ||
		resp.Header.Get("Content-Length") != strconv.FormatInt(size-cut1, 10) {
		t.Fatalf("resume on B: %d ETag %q (want %q) Content-Range %q Content-Length %q", resp.StatusCode,
			resp.Header.Get("ETag"), etag, resp.Header.Get("Content-Range"), resp.Header.Get("Content-Length"))
	}
	if !bytes.Equal(part2, content[cut1:cut2]) {
		t.Fatal("the second part is not the file's")
	}
	tsWantConsumed(t, e, tok, "after the second cut")

	// Resume on A to the end, a POST this time.
	r, _ := tsDo(t, e, http.MethodPost, tok.URL, "Range", fmt.Sprintf("bytes=%d-", cut2), "If-Range", etag)
	tsWantPart(t, "resume on A", r.StatusCode, r.Header, r.Body, content, cut2, size-1, etag)
	whole := sha256.New()
	whole.Write(part1)
	whole.Write(part2)
	whole.Write(r.Body)
	if got := hex.EncodeToString(whole.Sum(nil)); got != testutil.SHA256(content) {
		t.Fatalf("the assembled file's SHA-256 %s differs from the original's %s", got, testutil.SHA256(content))
	}

	// Delivered: the secret resumes nothing more, on either instance.
	st := tsEventually(t, e, tok, "the token to be delivered", func(st tsStatus) bool { return st.State == "delivered" })
	if st.DeliveredAt == nil || st.ConsumedAt == nil || st.DeliveredAt.Before(*st.ConsumedAt) {
		t.Fatalf("delivered token: %+v", st)
	}
	for _, inst := range []*testutil.Env{e, twin} {
		for _, rg := range []string{fmt.Sprintf("bytes=%d-", cut2), "bytes=1-10", fmt.Sprintf("bytes=%d-", size-1)} {
			for _, m := range []string{http.MethodGet, http.MethodPost} {
				r, _ := tsDo(t, inst, m, tsOn(inst, e, tok.URL), "Range", rg, "If-Range", etag)
				tsWantRefused(t, fmt.Sprintf("%s with Range %q after delivery", m, rg), r, false, leak)
			}
		}
	}

	// The secret is kept nowhere.
	if len(etag) > 2 {
		opaque := etag[1 : len(etag)-1]
		if n := testutil.QueryInt(t, e, `SELECT count(*) FROM download_tokens x WHERE strpos(x::text, $1) > 0`, opaque); n != 0 {
			t.Error("the delivery's secret is in the database in clear")
		}
		for _, inst := range []*testutil.Env{e, twin} {
			if strings.Contains(inst.Logs.String(), opaque) {
				t.Error("the delivery's secret is in the log")
			}
		}
	}
}

// TestConcurrentResumesGetTheirRanges sends 50 resumes of a cut download at once, with
// distinct ranges, to both instances: each gets exactly the bytes of its range.
func TestConcurrentResumesGetTheirRanges(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	twin := e.Twin()
	const size = 16 << 20
	content := testutil.RandomBytes(t, size)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "many.bin", content)
	tok := tsCreateToken(t, e, s.ID, f.ID, false)
	resp, _ := tsCut(t, e, http.MethodGet, tok.URL, 1<<20)
	etag := tsWantConsuming(t, "consuming GET", resp, content)
	tsWantConsumed(t, e, tok, "after the cut")

	// Distinct ranges, none reaching the last byte (so the token is never delivered on the
	// way): short and long ones, some within what the cut download already sent.
	type span struct{ start, end int64 }
	var spans []span
	for i := range 50 {
		start := 1 + int64(i)*(size/50) + int64(i*7919)%4096
		spans = append(spans, span{start, min(start+int64(i%5)*(64<<10)+int64(i), size-2)})
	}
	spans[0], spans[1], spans[2] = span{1, 1}, span{2, 100 << 10}, span{size - 2, size - 2}

	transport := &http.Transport{MaxIdleConnsPerHost: len(spans)}
	client := &http.Client{Transport: transport}
	defer transport.CloseIdleConnections()
	type result struct {
		req    *http.Request
		resp   *http.Response
		body   []byte
		err    error
		status int
	}
	results := make([]result, len(spans))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, sp := range spans {
		inst := []*testutil.Env{e, twin}[i%2]
		method := []string{http.MethodGet, http.MethodPost}[i/2%2]
		hdr := []string{"Range", fmt.Sprintf("bytes=%d-%d", sp.start, sp.end), "If-Range", etag}
		if i%4 == 3 {
			// A download manager that poses as a browser: it names the secret, so it resumes.
			hdr = append(hdr, "Accept", tsBrowserAccept, "User-Agent", tsChromeUA)
		}
		results[i].req, _ = tsRequest(t, method, tsOn(inst, e, tok.URL), hdr...)
		wg.Add(1)
		go func(r *result) {
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
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("resume %d: %v", i, r.err)
		}
		testutil.ValidateResponse(t, r.req, r.resp, r.body)
		if r.status == http.StatusServiceUnavailable {
			// The database was short of connections: the resume is sent again, alone.
			t.Logf("resume %d of %v: 503, sent again", i, spans[i])
			req := r.req.Clone(context.Background())
			again := e.Sub(t).Do(req)
			r.status, r.resp, r.body = again.StatusCode, again.Response, again.Body
		}
		tsWantPart(t, fmt.Sprintf("resume %d (%s %s)", i, r.req.Method, r.req.URL.Host), r.status, r.resp.Header, r.body, content, spans[i].start, spans[i].end, etag)
	}
	tsWantConsumed(t, e, tok, "after resumes short of the last byte")
}

// TestDeliveredOnlyByCoverage checks that a token is delivered when the ranges its answers
// sent cover the whole file, and not when the last byte alone went out: a tail-first resume,
// then segments in reverse order. Each delivery is one token.delivered event.
func TestDeliveredOnlyByCoverage(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t, func(c *config.Config) { c.WebhookAllowPrivate = true })
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(receiver.Close)
	if r := sessCall(t, e, http.MethodPost, "/webhooks", sessAlice, map[string]any{"url": receiver.URL + "/hook", "events": []string{"token.delivered"}}); r.StatusCode != http.StatusCreated {
		t.Fatalf("register a webhook: %d %s", r.StatusCode, r.Body)
	}
	const size = 16 << 20
	content := testutil.RandomBytes(t, size)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "cover.bin", content)

	// consume cuts a consuming download at n bytes and returns the delivery's secret and how
	// many bytes the answer wrote.
	consume := func(tok tsToken, n int64) (string, int64) {
		t.Helper()
		resp, _ := tsCut(t, e, http.MethodGet, tok.URL, n)
		etag := tsWantConsuming(t, "consuming GET", resp, content)
		st := tsWantConsumed(t, e, tok, "after the cut")
		if st.BytesSent >= size-1 {
			t.Fatalf("the cut answer wrote %d of %d bytes: the test needs a larger file", st.BytesSent, size)
		}
		return etag, max(st.BytesSent, n)
	}
	// resume fetches bytes start-end (end -1: to the end) and waits until the server has
	// recorded them.
	resume := func(tok tsToken, etag string, start, end int64) {
		t.Helper()
		rg := fmt.Sprintf("bytes=%d-", start)
		if end >= 0 {
			rg += strconv.FormatInt(end, 10)
		} else {
			end = size - 1
		}
		r, id := tsDo(t, e, http.MethodGet, tok.URL, "Range", rg, "If-Range", etag)
		tsWantPart(t, "resume "+rg, r.StatusCode, r.Header, r.Body, content, start, end, etag)
		tsSettled(t, e, id)
	}
	wantNotDelivered := func(tok tsToken, when string) {
		t.Helper()
		tsWantConsumed(t, e, tok, when)
		if n := tsWebhookEvents(t, e, "token.delivered", tok.Ref); n != 0 {
			t.Fatalf("%s: %d token.delivered events, want none", when, n)
		}
	}
	wantDelivered := func(tok tsToken, etag string) {
		t.Helper()
		st := tsEventually(t, e, tok, "the token to be delivered", func(st tsStatus) bool { return st.State == "delivered" })
		if st.DeliveredAt == nil || st.ConsumedAt == nil || st.DeliveredAt.Before(*st.ConsumedAt) {
			t.Fatalf("delivered: %+v", st)
		}
		// Delivered: no further resume.
		r, id := tsDo(t, e, http.MethodGet, tok.URL, "Range", "bytes=1-", "If-Range", etag)
		testutil.WantError(t, r, http.StatusGone, tsUsed)
		tsSettled(t, e, id)
		if n := tsWebhookEvents(t, e, "token.delivered", tok.Ref); n != 1 {
			t.Fatalf("%d token.delivered events, want exactly 1", n)
		}
	}

	// Tail first: the last byte alone does not deliver; the rest does.
	tail := tsCreateToken(t, e, s.ID, f.ID, false)
	cut := int64(size / 10)
	etag, _ := consume(tail, cut)
	resume(tail, etag, size-1, -1)
	wantNotDelivered(tail, "after the last byte alone")
	if st := tsStatusOf(t, e, tail); st.DeliveredAt != nil {
		t.Fatalf("deliveredAt %v after the last byte alone", st.DeliveredAt)
	}
	resume(tail, etag, cut, -1)
	wantDelivered(tail, etag)

	// Segments in reverse order: delivered with the last missing one, not before.
	rev := tsCreateToken(t, e, s.ID, f.ID, false)
	etag, written := consume(rev, cut)
	gap := int64(size) - written // [written, size) was never sent
	if gap < 1<<20 {
		t.Fatalf("the cut answer wrote %d of %d bytes: the test needs a larger file", written, size)
	}
	b1, b2, b3 := written+gap/4, written+gap/2, written+gap*3/4
	resume(rev, etag, b3, -1)
	wantNotDelivered(rev, "after the fourth segment")
	resume(rev, etag, b2, b3-1)
	wantNotDelivered(rev, "after the fourth and third segments")
	resume(rev, etag, b1, b2-1)
	wantNotDelivered(rev, "after the fourth, third and second segments")
	resume(rev, etag, cut, b1-1)
	wantDelivered(rev, etag)
}

// TestNothingBeforeConsumptionRevealsContent opens unused tokens (plain and with a PIN) every
// way that does not consume: HEAD as an API client, the landing page as a browser, and GETs
// that accept text/* or application/xhtml+xml alone. None carries an ETag or a Repr-Digest,
// those GETs get the landing page, and the tokens stay unused. Their consumption then carries
// both.
func TestNothingBeforeConsumptionRevealsContent(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	content := testutil.RandomBytes(t, 64<<10)
	leak := tsNewLeak(content)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "quiet.bin", content)
	plain := tsCreateToken(t, e, s.ID, f.ID, false)
	withPIN := tsCreateToken(t, e, s.ID, f.ID, true)

	for _, tok := range []tsToken{plain, withPIN} {
		kind := map[bool]string{true: "PIN token", false: "plain token"}[tok.PIN != ""]
		// HEAD as API clients: curl, and Go's client, which sends no Accept.
		for _, hdr := range [][]string{{"Accept", "*/*"}, {"Accept", "", "User-Agent", "Go-http-client/1.1"}} {
			r, _ := tsDo(t, e, http.MethodHead, tok.URL, hdr...)
			what := fmt.Sprintf("HEAD of the unused %s with Accept %q", kind, hdr[1])
			if r.StatusCode != http.StatusOK || r.Header.Get("Content-Length") != strconv.Itoa(len(content)) {
				t.Errorf("%s: %d Content-Length %q, want 200 and %d", what, r.StatusCode, r.Header.Get("Content-Length"), len(content))
			}
			tsWantNoContentHeaders(t, what, r.Header)
		}
		// The landing page, and its HEAD; and GETs whose Accept names text/* or
		// application/xhtml+xml alone: the landing page too.
		for _, c := range []struct {
			method, accept string
		}{
			{http.MethodGet, tsBrowserAccept},
			{http.MethodHead, tsBrowserAccept},
			{http.MethodGet, "text/*"},
			{http.MethodGet, "application/xhtml+xml"},
			{http.MethodHead, "text/*"},
			{http.MethodHead, "application/xhtml+xml"},
		} {
			r, _ := tsDo(t, e, c.method, tok.URL, "Accept", c.accept, "User-Agent", tsChromeUA)
			what := fmt.Sprintf("%s of the unused %s with Accept %q", c.method, kind, c.accept)
			if leak.in(r.Body) {
				t.Fatalf("%s: %d, the answer holds the file's bytes", what, r.StatusCode)
			}
			if ct := r.Header.Get("Content-Type"); r.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/html") {
				t.Errorf("%s: %d Content-Type %q, want 200 and the landing page", what, r.StatusCode, ct)
			}
			if c.method == http.MethodGet && !bytes.Contains(bytes.ToLower(r.Body), []byte("<form")) {
				t.Errorf("%s: not the landing page with its Download button: %.300q", what, r.Body)
			}
			if r.Header.Get("Content-Disposition") != "" {
				t.Errorf("%s: Content-Disposition %q", what, r.Header.Get("Content-Disposition"))
			}
			tsWantNoContentHeaders(t, what, r.Header)
		}
		if st := tsStatusOf(t, e, tok); st.State != "unused" || st.ConsumedAt != nil || st.DeliveredAt != nil {
			t.Fatalf("the %s after HEADs and landing pages: %+v, want unused", kind, st)
		}
		if tsConsumed(t, e, tok) {
			t.Fatalf("the %s was consumed", kind)
		}
	}

	// The consumption carries what nothing before it did; each delivery its own secret.
	r, _ := tsDo(t, e, http.MethodGet, plain.URL)
	if r.StatusCode != http.StatusOK || !bytes.Equal(r.Body, content) {
		t.Fatalf("consuming GET of the plain token: %d, %d bytes", r.StatusCode, len(r.Body))
	}
	etag1 := tsWantConsuming(t, "consuming GET of the plain token", r.Response, content)
	r, _ = tsDo(t, e, http.MethodGet, withPIN.URL, "Fileshare-Pin", withPIN.PIN)
	if r.StatusCode != http.StatusOK || !bytes.Equal(r.Body, content) {
		t.Fatalf("consuming GET of the PIN token: %d, %d bytes", r.StatusCode, len(r.Body))
	}
	etag2 := tsWantConsuming(t, "consuming GET of the PIN token", r.Response, content)
	if etag1 == etag2 {
		t.Errorf("two deliveries of one file share the ETag %q", etag1)
	}
}

// TestNoResumeAfterTheSessionExpired: a consumed token's delivery ends with its session, even
// within the resume window and with the secret (410 session expired, no byte).
func TestNoResumeAfterTheSessionExpired(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	const size = 16 << 20
	content := testutil.RandomBytes(t, size)
	leak := tsNewLeak(content)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessStoredFile(t, e, sessAlice, s.ID, "late.bin", content)
	tok := tsCreateToken(t, e, s.ID, f.ID, false)
	resp, _ := tsCut(t, e, http.MethodGet, tok.URL, 1<<20)
	etag := tsWantConsuming(t, "consuming GET", resp, content)
	// Within the session, the secret resumes.
	r, _ := tsDo(t, e, http.MethodGet, tok.URL, "Range", "bytes=1048576-1048600", "If-Range", etag)
	tsWantPart(t, "resume before the session's expiry", r.StatusCode, r.Header, r.Body, content, 1<<20, 1048600, etag)
	sessExpireSession(t, e, s.ID)
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		r, _ := tsDo(t, e, m, tok.URL, "Range", "bytes=1048576-", "If-Range", etag)
		if r.StatusCode != http.StatusGone || leak.in(r.Body) || r.Header.Get("Content-Range") != "" {
			t.Fatalf("%s resume after the session expired: %d %.100q", m, r.StatusCode, r.Body)
		}
	}
}
