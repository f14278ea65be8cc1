package coherence_test

// Tests of the coherence rules through the package's API on a real database, each asserting a
// behaviour that a mutant of its guard or bound breaks (docs/mutation.md). The announcements
// are sent as the trigger of docs/behaviour.md §13 sends them ("inv NONCE IDS"); the trigger
// itself is tested through the HTTP API.

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"fileshare/internal/admin"
	"fileshare/internal/coherence"
	"fileshare/internal/store"
	"fileshare/internal/testutil"
)

// cohDB is a store on a database of its own, and that database's URL.
func cohDB(t *testing.T) (*store.Store, string) {
	t.Helper()
	url := testutil.NewDatabase(t)
	st, err := store.Open(context.Background(), url, store.Options{MaxConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st, url
}

// startBus runs b until the test ends.
func startBus(t *testing.T, b *coherence.Bus) {
	t.Helper()
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
}

// servingBus is a running bus on st with opt, once it serves.
func servingBus(t *testing.T, st *store.Store, opt coherence.Options) *coherence.Bus {
	t.Helper()
	b := coherence.New(st, slog.New(slog.DiscardHandler), opt)
	startBus(t, b)
	testutil.Eventually(t, 10*time.Second, "the bus to serve", b.Serving)
	return b
}

// announce sends an announcement as the trigger does, and returns once b has applied it.
func announce(t *testing.T, st *store.Store, b *coherence.Bus, payload string) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.Pool.Exec(ctx, "SELECT pg_notify($1, $2)", coherence.Channel, payload); err != nil {
		t.Fatal(err)
	}
	if err := b.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
}

func wantHit(t *testing.T, c *coherence.Cache[string], id uuid.UUID, want string) {
	t.Helper()
	if v, ok := c.Get(id); !ok || v != want {
		t.Fatalf("Get(%s) = %q, %v; want %q from memory", id, v, ok, want)
	}
}

func wantMiss(t *testing.T, c *coherence.Cache[string], id uuid.UUID) {
	t.Helper()
	if v, ok := c.Get(id); ok {
		t.Fatalf("Get(%s) = %q from memory, want a miss", id, v)
	}
}

// Without a bus nothing is kept and nothing waits: a nil Bus does not serve and reads the
// local clock; a nil Cache keeps nothing.
func TestNoBusKeepsNothing(t *testing.T) {
	t.Parallel()
	var b *coherence.Bus
	if b.Serving() {
		t.Error("a nil bus serves")
	}
	if d := time.Since(b.DBNow()); d < -time.Second || d > time.Second {
		t.Errorf("a nil bus's DBNow is %s off the clock", d)
	}
	if c := b.Begin(); c != nil {
		t.Error("a nil bus began a change")
	} else if err := c.Wait(context.Background()); err != nil {
		t.Errorf("a nil change waits: %v", err)
	}
	c := coherence.NewCache[string](nil, 10)
	if c != nil {
		t.Fatal("NewCache without a bus returned a cache")
	}
	id := uuid.New()
	c.Put(c.StartFill(), id, "v")
	c.Drop(id)
	wantMiss(t, c, id)
	if h, m := c.Lookups(); h != 0 || m != 0 || c.Len() != 0 {
		t.Errorf("a nil cache counts %d hits, %d misses, keeps %d", h, m, c.Len())
	}
}

// A cache serves what it keeps while its bus serves, counts its hits and misses, and forgets
// a dropped id at once; a bus that does not run yet serves nothing.
func TestCacheKeepsAndDrops(t *testing.T) {
	t.Parallel()
	st, _ := cohDB(t)
	b := coherence.New(st, slog.New(slog.DiscardHandler), coherence.Options{Renew: 100 * time.Millisecond})
	c := coherence.NewCache[string](b, 16)
	id, other := uuid.New(), uuid.New()
	c.Put(c.StartFill(), id, "kept")
	if b.Serving() {
		t.Fatal("a bus that does not run serves")
	}
	wantMiss(t, c, id)
	if h, m := c.Lookups(); h != 0 || m != 0 {
		t.Errorf("lookups while not serving counted: %d hits, %d misses", h, m)
	}
	startBus(t, b)
	testutil.Eventually(t, 10*time.Second, "the bus to serve", b.Serving)
	// The session's start forgot what was kept before it.
	wantMiss(t, c, id)
	c.Put(c.StartFill(), id, "kept")
	wantHit(t, c, id, "kept")
	wantMiss(t, c, other)
	if h, m := c.Lookups(); h != 1 || m != 2 {
		t.Errorf("%d hits and %d misses, want 1 and 2", h, m)
	}
	if c.Len() != 1 {
		t.Errorf("Len %d, want 1", c.Len())
	}
	c.Drop(id)
	wantMiss(t, c, id)
	if c.Len() != 0 {
		t.Errorf("Len %d after the drop, want 0", c.Len())
	}
	if d := time.Since(b.DBNow()); d < -time.Second || d > time.Second {
		t.Errorf("DBNow is %s off the clock of the same machine", d)
	}
}

// The fill guard: a value read before an invalidation (of any id, local or announced) is not
// kept, since it may be a row deleted meanwhile; a fill with no invalidation in between is.
func TestCacheFillGuard(t *testing.T) {
	t.Parallel()
	st, _ := cohDB(t)
	b := servingBus(t, st, coherence.Options{Renew: 100 * time.Millisecond})
	c := coherence.NewCache[string](b, 16)
	id := uuid.New()

	f := c.StartFill()
	c.Drop(uuid.New())
	c.Put(f, id, "stale")
	wantMiss(t, c, id)

	f = c.StartFill()
	announce(t, st, b, "inv - "+uuid.NewString())
	c.Put(f, id, "stale")
	wantMiss(t, c, id)

	c.Put(c.StartFill(), id, "fresh")
	wantHit(t, c, id, "fresh")
}

// A full cache forgets an eighth of its values (and one) to make room, never more, and keeps
// the new one.
func TestCacheEvictsAnEighth(t *testing.T) {
	t.Parallel()
	st, _ := cohDB(t)
	b := servingBus(t, st, coherence.Options{Renew: 100 * time.Millisecond})
	const max = 16
	c := coherence.NewCache[string](b, max)
	ids := make([]uuid.UUID, max)
	for i := range ids {
		ids[i] = uuid.New()
		c.Put(c.StartFill(), ids[i], "v")
	}
	if c.Len() != max {
		t.Fatalf("Len %d after %d values, want all %d kept", c.Len(), max, max)
	}
	for _, id := range ids {
		wantHit(t, c, id, "v")
	}
	last := uuid.New()
	c.Put(c.StartFill(), last, "last")
	if want := max - (max/8 + 1) + 1; c.Len() != want {
		t.Fatalf("Len %d after one more value, want %d", c.Len(), want)
	}
	wantHit(t, c, last, "last")
	// Putting a kept id again replaces it without growing.
	c.Put(c.StartFill(), last, "again")
	wantHit(t, c, last, "again")
	if want := max - (max/8 + 1) + 1; c.Len() != want {
		t.Fatalf("Len %d after replacing a value, want %d", c.Len(), want)
	}
}

// An announcement removes the ids it names and no others; "*" or an id list that cannot be
// read removes everything; one without ids removes nothing.
func TestAnnouncementsInvalidate(t *testing.T) {
	t.Parallel()
	st, _ := cohDB(t)
	b := servingBus(t, st, coherence.Options{Renew: 100 * time.Millisecond})
	c := coherence.NewCache[string](b, 16)
	x, y, z := uuid.New(), uuid.New(), uuid.New()
	for _, id := range []uuid.UUID{x, y, z} {
		c.Put(c.StartFill(), id, "v")
	}
	announce(t, st, b, "inv - ")
	wantHit(t, c, x, "v")
	announce(t, st, b, fmt.Sprintf("inv - %s,%s", x, y))
	wantMiss(t, c, x)
	wantMiss(t, c, y)
	wantHit(t, c, z, "v")
	announce(t, st, b, "inv - *")
	wantMiss(t, c, z)

	c.Put(c.StartFill(), z, "v")
	announce(t, st, b, "inv - "+z.String()[:8])
	wantMiss(t, c, z)
	// Beats of other sessions and acknowledgements of nothing change nothing.
	c.Put(c.StartFill(), z, "v")
	announce(t, st, b, "beat "+uuid.NewString()+" 1")
	announce(t, st, b, "ack 00 not-a-session")
	announce(t, st, b, "ack 00 "+uuid.NewString())
	wantHit(t, c, z, "v")
	if !b.Serving() {
		t.Fatal("another session's beat stopped this one serving")
	}
}

// A change waits for the acknowledgement of every live session, and no longer: with sessions
// that acknowledge, a barrier returns long before their leases would run out.
func TestChangeReturnsOnAcknowledgements(t *testing.T) {
	t.Parallel()
	st, _ := cohDB(t)
	opt := coherence.Options{Lease: 20 * time.Second, Renew: 100 * time.Millisecond}
	a := servingBus(t, st, opt)
	servingBus(t, st, opt)
	for range 3 {
		start := time.Now()
		if err := a.Barrier(context.Background()); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Fatalf("a barrier over two acknowledging sessions took %s", took)
		}
	}
}

// A session that holds a lease and does not acknowledge (a hung instance) holds a change up
// until its lease runs out, and no longer: not until the waiting instance's own lease.
func TestChangeWaitsForAHungLease(t *testing.T) {
	t.Parallel()
	st, _ := cohDB(t)
	b := servingBus(t, st, coherence.Options{Lease: 20 * time.Second, Renew: 100 * time.Millisecond})
	ctx := context.Background()
	if _, err := st.Pool.Exec(ctx, `INSERT INTO cache_sessions (id, lease_until) VALUES (gen_random_uuid(), now() + interval '2 seconds')`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := b.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < time.Second || took > 12*time.Second {
		t.Fatalf("the barrier took %s; want about the 2 s left of the hung session's lease", took)
	}
	// A change whose caller goes away stops waiting.
	if _, err := st.Pool.Exec(ctx, `INSERT INTO cache_sessions (id, lease_until) VALUES (gen_random_uuid(), now() + interval '1 minute')`); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if err := b.Barrier(cctx); err == nil {
		t.Fatal("a barrier held up by a hung lease returned no error when its context ended")
	}
}

// A session whose renewals stop (here: blocked by a lock on its row) stops serving from
// memory before its lease, as the database counts it, runs out: a lease's margin before.
func TestServingEndsBeforeTheLease(t *testing.T) {
	t.Parallel()
	st, _ := cohDB(t)
	const lease = 1500 * time.Millisecond
	b := servingBus(t, st, coherence.Options{Lease: lease, Renew: 100 * time.Millisecond})
	ctx := context.Background()
	tx, err := st.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT id FROM cache_sessions FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	// Every renewal that completes began before now: it granted at most lease - margin.
	locked := time.Now()
	testutil.Eventually(t, lease-500*time.Millisecond+200*time.Millisecond-time.Since(locked),
		"the session to stop serving once its renewals are blocked", func() bool { return !b.Serving() })
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the session to serve again", b.Serving)
}

// An instance whose listening connection is lost stops serving, listens again, and removes
// the row of its lost session at once, so that no change waits for that session's lease.
func TestLostConnectionIsReplaced(t *testing.T) {
	t.Parallel()
	st, _ := cohDB(t)
	b := servingBus(t, st, coherence.Options{Lease: 20 * time.Second, Renew: 100 * time.Millisecond})
	ctx := context.Background()
	var killed int
	if err := st.Pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1) k`, store.ListenerApplicationName).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("%d listening connections terminated, want 1", killed)
	}
	testutil.Eventually(t, 10*time.Second, "a new session to serve and the lost one's row to go", func() bool {
		var rows int
		if err := st.Pool.QueryRow(ctx, "SELECT count(*) FROM cache_sessions").Scan(&rows); err != nil {
			t.Fatal(err)
		}
		return rows == 1 && b.Serving()
	})
	start := time.Now()
	if err := b.Barrier(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("a barrier after the reconnection took %s: it waited for the lost session", took)
	}
}

// beats listens on the channel and returns the heartbeats of the first session heard, with
// the time each arrived, until it has n of them.
func beats(t *testing.T, url string, n int) []time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+coherence.Channel); err != nil {
		t.Fatal(err)
	}
	var session string
	var at []time.Time
	for len(at) < n {
		note, err := conn.WaitForNotification(ctx)
		if err != nil {
			t.Fatalf("after %d heartbeats: %v", len(at), err)
		}
		f := strings.Fields(note.Payload)
		if len(f) != 3 || f[0] != "beat" || (session != "" && f[1] != session) {
			continue
		}
		session = f[1]
		at = append(at, time.Now())
	}
	return at
}

// With the default options a session serves, and renews (and beats) once a second, not more.
func TestDefaultRenewal(t *testing.T) {
	t.Parallel()
	st, url := cohDB(t)
	servingBus(t, st, coherence.Options{})
	at := beats(t, url, 3)
	if span := at[2].Sub(at[0]); span < 1500*time.Millisecond {
		t.Fatalf("3 heartbeats within %s: the default renewal is once a second", span)
	}
}

// A session that does not hear its own heartbeats says so once, not at every renewal.
func TestDeafSessionWarnsOnce(t *testing.T) {
	t.Parallel()
	st, url := cohDB(t)
	logs := &testutil.LogBuffer{}
	deaf := coherence.New(st, slog.New(slog.NewJSONHandler(logs, nil)), coherence.Options{Renew: 50 * time.Millisecond})
	coherence.ListenOn(deaf, "elsewhere")
	startBus(t, deaf)
	beats(t, url, 6)
	if n := strings.Count(logs.String(), "does not hear the notifications sent on the pool"); n != 1 {
		t.Fatalf("the warning was logged %d times over 6 renewals, want once", n)
	}
	if deaf.Serving() {
		t.Fatal("a deaf session serves")
	}
}

// An operator's command that deletes a tenant waits for the acknowledgements of the serving
// instances (a Watcher), not for their leases.
func TestWatcherCollectsAcknowledgements(t *testing.T) {
	t.Parallel()
	st, _ := cohDB(t)
	servingBus(t, st, coherence.Options{Lease: 20 * time.Second, Renew: 100 * time.Millisecond})
	adm := admin.New(st, testutil.FastHash)
	ctx := context.Background()
	for _, tenant := range []string{"acme", "globex"} {
		if err := adm.AddTenant(ctx, tenant); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := adm.DeleteTenant(ctx, nil, tenant); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Fatalf("deleting tenant %s took %s: the watcher did not hear the acknowledgement", tenant, took)
		}
	}
}
