package main

// The measurements of database work: listings of many sessions, and downloads during a purge.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"fileshare/internal/blob"
)

// seedSessions adds n sessions to a new tenant with one user, directly in the database.
func (b *bench) seedSessions(tenant string, n int) {
	b.fs.run("tenant", "add", tenant)
	b.fs.runStdin(password+"\n", "user", "add", "u@"+tenant, "--password-stdin")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.dbURL)
	must(err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `INSERT INTO sessions (id, tenant_id, created_by, created_at, expires_at)
		SELECT gen_random_uuid(), (SELECT id FROM tenants WHERE name = $1), 'u@'||$1,
		       now() - i * interval '1 millisecond', now() + interval '7 days'
		FROM generate_series(1, $2) AS i`, tenant, n)
	must(err)
	_, err = conn.Exec(ctx, "ANALYZE sessions")
	must(err)
}

func (b *bench) listing() []result {
	b.seedSessions("list1k", 1000)
	b.seedSessions("list1m", b.o.listRows)
	p50 := func(tenant string) float64 {
		var lat []float64
		for i := 0; i < 300; i++ {
			r, _ := http.NewRequest(http.MethodGet, b.fs.URL+"/sessions?limit=100", nil)
			r.SetBasicAuth("u@"+tenant, password)
			t0 := time.Now()
			_, code, err := do(r)
			if err != nil || code != http.StatusOK {
				fatalf("list: %d %v", code, err)
			}
			if i >= 20 { // the first requests warm caches and the credential cache
				lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
			}
		}
		return median(lat)
	}
	var small, large []float64
	for i := 0; i < b.o.runs; i++ {
		small = append(small, p50("list1k"))
		large = append(large, p50("list1m"))
	}
	s, l := median(small), median(large)
	return []result{
		{Name: "GET /sessions?limit=100 p50, 1,000 sessions", Unit: "ms", Fileshare: s, Runs: small, Target: "report"},
		{Name: fmt.Sprintf("GET /sessions?limit=100 p50, %d sessions", b.o.listRows), Unit: "ms", Fileshare: l, Runs: large,
			Target: "≤1.5× the 1,000 figure", Met: boolp(l <= 1.5*s), Note: fmt.Sprintf("%.2f× the 1,000-session p50", l/s)},
	}
}

func (b *bench) purge() []result {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.dbURL)
	must(err)
	defer conn.Close(ctx)
	live := b.multipartUpload(kib)
	var secs, p99s []float64
	for i := 0; i < b.o.runs; i++ {
		const chunk = 10_000
		for done := 0; done < b.o.purgeRows; done += chunk {
			keys := make([]string, min(chunk, b.o.purgeRows-done))
			for k := range keys {
				keys[k] = blob.NewKey(blob.KindUpload)
				p := filepath.Join(b.fs.DataDir, "blobs", filepath.FromSlash(keys[k]))
				os.MkdirAll(filepath.Dir(p), 0o750)
				must(os.WriteFile(p, []byte("expired"), 0o640))
			}
			_, err := conn.Exec(ctx, `INSERT INTO uploads (id, tenant_id, created_by, name, content_type, size, sha256, blob_key, created_at, expires_at)
				SELECT gen_random_uuid(), (SELECT id FROM tenants WHERE name = 'bench'), 'bench@bench', 'f', 'text/plain', 7,
				       sha256('expired'::bytea), k, now() - interval '2 hours', now() - interval '1 hour'
				FROM unnest($1::text[]) AS k`, keys)
			must(err)
		}
		stop := make(chan loadResult)
		purgeDone := make(chan struct{})
		go func() {
			stop <- loadUntil(4, purgeDone, func() error { return get(b.fs.URL + "/uploads/" + live) })
		}()
		d := timed(func() { b.fs.run("purge") })
		close(purgeDone)
		lr := <-stop
		var left int
		conn.QueryRow(ctx, "SELECT count(*) FROM uploads WHERE purged_at IS NULL AND expires_at <= now()").Scan(&left)
		if left != 0 {
			fatalf("purge left %d expired uploads", left)
		}
		secs = append(secs, d.Seconds())
		p99s = append(p99s, float64(lr.P99.Microseconds())/1000)
	}
	s, p := median(secs), median(p99s)
	return []result{
		{Name: fmt.Sprintf("purge pass over %d expired uploads", b.o.purgeRows), Unit: "s", Fileshare: s, Runs: secs,
			Target: "≤60 s", Met: boolp(s <= 60)},
		{Name: "download p99 during the purge", Unit: "ms", Fileshare: p, Runs: p99s, Target: "≤100 ms", Met: boolp(p <= 100)},
	}
}
