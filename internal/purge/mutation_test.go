package purge_test

// Tests of the purge's bounds through its own API on a real database: batches that end only on
// a short one, the defaults of its options, the ages of the sweeps. Each asserts a behaviour
// that a mutant of the bound breaks (docs/mutation.md).

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/auth"
	"fileshare/internal/blob"
	"fileshare/internal/purge"
	"fileshare/internal/share"
	"fileshare/internal/testutil"
)

// mtRun is one pass of p, which must end within a minute and without an error: a batch loop
// that no longer ends fails the test rather than hanging it.
func mtRun(t *testing.T, p *purge.Purger) purge.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := p.RunOnce(ctx)
	if err != nil {
		t.Fatalf("purge pass: %v", err)
	}
	return r
}

// mtPrincipal is alice as she authenticates.
func mtPrincipal(t *testing.T, e *testutil.Env) auth.Principal {
	t.Helper()
	p, err := e.App.Authn.Authenticate(context.Background(), login, password, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mtBlobPath is the file of the blob with key.
func mtBlobPath(e *testutil.Env, key string) string {
	return filepath.Join(e.DataDir, "blobs", filepath.FromSlash(key))
}

// mtOld makes the file at p as old as mtime.
func mtOld(t *testing.T, p string, mtime time.Time) {
	t.Helper()
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// mtOrphan writes a blob that no row names, as old as mtime, and returns its file.
func mtOrphan(t *testing.T, e *testutil.Env, mtime time.Time) string {
	t.Helper()
	p := mtBlobPath(e, blob.NewKey(blob.KindUpload))
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("orphan"), 0o640); err != nil {
		t.Fatal(err)
	}
	mtOld(t, p, mtime)
	return p
}

func mtExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Every step goes batch after batch until one comes back short: with batches of two, three
// rows (a full batch, then a short one) and four rows (two full batches, then an empty one)
// all go in one pass, whatever they are.
func TestPurgeBatchesUntilAShortOne(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	var uploadBytes int64
	for i := range 4 {
		content := []byte("upload " + string(rune('a'+i)))
		uploadBytes += int64(len(content))
		expireUpload(t, e, e.Upload(t, login, "u", content).ID, 2*time.Hour)
	}
	var fileBytes int64
	var expired []string
	for i := range 3 {
		content := []byte("file " + string(rune('a'+i)))
		fileBytes += int64(len(content))
		expired = append(expired, e.StoredFile(t, login, "f", content).SessionID)
	}
	// Three spent tokens and three expired upload URLs in a live session.
	live := e.StoredFile(t, login, "kept", []byte("kept"))
	for range 3 {
		e.Token(t, login, live, false)
	}
	testutil.Exec(t, e, `UPDATE download_tokens SET created_at = now() - interval '3 hours',
		consumed_at = now() - interval '2 hours' WHERE file_id = $1`, live.ID)
	svc, p := e.App.Service, mtPrincipal(t, e)
	sid := uuid.MustParse(live.SessionID)
	for range 3 {
		f, err := svc.CreateFile(ctx, p, sid, share.NewFile{Name: "pending"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateUploadURL(ctx, p, f.ID, 60); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Exec(t, e, `UPDATE upload_tokens SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour'`)
	// Three unfinished resumable uploads, with 4 bytes each, expired.
	for range 3 {
		up, err := svc.CreateTus(ctx, share.Uploader{Principal: &p}, share.NewTus{Length: 10, Upload: share.NewUpload{Name: "t"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AppendTus(ctx, up.ID, share.TusChunk{Offset: 0, Body: strings.NewReader("four"), Length: 4}); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Exec(t, e, `UPDATE tus_uploads SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour'`)
	for _, sid := range expired {
		testutil.Exec(t, e, `UPDATE sessions SET created_at = now() - interval '3 hours', expires_at = now() - interval '2 hours' WHERE id = $1`, sid)
	}

	purger := purge.New(e.Store, e.App.Blobs, slog.New(slog.DiscardHandler), purge.Options{
		BatchSize: 2, OrphanGrace: time.Hour, TombstoneRetention: time.Hour,
	})
	r := mtRun(t, purger)
	if r.UploadsExpired != 4 || r.UploadBytes != uploadBytes {
		t.Errorf("%d uploads (%d bytes) expired, want 4 (%d bytes)", r.UploadsExpired, r.UploadBytes, uploadBytes)
	}
	if r.SessionsExpired != 3 || r.FilesDeleted != 3 || r.FileBytes != fileBytes {
		t.Errorf("%d sessions, %d files (%d bytes) expired, want 3, 3 (%d bytes)", r.SessionsExpired, r.FilesDeleted, r.FileBytes, fileBytes)
	}
	if r.TokensDeleted != 3 || r.UploadURLsDeleted != 3 {
		t.Errorf("%d spent tokens and %d upload URLs deleted, want 3 and 3", r.TokensDeleted, r.UploadURLsDeleted)
	}
	if r.TusUploadsExpired != 3 || r.TusBytes != 12 {
		t.Errorf("%d resumable uploads (%d bytes) expired, want 3 (12 bytes)", r.TusUploadsExpired, r.TusBytes)
	}
	if r.BlobErrors != 0 {
		t.Errorf("%d blob errors", r.BlobErrors)
	}
	// Their tombstones are past the retention: they go too, in this pass or the next.
	again := mtRun(t, purger)
	if n := r.TombstonesDeleted + again.TombstonesDeleted; n != 4 {
		t.Errorf("%d upload tombstones deleted, want 4", n)
	}
	if n := r.SessionTombstonesDeleted + again.SessionTombstonesDeleted; n != 3 {
		t.Errorf("%d session tombstones deleted, want 3", n)
	}
	if blobs := testutil.BlobFiles(t, e.DataDir); len(blobs) != 1 {
		t.Errorf("blobs left: %v, want the live entry's only", blobs)
	}
}

// An orphan sweep in batches of two removes every old unreferenced blob and keeps the blobs
// that rows name, whatever the batch they fall in.
func TestOrphanSweepInBatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	old := time.Now().Add(-2 * time.Hour)
	var orphans []string
	for range 5 {
		orphans = append(orphans, mtOrphan(t, e, old))
	}
	var kept []string
	for range 3 {
		e.Upload(t, login, "k", []byte("kept"))
	}
	for _, k := range testutil.BlobFiles(t, e.DataDir) {
		p := mtBlobPath(e, k)
		if !slices.Contains(orphans, p) {
			kept = append(kept, p)
			mtOld(t, p, old)
		}
	}
	if len(kept) != 3 {
		t.Fatalf("%d blobs of uploads, want 3", len(kept))
	}
	purger := purge.New(e.Store, e.App.Blobs, slog.New(slog.DiscardHandler), purge.Options{
		BatchSize: 2, OrphanGrace: time.Hour, TombstoneRetention: time.Hour,
	})
	if r := mtRun(t, purger); r.OrphansRemoved != 5 {
		t.Fatalf("%d orphans removed, want 5", r.OrphansRemoved)
	}
	for _, p := range orphans {
		if mtExists(p) {
			t.Errorf("orphan %s left", p)
		}
	}
	for _, p := range kept {
		if !mtExists(p) {
			t.Errorf("referenced blob %s removed", p)
		}
	}
}

// Quota holds are swept once a day old, login failure counters once they can hold nothing
// back; younger ones stay.
func TestSweepAges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tenant := testutil.QueryInt(t, e, "SELECT id FROM tenants WHERE name = 'acme'")
	testutil.Exec(t, e, `INSERT INTO quota_reservations (id, tenant_id, bytes, created_at) VALUES
		(gen_random_uuid(), $1, 1, now() - interval '25 hours'), (gen_random_uuid(), $1, 1, now() - interval '23 hours')`, tenant)
	stale := auth.DefaultThresholds.StaleAfter()
	testutil.Exec(t, e, `INSERT INTO auth_failures (key, failures, window_start, last_failure_at) VALUES
		('old', 1, now() - $1::interval, now() - $1::interval), ('young', 1, now() - $2::interval, now() - $2::interval)`,
		(stale + time.Minute).String(), (stale - time.Minute).String())
	purger := purge.New(e.Store, e.App.Blobs, slog.New(slog.DiscardHandler), purge.Options{OrphanGrace: time.Hour, TombstoneRetention: time.Hour})
	r := mtRun(t, purger)
	if r.QuotaHolds != 1 || testutil.QueryInt(t, e, "SELECT count(*) FROM quota_reservations") != 1 {
		t.Errorf("%d quota holds swept, want the one over a day old", r.QuotaHolds)
	}
	if r.LoginCounters != 1 || testutil.QueryInt(t, e, "SELECT count(*) FROM auth_failures WHERE key = 'young'") != 1 {
		t.Errorf("%d login counters deleted, want the stale one only", r.LoginCounters)
	}
}

// With no options the purge takes its defaults: it runs a pass at once, on a schedule, in
// batches that end, each with time to finish, and records its events (of expired uploads and
// sessions) in an outbox of its own.
func TestPurgeDefaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A webhook, so that the events of the pass are delivered somewhere.
	if r := e.Call(http.MethodPost, "/webhooks", login, password, map[string]any{"url": "https://192.0.2.10/hook"}); r.StatusCode != http.StatusCreated {
		t.Fatalf("POST /webhooks: %d %s", r.StatusCode, r.Body)
	}
	expireUpload(t, e, e.Upload(t, login, "u", []byte("gone")).ID, time.Minute)
	sid := e.StoredFile(t, login, "f", []byte("gone too")).SessionID
	testutil.Exec(t, e, `UPDATE sessions SET created_at = now() - interval '3 hours', expires_at = now() - interval '2 hours' WHERE id = $1`, sid)
	purger := purge.New(e.Store, e.App.Blobs, slog.New(slog.DiscardHandler), purge.Options{})
	purger.TestSignals.Init()
	if err := purger.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(purger.Stop)
	r := purger.TestSignals.PassDone.Wait(t, time.Minute)
	if r.UploadsExpired != 1 || r.SessionsExpired != 1 {
		t.Fatalf("the first pass expired %d uploads and %d sessions, want 1 and 1", r.UploadsExpired, r.SessionsExpired)
	}
	for _, typ := range []string{"upload.expired", "session.expired"} {
		if n := testutil.QueryInt(t, e, "SELECT count(*) FROM webhook_events WHERE type = $1", typ); n != 1 {
			t.Fatalf("%d %s events recorded, want 1", n, typ)
		}
	}
}

// walkFails is a blob store whose walk of the blobs fails, and with it the orphan sweep.
type walkFails struct{ blob.Store }

func (walkFails) Walk(context.Context, time.Time, func(string) error) error {
	return errors.New("walk failed")
}

// A step that fails does not stop the pass: the steps after it still run, and the pass reports
// the failure under the step's name; the scheduler logs a failed pass as an error.
func TestFailedStepIsReported(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tenant := testutil.QueryInt(t, e, "SELECT id FROM tenants WHERE name = 'acme'")
	testutil.Exec(t, e, `INSERT INTO quota_reservations (id, tenant_id, bytes, created_at)
		VALUES (gen_random_uuid(), $1, 1, now() - interval '25 hours')`, tenant)
	logs := &testutil.LogBuffer{}
	purger := purge.New(e.Store, walkFails{e.App.Blobs}, slog.New(slog.NewJSONHandler(logs, nil)),
		purge.Options{OrphanGrace: time.Hour, TombstoneRetention: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := purger.RunOnce(ctx)
	if err == nil || !strings.Contains(err.Error(), "orphan blobs: walk failed") {
		t.Fatalf("a pass whose orphan sweep failed returned %v, want the step's error", err)
	}
	if r.QuotaHolds != 1 {
		t.Fatalf("%d quota holds swept: the steps after the failed one did not run", r.QuotaHolds)
	}
	purger.TestSignals.Init()
	if err := purger.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(purger.Stop)
	purger.TestSignals.PassDone.Wait(t, time.Minute)
	if !strings.Contains(logs.String(), `"level":"ERROR","msg":"purge pass failed"`) {
		t.Fatalf("the scheduled pass that failed was not logged as an error: %s", logs.String())
	}
}
