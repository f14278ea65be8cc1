package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"fileshare/internal/config"
	"fileshare/internal/testutil"
)

const (
	corsApp   = "http://app.example.test:8080"
	corsOther = "http://evil.example.test"
)

// corsPreflight sends a browser's preflight of method to path from origin; headers are listed
// as browsers list them (lower case, sorted, comma-separated).
func corsPreflight(e *testutil.Env, path, origin, method, headers string) *testutil.Response {
	req := e.NewRequest(http.MethodOptions, path, "", "", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	if headers != "" {
		names := strings.Split(headers, ",")
		slices.Sort(names)
		req.Header.Set("Access-Control-Request-Headers", strings.Join(names, ","))
	}
	return e.Do(req)
}

// corsHeaderHas reports whether the comma-separated header value v names want (any case).
func corsHeaderHas(v, want string) bool {
	for _, p := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(p), want) {
			return true
		}
	}
	return false
}

// The routes a browser application uses, with the method and headers of its requests.
var corsRoutes = []struct{ path, method, headers string }{
	{"/sessions", http.MethodPost, "authorization,content-type"},
	{"/sessions/6ba7b810-9dad-11d1-80b4-00c04fd430c8/files/6ba7b811-9dad-11d1-80b4-00c04fd430c8", http.MethodPut, "content-type,content-digest"},
	{"/uploads", http.MethodPost, "authorization,content-type,x-request-id"},
	{"/uploads/6ba7b810-9dad-11d1-80b4-00c04fd430c8", http.MethodGet, "range,if-range"},
	{"/sessions/6ba7b810-9dad-11d1-80b4-00c04fd430c8/files/6ba7b811-9dad-11d1-80b4-00c04fd430c8/tokens/x", http.MethodPost, "fileshare-pin,range,if-range"},
	{"/tus", http.MethodPost, "tus-resumable,upload-length,upload-metadata,authorization"},
	{"/tus/6ba7b810-9dad-11d1-80b4-00c04fd430c8", http.MethodPatch, "tus-resumable,upload-offset,content-type"},
	{"/webhooks/6ba7b810-9dad-11d1-80b4-00c04fd430c8", http.MethodDelete, "authorization"},
}

// A listed origin: every route's preflight answers 204 with its method and headers allowed,
// the origin echoed and credentials allowed; answers expose the headers clients read. An
// origin not listed gets no Access-Control-Allow-Origin, and its requests work as before.
func TestCORSListedOrigins(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t, func(c *config.Config) { c.CORSOrigins = []string{corsApp, "https://other.example.test"} })
	for _, rt := range corsRoutes {
		r := corsPreflight(e, rt.path, corsApp, rt.method, rt.headers)
		h := r.Header
		if r.StatusCode != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != corsApp || h.Get("Access-Control-Allow-Credentials") != "true" ||
			!corsHeaderHas(h.Get("Access-Control-Allow-Methods"), rt.method) {
			t.Fatalf("preflight of %s %s: %d %v", rt.method, rt.path, r.StatusCode, h)
		}
		for _, want := range strings.Split(rt.headers, ",") {
			if !corsHeaderHas(h.Get("Access-Control-Allow-Headers"), want) {
				t.Errorf("preflight of %s %s: %s not allowed: %q", rt.method, rt.path, want, h.Get("Access-Control-Allow-Headers"))
			}
		}
		if len(r.Body) != 0 {
			t.Errorf("preflight of %s %s has a body: %q", rt.method, rt.path, r.Body)
		}
		// Another origin: no permission for it.
		r = corsPreflight(e, rt.path, corsOther, rt.method, rt.headers)
		if r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("preflight of %s %s from an origin not listed: %v", rt.method, rt.path, r.Header)
		}
	}
	// A header the API does not use is not allowed.
	if r := corsPreflight(e, "/sessions", corsApp, http.MethodPost, "x-not-ours"); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight with an unknown header: %v", r.Header)
	}

	// Actual requests from the listed origin: credentials work across origins, and the headers
	// a client reads are exposed.
	req := e.NewRequest(http.MethodPost, "/sessions", sessAlice, sessPW, strings.NewReader(`{}`))
	req.Header.Set("Origin", corsApp)
	r := e.Do(req)
	if r.StatusCode != http.StatusCreated || r.Header.Get("Access-Control-Allow-Origin") != corsApp || r.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("POST /sessions from %s: %d %v", corsApp, r.StatusCode, r.Header)
	}
	expose := r.Header.Get("Access-Control-Expose-Headers")
	for _, want := range []string{"Location", "ETag", "Content-Range", "Content-Disposition", "Repr-Digest", "Retry-After",
		"Upload-Offset", "Upload-Length", "Upload-Expires", "Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size", "Fileshare-Upload-Url"} {
		if !corsHeaderHas(expose, want) {
			t.Errorf("Access-Control-Expose-Headers %q lacks %s", expose, want)
		}
	}
	// An error answer carries them too (a browser application reads its message).
	req = e.NewRequest(http.MethodGet, "/sessions", sessAlice, "wrong", nil)
	req.Header.Set("Origin", corsApp)
	if r := e.Do(req); r.StatusCode != http.StatusUnauthorized || r.Header.Get("Access-Control-Allow-Origin") != corsApp {
		t.Errorf("401 to %s: %d %v", corsApp, r.StatusCode, r.Header)
	}
	// The other origin's request is answered, without permission for the browser to read it.
	req = e.NewRequest(http.MethodGet, "/sessions", sessAlice, sessPW, nil)
	req.Header.Set("Origin", corsOther)
	if r := e.Do(req); r.StatusCode != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("GET /sessions from %s: %d %v", corsOther, r.StatusCode, r.Header)
	}
	// tus discovery (OPTIONS without a preflight's headers) still answers as tus says.
	opt := e.Do(tuRequest(e, http.MethodOptions, "/tus", "", nil))
	if opt.StatusCode != http.StatusNoContent || opt.Header.Get("Tus-Version") != "1.0.0" {
		t.Errorf("OPTIONS /tus: %d %v", opt.StatusCode, opt.Header)
	}
}

// "*" allows any origin and never credentials: a page anywhere must not act with a user's.
func TestCORSAnyOriginNeverCredentials(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t, func(c *config.Config) { c.CORSOrigins = []string{"*"} })
	for _, origin := range []string{corsApp, corsOther, "null"} {
		r := corsPreflight(e, "/sessions", origin, http.MethodPost, "authorization,content-type")
		if r.StatusCode != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "*" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("preflight from %s: %d %v", origin, r.StatusCode, r.Header)
		}
		req := e.NewRequest(http.MethodGet, "/healthz", "", "", nil)
		req.Header.Set("Origin", origin)
		r = e.Do(req)
		if r.Header.Get("Access-Control-Allow-Origin") != "*" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("GET /healthz from %s: %v", origin, r.Header)
		}
	}
}

// With no origin configured (the default) no CORS header is ever sent.
func TestCORSOffByDefault(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	r := corsPreflight(e, "/sessions", corsApp, http.MethodPost, "authorization")
	req := e.NewRequest(http.MethodGet, "/healthz", "", "", nil)
	req.Header.Set("Origin", corsApp)
	g := e.Do(req)
	for _, resp := range []*testutil.Response{r, g} {
		for k := range resp.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Fatalf("%s %s: %s without FILESHARE_CORS_ORIGINS", resp.Request.Method, resp.Request.URL.Path, k)
			}
		}
	}
}

// The upload-URL answer gives the token on its own and the tus creation URL, so that a browser
// client needs no URL parsing; a tus upload with that token stores the entry's content.
func TestUploadURLAnswerForBrowsers(t *testing.T) {
	t.Parallel()
	e := sessNewEnv(t)
	s := sessCreateSession(t, e, sessAlice, nil)
	f := sessCreateFile(t, e, sessAlice, s.ID, map[string]any{"name": "from-a-browser.bin"})
	r := sessCall(t, e, http.MethodPost, "/sessions/"+f.ID, sessAlice, nil)
	up := testutil.Decode[struct {
		URL, Token, TusURL, SessionID, FileID string
	}](t, r, http.StatusCreated)
	if up.Token == "" || !strings.HasSuffix(up.URL, "?token="+up.Token) || up.TusURL != e.URL+"/tus" || up.SessionID != s.ID || up.FileID != f.ID {
		t.Fatalf("upload URL answer: %s", r.Body)
	}
	data := []byte("through tus with the token")
	c := e.Do(tuRequest(e, http.MethodPost, up.TusURL, "", data, "Upload-Length", "26",
		"Upload-Metadata", tuMeta("sessionId", up.SessionID, "fileId", up.FileID, "token", up.Token)))
	if c.StatusCode != http.StatusCreated || c.Header.Get("Upload-Offset") != "26" {
		t.Fatalf("tus creation with the answer's token: %d %s", c.StatusCode, c.Body)
	}
	if got := testutil.Decode[[]sessFile](t, sessCall(t, e, http.MethodGet, "/sessions/"+s.ID+"/files", sessAlice, nil), http.StatusOK)[0]; got.State != "stored" {
		t.Fatalf("entry after the tus upload: %+v", got)
	}
}

// A browser's cross-origin fetch of a one-time link from an origin that may not read the
// answer never spends the token (the browser would send the simple GET and hide the file from
// its page): 403 origin not allowed. A listed origin, or any under *, gets the file; so do
// requests that are no cross-origin fetch: an API client with an Origin header, a navigation
// (the landing page's form), a same-origin fetch.
func TestCORSUnreadableFetchSpendsNoToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		origins []string
	}{{"listed", []string{corsApp}}, {"none", nil}, {"any", []string{"*"}}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := sessNewEnv(t, func(c *config.Config) { c.CORSOrigins = tc.origins })
			s := sessCreateSession(t, e, sessAlice, nil)
			content := []byte("only for its recipient")
			f := sessStoredFile(t, e, sessAlice, s.ID, "one-time.txt", content)
			get := func(tok sessToken, origin string, fetch ...string) *testutil.Response {
				req := e.NewRequest(http.MethodGet, tok.URL, "", "", nil)
				req.Header.Set("Accept", "*/*")
				if origin != "" {
					req.Header.Set("Origin", origin)
				}
				if len(fetch) == 2 {
					req.Header.Set("Sec-Fetch-Mode", fetch[0])
					req.Header.Set("Sec-Fetch-Site", fetch[1])
				}
				return e.Do(req)
			}
			// Refused: the other origin always, the application's when it is not allowed.
			refused := []string{corsOther}
			if tc.origins == nil {
				refused = append(refused, corsApp)
			}
			if slices.Contains(tc.origins, "*") {
				refused = nil
			}
			for _, origin := range refused {
				for _, site := range []string{"cross-site", "same-site"} {
					tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil)
					testutil.WantError(t, get(tok, origin, "cors", site), http.StatusForbidden, "origin not allowed")
					// Still unused: the recipient's API client gets the file.
					if r := get(tok, ""); r.StatusCode != http.StatusOK || string(r.Body) != string(content) {
						t.Fatalf("the token after a refused fetch from %s (%s): %d %q", origin, site, r.StatusCode, r.Body)
					}
				}
			}
			// Served: an allowed origin's fetch, and what is no cross-origin fetch.
			allowed := [][3]string{
				{corsOther, "no-cors", "cross-site"},  // no fetch that a page reads
				{corsOther, "navigate", "cross-site"}, // a navigation: the person sees the answer
				{corsOther, "cors", "same-origin"},    // the browser says it is the service's own origin
				{corsOther, "", ""},                   // no browser's fetch metadata: an API client
			}
			if tc.origins != nil {
				allowed = append(allowed, [3]string{corsApp, "cors", "cross-site"})
			}
			if slices.Contains(tc.origins, "*") {
				allowed = append(allowed, [3]string{corsOther, "cors", "cross-site"})
			}
			for _, a := range allowed {
				tok := sessCreateToken(t, e, sessAlice, s.ID, f.ID, nil)
				var fetch []string
				if a[1] != "" {
					fetch = []string{a[1], a[2]}
				}
				if r := get(tok, a[0], fetch...); r.StatusCode != http.StatusOK || string(r.Body) != string(content) {
					t.Fatalf("GET from %s (Sec-Fetch-Mode %q, Sec-Fetch-Site %q): %d %q", a[0], a[1], a[2], r.StatusCode, r.Body)
				}
			}
		})
	}
}
