package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"fileshare/internal/auth"
	"fileshare/internal/blob"
)

// tusChunk is the PATCH size of the tus upload measurement.
const tusChunk = 64 << 20

const (
	login    = "bench@bench"
	password = "bench-password"
	kib      = 1 << 10
)

type bench struct {
	o     options
	fs    *fileshareServer
	ng    *nginxServer
	dbURL string
	seq   atomic.Int64
}

func (b *bench) setup() {
	// Warm up both servers' connection pools.
	get(b.fs.URL + "/healthz")
	get(b.ng.URL + "/ping")
}

func (b *bench) req(method, url string, body io.Reader) *http.Request {
	r, err := http.NewRequest(method, url, body)
	if err != nil {
		fatalf("%v", err)
	}
	if len(url) >= len(b.fs.URL) && url[:len(b.fs.URL)] == b.fs.URL {
		r.SetBasicAuth(login, password)
	}
	return r
}

func (b *bench) mustJSON(req *http.Request, want int, v any) {
	body, code, err := do(req)
	if err != nil || code != want {
		fatalf("%s %s: %d %v %s", req.Method, req.URL.Path, code, err, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			fatalf("%s %s: %v", req.Method, req.URL.Path, err)
		}
	}
}

// multipartUpload posts size bytes as a simple upload and returns its id.
func (b *bench) multipartUpload(size int64) string {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, _ := mw.CreateFormFile("file", "bench.bin")
		if _, err := io.Copy(fw, &patternReader{left: size}); err != nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(mw.Close())
	}()
	r := b.req(http.MethodPost, b.fs.URL+"/uploads", pr)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	var up struct{ ID string }
	b.mustJSON(r, http.StatusCreated, &up)
	return up.ID
}

func (b *bench) newSession() string {
	var s struct{ ID string }
	b.mustJSON(b.req(http.MethodPost, b.fs.URL+"/sessions", nil), http.StatusCreated, &s)
	return s.ID
}

func (b *bench) newFile(sid string, size int64) string {
	var f struct{ ID string }
	r := b.req(http.MethodPost, b.fs.URL+"/sessions/"+sid+"/files", jsonBody(fmt.Sprintf(`{"name":"bench.bin","size":%d}`, size)))
	r.Header.Set("Content-Type", "application/json")
	b.mustJSON(r, http.StatusCreated, &f)
	return f.ID
}

func (b *bench) putFile(sid, fid string, size int64) {
	r := b.req(http.MethodPut, b.fs.URL+"/sessions/"+sid+"/files/"+fid, &patternReader{left: size})
	r.ContentLength = size
	b.mustJSON(r, http.StatusOK, nil)
}

// tusUpload sends size bytes as a simple upload through tus, in PATCHes of chunk bytes, the
// way a tus client does, and returns the upload's id.
func (b *bench) tusUpload(size, chunk int64) string {
	r := b.req(http.MethodPost, b.fs.URL+"/tus", nil)
	r.Header.Set("Tus-Resumable", "1.0.0")
	r.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
	resp, err := http.DefaultClient.Do(r)
	if err != nil || resp.StatusCode != http.StatusCreated {
		fatalf("POST /tus: %v %v", resp, err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	for off := int64(0); off < size; off += chunk {
		n := min(chunk, size-off)
		p := b.req(http.MethodPatch, loc, &patternReader{left: n})
		p.ContentLength = n
		p.Header.Set("Tus-Resumable", "1.0.0")
		p.Header.Set("Content-Type", "application/offset+octet-stream")
		p.Header.Set("Upload-Offset", strconv.FormatInt(off, 10))
		if body, code, err := do(p); err != nil || code != http.StatusNoContent {
			fatalf("PATCH at %d: %d %v %s", off, code, err, body)
		}
	}
	return loc[strings.LastIndexByte(loc, '/')+1:]
}

func (b *bench) token(sid, fid string) string {
	var t struct{ URL string }
	b.mustJSON(b.req(http.MethodPost, b.fs.URL+"/sessions/"+sid+"/files/"+fid+"/tokens", nil), http.StatusCreated, &t)
	return t.URL
}

func (b *bench) nginxPut(name string, size int64) {
	r := b.req(http.MethodPut, b.ng.URL+"/"+name, &patternReader{left: size})
	r.ContentLength = size
	_, code, err := do(r)
	if err != nil || code/100 != 2 {
		fatalf("nginx PUT: %d %v", code, err)
	}
}

func mbps(size int64, d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }

func timed(f func()) time.Duration {
	t0 := time.Now()
	f()
	return time.Since(t0)
}

// ddSpeed is the disk's durable write speed: dd with conv=fdatasync, the physical limit of an
// upload that is flushed before it is acknowledged.
func (b *bench) ddSpeed() float64 {
	path := filepath.Join(b.o.work, "dd.bin")
	defer os.Remove(path)
	count := strconv.FormatInt(b.o.bigSize>>20, 10)
	d := timed(func() {
		if out, err := exec.Command("dd", "if=/dev/zero", "of="+path, "bs=1M", "count="+count, "conv=fdatasync").CombinedOutput(); err != nil {
			fatalf("dd: %v %s", err, out)
		}
	})
	return mbps(b.o.bigSize, d)
}

func (b *bench) uploads() []result {
	size := b.o.bigSize
	var dd, multi, raw, tus, ng, growth []float64
	for i := 0; i < b.o.runs; i++ {
		dd = append(dd, b.ddSpeed())

		idle := rss(b.fs.Pid())
		stop := make(chan struct{})
		peak := peakRSS(b.fs.Pid(), stop)
		var id string
		d := timed(func() { id = b.multipartUpload(size) })
		close(stop)
		growth = append(growth, float64(<-peak-idle)/(1<<20))
		multi = append(multi, mbps(size, d))
		b.mustJSON(b.req(http.MethodDelete, b.fs.URL+"/uploads/"+id, nil), http.StatusNoContent, nil)

		sid := b.newSession()
		fid := b.newFile(sid, size)
		raw = append(raw, mbps(size, timed(func() { b.putFile(sid, fid, size) })))
		b.mustJSON(b.req(http.MethodDelete, b.fs.URL+"/sessions/"+sid, nil), http.StatusNoContent, nil)

		tus = append(tus, mbps(size, timed(func() { id = b.tusUpload(size, tusChunk) })))
		b.mustJSON(b.req(http.MethodDelete, b.fs.URL+"/uploads/"+id, nil), http.StatusNoContent, nil)

		ng = append(ng, mbps(size, timed(func() { b.nginxPut("big-upload.bin", size) })))
		os.Remove(filepath.Join(b.ng.Root, "big-upload.bin"))
	}
	ddm, ngm := median(dd), median(ng)
	label := fmt.Sprintf("%d MiB", size>>20)
	row := func(name string, runs []float64) result {
		m := median(runs)
		return result{Name: name, Unit: "MB/s", Fileshare: m, Nginx: ngm, Ratio: m / ngm, Runs: runs, NginxRuns: ng,
			Target: "≥1.0× nginx, ≥0.9× dd", Met: boolp(m >= ngm && m >= 0.9*ddm),
			Note: fmt.Sprintf("%.2f× the disk's durable write speed", m/ddm)}
	}
	return []result{
		{Name: "disk durable write (dd conv=fdatasync) " + label, Unit: "MB/s", Fileshare: ddm, Runs: dd, Target: "physical limit"},
		row("upload "+label+" POST /uploads multipart", multi),
		row("upload "+label+" PUT session file raw", raw),
		{Name: fmt.Sprintf("upload %s tus, %d MiB PATCHes", label, tusChunk>>20), Unit: "MB/s", Fileshare: median(tus), Runs: tus,
			Target: "≥0.8× the raw PUT", Met: boolp(median(tus) >= 0.8*median(raw)),
			Note: fmt.Sprintf("%.2f× the raw PUT: each PATCH is fsynced and recorded before its answer", median(tus)/median(raw))},
		{Name: "RSS growth during the " + label + " upload", Unit: "MiB", Fileshare: median(growth), Runs: growth,
			Target: "≤32 MiB", Met: boolp(median(growth) <= 32)},
	}
}

func (b *bench) downloads() []result {
	size := b.o.bigSize
	id := b.multipartUpload(size)
	sid := b.newSession()
	fid := b.newFile(sid, size)
	b.putFile(sid, fid, size)
	b.nginxPut("big.bin", size)
	defer func() {
		b.mustJSON(b.req(http.MethodDelete, b.fs.URL+"/uploads/"+id, nil), http.StatusNoContent, nil)
		b.mustJSON(b.req(http.MethodDelete, b.fs.URL+"/sessions/"+sid, nil), http.StatusNoContent, nil)
		os.Remove(filepath.Join(b.ng.Root, "big.bin"))
	}()
	// One untimed read each, so that all three are served from the page cache alike.
	get(b.fs.URL + "/uploads/" + id)
	get(b.ng.URL + "/big.bin")
	var simple, token, ng []float64
	for i := 0; i < b.o.runs; i++ {
		simple = append(simple, mbps(size, timed(func() { must(get(b.fs.URL + "/uploads/" + id)) })))
		url := b.token(sid, fid)
		token = append(token, mbps(size, timed(func() { must(get(url)) })))
		ng = append(ng, mbps(size, timed(func() { must(get(b.ng.URL + "/big.bin")) })))
	}
	ngm := median(ng)
	label := fmt.Sprintf("%d MiB", size>>20)
	row := func(name string, runs []float64) result {
		m := median(runs)
		return result{Name: name, Unit: "MB/s", Fileshare: m, Nginx: ngm, Ratio: m / ngm, Runs: runs, NginxRuns: ng,
			Target: "≥1.0× nginx", Met: boolp(m >= ngm)}
	}
	return []result{row("download "+label+" simple link", simple), row("download "+label+" one-time token", token)}
}

func must(err error) {
	if err != nil {
		fatalf("%v", err)
	}
}

func (b *bench) smallDownloads() result {
	small := bytes.Repeat([]byte("x"), kib)
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, _ := mw.CreateFormFile("file", "small.bin")
		fw.Write(small)
		pw.CloseWithError(mw.Close())
	}()
	r := b.req(http.MethodPost, b.fs.URL+"/uploads", pr)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	var up struct{ URL string }
	b.mustJSON(r, http.StatusCreated, &up)
	os.WriteFile(filepath.Join(b.ng.Root, "small.bin"), small, 0o644)
	var fsR, ngR []loadResult
	for i := 0; i < b.o.runs; i++ {
		fsR = append(fsR, load(b.o.workers, b.o.smallFor, func(int, int) error { return get(up.URL) }))
		ngR = append(ngR, load(b.o.workers, b.o.smallFor, func(int, int) error { return get(b.ng.URL + "/small.bin") }))
	}
	return loadRow("1 KiB downloads, simple link", fsR, ngR, 0.5)
}

func (b *bench) smallUploads() result {
	small := bytes.Repeat([]byte("y"), kib)
	var fsR, ngR []loadResult
	for run := 0; run < b.o.runs; run++ {
		fsR = append(fsR, load(b.o.workers, b.o.smallFor, func(int, int) error {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			fw, _ := mw.CreateFormFile("file", "s.bin")
			fw.Write(small)
			mw.Close()
			r := b.req(http.MethodPost, b.fs.URL+"/uploads", &buf)
			r.Header.Set("Content-Type", mw.FormDataContentType())
			_, code, err := do(r)
			if err == nil && code != http.StatusCreated {
				err = &statusError{code}
			}
			return err
		}))
		ngR = append(ngR, load(b.o.workers, b.o.smallFor, func(w, i int) error {
			r := b.req(http.MethodPut, fmt.Sprintf("%s/u%d/%d-%d-%d", b.ng.URL, run, b.seq.Add(1), w, i), bytes.NewReader(small))
			_, code, err := do(r)
			if err == nil && code/100 != 2 {
				err = &statusError{code}
			}
			return err
		}))
		// nginx puts the files of each run in a directory of their own: no run of nginx pays for
		// the hundreds of thousands of entries of the runs before it (fileshare spreads its
		// blobs over many directories), and none for deleting them.
	}
	return loadRow("1 KiB durable uploads (POST /uploads)", fsR, ngR, 0.3)
}

func loadRow(name string, fsR, ngR []loadResult, target float64) result {
	var fsRPS, ngRPS, fsP99, ngP99 []float64
	errs := 0
	for _, r := range fsR {
		fsRPS = append(fsRPS, r.RPS())
		fsP99 = append(fsP99, float64(r.P99.Microseconds())/1000)
		errs += r.Errors
	}
	for _, r := range ngR {
		ngRPS = append(ngRPS, r.RPS())
		ngP99 = append(ngP99, float64(r.P99.Microseconds())/1000)
	}
	m, n := median(fsRPS), median(ngRPS)
	res := result{Name: name, Unit: "req/s", Fileshare: m, Runs: fsRPS,
		Note: fmt.Sprintf("p99 %.2f ms (nginx %.2f ms); %d errors", median(fsP99), median(ngP99), errs)}
	if n > 0 {
		res.Nginx, res.Ratio, res.NginxRuns = n, m/n, ngRPS
		res.Target = fmt.Sprintf("≥%.1f× nginx", target)
		res.Met = boolp(m/n >= target && errs == 0)
	}
	return res
}

func (b *bench) tokenChurn() result {
	sid := b.newSession()
	fid := b.newFile(sid, kib)
	b.putFile(sid, fid, kib)
	var runs []loadResult
	for i := 0; i < b.o.runs; i++ {
		runs = append(runs, load(b.o.workers, b.o.smallFor, func(int, int) error {
			var t struct{ URL string }
			body, code, err := do(b.req(http.MethodPost, b.fs.URL+"/sessions/"+sid+"/files/"+fid+"/tokens", nil))
			if err != nil || code != http.StatusCreated {
				return &statusError{code}
			}
			json.Unmarshal(body, &t)
			return get(t.URL)
		}))
	}
	r := loadRow("token churn: create + consume pairs", runs, nil, 0)
	r.Unit, r.Target = "pairs/s", "report"
	return r
}

func (b *bench) authenticated() []result {
	sid := b.newSession()
	var runs []loadResult
	for i := 0; i < b.o.runs; i++ {
		runs = append(runs, load(b.o.workers, b.o.smallFor, func(int, int) error {
			_, code, err := do(b.req(http.MethodGet, b.fs.URL+"/sessions/"+sid, nil))
			if err == nil && code != http.StatusOK {
				err = &statusError{code}
			}
			return err
		}))
	}
	hash, err := auth.HashPassword("a password", auth.DefaultParams)
	must(err)
	n := 0
	d := timed(func() {
		for t0 := time.Now(); time.Since(t0) < 2*time.Second; n++ {
			auth.VerifyPassword(hash, "a wrong password")
		}
	})
	rate := float64(n) / d.Seconds()
	r := loadRow("authenticated GET /sessions/{id}", runs, nil, 0)
	r.Target = "≥20× hash rate"
	r.Met = boolp(r.Fileshare >= 20*rate)
	r.Note += fmt.Sprintf("; one core verifies %.1f argon2id hashes/s: %.0f× that", rate, r.Fileshare/rate)
	return []result{r, b.coldLogins()}
}

// coldLogins compares logins that no instance has seen yet: with a user's password (argon2id
// each time: coldUsers distinct users, each logging in once) and with application passwords
// (one indexed lookup, nothing cached).
func (b *bench) coldLogins() result {
	const coldUsers = 64
	b.fs.run("tenant", "add", "cold")
	apps := make([]string, coldUsers)
	for i := range apps {
		login := fmt.Sprintf("u%d@cold", i)
		b.fs.runStdin(password+"\n", "user", "add", login, "--password-stdin")
		apps[i] = strings.TrimSpace(b.fs.run("user", "apppw", "add", login, "--name", "bench"))
	}
	get := func(i int, pw string) error {
		r, _ := http.NewRequest(http.MethodGet, b.fs.URL+"/usage", nil)
		r.SetBasicAuth(fmt.Sprintf("u%d@cold", i), pw)
		_, code, err := do(r)
		if err == nil && code != http.StatusOK {
			err = &statusError{code}
		}
		return err
	}
	var next atomic.Int64
	hashed := loadWhile(b.o.workers, func() bool { return next.Load() < coldUsers }, func(int, int) error {
		i := int(next.Add(1) - 1)
		if i >= coldUsers {
			return nil
		}
		return get(i, password)
	})
	var runs []loadResult
	for i := 0; i < b.o.runs; i++ {
		runs = append(runs, load(b.o.workers, b.o.smallFor, func(w, n int) error {
			i := (w*7919 + n) % coldUsers
			return get(i, apps[i])
		}))
	}
	r := loadRow("cold logins: application password (GET /usage)", runs, nil, 0)
	r.Target = "report"
	r.Note += fmt.Sprintf("; first logins with a user's password (argon2id): %.0f req/s, so %.0f× that",
		hashed.RPS(), r.Fileshare/hashed.RPS())
	return r
}

// seedSessions adds n sessions to a new tenant with one user, directly in the database.
func (b *bench) seedSessions(tenant string, n int) {
	b.fs.run("tenant", "add", tenant)
	b.fs.runStdin(password+"\n", "user", "add", "u@"+tenant, "--password-stdin")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.dbURL)
	must(err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `INSERT INTO sessions (id, tenant_id, created_by, created_at, expires_at)
		SELECT gen_random_uuid(), (SELECT id FROM tenants WHERE name = $1), 'u@'||$1,
		       now() - i * interval '1 millisecond', now() + interval '7 days'
		FROM generate_series(1, $2) AS i`, tenant, n)
	must(err)
	_, err = conn.Exec(ctx, "ANALYZE sessions")
	must(err)
}

func (b *bench) listing() []result {
	b.seedSessions("list1k", 1000)
	b.seedSessions("list1m", b.o.listRows)
	p50 := func(tenant string) float64 {
		var lat []float64
		for i := 0; i < 300; i++ {
			r, _ := http.NewRequest(http.MethodGet, b.fs.URL+"/sessions?limit=100", nil)
			r.SetBasicAuth("u@"+tenant, password)
			t0 := time.Now()
			_, code, err := do(r)
			if err != nil || code != http.StatusOK {
				fatalf("list: %d %v", code, err)
			}
			if i >= 20 { // the first requests warm caches and the credential cache
				lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
			}
		}
		return median(lat)
	}
	var small, large []float64
	for i := 0; i < b.o.runs; i++ {
		small = append(small, p50("list1k"))
		large = append(large, p50("list1m"))
	}
	s, l := median(small), median(large)
	return []result{
		{Name: "GET /sessions?limit=100 p50, 1,000 sessions", Unit: "ms", Fileshare: s, Runs: small, Target: "report"},
		{Name: fmt.Sprintf("GET /sessions?limit=100 p50, %d sessions", b.o.listRows), Unit: "ms", Fileshare: l, Runs: large,
			Target: "≤1.5× the 1,000 figure", Met: boolp(l <= 1.5*s), Note: fmt.Sprintf("%.2f× the 1,000-session p50", l/s)},
	}
}

func (b *bench) purge() []result {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, b.dbURL)
	must(err)
	defer conn.Close(ctx)
	live := b.multipartUpload(kib)
	var secs, p99s []float64
	for i := 0; i < b.o.runs; i++ {
		const chunk = 10_000
		for done := 0; done < b.o.purgeRows; done += chunk {
			keys := make([]string, min(chunk, b.o.purgeRows-done))
			for k := range keys {
				keys[k] = blob.NewKey(blob.KindUpload)
				p := filepath.Join(b.fs.DataDir, "blobs", filepath.FromSlash(keys[k]))
				os.MkdirAll(filepath.Dir(p), 0o750)
				must(os.WriteFile(p, []byte("expired"), 0o640))
			}
			_, err := conn.Exec(ctx, `INSERT INTO uploads (id, tenant_id, created_by, name, content_type, size, sha256, blob_key, created_at, expires_at)
				SELECT gen_random_uuid(), (SELECT id FROM tenants WHERE name = 'bench'), 'bench@bench', 'f', 'text/plain', 7,
				       sha256('expired'::bytea), k, now() - interval '2 hours', now() - interval '1 hour'
				FROM unnest($1::text[]) AS k`, keys)
			must(err)
		}
		stop := make(chan loadResult)
		purgeDone := make(chan struct{})
		go func() {
			stop <- loadUntil(4, purgeDone, func() error { return get(b.fs.URL + "/uploads/" + live) })
		}()
		d := timed(func() { b.fs.run("purge") })
		close(purgeDone)
		lr := <-stop
		var left int
		conn.QueryRow(ctx, "SELECT count(*) FROM uploads WHERE purged_at IS NULL AND expires_at <= now()").Scan(&left)
		if left != 0 {
			fatalf("purge left %d expired uploads", left)
		}
		secs = append(secs, d.Seconds())
		p99s = append(p99s, float64(lr.P99.Microseconds())/1000)
	}
	s, p := median(secs), median(p99s)
	return []result{
		{Name: fmt.Sprintf("purge pass over %d expired uploads", b.o.purgeRows), Unit: "s", Fileshare: s, Runs: secs,
			Target: "≤60 s", Met: boolp(s <= 60)},
		{Name: "download p99 during the purge", Unit: "ms", Fileshare: p, Runs: p99s, Target: "≤100 ms", Met: boolp(p <= 100)},
	}
}

// loadUntil runs workers closed-loop until done is closed.
func loadUntil(workers int, done <-chan struct{}, op func() error) loadResult {
	var stop atomic.Bool
	go func() { <-done; stop.Store(true) }()
	return loadWhile(workers, func() bool { return !stop.Load() }, func(int, int) error { return op() })
}

// s3 measures the large upload and download with blobs in MinIO on this machine, next to the
// disk figures: a second fileshare on its own database, configured for S3.
func (b *bench) s3(bin string) []result {
	m := startMinIO(b.o.work)
	defer m.Stop()
	dbURL, drop := database(b.o.repo, "_s3")
	defer drop()
	s3fs := startFileshare(bin, dbURL, b.o.work, m.s3Env()...)
	defer s3fs.Stop()
	sb := &bench{o: b.o, fs: s3fs, ng: b.ng, dbURL: dbURL}
	size := b.o.bigSize
	var up, down, tus []float64
	for i := 0; i < b.o.runs; i++ {
		var id string
		up = append(up, mbps(size, timed(func() { id = sb.multipartUpload(size) })))
		down = append(down, mbps(size, timed(func() { must(get(s3fs.URL + "/uploads/" + id)) })))
		sb.mustJSON(sb.req(http.MethodDelete, s3fs.URL+"/uploads/"+id, nil), http.StatusNoContent, nil)
		tus = append(tus, mbps(size, timed(func() { id = sb.tusUpload(size, tusChunk) })))
		sb.mustJSON(sb.req(http.MethodDelete, s3fs.URL+"/uploads/"+id, nil), http.StatusNoContent, nil)
	}
	label := fmt.Sprintf("%d MiB", size>>20)
	return []result{
		{Name: "S3 (MinIO on this machine): upload " + label + " POST /uploads", Unit: "MB/s", Fileshare: median(up), Runs: up, Target: "report"},
		{Name: "S3 (MinIO on this machine): download " + label + " simple link", Unit: "MB/s", Fileshare: median(down), Runs: down, Target: "report"},
		{Name: fmt.Sprintf("S3 (MinIO on this machine): upload %s tus, %d MiB PATCHes", label, tusChunk>>20), Unit: "MB/s", Fileshare: median(tus), Runs: tus, Target: "report"},
	}
}
