package httpapi_test

// Tests of the session list: its order, limit, cursor and pages, also while sessions are
// being created.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fileshare/internal/testutil"
)

func TestSessionListLimitAndCursorValidation(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	for _, path := range []string{"/sessions", "/sessions/" + s.ID + "/files"} {
		for _, limit := range []string{"0", "-1", "1001", "abc", "", "1.5", "99999999999999999999"} {
			testutil.WantError(t, sessCall(t, e, http.MethodGet, path+"?limit="+limit, sessAlice, nil), http.StatusBadRequest, "invalid limit")
		}
		for _, after := range []string{"", "zzz", "AAAA", "!!!!", strings.Repeat("A", 31), strings.Repeat("A", 33)} {
			testutil.WantError(t, sessCall(t, e, http.MethodGet, path+"?after="+after, sessAlice, nil), http.StatusBadRequest, "invalid cursor")
		}
		for _, limit := range []string{"1", "1000"} {
			testutil.Decode[[]json.RawMessage](t, sessCall(t, e, http.MethodGet, path+"?limit="+limit, sessAlice, nil), http.StatusOK)
		}
	}
}

// sessSeedSessions inserts n sessions of tenant in one statement, so that they share one
// created_at and their order rests on the id alone.
func sessSeedSessions(t *testing.T, e *testutil.Env, tenant string, n int) {
	t.Helper()
	testutil.Exec(t, e, `INSERT INTO sessions (id, tenant_id, created_by, expires_at)
		SELECT gen_random_uuid(), $1, 'seed@' || $3, now() + interval '1 day' FROM generate_series(1, $2)`,
		sessTenantID(t, e, tenant), n, tenant)
}

func sessSessionIDs(t *testing.T, e *testutil.Env) map[string]bool {
	t.Helper()
	rows, err := e.Store.Pool.Query(context.Background(), `SELECT id::text FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// sessCheckOrder checks that rows are strictly ordered by (createdAt, id), descending or not.
func sessCheckOrder(t *testing.T, at []time.Time, ids []string, desc bool) {
	t.Helper()
	for i := 1; i < len(ids); i++ {
		c := at[i-1].Compare(at[i])
		if c == 0 {
			c = strings.Compare(ids[i-1], ids[i])
		}
		if desc {
			c = -c
		}
		if c >= 0 {
			t.Fatalf("rows %d and %d out of order: (%s, %s) then (%s, %s)", i-1, i, at[i-1], ids[i-1], at[i], ids[i])
		}
	}
}

func TestSessionListPagination(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	e.AddUser(sessBob, sessPW)
	sessSeedSessions(t, e, "acme", 130)
	sessSeedSessions(t, e, "other", 20) // another tenant's rows are never listed
	for range 5 {
		sessCreateSession(t, e, sessAlice, nil)
	}
	sessExpireSession(t, e, sessCreateSession(t, e, sessAlice, nil).ID) // expired: never listed
	all := 135

	// The default page is 100 rows, with a Link while more remain.
	r := sessCall(t, e, http.MethodGet, "/sessions", sessAlice, nil)
	if page := testutil.Decode[[]sessSession](t, r, http.StatusOK); len(page) != 100 {
		t.Fatalf("default page: %d rows, want 100", len(page))
	}
	if sessNextLink(t, e, r) == "" {
		t.Fatal("no Link on the first of two pages")
	}

	for _, limit := range []int{1, 7, 45, 134, 135, 136, 1000} {
		rows, pages := sessWalk[sessSession](t, e, sessAlice, fmt.Sprintf("/sessions?limit=%d", limit), nil)
		if len(rows) != all {
			t.Fatalf("limit %d: %d rows, want %d", limit, len(rows), all)
		}
		if want := (all + limit - 1) / limit; pages != want {
			t.Fatalf("limit %d: %d pages, want %d (no Link once nothing remains)", limit, pages, want)
		}
		seen := map[string]bool{}
		at, ids := make([]time.Time, len(rows)), make([]string, len(rows))
		for i, s := range rows {
			if seen[s.ID] {
				t.Fatalf("limit %d: session %s listed twice", limit, s.ID)
			}
			seen[s.ID] = true
			at[i], ids[i] = s.CreatedAt, s.ID
			if !strings.HasSuffix(s.CreatedBy, "@acme") {
				t.Fatalf("limit %d: listed another tenant's session %+v", limit, s)
			}
		}
		sessCheckOrder(t, at, ids, true)
	}
}

// sessWriters starts writers goroutines that each send perWriter requests made by newReq(w, i),
// every one of which must answer 201. between waits until step more of them have answered
// (or all have), so that a walk of a list runs while rows are being added; wait waits for the
// writers to finish, fails on any error of theirs and returns how many requests succeeded.
func sessWriters(t *testing.T, e *testutil.Env, what string, writers, perWriter int, step int64, newReq func(w, i int) *http.Request) (between func(), wait func() int64) {
	t.Helper()
	var made atomic.Int64
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				req := newReq(w, i)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs <- fmt.Errorf("%s %s: %d", req.Method, req.URL.Path, resp.StatusCode)
					return
				}
				made.Add(1)
			}
		})
	}
	between = func() {
		want := min(made.Load()+step, int64(writers*perWriter))
		testutil.Eventually(t, 10*time.Second, "the writers to add "+what, func() bool {
			select {
			case err := <-errs:
				t.Fatalf("writer: %v", err)
			default:
			}
			return made.Load() >= want
		})
	}
	wait = func() int64 {
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("writer: %v", err)
		}
		return made.Load()
	}
	return between, wait
}

// TestSessionListPaginationWhileCreating walks the list while other goroutines keep creating
// sessions: every session that existed at the start is seen exactly once, none twice.
func TestSessionListPaginationWhileCreating(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	sessSeedSessions(t, e, "acme", 40)
	for range 10 {
		sessCreateSession(t, e, sessAlice, nil)
	}
	sessSeedSessions(t, e, "acme", 30)
	existing := sessSessionIDs(t, e)

	// Between pages, wait until the writers have made progress, so that the walk really runs
	// while rows are being added.
	const writers, perWriter = 4, 15
	between, wait := sessWriters(t, e, "sessions", writers, perWriter, 3, func(_, _ int) *http.Request {
		return e.NewRequest(http.MethodPost, "/sessions", sessAlice, sessPW, nil)
	})
	rows, _ := sessWalk[sessSession](t, e, sessAlice, "/sessions?limit=6", between)
	made := wait()
	seen := map[string]int{}
	at, ids := make([]time.Time, len(rows)), make([]string, len(rows))
	for i, s := range rows {
		seen[s.ID]++
		at[i], ids[i] = s.CreatedAt, s.ID
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("session %s seen %d times", id, n)
		}
	}
	for id := range existing {
		if seen[id] != 1 {
			t.Fatalf("session %s existed at the start and was seen %d times", id, seen[id])
		}
	}
	sessCheckOrder(t, at, ids, true)
	if made != writers*perWriter {
		t.Fatalf("writers made %d sessions", made)
	}
}
