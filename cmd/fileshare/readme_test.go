package main_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"fileshare/internal/testutil"
)

// readmeBlock is a fenced code block of README.md.
type readmeBlock struct {
	line int    // of the opening fence
	lang string // the fence's language: sh, sql, …
	text string // its lines, without the fence's indentation
	// notRun is the reason given by a <!-- not run: … --> comment just before the fence.
	notRun string
}

var (
	readmeFenceRE  = regexp.MustCompile("^(\\s*)```\\s*([A-Za-z0-9_+-]*)\\s*$")
	readmeNotRunRE = regexp.MustCompile(`^\s*<!-- not run: (.*\S)\s*-->\s*$`)
)

// readmeBlocks parses the fenced code blocks of a Markdown text, with their not-run markers.
// A marker that is not followed by a fence is an error: a forgotten marker must not silence
// the next example.
func readmeBlocks(text string) ([]readmeBlock, error) {
	var blocks []readmeBlock
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		if readmeNotRunRE.MatchString(lines[i]) {
			if i+1 >= len(lines) || !readmeFenceRE.MatchString(lines[i+1]) {
				return nil, fmt.Errorf("README.md:%d: a not-run marker must be on the line just before a code block", i+1)
			}
			continue
		}
		m := readmeFenceRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		b := readmeBlock{line: i + 1, lang: m[2]}
		if i > 0 {
			if nr := readmeNotRunRE.FindStringSubmatch(lines[i-1]); nr != nil {
				b.notRun = nr[1]
			}
		}
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, strings.TrimPrefix(lines[i], m[1]))
		}
		if i == len(lines) {
			return nil, fmt.Errorf("README.md:%d: the code block is not closed", b.line)
		}
		b.text = strings.Join(body, "\n")
		blocks = append(blocks, b)
	}
	return blocks, nil
}

// TestReadmeBlocks: sh and sql blocks run unless marked, indented ones included; a marker
// away from its block is refused.
func TestReadmeBlocks(t *testing.T) {
	t.Parallel()
	blocks, err := readmeBlocks("text\n```sh\necho a\n```\n<!-- not run: a file's contents -->\n```sh\nX=1\n```\n" +
		"1. step\n\n   ```sql\n   SELECT 1;\n   ```\n```js\nx()\n```\n```\nfileshare serve\n```")
	if err != nil {
		t.Fatal(err)
	}
	_, run := readmeScript(blocks, "127.0.0.1:1")
	if len(blocks) != 5 || len(run) != 2 || run[0].text != "echo a" || run[1].lang != "sql" || run[1].text != "SELECT 1;" ||
		blocks[1].notRun != "a file's contents" {
		t.Fatalf("blocks %+v, run %+v", blocks, run)
	}
	for _, bad := range []string{"<!-- not run: x -->\n\n```sh\nls\n```", "<!-- not run: x -->\ntext", "```sh\nls\n"} {
		if _, err := readmeBlocks(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// readmeScript makes one bash script of the README's sh and sql blocks, in order: every
// command must succeed (set -e) and every variable be set (set -u). The address of the README
// (127.0.0.1:3001) is the server's; sql blocks run with psql as the audit role, -v sid=$SID as
// the README says. After each block the script says that it has run.
func readmeScript(blocks []readmeBlock, addr string) (script string, run []readmeBlock) {
	var b strings.Builder
	b.WriteString("set -eu\n")
	b.WriteString(`trap 'echo "the example of README.md:$readme_line failed: exit $?" >&2' ERR` + "\n")
	for _, blk := range blocks {
		if blk.notRun != "" || (blk.lang != "sh" && blk.lang != "sql") {
			continue
		}
		run = append(run, blk)
		fmt.Fprintf(&b, "readme_line=%d\necho '>>> README.md:%d'\n", blk.line, blk.line)
		text := strings.ReplaceAll(blk.text, "127.0.0.1:3001", addr)
		if blk.lang == "sql" {
			fmt.Fprintf(&b, "PGOPTIONS='-c role=fileshare_audit' psql -X -v ON_ERROR_STOP=1 -v sid=\"$SID\" \"$README_AUDIT_URL\" <<'README_SQL'\n%s\nREADME_SQL\n", text)
		} else {
			b.WriteString(text + "\n")
		}
		fmt.Fprintf(&b, "printf '\\n<<< README.md:%d ran\\n'\n", blk.line)
	}
	return b.String(), run
}

// TestReadmeExamples runs README.md's examples as written, against a real `fileshare serve`,
// the way a reader would: one shell, the tenant and user made with the CLI as "Deploying"
// shows, the variables the README names. Then it checks what the examples promise.
func TestReadmeExamples(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "jq", "psql", "pg_dump", "openssl", "cmp"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's examples need %s: %v", tool, err)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readmeBlocks(string(readme))
	if err != nil {
		t.Fatal(err)
	}

	// A fresh directory with the reader's own files, and an endpoint for the webhooks.
	work := t.TempDir()
	report, big := testutil.RandomBytes(t, 300<<10), testutil.RandomBytes(t, 32<<20)
	for name, data := range map[string][]byte{"report.pdf": report, "big.bin": big} {
		if err := os.WriteFile(filepath.Join(work, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer hook.Close()

	dbURL := testutil.NewDatabase(t)
	env := append(dbEnv(dbURL), "FILESHARE_DATA_DIR="+t.TempDir(), "FILESHARE_WEBHOOK_ALLOW_PRIVATE=true")
	ok(t, env, "", "tenant", "add", "demo")
	ok(t, env, "demo-password\n", "user", "add", "demo@demo", "--password-stdin")
	s := testutil.StartServe(t, binary, env)

	script, run := readmeScript(blocks, s.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = work
	cmd.Env = testutil.CLIEnv(append(slices.Clone(env),
		"U=demo@demo:demo-password", "B=http://"+s.Addr, "HOOK_URL="+hook.URL+"/fileshare",
		"README_AUDIT_URL="+dbURL,
		"PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+t.TempDir(), // no ~/.curlrc or ~/.psqlrc of the developer's
	)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	transcript := out.String()
	if err != nil {
		t.Fatalf("the README's examples failed (%v):\n%s", err, transcript)
	}
	for _, blk := range run {
		if !strings.Contains(transcript, fmt.Sprintf("<<< README.md:%d ran", blk.line)) {
			t.Errorf("the example of README.md:%d did not run to its end", blk.line)
		}
	}
	if len(run) < 10 {
		t.Errorf("only %d examples ran", len(run))
	}

	// What the examples promise.
	same := func(name string, want []byte) {
		t.Helper()
		got, err := os.ReadFile(filepath.Join(work, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes (%v), want the %d bytes uploaded", name, len(got), err, len(want))
		}
	}
	hello := []byte("hello\n")
	same("copy.txt", hello)
	same("call.wav", hello)
	same("call-pin.wav", hello)
	same("report-copy.pdf", report)
	same("received.bin", big) // cut after a MB, then resumed
	same("big-copy.bin", big) // through tus, in two PATCHes
	for _, want := range []string{
		"received whole",
		`{"message":"download token already used"}`,
		"<h1>Demo Support sent you a file</h1>",
		`"secret":"whsec_`,
		`"tusUrl":"http://` + s.Addr + `/tus"`,
	} {
		if !strings.Contains(transcript, want) {
			t.Errorf("the examples did not print %q:\n%s", want, transcript)
		}
	}
	// The audit queries see the resumed download as delivered, the link never opened as
	// not downloaded.
	if !regexp.MustCompile(`(?m)^\s*big\.bin\s+\|\s+demo@demo\s+\|.*\|\s+delivered\s+\|`).MatchString(transcript) {
		t.Errorf("the audit query does not show the delivered download:\n%s", transcript)
	}
	if !regexp.MustCompile(`(?m)^\s*demo\s+\|\s+1\s+\|\s+0\s+\|\s+1\s*$`).MatchString(transcript) {
		t.Errorf("the audit query does not count 1 delivered, 0 not delivered, 1 not downloaded:\n%s", transcript)
	}

	readmeListsEveryMetric(t, string(readme), s)
	readmeListsEveryAuditView(t, string(readme), dbURL)
	nginxKeepsMetricsInside(t)
}

// readmeListsEveryMetric checks that every metric family the server exposes is named in the
// README, by its name or by a prefix written as `fileshare_db_pool_*`.
func readmeListsEveryMetric(t *testing.T, readme string, s *testutil.Serve) {
	t.Helper()
	resp, err := http.Get(s.URL("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var prefixes []string
	for _, m := range regexp.MustCompile("`(fileshare_[a-z_]*)\\*`").FindAllStringSubmatch(readme, -1) {
		prefixes = append(prefixes, m[1])
	}
	named := regexp.MustCompile(`fileshare_[a-z0-9_]+`).FindAllString(readme, -1)
	known := map[string]bool{}
	for _, n := range named {
		known[n] = true
	}
	families := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[0] != "#" || f[1] != "TYPE" || !strings.HasPrefix(f[2], "fileshare_") {
			continue
		}
		families++
		name, listed := f[2], known[f[2]]
		for _, p := range prefixes {
			listed = listed || strings.HasPrefix(name, p)
		}
		if !listed {
			t.Errorf("README.md does not list the metric %s", name)
		}
	}
	if families < 20 {
		t.Errorf("/metrics exposed only %d fileshare metrics", families)
	}
}

// readmeListsEveryAuditView checks that the README's table names every view of the schema
// audit.
func readmeListsEveryAuditView(t *testing.T, readme, dbURL string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.views WHERE table_schema = 'audit' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	views, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(views) < 10 {
		t.Fatalf("only %d audit views: %v", len(views), views)
	}
	for _, v := range views {
		if !strings.Contains(readme, "| `audit."+v+"` |") {
			t.Errorf("README.md's table of audit views does not list audit.%s", v)
		}
	}
}

// nginxKeepsMetricsInside checks that the example nginx configuration refuses /metrics.
func nginxKeepsMetricsInside(t *testing.T) {
	t.Helper()
	conf, err := os.ReadFile("../../deploy/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`location \^~ /rtc/fileshare/metrics \{\s*deny all;\s*\}`).Match(conf) {
		t.Error("deploy/nginx.conf does not refuse /metrics")
	}
}
