package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"fileshare/internal/testutil"
)

// The fleet of docs/behaviour.md §8.4: ten `serve` processes, at their default connection budget (8), on one
// PostgreSQL cluster of the test's own with max_connections=100, under load on all of them —
// uploads and downloads, one-time tokens raced across instances, 40 slow resumable-upload
// PATCHes, webhook deliveries. pg_stat_activity, sampled all along, never counts more than
// 10 × 8 connections besides the sampler's own; no request is refused for lack of connections;
// the one-time, deletion and quota rules hold across the ten.
func TestFleetWithinConnectionBudget(t *testing.T) {
	t.Parallel()
	const (
		instances = 10
		budget    = 8 // the default of FILESHARE_DB_MAX_CONNS, which the instances keep
		slowTus   = 40
		password  = "pw"
	)
	pg := testutil.StartCluster(t, "max_connections=100")
	dbURL := pg.Database(t, "fileshare")
	env := append(dbEnv(dbURL), "FILESHARE_DATA_DIR="+t.TempDir(), "FILESHARE_WEBHOOK_ALLOW_PRIVATE=true",
		// Ten servers, their clients and PostgreSQL share two cores here: give a database call
		// more than the production 2 s, so that the test counts connections, not CPU time.
		"FILESHARE_DB_TIMEOUT=15s")
	ok(t, env, "", "migrate", "up")
	for _, tenant := range []string{"acme", "quota"} {
		ok(t, env, "", "tenant", "add", tenant)
	}
	ok(t, env, password+"\n", "user", "add", "alice@acme", "--password-stdin")
	ok(t, env, password+"\n", "user", "add", "bob@quota", "--password-stdin")
	ok(t, env, "", "tenant", "set", "quota", "--max-bytes", "1000")

	nodes := startServers(t, instances, env)
	c := &cluster{t: t, nodes: nodes}
	receiver := newHookReceiver(t)
	c.want(c.on(nodes[0], http.MethodPost, "/webhooks", "alice@acme", password, []byte(`{"url":"`+receiver.URL+`/hook","events":["upload.stored"]}`),
		"Content-Type", "application/json"), http.StatusCreated, "webhook")

	files := make([][]loadFile, instances)
	for w := range files {
		for range 12 {
			data := make([]byte, 4<<10)
			rand.Read(data)
			body, ctype := testutil.Multipart(t, testutil.FilePart("load.bin", data))
			files[w] = append(files[w], loadFile{data, body, ctype})
		}
	}
	stopSampling := sampleConnections(t, pg.URL)
	l := &fleetLoad{nodes: nodes}
	var wg sync.WaitGroup
	for w := range instances {
		wg.Add(1)
		go func() { defer wg.Done(); l.uploadsAndDownloads(w, files[w], "alice@acme", password) }()
	}
	for i := range slowTus {
		wg.Add(1)
		go func() { defer wg.Done(); l.slowPatch(i, "alice@acme", password) }()
	}
	// Meanwhile, the rules, on this goroutine.
	for range 3 {
		c.raceToken("alice@acme", password, 60)
	}
	c.deleteEverywhere("alice@acme", password)
	c.quotaRefuses("bob@quota", password)
	wg.Wait()

	l.mu.Lock()
	for _, err := range l.errs {
		t.Error(err)
	}
	uploaded := l.uploaded
	l.mu.Unlock()
	if t.Failed() {
		t.FailNow()
	}
	testutil.Eventually(t, 30*time.Second, "the webhook deliveries of every upload", func() bool {
		for _, id := range uploaded {
			if len(receiver.received(id)) == 0 {
				return false
			}
		}
		return true
	})
	peak := stopSampling()
	t.Logf("peak of pg_stat_activity's client backends over the load: %d (the sampler's own included)", peak)
	if peak > instances*budget+1 || peak >= 100 {
		t.Fatalf("%d connections at the peak: more than %d instances × %d, and the sampler's", peak, instances, budget)
	}
	if peak < 2*instances {
		t.Fatalf("only %d connections at the peak: the sampler does not see the instances", peak)
	}
	for i, s := range nodes {
		if code := s.Stop(); code != 0 {
			t.Errorf("instance %d exited %d:\n%s", i, code, s.Logs)
		}
	}
}

// sampleConnections counts the cluster's client backends every 20 ms, on a connection of its
// own, until the function it returns is called; that returns the peak.
func sampleConnections(t *testing.T, url string) func() int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	var (
		peak int
		stop = make(chan struct{})
		done = make(chan error, 1)
	)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var n int
			if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'`).Scan(&n); err != nil {
				done <- err
				return
			}
			peak = max(peak, n)
			select {
			case <-stop:
				done <- nil
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	finish := func() int {
		once.Do(func() {
			close(stop)
			if err := <-done; err != nil {
				t.Errorf("sampling pg_stat_activity: %v", err)
			}
			conn.Close(context.Background())
		})
		return peak
	}
	t.Cleanup(func() { finish() })
	return finish
}

// fleetLoad is the background load of the fleet test: its goroutines record what went wrong
// (never Fatal) and the uploads they made.
type fleetLoad struct {
	nodes    []*testutil.Serve
	mu       sync.Mutex
	errs     []error
	uploaded []string
}

func (l *fleetLoad) fail(format string, args ...any) {
	l.mu.Lock()
	l.errs = append(l.errs, fmt.Errorf(format, args...))
	l.mu.Unlock()
}

// loadFile is a file of the load, with its multipart body.
type loadFile struct {
	data, body []byte
	ctype      string
}

// uploadsAndDownloads uploads files, each on one instance, and downloads each from the next.
func (l *fleetLoad) uploadsAndDownloads(w int, files []loadFile, login, password string) {
	for i, f := range files {
		up := l.nodes[(w+i)%len(l.nodes)]
		a, err := send(up, http.MethodPost, "/uploads", login, password, f.body, "Content-Type", f.ctype)
		var created entity
		if err == nil && a.status == http.StatusCreated {
			err = json.Unmarshal(a.body, &created)
		}
		if err != nil || a.status != http.StatusCreated {
			l.fail("upload on %s: %v %d %.200s", up.Addr, err, a.status, a.body)
			continue
		}
		id := created.ID
		l.mu.Lock()
		l.uploaded = append(l.uploaded, id)
		l.mu.Unlock()
		down := l.nodes[(w+i+1)%len(l.nodes)]
		a, err = send(down, http.MethodGet, "/uploads/"+id, "", "", nil)
		if err != nil || a.status != http.StatusOK || !bytes.Equal(a.body, f.data) {
			l.fail("download of %s on %s: %v %d, %d bytes", id, down.Addr, err, a.status, len(a.body))
		}
	}
}

// slowPatch creates a resumable upload on one instance and sends its 20 KiB in one PATCH to
// the next, slowly (2.5 KiB/s, above the least rate): the PATCH lasts some eight seconds.
func (l *fleetLoad) slowPatch(i int, login, password string) {
	const length, piece = 20 << 10, 640
	meta := "filename " + base64.StdEncoding.EncodeToString([]byte("slow-"+strconv.Itoa(i)))
	on := l.nodes[i%len(l.nodes)]
	a, err := send(on, http.MethodPost, "/tus", login, password, nil,
		"Tus-Resumable", "1.0.0", "Upload-Length", strconv.Itoa(length), "Upload-Metadata", meta)
	if err != nil || a.status != http.StatusCreated {
		l.fail("tus creation on %s: %v %d %.200s", on.Addr, err, a.status, a.body)
		return
	}
	pr, pw := io.Pipe()
	go func() {
		chunk := make([]byte, piece)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for sent := 0; sent < length; sent += piece {
			rand.Read(chunk)
			if _, err := pw.Write(chunk); err != nil {
				return
			}
			<-tick.C
		}
		pw.Close()
	}()
	patch := l.nodes[(i+1)%len(l.nodes)]
	req, _ := http.NewRequest(http.MethodPatch, a.header.Get("Location"), pr)
	req.URL.Host = patch.Addr
	req.ContentLength = length
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", "0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		pr.CloseWithError(err)
		l.fail("slow PATCH on %s: %v", patch.Addr, err)
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.Itoa(length) {
		l.fail("slow PATCH on %s: %d, offset %s %.200s", patch.Addr, resp.StatusCode, resp.Header.Get("Upload-Offset"), b)
	}
}
