package share_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"fileshare/internal/auth"
	"fileshare/internal/blob"
	"fileshare/internal/share"
	"fileshare/internal/testutil"
)

// Concurrent uploads commit in shared transactions; one that cannot be committed (its tenant
// does not exist: its bytes are held by another, since a tenant that does not exist cannot
// even hold them) fails alone, its blob removed, and the others of its group are committed.
func TestGroupCommitFailsOnlyTheBadUpload(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser("alice@acme", "pw")
	svc := e.App.Service
	alice := auth.Principal{TenantID: testutil.QueryInt(t, e, "SELECT id FROM tenants WHERE name = 'acme'"), Login: "alice@acme"}
	ghost := auth.Principal{TenantID: 1 << 40, Login: "ghost@nowhere"}
	ctx := context.Background()

	for round := 0; round < 20; round++ {
		const n = 16
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, n)
		ids := make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := alice
				if i == n/2 {
					p = ghost
				}
				content, err := svc.Stage(ctx, blob.KindUpload, bytes.NewReader([]byte(fmt.Sprintf("r%d-%d", round, i))), -1, 1<<20, share.ErrTooLarge, share.QuotaOf(alice))
				if err != nil {
					errs[i] = err
					return
				}
				defer content.Discard(ctx)
				<-start
				up, err := svc.CreateUpload(ctx, p, content, share.NewUpload{Name: "f.txt", ContentType: "text/plain"})
				errs[i], ids[i] = err, up.ID.String()
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if i == n/2 {
				if err == nil {
					t.Fatalf("round %d: the upload of a tenant that does not exist was committed", round)
				}
				continue
			}
			if err != nil {
				t.Fatalf("round %d: upload %d: %v", round, i, err)
			}
			if r := e.Do(e.NewRequest("GET", "/uploads/"+ids[i], "", "", nil)); r.StatusCode != 200 || string(r.Body) != fmt.Sprintf("r%d-%d", round, i) {
				t.Fatalf("round %d: upload %d: %d %q", round, i, r.StatusCode, r.Body)
			}
		}
	}
	if rows, blobs := testutil.QueryInt(t, e, "SELECT count(*) FROM uploads"), len(testutil.BlobFiles(t, e.DataDir)); int64(blobs) != rows || rows != 20*15 {
		t.Fatalf("%d rows and %d blobs, want %d of each: a failed upload left its blob, or a good one was lost", rows, blobs, 20*15)
	}
	groups, _, failed := svc.GroupCommits()
	t.Logf("%d group transactions committed, %d failed and fell back", groups, failed)
	if groups == 0 || failed == 0 {
		t.Fatal("the bad upload never shared a group: the test did not test the fallback")
	}
}
