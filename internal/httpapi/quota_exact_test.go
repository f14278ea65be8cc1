package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"

	"fileshare/internal/testutil"
)

// Quotas, exactly: uploads in progress hold their bytes whatever the quota when they start,
// a quota set later applies to them (the latest give way first), an expired resumable upload
// frees its bytes at once, and the tenant's figure survives whatever an operator does in psql.

// quotaSet sets acme's byte quota (0 = unlimited), as `fileshare tenant set` does.
func quotaSet(t *testing.T, e *testutil.Env, maxBytes int64) {
	t.Helper()
	if err := e.Admin.SetLimits(context.Background(), "acme", &maxBytes, nil); err != nil {
		t.Fatal(err)
	}
}

// quotaTus creates a resumable upload of length bytes as alice and sends its first half.
func quotaTus(t *testing.T, e *testutil.Env, length int) string {
	t.Helper()
	url := tuCreate(t, e, length, tuMeta("filename", "t.bin"))
	tuWantOffset(t, tuPatch(e, url, 0, bytes.Repeat([]byte("h"), length/2)), length/2)
	return url
}

// quotaHolds counts the quota holds left.
func quotaHolds(t *testing.T, e *testutil.Env) int64 {
	t.Helper()
	return testutil.QueryInt(t, e, "SELECT count(*) FROM quota_reservations")
}

// A resumable upload begun while the tenant had no quota counts in /usage while it is in
// progress, and a quota set below its length refuses its next PATCH (507), on any instance;
// refused, it leaves nothing behind.
func TestQuotaSetMidUpload(t *testing.T) {
	t.Parallel()
	e := quotaEnv(t, 0, 0)
	twin := e.Twin()
	url := quotaTus(t, e, 4*mib)
	if u := quotaGetUsage(t, e, sessAlice); u.Bytes != 4*mib || u.MaxBytes != 0 {
		t.Fatalf("usage of an unlimited tenant with 4 MiB in progress: %+v", u)
	}
	quotaSet(t, e, 3*mib)
	testutil.WantError(t, tuPatch(twin, url, 2*mib, bytes.Repeat([]byte("h"), 2*mib)), http.StatusInsufficientStorage, "quota exceeded")
	if off := tuOffset(t, e, url); off != -http.StatusNotFound {
		t.Errorf("HEAD of the refused upload: %d, want 404", off)
	}
	if u := quotaGetUsage(t, e, sessAlice); u.Bytes != 0 || u.MaxBytes != 3*mib {
		t.Errorf("usage after the refusal: %+v, want nothing held", u)
	}
	if n := quotaHolds(t, e); n != 0 {
		t.Errorf("%d holds left", n)
	}
	// What fits is still taken.
	url = quotaTus(t, e, 2*mib)
	tuWantOffset(t, tuPatch(e, url, mib, bytes.Repeat([]byte("h"), mib)), 2*mib)
}

// Two uploads in progress and a quota set that only the earlier fits under: the later is
// refused at its next request, the earlier completes; what the later held is free again.
func TestQuotaLoweredRefusesTheLatestFirst(t *testing.T) {
	t.Parallel()
	e := quotaEnv(t, 0, 0)
	earlier := quotaTus(t, e, 2*mib)
	later := quotaTus(t, e, 2*mib)
	quotaSet(t, e, 3*mib)
	// The later one is refused even before the earlier one completes.
	testutil.WantError(t, tuPatch(e, later, mib, bytes.Repeat([]byte("l"), mib)), http.StatusInsufficientStorage, "quota exceeded")
	tuWantOffset(t, tuPatch(e, earlier, mib, bytes.Repeat([]byte("e"), mib)), 2*mib)
	if u := quotaGetUsage(t, e, sessAlice); u.Bytes != 2*mib || u.Uploads != 1 {
		t.Fatalf("usage %+v, want the earlier upload's 2 MiB", u)
	}
	// The 1 MiB the later one held is free; no more.
	r := e.Do(tuRequest(e, http.MethodPost, "/tus", sessAlice, nil, "Upload-Length", strconv.Itoa(mib+1), "Upload-Metadata", tuMeta("filename", "n.bin")))
	testutil.WantError(t, r, http.StatusInsufficientStorage, "quota exceeded")
	upCreate(e, sessAlice, sessPW, testutil.FilePart("fits", bytes.Repeat([]byte("f"), mib)))
}

// An expired resumable upload frees its bytes at once, before any purge: another upload that
// needs them gets them.
func TestQuotaExpiredTusFreesAtOnce(t *testing.T) {
	t.Parallel()
	e := quotaEnv(t, 4*mib, 0)
	url := quotaTus(t, e, 3*mib)
	data := bytes.Repeat([]byte("n"), 2*mib)
	testutil.WantError(t, upPost(e, sessAlice, sessPW, testutil.FilePart("n", data)), http.StatusInsufficientStorage, "quota exceeded")
	testutil.Exec(t, e, "UPDATE tus_uploads SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 second' WHERE id = $1", tuID(url))
	upCreate(e, sessAlice, sessPW, testutil.FilePart("n", data))
	if u := quotaGetUsage(t, e, sessAlice); u.Bytes != 2*mib {
		t.Errorf("usage %d, want the new upload's 2 MiB only", u.Bytes)
	}
	if off := tuOffset(t, e, url); off != -http.StatusGone {
		t.Errorf("HEAD of the expired upload: %d, want 410", off)
	}
}

// Whatever an operator does to the rows in psql — DELETE, UPDATE, TRUNCATE, of the rows or of
// the figures themselves — the usage stays what the rows hold, and the quota decides on it.
func TestQuotaUsageSurvivesPsql(t *testing.T) {
	t.Parallel()
	e := quotaEnv(t, 5*mib, 0)
	data := bytes.Repeat([]byte("p"), mib)
	a := upCreate(e, sessAlice, sessPW, testutil.FilePart("a", data))
	upCreate(e, sessAlice, sessPW, testutil.FilePart("b", data))
	upCreate(e, "bob@other", sessPW, testutil.FilePart("o", data))
	s := sessCreateSession(t, e, sessAlice, nil)
	sessStoredFile(t, e, sessAlice, s.ID, "c", data)
	check := func(step string, want int64) {
		t.Helper()
		stored, _ := quotaStoredBytes(t, e)
		if u := quotaGetUsage(t, e, sessAlice); u.Bytes != want || stored != want {
			t.Fatalf("after %s: usage %d, the rows hold %d; want %d", step, u.Bytes, stored, want)
		}
	}
	check("three uploads", 3*mib)
	testutil.Exec(t, e, "DELETE FROM uploads WHERE id = $1", a.ID)
	check("a DELETE", 2*mib)
	testutil.Exec(t, e, "UPDATE session_files SET size = size * 2 WHERE session_id = $1", s.ID)
	check("an UPDATE", 3*mib)
	testutil.Exec(t, e, "TRUNCATE quota_usage")
	check("a TRUNCATE of the figures", 3*mib)
	testutil.Exec(t, e, "TRUNCATE uploads CASCADE")
	check("a TRUNCATE of uploads", 2*mib)
	// The quota decides on the figure: 2 of 5 MiB are kept.
	upCreate(e, sessAlice, sessPW, testutil.FilePart("d", bytes.Repeat([]byte("d"), 3*mib)))
	testutil.WantError(t, upPost(e, sessAlice, sessPW, testutil.FilePart("e", []byte("e"))), http.StatusInsufficientStorage, "quota exceeded")
	testutil.Exec(t, e, "TRUNCATE sessions CASCADE")
	check("a TRUNCATE of sessions", 3*mib)
	testutil.Exec(t, e, "DELETE FROM uploads")
	check("a DELETE of every upload", 0)
	if u := quotaGetUsage(t, e, "bob@other"); u.Bytes != 0 {
		t.Errorf("bob's usage %d after every upload went", u.Bytes)
	}
	// The purge folds the records of a tenant into one.
	if _, err := e.App.Purger.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := testutil.QueryInt(t, e, "SELECT count(*) FROM quota_usage q JOIN tenants t ON t.id = q.tenant_id WHERE t.name = 'acme'"); n > 1 {
		t.Errorf("%d records of acme's bytes after a purge, want at most one", n)
	}
	check("the purge", 0)
}
