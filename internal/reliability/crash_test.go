package reliability_test

// This file is over 400 lines: crash points of the upload path run against the real binary, with the checker of what survives.

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fileshare/internal/store"
	"fileshare/internal/testutil"
)

// uploadKind is the way an attempt sends its content.
type uploadKind int

const (
	simpleUpload     uploadKind = iota // POST /uploads, multipart
	filePut                            // PUT /sessions/{sid}/files/{fid}, raw body, Basic Auth
	fileURLPut                         // the same through an upload URL, no credentials
	fileMultipartPut                   // PUT with a multipart "file" part, Basic Auth
)

func (k uploadKind) String() string {
	return [...]string{"simple", "file-put", "file-url-put", "file-multipart-put"}[k]
}

var (
	allKinds  = []uploadKind{simpleUpload, filePut, fileURLPut, fileMultipartPut}
	fileKinds = []uploadKind{filePut, fileURLPut, fileMultipartPut}
)

// crashPoints are the failpoints of the upload path (internal/blob/disk.go,
// internal/share/uploads.go and files.go), the uploads that reach them, and the hit counts
// at which a round kills the server.
var crashPoints = []struct {
	name  string
	kinds []uploadKind
	nth   []int
}{
	{"blob.write", allKinds, []int{1, 3, 10, 40, 150}},
	{"blob.before-fsync", allKinds, []int{1, 2, 4}},
	{"blob.after-fsync", allKinds, []int{1, 2, 4}},
	{"blob.after-rename", allKinds, []int{1, 2, 4}},
	{"blob.after-dirsync", allKinds, []int{1, 2, 4}},
	{"upload.before-commit", []uploadKind{simpleUpload}, []int{1, 2, 4}},
	{"upload.after-commit", []uploadKind{simpleUpload}, []int{1, 2, 4}},
	{"file.before-commit", fileKinds, []int{1, 2, 4}},
	{"file.after-commit", fileKinds, []int{1, 2, 4}},
}

// crashSizes are the sizes of the uploads: empty, tiny, around the 256 KiB write chunk, larger.
var crashSizes = []int{0, 1, 4096, 256<<10 - 1, 256<<10 + 1, 700 << 10, 2<<20 + 3}

// attempt is one upload sent to a server that may die under it.
type attempt struct {
	kind     uploadKind
	name     string
	seed     int
	size     int
	sha      string
	declared bool
	sid, fid string // session uploads: the entry, known before its PUT
	uploadID string // simple uploads: from the 201
	acked    bool   // a 2xx answer arrived
}

func (a *attempt) data() []byte { return content(a.seed, a.size) }

const (
	crashLogin, crashPassword = "crash@crash", "crash-password"
	// crashApp is the application_name of the server's database sessions.
	crashApp = "fileshare-crash-test"
)

// crashRun is the state of TestCrashSafety across rounds.
type crashRun struct {
	t       *testing.T
	bin     string
	env     []string
	dataDir string
	st      *store.Store
	client  *http.Client

	mu       sync.Mutex
	attempts []*attempt
	hashed   map[string]bool // blob keys whose content was verified once (blobs never change)

	// figures
	killsByPoint   map[string]int
	tempsSwept     int
	orphansSwept   int
	unackedVisible int
	rowsChecked    int
	downloads      int
	reuploads      int
}

// TestCrashSafety kills `fileshare serve` with SIGKILL at every failpoint of the upload path
// (temp-file writes, before and after fsync, after rename and directory sync, before and after
// the row's commit), for simple uploads and session-file PUTs of many sizes with concurrent
// uploads in flight, then runs `fileshare purge` past the grace period and checks: every
// acknowledged upload downloads with its exact SHA-256; every visible row has its complete
// blob (so no partial file can be served); an unacknowledged upload is either complete or
// absent; a killed session PUT leaves its entry pending and uploadable again; no orphan blob
// or temp file survives the sweep.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	kills := scale(20, 63)
	r := &crashRun{
		t: t, bin: failpointBinary(t), dataDir: t.TempDir(), client: newClient(60 * time.Second),
		hashed: map[string]bool{}, killsByPoint: map[string]int{},
	}
	defer r.client.CloseIdleConnections()
	dbURL := testutil.NewDatabase(t)
	st, err := store.Open(context.Background(), dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r.st = st
	addUser(t, st, crashLogin, crashPassword)
	r.env = []string{
		"FILESHARE_DATABASE_URL=" + dbURL + "&application_name=" + crashApp, "FILESHARE_DATA_DIR=" + r.dataDir,
		"FILESHARE_PURGE_INTERVAL=1h", "FILESHARE_MAX_UPLOAD_BYTES=8388608",
	}
	start := time.Now()
	var prev []*attempt
	for k := 0; k < kills; k++ {
		point := crashPoints[k%len(crashPoints)]
		j := k / len(crashPoints)
		spec := fmt.Sprintf("%s:%d", point.name, point.nth[j%len(point.nth)])
		prev = r.round(k, spec, point.kinds, 1+k%3, prev)
		r.killsByPoint[point.name]++
		if t.Failed() {
			t.Fatalf("round %d (%s) failed; data dir %s", k, spec, r.dataDir)
		}
	}
	r.final()
	var acked, total int
	for _, a := range r.attempts {
		total++
		if a.acked {
			acked++
		}
	}
	if t.Failed() {
		return
	}
	var points []string
	for name, n := range r.killsByPoint {
		points = append(points, fmt.Sprintf("%s×%d", name, n))
	}
	sort.Strings(points)
	figure(t, "%d SIGKILLs (%s) in %s; %d uploads attempted, %d acknowledged and all downloaded intact (%d downloads), "+
		"%d unacknowledged but committed (complete), %d killed PUTs re-uploaded; swept %d temp files and %d orphan blobs; "+
		"%d row/blob checks, 0 invariant violations",
		kills, strings.Join(points, ", "), time.Since(start).Round(time.Millisecond), total, acked, r.downloads,
		r.unackedVisible, r.reuploads, r.tempsSwept, r.orphansSwept, r.rowsChecked)
}

// round starts a server set to die at spec, checks the downloads of the previous round's
// acknowledged uploads through it, uploads until it dies, then purges and checks the storage.
func (r *crashRun) round(k int, spec string, kinds []uploadKind, workers int, prev []*attempt) []*attempt {
	t := r.t
	roundStart := time.Now()
	p := testutil.StartServe(t, r.bin, append(r.env, "FILESHARE_FAILPOINT="+spec))
	for _, a := range prev {
		r.verifyDownload(p, a)
	}
	ans, err := do(r.client, request(t, "POST", p.URL("/sessions"), crashLogin, crashPassword, nil))
	if err != nil || ans.status != http.StatusCreated {
		t.Fatalf("round %d: create session: %v %d %s", k, err, ans.status, ans.body)
	}
	var sess struct{ ID string }
	json.Unmarshal(ans.body, &sess)

	var (
		mine  []*attempt
		mu    sync.Mutex
		wg    sync.WaitGroup
		sent  atomic.Int64
		limit = int64(400)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(k), uint64(w)))
			kind := kinds[(k+w)%len(kinds)]
			for i := 0; sent.Add(1) <= limit; i++ {
				size := crashSizes[rng.IntN(len(crashSizes))]
				seed := k*1_000_000 + w*10_000 + i
				data := content(seed, size)
				a := &attempt{kind: kind, name: fmt.Sprintf("r%d-w%d-%d.bin", k, w, i), seed: seed, size: size, sha: testutil.SHA256(data), declared: i%2 == 0}
				mu.Lock()
				mine = append(mine, a)
				mu.Unlock()
				if !r.upload(p, sess.ID, a, data) {
					return
				}
			}
		}()
	}
	wg.Wait()
	if sent.Load() > limit {
		t.Fatalf("round %d: failpoint %s not reached after %d uploads", k, spec, limit)
	}
	if p.Wait(10 * time.Second); !p.Killed() {
		t.Fatalf("round %d: serve ended without being killed at %s: %v\n%s", k, spec, p.Err(), p.Logs)
	}

	// A statement the server sent just before it died may still commit (an upload that is
	// complete but was never acknowledged); wait until its database sessions are gone.
	r.waitBackendsGone()
	t.Logf("round %d: killed at %s after %s", k, spec, time.Since(roundStart).Round(time.Millisecond))
	// What the crash left behind, which the purge must sweep exactly.
	temps, orphans := r.leftovers()
	res := r.purge()
	if res.TempFilesRemoved != int64(temps) || res.OrphansRemoved != int64(orphans) {
		t.Errorf("round %d (%s): purge removed %d temp files and %d orphans; the crash left %d and %d",
			k, spec, res.TempFilesRemoved, res.OrphansRemoved, temps, orphans)
	}
	r.tempsSwept += temps
	r.orphansSwept += orphans
	r.rowsChecked += checkStorage(t, r.st, r.dataDir, r.hashed)
	for _, a := range mine {
		r.checkAttempt(a)
	}
	r.mu.Lock()
	r.attempts = append(r.attempts, mine...)
	r.mu.Unlock()
	var acked []*attempt
	for _, a := range mine {
		if a.acked {
			acked = append(acked, a)
		}
	}
	return acked
}

// upload sends one attempt; it returns false once the server is gone.
func (r *crashRun) upload(p *testutil.Serve, sid string, a *attempt, data []byte) bool {
	t := r.t
	if a.kind == simpleUpload {
		body, ctype := multipartBody(t, a.name, data)
		req := request(t, "POST", p.URL("/uploads"), crashLogin, crashPassword, body)
		req.Header.Set("Content-Type", ctype)
		ans, err := do(r.client, req)
		if err != nil {
			return false
		}
		if ans.status != http.StatusCreated {
			t.Errorf("POST /uploads %s: %d %s", a.name, ans.status, ans.body)
			return false
		}
		var up struct{ ID, SHA256 string }
		json.Unmarshal(ans.body, &up)
		if up.SHA256 != a.sha {
			t.Errorf("POST /uploads %s: sha256 %s, sent %s", a.name, up.SHA256, a.sha)
		}
		a.uploadID, a.acked = up.ID, true
		return true
	}
	entry := map[string]any{"name": a.name}
	if a.declared {
		entry["size"] = a.size
	}
	js, _ := json.Marshal(entry)
	ans, err := do(r.client, request(t, "POST", p.URL("/sessions/"+sid+"/files"), crashLogin, crashPassword, bytes.NewReader(js)))
	if err != nil {
		return false
	}
	if ans.status != http.StatusCreated {
		t.Errorf("POST files %s: %d %s", a.name, ans.status, ans.body)
		return false
	}
	var f struct{ ID string }
	json.Unmarshal(ans.body, &f)
	a.sid, a.fid = sid, f.ID
	return r.put(p, a, data)
}

// put stores an entry's content in the attempt's way; false once the server is gone.
func (r *crashRun) put(p *testutil.Serve, a *attempt, data []byte) bool {
	t := r.t
	var req *http.Request
	switch a.kind {
	case fileURLPut:
		ans, err := do(r.client, request(t, "POST", p.URL("/sessions/"+a.fid), crashLogin, crashPassword, nil))
		if err != nil {
			return false
		}
		if ans.status != http.StatusCreated {
			t.Errorf("POST /sessions/{fileId} %s: %d %s", a.name, ans.status, ans.body)
			return false
		}
		var u struct{ URL string }
		json.Unmarshal(ans.body, &u)
		req = request(t, "PUT", u.URL, "", "", bytes.NewReader(data))
	case fileMultipartPut:
		body, ctype := multipartBody(t, a.name, data)
		req = request(t, "PUT", p.URL("/sessions/"+a.sid+"/files/"+a.fid), crashLogin, crashPassword, body)
		req.Header.Set("Content-Type", ctype)
	default:
		req = request(t, "PUT", p.URL("/sessions/"+a.sid+"/files/"+a.fid), crashLogin, crashPassword, bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	ans, err := do(r.client, req)
	if err != nil {
		return false
	}
	if ans.status != http.StatusOK {
		t.Errorf("PUT %s (%s): %d %s", a.name, a.kind, ans.status, ans.body)
		return false
	}
	var f struct {
		State  string
		SHA256 string
	}
	json.Unmarshal(ans.body, &f)
	if f.State != "stored" || f.SHA256 != a.sha {
		t.Errorf("PUT %s: answered %s", a.name, ans.body)
	}
	a.acked = true
	return true
}

// verifyDownload downloads an acknowledged upload through p and compares its SHA-256.
func (r *crashRun) verifyDownload(p *testutil.Serve, a *attempt) {
	t := r.t
	url := p.URL("/uploads/" + a.uploadID)
	if a.kind != simpleUpload {
		ans, err := do(r.client, request(t, "POST", p.URL("/sessions/"+a.sid+"/files/"+a.fid+"/tokens"), crashLogin, crashPassword, nil))
		if err != nil || ans.status != http.StatusCreated {
			t.Errorf("token for %s: %v %d %s", a.name, err, ans.status, ans.body)
			return
		}
		var tok struct{ URL string }
		json.Unmarshal(ans.body, &tok)
		url = tok.URL
	}
	ans, err := do(r.client, request(t, "GET", url, "", "", nil))
	if err != nil || ans.status != http.StatusOK {
		t.Errorf("download of acknowledged %s (%s): %v %d %s", a.name, a.kind, err, ans.status, ans.body)
		return
	}
	if got := testutil.SHA256(ans.body); got != a.sha || len(ans.body) != a.size || ans.header.Get("Content-Length") != strconv.Itoa(a.size) {
		t.Errorf("download of acknowledged %s: %d bytes sha256 %s (Content-Length %s), uploaded %d bytes %s",
			a.name, len(ans.body), got, ans.header.Get("Content-Length"), a.size, a.sha)
	}
	r.downloads++
}

// leftovers counts the temp files and the blobs no row references.
func (r *crashRun) leftovers() (temps, orphans int) {
	temps = len(testutil.TempFiles(r.t, r.dataDir))
	live := liveBlobs(r.t, r.st)
	for _, key := range testutil.BlobFiles(r.t, r.dataDir) {
		if _, ok := live[key]; !ok {
			orphans++
		}
	}
	return temps, orphans
}

// purge runs `fileshare purge` with a grace period shorter than anything the crash left.
func (r *crashRun) purge() (res struct{ OrphansRemoved, TempFilesRemoved int64 }) {
	cmd := exec.Command(r.bin, "purge")
	cmd.Env = testutil.CLIEnv(append(r.env, "FILESHARE_ORPHAN_GRACE=1ns")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		r.t.Fatalf("fileshare purge: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		r.t.Fatalf("fileshare purge printed %q: %v", stdout.String(), err)
	}
	return res
}

// checkAttempt checks what the database shows of one attempt: an acknowledged upload is there
// with its content's hash; an unacknowledged one is either complete or absent.
func (r *crashRun) checkAttempt(a *attempt) {
	t := r.t
	ctx := context.Background()
	if a.kind == simpleUpload {
		rows, err := r.st.Pool.Query(ctx, `SELECT id::text, size, sha256 FROM uploads WHERE name = $1 AND purged_at IS NULL`, a.name)
		if err != nil {
			t.Fatal(err)
		}
		var found []string
		for rows.Next() {
			var id string
			var b blobRow
			if err := rows.Scan(&id, &b.size, &b.sha); err != nil {
				t.Fatal(err)
			}
			found = append(found, id)
			if b.size != int64(a.size) || hex.EncodeToString(b.sha) != a.sha {
				t.Errorf("upload %s: row of %d bytes %x, sent %d bytes %s", a.name, b.size, b.sha, a.size, a.sha)
			}
		}
		rows.Close()
		switch {
		case len(found) > 1:
			t.Errorf("upload %s: %d rows", a.name, len(found))
		case a.acked && (len(found) != 1 || found[0] != a.uploadID):
			t.Errorf("acknowledged upload %s (%s) lost: rows %v", a.name, a.uploadID, found)
		case !a.acked && len(found) == 1:
			a.uploadID = found[0]
			r.unackedVisible++
		}
		return
	}
	if a.fid == "" {
		return // killed before its entry existed
	}
	var state string
	var size *int64
	var shaSum []byte
	err := r.st.Pool.QueryRow(ctx, `SELECT state, size, sha256 FROM session_files WHERE id = $1`, a.fid).Scan(&state, &size, &shaSum)
	if err != nil {
		t.Fatalf("file entry %s: %v", a.name, err)
	}
	switch {
	case state == "stored" && (size == nil || *size != int64(a.size) || hex.EncodeToString(shaSum) != a.sha):
		t.Errorf("file %s stored with %v bytes %x, sent %d bytes %s", a.name, size, shaSum, a.size, a.sha)
	case a.acked && state != "stored":
		t.Errorf("acknowledged file %s is %s", a.name, state)
	case !a.acked && state == "stored":
		r.unackedVisible++
	}
}

// final restarts the server without failpoints, downloads every acknowledged upload, stores
// again every entry whose PUT was killed, stops it cleanly and purges once more.
func (r *crashRun) final() {
	t := r.t
	p := testutil.StartServe(t, r.bin, r.env)
	for _, a := range r.attempts {
		if a.acked || (a.kind == simpleUpload && a.uploadID != "") {
			r.verifyDownload(p, a) // the latter committed, though its answer was lost
		}
	}
	var state string
	for _, a := range r.attempts {
		if a.kind == simpleUpload || a.fid == "" || a.acked {
			continue
		}
		if err := r.st.Pool.QueryRow(context.Background(), `SELECT state FROM session_files WHERE id = $1`, a.fid).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state == "stored" {
			r.verifyDownload(p, a) // committed, though the answer was lost
			continue
		}
		a.kind = filePut
		if !r.put(p, a, a.data()) {
			t.Fatalf("server died re-uploading %s", a.name)
		}
		r.verifyDownload(p, a)
		r.reuploads++
	}
	if code := p.Stop(); code != 0 {
		t.Errorf("serve exited %d on SIGTERM", code)
	}
	r.purge()
	r.rowsChecked += checkStorage(t, r.st, r.dataDir, r.hashed)
}

// waitBackendsGone waits until no database session of a server (or purge) process is left.
func (r *crashRun) waitBackendsGone() {
	testutil.Eventually(r.t, 10*time.Second, "the killed server's database sessions to end", func() bool {
		var n int
		err := r.st.Pool.QueryRow(context.Background(),
			`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`, crashApp).Scan(&n)
		if err != nil {
			r.t.Fatal(err)
		}
		return n == 0
	})
}
