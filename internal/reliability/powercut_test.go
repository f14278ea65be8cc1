package reliability_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"fileshare/internal/blob"
	"fileshare/internal/blob/powercut"
	"fileshare/internal/server"
	"fileshare/internal/store"
	"fileshare/internal/testutil"
)

// Power cuts. The disk store runs on a file system that loses power (powercut.FS): at a cut,
// whatever was not made durable (file data not fsynced, names in directories not fsynced) is
// forgotten. The service goes through a simple upload, a session file's PUT and two tus
// uploads (a simple one in three PATCHes, a file entry's with creation-with-upload), and the
// power is cut at each step of the file system in turn. Then the machine comes back: a new
// service on what the file system kept, the same database. Every upload, file entry and tus
// offset that was acknowledged (answered 2xx before the cut) must be there, whole; everything
// a row makes visible must be whole (nothing half-written); every acknowledged tus upload must
// resume from its offset and complete with the right bytes; and the purge, run with no grace
// at all, must keep all of it.
//
// `make test` cuts at every step of the scenario, and at random steps with torn writes (the
// file system keeps or drops each unsynced change at random); `make stress` runs the random
// rounds for longer (FILESHARE_POWERCUT=1, FILESHARE_POWERCUT_ROUNDS).

// pcScenario is what one round sends, with sizes that cross the disk store's 256 KiB buffer.
type pcScenario struct {
	simple, file, tus, tusFile []byte
	// tusCuts are where the tus upload's PATCHes end; the file entry's tus upload sends its
	// first tusFileCut bytes with its creation.
	tusCuts    []int
	tusFileCut int
}

func newPCScenario(rng *rand.Rand, seed int) pcScenario {
	size := func(base int) int { return base + rng.IntN(64<<10) }
	sc := pcScenario{
		simple: content(seed, size(300<<10)), file: content(seed+1, size(280<<10)),
		tus: content(seed+2, size(600<<10)), tusFile: content(seed+3, size(300<<10)),
	}
	a := 1 + rng.IntN(len(sc.tus)/2)
	b := a + 1 + rng.IntN(len(sc.tus)-a-1)
	sc.tusCuts = []int{a, b, len(sc.tus)}
	sc.tusFileCut = 1 + rng.IntN(len(sc.tusFile)-1)
	return sc
}

// pcAcks is what the service acknowledged before the cut.
type pcAcks struct {
	uploads map[string][]byte // simple uploads by id
	files   [][3]string       // session id, file id, sha256
	// tus uploads by URL path: the data, the offset acknowledged, whether completed.
	tus map[string]*pcTus
}

type pcTus struct {
	data      []byte
	offset    int
	completed bool
	// fileID is set for a file entry's content.
	sid, fid string
}

// pcMachine is the service on one power-cut file system, for one round.
type pcMachine struct {
	t     *testing.T
	fsys  *powercut.FS
	blobs *blob.Disk
	app   *server.App
	srv   *httptest.Server
	c     client
	hc    *http.Client
}

func startPCMachine(t *testing.T, st *store.Store, fsys *powercut.FS, login string) *pcMachine {
	t.Helper()
	disk, err := blob.NewDiskFS("/data", fsys)
	if err != nil {
		t.Fatalf("data directory on the recovered file system: %v", err)
	}
	cfg := testutil.DefaultConfig()
	cfg.DataDir = "/data"
	// The purge of the recovered machine sweeps every leftover at once.
	cfg.OrphanGrace = time.Nanosecond
	app, err := server.Assemble(cfg, st, disk, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler)
	hc := newClient(30 * time.Second)
	m := &pcMachine{t: t, fsys: fsys, blobs: disk, app: app, srv: srv, hc: hc,
		c: client{t: t, c: hc, base: srv.URL, login: login, password: "pw"}}
	return m
}

func (m *pcMachine) stop() {
	m.srv.Close()
	m.hc.CloseIdleConnections()
}

// send sends a request and returns its answer, and whether it counts as acknowledged: a 2xx
// answer that arrived while the machine had power.
func (m *pcMachine) send(method, path string, body []byte, header ...string) (answer, bool) {
	m.t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req := request(m.t, method, m.srv.URL+path, m.c.login, m.c.password, r)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	ans, err := do(m.hc, req)
	if err != nil {
		m.t.Fatalf("%s %s: %v", method, path, err)
	}
	return ans, ans.status/100 == 2 && !m.fsys.Dead()
}

func tusMeta(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	return strings.Join(parts, ",")
}

// run sends the scenario until the power goes, and returns what was acknowledged.
func (m *pcMachine) run(sc pcScenario) pcAcks {
	acks := pcAcks{uploads: map[string][]byte{}, tus: map[string]*pcTus{}}
	dead := func() bool { return m.fsys.Dead() }

	// A simple upload.
	body, ctype := testutil.Multipart(m.t, testutil.FilePart("simple.bin", sc.simple))
	ans, ok := m.send(http.MethodPost, "/uploads", body, "Content-Type", ctype)
	if ok {
		var up struct{ ID string }
		m.c.decode(ans, &up)
		acks.uploads[up.ID] = sc.simple
	}
	if dead() {
		return acks
	}
	// A session file's PUT (the session and the entry are rows only).
	sid := m.c.session()
	var f struct{ ID string }
	m.c.decode(m.c.must(http.MethodPost, "/sessions/"+sid+"/files", strings.NewReader(`{"name":"put.bin"}`), "application/json", http.StatusCreated), &f)
	if _, ok := m.send(http.MethodPut, "/sessions/"+sid+"/files/"+f.ID, sc.file, "Content-Type", "application/octet-stream"); ok {
		acks.files = append(acks.files, [3]string{sid, f.ID, testutil.SHA256(sc.file)})
	}
	if dead() {
		return acks
	}
	// A simple tus upload in three PATCHes.
	ans, ok = m.send(http.MethodPost, "/tus", nil, "Tus-Resumable", "1.0.0", "Upload-Length", strconv.Itoa(len(sc.tus)),
		"Upload-Metadata", tusMeta("filename", "tus.bin"))
	if !ok {
		return acks
	}
	tu := &pcTus{data: sc.tus}
	path := strings.TrimPrefix(ans.header.Get("Location"), m.srv.URL)
	acks.tus[path] = tu
	from := 0
	for _, to := range sc.tusCuts {
		ans, ok := m.send(http.MethodPatch, path, sc.tus[from:to], "Tus-Resumable", "1.0.0",
			"Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.Itoa(from))
		if !ok {
			return acks
		}
		if got := ans.header.Get("Upload-Offset"); got != strconv.Itoa(to) {
			m.t.Fatalf("PATCH %d-%d: offset %s", from, to, got)
		}
		tu.offset, tu.completed = to, to == len(sc.tus)
		from = to
	}
	// A file entry's content through tus, its first bytes with the creation.
	sid2 := m.c.session()
	var f2 struct{ ID string }
	m.c.decode(m.c.must(http.MethodPost, "/sessions/"+sid2+"/files", strings.NewReader(`{"name":"tus.bin"}`), "application/json", http.StatusCreated), &f2)
	ans, ok = m.send(http.MethodPost, "/tus", sc.tusFile[:sc.tusFileCut], "Tus-Resumable", "1.0.0",
		"Upload-Length", strconv.Itoa(len(sc.tusFile)), "Content-Type", "application/offset+octet-stream",
		"Upload-Metadata", tusMeta("sessionId", sid2, "fileId", f2.ID))
	if !ok {
		return acks
	}
	tf := &pcTus{data: sc.tusFile, offset: sc.tusFileCut, sid: sid2, fid: f2.ID}
	path = strings.TrimPrefix(ans.header.Get("Location"), m.srv.URL)
	acks.tus[path] = tf
	if _, ok := m.send(http.MethodPatch, path, sc.tusFile[sc.tusFileCut:], "Tus-Resumable", "1.0.0",
		"Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.Itoa(sc.tusFileCut)); ok {
		tf.offset, tf.completed = len(sc.tusFile), true
	}
	return acks
}

// download returns the SHA-256 of what path answers, or its status when it is not 200.
func (m *pcMachine) download(path string) (string, int) {
	m.t.Helper()
	ans, _ := m.send(http.MethodGet, path, nil)
	if ans.status != http.StatusOK {
		return "", ans.status
	}
	return testutil.SHA256(ans.body), ans.status
}

// check verifies the recovered machine against what was acknowledged before the cut, and
// that nothing visible is half-written.
func (m *pcMachine) check(st *store.Store, tenant string, acks pcAcks, what string) {
	t := m.t
	t.Helper()
	ctx := context.Background()
	for id, data := range acks.uploads {
		if got, status := m.download("/uploads/" + id); got != testutil.SHA256(data) {
			t.Fatalf("%s: acknowledged upload %s: %d, sha256 %s, want %s", what, id, status, got, testutil.SHA256(data))
		}
	}
	for _, f := range acks.files {
		if got, status := m.download(strings.TrimPrefix(m.c.token(f[0], f[1]), m.srv.URL)); got != f[2] {
			t.Fatalf("%s: acknowledged file entry %s: %d, sha256 %s", what, f[1], status, got)
		}
	}
	// Every acknowledged tus upload is at least where it was acknowledged, and completes with
	// the right bytes from wherever it is.
	for path, tu := range acks.tus {
		h, _ := m.send(http.MethodHead, path, nil, "Tus-Resumable", "1.0.0")
		if h.status != http.StatusOK {
			t.Fatalf("%s: acknowledged tus upload %s: HEAD %d", what, path, h.status)
		}
		off, _ := strconv.Atoi(h.header.Get("Upload-Offset"))
		if off < tu.offset || (tu.completed && off != len(tu.data)) {
			t.Fatalf("%s: tus upload %s is at %d, %d was acknowledged (completed %v)", what, path, off, tu.offset, tu.completed)
		}
		if off < len(tu.data) {
			ans, _ := m.send(http.MethodPatch, path, tu.data[off:], "Tus-Resumable", "1.0.0",
				"Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.Itoa(off))
			if ans.status != http.StatusNoContent {
				t.Fatalf("%s: resuming tus upload %s at %d: %d %s", what, path, off, ans.status, ans.body)
			}
		}
		var got string
		if tu.fid != "" {
			got, _ = m.download(strings.TrimPrefix(m.c.token(tu.sid, tu.fid), m.srv.URL))
		} else {
			// The upload's own id, which HEAD on the tus URL gives.
			h, _ := m.send(http.MethodHead, path, nil, "Tus-Resumable", "1.0.0")
			u := h.header.Get("Fileshare-Upload-Url")
			got, _ = m.download(u[strings.Index(u, "/uploads/"):])
		}
		if got != testutil.SHA256(tu.data) {
			t.Fatalf("%s: tus upload %s resumed at %d of %d: sha256 %s, want %s", what, path, off, len(tu.data), got, testutil.SHA256(tu.data))
		}
	}
	// Nothing half-written is visible: every row's blob is there and whole.
	whole := func() {
		rows, err := st.Pool.Query(ctx, `
			SELECT blob_key, sha256, size FROM uploads u JOIN tenants t ON t.id = u.tenant_id WHERE t.name = $1 AND u.purged_at IS NULL
			UNION ALL
			SELECT blob_key, sha256, size FROM session_files f JOIN tenants t ON t.id = f.tenant_id WHERE t.name = $1 AND f.state = 'stored'`, tenant)
		if err != nil {
			t.Fatal(err)
		}
		type row struct {
			key  string
			sum  []byte
			size int64
		}
		var all []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.key, &r.sum, &r.size); err != nil {
				t.Fatal(err)
			}
			all = append(all, r)
		}
		rows.Close()
		for _, r := range all {
			rd, err := m.blobs.Get(ctx, r.key, 0, r.size)
			if err != nil {
				t.Fatalf("%s: the blob %s of a visible row: %v", what, r.key, err)
			}
			h := sha256.New()
			_, err = io.Copy(h, rd)
			rd.Close()
			if err != nil || !bytes.Equal(h.Sum(nil), r.sum) {
				t.Fatalf("%s: the blob %s of a visible row is not whole (%v)", what, r.key, err)
			}
		}
	}
	whole()
	// The purge, with no grace, keeps all of that and sweeps every leftover.
	if _, err := m.app.Purger.RunOnce(ctx); err != nil {
		t.Fatalf("%s: purge: %v", what, err)
	}
	whole()
	for p := range m.fsys.Files("/data") {
		if strings.Contains(p, "/upload-") || strings.Contains(p, "/.upload-") {
			t.Fatalf("%s: temp file %s left after the purge", what, p)
		}
	}
}

// pcRound runs the scenario on a fresh file system cut at step cut (0: never), recovers,
// checks, and returns how many steps the scenario took and whether the cut came.
func pcRound(t *testing.T, st *store.Store, round, cut int, rng *rand.Rand, torn bool) (int, bool) {
	t.Helper()
	tenant := fmt.Sprintf("pc%d", round)
	login := "alice@" + tenant
	addUser(t, st, login, "pw")
	fsys := powercut.New()
	if torn {
		fsys.Torn = rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64()))
	}
	m := startPCMachine(t, st, fsys, login)
	start := fsys.Steps()
	if cut > 0 {
		fsys.CutAt(cut)
	}
	sc := newPCScenario(rng, round*10)
	acks := m.run(sc)
	steps, cutCame := fsys.Steps()-start, fsys.Dead()
	m.stop()
	what := fmt.Sprintf("round %d, cut at step %d of the scenario (torn %v)", round, cut, torn)
	after := startPCMachine(t, st, fsys.Recover(), login)
	defer after.stop()
	after.check(st, tenant, acks, what)
	return steps, cutCame
}

func pcStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), testutil.NewDatabase(t), store.Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

// TestPowerCutAtEveryStep cuts the power at each step of the scenario in turn, then at random
// steps with torn writes.
func TestPowerCutAtEveryStep(t *testing.T) {
	t.Parallel()
	st := pcStore(t)
	rng := rand.New(rand.NewPCG(1, 2))
	total, cut := pcRound(t, st, 0, 0, rng, false)
	if cut || total < 30 {
		t.Fatalf("the scenario took %d steps without a cut", total)
	}
	round := 1
	for n := 1; n <= total; n++ {
		// The same sizes every round, so that the steps are the same.
		if _, cut := pcRound(t, st, round, n, rand.New(rand.NewPCG(1, 2)), false); !cut {
			t.Fatalf("no cut at step %d of %d", n, total)
		}
		round++
	}
	for range 20 {
		pcRound(t, st, round, 1+rng.IntN(total), rng, true)
		round++
	}
	figure(t, "power cut at each of the %d steps of a simple upload, a session file PUT and two tus uploads, and 20 torn cuts: every acknowledgement kept", total)
}
