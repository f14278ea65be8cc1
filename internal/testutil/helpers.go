package testutil

// Helpers that the test files of several packages share: polling, multipart bodies, JSON
// answers and errors, the files of a data directory, database look-ups.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	neturl "net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Eventually calls cond every 10 ms until it holds, and fails t once timeout has passed
// without it holding. what says what is waited for.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Part is one part of a multipart/form-data body. A part without Filename is a plain form
// field.
type Part struct {
	Field, Filename, ContentType string
	Data                         []byte
}

// FilePart is the part "file" named name with data, of type application/octet-stream, as
// multipart.Writer.CreateFormFile writes it.
func FilePart(name string, data []byte) Part {
	return Part{Field: "file", Filename: name, ContentType: "application/octet-stream", Data: data}
}

// FieldPart is the form field name with value.
func FieldPart(name, value string) Part { return Part{Field: name, Data: []byte(value)} }

// Multipart encodes parts, in order, as a multipart/form-data body, and returns it with its
// Content-Type.
func Multipart(t testing.TB, parts ...Part) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disp := fmt.Sprintf(`form-data; name=%q`, p.Field)
		if p.Filename != "" {
			disp += fmt.Sprintf(`; filename=%q`, p.Filename)
		}
		h.Set("Content-Disposition", disp)
		if p.ContentType != "" {
			h.Set("Content-Type", p.ContentType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(p.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

// SHA256 is the lowercase hex SHA-256 of b.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// RandomBytes is n random bytes.
func RandomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// what names the request of r in failure messages.
func what(r *Response) string {
	if r.Request == nil {
		return "answer"
	}
	return r.Request.Method + " " + r.Request.URL.Path
}

// Decode fails t unless r has status, and decodes its JSON body.
func Decode[T any](t testing.TB, r *Response, status int) T {
	t.Helper()
	var v T
	if r.StatusCode != status {
		t.Fatalf("%s: status %d, want %d; body %.300q", what(r), r.StatusCode, status, r.Body)
	}
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("%s: decoding %s: %v", what(r), r.Body, err)
	}
	return v
}

// WantError fails t unless r is the JSON error answer {"message": msg} with status (the
// answer to a HEAD has the status and the JSON Content-Type, and no body).
func WantError(t testing.TB, r *Response, status int, msg string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s: status %d, want %d (%q); body %.300q", what(r), r.StatusCode, status, msg, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want JSON", what(r), ct)
	}
	if r.Request != nil && r.Request.Method == http.MethodHead {
		return // no body to read
	}
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("%s: error body %q is not JSON: %v", what(r), r.Body, err)
	}
	if body["message"] != msg {
		t.Fatalf("%s: message %q, want %q", what(r), body["message"], msg)
	}
}

// WantErrorLogged is WantError, and then waits for the error line of docs/behaviour.md §2 in
// the log: "Error at path: message=msg, status=status", path as the log shows it.
func (e *Env) WantErrorLogged(r *Response, path string, status int, msg string) {
	e.T.Helper()
	WantError(e.T, r, status, msg)
	e.WantLogLine(fmt.Sprintf("Error at %s: message=%s, status=%d", path, msg, status))
}

// LogMessages returns the "msg" of every log line so far.
func (e *Env) LogMessages() []string {
	e.T.Helper()
	var out []string
	sc := bufio.NewScanner(strings.NewReader(e.Logs.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var line struct {
			Msg string `json:"msg"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			e.T.Fatalf("log line is not JSON: %q", sc.Text())
		}
		out = append(out, line.Msg)
	}
	return out
}

// WantLogLine waits until the log holds a line whose message is exactly msg. The access log
// is written when the handler returns, which may be a moment after the client has its answer.
func (e *Env) WantLogLine(msg string) {
	e.T.Helper()
	Eventually(e.T, 5*time.Second, "log line "+strconv.Quote(msg), func() bool {
		for _, m := range e.LogMessages() {
			if m == msg {
				return true
			}
		}
		return false
	})
}

// Sub returns a copy of e bound to the subtest t, so that the Env's helpers fail t and not
// the test that made e. The copy shares e's server, database and data directory.
func (e *Env) Sub(t testing.TB) *Env {
	c := *e
	c.T = t
	return &c
}

// Call sends a request to path as login (anonymous when empty) and reads the answer. body is
// nil, []byte (sent as it is, as application/octet-stream), string (sent as it is, as
// application/json) or any other value (encoded as JSON).
func (e *Env) Call(method, path, login, password string, body any) *Response {
	e.T.Helper()
	var r io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		r, ct = bytes.NewReader(b), "application/octet-stream"
	case string:
		r, ct = strings.NewReader(b), "application/json"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.T.Fatal(err)
		}
		r, ct = bytes.NewReader(j), "application/json"
	}
	req := e.NewRequest(method, path, login, password, r)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	return e.Do(req)
}

// Files lists the regular files below dir, as slash-separated paths relative to dir, in
// lexical order. A file or folder that goes away while it is listed is left out; dir itself
// must exist.
func Files(t testing.TB, dir string) []string {
	t.Helper()
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}

// BlobFiles lists the blob files of the data directory dataDir by their keys (their paths
// below dataDir/blobs).
func BlobFiles(t testing.TB, dataDir string) []string {
	t.Helper()
	var out []string
	for _, f := range Files(t, filepath.Join(dataDir, "blobs")) {
		if !strings.HasPrefix(path.Base(f), ".upload-") {
			out = append(out, f)
		}
	}
	return out
}

// Entries lists the names of the entries of dir (files and folders, not below), in lexical
// order.
func Entries(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, en := range entries {
		out = append(out, en.Name())
	}
	return out
}

// TempFiles lists what uploads in progress left: every entry of dataDir/tmp (the staging of
// resumable uploads), and the uploads in progress in the blob directories, as
// "blobs/<kind>/<xx>/.upload-…".
func TempFiles(t testing.TB, dataDir string) []string {
	t.Helper()
	out := Entries(t, filepath.Join(dataDir, "tmp"))
	for _, f := range Files(t, filepath.Join(dataDir, "blobs")) {
		if strings.HasPrefix(path.Base(f), ".upload-") {
			out = append(out, "blobs/"+f)
		}
	}
	return out
}

// QueryInt runs a query of e's database that returns one integer.
func QueryInt(t testing.TB, e *Env, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := e.Store.Pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// Exec runs a statement on e's database, like an operator in psql, and returns once every
// running instance has heard of the upload rows it changed.
func Exec(t testing.TB, e *Env, query string, args ...any) {
	t.Helper()
	if _, err := e.Store.Pool.Exec(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	e.Settle()
}

// TusPatchConn opens a connection of its own to the tus upload at url and sends the headers of
// a PATCH of length bytes at offset 0; the caller writes the body as it likes (part of it, then
// nothing: a client whose network went away). The connection is closed when t ends.
func TusPatchConn(t testing.TB, url string, length int) net.Conn {
	t.Helper()
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: %d\r\n\r\n", u.Path, u.Host, length)
	return conn
}
