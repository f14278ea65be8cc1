package reliability_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"fileshare/internal/purge"
	"fileshare/internal/store"
	"fileshare/internal/testutil"
)

const raceLogin, racePassword = "ops@race", "race-password"

// twoInstances starts two fileshares, each with its own pool, on one database and one data
// directory, as two replicas behind a load balancer.
func twoInstances(t *testing.T, opt store.Options) (a, b *instance, dataDir string) {
	t.Helper()
	dbURL := testutil.NewDatabase(t)
	dataDir = t.TempDir()
	a = newInstanceWith(t, dbURL, dataDir, opt)
	b = newInstanceWith(t, dbURL, dataDir, opt)
	addUser(t, a.Store, raceLogin, racePassword)
	return a, b, dataDir
}

// TestTokenRaceTwoInstances sends 1,000 concurrent GETs of one one-time token, half to each of
// two instances, round after round: exactly one receives the file, every other one answers 410
// "download token already used".
func TestTokenRaceTwoInstances(t *testing.T) {
	t.Parallel()
	// What is under test is atomicity, not latency: 1,000 requests at once cost seconds of CPU
	// on a small machine under -race, and the 2 s budgets of a query and of a new connection
	// would shed some of them with 503 (the overload behaviour) before they reach the
	// database. Their budgets are long here.
	a, b, _ := twoInstances(t, store.Options{QueryTimeout: time.Minute, ConnectTimeout: time.Minute})
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 1000, MaxIdleConns: 2000}}
	defer hc.CloseIdleConnections()
	c := client{t: t, c: hc, base: a.URL, login: raceLogin, password: racePassword}
	data := content(20, 4096)
	sid := c.session()
	fid := c.storedFile(sid, "race.bin", data)

	rounds := scale(2, 100)
	const gets = 1000
	var lat latencies
	var others int
	start := time.Now()
	for round := range rounds {
		path := strings.TrimPrefix(c.token(sid, fid), a.URL)
		var ok, used atomic.Int32
		var wg, ready sync.WaitGroup
		release := make(chan struct{})
		ready.Add(gets)
		for i := range gets {
			base := a.URL
			if i%2 == 1 {
				base = b.URL
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("GET", base+path, nil)
				ready.Done()
				<-release
				t0 := time.Now()
				ans, err := do(hc, req)
				lat.add(time.Since(t0))
				switch {
				case err != nil:
					t.Errorf("round %d: %v", round, err)
				case ans.status == http.StatusOK:
					ok.Add(1)
					if testutil.SHA256(ans.body) != testutil.SHA256(data) {
						t.Errorf("round %d: the one download differs from the file", round)
					}
				case ans.status == http.StatusGone && string(ans.body) == `{"message":"download token already used"}`:
					used.Add(1)
				default:
					t.Errorf("round %d: %d %s", round, ans.status, ans.body)
				}
			}()
		}
		ready.Wait()
		close(release)
		wg.Wait()
		if ok.Load() != 1 || used.Load() != gets-1 {
			t.Fatalf("round %d: %d × 200 and %d × 410 of %d GETs; want exactly one 200\nfirst failure logged: %s",
				round, ok.Load(), used.Load(), gets, firstLine(a.Logs.String()+b.Logs.String(), `"msg":"database unavailable"`))
		}
		others += gets - 1
	}
	figure(t, "%d rounds × %d concurrent GETs over 2 instances: exactly one 200 per round (%d × 410 in all); latency p50 %s, p99 %s; %s",
		rounds, gets, others, ms(lat.pct(0.5)), ms(lat.pct(0.99)), time.Since(start).Round(time.Millisecond))
}

// TestPurgeTwoInstancesWhileDownloading runs purge passes on two instances at once, in small
// batches so that they interleave, while clients download live uploads and files through both:
// no pass fails, each expired row is purged exactly once, orphans and temp files go, and every
// download is complete and intact.
func TestPurgeTwoInstancesWhileDownloading(t *testing.T) {
	t.Parallel()
	a, b, dataDir := twoInstances(t, store.Options{})
	hc := newClient(time.Minute)
	defer hc.CloseIdleConnections()
	c := client{t: t, c: hc, base: a.URL, login: raceLogin, password: racePassword}
	ctx := context.Background()
	exec := func(sql string, args ...any) int64 {
		t.Helper()
		tag, err := a.Store.Pool.Exec(ctx, sql, args...)
		if err != nil {
			t.Fatal(err)
		}
		return tag.RowsAffected()
	}

	// What must stay: live uploads and a live session's file, downloaded throughout.
	live := make(map[string][]byte)
	for i := range 4 {
		data := content(30+i, 1<<20+i)
		live["/uploads/"+c.upload(fmt.Sprintf("live-%d.bin", i), data)] = data
	}
	liveSID := c.session()
	liveFile := content(40, 512<<10)
	liveFID := c.storedFile(liveSID, "live-file.bin", liveFile)

	// What must go.
	n := scale(30, 600)
	for i := range n {
		c.upload(fmt.Sprintf("expired-%d.bin", i), content(1000+i, 2048))
	}
	expired := exec(`UPDATE uploads SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE name LIKE 'expired-%'`)
	// Expired longer ago than the tombstone retention: expired and deleted in the same pass.
	ancient := exec(`UPDATE uploads SET created_at = now() - interval '1000 hours', expires_at = now() - interval '900 hours' WHERE name LIKE 'expired-%' AND name LIKE '%0.bin'`)
	sessions := scale(6, 100)
	for i := range sessions {
		sid := c.session()
		for j := range 3 {
			fid := c.storedFile(sid, fmt.Sprintf("f%d.bin", j), content(2000+i*3+j, 1024))
			c.token(sid, fid)
		}
	}
	expiredSessions := exec(`UPDATE sessions SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id <> $1`, liveSID)
	// Spent tokens of the live session, consumed longer ago than the retention.
	for range scale(10, 200) {
		c.must("GET", c.token(liveSID, liveFID), nil, "", http.StatusOK)
	}
	spent := exec(`UPDATE download_tokens SET consumed_at = now() - interval '1000 hours' WHERE consumed_at IS NOT NULL`)
	// Leftovers of crashes, older than the grace period.
	orphans, temps := scale(20, 300), scale(10, 100)
	old := time.Now().Add(-2 * time.Hour)
	for i := range orphans + temps {
		id := uuid.NewString()
		p := filepath.Join(dataDir, "blobs", "u", id[:2], id)
		if i >= orphans {
			p = filepath.Join(dataDir, "tmp", "upload-"+id)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content(i, 1000), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}

	// Downloads stream through both instances until the purges are done.
	stop := make(chan struct{})
	var downloads, bytes, overlapping atomic.Int64
	var lat latencies
	var purgeStart, purgeEnd atomic.Int64 // unix nanoseconds
	var dl sync.WaitGroup
	for w := range 4 {
		dl.Add(1)
		go func() {
			defer dl.Done()
			inst := []*instance{a, b}[w%2]
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				for path, data := range live {
					t0 := time.Now()
					ans, err := do(hc, request(t, "GET", inst.URL+path, "", "", nil))
					lat.add(time.Since(t0))
					if ps := purgeStart.Load(); ps != 0 && ps < time.Now().UnixNano() {
						if pe := purgeEnd.Load(); pe == 0 || t0.UnixNano() < pe {
							overlapping.Add(1)
						}
					}
					if err != nil || ans.status != http.StatusOK || testutil.SHA256(ans.body) != testutil.SHA256(data) {
						t.Errorf("download %s during the purge: %v %d (%d bytes)", path, err, ans.status, len(ans.body))
						return
					}
					downloads.Add(1)
					bytes.Add(int64(len(ans.body)))
				}
			}
		}()
	}

	// Both instances purge at once, pass after pass, in batches small enough to interleave.
	passes := scale(3, 10)
	var mu sync.Mutex
	var total purge.Result
	var pw sync.WaitGroup
	purgeStart.Store(time.Now().UnixNano())
	for _, inst := range []*instance{a, b} {
		p := purge.New(inst.Store, inst.App.Blobs, slog.New(slog.DiscardHandler), purge.Options{
			BatchSize: 4, OrphanGrace: time.Hour, TombstoneRetention: 720 * time.Hour,
		})
		pw.Add(1)
		go func() {
			defer pw.Done()
			for range passes {
				res, err := p.RunOnce(ctx)
				if err != nil {
					t.Errorf("purge pass: %v", err)
				}
				mu.Lock()
				total.UploadsExpired += res.UploadsExpired
				total.TombstonesDeleted += res.TombstonesDeleted
				total.SessionsExpired += res.SessionsExpired
				total.FilesDeleted += res.FilesDeleted
				total.TokensDeleted += res.TokensDeleted
				total.OrphansRemoved += res.OrphansRemoved
				total.TempFilesRemoved += res.TempFilesRemoved
				total.BlobErrors += res.BlobErrors
				mu.Unlock()
			}
		}()
	}
	pw.Wait()
	purgeEnd.Store(time.Now().UnixNano())
	// At least one more round of downloads after the purges, so that they overlapped.
	after := downloads.Load()
	testutil.Eventually(t, 30*time.Second, "downloads to go on after the purge", func() bool { return downloads.Load() >= after+int64(len(live)) || t.Failed() })
	close(stop)
	dl.Wait()
	if overlapping.Load() == 0 {
		t.Error("no download overlapped the purge passes")
	}

	want := purge.Result{
		UploadsExpired: expired, TombstonesDeleted: ancient, SessionsExpired: expiredSessions,
		FilesDeleted: 3 * expiredSessions, TokensDeleted: spent, TempFilesRemoved: int64(temps),
	}
	got := total
	got.OrphansRemoved = 0 // both may remove one orphan; that it is gone is checked below
	if got != want {
		t.Errorf("purged in all: %+v\nwant exactly:  %+v", got, want)
	}
	checkStorage(t, a.Store, dataDir, nil)
	for path, data := range live {
		if ans := c.must("GET", path, nil, "", http.StatusOK); testutil.SHA256(ans.body) != testutil.SHA256(data) {
			t.Errorf("%s after the purge: content differs", path)
		}
	}
	if ans := c.must("GET", c.token(liveSID, liveFID), nil, "", http.StatusOK); testutil.SHA256(ans.body) != testutil.SHA256(liveFile) {
		t.Error("live file after the purge: content differs")
	}
	figure(t, "2 instances × %d concurrent passes (batches of 4) purged %d uploads, %d tombstones, %d sessions with %d files, %d tokens, %d orphans, %d temp files, each exactly once, 0 errors, "+
		"while %d downloads (%d MiB; %d overlapping the passes) through both all arrived intact (p99 %s)",
		passes, got.UploadsExpired, got.TombstonesDeleted, got.SessionsExpired, got.FilesDeleted, got.TokensDeleted, orphans, got.TempFilesRemoved,
		downloads.Load(), bytes.Load()>>20, overlapping.Load(), ms(lat.pct(0.99)))
}

// firstLine returns the first line of logs that contains substr.
func firstLine(logs, substr string) string {
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, substr) {
			return line
		}
	}
	return "(none)"
}
