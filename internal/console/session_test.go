package console_test

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"fileshare/internal/config"
	"fileshare/internal/console"
	"fileshare/internal/testutil"
)

// TestSignInCookieAndPages: the console's pages need a sign-in; the form signs in with the
// password or an application password and sets a cookie that is HttpOnly, SameSite=Strict,
// limited to the console's path, expiring, and not Secure over plain HTTP; the database keeps
// only its hash; every page carries the strict CSP.
func TestSignInCookieAndPages(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser(alice, alicePW)
	v := newVisitor(t, e)

	for _, p := range []string{"/console/", "/console/sessions/" + "00000000-0000-0000-0000-000000000000"} {
		r := v.send(http.MethodGet, p, nil, nil)
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/console/signin" {
			t.Fatalf("GET %s without a sign-in: %d %q", p, r.StatusCode, r.Header.Get("Location"))
		}
	}
	if r := v.send(http.MethodGet, "/console", nil, nil); r.StatusCode != http.StatusPermanentRedirect || r.Header.Get("Location") != "/console/" {
		t.Fatalf("GET /console: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	signin := v.page("/console/signin")
	csp := signin.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("the sign-in page's CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(string(signin.Body), "<script>") || strings.Contains(string(signin.Body), "style=") {
		t.Errorf("inline script or style: CSP %q", csp)
	}

	r := v.form("/console/signin", url.Values{"login": {alice}, "password": {alicePW}})
	c := sessionCookie(r)
	if r.StatusCode != http.StatusSeeOther || c == nil {
		t.Fatalf("sign in: %d, cookie %v", r.StatusCode, c)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/console/" || c.Secure || c.MaxAge != 12*3600 || len(c.Value) < 43 {
		t.Fatalf("the cookie: %+v", c)
	}
	sum := sha256.Sum256([]byte(c.Value))
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM console_sessions WHERE id_hash = $1 AND expires_at > now() + interval '11 hours'`, sum[:]); n != 1 {
		t.Fatalf("%d sessions keep the cookie's hash with a 12 h expiry", n)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM console_sessions WHERE position($1::bytea IN id_hash) > 0`, []byte(c.Value)); n != 0 {
		t.Fatal("the database keeps the cookie itself")
	}
	v.cookie = c.Value
	home := v.page("/console/")
	v.csrf = v.pageCSRF(home)
	if !strings.Contains(string(home.Body), alice) || home.Header.Get("Cache-Control") != "no-store" || home.Header.Get("Content-Security-Policy") != csp {
		t.Fatalf("home page: %v %.300s", home.Header, home.Body)
	}
	// Signed in, the sign-in page sends the browser home.
	if r := v.send(http.MethodGet, "/console/signin", nil, nil); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/console/" {
		t.Fatalf("sign-in page when signed in: %d", r.StatusCode)
	}

	// An application password signs in too.
	appPW, err := e.Admin.AddAppPassword(context.Background(), alice, "console")
	if err != nil {
		t.Fatal(err)
	}
	w := newVisitor(t, e)
	w.signIn(alice, appPW)
	if !w.signedIn() || !v.signedIn() {
		t.Fatal("two sign-ins of one user do not both hold")
	}
}

// TestSecureCookieBehindHTTPS: with an https public URL (a proxy terminating TLS), the cookie
// is Secure and lives under the public URL's path; the Origin that counts is the public URL's.
func TestSecureCookieBehindHTTPS(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t, func(c *config.Config) { c.PublicURL = "https://files.example.com/rtc/fileshare" })
	e.AddUser(alice, alicePW)
	v := newVisitor(t, e)
	form := url.Values{"login": {alice}, "password": {alicePW}}
	if r := v.form("/console/signin", form); r.StatusCode != http.StatusForbidden || sessionCookie(r) != nil {
		t.Fatalf("sign-in from the server's own address, not the public origin: %d", r.StatusCode)
	}
	v.origin = "https://files.example.com"
	r := v.form("/console/signin", form)
	c := sessionCookie(r)
	if r.StatusCode != http.StatusSeeOther || c == nil || !c.Secure || c.Path != "/rtc/fileshare/console/" ||
		r.Header.Get("Location") != "/rtc/fileshare/console/" {
		t.Fatalf("sign in: %d %q, cookie %+v", r.StatusCode, r.Header.Get("Location"), c)
	}
	v.cookie = c.Value
	home := v.page("/console/")
	if !strings.Contains(string(home.Body), `href="/rtc/fileshare/console/static/console.css?v=`) {
		t.Fatalf("the page does not link its assets under the public path: %.600s", home.Body)
	}
}

// TestSignInRefusalsAndThrottling: a wrong password answers the form again with 401; the
// form's failures count toward the login's throttling like Basic Auth's (docs/behaviour.md
// §1.4), so the eleventh attempt from the address is held back with 429 and Retry-After, even
// with the right password, and so is the API; another address is not.
func TestSignInRefusalsAndThrottling(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t, func(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1/32"} })
	e.AddUser(alice, alicePW)
	v := newVisitor(t, e)
	from := func(addr string, fields url.Values) *testutil.Response {
		return v.send(http.MethodPost, "/console/signin", strings.NewReader(fields.Encode()), map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Origin": v.origin, "X-Forwarded-For": addr,
		})
	}
	wrong := url.Values{"login": {alice}, "password": {"guess"}}
	right := url.Values{"login": {alice}, "password": {alicePW}}
	for i := range 10 {
		r := from("192.0.2.7", wrong)
		if r.StatusCode != http.StatusUnauthorized || sessionCookie(r) != nil || !strings.Contains(string(r.Body), "Wrong login or password") ||
			!strings.Contains(string(r.Body), `value="alice@acme"`) {
			t.Fatalf("wrong password %d: %d %.300s", i+1, r.StatusCode, r.Body)
		}
	}
	r := from("192.0.2.7", right)
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || sessionCookie(r) != nil ||
		!strings.Contains(string(r.Body), "Too many failed sign-ins") {
		t.Fatalf("after 10 failures: %d Retry-After %q %.300s", r.StatusCode, r.Header.Get("Retry-After"), r.Body)
	}
	api := e.NewRequest(http.MethodGet, "/usage", alice, alicePW, nil)
	api.Header.Set("X-Forwarded-For", "192.0.2.7")
	if r := e.Do(api); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the API from the throttled address: %d", r.StatusCode)
	}
	if r := from("192.0.2.8", right); r.StatusCode != http.StatusSeeOther || sessionCookie(r) == nil {
		t.Fatalf("another address: %d", r.StatusCode)
	}
	// A login of nobody, and an empty form, are wrong logins, not errors.
	if r := from("192.0.2.9", url.Values{"login": {"nobody@nowhere"}, "password": {"x"}}); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unknown login: %d", r.StatusCode)
	}
	if r := from("192.0.2.9", url.Values{}); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("empty form: %d", r.StatusCode)
	}
}

// TestSessionEnds: sign-out, a disabled user, a new password, a revoked application password
// and a deleted user each end a session at once: the old cookie opens neither the pages nor
// the API calls. Sign-out itself needs the CSRF field and the console's origin.
func TestSessionEnds(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser(alice, alicePW)
	ctx := context.Background()

	v := newVisitor(t, e)
	v.signIn(alice, alicePW)
	for _, forged := range []url.Values{{}, {"csrf": {"forged"}}} {
		if r := v.form("/console/signout", forged); r.StatusCode != http.StatusForbidden || !v.signedIn() {
			t.Fatalf("sign-out with CSRF field %q: %d", forged.Get("csrf"), r.StatusCode)
		}
	}
	v.origin = "https://evil.example"
	if r := v.form("/console/signout", url.Values{"csrf": {v.csrf}}); r.StatusCode != http.StatusForbidden || !v.signedIn() {
		t.Fatalf("sign-out from another origin: %d", r.StatusCode)
	}
	v.origin = e.URL
	r := v.form("/console/signout", url.Values{"csrf": {v.csrf}})
	if c := sessionCookie(r); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/console/signin" || c == nil || c.MaxAge >= 0 {
		t.Fatalf("sign-out: %d %q, cookie %+v", r.StatusCode, r.Header.Get("Location"), c)
	}
	if v.signedIn() {
		t.Fatal("the cookie still works after sign-out")
	}

	for _, end := range []struct {
		what string
		do   func(*visitor)
	}{
		{"disable the user", func(*visitor) {
			if err := e.Admin.SetDisabled(ctx, alice, true); err != nil {
				t.Fatal(err)
			}
		}},
		{"change the password", func(*visitor) {
			if err := e.Admin.SetPassword(ctx, alice, alicePW); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		v := newVisitor(t, e)
		v.signIn(alice, alicePW)
		end.do(v)
		if v.signedIn() {
			t.Fatalf("%s: the cookie still works", end.what)
		}
		if end.what == "disable the user" {
			if err := e.Admin.SetDisabled(ctx, alice, false); err != nil {
				t.Fatal(err)
			}
			if v.signedIn() {
				t.Fatal("enabling the user again brings the old session back")
			}
		}
	}

	// An application password's session ends with its revocation, not with a new password.
	appPW, err := e.Admin.AddAppPassword(ctx, alice, "console")
	if err != nil {
		t.Fatal(err)
	}
	w := newVisitor(t, e)
	w.signIn(alice, appPW)
	if err := e.Admin.SetPassword(ctx, alice, alicePW); err != nil {
		t.Fatal(err)
	}
	if !w.signedIn() {
		t.Fatal("a new password ended a session signed in with an application password")
	}
	if err := e.Admin.RevokeAppPassword(ctx, alice, "console"); err != nil {
		t.Fatal(err)
	}
	if w.signedIn() {
		t.Fatal("the application password's session outlives its revocation")
	}

	last := newVisitor(t, e)
	last.signIn(alice, alicePW)
	if err := e.Admin.DeleteUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if last.signedIn() {
		t.Fatal("the cookie still works after the user was deleted")
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM console_sessions`); n != 0 {
		t.Fatalf("%d console sessions outlive their user", n)
	}
}

// TestSessionsPerUserBounded: a user keeps at most 20 sessions; a new sign-in ends the oldest.
func TestSessionsPerUserBounded(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser(alice, alicePW)
	first := newVisitor(t, e)
	first.signIn(alice, alicePW)
	for range 20 {
		newVisitor(t, e).signIn(alice, alicePW)
	}
	if n := testutil.QueryInt(t, e, `SELECT count(*) FROM console_sessions`); n != 20 {
		t.Fatalf("%d sessions kept, want 20", n)
	}
	if first.signedIn() {
		t.Fatal("the oldest of 21 sessions still works")
	}
}

// TestOriginOfPublicURL: the origin a state-changing request must come from is the public
// URL's as a browser writes it: no default port, no path, lower case.
func TestOriginOfPublicURL(t *testing.T) {
	t.Parallel()
	for public, origin := range map[string]string{
		"https://Files.example.com:443/rtc/fileshare": "https://files.example.com",
		"http://files.example.com:80":                 "http://files.example.com",
		"https://files.example.com:1446/rtc":          "https://files.example.com:1446",
		"http://[::1]:3001":                           "http://[::1]:3001",
	} {
		u, err := url.Parse(public)
		if err != nil {
			t.Fatal(err)
		}
		if got := console.OriginOf(u); got != origin {
			t.Errorf("public URL %s: origin %s, want %s", public, got, origin)
		}
	}
}
