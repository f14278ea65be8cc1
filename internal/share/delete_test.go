package share_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/auth"
	"fileshare/internal/testutil"
)

// A deletion whose transaction has committed answers success and removes its blob, whatever
// fails after the commit: here the request goes away while the deletion waits for the
// instances' caches (a session that holds a lease and never acknowledges).
func TestCommittedDeleteAnswersSuccessAndRemovesItsBlob(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser("alice@acme", "pw")
	body, ctype := testutil.Multipart(t, testutil.FilePart("a.txt", []byte("to delete")))
	req := e.NewRequest(http.MethodPost, "/uploads", "alice@acme", "pw", bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	id := uuid.MustParse(testutil.Decode[struct{ ID string }](t, e.Do(req), http.StatusCreated).ID)
	if n := len(testutil.BlobFiles(t, e.DataDir)); n != 1 {
		t.Fatalf("%d blobs after the upload", n)
	}
	// Not testutil.Exec, which would wait for this session's acknowledgement too.
	if _, err := e.Store.Pool.Exec(context.Background(), `INSERT INTO cache_sessions (id, lease_until) VALUES ($1, now() + interval '3 seconds')`, uuid.New()); err != nil {
		t.Fatal(err)
	}
	alice := auth.Principal{TenantID: testutil.QueryInt(t, e, "SELECT id FROM tenants WHERE name = 'acme'"), Login: "alice@acme"}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	deleted := make(chan error, 1)
	go func() { deleted <- e.App.Service.DeleteUpload(ctx, alice, id) }()
	testutil.Eventually(t, 10*time.Second, "the deletion to commit", func() bool {
		return testutil.QueryInt(t, e, `SELECT count(*) FROM uploads WHERE id = $1`, id) == 0
	})
	cancel() // the client goes away after the commit
	if err := <-deleted; err != nil {
		t.Fatalf("a committed deletion answered %v", err)
	}
	if n := len(testutil.BlobFiles(t, e.DataDir)); n != 0 {
		t.Fatal("a committed deletion left its blob")
	}
}
