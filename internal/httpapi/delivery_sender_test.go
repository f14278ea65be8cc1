package httpapi_test

// Tests of the sender's name on a one-time link's landing page: the tenant's display name,
// shown as text whatever it holds, and only the tenant's own.

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"fileshare/internal/admin"
	"fileshare/internal/testutil"
)

// sendSetDisplayName sets tenant's display name as `fileshare tenant set` does.
func sendSetDisplayName(t *testing.T, e *testutil.Env, tenant, name string) {
	t.Helper()
	if err := e.Admin.SetTenant(context.Background(), tenant, admin.TenantSettings{DisplayName: &name}); err != nil {
		t.Fatalf("set the display name of %s to %q: %v", tenant, name, err)
	}
}

var sendHeadingRE = regexp.MustCompile(`(?s)<h1>(.*?)</h1>`)

// sendHeading is the page's heading as a browser shows it (its text, unescaped), and whether
// its <title> says the same.
func sendHeading(t *testing.T, r *testutil.Response) string {
	t.Helper()
	m := sendHeadingRE.FindSubmatch(r.Body)
	if m == nil {
		t.Fatalf("the page has no <h1>: %s", r.Body)
	}
	if !strings.Contains(string(r.Body), "<title>"+string(m[1])+"</title>") {
		t.Errorf("the page's title is not its heading %q", m[1])
	}
	return html.UnescapeString(string(m[1]))
}

// TestTokenLandingNamesSender opens links as a browser: a tenant with a display name is
// named as the sender on the landing page and on the PIN form, escaped as text; a tenant
// without one keeps the anonymous wording; another tenant's name never shows.
func TestTokenLandingNamesSender(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	e.AddUser(sessBob, sessPW)
	content := dlMarked(t, 2000)
	f := e.StoredFile(t, sessAlice, "report.pdf", content)
	tok := e.Token(t, sessAlice, f, false)

	// No display name: today's wording.
	if h := sendHeading(t, dlBrowser(e, http.MethodGet, tok.URL)); h != "A file for you" {
		t.Fatalf("heading without a display name: %q", h)
	}

	sendSetDisplayName(t, e, "acme", "ACME Support")
	sendSetDisplayName(t, e, "other", "Other Corp")
	r := dlBrowser(e, http.MethodGet, tok.URL)
	dlWantLanding(t, r, "report.pdf", len(content), tok.ExpiresAt, content)
	if h := sendHeading(t, r); h != "ACME Support sent you a file" {
		t.Fatalf("heading: %q", h)
	}
	if strings.Contains(string(r.Body), "Other Corp") {
		t.Fatal("the page names another tenant")
	}
	// The page still reveals nothing of the content before the consumption.
	for _, h := range []string{"ETag", "Repr-Digest", "Digest", "Last-Modified", "Content-Disposition"} {
		if v := r.Header.Get(h); v != "" {
			t.Errorf("the landing page carries %s: %q", h, v)
		}
	}
	if strings.Contains(string(r.Body), f.SHA256) {
		t.Error("the landing page shows the file's SHA-256")
	}
	// Another tenant's link names that tenant.
	bf := e.StoredFile(t, sessBob, "b.txt", content)
	if h := sendHeading(t, dlBrowser(e, http.MethodGet, e.Token(t, sessBob, bf, false).URL)); h != "Other Corp sent you a file" {
		t.Fatalf("heading of the other tenant's link: %q", h)
	}

	// A hostile name is text: no element, no attribute, no script.
	const hostile = `<script>alert("x")</script> & "Support" <img src=x>`
	sendSetDisplayName(t, e, "acme", hostile)
	r = dlBrowser(e, http.MethodGet, tok.URL)
	dlWantLanding(t, r, "report.pdf", len(content), tok.ExpiresAt, content)
	if h := sendHeading(t, r); h != hostile+" sent you a file" {
		t.Fatalf("heading with a hostile name: %q", h)
	}
	for _, raw := range []string{"<script", "<img", `"Support"`, "</script>"} {
		if strings.Contains(string(r.Body), raw) {
			t.Errorf("the page holds %q unescaped: %s", raw, r.Body)
		}
	}

	// The PIN form, and the page after a wrong PIN, name the sender too.
	sendSetDisplayName(t, e, "acme", "ACME Support")
	pinTok := e.Token(t, sessAlice, f, true)
	r = dlBrowser(e, http.MethodGet, pinTok.URL)
	if h := sendHeading(t, r); h != "ACME Support sent you a file" || !dlPINFieldR.Match(r.Body) {
		t.Fatalf("the PIN form: heading %q, PIN field %v", h, dlPINFieldR.Match(r.Body))
	}
	r = dlPostForm(e, pinTok.URL, url.Values{"pin": {dlWrongPIN(t, pinTok.PIN, 0)}})
	dlWantPage(t, r, http.StatusForbidden)
	if h := sendHeading(t, r); h != "ACME Support sent you a file" || !dlPINFieldR.Match(r.Body) {
		t.Fatalf("the page after a wrong PIN: heading %q, PIN field %v", h, dlPINFieldR.Match(r.Body))
	}

	// Cleared: anonymous again.
	sendSetDisplayName(t, e, "acme", "")
	if h := sendHeading(t, dlBrowser(e, http.MethodGet, tok.URL)); h != "A file for you" {
		t.Fatalf("heading once the display name is cleared: %q", h)
	}
	// The recipient still downloads the file, once.
	sessCheckDownload(t, dlCurl(e, http.MethodGet, tok.URL), content, "application/pdf", `attachment; filename="report.pdf"`)
}
