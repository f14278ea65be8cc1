package main_test

import (
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"fileshare/internal/testutil"
)

// TestTenantDisplayName sets, shows, refuses and clears a tenant's display name through the
// binary, and opens a link of the tenant as a browser on a real server: the page names the
// sender while it has a name.
func TestTenantDisplayName(t *testing.T) {
	t.Parallel()
	url := testutil.NewDatabase(t)
	env := append(dbEnv(url), "FILESHARE_DATA_DIR="+t.TempDir())
	ok(t, env, "", "tenant", "add", "acme")
	ok(t, env, "", "tenant", "add", "other")
	ok(t, env, "pw\n", "user", "add", "alice@acme", "--password-stdin")

	out := ok(t, env, "", "tenant", "set", "acme", "--display-name", "ACME Support")
	if !strings.Contains(out, `tenant "acme": max-bytes unlimited, max-file-bytes unlimited, display name "ACME Support"`) {
		t.Errorf("tenant set: %q", out)
	}
	// Last in tenant list, after columns that scripts split on spaces; "-" for none.
	list := ok(t, env, "", "tenant", "list")
	if !regexp.MustCompile(`(?m)^acme\s+1\s+\S+Z\s+ACME Support\s*$`).MatchString(list) ||
		!regexp.MustCompile(`(?m)^other\s+0\s+\S+Z\s+-\s*$`).MatchString(list) {
		t.Errorf("tenant list:\n%s", list)
	}
	// With a quota in one command; the quota alone leaves the name.
	ok(t, env, "", "tenant", "set", "acme", "--max-bytes", "5000", "--display-name", "ACME Support")
	ok(t, env, "", "tenant", "set", "acme", "--max-file-bytes", "4000")
	if list := ok(t, env, "", "tenant", "list"); !strings.Contains(list, "ACME Support") {
		t.Errorf("a quota change cleared the display name:\n%s", list)
	}

	// Refused, with the reason on one line; nothing of the command is written.
	for _, bad := range []struct{ name, why string }{
		{strings.Repeat("x", 101), "at most 100"},
		{"ACME\u202eSupport", "control, format"},
		{"ACME\nSupport", "control, format"},
		{"Cafe\u0301", "NFC"},
		{" ACME", "starts or ends with a space"},
	} {
		fails(t, env, "", "invalid display name", "tenant", "set", "acme", "--max-bytes", "1", "--display-name", bad.name)
		fails(t, env, "", bad.why, "tenant", "set", "acme", "--display-name", bad.name)
	}
	if out := ok(t, env, "", "tenant", "usage", "acme"); !regexp.MustCompile(`(?m)^acme\s+0\s+5000\s+4000\s`).MatchString(out) {
		t.Errorf("a refused display name changed the quota:\n%s", out)
	}
	fails(t, env, "", `tenant "nope" does not exist`, "tenant", "set", "nope", "--display-name", "X")
	fails(t, env, "", "nothing to set", "tenant", "set", "acme")

	// The recipient's browser sees it.
	s := testutil.StartServe(t, binary, env)
	heading := func() string {
		t.Helper()
		sid := apiJSON(t, s, http.MethodPost, "/sessions", "")["id"].(string)
		fid := apiJSON(t, s, http.MethodPost, "/sessions/"+sid+"/files", `{"name":"r.txt"}`)["id"].(string)
		apiJSON(t, s, http.MethodPut, "/sessions/"+sid+"/files/"+fid, "hello")
		link := apiJSON(t, s, http.MethodPost, "/sessions/"+sid+"/files/"+fid+"/tokens", "")["url"].(string)
		req, _ := http.NewRequest(http.MethodGet, link, nil)
		req.Header.Set("Accept", "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		m := regexp.MustCompile(`<h1>(.*?)</h1>`).FindSubmatch(body)
		if resp.StatusCode != http.StatusOK || m == nil {
			t.Fatalf("landing page: %d %s", resp.StatusCode, body)
		}
		return html.UnescapeString(string(m[1]))
	}
	if h := heading(); h != "ACME Support sent you a file" {
		t.Errorf("heading: %q", h)
	}

	// "" clears it.
	if out := ok(t, env, "", "tenant", "set", "acme", "--display-name", ""); !strings.Contains(out, "no display name") {
		t.Errorf("tenant set --display-name \"\": %q", out)
	}
	if list := ok(t, env, "", "tenant", "list"); !regexp.MustCompile(`(?m)^acme\s+1\s+\S+Z\s+-\s*$`).MatchString(list) {
		t.Errorf("tenant list after clearing:\n%s", list)
	}
	if h := heading(); h != "A file for you" {
		t.Errorf("heading without a display name: %q", h)
	}
}
