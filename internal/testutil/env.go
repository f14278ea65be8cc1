package testutil

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"fileshare/internal/admin"
	"fileshare/internal/auth"
	"fileshare/internal/config"
	"fileshare/internal/lifecycle"
	"fileshare/internal/server"
	"fileshare/internal/store"
)

// FastHash keeps test users cheap to create; production hashes use auth.DefaultParams.
var FastHash = auth.Params{Memory: 1024, Time: 1, Threads: 1}

var ginMode sync.Once

// Env is a fileshare served by httptest on a database of its own.
type Env struct {
	T       testing.TB
	DBURL   string
	Config  *config.Config
	Store   *store.Store
	App     *server.App
	Server  *httptest.Server
	URL     string
	DataDir string
	Logs    *LogBuffer
	Admin   *admin.Admin

	// passwords holds the password of every user AddUser added, by login, for the fixture
	// builders; shared by the Env's copies and twins.
	passwords *sync.Map
}

// Option changes the configuration of an Env before it starts.
type Option func(*config.Config)

// DefaultConfig is the configuration of docs/behaviour.md §7 with its defaults.
func DefaultConfig() *config.Config {
	return &config.Config{
		Listen:             "127.0.0.1:0",
		UploadTTL:          3600,
		SessionTTL:         604800,
		MaxTTL:             2592000,
		MaxUploadBytes:     2 << 30,
		PurgeInterval:      time.Minute,
		TombstoneRetention: 720 * time.Hour,
		OrphanGrace:        time.Hour,
		BodyIdleTimeout:    30 * time.Second,
		BodyMinRate:        512,
		DBTimeout:          2 * time.Second,
		DBMaxConns:         8,
		IdleTimeout:        30 * time.Second,
		TokenResumeWindow:  15 * time.Minute,
		TusExpiry:          24 * time.Hour,
		TusMaxUnfinished:   100,
		Console:            true,
		ConsoleSessionTTL:  12 * time.Hour,
		LogLevel:           "debug",
	}
}

// NewEnv starts a fileshare for t.
func NewEnv(t testing.TB, opts ...Option) *Env {
	t.Helper()
	cfg := DefaultConfig()
	cfg.DatabaseURL = NewDatabase(t)
	cfg.DataDir = t.TempDir()
	for _, o := range opts {
		o(cfg)
	}
	return start(t, cfg)
}

// Twin starts a second instance of e's service on the same database and data directory, with
// the same configuration but its own pool, server and log: another server behind the same
// load balancer.
func (e *Env) Twin() *Env {
	e.T.Helper()
	cfg := *e.Config
	twin := start(e.T, &cfg)
	twin.passwords = e.passwords
	return twin
}

func start(t testing.TB, cfg *config.Config) *Env {
	t.Helper()
	ginMode.Do(func() { gin.SetMode(gin.TestMode) })
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	e := &Env{T: t, DBURL: cfg.DatabaseURL, DataDir: cfg.DataDir, Logs: &LogBuffer{}, Config: cfg, passwords: &sync.Map{}}
	// A small pool: many test servers share one PostgreSQL and its max_connections.
	st, err := store.Open(context.Background(), e.DBURL, store.Options{QueryTimeout: cfg.DBTimeout, MaxConns: 6, DirectURL: cfg.DatabaseDirectURL})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	e.Store = st
	log := slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app, err := server.New(cfg, st, log)
	if err != nil {
		t.Fatalf("server: %v", err)
	}
	e.App = app
	// The workers that requests need; the purge and the webhook dispatcher run in the tests
	// that start them.
	stop, err := lifecycle.StartAll(context.Background(), app.Authn, app.Coherence)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(stop)
	e.Server = httptest.NewServer(app.Handler)
	t.Cleanup(e.Server.Close)
	e.URL = e.Server.URL
	e.Admin = admin.New(st, FastHash)
	return e
}

// Settle returns once every instance on e's database has applied the announcements of
// changes committed so far (a change made outside the service, as an operator's psql would).
func (e *Env) Settle() {
	e.T.Helper()
	if err := e.App.Coherence.Barrier(context.Background()); err != nil {
		e.T.Fatalf("cache barrier: %v", err)
	}
}

// AddTenant adds a tenant (fails the test on error).
func (e *Env) AddTenant(name string) {
	e.T.Helper()
	if err := e.Admin.AddTenant(context.Background(), name); err != nil {
		e.T.Fatalf("add tenant %s: %v", name, err)
	}
}

// AddUser adds a user, and its tenant when that does not exist yet; the fixture builders act
// as that user with its password.
func (e *Env) AddUser(login, password string) {
	e.T.Helper()
	_, tenant, err := auth.ParseLogin(login)
	if err != nil {
		e.T.Fatal(err)
	}
	err = e.Admin.AddTenant(context.Background(), tenant)
	if err != nil && !strings.Contains(err.Error(), "already exists") {
		e.T.Fatalf("add tenant %s: %v", tenant, err)
	}
	if err := e.Admin.AddUser(context.Background(), login, password); err != nil {
		e.T.Fatalf("add user %s: %v", login, err)
	}
	e.passwords.Store(login, password)
}

// Response is an answer with its body read.
type Response struct {
	*http.Response
	Body []byte
}

// Do sends req to the Env's server and reads the whole answer. Every request of the tests goes
// through here, so checks that apply to every answer live here.
func (e *Env) Do(req *http.Request) *Response {
	e.T.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.T.Fatalf("%s %s: reading body: %v", req.Method, req.URL.Path, err)
	}
	ValidateResponse(e.T, req, resp, body)
	return &Response{Response: resp, Body: body}
}

// NewRequest builds a request to path on the Env's server, with Basic credentials when login
// is not empty.
func (e *Env) NewRequest(method, path, login, password string, body io.Reader) *http.Request {
	e.T.Helper()
	url := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		url = e.URL + path
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		e.T.Fatal(err)
	}
	if login != "" {
		req.SetBasicAuth(login, password)
	}
	return req
}

// LogBuffer collects the service's log lines; safe for concurrent use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
