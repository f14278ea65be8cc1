package httpapi_test

// This file is over 400 lines: hostile clients against the served HTTP settings, with the raw-connection helpers they share.

// Hostile input (issue 7, item 5): slow-header clients, oversized headers, multipart bombs,
// and file names or request ids made to break paths, headers or logs. Stalled and trickling
// bodies are covered by slowbody_test.go.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"fileshare/internal/blob"
	"fileshare/internal/server"
	"fileshare/internal/testutil"
)

// The helpers of this file and of multipart_fuzz_test.go start with "ho" or "fz".

const (
	hoLogin = "mallory@acme"
	hoPW    = "pw"
)

// hoWantDataDirConsistent fails unless every file of the data directory is a blob under a key
// the server made that a row points to, and every row's blob is there: nothing was written
// anywhere else, and no temp file is left.
func hoWantDataDirConsistent(t testing.TB, e *testutil.Env) {
	t.Helper()
	rows, err := e.Store.Pool.Query(context.Background(),
		"SELECT blob_key FROM uploads WHERE blob_key IS NOT NULL UNION ALL SELECT blob_key FROM session_files WHERE blob_key IS NOT NULL")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		want = append(want, "blobs/"+k)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	got := testutil.Files(t, e.DataDir)
	for _, f := range got {
		if !strings.HasPrefix(f, "blobs/") || !blob.ValidKey(strings.TrimPrefix(f, "blobs/")) {
			t.Errorf("unexpected file in the data directory: %q", f)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("data directory holds %v, the rows point to %v", got, want)
	}
}

// hoAnswer is an answer read from a raw connection.
type hoAnswer struct {
	*http.Response
	Body []byte
	// Head is the status line and header block exactly as sent.
	Head    []byte
	Elapsed time.Duration
}

// hoSend writes head and body to addr on a connection of its own, in the background so that an
// answer given before the whole body is sent is read all the same, and reads one answer.
func hoSend(t testing.TB, addr, head string, body []byte) hoAnswer {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := io.WriteString(conn, head); err != nil {
			return
		}
		conn.Write(body) // the server may stop reading and close: that is what some tests want
	})
	defer wg.Wait()
	var raw bytes.Buffer
	br := bufio.NewReader(io.TeeReader(conn, &raw))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer after %s: %v", time.Since(start), err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer's body: %v", err)
	}
	elapsed := time.Since(start)
	conn.Close()
	h := raw.Bytes()
	if i := bytes.Index(h, []byte("\r\n\r\n")); i >= 0 {
		h = h[:i+2]
	}
	return hoAnswer{Response: resp, Body: b, Head: slices.Clone(h), Elapsed: elapsed}
}

// hoWantCleanHead fails unless every line of a raw header block is "Name: value" without CR,
// LF, NUL or another control character but tab: no header can have been injected.
func hoWantCleanHead(t testing.TB, what string, head []byte) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(string(head), "\r\n"), "\r\n")
	for i, l := range lines {
		if strings.ContainsFunc(l, func(r rune) bool { return r != '\t' && (r < 0x20 || r == 0x7f) }) {
			t.Errorf("%s: header line %q holds a control character", what, l)
		}
		if i > 0 && !strings.Contains(l, ": ") {
			t.Errorf("%s: header line %q is not name: value", what, l)
		}
	}
}

// hoAuth is the Authorization header value of the test user.
func hoAuth(e *testutil.Env) string {
	return e.NewRequest(http.MethodGet, "/", hoLogin, hoPW, nil).Header.Get("Authorization")
}

// hoPost sends a multipart POST /uploads with the given body on a raw connection.
func hoPost(t testing.TB, e *testutil.Env, body []byte) hoAnswer {
	t.Helper()
	head := fmt.Sprintf("POST /uploads HTTP/1.1\r\nHost: test\r\nAuthorization: %s\r\nContent-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n",
		hoAuth(e), fzBoundary, len(body))
	return hoSend(t, e.Server.Listener.Addr().String(), head, body)
}

// hoWantError checks a JSON error answer.
func hoWantError(t testing.TB, what string, a hoAnswer, status int, msg string) {
	t.Helper()
	var m struct{ Message string }
	if a.StatusCode != status || json.Unmarshal(a.Body, &m) != nil || m.Message != msg {
		t.Fatalf("%s: %d %s, want %d {\"message\":%q}", what, a.StatusCode, a.Body, status, msg)
	}
}

// hoServer serves e's handler through server.NewHTTPServer, the very settings of `fileshare
// serve`, with the header timeout shortened to readHeader so that tests need not wait 10 s.
func hoServer(t *testing.T, e *testutil.Env, readHeader time.Duration) string {
	t.Helper()
	srv := server.NewHTTPServer(e.App.Handler, slog.New(slog.DiscardHandler))
	if srv.ReadHeaderTimeout != 10*time.Second || srv.MaxHeaderBytes != 64<<10 || srv.IdleTimeout <= 0 {
		t.Fatalf("serve's settings: ReadHeaderTimeout %s, MaxHeaderBytes %d, IdleTimeout %s", srv.ReadHeaderTimeout, srv.MaxHeaderBytes, srv.IdleTimeout)
	}
	if srv.ReadTimeout != 0 || srv.WriteTimeout != 0 {
		t.Fatalf("serve has ReadTimeout %s, WriteTimeout %s: long uploads and downloads would be cut", srv.ReadTimeout, srv.WriteTimeout)
	}
	srv.ReadHeaderTimeout = readHeader
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String()
}

// TestSlowHeaderClientsAreCut: a client that sends its headers slowly, or stops in the middle,
// is disconnected once ReadHeaderTimeout has passed, however steadily it trickles, and does
// not stop other clients from being served.
func TestSlowHeaderClientsAreCut(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	const timeout = 300 * time.Millisecond
	addr := hoServer(t, e, timeout)

	type result struct {
		what    string
		elapsed time.Duration
		got     []byte
		err     error
	}
	slow := func(what string, trickle bool) result {
		start := time.Now() // before the dial: the server's clock cannot start earlier
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return result{what: what, err: err}
		}
		defer conn.Close()
		io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: test\r\n")
		stop := make(chan struct{})
		var wg sync.WaitGroup
		if trickle {
			// One header byte every 20 ms, for at most 10 s: never idle, never done.
			wg.Go(func() {
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for i := 0; i < 500; i++ {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					if _, err := conn.Write([]byte{"X-Slow: yes\r\n"[i%13]}); err != nil {
						return
					}
				}
			})
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(conn)
		elapsed := time.Since(start)
		close(stop)
		conn.Close()
		wg.Wait()
		return result{what: what, elapsed: elapsed, got: got, err: err}
	}

	// Twenty of each at once.
	results := make(chan result, 40)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() { results <- slow(fmt.Sprintf("client %d (trickling %v)", i, i%2 == 0), i%2 == 0) })
	}
	// Meanwhile a well-behaved client is served at once.
	a := hoSend(t, addr, "GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", nil)
	if a.StatusCode != http.StatusOK || a.Elapsed > 2*time.Second {
		t.Errorf("a normal request during the slow ones: %d after %s", a.StatusCode, a.Elapsed)
	}
	wg.Wait()
	close(results)
	var slowest time.Duration
	for r := range results {
		var ne net.Error
		if errors.As(r.err, &ne) && ne.Timeout() {
			t.Fatalf("%s: still connected after %s", r.what, r.elapsed)
		}
		// A reset is a disconnection too; an answer would not be.
		if bytes.Contains(r.got, []byte("200 OK")) {
			t.Errorf("%s was served: %q", r.what, r.got)
		}
		if r.elapsed < timeout || r.elapsed > 3*time.Second {
			t.Errorf("%s: disconnected after %s, want about %s", r.what, r.elapsed, timeout)
		}
		slowest = max(slowest, r.elapsed)
	}
	t.Logf("40 slow-header clients cut by a ReadHeaderTimeout of %s; the last after %s", timeout, slowest)
}

// TestOversizedHeadersAnswer431: headers beyond serve's 64 KiB are refused with 431 before any
// handler runs; a large but allowed header block is served.
func TestOversizedHeadersAnswer431(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser(hoLogin, hoPW)
	addr := hoServer(t, e, 10*time.Second)
	many := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "X-H%d: %s\r\n", i, strings.Repeat("v", 12))
		}
		return b.String()
	}
	for what, extra := range map[string]string{
		"one 100 KiB header":          "X-Big: " + strings.Repeat("a", 100<<10) + "\r\n",
		"5,000 small headers":         many(5000),
		"a 1 MiB X-Request-ID":        "X-Request-ID: " + strings.Repeat("r", 1<<20) + "\r\n",
		"a 200 KiB Authorization":     "Authorization: Basic " + strings.Repeat("QUFB", 50<<10) + "\r\n",
		"a 100 KiB request line path": "",
	} {
		line := "DELETE /uploads/" + uuid.NewString()
		if extra == "" {
			line = "GET /uploads/" + strings.Repeat("p", 100<<10)
		}
		a := hoSend(t, addr, line+" HTTP/1.1\r\nHost: test\r\n"+extra+"\r\n", nil)
		if a.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s: %d %.200s, want 431", what, a.StatusCode, a.Body)
		}
		if a.Elapsed > 5*time.Second {
			t.Errorf("%s: answered after %s", what, a.Elapsed)
		}
	}
	// 40 KiB of headers are within the limit: the request is served (and authenticated).
	a := hoSend(t, addr, "DELETE /uploads/"+uuid.NewString()+" HTTP/1.1\r\nHost: test\r\nConnection: close\r\nAuthorization: "+hoAuth(e)+"\r\nX-Big: "+strings.Repeat("a", 40<<10)+"\r\n\r\n", nil)
	hoWantError(t, "40 KiB of headers", a, http.StatusNotFound, "upload not found")
}

// TestMultipartBombs: 10,000 parts, or one part with 20,000 header lines, are refused with a
// 4xx in well under 2 s, leaving no row, blob or temp file.
func TestMultipartBombs(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser(hoLogin, hoPW)
	parts := func(n int, first string, each func(i int) string) []byte {
		all := make([]string, 0, n)
		if first != "" {
			all = append(all, first)
		}
		for i := len(all); i < n; i++ {
			all = append(all, each(i))
		}
		return fzBody(all...)
	}
	file := fzFile(`name="file"; filename="a.txt"`, "", "content")
	var hugeHeader strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&hugeHeader, "X-%d: v\r\n", i)
	}
	for _, tc := range []struct {
		what   string
		body   []byte
		status int
		msg    string
	}{
		{"a file, then 9,999 fields", parts(10000, file, func(i int) string { return fzFile(fmt.Sprintf(`name="f%d"`, i), "", "v") }),
			http.StatusBadRequest, "too many multipart parts"},
		{"10,000 fields and no file", parts(10000, "", func(i int) string { return fzFile(`name="ttl"`, "", "60") }),
			http.StatusBadRequest, "too many multipart parts"},
		{"10,000 parts without a name", parts(10000, "", func(int) string { return "\r\n" }),
			http.StatusBadRequest, "too many multipart parts"},
		{"10,000 file parts", parts(10000, "", func(i int) string { return fzFile(fmt.Sprintf(`name="file"; filename="%d"`, i), "", "x") }),
			http.StatusBadRequest, "only one file part is allowed"},
		{"a file part with 20,000 header lines", fzBody(fzFile(`name="file"; filename="h.txt"`, hugeHeader.String(), "x")),
			http.StatusBadRequest, "malformed multipart body"},
	} {
		a := hoPost(t, e, tc.body)
		hoWantError(t, tc.what, a, tc.status, tc.msg)
		if a.Elapsed > 2*time.Second {
			t.Errorf("%s (%d KiB): answered after %s", tc.what, len(tc.body)>>10, a.Elapsed)
		}
		t.Logf("%s (%d KiB): %d in %s", tc.what, len(tc.body)>>10, a.StatusCode, a.Elapsed.Round(time.Millisecond))
		if n := testutil.QueryInt(t, e, "SELECT count(*) FROM uploads"); n != 0 {
			t.Fatalf("%s: %d upload rows", tc.what, n)
		}
		if f := testutil.Files(t, e.DataDir); len(f) != 0 {
			t.Fatalf("%s: files left in the data directory: %v", tc.what, f)
		}
	}
}

// hoSafeName fails unless name could be a file name anywhere: no path separator, no control
// or bidi character, valid UTF-8, at most 255 bytes.
func hoSafeName(t testing.TB, what, name string) {
	t.Helper()
	if name == "" || name == "." || name == ".." || len(name) > 255 || !utf8.ValidString(name) || strings.ContainsAny(name, `/\`) ||
		strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) }) {
		t.Errorf("%s: name %q is not safe", what, name)
	}
}

// TestHostileFileNames uploads files whose names try path traversal, header injection and
// sheer size, as simple uploads and as session file entries: the stored names are safe, every
// blob lies in the data directory under a key the server made, and the downloads' headers
// hold no injected line.
func TestHostileFileNames(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser(hoLogin, hoPW)
	addr := e.Server.Listener.Addr().String()
	besideBefore := testutil.Entries(t, filepath.Dir(e.DataDir))

	megaASCII := strings.Repeat("a", 1<<20)
	megaUTF8 := strings.Repeat("é", 1<<19) // 2-byte runes: the cut must not split one
	for _, tc := range []struct {
		what, disposition, want string
	}{
		{"1 MB name", `filename="` + megaASCII + `"`, strings.Repeat("a", 255)},
		{"1 MB UTF-8 name", `filename="` + megaUTF8 + `"`, strings.Repeat("é", 127)},
		{"traversal", `filename="../../etc/passwd"`, "passwd"},
		{"deep traversal", `filename="../../../../../../../../../../tmp/x"`, "x"},
		{"backslash traversal", `filename="..\..\x"`, "x"},
		{"mixed separators", `filename="..\/..\/evil.sh"`, "evil.sh"},
		{"encoded traversal", `filename*=UTF-8''%2E%2E%2F%2E%2E%2Fetc%2Fpasswd`, "passwd"},
		{"encoded backslashes", `filename*=UTF-8''..%5C..%5Cboot.ini`, "boot.ini"},
		{"CR LF", `filename*=UTF-8''report%0D%0ASet-Cookie%3A%20a%3Db.txt`, "reportSet-Cookie: a=b.txt"},
		{"NUL", `filename*=UTF-8''evil.php%00.txt`, "evil.php.txt"},
		{"control characters", `filename*=UTF-8''%07%08%1B%5B31m%7F%C2%85x.txt`, "[31mx.txt"},
		{"bidi override", `filename*=UTF-8''%E2%80%AEtxt.exe`, "txt.exe"},
		{"only dots", `filename=".."`, "file"},
		{"only a slash", `filename="/"`, "file"},
		{"absolute windows path", `filename="C:\Windows\System32\drivers\etc\hosts"`, "hosts"},
		{"invalid UTF-8", "filename=\"\xff\xfename\xc3.txt\"", "name.txt"},
	} {
		body := fzBody(fzFile(`name="file"; `+tc.disposition, "", "content of "+tc.what))
		a := hoPost(t, e, body)
		if a.StatusCode != http.StatusCreated {
			t.Fatalf("%s: %d %.300s", tc.what, a.StatusCode, a.Body)
		}
		var up struct{ ID, Name string }
		if err := json.Unmarshal(a.Body, &up); err != nil {
			t.Fatal(err)
		}
		hoSafeName(t, tc.what, up.Name)
		if up.Name != tc.want {
			t.Errorf("%s: stored as %q, want %q", tc.what, up.Name, tc.want)
		}
		dl := hoSend(t, addr, "GET /uploads/"+up.ID+" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", nil)
		if dl.StatusCode != http.StatusOK || string(dl.Body) != "content of "+tc.what {
			t.Fatalf("%s: download %d %q", tc.what, dl.StatusCode, dl.Body)
		}
		hoWantCleanHead(t, tc.what, dl.Head)
	}

	// Session file entries take their name from JSON, where anything can be written.
	sess := e.Do(e.NewRequest(http.MethodPost, "/sessions", hoLogin, hoPW, nil))
	var s struct{ ID string }
	if sess.StatusCode != http.StatusCreated || json.Unmarshal(sess.Body, &s) != nil {
		t.Fatalf("POST /sessions: %d %s", sess.StatusCode, sess.Body)
	}
	for _, tc := range []struct{ what, name, want string }{
		{"traversal", "../../../etc/passwd", "passwd"},
		{"CR LF NUL", "a\r\nX-Injected: 1\x00.txt", "aX-Injected: 1.txt"},
		{"backslashes", `..\..\win.ini`, "win.ini"},
		{"60 KiB name (JSON bodies stop at 64 KiB)", strings.Repeat("a", 60<<10), strings.Repeat("a", 255)},
	} {
		b, _ := json.Marshal(map[string]string{"name": tc.name})
		r := e.Do(e.NewRequest(http.MethodPost, "/sessions/"+s.ID+"/files", hoLogin, hoPW, bytes.NewReader(b)))
		var f struct{ ID, Name string }
		if r.StatusCode != http.StatusCreated || json.Unmarshal(r.Body, &f) != nil {
			t.Fatalf("session file %s: %d %.300s", tc.what, r.StatusCode, r.Body)
		}
		hoSafeName(t, "session file "+tc.what, f.Name)
		if f.Name != tc.want {
			t.Errorf("session file %s: stored as %q, want %q", tc.what, f.Name, tc.want)
		}
		put := e.Do(e.NewRequest(http.MethodPut, "/sessions/"+s.ID+"/files/"+f.ID, hoLogin, hoPW, strings.NewReader("entry "+tc.what)))
		if put.StatusCode != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", tc.what, put.StatusCode, put.Body)
		}
		tok := e.Do(e.NewRequest(http.MethodPost, "/sessions/"+s.ID+"/files/"+f.ID+"/tokens", hoLogin, hoPW, nil))
		var tk struct{ ID string }
		if tok.StatusCode != http.StatusCreated || json.Unmarshal(tok.Body, &tk) != nil {
			t.Fatalf("token %s: %d %s", tc.what, tok.StatusCode, tok.Body)
		}
		dl := hoSend(t, addr, "GET /sessions/"+s.ID+"/files/"+f.ID+"/tokens/"+tk.ID+" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", nil)
		if dl.StatusCode != http.StatusOK || string(dl.Body) != "entry "+tc.what {
			t.Fatalf("token download %s: %d %q", tc.what, dl.StatusCode, dl.Body)
		}
		hoWantCleanHead(t, "token download "+tc.what, dl.Head)
	}

	hoWantDataDirConsistent(t, e)
	if got := testutil.Entries(t, filepath.Dir(e.DataDir)); !slices.Equal(got, besideBefore) {
		t.Errorf("beside the data directory: %v, before %v", got, besideBefore)
	}
	for _, p := range []string{"/etc/x", "/tmp/x", filepath.Join(e.DataDir, "..", "passwd"), filepath.Join(e.DataDir, "blobs", "passwd")} {
		if b, err := os.ReadFile(p); err == nil && strings.HasPrefix(string(b), "content of") {
			t.Errorf("an upload was written to %s", p)
		}
	}
}

// TestHostileRequestIDs: X-Request-ID is echoed only when it is short printable ASCII; anything
// else is replaced, and a header value with CR, LF or NUL never reaches the service. The
// answer's header block and the log stay clean.
func TestHostileRequestIDs(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	addr := e.Server.Listener.Addr().String()
	good := strings.Repeat("r", 128)
	for _, tc := range []struct {
		what, raw string
		echo      bool // echoed as sent; else replaced by a UUID, or the request refused
	}{
		{"plain", "req-123_ABC.x", true},
		{"128 characters", good, true},
		{"129 characters", good + "r", false},
		{"space", "a b", false},
		{"non-ASCII", "идентификатор", false},
		{"injected header", "abc%0d%0aSet-Cookie:%20x=y", true}, // just text: harmless as it is
		{"bare CR", "abc\rSet-Cookie: x=y", false},
		{"NUL", "abc\x00def", false},
		{"DEL", "abc\x7fdef", false},
		{"obsolete line folding", "abc\r\n Set-Cookie: x=y", false},
		{"escape sequence", "\x1b[2J\x1b[31mred", false},
	} {
		a := hoSend(t, addr, "GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\nX-Request-ID: "+tc.raw+"\r\n\r\n", nil)
		hoWantCleanHead(t, tc.what, a.Head)
		if a.Header.Get("Set-Cookie") != "" {
			t.Errorf("%s: a Set-Cookie header was injected", tc.what)
		}
		got := a.Header.Get("X-Request-ID")
		switch {
		case tc.echo:
			if a.StatusCode != http.StatusOK || got != tc.raw {
				t.Errorf("%s: %d, X-Request-ID %q, want it echoed", tc.what, a.StatusCode, got)
			}
		case a.StatusCode == http.StatusBadRequest:
			// net/http refused the header before the service saw it.
		default:
			if _, err := uuid.Parse(got); a.StatusCode != http.StatusOK || err != nil || len(got) != 36 {
				t.Errorf("%s: %d, X-Request-ID %q, want a fresh UUID", tc.what, a.StatusCode, got)
			}
		}
	}
	// Every log line is one JSON object whose request id is printable ASCII.
	for _, line := range strings.Split(strings.TrimSpace(e.Logs.String()), "\n") {
		var l struct {
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if strings.ContainsFunc(l.RequestID, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			t.Errorf("logged request id %q", l.RequestID)
		}
	}
}
