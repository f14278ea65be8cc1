package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"fileshare/internal/testutil"
)

// The connection-level rules, against the real binary, as a hostile client meets them: every
// early refusal is answered at once, a body cut short is never stored, a download whose
// client stops reading is cut, and SIGTERM ends the process with 0 whatever clients do.

// probeServe starts serve with a tenant acme and a user alice@acme (password pw).
func probeServe(t *testing.T, extra ...string) (*testutil.Serve, string) {
	t.Helper()
	url := testutil.NewDatabase(t)
	dataDir := t.TempDir()
	env := append(dbEnv(url), "FILESHARE_DATA_DIR="+dataDir)
	ok(t, env, "", "tenant", "add", "acme")
	ok(t, env, "pw\n", "user", "add", "alice@acme", "--password-stdin")
	return testutil.StartServe(t, binary, append(env, extra...)), dataDir
}

// rawRequest writes head (a request line and headers, without the blank line) and body on a
// new connection and returns the connection and a reader of its answers.
func rawRequest(t *testing.T, addr, head string, body []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, strings.ReplaceAll(head, "\n", "\r\n")+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if len(body) > 0 {
		if _, err := conn.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	return conn, bufio.NewReader(conn)
}

// answeredAndClosed reads one answer within 3 s, checks its status and that the server then
// closes the connection.
func answeredAndClosed(t *testing.T, what string, conn net.Conn, br *bufio.Reader, status int) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: no answer within 3 s: %v", what, err)
	}
	if resp.StatusCode == http.StatusContinue {
		t.Fatalf("%s: the server asked for the body (100 Continue) instead of refusing", what)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("%s: status %d, want %d", what, resp.StatusCode, status)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("%s: the connection stays open after the answer (%v)", what, err)
	}
}

func TestEarlyRefusalsAnswerAtOnce(t *testing.T) {
	t.Parallel()
	s, _ := probeServe(t, "FILESHARE_MAX_UPLOAD_BYTES=1048576")
	for _, tc := range []struct {
		what, head string
		status     int
	}{
		{"POST /sessions without credentials, body announced but never sent",
			"POST /sessions HTTP/1.1\nHost: x\nContent-Length: 100", http.StatusUnauthorized},
		{"POST /uploads without credentials, body announced but never sent",
			"POST /uploads HTTP/1.1\nHost: x\nContent-Length: 100", http.StatusUnauthorized},
		{"GET /healthz with a body announced but never sent",
			"GET /healthz HTTP/1.1\nHost: x\nContent-Length: 100", http.StatusOK},
		{"PUT with a bad upload token and Expect: 100-continue",
			"PUT /sessions/" + uuidLike(1) + "/files/" + uuidLike(2) + "?token=bad HTTP/1.1\nHost: x\nContent-Length: 5000000\nExpect: 100-continue", http.StatusUnauthorized},
		{"3 GiB announced against a 1 MiB limit, with Expect: 100-continue",
			"POST /uploads HTTP/1.1\nHost: x\nAuthorization: Basic YWxpY2VAYWNtZTpwdw==\nContent-Type: multipart/form-data; boundary=b\nContent-Length: 3221225472\nExpect: 100-continue", http.StatusRequestEntityTooLarge},
	} {
		conn, br := rawRequest(t, s.Addr, tc.head, nil)
		answeredAndClosed(t, tc.what, conn, br, tc.status)
	}
}

func uuidLike(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// SIGTERM with clients that hold requests open: the process still exits 0, after the drain
// bound at the latest.
func TestSIGTERMExitsZeroWhateverClientsDo(t *testing.T) {
	t.Parallel()
	s, _ := probeServe(t, "FILESHARE_BODY_IDLE_TIMEOUT=120s")
	for range 3 {
		rawRequest(t, s.Addr, "POST /sessions HTTP/1.1\nHost: x\nContent-Length: 100", nil)
	}
	// An upload whose client sent half its body and then nothing: its handler waits.
	body, ctype := testutil.Multipart(t, testutil.FilePart("stalled.bin", bytes.Repeat([]byte("s"), 1<<20)))
	rawRequest(t, s.Addr, "POST /uploads HTTP/1.1\nHost: x\nAuthorization: Basic YWxpY2VAYWNtZTpwdw==\nContent-Type: "+ctype+
		"\nContent-Length: "+fmt.Sprint(len(body)), body[:len(body)/2])
	rawRequest(t, s.Addr, "GET /healthz HTTP/1.1\nHost: x", nil) // an idle kept-alive connection
	time.Sleep(200 * time.Millisecond)                           // let the handlers start
	start := time.Now()
	if code := s.Stop(); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM, want 0:\n%s", code, s.Logs)
	}
	if d := time.Since(start); d > 25*time.Second {
		t.Errorf("serve took %s to stop", d)
	}
}

// A body shorter than it announced, cut by the client, is never stored: its blob goes at
// once, and the upload URL still works for a whole body afterwards.
func TestTruncatedBodiesLeaveNothing(t *testing.T) {
	t.Parallel()
	s, dataDir := probeServe(t)
	sid := apiJSON(t, s, http.MethodPost, "/sessions", "")["id"].(string)
	fid := apiJSON(t, s, http.MethodPost, "/sessions/"+sid+"/files", `{"name":"cut.bin"}`)["id"].(string)
	upURL := apiJSON(t, s, http.MethodPost, "/sessions/"+fid, "")["url"].(string)
	path := strings.TrimPrefix(upURL, "http://"+s.Addr)
	chunk := bytes.Repeat([]byte("c"), 1<<20)
	mpBody, mpType := testutil.Multipart(t, testutil.FilePart("cut.bin", bytes.Repeat([]byte("c"), 10<<20)))
	for _, tc := range []struct {
		what, head string
		body       []byte
	}{
		{"raw", "PUT " + path + " HTTP/1.1\nHost: x\nContent-Length: 10485760", chunk},
		{"chunked", "PUT " + path + " HTTP/1.1\nHost: x\nTransfer-Encoding: chunked", append([]byte("100000\r\n"), append(chunk, "\r\n"...)...)},
		{"multipart", "PUT " + path + " HTTP/1.1\nHost: x\nContent-Type: " + mpType + "\nContent-Length: " + fmt.Sprint(len(mpBody)), mpBody[:1<<20]},
	} {
		conn, _ := rawRequest(t, s.Addr, tc.head, tc.body)
		time.Sleep(100 * time.Millisecond)
		conn.Close()
		testutil.Eventually(t, 30*time.Second, tc.what+": the blob store empty again", func() bool { return len(testutil.Files(t, dataDir)) == 0 })
	}
	if strings.Contains(s.Logs.String(), "commit outcome unknown") {
		t.Errorf("a cut body reached the commit:\n%s", s.Logs)
	}
	req, _ := http.NewRequest(http.MethodPut, upURL, bytes.NewReader([]byte("whole at last")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the upload URL after three cut tries: %d", resp.StatusCode)
	}
	if n := len(testutil.Files(t, dataDir)); n != 1 {
		t.Fatalf("%d files in the data directory, want the one blob", n)
	}
}

// apiJSON calls the API as alice@acme and decodes the 2xx JSON answer.
func apiJSON(t *testing.T, s *testutil.Serve, method, path, body string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL(path), strings.NewReader(body))
	req.SetBasicAuth("alice@acme", "pw")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 || json.Unmarshal(b, &out) != nil {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return out
}

// A download whose client stops reading is cut after the idle time, like a stalled upload.
func TestStalledDownloadIsCut(t *testing.T) {
	t.Parallel()
	s, _ := probeServe(t, "FILESHARE_BODY_IDLE_TIMEOUT=2s")
	data := bytes.Repeat([]byte("d"), 64<<20)
	a := postUpload(t, s, "alice@acme", "pw", "big.bin", data)
	// A small receive buffer, set before connecting so that the window stays small.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /uploads/%s HTTP/1.1\r\nHost: x\r\n\r\n", a.ID)
	time.Sleep(6 * time.Second) // reads nothing: the server's writes block, then time out
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := io.Copy(io.Discard, conn)
	if err != nil {
		t.Fatalf("reading after the stall: %v", err)
	}
	if n >= int64(len(data)) {
		t.Fatalf("the stalled client still received the whole file (%d bytes)", n)
	}
	// The server let go of it: no download in flight.
	resp, err := http.Get(s.URL("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `fileshare_transfers_in_flight{direction="download"} 0`) {
		t.Errorf("a download is still in flight after the cut")
	}
}

// Range: bytes=-0 asks for no byte: 416, never a 206 with an impossible Content-Range.
func TestEmptySuffixRange(t *testing.T) {
	t.Parallel()
	s, _ := probeServe(t)
	a := postUpload(t, s, "alice@acme", "pw", "r.txt", []byte("0123456789abcdefghijk"))
	req, _ := http.NewRequest(http.MethodGet, a.URL, nil)
	req.Header.Set("Range", "bytes=-0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Content-Range") != "bytes */21" ||
		!strings.Contains(string(b), `"range not satisfiable"`) {
		t.Fatalf("bytes=-0: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Range"), b)
	}
}

// An idle keep-alive connection is closed after FILESHARE_IDLE_TIMEOUT (30 s by default), so
// that idle clients do not pile up connections; one in use is not.
func TestIdleKeepAliveConnectionsAreClosed(t *testing.T) {
	t.Parallel()
	s, _ := probeServe(t, "FILESHARE_IDLE_TIMEOUT=1s")
	conn, br := rawRequest(t, s.Addr, "GET /healthz HTTP/1.1\nHost: x", nil)
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// Kept alive: a second request on the connection is answered.
	io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err = http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a second request on the kept-alive connection: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// Then idle: closed by the server after about a second, well before the read deadline.
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("the idle connection was not closed by the server: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the idle connection was closed after %s, want about 1 s", d)
	}
	// The default is 30 s.
	if r := run(t, nil, "", "serve", "--help"); !strings.Contains(r.stdout+r.stderr, "FILESHARE_IDLE_TIMEOUT") {
		t.Errorf("serve --help does not name FILESHARE_IDLE_TIMEOUT:\n%s", r.stdout)
	}
}
