package reliability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"fileshare/internal/admin"
	"fileshare/internal/config"
	"fileshare/internal/server"
	"fileshare/internal/store"
	"fileshare/internal/testutil"
)

// stress is set by `make stress`: the tests then run their full-size versions.
var stress = os.Getenv("FILESHARE_STRESS") == "1"

// scale picks the size of a test: fast under `make test`, heavy under `make stress`.
func scale(fast, heavy int) int {
	if stress {
		return heavy
	}
	return fast
}

// figures collects the measured numbers that TestMain prints at the end (and appends to
// FILESHARE_STRESS_REPORT, which `make stress` shows).
var figures struct {
	mu    sync.Mutex
	lines []string
}

func figure(t *testing.T, format string, args ...any) {
	t.Helper()
	line := t.Name() + ": " + fmt.Sprintf(format, args...)
	t.Log(line)
	figures.mu.Lock()
	figures.lines = append(figures.lines, line)
	figures.mu.Unlock()
}

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	code := m.Run()
	removeBinary()
	figures.mu.Lock()
	lines := slices.Clone(figures.lines)
	figures.mu.Unlock()
	slices.Sort(lines)
	if len(lines) > 0 {
		out := "reliability figures:\n  " + strings.Join(lines, "\n  ") + "\n"
		fmt.Print(out)
		if path := os.Getenv("FILESHARE_STRESS_REPORT"); path != "" {
			if f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err == nil {
				f.WriteString(out)
				f.Close()
			}
		}
	}
	os.Exit(code)
}

// latencies collects durations, safe for concurrent use.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// pct returns the q-quantile (0 < q ≤ 1) by the nearest-rank method.
func (l *latencies) pct(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// content returns n bytes that differ between seeds.
func content(seed, n int) []byte {
	b := make([]byte, n)
	x := uint64(seed)*0x9E3779B97F4A7C15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// multipartBody is the body of POST /uploads with one file part.
func multipartBody(t testing.TB, name string, data []byte) (*bytes.Reader, string) {
	t.Helper()
	body, ctype := testutil.Multipart(t, testutil.FilePart(name, data))
	return bytes.NewReader(body), ctype
}

// newClient is an HTTP client of its own, so that its idle connections can be closed and do
// not count as leaked goroutines, and that many requests may run at once.
func newClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			MaxIdleConns:        2000,
			MaxIdleConnsPerHost: 2000,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// answer is a response with its body read.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func do(c *http.Client, req *http.Request) (answer, error) {
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

func request(t testing.TB, method, url, login, password string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if login != "" {
		req.SetBasicAuth(login, password)
	}
	return req
}

// instance is one fileshare served in-process by httptest, with a pool of its own.
type instance struct {
	URL   string
	App   *server.App
	Store *store.Store
	Logs  *testutil.LogBuffer
	srv   *httptest.Server
}

// newInstance assembles a fileshare on dbURL and dataDir, the way `serve` does.
func newInstance(t testing.TB, dbURL, dataDir string, opts ...func(*config.Config)) *instance {
	t.Helper()
	return newInstanceWith(t, dbURL, dataDir, store.Options{}, opts...)
}

// newInstanceWith is newInstance with a pool tuned by opt.
func newInstanceWith(t testing.TB, dbURL, dataDir string, opt store.Options, opts ...func(*config.Config)) *instance {
	t.Helper()
	cfg := testutil.DefaultConfig()
	cfg.DatabaseURL, cfg.DataDir = dbURL, dataDir
	for _, o := range opts {
		o(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), dbURL, opt)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	logs := &testutil.LogBuffer{}
	app, err := server.New(cfg, st, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler)
	t.Cleanup(srv.Close)
	return &instance{URL: srv.URL, App: app, Store: st, Logs: logs, srv: srv}
}

// addUser creates login (and its tenant) with a cheap password hash.
func addUser(t testing.TB, st *store.Store, login, password string) {
	t.Helper()
	a := admin.New(st, testutil.FastHash)
	tenant := login[strings.LastIndexByte(login, '@')+1:]
	if err := a.AddTenant(context.Background(), tenant); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	if err := a.AddUser(context.Background(), login, password); err != nil {
		t.Fatal(err)
	}
}

// client is a user of one fileshare, for setting up fixtures through the API.
type client struct {
	t               testing.TB
	c               *http.Client
	base            string
	login, password string
}

// must sends a request and fails the test unless it answers want.
func (c client) must(method, path string, body io.Reader, ctype string, want int) answer {
	c.t.Helper()
	url := path
	if !strings.HasPrefix(path, "http") {
		url = c.base + path
	}
	req := request(c.t, method, url, c.login, c.password, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	ans, err := do(c.c, req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	if ans.status != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, ans.status, ans.body, want)
	}
	return ans
}

func (c client) decode(ans answer, v any) {
	c.t.Helper()
	if err := json.Unmarshal(ans.body, v); err != nil {
		c.t.Fatalf("%s: %v", ans.body, err)
	}
}

// upload stores a simple upload and returns its id.
func (c client) upload(name string, data []byte) string {
	c.t.Helper()
	body, ctype := multipartBody(c.t, name, data)
	var up struct{ ID string }
	c.decode(c.must("POST", "/uploads", body, ctype, http.StatusCreated), &up)
	return up.ID
}

// session creates a session and returns its id.
func (c client) session() string {
	c.t.Helper()
	var s struct{ ID string }
	c.decode(c.must("POST", "/sessions", nil, "", http.StatusCreated), &s)
	return s.ID
}

// storedFile creates a file entry of sid with data as its content and returns its id.
func (c client) storedFile(sid, name string, data []byte) string {
	c.t.Helper()
	var f struct{ ID string }
	c.decode(c.must("POST", "/sessions/"+sid+"/files", strings.NewReader(`{"name":"`+name+`"}`), "application/json", http.StatusCreated), &f)
	c.must("PUT", "/sessions/"+sid+"/files/"+f.ID, bytes.NewReader(data), "application/octet-stream", http.StatusOK)
	return f.ID
}

// token creates a one-time download token and returns its URL.
func (c client) token(sid, fid string) string {
	c.t.Helper()
	var tok struct{ URL string }
	c.decode(c.must("POST", "/sessions/"+sid+"/files/"+fid+"/tokens", nil, "", http.StatusCreated), &tok)
	return tok.URL
}
