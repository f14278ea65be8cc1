package main_test

// This file is over 400 lines: a stock tus client (tus-js-client) against real processes behind a cutting proxy; the proxy and the scenarios belong together.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fileshare/internal/testutil"
)

// A stock tus client (tus-js-client, internal/tustest/client) uploads a large file in chunks
// to real `fileshare serve` processes behind a proxy, which breaks the upload three ways on
// the way: a connection dropped in the middle of a chunk, the instance killed and restarted in
// the middle of a chunk, and the next chunk sent to another instance. The client resumes on
// its own each time; the download's SHA-256 is the file's.

const (
	tusFileSize  = 64 << 20
	tusChunkSize = 4 << 20
)

// tusClientDir is the directory of the Node client; the test is skipped when Node or the
// client's packages (npm ci there) are missing.
func tusClientDir(t *testing.T) (node, dir string) {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	dir = filepath.Join(filepath.Dir(here), "..", "..", "internal", "tustest", "client")
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: the tus client test needs Node 18 or later (Debian package nodejs)")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "tus-js-client")); err != nil {
		t.Fatalf("tus-js-client is not installed: run `npm ci` in %s (scripts/test.sh does)", dir)
	}
	return node, dir
}

// tusProxy stands between the client and the instances, as a load balancer would: it sends
// each request to the current target, and can break the next PATCH after so many bytes of its
// body.
type tusProxy struct {
	t   *testing.T
	url string

	mu      sync.Mutex
	target  string // host:port; "" while no instance is up: connections are dropped
	cut     *tusCut
	patched int64 // PATCH body bytes forwarded to an instance
}

// tusCut breaks a PATCH after `after` bytes of its body: then runs (killing the instance, say),
// and unless keepGoing the client's connection is dropped there and then.
type tusCut struct {
	after     int64
	then      func()
	keepGoing bool
}

var errTusCut = errors.New("connection cut by the test")

func newTusProxy(t *testing.T) *tusProxy {
	p := &tusProxy{t: t}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

func (p *tusProxy) setTarget(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = addr
}

func (p *tusProxy) cutNext(c *tusCut) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = c
}

func (p *tusProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	target := p.target
	var cut *tusCut
	if r.Method == http.MethodPatch && target != "" {
		cut, p.cut = p.cut, nil
	}
	p.mu.Unlock()
	if target == "" {
		// No instance: the client finds nobody listening. (A 5xx answer to its HEAD would make
		// tus-js-client start the upload over, by design.)
		panic(http.ErrAbortHandler)
	}
	if r.Method == http.MethodPatch {
		r.Body = &tusCountingBody{ReadCloser: r.Body, p: p, cut: cut}
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&url.URL{Scheme: "http", Host: target})
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, errTusCut) {
				panic(http.ErrAbortHandler) // the client's connection goes too
			}
			http.Error(w, `{"message":"bad gateway"}`, http.StatusBadGateway)
		},
	}
	rp.ServeHTTP(w, r)
}

type tusCountingBody struct {
	io.ReadCloser
	p   *tusProxy
	cut *tusCut
	n   int64
}

func (b *tusCountingBody) Read(buf []byte) (int, error) {
	if c := b.cut; c != nil && b.n >= c.after {
		b.cut = nil
		if c.then != nil {
			c.then()
		}
		if !c.keepGoing {
			return 0, errTusCut
		}
	}
	if c := b.cut; c != nil && int64(len(buf)) > c.after-b.n {
		buf = buf[:c.after-b.n]
	}
	n, err := b.ReadCloser.Read(buf)
	b.n += int64(n)
	b.p.mu.Lock()
	b.p.patched += int64(n)
	b.p.mu.Unlock()
	return n, err
}

// tusEvent is a line of the client's output.
type tusEvent struct {
	Event    string  `json:"event"`
	Accepted int64   `json:"accepted"`
	URL      string  `json:"url"`
	Message  string  `json:"message"`
	Status   int     `json:"status"`
	Method   string  `json:"method"`
	Offset   *string `json:"offset"`
}

// tusScenario is one run of the client against two instances, A and B.
type tusScenario struct {
	env      []string // of every instance
	metadata map[string]string
	headers  map[string]string
	a, b     *testutil.Serve
	proxy    *tusProxy
}

// run uploads data with the client, breaking the upload three ways, and returns the upload's
// URL. It leaves the proxy pointing at instance B.
func (sc *tusScenario) run(t *testing.T, data []byte) string {
	t.Helper()
	node, dir := tusClientDir(t)
	file := filepath.Join(t.TempDir(), "upload.bin")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{
		"endpoint": sc.proxy.url + "/tus", "file": file, "chunkSize": tusChunkSize,
		"metadata": sc.metadata, "headers": sc.headers,
		// Long enough to outlast an instance's restart.
		"retryDelays": []int{0, 200, 500, 1000, 1000, 2000, 2000, 3000, 3000, 5000, 5000},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "upload.js"), string(cfg))
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	lines := make(chan tusEvent)
	go func() {
		defer close(lines)
		scan := bufio.NewScanner(out)
		for scan.Scan() {
			var ev tusEvent
			if json.Unmarshal(scan.Bytes(), &ev) == nil {
				lines <- ev
			}
		}
	}()
	killed := make(chan struct{})
	var (
		stage    int
		retries  int
		uploadTo string
		log      []string
	)
	for {
		var ev tusEvent
		var open bool
		select {
		case ev, open = <-lines:
			if !open {
				t.Fatalf("the client ended without success: %v\n%s\nevents: %s", cmd.Wait(), stderr.String(), strings.Join(log, "\n"))
			}
		case <-killed:
			// Instance A died in the middle of a chunk: start it again (the client meanwhile
			// finds no instance and retries).
			killed = nil
			<-sc.a.Done()
			sc.a = testutil.StartServe(t, binary, sc.env)
			sc.proxy.setTarget(sc.a.Addr)
			continue
		}
		line, _ := json.Marshal(ev)
		log = append(log, string(line))
		switch ev.Event {
		case "retry":
			retries++
		case "chunk":
			switch {
			case stage == 0 && ev.Accepted >= 8<<20:
				stage++
				sc.proxy.cutNext(&tusCut{after: 1 << 20})
			case stage == 1 && ev.Accepted >= 24<<20:
				stage++
				a := sc.a
				sc.proxy.cutNext(&tusCut{after: 2 << 20, keepGoing: true, then: func() {
					sc.proxy.setTarget("")
					a.Cmd.Process.Kill()
					close(killed)
				}})
			case stage == 2 && ev.Accepted >= 40<<20:
				stage++
				sc.proxy.setTarget(sc.b.Addr)
			}
		case "success":
			uploadTo = ev.URL
		case "error":
			t.Fatalf("the client gave up: %s\nevents: %s", ev.Message, strings.Join(log, "\n"))
		}
		if uploadTo != "" {
			break
		}
	}
	if stage != 3 || retries < 3 {
		t.Fatalf("the upload went through %d of 3 breaks with %d retries:\n%s", stage, retries, strings.Join(log, "\n"))
	}
	// Resumed each time, never started over: little more than the file went through.
	sc.proxy.mu.Lock()
	patched := sc.proxy.patched
	sc.proxy.mu.Unlock()
	if patched < int64(len(data)) || patched > int64(len(data))+3*tusChunkSize {
		t.Errorf("%d bytes sent in PATCHes for a file of %d:\n%s", patched, len(data), strings.Join(log, "\n"))
	}
	t.Logf("%d bytes in %d retries and %d bytes of PATCH bodies", len(data), retries, patched)
	if !strings.HasPrefix(uploadTo, sc.proxy.url+"/tus/") {
		t.Fatalf("upload URL %q", uploadTo)
	}
	return uploadTo
}

// tusStart starts the two instances on one database, a proxy in front of them, and adds
// alice@acme.
func tusStart(t *testing.T, extra ...string) *tusScenario {
	t.Helper()
	tusClientDir(t)
	proxy := newTusProxy(t)
	env := append(dbEnv(testutil.NewDatabase(t)), "FILESHARE_PUBLIC_URL="+proxy.url)
	env = append(env, extra...)
	ok(t, env, "", "tenant", "add", "acme")
	ok(t, env, "pw\n", "user", "add", "alice@acme", "--password-stdin")
	sc := &tusScenario{env: env, proxy: proxy, a: testutil.StartServe(t, binary, env), b: testutil.StartServe(t, binary, env)}
	proxy.setTarget(sc.a.Addr)
	return sc
}

func tusRandom(t *testing.T, n int) ([]byte, string) {
	t.Helper()
	data := make([]byte, n)
	rand.Read(data)
	sum := sha256.Sum256(data)
	return data, hex.EncodeToString(sum[:])
}

// tusDownloadSHA256 downloads url and returns the SHA-256 of its body.
func tusDownloadSHA256(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	h := sha256.New()
	if _, err := io.Copy(h, resp.Body); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// tusUploadURL is the download URL of the simple upload a completed tus upload became: HEAD on
// its tus URL says it (Fileshare-Upload-Url); the tus id is never the upload's.
func tusUploadURL(t *testing.T, tusURL string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodHead, tusURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u := resp.Header.Get("Fileshare-Upload-Url")
	if resp.StatusCode != http.StatusOK || u == "" || u[strings.LastIndexByte(u, '/')+1:] == tusURL[strings.LastIndexByte(tusURL, '/')+1:] {
		t.Fatalf("HEAD %s: %d Fileshare-Upload-Url %q", tusURL, resp.StatusCode, u)
	}
	return u
}

func tusBasic(login, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(login+":"+password))
}

func TestTusClientSurvivesCutsOnDisk(t *testing.T) {
	t.Parallel()
	sc := tusStart(t, "FILESHARE_DATA_DIR="+t.TempDir())
	sc.metadata = map[string]string{"filename": "call-recording.bin", "filetype": "application/octet-stream"}
	sc.headers = map[string]string{"Authorization": tusBasic("alice@acme", "pw")}
	data, sum := tusRandom(t, tusFileSize)
	up := sc.run(t, data)
	download := tusUploadURL(t, up)
	id := download[strings.LastIndexByte(download, '/')+1:]
	// The upload's own id, on either instance: the whole file.
	for _, s := range []*testutil.Serve{sc.a, sc.b} {
		if got := tusDownloadSHA256(t, s.URL("/uploads/"+id)); got != sum {
			t.Fatalf("download from %s: sha256 %s, want %s", s.Addr, got, sum)
		}
	}
}

func TestTusClientWithUploadURLToken(t *testing.T) {
	t.Parallel()
	sc := tusStart(t, "FILESHARE_DATA_DIR="+t.TempDir())
	sess := apiJSON(t, sc.a, http.MethodPost, "/sessions", "")
	sid := sess["id"].(string)
	f := apiJSON(t, sc.a, http.MethodPost, "/sessions/"+sid+"/files", `{"name":"from-a-phone.mp4","size":`+strconv.Itoa(tusFileSize)+`}`)
	fid := f["id"].(string)
	upURL := apiJSON(t, sc.a, http.MethodPost, "/sessions/"+fid, "")["url"].(string)
	token := upURL[strings.Index(upURL, "token=")+len("token="):]
	// No credentials at all: the upload token is the capability.
	sc.metadata = map[string]string{"sessionId": sid, "fileId": fid, "token": token}
	data, sum := tusRandom(t, tusFileSize)
	sc.run(t, data)
	tok := apiJSON(t, sc.b, http.MethodPost, "/sessions/"+sid+"/files/"+fid+"/tokens", "")
	if got := tusDownloadSHA256(t, tok["url"].(string)); got != sum {
		t.Fatalf("token download: sha256 %s, want %s", got, sum)
	}
}

// On S3: both instances on one bucket. Every acknowledged offset is in completed parts or
// stored objects, so the instance that takes over finds it.
func TestTusClientSurvivesCutsOnS3(t *testing.T) {
	t.Parallel()
	tusClientDir(t)
	m := testutil.StartMinIO(t)
	bucket := testutil.NewBucketName()
	sc := tusStart(t, m.Env(bucket)...)
	sc.metadata = map[string]string{"filename": "on-s3.bin"}
	sc.headers = map[string]string{"Authorization": tusBasic("alice@acme", "pw")}
	data, sum := tusRandom(t, tusFileSize)
	up := sc.run(t, data)
	download := tusUploadURL(t, up)
	id := download[strings.LastIndexByte(download, '/')+1:]
	if got := tusDownloadSHA256(t, sc.a.URL("/uploads/"+id)); got != sum {
		t.Fatalf("download: sha256 %s, want %s", got, sum)
	}
	// Nothing staged is left behind: no tail, no marker, no incomplete multipart upload.
	for _, o := range m.Objects(t, bucket) {
		if strings.HasPrefix(o, "t/") {
			t.Errorf("staging object left: %s", o)
		}
	}
	if u := m.IncompleteUploads(t, bucket); len(u) != 0 {
		t.Errorf("incomplete multipart uploads left: %v", u)
	}
}
