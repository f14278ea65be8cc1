package server_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"fileshare/internal/lifecycle"
	"fileshare/internal/lifecycle/lifecycletest"
	"fileshare/internal/server"
	"fileshare/internal/store"
	"fileshare/internal/testutil"
	"fileshare/internal/webhook"
)

// newInstance assembles another instance of e's service, on a pool of its own with a query
// timeout of queryTimeout, ready to Run.
func newInstance(t *testing.T, e *testutil.Env, queryTimeout time.Duration) *server.App {
	t.Helper()
	st, err := store.Open(context.Background(), e.DBURL, store.Options{MaxConns: 4, QueryTimeout: queryTimeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	app, err := server.New(e.Config, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return app
}

// When a worker cannot start (here the webhook dispatcher, whose database is closed), Run
// returns its error with the listener closed, the workers started before it stopped, and
// none started after it.
func TestRunLeavesNothingWhenAWorkerFailsToStart(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	app := newInstance(t, e, 0)
	closed, err := store.Open(context.Background(), e.DBURL, store.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	app.Webhooks = webhook.NewDispatcher(webhook.Options{Store: closed}, slog.New(slog.DiscardHandler), nil)
	app.Purger.TestSignals.Init()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Run(context.Background(), ln); err == nil || !strings.Contains(err.Error(), "webhook dispatcher") {
		t.Fatalf("Run: %v, want the dispatcher's error", err)
	}
	// Open, the listener would time out rather than hang the test.
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(time.Second))
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("the listener is still open: Accept: %v", err)
	}
	// The purge, started first, ran (its first pass is signalled even when a stop cuts it)
	// and was stopped; the workers after the dispatcher never ran.
	app.Purger.TestSignals.PassDone.Wait(t, 10*time.Second)
	lifecycletest.NoGoroutines(t, &app.Purger.Runner)
	lifecycletest.NoGoroutines(t, &app.Authn.Runner)
	lifecycletest.NoGoroutines(t, &app.Coherence.Runner)
	if app.Coherence.Serving() {
		t.Fatal("the cache coherence session was started")
	}
}

// A deletion answered while the instance drains its requests does not wait a whole lease:
// the cache coherence session, which hears the other instances' acknowledgements, runs until
// the drain is over. Then Run stops every worker and returns nil.
func TestDeletionDuringDrainDoesNotWaitALease(t *testing.T) {
	t.Parallel()
	const lease = 5 * time.Second // coherence's default
	e := testutil.NewEnv(t)       // the other instance, whose session must acknowledge
	e.AddUser("alice@acme", "pw")
	body, ctype := testutil.Multipart(t, testutil.FilePart("a.txt", []byte("to delete")))
	req := e.NewRequest(http.MethodPost, "/uploads", "alice@acme", "pw", bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	id := testutil.Decode[struct{ ID string }](t, e.Do(req), http.StatusCreated).ID

	// A query timeout well past what the test holds the deletion for.
	app := newInstance(t, e, 30*time.Second)
	app.TestSignals.Init()
	app.Coherence.TestSignals.Init()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- app.Run(ctx, ln) }()
	app.Coherence.TestSignals.Renewed.WaitUntil(t, 10*time.Second, func(serving bool) bool { return serving })
	testutil.Eventually(t, 10*time.Second, "the other instance's session", e.App.Coherence.Serving)

	// The deletion is held in flight by a lock on its row while the shutdown begins.
	tx, err := e.Store.Pool.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(context.Background(), `SELECT 1 FROM uploads WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		status int
		at     time.Time
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodDelete, "http://"+ln.Addr().String()+"/uploads/"+id, nil)
		req.SetBasicAuth("alice@acme", "pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		resp.Body.Close()
		answered <- answer{status: resp.StatusCode, at: time.Now()}
	}()
	testutil.Eventually(t, 10*time.Second, "the deletion to wait for the row's lock", func() bool {
		return testutil.QueryInt(t, e, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) == 1
	})
	cancel()
	app.TestSignals.Draining.Wait(t, 10*time.Second)
	released := time.Now()
	if err := tx.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := <-answered
	if a.err != nil || a.status != http.StatusNoContent {
		t.Fatalf("DELETE during the drain: %d %v", a.status, a.err)
	}
	if took := a.at.Sub(released); took > lease/2 {
		t.Fatalf("the deletion took %s after its row was free: it waited for a lease", took)
	}
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, r := range []*lifecycle.Runner{&app.Coherence.Runner, &app.Authn.Runner, &app.Webhooks.Runner, &app.Purger.Runner} {
		lifecycletest.NoGoroutines(t, r)
	}
	if r := e.Do(e.NewRequest(http.MethodGet, "/uploads/"+id, "", "", nil)); r.StatusCode != http.StatusNotFound {
		t.Fatalf("the deleted upload answers %d on the other instance", r.StatusCode)
	}
}
