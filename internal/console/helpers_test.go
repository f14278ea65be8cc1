package console_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"fileshare/internal/testutil"
)

const (
	alice   = "alice@acme"
	alicePW = "alice's password"
	bob     = "bob@other"
	bobPW   = "bob's password"
)

// visitor is a browser as the console sees it: its cookie, the CSRF token of its pages, and
// its Origin; it follows no redirect, so that each answer can be looked at.
type visitor struct {
	t      *testing.T
	e      *testutil.Env
	client *http.Client
	origin string
	cookie string
	csrf   string
}

func newVisitor(t *testing.T, e *testutil.Env) *visitor {
	return &visitor{t: t, e: e, origin: e.URL, client: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// send sends a request with the visitor's cookie (when it has one) and headers.
func (v *visitor) send(method, path string, body io.Reader, header map[string]string) *testutil.Response {
	v.t.Helper()
	req, err := http.NewRequest(method, v.e.URL+path, body)
	if err != nil {
		v.t.Fatal(err)
	}
	if v.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "fileshare_console", Value: v.cookie})
	}
	for k, val := range header {
		if val != "" {
			req.Header.Set(k, val)
		}
	}
	resp, err := v.client.Do(req)
	if err != nil {
		v.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		v.t.Fatal(err)
	}
	return &testutil.Response{Response: resp, Body: b}
}

// form posts a form from the console's own origin.
func (v *visitor) form(path string, fields url.Values) *testutil.Response {
	v.t.Helper()
	return v.send(http.MethodPost, path, strings.NewReader(fields.Encode()), map[string]string{
		"Content-Type": "application/x-www-form-urlencoded", "Origin": v.origin,
	})
}

// sessionCookie is the console's cookie that an answer sets, or nil.
func sessionCookie(r *testutil.Response) *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == "fileshare_console" {
			return c
		}
	}
	return nil
}

// signIn signs in with the form and keeps the cookie and the home page's CSRF token.
func (v *visitor) signIn(login, password string) {
	v.t.Helper()
	r := v.form("/console/signin", url.Values{"login": {login}, "password": {password}})
	c := sessionCookie(r)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/console/" || c == nil {
		v.t.Fatalf("sign in as %s: %d %s, cookie %v: %.300s", login, r.StatusCode, r.Header.Get("Location"), c, r.Body)
	}
	v.cookie = c.Value
	v.csrf = v.pageCSRF(v.page("/console/"))
}

var csrfMeta = regexp.MustCompile(`<meta name="fileshare-csrf" content="([^"]+)">`)

func (v *visitor) pageCSRF(r *testutil.Response) string {
	v.t.Helper()
	m := csrfMeta.FindSubmatch(r.Body)
	if m == nil {
		v.t.Fatalf("no CSRF token in the page: %.300s", r.Body)
	}
	return string(m[1])
}

// page loads a console page, which must answer 200 with HTML.
func (v *visitor) page(path string) *testutil.Response {
	v.t.Helper()
	r := v.send(http.MethodGet, path, nil, nil)
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		v.t.Fatalf("GET %s: %d %s %.300s", path, r.StatusCode, r.Header.Get("Content-Type"), r.Body)
	}
	return r
}

// call sends a console API call as the console's script does: the CSRF header, the origin, a
// JSON body.
func (v *visitor) call(method, path string, body any) *testutil.Response {
	v.t.Helper()
	return v.callWith(method, path, body, map[string]string{"X-Fileshare-Csrf": v.csrf, "Origin": v.origin})
}

func (v *visitor) callWith(method, path string, body any, header map[string]string) *testutil.Response {
	v.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			v.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
		header["Content-Type"] = "application/json"
	}
	return v.send(method, "/console/api"+path, rd, header)
}

// signedIn reports whether the visitor's cookie still opens the console: its home page, and
// an API call.
func (v *visitor) signedIn() bool {
	v.t.Helper()
	home := v.send(http.MethodGet, "/console/", nil, nil)
	usage := v.callWith(http.MethodGet, "/usage", nil, map[string]string{"X-Fileshare-Csrf": v.csrf, "Origin": v.e.URL})
	switch {
	case home.StatusCode == http.StatusOK && usage.StatusCode == http.StatusOK:
		return true
	case home.StatusCode == http.StatusSeeOther && home.Header.Get("Location") == "/console/signin" &&
		usage.StatusCode == http.StatusUnauthorized:
		if usage.Header.Get("WWW-Authenticate") != "" {
			v.t.Fatalf("the console's 401 asks for Basic Auth: the browser would prompt for a password")
		}
		return false
	}
	v.t.Fatalf("home %d, usage %d %s", home.StatusCode, usage.StatusCode, usage.Body)
	return false
}

type sessionAnswer struct {
	ID string `json:"id"`
}

type linkAnswer struct {
	Ref   string `json:"ref"`
	Label string `json:"label"`
	URL   string `json:"url"`
	PIN   string `json:"pin"`
	QR    string `json:"qr"`
}

type linkState struct {
	Ref   string `json:"ref"`
	Label string `json:"label"`
	PIN   bool   `json:"pin"`
	State string `json:"state"`
}

type sessionState struct {
	Files []struct {
		ID    string      `json:"id"`
		State string      `json:"state"`
		Links []linkState `json:"links"`
	} `json:"files"`
	Usage struct {
		Bytes int64 `json:"bytes"`
	} `json:"usage"`
}
