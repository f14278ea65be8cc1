package coherence_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/coherence"
	"fileshare/internal/lifecycle/lifecycletest"
	"fileshare/internal/store"
	"fileshare/internal/testutil"
)

func sessions(t *testing.T, st *store.Store) int {
	t.Helper()
	var n int
	if err := st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM cache_sessions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The bus serves from memory only between Start and Stop; Stop returns once its goroutines
// are gone and its session row with them (no deletion waits for a stopped instance); it starts
// again, and the end of its context stops it too.
func TestBusStartsAndStops(t *testing.T) {
	t.Parallel()
	st, err := store.Open(context.Background(), testutil.NewDatabase(t), store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	b := coherence.New(st, slog.New(slog.DiscardHandler), coherence.Options{Renew: 50 * time.Millisecond})
	b.TestSignals.Init()
	cache := coherence.NewCache[string](b, 10)
	serving := func(s bool) bool { return s }
	b.Stop() // never started: nothing to do

	for range 2 {
		if err := b.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	b.TestSignals.Renewed.WaitUntil(t, 10*time.Second, serving)
	if n := sessions(t, st); n != 1 {
		t.Fatalf("%d listening sessions registered, want 1", n)
	}
	id := uuid.New()
	cache.Put(cache.StartFill(), id, "row")
	b.Stop()
	lifecycletest.NoGoroutines(t, &b.Runner)
	if b.Serving() {
		t.Fatal("a stopped bus serves from memory")
	}
	if _, ok := cache.Get(id); ok {
		t.Fatal("a stopped bus's cache answered")
	}
	if n := sessions(t, st); n != 0 {
		t.Fatalf("%d sessions left after Stop", n)
	}
	b.Stop()

	ctx, cancel := context.WithCancel(context.Background())
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	b.TestSignals.Renewed.WaitUntil(t, 10*time.Second, serving)
	cancel()
	b.Wait()
	lifecycletest.NoGoroutines(t, &b.Runner)
	if b.Serving() || sessions(t, st) != 0 {
		t.Fatal("a bus whose context ended still serves, or left its session")
	}
}

// An operator's watcher listens until Close, which returns once its goroutine and its
// connection are gone.
func TestWatcherCloses(t *testing.T) {
	t.Parallel()
	st, err := store.Open(context.Background(), testutil.NewDatabase(t), store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	ctx, cancel := context.WithCancel(context.Background())
	w, err := coherence.Watch(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	cancel() // bounds the connection only: the watcher keeps listening
	r := coherence.WatcherRunner(w)
	if n, _ := lifecycletest.Goroutines(r); n == 0 {
		t.Fatal("the watcher does not listen")
	}
	w.Close()
	lifecycletest.NoGoroutines(t, r)
	// The server ends its side of the connection a moment after the client closed it.
	testutil.Eventually(t, 5*time.Second, "the listening connection to end", func() bool {
		var listening int
		if err := st.Pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`, store.ListenerApplicationName).Scan(&listening); err != nil {
			t.Fatal(err)
		}
		return listening == 0
	})
}
