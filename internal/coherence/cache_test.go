package coherence_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/coherence"
	"fileshare/internal/testutil"
)

// A fill that read a row before the row was deleted on another instance, and puts what it read
// after this instance has applied the deletion's announcement, keeps nothing: the deleted row
// does not come back into memory (the generation check of Cache.Put).
func TestFillSpanningADeletionKeepsNothing(t *testing.T) {
	t.Parallel()
	const login = "alice@acme"
	e := testutil.NewEnv(t)
	e.AddUser(login, "pw")
	bus := e.App.Coherence
	cache := coherence.NewCache[string](bus, 10)
	up := e.Upload(t, login, "a.txt", []byte("a"))
	id := uuid.MustParse(up.ID)
	// The instance's session is up, and has applied whatever the upload itself announced.
	testutil.Eventually(t, 10*time.Second, "the instance to serve from memory", bus.Serving)
	e.Settle()
	// Signalled once this instance has applied an invalidation of the row, the cache above
	// first (registered after it).
	applied := make(chan struct{}, 1)
	coherence.OnInvalidate(bus, func(ids []uuid.UUID, all bool) {
		if all || slices.Contains(ids, id) {
			select {
			case applied <- struct{}{}:
			default:
			}
		}
	})
	read := func() string {
		t.Helper()
		var name string
		if err := e.Store.Pool.QueryRow(context.Background(), `SELECT name FROM uploads WHERE id = $1`, id).Scan(&name); err != nil {
			t.Fatalf("reading the upload's row: %v", err)
		}
		return name
	}

	// A fill with nothing in between is kept: the cache keeps what it is given, so what
	// follows cannot pass for want of keeping anything.
	f := cache.StartFill()
	cache.Put(f, id, read())
	if !coherence.Kept(cache, id) {
		t.Fatal("a fill with no invalidation in between was not kept")
	}

	// The fill reads the row; the row is deleted on another instance, and the deletion applied
	// here; only then does the fill put what it read.
	twin := e.Twin()
	f = cache.StartFill()
	name := read()
	select {
	case <-applied: // an earlier invalidation: not the one waited for
	default:
	}
	if r := twin.Call(http.MethodDelete, "/uploads/"+up.ID, login, "pw", nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE on the other instance: %d %s", r.StatusCode, r.Body)
	}
	select {
	case <-applied:
	case <-time.After(10 * time.Second):
		t.Fatal("this instance did not apply the deletion's announcement")
	}
	if coherence.Kept(cache, id) {
		t.Fatal("the deletion's announcement left the row in memory")
	}
	cache.Put(f, id, name)
	if coherence.Kept(cache, id) {
		t.Fatal("a fill that spanned the deletion put the deleted row back in memory")
	}
	if _, ok := cache.Get(id); ok {
		t.Fatal("the deleted row is served from memory")
	}
}
