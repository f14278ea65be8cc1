package httpapi_test

// This file is over 400 lines: every upload route against the quota rules; one suite so that the routes are compared alike.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fileshare/internal/auth"
	"fileshare/internal/testutil"
)

const mib = 1 << 20

// quotaEnv is a service with tenant acme (user alice@acme) limited to maxBytes and
// maxFileBytes (0 = unlimited), and tenant other (bob@other) unlimited.
func quotaEnv(t *testing.T, maxBytes, maxFileBytes int64) *testutil.Env {
	t.Helper()
	e := sessNewEnv(t)
	e.AddUser("bob@other", sessPW)
	if err := e.Admin.SetLimits(context.Background(), "acme", &maxBytes, &maxFileBytes); err != nil {
		t.Fatal(err)
	}
	return e
}

// quotaUsage is GET /usage as login.
type quotaUsage struct {
	Bytes, MaxBytes, MaxFileBytes, Uploads, Sessions, Files int64
}

func quotaGetUsage(t *testing.T, e *testutil.Env, login string) quotaUsage {
	t.Helper()
	return testutil.Decode[quotaUsage](t, sessCall(t, e, http.MethodGet, "/usage", login, nil), http.StatusOK)
}

// quotaStoredBytes sums what the rows of tenant acme hold: live uploads and stored entries of
// live sessions; and counts the quota holds left.
func quotaStoredBytes(t *testing.T, e *testutil.Env) (stored, holds int64) {
	t.Helper()
	err := e.Store.Pool.QueryRow(context.Background(), `
		SELECT coalesce((SELECT sum(u.size) FROM uploads u JOIN tenants t ON t.id = u.tenant_id
		                 WHERE t.name = 'acme' AND u.purged_at IS NULL AND u.expires_at > now()), 0)
		     + coalesce((SELECT sum(f.size) FROM session_files f JOIN sessions s ON s.id = f.session_id JOIN tenants t ON t.id = f.tenant_id
		                 WHERE t.name = 'acme' AND f.state = 'stored' AND s.expires_at > now()), 0),
		       (SELECT count(*) FROM quota_reservations)`).Scan(&stored, &holds)
	if err != nil {
		t.Fatal(err)
	}
	return stored, holds
}

// quotaUpload sends one upload of data as alice in the given way to instance e: a multipart
// POST /uploads, a raw PUT with Content-Length, or a chunked raw PUT (size unknown).
func quotaUpload(t *testing.T, e *testutil.Env, way string, data []byte) *testutil.Response {
	t.Helper()
	switch way {
	case "multipart":
		return upPost(e, sessAlice, sessPW, testutil.FilePart("q.bin", data))
	case "raw", "chunked":
		s := sessCreateSession(t, e, sessAlice, nil)
		f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "q.bin"})
		var body io.Reader = bytes.NewReader(data)
		if way == "chunked" {
			body = io.MultiReader(bytes.NewReader(data)) // no length: sent chunked
		}
		req := e.NewRequest(http.MethodPut, "/sessions/"+s.ID+"/files/"+f.ID, sessAlice, sessPW, body)
		if way == "chunked" {
			req.ContentLength = -1
		}
		return e.Do(req)
	}
	t.Fatalf("unknown way %q", way)
	return nil
}

// 50 concurrent uploads of 1 MiB into a tenant with 10 MiB left, spread over two instances, in
// each way of sending: the stored bytes never pass the quota, every refusal is 507 quota
// exceeded with nothing left behind, and the usage equals the stored files.
func TestQuotaConcurrentUploads(t *testing.T) {
	t.Parallel()
	for _, way := range []string{"multipart", "raw", "chunked"} {
		t.Run(way, func(t *testing.T) {
			t.Parallel()
			e := quotaEnv(t, 10*mib, 0)
			twin := e.Twin()
			data := bytes.Repeat([]byte("q"), mib)
			var (
				wg         sync.WaitGroup
				mu         sync.Mutex
				ok, refuse int
				start      = make(chan struct{})
			)
			for i := range 50 {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					on := e
					if i%2 == 1 {
						on = twin
					}
					<-start
					r := quotaUpload(t, on, way, data)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case r.StatusCode/100 == 2:
						ok++
					case r.StatusCode == http.StatusInsufficientStorage && strings.Contains(string(r.Body), `"quota exceeded"`):
						refuse++
					default:
						t.Errorf("upload %d: %d %s", i, r.StatusCode, r.Body)
					}
				}(i)
			}
			close(start)
			wg.Wait()
			stored, holds := quotaStoredBytes(t, e)
			if stored > 10*mib || stored != int64(ok)*mib {
				t.Fatalf("%d stored, %d refused: %d bytes stored, want %d and at most %d", ok, refuse, stored, int64(ok)*mib, 10*mib)
			}
			if ok == 0 || ok+refuse != 50 {
				t.Fatalf("%d stored, %d refused of 50", ok, refuse)
			}
			if holds != 0 {
				t.Errorf("%d quota holds left after the uploads", holds)
			}
			if u := quotaGetUsage(t, e, sessAlice); u.Bytes != stored || u.MaxBytes != 10*mib {
				t.Errorf("usage %+v, want %d bytes of %d", u, stored, 10*mib)
			}
			if got := len(testutil.BlobFiles(t, e.DataDir)); got != ok {
				t.Errorf("%d blobs for %d stored files: refused uploads left theirs", got, ok)
			}
			if tmp := testutil.TempFiles(t, e.DataDir); len(tmp) != 0 {
				t.Errorf("temp files left: %v", tmp)
			}
			t.Logf("%s: %d stored, %d refused", way, ok, refuse)
		})
	}
}

// Deleting or expiring frees the bytes at once, without waiting for the purge; the quota and
// the largest file are the tenant's alone.
func TestQuotaFreedAtOnceAndPerTenant(t *testing.T) {
	t.Parallel()
	e := quotaEnv(t, 3*mib, 2*mib)
	data := bytes.Repeat([]byte("f"), mib)
	a := upCreate(e, sessAlice, sessPW, testutil.FilePart("a", data))
	b := upCreate(e, sessAlice, sessPW, testutil.FilePart("b", data))
	s := sessCreateSession(t, e, sessAlice, nil)
	sessStoredFile(t, e, sessAlice, s.ID, "c", data)
	testutil.WantError(t, upPost(e, sessAlice, sessPW, testutil.FilePart("d", data)), http.StatusInsufficientStorage, "quota exceeded")

	// Another tenant is not limited by acme's quota.
	for range 4 {
		r := upPost(e, "bob@other", sessPW, testutil.FilePart("o", data))
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("another tenant's upload: %d %s", r.StatusCode, r.Body)
		}
	}

	// A delete frees its bytes at once.
	if r := sessCall(t, e, http.MethodDelete, "/uploads/"+a.ID, sessAlice, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	upCreate(e, sessAlice, sessPW, testutil.FilePart("e", data))
	testutil.WantError(t, upPost(e, sessAlice, sessPW, testutil.FilePart("f", data)), http.StatusInsufficientStorage, "quota exceeded")

	// An expiry frees its bytes at once, before any purge.
	if _, err := e.Store.Pool.Exec(context.Background(),
		"UPDATE uploads SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE id = $1", b.ID); err != nil {
		t.Fatal(err)
	}
	upCreate(e, sessAlice, sessPW, testutil.FilePart("g", data))
	// So does an expired session.
	if _, err := e.Store.Pool.Exec(context.Background(),
		"UPDATE sessions SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE id = $1", s.ID); err != nil {
		t.Fatal(err)
	}
	upCreate(e, sessAlice, sessPW, testutil.FilePart("h", data))
	if u := quotaGetUsage(t, e, sessAlice); u.Bytes != 3*mib || u.Uploads != 3 || u.Sessions != 0 || u.MaxFileBytes != 2*mib {
		t.Errorf("usage %+v, want 3 MiB in 3 uploads, no live session", u)
	}

	// The largest file: 413, refused as soon as the size is known.
	big := bytes.Repeat([]byte("b"), 2*mib+1)
	if _, err := e.Store.Pool.Exec(context.Background(), "DELETE FROM uploads"); err != nil {
		t.Fatal(err)
	}
	testutil.WantError(t, upPost(e, sessAlice, sessPW, testutil.FilePart("big", big)), http.StatusRequestEntityTooLarge, "file too large")
	s2 := sessCreateSession(t, e, sessAlice, nil)
	testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions/"+s2.ID+"/files", sessAlice, map[string]any{"name": "big", "size": 2*mib + 1}),
		http.StatusRequestEntityTooLarge, "file too large")
	testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions/"+s2.ID+"/files", sessAlice, map[string]any{"name": "big", "size": 3*mib + 1}),
		http.StatusRequestEntityTooLarge, "file too large")
	f := sessCreateFile(t, e, sessAlice, s2.ID, map[string]any{"name": "big"})
	testutil.WantError(t, sessPut(t, e, sessAlice, s2.ID, f.ID, big), http.StatusRequestEntityTooLarge, "file too large")
	// A declared size over what is left: 507 at once.
	quota := int64(mib)
	if err := e.Admin.SetLimits(context.Background(), "acme", &quota, nil); err != nil {
		t.Fatal(err)
	}
	upCreate(e, sessAlice, sessPW, testutil.FilePart("fill", bytes.Repeat([]byte("x"), mib/2)))
	testutil.WantError(t, sessCall(t, e, http.MethodPost, "/sessions/"+s2.ID+"/files", sessAlice, map[string]any{"name": "late", "size": mib}),
		http.StatusInsufficientStorage, "quota exceeded")
	if tmp := testutil.TempFiles(t, e.DataDir); len(tmp) != 0 {
		t.Errorf("temp files left: %v", tmp)
	}
}

// A storm of concurrent uploads, deletes and expiries: afterwards the usage recomputed from the
// rows equals what GET /usage reports, and no hold is left.
func TestQuotaUsageNeverDrifts(t *testing.T) {
	t.Parallel()
	e := quotaEnv(t, 6*mib, 0)
	twin := e.Twin()
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			on := e
			if w%2 == 1 {
				on = twin
			}
			for i := range 8 {
				size := (w*8+i)%5*200_000 + 1
				way := []string{"multipart", "raw", "chunked"}[(w+i)%3]
				r := quotaUpload(t, on, way, bytes.Repeat([]byte{byte(i)}, size))
				if r.StatusCode/100 != 2 && r.StatusCode != http.StatusInsufficientStorage {
					t.Errorf("upload: %d %s", r.StatusCode, r.Body)
					return
				}
				if way == "multipart" && r.StatusCode == http.StatusCreated && i%2 == 0 {
					var a struct{ ID string }
					if err := json.Unmarshal(r.Body, &a); err == nil {
						if i%4 == 0 {
							on.Do(on.NewRequest(http.MethodDelete, "/uploads/"+a.ID, sessAlice, sessPW, nil))
						} else {
							on.Store.Pool.Exec(context.Background(),
								"UPDATE uploads SET created_at = now() - interval '1 hour', expires_at = now() - interval '1 second' WHERE id = $1", a.ID)
						}
					}
				}
			}
		}(w)
	}
	wg.Wait()
	if _, err := e.App.Purger.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	stored, holds := quotaStoredBytes(t, e)
	if u := quotaGetUsage(t, e, sessAlice); u.Bytes != stored || stored > 6*mib || holds != 0 {
		t.Fatalf("usage %d, recomputed from the rows %d (quota %d), holds left %d", u.Bytes, stored, 6*mib, holds)
	}
}

// Application passwords: they log in as their user without argon2, are listed with their last
// use, stop at once when revoked or when the user is disabled (on every instance), count
// toward throttling, and never reach the log.
func TestAppPasswords(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	twin := e.Twin()
	ctx := context.Background()
	ci, err := e.Admin.AddAppPassword(ctx, sessAlice, "ci")
	if err != nil {
		t.Fatal(err)
	}
	rtc, err := e.Admin.AddAppPassword(ctx, sessAlice, "rtc-engine")
	if err != nil {
		t.Fatal(err)
	}
	if ci == rtc || len(ci) < 30 || auth.AppPasswordHash(ci) == nil {
		t.Fatalf("application passwords %q, %q", ci, rtc)
	}
	if _, err := e.Admin.AddAppPassword(ctx, sessAlice, "ci"); err == nil {
		t.Fatal("a second password of the same name was issued")
	}
	get := func(on *testutil.Env, pw string) int {
		return on.Do(on.NewRequest(http.MethodGet, "/sessions", sessAlice, pw, nil)).StatusCode
	}
	for _, on := range []*testutil.Env{e, twin} {
		if c := get(on, ci); c != http.StatusOK {
			t.Fatalf("app password: %d", c)
		}
		if c := get(on, sessPW); c != http.StatusOK {
			t.Fatalf("the user's own password: %d", c)
		}
	}
	// The last use is recorded, coarsely and in the background.
	testutil.Eventually(t, 5*time.Second, "the app password's last use", func() bool {
		list, err := e.Admin.ListAppPasswords(ctx, sessAlice)
		return err == nil && len(list) == 2 && list[0].Name == "ci" && list[0].LastUsedAt != nil && list[1].LastUsedAt == nil
	})
	// Revoked: refused on the very next request, on both instances; the other one still works.
	if err := e.Admin.RevokeAppPassword(ctx, sessAlice, "ci"); err != nil {
		t.Fatal(err)
	}
	for _, on := range []*testutil.Env{e, twin} {
		if c := get(on, ci); c != http.StatusUnauthorized {
			t.Fatalf("revoked app password: %d", c)
		}
		if c := get(on, rtc); c != http.StatusOK {
			t.Fatalf("the other app password: %d", c)
		}
	}
	// A disabled user's app passwords stop too.
	if err := e.Admin.SetDisabled(ctx, sessAlice, true); err != nil {
		t.Fatal(err)
	}
	for _, on := range []*testutil.Env{e, twin} {
		if c := get(on, rtc); c != http.StatusUnauthorized {
			t.Fatalf("app password of a disabled user: %d", c)
		}
	}
	if err := e.Admin.SetDisabled(ctx, sessAlice, false); err != nil {
		t.Fatal(err)
	}
	if c := get(e, rtc); c != http.StatusOK { // a success resets the failures so far
		t.Fatalf("app password of the enabled user: %d", c)
	}
	// Wrong app passwords count toward the throttle like any password.
	wrong, _, _ := auth.NewAppPassword()
	for i := range 10 {
		if c := get(e, wrong); c != http.StatusUnauthorized {
			t.Fatalf("wrong app password %d: %d", i+1, c)
		}
	}
	if c := get(e, rtc); c != http.StatusTooManyRequests {
		t.Fatalf("after 10 wrong app passwords: %d, want 429", c)
	}
	for _, l := range []*testutil.Env{e, twin} {
		if logs := l.Logs.String(); strings.Contains(logs, ci) || strings.Contains(logs, rtc) || strings.Contains(logs, wrong) {
			t.Fatal("an application password reached the log")
		}
	}
}

// Resumable uploads hold their whole Upload-Length against the quota from their creation:
// 50 concurrent creations of 1 MiB into a tenant with 10 MiB left, over two instances, let at
// most 10 through (507 quota exceeded at once for the others); completing them stores exactly
// what was held, and a termination gives its bytes back.
func TestQuotaTusUploads(t *testing.T) {
	t.Parallel()
	e := quotaEnv(t, 10*mib, 0)
	twin := e.Twin()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created []string
		refused int
		start   = make(chan struct{})
	)
	for i := range 50 {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			on := e
			if i%2 == 1 {
				on = twin
			}
			<-start
			r := on.Do(tuRequest(on, http.MethodPost, "/tus", sessAlice, nil, "Upload-Length", strconv.Itoa(mib), "Upload-Metadata", tuMeta("filename", "t.bin")))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case r.StatusCode == http.StatusCreated:
				created = append(created, r.Header.Get("Location"))
			case r.StatusCode == http.StatusInsufficientStorage && strings.Contains(string(r.Body), `"quota exceeded"`):
				refused++
			default:
				t.Errorf("tus creation %d: %d %s", i, r.StatusCode, r.Body)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	if len(created) != 10 || refused != 40 {
		t.Fatalf("%d created, %d refused; want 10 and 40", len(created), refused)
	}
	// While they are in progress, their bytes count.
	if u := quotaGetUsage(t, e, sessAlice); u.Bytes != 10*mib {
		t.Fatalf("usage with 10 uploads in progress: %d", u.Bytes)
	}
	// A termination gives its bytes back at once.
	if r := e.Do(tuRequest(e, http.MethodDelete, created[0], "", nil)); r.StatusCode != http.StatusNoContent {
		t.Fatalf("termination: %d %s", r.StatusCode, r.Body)
	}
	if u := quotaGetUsage(t, e, sessAlice); u.Bytes != 9*mib {
		t.Fatalf("usage after a termination: %d", u.Bytes)
	}
	data := bytes.Repeat([]byte("t"), mib)
	for _, url := range created[1:] {
		tuWantOffset(t, tuPatch(twin, url, 0, data), mib)
	}
	stored, holds := quotaStoredBytes(t, e)
	if stored != 9*mib || holds != 0 {
		t.Fatalf("after completing 9 uploads: %d bytes stored, %d holds left", stored, holds)
	}
	if u := quotaGetUsage(t, e, sessAlice); u.Bytes != 9*mib || u.Uploads != 9 {
		t.Fatalf("usage %+v, want 9 MiB in 9 uploads", u)
	}
}

// The hold of a resumable upload of a file entry goes with the entry, and with its session.
func TestQuotaTusHoldGoesWithItsEntry(t *testing.T) {
	t.Parallel()
	e := quotaEnv(t, 10*mib, 0)
	for _, drop := range []string{"file", "session"} {
		s := sessCreateSession(t, e, sessAlice, nil)
		f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "t.bin"})
		r := e.Do(tuRequest(e, http.MethodPost, "/tus", sessAlice, nil, "Upload-Length", strconv.Itoa(4*mib),
			"Upload-Metadata", tuMeta("sessionId", s.ID, "fileId", f.ID)))
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("tus creation: %d %s", r.StatusCode, r.Body)
		}
		if u := quotaGetUsage(t, e, sessAlice); u.Bytes != 4*mib {
			t.Fatalf("usage with the upload in progress: %d", u.Bytes)
		}
		path := "/sessions/" + s.ID
		if drop == "file" {
			path += "/files/" + f.ID
		}
		if r := sessCall(t, e, http.MethodDelete, path, sessAlice, nil); r.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE %s: %d", path, r.StatusCode)
		}
		if u := quotaGetUsage(t, e, sessAlice); u.Bytes != 0 {
			t.Fatalf("usage after deleting the %s: %d, want 0", drop, u.Bytes)
		}
	}
}
