package coherence_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/coherence"
	"fileshare/internal/store"
	"fileshare/internal/testutil"
)

// run starts b until the test ends.
func run(t *testing.T, b *coherence.Bus) {
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
}

// A session that does not hear its own heartbeat never serves from memory, while one that
// does serves within a renewal; the deaf one says why in the log.
func TestDeafSessionNeverServes(t *testing.T) {
	t.Parallel()
	st, err := store.Open(context.Background(), testutil.NewDatabase(t), store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	logs := &testutil.LogBuffer{}
	deaf := coherence.New(st, slog.New(slog.NewJSONHandler(logs, nil)), coherence.Options{Renew: 100 * time.Millisecond})
	coherence.ListenOn(deaf, "elsewhere")
	deaf.TestSignals.Init()
	deafCache := coherence.NewCache[string](deaf, 10)
	hearing := coherence.New(st, slog.New(slog.DiscardHandler), coherence.Options{Renew: 100 * time.Millisecond})
	hearingCache := coherence.NewCache[string](hearing, 10)
	run(t, deaf)
	run(t, hearing)

	testutil.Eventually(t, 10*time.Second, "the hearing session to serve", hearing.Serving)
	id := uuid.New()
	for _, c := range []*coherence.Cache[string]{deafCache, hearingCache} {
		c.Put(c.StartFill(), id, "row")
	}
	if _, ok := hearingCache.Get(id); !ok {
		t.Fatal("the hearing session does not serve what it keeps")
	}
	// Renewal after renewal, the deaf one serves nothing.
	for range 20 {
		if deaf.TestSignals.Renewed.Wait(t, 10*time.Second) || deaf.Serving() {
			t.Fatal("a session that does not hear its own heartbeat serves from memory")
		}
		if _, ok := deafCache.Get(id); ok {
			t.Fatal("a deaf session's cache answered")
		}
	}
	if !strings.Contains(logs.String(), "does not hear the notifications sent on the pool") {
		t.Fatalf("no warning in the log: %s", logs)
	}
}
