package main_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"fileshare/internal/testutil"
)

// The operator's quota and application password commands, through the real binary and a
// real server.
func TestQuotaAndAppPasswordCommands(t *testing.T) {
	t.Parallel()
	url := testutil.NewDatabase(t)
	env := append(dbEnv(url), "FILESHARE_DATA_DIR="+t.TempDir())
	ok(t, env, "", "tenant", "add", "acme")
	ok(t, env, "pw\n", "user", "add", "alice@acme", "--password-stdin")

	// Quotas: set, then read back; 0 is unlimited; a missing tenant or nothing to set fails.
	if out := ok(t, env, "", "tenant", "set", "acme", "--max-bytes", "1000", "--max-file-bytes", "600"); !strings.Contains(out, "max-bytes 1000, max-file-bytes 600") {
		t.Errorf("tenant set: %q", out)
	}
	fails(t, env, "", "does not exist", "tenant", "set", "nope", "--max-bytes", "1")
	fails(t, env, "", "nothing to set", "tenant", "set", "acme")

	s := testutil.StartServe(t, binary, env)
	up := func(pw string, data string) int {
		body, ctype := testutil.Multipart(t, testutil.FilePart("q.txt", []byte(data)))
		req, _ := http.NewRequest(http.MethodPost, s.URL("/uploads"), strings.NewReader(string(body)))
		req.Header.Set("Content-Type", ctype)
		req.SetBasicAuth("alice@acme", pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := up("pw", strings.Repeat("a", 500)); c != http.StatusCreated {
		t.Fatalf("upload within the quota: %d", c)
	}
	if c := up("pw", strings.Repeat("b", 601)); c != http.StatusRequestEntityTooLarge {
		t.Fatalf("a file over max-file-bytes: %d", c)
	}
	if c := up("pw", strings.Repeat("c", 501)); c != http.StatusInsufficientStorage {
		t.Fatalf("an upload past the quota: %d", c)
	}
	out := ok(t, env, "", "tenant", "usage", "acme")
	if !regexp.MustCompile(`(?m)^acme\s+500\s+1000\s+600\s+1\s+0\s+0\s*$`).MatchString(out) {
		t.Errorf("tenant usage:\n%s", out)
	}
	ok(t, env, "", "tenant", "set", "acme", "--max-bytes", "0")
	if out := ok(t, env, "", "tenant", "usage"); !regexp.MustCompile(`(?m)^acme\s+500\s+unlimited\s+600\s`).MatchString(out) {
		t.Errorf("tenant usage of every tenant:\n%s", out)
	}

	// Application passwords: issued once, listed with their last use, revoked alone.
	pw := strings.TrimSpace(ok(t, env, "", "user", "apppw", "add", "alice@acme", "--name", "rtc-engine"))
	if !regexp.MustCompile(`^fsap_[A-Za-z0-9_-]{32}$`).MatchString(pw) {
		t.Fatalf("apppw add printed %q", pw)
	}
	fails(t, env, "", "already has", "user", "apppw", "add", "alice@acme", "--name", "rtc-engine")
	fails(t, env, "", "does not exist", "user", "apppw", "add", "bob@acme", "--name", "x")
	if c := up(pw, "with an app password"); c != http.StatusCreated {
		t.Fatalf("upload with the application password: %d", c)
	}
	testutil.Eventually(t, 10*time.Second, "the last use in apppw list", func() bool {
		out := ok(t, env, "", "user", "apppw", "list", "alice@acme")
		return regexp.MustCompile(`(?m)^rtc-engine\s+\S+Z\s+\S+Z\s*$`).MatchString(out)
	})
	if out := ok(t, env, "", "user", "apppw", "revoke", "alice@acme", "rtc-engine"); !strings.Contains(out, "revoked") {
		t.Errorf("apppw revoke: %q", out)
	}
	if c := up(pw, "after the revocation"); c != http.StatusUnauthorized {
		t.Fatalf("upload with a revoked application password: %d", c)
	}
	fails(t, env, "", "no application password", "user", "apppw", "revoke", "alice@acme", "rtc-engine")
	if out := ok(t, env, "", "user", "apppw", "list", "alice@acme"); strings.Contains(out, "rtc-engine") {
		t.Errorf("a revoked password is still listed:\n%s", out)
	}
	if strings.Contains(s.Logs.String(), pw) {
		t.Error("the application password reached the server's log")
	}
}
