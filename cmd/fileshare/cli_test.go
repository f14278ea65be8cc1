package main_test

// This file is over 400 lines: every CLI command against the real binary, one suite.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"fileshare/db"
	"fileshare/internal/auth"
	"fileshare/internal/testutil"
)

// testVersion is linked into the binary under test, to see that `version` reports it.
const testVersion = "v9.8.7-clitest"

// binary is the fileshare command built once for all tests.
var binary string

func TestMain(m *testing.M) {
	// Without -race: the tests run the binary some hundred times, and the race detector would
	// make every password hash several times slower. The code it runs is exercised under the
	// race detector by the in-process tests of the other packages.
	var err error
	binary, err = testutil.BuildBinary("-ldflags", "-X main.version="+testVersion)
	if err != nil {
		fmt.Fprintf(os.Stderr, "building fileshare: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	testutil.StopMinIO()
	os.RemoveAll(filepath.Dir(binary))
	os.Exit(code)
}

// result is how a run of the binary ended.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the binary to its end, with stdin and the environment env (on top of testutil.CLIEnv).
func run(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = testutil.CLIEnv(env...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok || ctx.Err() != nil {
			t.Fatalf("fileshare %s: %v (stderr %s)", strings.Join(args, " "), err, stderr.String())
		}
		res.code = ee.ExitCode()
	}
	return res
}

// ok runs the binary and fails the test unless it succeeds.
func ok(t *testing.T, env []string, stdin string, args ...string) string {
	t.Helper()
	res := run(t, env, stdin, args...)
	if res.code != 0 {
		t.Fatalf("fileshare %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), res.code, res.stdout, res.stderr)
	}
	return res.stdout
}

// fails runs the binary and fails the test unless it exits ≠ 0 with a one-line reason on
// stderr that contains want; it returns that line.
func fails(t *testing.T, env []string, stdin, want string, args ...string) string {
	t.Helper()
	res := run(t, env, stdin, args...)
	if res.code == 0 {
		t.Fatalf("fileshare %s succeeded, want a failure\nstdout: %s", strings.Join(args, " "), res.stdout)
	}
	line := strings.TrimSpace(res.stderr)
	if strings.Contains(line, "\n") || !strings.HasPrefix(line, "fileshare: ") {
		t.Errorf("fileshare %s: stderr is not one line \"fileshare: reason\":\n%s", strings.Join(args, " "), res.stderr)
	}
	if !strings.Contains(line, want) {
		t.Errorf("fileshare %s: reason %q does not say %q", strings.Join(args, " "), line, want)
	}
	return line
}

func dbEnv(url string) []string { return []string{"FILESHARE_DATABASE_URL=" + url} }

// embeddedMigrations lists the migration files in the binary, in order.
func embeddedMigrations(t *testing.T) []string {
	t.Helper()
	entries, err := fs.ReadDir(db.Migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) < 2 {
		t.Fatalf("only %d migrations embedded", len(names))
	}
	return names
}

func versionOf(t *testing.T, file string) int {
	t.Helper()
	v, err := strconv.Atoi(strings.SplitN(file, "_", 2)[0])
	if err != nil {
		t.Fatalf("migration %s has no version prefix", file)
	}
	return v
}

// statusLines maps each migration file to its state in `migrate status`.
func statusLines(t *testing.T, out string) map[string]string {
	t.Helper()
	states := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) != 4 {
			t.Fatalf("migrate status line %q: want VERSION STATE APPLIED-AT FILE", line)
		}
		states[f[3]] = f[1]
	}
	return states
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	env := dbEnv(testutil.NewEmptyDatabase(t))
	files := embeddedMigrations(t)
	latest := versionOf(t, files[len(files)-1])
	prev := versionOf(t, files[len(files)-2])

	// A new database: everything pending, version 0, and serve refuses to start.
	states := statusLines(t, ok(t, env, "", "migrate", "status"))
	for _, f := range files {
		if states[f] != "pending" {
			t.Errorf("fresh database: %s is %q, want pending", f, states[f])
		}
	}
	if len(states) != len(files) {
		t.Errorf("migrate status lists %d migrations, %d are embedded", len(states), len(files))
	}
	if out := ok(t, env, "", "migrate", "version"); !strings.HasPrefix(out, fmt.Sprintf("0 (latest embedded: %d)", latest)) {
		t.Errorf("migrate version on a fresh database: %q", out)
	}
	fails(t, env, "", "migrate up", "serve")

	// up applies all of them.
	out := ok(t, env, "", "migrate", "up")
	for _, f := range files {
		if !strings.Contains(out, "applied "+f) {
			t.Errorf("migrate up does not report %s:\n%s", f, out)
		}
	}
	if !strings.Contains(out, fmt.Sprintf("schema at version %d", latest)) {
		t.Errorf("migrate up does not report the version:\n%s", out)
	}
	for f, s := range statusLines(t, ok(t, env, "", "migrate", "status")) {
		if s != "applied" {
			t.Errorf("after up: %s is %q", f, s)
		}
	}
	if out := ok(t, env, "", "migrate", "version"); !strings.HasPrefix(out, fmt.Sprintf("%d (latest embedded: %d)", latest, latest)) {
		t.Errorf("migrate version after up: %q", out)
	}
	// A second up is a no-op.
	if out := ok(t, env, "", "migrate", "up"); strings.Contains(out, "applied 0") {
		t.Errorf("second migrate up applied something:\n%s", out)
	}

	// down rolls back exactly the latest one; serve refuses again.
	if out := ok(t, env, "", "migrate", "down"); !strings.Contains(out, "rolled back "+files[len(files)-1]) {
		t.Errorf("migrate down: %q", out)
	}
	states = statusLines(t, ok(t, env, "", "migrate", "status"))
	for i, f := range files {
		want := "applied"
		if i == len(files)-1 {
			want = "pending"
		}
		if states[f] != want {
			t.Errorf("after down: %s is %q, want %s", f, states[f], want)
		}
	}
	if out := ok(t, env, "", "migrate", "version"); !strings.HasPrefix(out, fmt.Sprintf("%d (latest embedded: %d)", prev, latest)) {
		t.Errorf("migrate version after down: %q", out)
	}
	line := fails(t, env, "", "migrate up", "serve")
	if !strings.Contains(line, strconv.Itoa(prev)) || !strings.Contains(line, strconv.Itoa(latest)) {
		t.Errorf("serve's reason %q does not name both versions %d and %d", line, prev, latest)
	}

	// Every migration rolls back, and up brings the schema back in one go.
	for range files[:len(files)-1] {
		ok(t, env, "", "migrate", "down")
	}
	if out := ok(t, env, "", "migrate", "version"); !strings.HasPrefix(out, "0 ") {
		t.Errorf("migrate version after rolling back everything: %q", out)
	}
	ok(t, env, "", "migrate", "up")
	if out := ok(t, env, "", "migrate", "version"); !strings.HasPrefix(out, fmt.Sprintf("%d ", latest)) {
		t.Errorf("migrate version after up again: %q", out)
	}
}

func TestServeRefusesToStart(t *testing.T) {
	t.Parallel()
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()

	start := time.Now()
	fails(t, dbEnv("postgres://postgres@"+closed+"/fileshare?sslmode=disable&connect_timeout=2"), "", "unreachable", "serve")
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("serve took %s to give up on an unreachable database", d)
	}
	fails(t, nil, "", "no database configured", "serve")
	fails(t, dbEnv("::not a url::"), "", "database", "serve")
	// The same holds for the other commands that need the database.
	fails(t, dbEnv("postgres://postgres@"+closed+"/fileshare?sslmode=disable"), "", "unreachable", "tenant", "list")
	fails(t, nil, "", "no database configured", "migrate", "status")
}

func TestTenantAndUserCommands(t *testing.T) {
	t.Parallel()
	url := testutil.NewDatabase(t)
	env := append(dbEnv(url), "FILESHARE_DATA_DIR="+t.TempDir())
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	// Tenants.
	ok(t, env, "", "tenant", "add", "acme")
	ok(t, env, "", "tenant", "add", "example.com")
	fails(t, env, "", `tenant "acme" already exists`, "tenant", "add", "acme")
	fails(t, env, "", "invalid tenant name", "tenant", "add", "a@b")
	out := ok(t, env, "", "tenant", "list")
	if !regexp.MustCompile(`(?m)^acme\s+0\s`).MatchString(out) || !regexp.MustCompile(`(?m)^example\.com\s+0\s`).MatchString(out) {
		t.Errorf("tenant list:\n%s", out)
	}

	// user add: the password only from stdin, the tenant must exist.
	ok(t, env, "s3cret-one\n", "user", "add", "alice@acme", "--password-stdin")
	ok(t, env, "s3cret-two", "user", "add", "bob@example.com@acme", "--password-stdin") // no newline
	ok(t, env, "carl-pw\r\n", "user", "add", "carl@example.com", "--password-stdin")
	fails(t, env, "pw\n", `tenant "nope" does not exist`, "user", "add", "dave@nope", "--password-stdin")
	fails(t, env, "pw\n", "--password-stdin", "user", "add", "dave@acme")
	fails(t, env, "", "empty password", "user", "add", "dave@acme", "--password-stdin")
	fails(t, env, "\n", "empty password", "user", "add", "dave@acme", "--password-stdin")
	fails(t, env, "pw\n", `user "alice@acme" already exists`, "user", "add", "alice@acme", "--password-stdin")
	fails(t, env, "pw\n", "login", "user", "add", "@acme", "--password-stdin")
	if res := run(t, env, "", "user", "add", "--password-stdin"); res.code == 0 {
		t.Error("user add without a login succeeded")
	}

	hashOf := func(name, tenant string) string {
		t.Helper()
		var h string
		if err := conn.QueryRow(context.Background(),
			"SELECT u.password_hash FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.name = $1 AND t.name = $2",
			name, tenant).Scan(&h); err != nil {
			t.Fatalf("user %s@%s: %v", name, tenant, err)
		}
		return h
	}
	for _, u := range []struct{ name, tenant, pw string }{
		{"alice", "acme", "s3cret-one"},
		{"bob@example.com", "acme", "s3cret-two"}, // split at the last @
		{"carl", "example.com", "carl-pw"},
	} {
		h := hashOf(u.name, u.tenant)
		if !strings.HasPrefix(h, "$argon2id$") || strings.Contains(h, u.pw) {
			t.Errorf("%s@%s: stored %q, want an argon2id hash", u.name, u.tenant, h)
		}
		if match, err := auth.VerifyPassword(h, u.pw); !match || err != nil {
			t.Errorf("%s@%s: the password from stdin does not verify (%v)", u.name, u.tenant, err)
		}
	}
	var n int
	conn.QueryRow(context.Background(), "SELECT count(*) FROM users WHERE name = 'dave'").Scan(&n)
	if n != 0 {
		t.Errorf("failed user adds left %d users named dave", n)
	}

	// user list, all and by tenant.
	out = ok(t, env, "", "user", "list")
	for _, login := range []string{"alice@acme", "bob@example.com@acme", "carl@example.com"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(login) + `\s+enabled\s`).MatchString(out) {
			t.Errorf("user list lacks %s enabled:\n%s", login, out)
		}
	}
	out = ok(t, env, "", "user", "list", "--tenant", "acme")
	if !strings.Contains(out, "alice@acme") || !strings.Contains(out, "bob@example.com@acme") || strings.Contains(out, "carl@") {
		t.Errorf("user list --tenant acme:\n%s", out)
	}
	if out := ok(t, env, "", "tenant", "list"); !regexp.MustCompile(`(?m)^acme\s+2\s`).MatchString(out) {
		t.Errorf("tenant list does not count acme's 2 users:\n%s", out)
	}

	// passwd.
	before := hashOf("alice", "acme")
	ok(t, env, "new-pw\n", "user", "passwd", "alice@acme", "--password-stdin")
	after := hashOf("alice", "acme")
	if m, _ := auth.VerifyPassword(after, "new-pw"); !m {
		t.Error("passwd: the new password does not verify")
	}
	if m, _ := auth.VerifyPassword(after, "s3cret-one"); m || after == before {
		t.Error("passwd: the old password still verifies")
	}
	fails(t, env, "x\n", "--password-stdin", "user", "passwd", "alice@acme")
	fails(t, env, "x\n", `user "ghost@acme" does not exist`, "user", "passwd", "ghost@acme", "--password-stdin")

	// disable and enable.
	disabled := func() bool {
		var d bool
		conn.QueryRow(context.Background(), "SELECT disabled_at IS NOT NULL FROM users WHERE name = 'alice'").Scan(&d)
		return d
	}
	ok(t, env, "", "user", "disable", "alice@acme")
	if !disabled() || !regexp.MustCompile(`(?m)^alice@acme\s+disabled\s`).MatchString(ok(t, env, "", "user", "list")) {
		t.Error("user disable: alice is not disabled")
	}
	ok(t, env, "", "user", "disable", "alice@acme") // again: still disabled, no error
	ok(t, env, "", "user", "enable", "alice@acme")
	if disabled() || !regexp.MustCompile(`(?m)^alice@acme\s+enabled\s`).MatchString(ok(t, env, "", "user", "list")) {
		t.Error("user enable: alice is still disabled")
	}
	fails(t, env, "", `user "ghost@acme" does not exist`, "user", "disable", "ghost@acme")
	fails(t, env, "", `user "ghost@acme" does not exist`, "user", "enable", "ghost@acme")

	// delete.
	ok(t, env, "", "user", "delete", "carl@example.com")
	if strings.Contains(ok(t, env, "", "user", "list"), "carl@") {
		t.Error("user delete: carl is still listed")
	}
	fails(t, env, "", `user "carl@example.com" does not exist`, "user", "delete", "carl@example.com")

	// tenant delete takes the tenant's users with it.
	ok(t, env, "", "tenant", "delete", "acme")
	if out := ok(t, env, "", "tenant", "list"); strings.Contains(out, "acme") {
		t.Errorf("tenant delete: acme still listed:\n%s", out)
	}
	if out := ok(t, env, "", "user", "list"); strings.Contains(out, "@acme") {
		t.Errorf("tenant delete: acme's users still listed:\n%s", out)
	}
	fails(t, env, "", `tenant "acme" does not exist`, "tenant", "delete", "acme")
	fails(t, env, "pw\n", `tenant "acme" does not exist`, "user", "add", "alice@acme", "--password-stdin")
}

func TestDatabaseURLFallback(t *testing.T) {
	t.Parallel()
	url := testutil.NewDatabase(t)
	// DATABASE_URL is used when FILESHARE_DATABASE_URL is not set…
	ok(t, []string{"DATABASE_URL=" + url}, "", "tenant", "add", "via-fallback")
	if out := ok(t, dbEnv(url), "", "tenant", "list"); !strings.Contains(out, "via-fallback") {
		t.Errorf("tenant added through DATABASE_URL is not there:\n%s", out)
	}
	// …and FILESHARE_DATABASE_URL wins over it, and the flag over both.
	ok(t, append(dbEnv(url), "DATABASE_URL=postgres://postgres@127.0.0.1:1/nowhere"), "", "tenant", "list")
	ok(t, []string{"FILESHARE_DATABASE_URL=postgres://postgres@127.0.0.1:1/nowhere"}, "", "--database-url", url, "tenant", "list")
}

func TestVersion(t *testing.T) {
	t.Parallel()
	// No database needed.
	if out := ok(t, nil, "", "version"); strings.TrimSpace(out) != "fileshare "+testVersion {
		t.Errorf("version: %q, want %q", out, "fileshare "+testVersion)
	}
}

type uploadAnswer struct {
	ID        string    `json:"id"`
	Size      int64     `json:"size"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	URL       string    `json:"url"`
}

// postUpload posts data to s as login and returns the 201 answer.
func postUpload(t *testing.T, s *testutil.Serve, login, password, name string, data []byte) uploadAnswer {
	t.Helper()
	body, ctype := testutil.Multipart(t, testutil.FilePart(name, data))
	req, _ := http.NewRequest(http.MethodPost, s.URL("/uploads"), bytes.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.SetBasicAuth(login, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /uploads: %d %s", resp.StatusCode, b)
	}
	var a uploadAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestServe runs the service end to end: users made with the CLI log in, a file goes up and
// comes down, and SIGTERM lets an upload in flight finish before the process exits 0.
func TestServe(t *testing.T) {
	t.Parallel()
	url := testutil.NewDatabase(t)
	dataDir := t.TempDir()
	env := append(dbEnv(url), "FILESHARE_DATA_DIR="+dataDir)
	ok(t, env, "", "tenant", "add", "acme")
	ok(t, env, "pw\n", "user", "add", "alice@acme", "--password-stdin")

	s := testutil.StartServe(t, binary, env)
	for _, path := range []string{"/healthz", "/readyz", "/openapi.yaml"} {
		resp, err := http.Get(s.URL(path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}

	data := []byte("served by the real binary")
	a := postUpload(t, s, "alice@acme", "pw", "e2e.txt", data)
	resp, err := http.Get(a.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("download: %d %q", resp.StatusCode, got)
	}
	// A wrong password is refused by the real wiring too.
	req, _ := http.NewRequest(http.MethodDelete, a.URL, nil)
	req.SetBasicAuth("alice@acme", "wrong")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	// An upload in flight: headers and half the body sent…
	body, ctype := testutil.Multipart(t, testutil.FilePart("inflight.bin", bytes.Repeat([]byte("i"), 256<<10)))
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	authReq, _ := http.NewRequest(http.MethodPost, s.URL("/uploads"), nil)
	authReq.SetBasicAuth("alice@acme", "pw")
	authz := authReq.Header.Get("Authorization")
	fmt.Fprintf(conn, "POST /uploads HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		s.Addr, authz, ctype, len(body))
	half := len(body) / 2
	if _, err := conn.Write(body[:half]); err != nil {
		t.Fatal(err)
	}
	// …and streaming into a temp file, when SIGTERM comes.
	testutil.Eventually(t, 30*time.Second, "the in-flight upload's temp file", func() bool {
		return len(testutil.TempFiles(t, dataDir)) > 0
	})
	if err := s.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "serve to start draining", func() bool {
		_, found := s.Logged("shutting down: draining in-flight requests", "msg")
		return found
	})
	select {
	case <-s.Done():
		t.Fatalf("serve exited with an upload in flight:\n%s", s.Logs)
	default:
	}
	// The upload completes after the signal.
	if _, err := conn.Write(body[half:]); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	inflight, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("answer to the in-flight upload: %v\n%s", err, s.Logs)
	}
	b, _ := io.ReadAll(inflight.Body)
	inflight.Body.Close()
	if inflight.StatusCode != http.StatusCreated {
		t.Fatalf("in-flight upload after SIGTERM: %d %s", inflight.StatusCode, b)
	}
	conn.Close()
	if code := s.Wait(30 * time.Second); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM, want 0:\n%s", code, s.Logs)
	}
	if _, found := s.Logged("stopped", "msg"); !found {
		t.Errorf("no \"stopped\" log line:\n%s", s.Logs)
	}

	// Both uploads are in the database.
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM uploads").Scan(&n); err != nil || n != 2 {
		t.Errorf("uploads in the database after shutdown: %d (%v), want 2", n, err)
	}
	// The log is JSON, one object per line, and holds no password.
	for _, line := range strings.Split(strings.TrimSpace(s.Logs.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %q", line)
		}
	}
	if strings.Contains(s.Logs.String(), authz) || strings.Contains(s.Logs.String(), `"pw"`) {
		t.Error("the log holds credentials")
	}
}

// TestConfigPrecedence checks the order flags > environment > YAML file > defaults through the
// default ttl that serve gives an upload (models.upload.ttl) and a session (models.session.ttl).
func TestConfigPrecedence(t *testing.T) {
	t.Parallel()
	url := testutil.NewDatabase(t)
	base := append(dbEnv(url), "FILESHARE_DATA_DIR="+t.TempDir())
	ok(t, base, "", "tenant", "add", "acme")
	ok(t, base, "pw\n", "user", "add", "alice@acme", "--password-stdin")

	dir := t.TempDir()
	file := filepath.Join(dir, "fileshare.yaml")
	yaml := "models:\n  upload:\n    ttl: 111\n  session:\n    ttl: 4444\nmax-ttl: 100000\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name            string
		env             []string
		args            []string
		upload, session time.Duration
	}{
		{"defaults", nil, nil, 3600 * time.Second, 604800 * time.Second},
		{"file by --config", nil, []string{"--config", file}, 111 * time.Second, 4444 * time.Second},
		{"file by FILESHARE_CONFIG", []string{"FILESHARE_CONFIG=" + file}, nil, 111 * time.Second, 4444 * time.Second},
		{"environment beats file", []string{"FILESHARE_CONFIG=" + file, "FILESHARE_UPLOAD_TTL=222"}, nil, 222 * time.Second, 4444 * time.Second},
		{"flag beats environment", []string{"FILESHARE_CONFIG=" + file, "FILESHARE_UPLOAD_TTL=222"}, []string{"--upload-ttl", "333"}, 333 * time.Second, 4444 * time.Second},
		{"flag beats file", nil, []string{"--config", file, "--session-ttl", "555"}, 111 * time.Second, 555 * time.Second},
	} {
		up, sess := defaultTTLs(t, append(append([]string{}, base...), tc.env...), tc.args...)
		if up != tc.upload || sess != tc.session {
			t.Errorf("%s: upload ttl %s, session ttl %s; want %s, %s", tc.name, up, sess, tc.upload, tc.session)
		}
	}

	// A configuration that cannot work is refused at start-up with a reason.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("models:\n  upload:\n    ttl: 0\n"), 0o600)
	if res := run(t, base, "", "serve", "--config", bad); res.code == 0 || !strings.Contains(res.stderr, "upload-ttl must be between 1 and max-ttl") {
		t.Errorf("serve with upload ttl 0: exit %d, stderr %s", res.code, res.stderr)
	}
	fails(t, append([]string{"FILESHARE_CONFIG=" + filepath.Join(dir, "missing.yaml")}, base...), "", "config file", "serve")
}
