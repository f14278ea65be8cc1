package main_test

// This file is over 400 lines: several real serve processes on one database and bucket, with the harness that drives them; the scenarios share it.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"fileshare/internal/testutil"
)

// Several `fileshare serve` processes on one database and one MinIO bucket (docs/behaviour.md §8), with a
// client that spreads its requests over them.

// startServers starts n `serve` processes at once, so that they also race to create the
// bucket, and waits until each answers /healthz.
func startServers(t *testing.T, n int, env []string) []*testutil.Serve {
	t.Helper()
	servers := make([]*testutil.Serve, n)
	for i := range servers {
		servers[i] = testutil.LaunchServe(t, binary, env)
	}
	for _, s := range servers {
		s.WaitReady("/readyz")
	}
	return servers
}

// cluster is a client that sends each request to the next instance in turn, as a load
// balancer would.
type cluster struct {
	t     *testing.T
	nodes []*testutil.Serve
	mu    sync.Mutex
	next  int
}

func (c *cluster) pick() *testutil.Serve {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.nodes[c.next%len(c.nodes)]
	c.next++
	return s
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) message() string {
	var m struct{ Message string }
	json.Unmarshal(a.body, &m)
	return m.Message
}

// send sends a request to s; it is safe in any goroutine (it reports errors, never Fatal).
func send(s *testutil.Serve, method, path, login, password string, body []byte, header ...string) (answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL(path), rd)
	if err != nil {
		return answer{}, err
	}
	if login != "" {
		req.SetBasicAuth(login, password)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, b}, err
}

func (c *cluster) on(s *testutil.Serve, method, path, login, password string, body []byte, header ...string) answer {
	c.t.Helper()
	a, err := send(s, method, path, login, password, body, header...)
	if err != nil {
		c.t.Fatalf("%s %s on %s: %v", method, path, s.Addr, err)
	}
	return a
}

func (c *cluster) want(a answer, status int, what string) answer {
	c.t.Helper()
	if a.status != status {
		c.t.Fatalf("%s: %d %.300s, want %d", what, a.status, a.body, status)
	}
	return a
}

// pathOf is the path of an absolute URL in an answer, to send it to any instance.
func pathOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

func decodeAs[T any](t *testing.T, a answer) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(a.body, &v); err != nil {
		t.Fatalf("%v: %s", err, a.body)
	}
	return v
}

// purgeRemoved reads fileshare_purge_removed_total by kind from an instance's /metrics.
func purgeRemoved(t *testing.T, s *testutil.Serve) map[string]int {
	t.Helper()
	a, err := send(s, http.MethodGet, "/metrics", "", "", nil)
	if err != nil || a.status != http.StatusOK {
		t.Fatalf("metrics of %s: %v %d", s.Addr, err, a.status)
	}
	out := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^fileshare_purge_removed_total\{kind="(\w+)"\} (\d+)$`).FindAllStringSubmatch(string(a.body), -1) {
		n, _ := strconv.Atoi(m[2])
		out[m[1]] = n
	}
	return out
}

func TestScaleOut(t *testing.T) {
	t.Parallel()
	const (
		login, password = "alice@acme", "pw"
		instances       = 3
	)
	dbURL := testutil.NewDatabase(t)
	m := testutil.StartMinIO(t)
	bucket := testutil.NewBucketName()
	// Small budgets: the other test packages share the server's max_connections with these
	// three instances, and running out of connections would be answered 503.
	env := append(dbEnv(dbURL), m.Env(bucket)...)
	env = append(env, "FILESHARE_DB_MAX_CONNS=6")
	// Every instance purges continuously, alongside everything else the test does.
	// Three servers, their clients and MinIO share two cores here: give a database call more
	// than the production 2 s, so that the race tests atomicity rather than overload shedding.
	env = append(env, "FILESHARE_PURGE_INTERVAL=200ms", "FILESHARE_DB_TIMEOUT=15s")
	ok(t, env, "", "tenant", "add", "acme")
	ok(t, env, password+"\n", "user", "add", login, "--password-stdin")
	db, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	count := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	nodes := startServers(t, instances, env)
	c := &cluster{t: t, nodes: nodes}

	// An upload on one instance is downloadable from all the others, ranges included.
	type upload struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	}
	datas := [][]byte{[]byte("small"), make([]byte, 300<<10), make([]byte, 9<<20)}
	var uploads []upload
	for i, data := range datas {
		rand.Read(data)
		body, ctype := testutil.Multipart(t, testutil.FilePart("f"+strconv.Itoa(i), data))
		a := c.want(c.on(nodes[i%instances], http.MethodPost, "/uploads", login, password, body, "Content-Type", ctype), http.StatusCreated, "upload")
		uploads = append(uploads, decodeAs[upload](t, a))
	}
	if got := m.Objects(t, bucket); len(got) != len(datas) {
		t.Fatalf("the bucket holds %d objects for %d uploads", len(got), len(datas))
	}
	for i, u := range uploads {
		for j, s := range nodes {
			a := c.want(c.on(s, http.MethodGet, "/uploads/"+u.ID, "", "", nil), http.StatusOK, "download from another instance")
			if !bytes.Equal(a.body, datas[i]) {
				t.Fatalf("upload %d read from instance %d: %d bytes, different", i, j, len(a.body))
			}
		}
		a := c.want(c.on(c.pick(), http.MethodGet, "/uploads/"+u.ID, "", "", nil, "Range", "bytes=2-4"), http.StatusPartialContent, "range")
		if !bytes.Equal(a.body, datas[i][2:5]) {
			t.Fatalf("range of upload %d: %q", i, a.body)
		}
	}

	// A one-time token raced across all instances is served exactly once.
	sessID, fileID := c.raceToken(login, password, 300)
	if n := count(`SELECT count(*) FROM download_tokens WHERE consumed_at IS NOT NULL`); n != 1 {
		t.Fatalf("%d consumed tokens in the database", n)
	}

	// A deletion on one instance is a 404 on all the others at once.
	u := uploads[0]
	c.want(c.on(nodes[1], http.MethodDelete, "/uploads/"+u.ID, login, password, nil), http.StatusNoContent, "delete")
	for _, s := range nodes {
		if a := c.on(s, http.MethodGet, "/uploads/"+u.ID, "", "", nil); a.status != http.StatusNotFound || a.message() != "upload not found" {
			t.Fatalf("download on %s right after the delete: %d %s", s.Addr, a.status, a.body)
		}
	}
	tok2 := decodeAs[entity](t, c.want(c.on(nodes[0], http.MethodPost, "/sessions/"+sessID+"/files/"+fileID+"/tokens", login, password, nil),
		http.StatusCreated, "token 2"))
	c.want(c.on(nodes[2], http.MethodDelete, "/sessions/"+sessID, login, password, nil), http.StatusNoContent, "delete session")
	for _, s := range nodes {
		if a := c.on(s, http.MethodGet, pathOf(t, tok2.URL), "", "", nil); a.status != http.StatusNotFound {
			t.Fatalf("token of a deleted session on %s: %d %s", s.Addr, a.status, a.body)
		}
	}
	if got := m.Objects(t, bucket); len(got) != 2 {
		t.Fatalf("after the deletions the bucket holds %d objects, want the 2 uploads left", len(got))
	}

	// Disabling a user or changing a password takes effect on every instance at once: each
	// re-reads the user's row on every request.
	for _, s := range nodes {
		c.want(c.on(s, http.MethodGet, "/sessions", login, password, nil), http.StatusOK, "list sessions")
	}
	ok(t, env, "", "user", "disable", login)
	for _, s := range nodes {
		c.want(c.on(s, http.MethodGet, "/sessions", login, password, nil), http.StatusUnauthorized, "disabled user")
	}
	ok(t, env, "", "user", "enable", login)
	ok(t, env, "new-pw\n", "user", "passwd", login, "--password-stdin")
	for _, s := range nodes {
		c.want(c.on(s, http.MethodGet, "/sessions", login, password, nil), http.StatusUnauthorized, "old password")
		c.want(c.on(s, http.MethodGet, "/sessions", login, "new-pw", nil), http.StatusOK, "new password")
	}

	// The purge runs on all instances at once: what expired is removed exactly once.
	before := map[string]int{}
	for _, s := range nodes {
		for k, n := range purgeRemoved(t, s) {
			before[k] += n
		}
	}
	const expiring, expiringSessions = 6, 2
	var expiredIDs []string
	for i := range expiring {
		body, ctype := testutil.Multipart(t, testutil.FilePart("old", []byte("expires "+strconv.Itoa(i))))
		a := c.want(c.on(c.pick(), http.MethodPost, "/uploads", login, "new-pw", body, "Content-Type", ctype), http.StatusCreated, "upload")
		expiredIDs = append(expiredIDs, decodeAs[upload](t, a).ID)
	}
	var expiredSessions []string
	for range expiringSessions {
		s := decodeAs[entity](t, c.want(c.on(c.pick(), http.MethodPost, "/sessions", login, "new-pw", nil), http.StatusCreated, "session"))
		f := decodeAs[entity](t, c.want(c.on(c.pick(), http.MethodPost, "/sessions/"+s.ID+"/files", login, "new-pw", []byte(`{"name":"x"}`),
			"Content-Type", "application/json"), http.StatusCreated, "file"))
		c.want(c.on(c.pick(), http.MethodPut, "/sessions/"+s.ID+"/files/"+f.ID, login, "new-pw", []byte("session content")), http.StatusOK, "put")
		expiredSessions = append(expiredSessions, s.ID)
	}
	if got := m.Objects(t, bucket); len(got) != 2+expiring+expiringSessions {
		t.Fatalf("the bucket holds %d objects, want %d", len(got), 2+expiring+expiringSessions)
	}
	if _, err := db.Exec(context.Background(), `UPDATE uploads SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id = ANY($1::uuid[])`, expiredIDs); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(context.Background(), `UPDATE sessions SET created_at = now() - interval '2 hours', expires_at = now() - interval '1 hour' WHERE id = ANY($1::uuid[])`, expiredSessions); err != nil {
		t.Fatal(err)
	}
	// A row is marked purged first, its blob removed right after: both are waited for.
	testutil.Eventually(t, 30*time.Second, "the instances to purge what expired", func() bool {
		return count(`SELECT count(*) FROM uploads WHERE purged_at IS NULL AND id = ANY($1::uuid[])`, expiredIDs) == 0 &&
			count(`SELECT count(*) FROM sessions WHERE purged_at IS NULL AND id = ANY($1::uuid[])`, expiredSessions) == 0 &&
			len(m.Objects(t, bucket)) == 2
	})
	for _, id := range expiredIDs {
		if a := c.on(c.pick(), http.MethodGet, "/uploads/"+id, "", "", nil); a.status != http.StatusGone || a.message() != "upload expired" {
			t.Fatalf("expired upload: %d %s", a.status, a.body)
		}
	}
	if got := m.Objects(t, bucket); len(got) != 2 {
		t.Fatalf("after the purge the bucket holds %d objects, want the 2 live uploads", len(got))
	}
	for _, u := range uploads[1:] {
		c.want(c.on(c.pick(), http.MethodGet, "/uploads/"+u.ID, "", "", nil), http.StatusOK, "live upload after the purge")
	}
	after := map[string]int{}
	perInstance := make([]map[string]int, instances)
	// The counters move when a pass ends, which may be a moment after its last removal.
	testutil.Eventually(t, 30*time.Second, "the purge counters to count what was removed", func() bool {
		clear(after)
		for i, s := range nodes {
			perInstance[i] = purgeRemoved(t, s)
			for k, n := range perInstance[i] {
				after[k] += n
			}
		}
		return after["upload"]-before["upload"] >= expiring && after["session"]-before["session"] >= expiringSessions &&
			after["file"]-before["file"] >= expiringSessions
	})
	if after["upload"]-before["upload"] != expiring || after["session"]-before["session"] != expiringSessions ||
		after["file"]-before["file"] != expiringSessions {
		t.Fatalf("the instances together removed %v (before %v), want %d uploads and %d sessions with one file each, exactly once",
			after, before, expiring, expiringSessions)
	}
	t.Logf("purge work per instance: %v", perInstance)

	for i, s := range nodes {
		if code := s.Stop(); code != 0 {
			t.Errorf("instance %d exited %d:\n%s", i, code, s.Logs)
		}
		if strings.Contains(s.Logs.String(), "purge pass failed") {
			t.Errorf("instance %d logged a failed purge pass:\n%s", i, s.Logs)
		}
	}
}

// serve refuses to start, with a one-line reason, when the bucket cannot be reached.
func TestServeRefusesWithoutBucket(t *testing.T) {
	t.Parallel()
	dbURL := testutil.NewDatabase(t)
	m := testutil.StartMinIO(t)
	env := append(dbEnv(dbURL), m.Env(testutil.NewBucketName())...)
	fails(t, append(env, "AWS_SECRET_ACCESS_KEY=wrong-secret"), "", "cannot be reached", "serve")
	fails(t, append(env, "FILESHARE_S3_BUCKET="), "", "bucket", "serve")
	fails(t, append(env, "FILESHARE_S3_PATH_STYLE=false"), "", "s3-path-style", "serve")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	start := time.Now()
	fails(t, append(env, "FILESHARE_S3_ENDPOINT="+closed), "", "cannot be reached", "serve")
	t.Logf("serve gave up on an unreachable S3 endpoint after %s", time.Since(start).Round(time.Millisecond))
	// The other commands that touch blobs use the same store.
	fails(t, append(env, "AWS_SECRET_ACCESS_KEY=wrong-secret"), "", "cannot be reached", "purge")
}
