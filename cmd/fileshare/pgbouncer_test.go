package main_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"fileshare/internal/store"
	"fileshare/internal/testutil"
)

// Two instances whose database URL leads to PgBouncer in transaction pooling mode (docs/behaviour.md §8.4):
// every core rule holds. With the direct URL, the instances listen there (the cache announcements
// and the job queue's notifier) and serve downloads from memory; without it, they never serve
// from memory, the job queue polls, and migrations refuse to run through the pooler.
func TestThroughPgBouncer(t *testing.T) {
	t.Parallel()
	for _, direct := range []bool{true, false} {
		name := "without the direct URL"
		if direct {
			name = "with the direct URL"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bouncer := testutil.StartPgBouncer(t)
			dbURL := testutil.NewDatabase(t)
			env := append(dbEnv(bouncer.URL(dbURL)), "FILESHARE_DATA_DIR="+t.TempDir(), "FILESHARE_WEBHOOK_ALLOW_PRIVATE=true")
			if direct {
				env = append(env, "FILESHARE_DATABASE_DIRECT_URL="+dbURL)
				ok(t, env, "", "migrate", "up")
			} else {
				fails(t, env, "", "migrations need a session of their own", "migrate", "up")
			}
			// The operator's commands work through the pooler.
			for _, tenant := range []string{"acme", "quota"} {
				ok(t, env, "", "tenant", "add", tenant)
			}
			ok(t, env, "pw\n", "user", "add", "alice@acme", "--password-stdin")
			ok(t, env, "pw\n", "user", "add", "bob@quota", "--password-stdin")

			nodes := startServers(t, 2, env)
			c := &cluster{t: t, nodes: nodes}
			c.coreRules(env, "alice@acme", "quota", "bob@quota", "pw")

			db, err := pgx.Connect(context.Background(), dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close(context.Background())
			sessions := func(app string) int {
				var n int
				if err := db.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`, app).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			// The budget (8) is shared out: the pool gets what the sessions leave.
			wantPool := 8
			if direct {
				wantPool = 6
			}
			for i, s := range nodes {
				if got := metric(t, s, "fileshare_db_pool_max_connections"); got != wantPool {
					t.Errorf("instance %d: a pool of %d connections, want %d", i, got, wantPool)
				}
			}
			if direct {
				// Each instance listens on the direct URL, twice, and serves from memory.
				testutil.Eventually(t, 10*time.Second, "a listening session and a queue listener per instance", func() bool {
					return sessions(store.ListenerApplicationName) == len(nodes) && sessions(store.QueueListenerApplicationName) == len(nodes)
				})
				id := c.uploadEverywhere("alice@acme", "pw", []byte("kept in memory"))
				for _, s := range nodes {
					testutil.Eventually(t, 10*time.Second, "a download served from memory", func() bool {
						before := cacheHits(t, s)
						c.want(c.on(s, http.MethodGet, "/uploads/"+id, "", "", nil), http.StatusOK, "download")
						return cacheHits(t, s) > before
					})
				}
			} else {
				for i, s := range nodes {
					if n := cacheHits(t, s); n != 0 {
						t.Errorf("instance %d served %d downloads from memory without a session to listen on", i, n)
					}
					if !strings.Contains(s.Logs.String(), "cache coherence off") {
						t.Errorf("instance %d did not say that it serves nothing from memory:\n%s", i, s.Logs)
					}
				}
			}
			for i, s := range nodes {
				if code := s.Stop(); code != 0 {
					t.Errorf("instance %d exited %d:\n%s", i, code, s.Logs)
				}
				if strings.Contains(s.Logs.String(), `"level":"ERROR"`) {
					t.Errorf("instance %d logged an error:\n%s", i, s.Logs)
				}
			}
		})
	}
}
