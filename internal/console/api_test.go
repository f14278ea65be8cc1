package console_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

// TestCSRFRefusals: every console call, and the creation of an upload through the console,
// needs the session's CSRF token and the console's origin; a forged one changes nothing.
func TestCSRFRefusals(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser(alice, alicePW)
	v := newVisitor(t, e)
	v.signIn(alice, alicePW)
	other := newVisitor(t, e)
	other.signIn(alice, alicePW)

	for _, c := range []struct {
		what   string
		header map[string]string
		msg    string
	}{
		{"no token", map[string]string{"Origin": v.origin}, "csrf token missing or wrong"},
		{"a wrong token", map[string]string{"Origin": v.origin, "X-Fileshare-Csrf": "x" + v.csrf[1:]}, "csrf token missing or wrong"},
		{"another session's token", map[string]string{"Origin": v.origin, "X-Fileshare-Csrf": other.csrf}, "csrf token missing or wrong"},
		{"another origin", map[string]string{"Origin": "http://evil.example", "X-Fileshare-Csrf": v.csrf}, "origin not allowed"},
		{"a cross-site fetch without Origin", map[string]string{"Sec-Fetch-Site": "cross-site", "X-Fileshare-Csrf": v.csrf}, "origin not allowed"},
		{"neither Origin nor Sec-Fetch-Site", map[string]string{"X-Fileshare-Csrf": v.csrf}, "origin not allowed"},
	} {
		r := v.callWith(http.MethodPost, "/sessions", map[string]any{}, c.header)
		testutil.WantError(t, r, http.StatusForbidden, c.msg)
		tus := v.send(http.MethodPost, "/console/tus", nil, mergeHeader(c.header, map[string]string{
			"Tus-Resumable": "1.0.0", "Upload-Length": "5", "Upload-Metadata": "filename " + base64.StdEncoding.EncodeToString([]byte("x.txt")),
		}))
		testutil.WantError(t, tus, http.StatusForbidden, c.msg)
	}
	if n := testutil.QueryInt(t, e, `SELECT (SELECT count(*) FROM sessions) + (SELECT count(*) FROM tus_uploads)`); n != 0 {
		t.Fatalf("forged requests made %d sessions or uploads", n)
	}
	// The same calls, from the console's page: a same-origin fetch without Origin passes.
	if r := v.callWith(http.MethodPost, "/sessions", map[string]any{}, map[string]string{"Sec-Fetch-Site": "same-origin", "X-Fileshare-Csrf": v.csrf}); r.StatusCode != http.StatusCreated {
		t.Fatalf("same-origin fetch: %d %s", r.StatusCode, r.Body)
	}
	if r := v.call(http.MethodPost, "/sessions", map[string]any{}); r.StatusCode != http.StatusCreated {
		t.Fatalf("with token and origin: %d %s", r.StatusCode, r.Body)
	}
	// Reading needs the token too: a page of another site cannot even fetch the state.
	testutil.WantError(t, v.callWith(http.MethodGet, "/usage", nil, map[string]string{}), http.StatusForbidden, "origin not allowed")
	// Without a session: 401, and no Basic Auth challenge (the browser would ask for a password).
	anon := newVisitor(t, e)
	r := anon.callWith(http.MethodPost, "/sessions", map[string]any{}, map[string]string{"Origin": anon.origin, "X-Fileshare-Csrf": v.csrf})
	testutil.WantError(t, r, http.StatusUnauthorized, "unauthorized")
	if r.Header.Get("WWW-Authenticate") != "" {
		t.Fatal("a Basic Auth challenge")
	}
	// A forged sign-in (login CSRF) sets no cookie.
	evil := newVisitor(t, e)
	evil.origin = "http://evil.example"
	if r := evil.form("/console/signin", map[string][]string{"login": {alice}, "password": {alicePW}}); r.StatusCode != http.StatusForbidden || sessionCookie(r) != nil {
		t.Fatalf("sign-in from another origin: %d", r.StatusCode)
	}
}

func mergeHeader(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestConsoleFlow: through the console's calls a user makes a session, a file entry, uploads
// its content by tus (created through /console/tus, sent to /tus/{id} without the cookie),
// makes links for two recipients (one with a PIN) with their QR codes, and watches them:
// viewed when the landing page is shown, delivered when downloaded, revoked when revoked.
func TestConsoleFlow(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser(alice, alicePW)
	v := newVisitor(t, e)
	v.signIn(alice, alicePW)

	testutil.WantError(t, v.call(http.MethodPost, "/sessions", map[string]any{"ttl": 12345}), http.StatusBadRequest, "invalid ttl")
	s := testutil.Decode[sessionAnswer](t, v.call(http.MethodPost, "/sessions", map[string]any{"ttl": 86400}), http.StatusCreated)
	content := []byte("hello, Bob and Carol")
	f := testutil.Decode[sessionAnswer](t, v.call(http.MethodPost, "/sessions/"+s.ID+"/files",
		map[string]any{"name": "hello.txt", "size": len(content), "contentType": "text/plain"}), http.StatusCreated)

	meta := "sessionId " + b64(s.ID) + ",fileId " + b64(f.ID) + ",filename " + b64("hello.txt")
	created := v.send(http.MethodPost, "/console/tus", nil, map[string]string{
		"Origin": v.origin, "X-Fileshare-Csrf": v.csrf, "Tus-Resumable": "1.0.0",
		"Upload-Length": strconv.Itoa(len(content)), "Upload-Metadata": meta,
	})
	loc := created.Header.Get("Location")
	if created.StatusCode != http.StatusCreated || !strings.HasPrefix(loc, e.URL+"/tus/") {
		t.Fatalf("tus creation through the console: %d %q %s", created.StatusCode, loc, created.Body)
	}
	patch := e.NewRequest(http.MethodPatch, loc, "", "", bytes.NewReader(content))
	patch.Header.Set("Tus-Resumable", "1.0.0")
	patch.Header.Set("Upload-Offset", "0")
	patch.Header.Set("Content-Type", "application/offset+octet-stream")
	if r := e.Do(patch); r.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH without the cookie: %d %s", r.StatusCode, r.Body)
	}

	links := testutil.Decode[[]linkAnswer](t, v.call(http.MethodPost, "/sessions/"+s.ID+"/files/"+f.ID+"/links",
		map[string]any{"links": []map[string]any{{"label": "for Bob", "pin": true}, {"label": "for Carol"}}}), http.StatusCreated)
	if len(links) != 2 || links[0].Label != "for Bob" || len(links[0].PIN) != 6 || links[1].PIN != "" ||
		!strings.HasPrefix(links[0].URL, e.URL+"/sessions/"+s.ID+"/files/"+f.ID+"/tokens/") {
		t.Fatalf("links: %+v", links)
	}
	for _, l := range links {
		svg, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(l.QR, "data:image/svg+xml;base64,"))
		if err != nil || !strings.HasPrefix(l.QR, "data:image/svg+xml;base64,") || !bytes.HasPrefix(svg, []byte("<svg ")) || !bytes.Contains(svg, []byte("<path ")) {
			t.Fatalf("QR code %.80q: %v", l.QR, err)
		}
	}
	testutil.WantError(t, v.call(http.MethodPost, "/sessions/"+s.ID+"/files/"+f.ID+"/links",
		map[string]any{"links": []map[string]any{{"label": "ok"}, {"label": strings.Repeat("x", 101)}}}), http.StatusBadRequest, "invalid label")
	testutil.WantError(t, v.call(http.MethodPost, "/sessions/"+s.ID+"/files/"+f.ID+"/links",
		map[string]any{"links": []map[string]any{}}), http.StatusBadRequest, "between 1 and 20 links at once")

	state := func() map[string]linkState {
		st := testutil.Decode[sessionState](t, v.call(http.MethodGet, "/sessions/"+s.ID, nil), http.StatusOK)
		if len(st.Files) != 1 || st.Files[0].State != "stored" || st.Usage.Bytes != int64(len(content)) {
			t.Fatalf("state: %+v", st)
		}
		out := map[string]linkState{}
		for _, l := range st.Files[0].Links {
			out[l.Ref] = l
		}
		return out
	}
	bobLink, carolLink := links[0], links[1]
	if st := state(); len(st) != 2 || st[bobLink.Ref].State != "unused" || !st[bobLink.Ref].PIN || st[carolLink.Ref].Label != "for Carol" {
		t.Fatalf("links before anything: %+v", st)
	}

	page := e.NewRequest(http.MethodGet, carolLink.URL, "", "", nil)
	page.Header.Set("Accept", "text/html")
	if r := e.Do(page); r.StatusCode != http.StatusOK {
		t.Fatalf("landing page: %d", r.StatusCode)
	}
	if st := state(); st[carolLink.Ref].State != "viewed" || st[bobLink.Ref].State != "unused" {
		t.Fatalf("after the landing page: %+v", st)
	}
	dl := e.NewRequest(http.MethodGet, carolLink.URL, "", "", nil)
	if r := e.Do(dl); r.StatusCode != http.StatusOK || !bytes.Equal(r.Body, content) {
		t.Fatalf("download: %d", r.StatusCode)
	}
	testutil.Eventually(t, 5e9, "delivered", func() bool { return state()[carolLink.Ref].State == "delivered" })

	if r := v.call(http.MethodDelete, "/sessions/"+s.ID+"/files/"+f.ID+"/links/"+bobLink.Ref, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.StatusCode, r.Body)
	}
	if st := state(); st[bobLink.Ref].State != "revoked" {
		t.Fatalf("after revoking: %+v", st)
	}
	testutil.WantError(t, v.call(http.MethodDelete, "/sessions/"+s.ID+"/files/"+f.ID+"/links/"+carolLink.Ref, nil), http.StatusConflict, "download token already used")

	page2 := v.page("/console/sessions/" + s.ID)
	if !strings.Contains(string(page2.Body), `data-session="`+s.ID+`"`) {
		t.Fatalf("session page: %.300s", page2.Body)
	}
	if r := v.call(http.MethodDelete, "/sessions/"+s.ID+"/files/"+f.ID, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("delete file: %d", r.StatusCode)
	}
	if r := v.call(http.MethodDelete, "/sessions/"+s.ID, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("delete session: %d", r.StatusCode)
	}
	testutil.WantError(t, v.call(http.MethodGet, "/sessions/"+s.ID, nil), http.StatusNotFound, "session not found")
	if r := v.send(http.MethodGet, "/console/sessions/"+s.ID, nil, nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("page of a deleted session: %d", r.StatusCode)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestConsoleTenantScoping: through the console another tenant's session, file and link are
// not found, exactly like ids that do not exist; a simple upload through the console belongs
// to the user's tenant and counts toward its quota.
func TestConsoleTenantScoping(t *testing.T) {
	t.Parallel()
	e := testutil.NewEnv(t)
	e.AddUser(alice, alicePW)
	e.AddUser(bob, bobPW)
	a := newVisitor(t, e)
	a.signIn(alice, alicePW)
	b := newVisitor(t, e)
	b.signIn(bob, bobPW)

	s := testutil.Decode[sessionAnswer](t, a.call(http.MethodPost, "/sessions", nil), http.StatusCreated)
	f := testutil.Decode[sessionAnswer](t, a.call(http.MethodPost, "/sessions/"+s.ID+"/files", map[string]any{"name": "a.txt"}), http.StatusCreated)
	none := "00000000-0000-4000-8000-000000000000"
	for _, p := range [][2]string{
		{http.MethodGet, "/sessions/%s"},
		{http.MethodDelete, "/sessions/%s"},
		{http.MethodPost, "/sessions/%s/files"},
	} {
		foreign := b.call(p[0], strings.Replace(p[1], "%s", s.ID, 1), map[string]any{"name": "x"})
		unknown := b.call(p[0], strings.Replace(p[1], "%s", none, 1), map[string]any{"name": "x"})
		if foreign.StatusCode != http.StatusNotFound || !bytes.Equal(foreign.Body, unknown.Body) {
			t.Fatalf("%s %s as bob: %d %s, unknown: %s", p[0], p[1], foreign.StatusCode, foreign.Body, unknown.Body)
		}
	}
	if r := b.call(http.MethodDelete, "/sessions/"+s.ID+"/files/"+f.ID, nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("bob deletes alice's file: %d", r.StatusCode)
	}
	if r := b.send(http.MethodGet, "/console/sessions/"+s.ID, nil, nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("bob opens alice's session page: %d", r.StatusCode)
	}
	// Bob's tus creation for alice's entry: not found.
	r := b.send(http.MethodPost, "/console/tus", nil, map[string]string{
		"Origin": b.origin, "X-Fileshare-Csrf": b.csrf, "Tus-Resumable": "1.0.0", "Upload-Length": "1",
		"Upload-Metadata": "sessionId " + b64(s.ID) + ",fileId " + b64(f.ID),
	})
	testutil.WantError(t, r, http.StatusNotFound, "file not found")

	// A simple upload through the console: alice's tenant, its quota.
	max := int64(10)
	if err := e.Admin.SetLimits(t.Context(), "acme", &max, nil); err != nil {
		t.Fatal(err)
	}
	r = a.send(http.MethodPost, "/console/tus", nil, map[string]string{
		"Origin": a.origin, "X-Fileshare-Csrf": a.csrf, "Tus-Resumable": "1.0.0", "Upload-Length": "11",
		"Upload-Metadata": "filename " + b64("big.bin"),
	})
	testutil.WantError(t, r, http.StatusInsufficientStorage, "quota exceeded")
}

// TestConsoleOffAndCORS: FILESHARE_CONSOLE=false serves no console; with CORS origins listed
// for the API, the console's answers still allow no other origin.
func TestConsoleOffAndCORS(t *testing.T) {
	t.Parallel()
	off := testutil.NewEnv(t, func(c *config.Config) { c.Console = false })
	for _, p := range []string{"/console/", "/console/signin", "/console/static/console.js"} {
		if r := off.Do(off.NewRequest(http.MethodGet, p, "", "", nil)); r.StatusCode != http.StatusNotFound {
			t.Fatalf("console off: GET %s: %d", p, r.StatusCode)
		}
	}
	if r := off.Do(off.NewRequest(http.MethodPost, "/console/tus", "", "", nil)); r.StatusCode != http.StatusNotFound {
		t.Fatalf("console off: POST /console/tus: %d", r.StatusCode)
	}

	e := testutil.NewEnv(t, func(c *config.Config) { c.CORSOrigins = []string{"https://app.example.com"} })
	e.AddUser(alice, alicePW)
	v := newVisitor(t, e)
	v.signIn(alice, alicePW)
	v.origin = "https://app.example.com"
	r := v.call(http.MethodGet, "/usage", nil)
	if r.StatusCode != http.StatusForbidden || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("a listed API origin reads the console: %d, ACAO %q", r.StatusCode, r.Header.Get("Access-Control-Allow-Origin"))
	}
	pre := v.send(http.MethodOptions, "/console/api/usage", nil, map[string]string{
		"Origin": v.origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-fileshare-csrf",
	})
	if pre.StatusCode == http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("a preflight for the console: %d, ACAO %q", pre.StatusCode, pre.Header.Get("Access-Control-Allow-Origin"))
	}
	// The API itself still answers the listed origin.
	api := e.NewRequest(http.MethodGet, "/usage", alice, alicePW, nil)
	api.Header.Set("Origin", "https://app.example.com")
	if r := e.Do(api); r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("the API's CORS: %q", r.Header.Get("Access-Control-Allow-Origin"))
	}
	// The assets: versioned, immutable; tus-js-client's licence beside it.
	js := v.send(http.MethodGet, "/console/static/tus.min.js", nil, nil)
	lic := v.send(http.MethodGet, "/console/static/tus.min.js.LICENSE", nil, nil)
	if js.StatusCode != http.StatusOK || js.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || !bytes.Contains(lic.Body, []byte("MIT License")) {
		t.Fatalf("tus.min.js: %d %q; licence %d", js.StatusCode, js.Header.Get("Content-Type"), lic.StatusCode)
	}
}
