package main_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"fileshare/internal/testutil"
)

// writeConfig writes a configuration file and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fileshare.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// defaultTTLs starts serve with env and args, and returns the ttl it gives an upload and a
// session that ask for none.
func defaultTTLs(t *testing.T, env []string, args ...string) (upload, session time.Duration) {
	t.Helper()
	s := testutil.StartServe(t, binary, env, args...)
	a := postUpload(t, s, "alice@acme", "pw", "c.txt", []byte("c"))
	req, _ := http.NewRequest(http.MethodPost, s.URL("/sessions"), nil)
	req.SetBasicAuth("alice@acme", "pw")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var sess struct{ CreatedAt, ExpiresAt time.Time }
	err = json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || err != nil {
		t.Fatalf("POST /sessions: %d %v", resp.StatusCode, err)
	}
	if code := s.Stop(); code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, s.Logs)
	}
	return a.ExpiresAt.Sub(a.CreatedAt), sess.ExpiresAt.Sub(sess.CreatedAt)
}

// The configuration file in the form the original service documents: flow style across lines,
// a ttl written as a product.
func TestDocumentedConfigFile(t *testing.T) {
	t.Parallel()
	documented := writeConfig(t, "models: {\n  session: {\n    ttl: 86400 * 7\n  },\n  upload: {\n    ttl: 3600\n  }\n}\n")
	for _, env := range [][]string{nil, {"FILESHARE_CONFIG=" + documented}} {
		res := run(t, env, "", "version", "--config", documented)
		if res.code != 0 || res.stderr != "" || strings.TrimSpace(res.stdout) != "fileshare "+testVersion {
			t.Fatalf("the documented file is refused: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
		}
	}

	// The same form with other figures, and products written without spaces: serve uses them.
	url := testutil.NewDatabase(t)
	base := append(dbEnv(url), "FILESHARE_DATA_DIR="+t.TempDir())
	ok(t, base, "", "tenant", "add", "acme")
	ok(t, base, "pw\n", "user", "add", "alice@acme", "--password-stdin")
	file := writeConfig(t, "models: {\n  session: {\n    ttl: 86400 * 3\n  },\n  upload: {\n    ttl: 60*60*2\n  }\n}\n")
	up, sess := defaultTTLs(t, base, "--config", file)
	if up != 2*time.Hour || sess != 3*24*time.Hour {
		t.Errorf("default ttls from the file: upload %s, session %s; want 2h, 72h", up, sess)
	}
	// A product in a variable works too, and beats the file.
	up, sess = defaultTTLs(t, append(append([]string{}, base...), "FILESHARE_CONFIG="+file, "FILESHARE_UPLOAD_TTL=15 * 60"))
	if up != 15*time.Minute || sess != 3*24*time.Hour {
		t.Errorf("default ttls from the environment over the file: upload %s, session %s; want 15m, 72h", up, sess)
	}
}

// A configuration error is one line on stderr naming the key and its source, exit 1, and no
// usage text.
func TestConfigurationErrorIsOneLine(t *testing.T) {
	t.Parallel()
	abc := writeConfig(t, "models:\n  session:\n    ttl: abc\n")
	unknown := writeConfig(t, "models:\n  upload:\n    ttl: 3600\n  sesion:\n    ttl: 60\n")
	zero := writeConfig(t, "models: { upload: { ttl: 0 } }\n")
	overflow := writeConfig(t, "models: { session: { ttl: 86400 * 7 * 99999999999 } }\n")
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"serve", "--config", abc},
			`fileshare: invalid configuration: models.session.ttl in ` + abc + `: "abc" is not a whole number of seconds`},
		{[]string{"FILESHARE_CONFIG=" + abc}, []string{"tenant", "list"},
			`fileshare: invalid configuration: models.session.ttl in ` + abc + `: "abc" is not a whole number of seconds`},
		{nil, []string{"serve", "--config", unknown},
			`fileshare: invalid configuration: models.sesion.ttl in ` + unknown + `: unknown key`},
		{nil, []string{"serve", "--config", overflow},
			`fileshare: invalid configuration: models.session.ttl in ` + overflow + `: "86400 * 7 * 99999999999" is too large: at most 9223372036 seconds`},
		{[]string{"FILESHARE_UPLOAD_TTL=abc"}, []string{"serve"},
			`fileshare: invalid configuration: FILESHARE_UPLOAD_TTL (environment): "abc" is not a whole number of seconds`},
		{[]string{"FILESHARE_PURGE_INTERVAL=soon"}, []string{"purge"},
			`fileshare: invalid configuration: FILESHARE_PURGE_INTERVAL (environment): "soon" is neither a duration such as 90s or 1h30m nor a whole number of seconds`},
		{nil, []string{"serve", "--upload-ttl", "abc"},
			`fileshare: invalid configuration: --upload-ttl (flag): "abc" is not a whole number of seconds`},
		{nil, []string{"--log-level=loud", "version"},
			`fileshare: invalid configuration: --log-level (flag): "loud" is not one of debug, info, warn, error`},
		// Combinations that Validate refuses name the setting to change.
		{nil, []string{"serve", "--config", zero},
			`fileshare: invalid configuration: models.upload.ttl in ` + zero + `: upload-ttl must be between 1 and max-ttl (2592000), not 0`},
		{[]string{"FILESHARE_MAX_TTL=3600"}, []string{"serve"},
			`fileshare: invalid configuration: FILESHARE_MAX_TTL (environment): session-ttl must be between 1 and max-ttl (3600), not 604800`},
		{nil, []string{"serve", "--config", writeConfig(t, "max_ttl: 60 * 60\n"), "--upload-ttl", "7200", "--session-ttl", "60"},
			`fileshare: invalid configuration: --upload-ttl (flag): upload-ttl must be between 1 and max-ttl (3600), not 7200`},
	} {
		res := run(t, tc.env, "", tc.args...)
		what := strings.Join(append(append([]string{}, tc.env...), tc.args...), " ")
		if res.code != 1 {
			t.Errorf("%s: exit %d, want 1", what, res.code)
		}
		if res.stderr != tc.want+"\n" {
			t.Errorf("%s: stderr\n%s\nwant the one line\n%s", what, res.stderr, tc.want)
		}
		if res.stdout != "" {
			t.Errorf("%s: stdout holds %q, want nothing (no usage text)", what, res.stdout)
		}
	}

	// A mistake in the command itself still shows kong's usage.
	res := run(t, nil, "", "tenant", "bogus")
	if res.code == 0 || !strings.Contains(res.stdout, "Usage: fileshare tenant") || strings.Contains(res.stderr, "invalid configuration") {
		t.Errorf("unknown subcommand: exit %d\nstdout: %s\nstderr: %s", res.code, res.stdout, res.stderr)
	}
}

// An empty FILESHARE_DATABASE_URL does not hide DATABASE_URL.
func TestEmptyDatabaseURLFallsBack(t *testing.T) {
	t.Parallel()
	url := testutil.NewDatabase(t)
	ok(t, []string{"FILESHARE_DATABASE_URL=", "DATABASE_URL=" + url}, "", "tenant", "add", "via-empty")
	if out := ok(t, dbEnv(url), "", "tenant", "list"); !regexp.MustCompile(`(?m)^via-empty\s`).MatchString(out) {
		t.Errorf("tenant added with an empty FILESHARE_DATABASE_URL is not there:\n%s", out)
	}
}

func TestTenantNames(t *testing.T) {
	t.Parallel()
	url := testutil.NewDatabase(t)
	env := append(dbEnv(url), "FILESHARE_DATA_DIR="+t.TempDir())
	good := []string{"example.com", "acme", "default", "t-1", "a_b", "x", "9", strings.Repeat("a", 63)}
	for _, name := range good {
		if out := ok(t, env, "", "tenant", "add", name); out != `tenant "`+name+`" added`+"\n" {
			t.Errorf("tenant add %s: %q", name, out)
		}
	}
	for _, name := range []string{" ", "", "../etc", "..", "a/b", "a@b", "Acme", "-acme", "acme.", "a b", "é", strings.Repeat("a", 64)} {
		res := run(t, env, "", "tenant", "add", "--", name) // "--": -acme is no flag
		want := `fileshare: invalid tenant name ` + strconv.Quote(name) + `: use 1–63 lower-case letters, digits, '.', '-' or '_', starting and ending with a letter or digit` + "\n"
		if res.code != 1 || res.stderr != want || res.stdout != "" {
			t.Errorf("tenant add %q: exit %d\nstdout: %s\nstderr: %s\nwant: %s", name, res.code, res.stdout, res.stderr, want)
		}
	}
	out := ok(t, env, "", "tenant", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(good)+1 {
		t.Errorf("tenant list after adding %d tenants and refusing the rest:\n%s", len(good), out)
	}
	for _, name := range good {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+0\s`).MatchString(out) {
			t.Errorf("tenant list lacks %s:\n%s", name, out)
		}
	}
}
