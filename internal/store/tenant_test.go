package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"fileshare/internal/store"
	"fileshare/internal/testutil"
)

// TestTenantScopeHidesOtherTenantsData: what one tenant owns is not found through another
// tenant's handle, read or written, on the pool and in a transaction; the capability lookups
// still find it by its id; a batch inserts each row under the tenant it was bound to.
func TestTenantScopeHidesOtherTenantsData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, testutil.NewDatabase(t), store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	a, err := st.TenantsByName().Create(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.TenantsByName().Create(ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}
	owner, stranger := st.Tenant(a.ID), st.Tenant(b.ID)

	sess, err := owner.Sessions().Create(ctx, uuid.New(), "alice@acme", 3600)
	if err != nil {
		t.Fatal(err)
	}
	file, err := owner.Files().Create(ctx, store.NewFile{ID: uuid.New(), SessionID: sess.ID, Name: "f.txt", ContentType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	ups, err := st.UploadBatch().Create(ctx, []store.BoundUpload{owner.Uploads().Bind(store.NewUpload{
		ID: uuid.New(), CreatedBy: "alice@acme", Name: "u.txt", ContentType: "text/plain", Size: 1,
		SHA256: make([]byte, 32), BlobKey: "uploads/x", TTLSeconds: 3600,
	})})
	if err != nil {
		t.Fatal(err)
	}
	up := ups[0]
	hook, err := owner.Webhooks().Create(ctx, store.NewWebhook{ID: uuid.New(), URL: "https://example.com/", Events: []string{}, Secret: make([]byte, 32), CreatedBy: "alice@acme"})
	if err != nil {
		t.Fatal(err)
	}

	notFound := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s through another tenant: %v, want ErrNotFound", what, err)
		}
	}
	_, err = stranger.Sessions().Get(ctx, sess.ID)
	notFound("session get", err)
	_, err = stranger.Sessions().State(ctx, sess.ID)
	notFound("session state", err)
	_, err = stranger.Files().Get(ctx, file.ID)
	notFound("file get", err)
	_, err = stranger.Files().Store(ctx, file.ID, store.StoredContent{Size: 1, SHA256: make([]byte, 32), BlobKey: "files/x"})
	notFound("file store", err)
	_, err = stranger.Files().Delete(ctx, sess.ID, file.ID)
	notFound("file delete", err)
	_, err = stranger.Tokens().Create(ctx, store.NewToken{Hash: make([]byte, 32), Ref: uuid.New(), CreatedBy: "eve@globex", SessionID: sess.ID, FileID: file.ID})
	notFound("token create", err)
	_, err = stranger.UploadURLs().Create(ctx, make([]byte, 32), file.ID, "eve@globex", 60)
	notFound("upload URL create", err)
	_, err = stranger.Uploads().Delete(ctx, up.ID)
	notFound("upload delete", err)
	_, err = stranger.Webhooks().Get(ctx, hook.ID)
	notFound("webhook get", err)
	if files, err := stranger.Files().List(ctx, sess.ID, 10, nil); err != nil || len(files) != 0 {
		t.Errorf("file list through another tenant: %v %v", files, err)
	}
	if n, err := stranger.Webhooks().Delete(ctx, hook.ID); err != nil || n != 0 {
		t.Errorf("webhook delete through another tenant: %d %v", n, err)
	}
	err = st.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.Tenant(b.ID).Sessions().Lock(ctx, sess.ID)
		return err
	})
	notFound("session lock in a transaction", err)
	if n, err := stranger.Sessions().Delete(ctx, sess.ID); err != nil || n != 0 {
		t.Errorf("session delete through another tenant: %d %v", n, err)
	}

	// The owner still has everything; the download link finds the upload without a tenant.
	if _, err := owner.Sessions().Get(ctx, sess.ID); err != nil {
		t.Errorf("owner's session: %v", err)
	}
	if got, err := st.UploadsByID().Get(ctx, up.ID); err != nil || got.TenantID != a.ID {
		t.Errorf("upload by its link: %+v %v", got, err)
	}

	// A batch's rows keep the tenants they were bound to.
	rows, err := st.UploadBatch().Create(ctx, []store.BoundUpload{
		owner.Uploads().Bind(store.NewUpload{ID: uuid.New(), CreatedBy: "alice@acme", Name: "a", ContentType: "text/plain", SHA256: make([]byte, 32), BlobKey: "uploads/a", TTLSeconds: 60}),
		stranger.Uploads().Bind(store.NewUpload{ID: uuid.New(), CreatedBy: "eve@globex", Name: "b", ContentType: "text/plain", SHA256: make([]byte, 32), BlobKey: "uploads/b", TTLSeconds: 60}),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		want := map[string]int64{"a": a.ID, "b": b.ID}[r.Name]
		if r.TenantID != want {
			t.Errorf("batch row %q has tenant %d, want %d", r.Name, r.TenantID, want)
		}
	}
}
