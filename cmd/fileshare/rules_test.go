package main_test

// The rules that hold across instances, checked through the HTTP API of several `serve`
// processes on one database: the PgBouncer tests and the fleet test run them.

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"fileshare/internal/testutil"
)

type entity struct {
	ID  string `json:"id"`
	URL string `json:"url"`
}

// uploadEverywhere uploads data on one instance and downloads it from every instance.
func (c *cluster) uploadEverywhere(login, password string, data []byte) string {
	c.t.Helper()
	body, ctype := testutil.Multipart(c.t, testutil.FilePart("f.bin", data))
	up := decodeAs[entity](c.t, c.want(c.on(c.pick(), http.MethodPost, "/uploads", login, password, body, "Content-Type", ctype), http.StatusCreated, "upload"))
	for i, s := range c.nodes {
		a := c.want(c.on(s, http.MethodGet, "/uploads/"+up.ID, "", "", nil), http.StatusOK, "download")
		if !bytes.Equal(a.body, data) {
			c.t.Fatalf("upload read from instance %d: %d bytes, different", i, len(a.body))
		}
	}
	return up.ID
}

// sharedFile stores content in a new session of login and makes a one-time token of it; it
// returns the session, the file entry and the token's path.
func (c *cluster) sharedFile(login, password string, content []byte) (sessionID, fileID, tokenPath string) {
	c.t.Helper()
	sess := decodeAs[entity](c.t, c.want(c.on(c.pick(), http.MethodPost, "/sessions", login, password, nil), http.StatusCreated, "session"))
	file := decodeAs[entity](c.t, c.want(c.on(c.pick(), http.MethodPost, "/sessions/"+sess.ID+"/files", login, password, []byte(`{"name":"call.wav"}`),
		"Content-Type", "application/json"), http.StatusCreated, "file entry"))
	c.want(c.on(c.pick(), http.MethodPut, "/sessions/"+sess.ID+"/files/"+file.ID, login, password, content), http.StatusOK, "put")
	tok := decodeAs[entity](c.t, c.want(c.on(c.pick(), http.MethodPost, "/sessions/"+sess.ID+"/files/"+file.ID+"/tokens", login, password, nil),
		http.StatusCreated, "token"))
	return sess.ID, file.ID, pathOf(c.t, tok.URL)
}

// raceToken sends racers GETs of a new one-time token at once, spread over the instances:
// exactly one gets the file, every other is told the token was used. It returns the token's
// session and file entry.
func (c *cluster) raceToken(login, password string, racers int) (sessionID, fileID string) {
	c.t.Helper()
	content := make([]byte, 64<<10)
	rand.Read(content)
	sessionID, fileID, path := c.sharedFile(login, password, content)
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make(chan answer, racers)
		errs    = make(chan error, racers)
	)
	for i := range racers {
		wg.Add(1)
		go func(s *testutil.Serve) {
			defer wg.Done()
			<-start
			a, err := send(s, http.MethodGet, path, "", "", nil)
			if err != nil {
				errs <- err
				return
			}
			results <- a
		}(c.nodes[i%len(c.nodes)])
	}
	close(start)
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		c.t.Fatalf("token race: %v", err)
	}
	served, used := 0, 0
	for a := range results {
		switch {
		case a.status == http.StatusOK && bytes.Equal(a.body, content):
			served++
		case a.status == http.StatusGone && a.message() == "download token already used":
			used++
		default:
			c.t.Errorf("token race: %d %.200s", a.status, a.body)
		}
	}
	if served != 1 || used != racers-1 {
		c.t.Fatalf("token raced %d times over %d instances: served %d, refused %d", racers, len(c.nodes), served, used)
	}
	return sessionID, fileID
}

// deleteEverywhere deletes an upload that every instance has served (from memory, where an
// instance may): right after the 204, every instance answers 404.
func (c *cluster) deleteEverywhere(login, password string) {
	c.t.Helper()
	id := c.uploadEverywhere(login, password, []byte("to be deleted"))
	c.uploadEverywhere(login, password, []byte("served twice")) // and once more from memory
	for _, s := range c.nodes {
		c.want(c.on(s, http.MethodGet, "/uploads/"+id, "", "", nil), http.StatusOK, "download before the delete")
	}
	c.want(c.on(c.pick(), http.MethodDelete, "/uploads/"+id, login, password, nil), http.StatusNoContent, "delete")
	for _, s := range c.nodes {
		if a := c.on(s, http.MethodGet, "/uploads/"+id, "", "", nil); a.status != http.StatusNotFound || a.message() != "upload not found" {
			c.t.Fatalf("download on %s right after the delete: %d %s", s.Addr, a.status, a.body)
		}
	}
}

// quotaHolds gives tenant (whose user login has no upload yet) a quota of 1000 bytes, and
// checks quotaRefuses.
func (c *cluster) quotaHolds(env []string, tenant, login, password string) {
	c.t.Helper()
	ok(c.t, env, "", "tenant", "set", tenant, "--max-bytes", "1000")
	c.quotaRefuses(login, password)
}

// quotaRefuses: of login's tenant, whose quota is 1000 bytes and who has no upload yet, an
// upload within it is stored, the next past it refused with 507 on any instance.
func (c *cluster) quotaRefuses(login, password string) {
	c.t.Helper()
	up := func(s *testutil.Serve, n int) answer {
		body, ctype := testutil.Multipart(c.t, testutil.FilePart("q.bin", bytes.Repeat([]byte("q"), n)))
		return c.on(s, http.MethodPost, "/uploads", login, password, body, "Content-Type", ctype)
	}
	c.want(up(c.nodes[0], 600), http.StatusCreated, "an upload within the quota")
	for _, s := range c.nodes {
		if a := up(s, 401); a.status != http.StatusInsufficientStorage || a.message() != "quota exceeded" {
			c.t.Fatalf("an upload past the quota on %s: %d %s", s.Addr, a.status, a.body)
		}
	}
}

// hookReceiver is a webhook endpoint on loopback that records the events it receives.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	events map[string][]string // upload id → event types received
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{events: map[string][]string{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var ev struct {
			Type string
			Data struct{ UploadID string }
		}
		b, _ := io.ReadAll(req.Body)
		if json.Unmarshal(b, &ev) == nil {
			r.mu.Lock()
			r.events[ev.Data.UploadID] = append(r.events[ev.Data.UploadID], ev.Type)
			r.mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) received(uploadID string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events[uploadID]...)
}

// webhookDelivered registers r as login's webhook of upload.stored and uploads on every
// instance: each upload's event arrives (needs FILESHARE_WEBHOOK_ALLOW_PRIVATE=true).
func (c *cluster) webhookDelivered(r *hookReceiver, login, password string) {
	c.t.Helper()
	c.want(c.on(c.pick(), http.MethodPost, "/webhooks", login, password, []byte(`{"url":"`+r.URL+`/hook","events":["upload.stored"]}`),
		"Content-Type", "application/json"), http.StatusCreated, "webhook")
	var ids []string
	for _, s := range c.nodes {
		body, ctype := testutil.Multipart(c.t, testutil.FilePart("hooked.txt", []byte("hooked")))
		ids = append(ids, decodeAs[entity](c.t, c.want(c.on(s, http.MethodPost, "/uploads", login, password, body, "Content-Type", ctype), http.StatusCreated, "upload")).ID)
	}
	testutil.Eventually(c.t, 30*time.Second, "the webhook deliveries", func() bool {
		for _, id := range ids {
			if len(r.received(id)) == 0 {
				return false
			}
		}
		return true
	})
	for _, id := range ids {
		if got := r.received(id); got[0] != "upload.stored" {
			c.t.Fatalf("events of upload %s: %v", id, got)
		}
	}
}

// tusAcross makes a resumable upload of login: created on one instance, each chunk sent to the
// next one, its offset read on another; the completed upload downloads from every instance.
func (c *cluster) tusAcross(login, password string) {
	c.t.Helper()
	data := make([]byte, 300<<10)
	rand.Read(data)
	meta := "filename " + base64.StdEncoding.EncodeToString([]byte("tus.bin"))
	created := c.want(c.on(c.pick(), http.MethodPost, "/tus", login, password, nil,
		"Tus-Resumable", "1.0.0", "Upload-Length", strconv.Itoa(len(data)), "Upload-Metadata", meta), http.StatusCreated, "tus creation")
	path := pathOf(c.t, created.header.Get("Location"))
	const chunk = 100 << 10
	for off := 0; off < len(data); off += chunk {
		head := c.want(c.on(c.pick(), http.MethodHead, path, "", "", nil, "Tus-Resumable", "1.0.0"), http.StatusOK, "tus HEAD")
		if got := head.header.Get("Upload-Offset"); got != strconv.Itoa(off) {
			c.t.Fatalf("tus offset %s, want %d", got, off)
		}
		c.want(c.on(c.pick(), http.MethodPatch, path, "", "", data[off:off+chunk],
			"Tus-Resumable", "1.0.0", "Content-Type", "application/offset+octet-stream", "Upload-Offset", strconv.Itoa(off)), http.StatusNoContent, "tus PATCH")
	}
	head := c.want(c.on(c.pick(), http.MethodHead, path, "", "", nil, "Tus-Resumable", "1.0.0"), http.StatusOK, "tus HEAD")
	download := pathOf(c.t, head.header.Get("Fileshare-Upload-Url"))
	for i, s := range c.nodes {
		if a := c.want(c.on(s, http.MethodGet, download, "", "", nil), http.StatusOK, "download of the tus upload"); !bytes.Equal(a.body, data) {
			c.t.Fatalf("tus upload read from instance %d: %d bytes, different", i, len(a.body))
		}
	}
}

// metric reads the value of series (a name with its labels, as /metrics writes it) from s.
func metric(t *testing.T, s *testutil.Serve, series string) int {
	t.Helper()
	a, err := send(s, http.MethodGet, "/metrics", "", "", nil)
	if err != nil || a.status != http.StatusOK {
		t.Fatalf("metrics of %s: %v %d", s.Addr, err, a.status)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\d+)$`).FindSubmatch(a.body)
	if m == nil {
		t.Fatalf("no %s in the metrics of %s", series, s.Addr)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// cacheHits reads, from /metrics of s, how many downloads it served from memory.
func cacheHits(t *testing.T, s *testutil.Serve) int {
	t.Helper()
	return metric(t, s, `fileshare_upload_cache_lookups_total{result="hit"}`)
}

// coreRules runs every rule above on c, as login of tenant (a user with no upload yet) and
// as quotaLogin of quotaTenant (another tenant, whose quota it sets).
func (c *cluster) coreRules(env []string, login, quotaTenant, quotaLogin, password string) {
	c.t.Helper()
	data := make([]byte, 200<<10)
	rand.Read(data)
	c.uploadEverywhere(login, password, data)
	c.raceToken(login, password, 40)
	c.deleteEverywhere(login, password)
	c.quotaHolds(env, quotaTenant, quotaLogin, password)
	c.webhookDelivered(newHookReceiver(c.t), login, password)
	c.tusAcross(login, password)
}
