package reliability_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"fileshare/internal/store"
	"fileshare/internal/testutil"
)

// A resumable upload's lease is a row's columns, not a connection held for the length of a
// PATCH (docs/behaviour.md §11.4): slow clients cannot take the database connections of an
// instance, and the lease of an instance that died runs out.

// tusSend sends a tus request to url (Tus-Resumable set) as login (anonymous when empty), with
// header pairs, and reads its answer.
func tusSend(t testing.TB, hc *http.Client, method, url, login, password string, body []byte, header ...string) answer {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := request(t, method, url, login, password, r)
	req.Header.Set("Tus-Resumable", "1.0.0")
	if body != nil {
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	ans, err := do(hc, req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return ans
}

// tusNew creates a resumable simple upload of length bytes on base as login and returns its
// URL.
func tusNew(t testing.TB, hc *http.Client, base, login, password string, length int) string {
	t.Helper()
	ans := tusSend(t, hc, http.MethodPost, base+"/tus", login, password, nil,
		"Upload-Length", strconv.Itoa(length), "Upload-Metadata", tusMeta("filename", "slow.bin"))
	if ans.status != http.StatusCreated {
		t.Fatalf("POST /tus: %d %s", ans.status, ans.body)
	}
	return ans.header.Get("Location")
}

// countQuery runs a query that returns one integer on conn.
func countQuery(t testing.TB, conn *pgx.Conn, query string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The attack that docs/behaviour.md §8.4 and §11.4 guard against: 40 PATCHes that trickle their bodies (640 B/s,
// above the minimum rate) on an instance whose pool has 4 connections. All 40 hold their
// uploads' leases at once, yet the database never sees more than the pool's 4 connections of
// the instance, and another tenant's PATCH and simple upload are served promptly (no 503). Each
// slow PATCH completes once its client sends the rest.
func TestTusSlowPatchesHoldNoConnection(t *testing.T) {
	t.Parallel()
	const pool, slow, length = 4, 40, 64 << 10
	dbURL := testutil.NewDatabase(t)
	in := newInstanceWith(t, dbURL, t.TempDir(), store.Options{MaxConns: pool})
	addUser(t, in.Store, "mallory@slow", "pw")
	addUser(t, in.Store, "alice@other", "pw")
	hc := newClient(30 * time.Second)
	defer hc.CloseIdleConnections()
	watch, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close(context.Background())
	// The instance's connections: every one of the database's but the watcher's.
	var most atomic.Int64
	sample := func() {
		n := int64(countQuery(t, watch, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`))
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
	}

	data := content(3, length)
	finish := make(chan struct{})
	var wg sync.WaitGroup
	statuses := make([]int, slow)
	for i := range slow {
		url := tusNew(t, hc, in.URL, "mallory@slow", "pw", length)
		conn := testutil.TusPatchConn(t, url, length)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// 64 bytes every 100 ms until told to finish: 640 B/s, above the minimum rate.
			sent := 0
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
		trickle:
			for sent+64 < length {
				select {
				case <-finish:
					break trickle
				case <-tick.C:
				}
				if _, err := conn.Write(data[sent : sent+64]); err != nil {
					return
				}
				sent += 64
			}
			<-finish
			if _, err := conn.Write(data[sent:]); err != nil {
				return
			}
			conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			}
		}()
	}
	testutil.Eventually(t, 20*time.Second, "every slow PATCH to hold its upload's lease", func() bool {
		sample()
		return countQuery(t, watch, `SELECT count(*) FROM tus_uploads WHERE lease_expires_at > now()`) == slow
	})

	// Another tenant, meanwhile: a whole resumable upload, and a simple upload.
	other := content(4, 64<<10)
	t0 := time.Now()
	url := tusNew(t, hc, in.URL, "alice@other", "pw", len(other))
	if ans := tusSend(t, hc, http.MethodPatch, url, "", "", other, "Upload-Offset", "0"); ans.status != http.StatusNoContent {
		t.Errorf("another tenant's PATCH during the slow ones: %d %s", ans.status, ans.body)
	}
	c := client{t: t, c: hc, base: in.URL, login: "alice@other", password: "pw"}
	c.upload("other.bin", other)
	if took := time.Since(t0); took > 3*time.Second {
		t.Errorf("another tenant's uploads took %s during the slow PATCHes", took)
	}
	// The slow PATCHes renewed their leases meanwhile, and still hold them all.
	renewed := time.Now()
	testutil.Eventually(t, 10*time.Second, "every lease to be renewed", func() bool {
		sample()
		return countQuery(t, watch, `SELECT count(*) FROM tus_uploads WHERE lease_expires_at > $1::timestamptz + interval '10 s'`, renewed) == slow
	})
	sample()
	close(finish)
	wg.Wait()
	if m := most.Load(); m > pool {
		t.Errorf("the database saw %d connections of an instance whose pool has %d", m, pool)
	}
	for i, s := range statuses {
		if s != http.StatusNoContent {
			t.Errorf("slow PATCH %d answered %d once complete", i, s)
		}
	}
	if n := countQuery(t, watch, `SELECT count(*) FROM tus_uploads WHERE completed_at IS NOT NULL`); n != slow+1 {
		t.Errorf("%d completed tus uploads, want %d", n, slow+1)
	}
	figure(t, "%d slow PATCHes held their leases with at most %d database connections (pool %d)", slow, most.Load(), pool)
}

// A PATCH whose instance dies (SIGKILL) leaves its lease behind: nobody renews it, and it runs
// out. Until then another instance answers 423 "upload locked" (after asking the dead holder in
// vain); then it takes the upload over, and the upload completes from the offset recorded.
func TestTusLeaseOfDeadInstanceRunsOut(t *testing.T) {
	t.Parallel()
	const login, password = "ops@lease", "pw"
	bin := failpointBinary(t)
	dbURL := testutil.NewDatabase(t)
	dataDir := t.TempDir()
	b := newInstance(t, dbURL, dataDir)
	addUser(t, b.Store, login, password)
	a := testutil.StartServe(t, bin, []string{"FILESHARE_DATABASE_URL=" + dbURL, "FILESHARE_DATA_DIR=" + dataDir, "FILESHARE_PURGE_INTERVAL=1h"})
	hc := newClient(30 * time.Second)
	defer hc.CloseIdleConnections()
	data := content(5, 256<<10)
	url := tusNew(t, hc, b.URL, login, password, len(data))
	id := url[len(url)-36:]
	conn := testutil.TusPatchConn(t, a.URL("/tus/"+id), len(data))
	if _, err := conn.Write(data[:100<<10]); err != nil {
		t.Fatal(err)
	}
	leased := func() bool {
		var n int
		if err := b.Store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM tus_uploads WHERE lease_expires_at > now()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	testutil.Eventually(t, 10*time.Second, "the PATCH on the first instance to hold the lease", leased)
	if err := a.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-a.Done()
	killed := time.Now()

	ans := tusSend(t, hc, http.MethodPatch, url, "", "", data, "Upload-Offset", "0")
	if ans.status != http.StatusLocked || !bytes.Contains(ans.body, []byte(`"upload locked"`)) {
		t.Fatalf("PATCH while the dead instance's lease lasts: %d %s, want 423 upload locked", ans.status, ans.body)
	}
	if !leased() {
		t.Fatal("the lease ran out before the PATCH answered: nothing was tested")
	}
	// HEAD answers the offset recorded meanwhile (the holder that does not give the upload up
	// keeps it); a PATCH from there is refused until the lease runs out, then completes it.
	var last answer
	testutil.Eventually(t, 30*time.Second, "the dead instance's lease to run out", func() bool {
		head := tusSend(t, hc, http.MethodHead, url, "", "", nil)
		if head.status != http.StatusOK {
			t.Fatalf("HEAD while the dead instance's lease lasts: %d %s", head.status, head.body)
		}
		offset, _ := strconv.Atoi(head.header.Get("Upload-Offset"))
		last = tusSend(t, hc, http.MethodPatch, url, "", "", data[offset:], "Upload-Offset", strconv.Itoa(offset))
		return last.status != http.StatusLocked
	})
	if took := time.Since(killed); took > 15*time.Second {
		t.Errorf("taken over %s after the holder died, want within the lease's 10 s and a renewal", took)
	}
	if last.status != http.StatusNoContent {
		t.Fatalf("PATCH after the takeover: %d %s", last.status, last.body)
	}
	head := tusSend(t, hc, http.MethodHead, url, "", "", nil)
	down, err := do(hc, request(t, http.MethodGet, head.header.Get("Fileshare-Upload-Url"), "", "", nil))
	if err != nil || !bytes.Equal(down.body, data) {
		t.Fatalf("download after the takeover: %v, %d bytes, not the upload's", err, len(down.body))
	}
}
