package main

// The quota decision's cost at a thousand and at a million uploads of one tenant.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"fileshare/internal/store"
)

// quotaFileBytes is the size of each seeded upload.
const quotaFileBytes = 1024

// seedUploads adds a tenant with a quota and n live uploads, directly in the database (their
// blobs are not needed: nothing downloads them), and returns its id.
func (b *bench) seedUploads(conn *pgx.Conn, tenant string, n int) int64 {
	ctx := context.Background()
	b.fs.run("tenant", "add", tenant)
	b.fs.run("tenant", "set", tenant, "--max-bytes", strconv.Itoa(2*n*quotaFileBytes))
	var id int64
	must(conn.QueryRow(ctx, "SELECT id FROM tenants WHERE name = $1", tenant).Scan(&id))
	// Their expiries spread over a week, as a tenant's uploads would be.
	_, err := conn.Exec(ctx, `INSERT INTO uploads (id, tenant_id, created_by, name, content_type, size, sha256, blob_key, expires_at)
		SELECT gen_random_uuid(), $1, 'u@'||$2, 'f', 'text/plain', $3, sha256('bench'::bytea),
		       'upload/bench/'||$2||'/'||i, now() + interval '1 hour' + (i % 10080) * interval '1 minute'
		FROM generate_series(1, $4) AS i`, id, tenant, quotaFileBytes, n)
	must(err)
	_, err = conn.Exec(ctx, "ANALYZE uploads")
	must(err)
	return id
}

// errRollback ends a measured decision without keeping its hold.
var errRollback = errors.New("rollback")

// quota measures the service's quota decision itself — the transaction that locks the
// tenant's row, reads what it keeps and holds bytes, rolled back here — through the store, at
// 1,000 and at quotaRows uploads of a tenant.
func (b *bench) quota() []result {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.dbURL)
	must(err)
	defer conn.Close(ctx)
	smallID := b.seedUploads(conn, "quota1k", 1000)
	largeID := b.seedUploads(conn, "quota1m", b.o.quotaRows)
	st, err := store.Open(ctx, b.dbURL, store.Options{ConnectTimeout: 5 * time.Second, QueryTimeout: time.Minute, MaxConns: 2})
	must(err)
	defer st.Close()
	decide := func(tenantID int64) {
		err := st.InTx(ctx, func(tx *store.Tx) error {
			q := tx.Tenant(tenantID).Quota()
			max, err := q.Lock(ctx)
			if err != nil {
				return err
			}
			if fits, err := q.HoldIfFits(ctx, uuid.New(), quotaFileBytes, max); err != nil || !fits {
				return fmt.Errorf("a hold of %d bytes: fits %v, %w", quotaFileBytes, fits, err)
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			fatalf("quota decision: %v", err)
		}
	}
	used, err := st.Tenant(largeID).Quota().UsedBytes(ctx)
	must(err)
	if want := int64(b.o.quotaRows) * quotaFileBytes; used != want {
		fatalf("the tenant with %d uploads keeps %d bytes, want %d", b.o.quotaRows, used, want)
	}
	// The two tenants' decisions alternate, so that a change in the machine's load weighs on
	// both alike.
	p50s := func() (small, large float64) {
		var ls, ll []float64
		for i := 0; i < 300; i++ {
			ds, dl := timed(func() { decide(smallID) }), timed(func() { decide(largeID) })
			if i >= 20 { // the first decisions warm caches
				ls = append(ls, float64(ds.Microseconds())/1000)
				ll = append(ll, float64(dl.Microseconds())/1000)
			}
		}
		return median(ls), median(ll)
	}
	var smalls, larges []float64
	for i := 0; i < b.o.runs; i++ {
		s, l := p50s()
		smalls, larges = append(smalls, s), append(larges, l)
	}
	s, l := median(smalls), median(larges)
	return []result{
		{Name: "quota decision p50, 1,000 uploads", Unit: "ms", Fileshare: s, Runs: smalls, Target: "report"},
		{Name: fmt.Sprintf("quota decision p50, %d uploads", b.o.quotaRows), Unit: "ms", Fileshare: l, Runs: larges,
			Target: "≤1.5× the 1,000 figure", Met: boolp(l <= 1.5*s), Note: fmt.Sprintf("%.2f× the 1,000-upload p50", l/s)},
	}
}
