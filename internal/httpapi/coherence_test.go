package httpapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"fileshare/internal/store"
	"fileshare/internal/testutil"
)

// The helpers of this file start with "coh".

// cohHits is how many downloads instance e served from memory so far.
func cohHits(t *testing.T, e *testutil.Env) float64 {
	t.Helper()
	m, _ := scrape(t, e)
	return m["fileshare_upload_cache_lookups_total{result=hit}"]
}

// cohWarm downloads path on e until e serves it from memory.
func cohWarm(t *testing.T, e *testutil.Env, path string) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "downloads of "+path+" served from memory", func() bool {
		before := cohHits(t, e)
		if r := upGet(e, http.MethodGet, path); r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, r.StatusCode, r.Body)
		}
		return cohHits(t, e) > before
	})
}

// Two instances serve downloads from memory under load while the files are deleted one by one,
// each DELETE sent to either instance: no download that started after a DELETE's 204, on either
// instance, gets the file.
func TestDeleteUnderDownloadLoadOnTwoInstances(t *testing.T) {
	t.Parallel()
	a := testutil.NewEnv(t)
	a.AddUser("alice@acme", "pw")
	b := a.Twin()
	instances := []*testutil.Env{a, b}

	const files = 30
	paths := make([]string, files)
	for i := range paths {
		up := upCreate(a, "alice@acme", "pw", testutil.FilePart(fmt.Sprintf("f%d.txt", i), []byte(fmt.Sprintf("content %d", i))))
		paths[i] = "/uploads/" + up.ID
	}
	for _, e := range instances {
		cohWarm(t, e, paths[0])
	}
	hitsBefore := cohHits(t, a) + cohHits(t, b)

	type download struct {
		file       int
		start, end time.Time
		status     int
	}
	var (
		mu        sync.Mutex
		downloads []download
		deletedAt = make([]time.Time, files) // when each DELETE's 204 arrived
		stop      = make(chan struct{})
		wg        sync.WaitGroup
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				f := rng.IntN(files)
				e := instances[rng.IntN(2)]
				start := time.Now()
				resp, err := http.Get(e.URL + paths[f])
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				downloads = append(downloads, download{file: f, start: start, end: time.Now(), status: resp.StatusCode})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(100 * time.Millisecond) // some downloads of every file before the first DELETE
	for i := range files {
		e := instances[i%2]
		r := e.Do(e.NewRequest(http.MethodDelete, paths[i], "alice@acme", "pw", nil))
		if r.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE %s: %d %s", paths[i], r.StatusCode, r.Body)
		}
		mu.Lock()
		deletedAt[i] = time.Now()
		mu.Unlock()
		time.Sleep(15 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()

	var after, servedBefore, stale int
	for _, d := range downloads {
		switch {
		case d.start.After(deletedAt[d.file]):
			after++
			if d.status != http.StatusNotFound {
				stale++
				t.Errorf("file %d: a download that started %s after the DELETE's 204 got %d", d.file, d.start.Sub(deletedAt[d.file]), d.status)
			}
		case d.end.Before(deletedAt[d.file]) && d.status == http.StatusOK:
			servedBefore++
		case d.status != http.StatusOK && d.status != http.StatusNotFound:
			t.Errorf("file %d: download during its DELETE got %d", d.file, d.status)
		}
	}
	hits := cohHits(t, a) + cohHits(t, b) - hitsBefore
	t.Logf("%d downloads: %d served before their file's DELETE, %d started after its 204 (%d of them got the file); %.0f served from memory",
		len(downloads), servedBefore, after, stale, hits)
	if after < files || servedBefore < files {
		t.Fatalf("the load did not cover the deletions: %d downloads after a 204, %d before", after, servedBefore)
	}
	if hits < float64(servedBefore)/2 {
		t.Fatalf("only %.0f of %d downloads were served from memory: the test does not test the cache", hits, servedBefore)
	}
}

// An instance that loses its listening connection stops serving from memory at once, and a
// deletion made meanwhile on another instance is honoured by it.
func TestLostListenerStopsServingFromMemory(t *testing.T) {
	t.Parallel()
	a := testutil.NewEnv(t)
	a.AddUser("alice@acme", "pw")
	b := a.Twin()
	up := upCreate(a, "alice@acme", "pw", testutil.FilePart("x.txt", []byte("x")))
	path := "/uploads/" + up.ID
	cohWarm(t, b, path)

	killed := testutil.QueryInt(t, a, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1) k`, store.ListenerApplicationName)
	if killed != 2 {
		t.Fatalf("%d listening connections terminated, want 2", killed)
	}
	start := time.Now()
	if r := a.Do(a.NewRequest(http.MethodDelete, path, "alice@acme", "pw", nil)); r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.StatusCode, r.Body)
	}
	// The instances' new sessions remove the rows of the lost ones: the DELETE need not
	// wait for their leases to run out.
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("DELETE answered after %s", took)
	}
	for _, e := range []*testutil.Env{a, b} {
		if r := upGet(e, http.MethodGet, path); r.StatusCode != http.StatusNotFound {
			t.Fatalf("after the DELETE: %d, want 404", r.StatusCode)
		}
	}
	// The instances listen again and serve from memory again.
	other := upCreate(a, "alice@acme", "pw", testutil.FilePart("y.txt", []byte("y")))
	cohWarm(t, b, "/uploads/"+other.ID)
}

// A listening session that stops acknowledging (a hung instance) holds a deletion up until
// its lease runs out, never longer, and the deletion then answers.
func TestDeletionWaitsForAHungSessionsLease(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser("alice@acme", "pw")
	up := upCreate(e, "alice@acme", "pw", testutil.FilePart("x.txt", []byte("x")))
	// Not testutil.Exec: its barrier would wait for the hung session too.
	if _, err := e.Store.Pool.Exec(context.Background(), `INSERT INTO cache_sessions (id, lease_until) VALUES (gen_random_uuid(), now() + interval '1500 milliseconds')`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if r := e.Do(e.NewRequest(http.MethodDelete, "/uploads/"+up.ID, "alice@acme", "pw", nil)); r.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", r.StatusCode, r.Body)
	}
	took := time.Since(start)
	if took < time.Second || took > 4*time.Second {
		t.Fatalf("DELETE took %s; want about the 1.5 s left of the hung session's lease", took)
	}
}

// A cached upload stops being served at its expiry: every download that starts after
// expiresAt answers 410.
func TestCachedUploadExpiresOnTime(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser("alice@acme", "pw")
	up := upCreate(e, "alice@acme", "pw", testutil.FilePart("x.txt", []byte("x")), testutil.FieldPart("ttl", "3"))
	path := "/uploads/" + up.ID
	cohWarm(t, e, path)
	for {
		start := time.Now()
		r := upGet(e, http.MethodGet, path)
		if start.After(up.ExpiresAt) && r.StatusCode != http.StatusGone {
			t.Fatalf("a download %s after expiresAt got %d", start.Sub(up.ExpiresAt), r.StatusCode)
		}
		if r.StatusCode == http.StatusGone {
			if !start.Add(2 * time.Second).After(up.ExpiresAt) {
				t.Fatalf("410 %s before expiresAt", up.ExpiresAt.Sub(start))
			}
			if start.After(up.ExpiresAt.Add(time.Second)) {
				return
			}
		} else if r.StatusCode != http.StatusOK {
			t.Fatalf("GET: %d", r.StatusCode)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A row deleted by hand (an operator in psql) is announced to the instances as well.
func TestRowDeletedInPsqlLeavesTheCaches(t *testing.T) {
	t.Parallel()
	a := testutil.NewEnv(t)
	a.AddUser("alice@acme", "pw")
	b := a.Twin()
	up := upCreate(a, "alice@acme", "pw", testutil.FilePart("x.txt", []byte("x")))
	path := "/uploads/" + up.ID
	cohWarm(t, a, path)
	cohWarm(t, b, path)
	testutil.Exec(t, a, "DELETE FROM uploads WHERE id = $1", up.ID)
	for _, e := range []*testutil.Env{a, b} {
		if r := upGet(e, http.MethodGet, path); r.StatusCode != http.StatusNotFound {
			t.Fatalf("after the DELETE in psql: %d, want 404", r.StatusCode)
		}
	}
}

// Deleting a tenant (the operator's command) returns once no instance serves its uploads from
// memory.
func TestTenantDeletionLeavesTheCaches(t *testing.T) {
	t.Parallel()
	a := testutil.NewEnv(t)
	a.AddUser("alice@acme", "pw")
	b := a.Twin()
	up := upCreate(a, "alice@acme", "pw", testutil.FilePart("x.txt", []byte("x")))
	path := "/uploads/" + up.ID
	cohWarm(t, a, path)
	cohWarm(t, b, path)
	if err := a.Admin.DeleteTenant(context.Background(), a.App.Blobs, "acme"); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*testutil.Env{a, b} {
		if r := upGet(e, http.MethodGet, path); r.StatusCode != http.StatusNotFound {
			t.Fatalf("after the tenant's deletion: %d, want 404", r.StatusCode)
		}
	}
}

// TRUNCATE is announced like every deletion: after `TRUNCATE uploads CASCADE` (or of the
// tenants) in psql, no instance serves the uploads from memory.
func TestTruncateLeavesTheCaches(t *testing.T) {
	t.Parallel()
	for _, stmt := range []string{"TRUNCATE uploads CASCADE", "TRUNCATE tenants CASCADE"} {
		a := testutil.NewEnv(t)
		a.AddUser("alice@acme", "pw")
		b := a.Twin()
		up := upCreate(a, "alice@acme", "pw", testutil.FilePart("x.txt", []byte("x")))
		path := "/uploads/" + up.ID
		cohWarm(t, a, path)
		cohWarm(t, b, path)
		testutil.Exec(t, a, stmt)
		for _, e := range []*testutil.Env{a, b} {
			testutil.Eventually(t, time.Second, "no instance serving the truncated upload", func() bool {
				return upGet(e, http.MethodGet, path).StatusCode == http.StatusNotFound
			})
		}
	}
}
