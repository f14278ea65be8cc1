package httpapi_test

// Tests of downloads cut on the way and resumed with the delivery's secret.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"fileshare/internal/testutil"
)

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
