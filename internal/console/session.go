package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"fileshare/internal/auth"
	"fileshare/internal/store"
)

// A signed-in session is 32 random bytes in an HttpOnly, SameSite=Strict cookie limited to the
// console's path (so it never reaches the API's routes, which keep Basic Auth alone), Secure
// when the console is served over TLS. The database keeps its SHA-256 and the user, and finds
// the user again on every request: disabling, deleting, a new password or a revoked
// application password ends it at once, like sign-out and its expiry.
//
// Every request that reads or changes anything through the console's JSON calls, and every form
// it posts, carries the session's CSRF token (a header, or a hidden field) and, from a browser,
// an Origin that is the console's own. The token is derived from the session id, so it needs no
// storage and names no other session; it is useless without the cookie, and the cookie cannot
// be read from it.

const (
	cookieName = "fileshare_console"
	csrfHeader = "X-Fileshare-Csrf"
	csrfField  = "csrf"
	userKey    = "fileshare.console.user"
	// maxFormBody bounds the sign-in and sign-out forms.
	maxFormBody = 16 << 10
)

// signedIn is the user of a request's live session.
type signedIn struct {
	p    auth.Principal
	csrf string
	id   string
}

// sessionID makes a new random session id.
func sessionID() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

// csrfToken is the session's CSRF token: a one-way function of its id, distinct from its hash.
func csrfToken(id string) string {
	h := sha256.Sum256([]byte("fileshare console csrf\x00" + id))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// session finds the live session of the request's cookie; ok is false when there is none
// (no cookie, or one that has ended). An error is the database's.
func (cs *Console) session(c *gin.Context) (signedIn, bool, error) {
	if v, ok := c.Get(userKey); ok {
		return v.(signedIn), true, nil
	}
	ck, err := c.Request.Cookie(cookieName)
	if err != nil || len(ck.Value) != 43 {
		return signedIn{}, false, nil
	}
	u, err := cs.st.ConsoleSessions().Lookup(c.Request.Context(), hashID(ck.Value))
	if errors.Is(err, store.ErrNotFound) {
		return signedIn{}, false, nil
	}
	if err != nil {
		return signedIn{}, false, err
	}
	s := signedIn{
		p: auth.Principal{
			UserID: u.UserID, TenantID: u.TenantID, Login: u.UserName + "@" + u.Tenant,
			Quota: auth.Quota{MaxBytes: u.MaxBytes, MaxFileBytes: u.MaxFileBytes}, AppPasswordID: u.AppPasswordID,
		},
		csrf: csrfToken(ck.Value), id: ck.Value,
	}
	c.Set(userKey, s)
	return s, true, nil
}

// sameOrigin reports whether a state-changing request comes from the console's own pages: its
// Origin is the console's (the public URL's, or the one the request was sent to). A request
// without Origin passes only when the browser says it is same-origin (Sec-Fetch-Site); a
// request with neither is refused — browsers send one of them on every POST and DELETE.
func (cs *Console) sameOrigin(c *gin.Context) bool {
	want := cs.origin
	if want == "" {
		want = requestOrigin(c.Request)
	}
	if o := c.GetHeader("Origin"); o != "" {
		return o == want
	}
	return c.GetHeader("Sec-Fetch-Site") == "same-origin"
}

// originOf is the origin of an absolute URL as a browser writes it in Origin: scheme://host,
// with the port only when it is not the scheme's default, in lower case.
func originOf(u *url.URL) string {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" && !(u.Scheme == "http" && port == "80") && !(u.Scheme == "https" && port == "443") {
		host += ":" + port
	}
	return strings.ToLower(u.Scheme) + "://" + host
}

// checkCSRF compares the request's token, from the header or the form field, with the
// session's, in constant time.
func checkCSRF(s signedIn, got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) == 1
}

// Authorize is the way in for the console's own calls of the API router (the creation of a
// resumable upload at /console/tus): a live session, the CSRF header and the console's origin.
// It answers the refusal itself (401 or 403, JSON, without a Basic Auth challenge that would
// make the browser ask for a password) and then returns false.
func (cs *Console) Authorize(c *gin.Context) (auth.Principal, bool) {
	s, ok := cs.authorizeJSON(c)
	return s.p, ok
}

// requireJSON guards the console's JSON calls (see Authorize).
func (cs *Console) requireJSON(c *gin.Context) {
	if _, ok := cs.authorizeJSON(c); ok {
		c.Next()
	}
}

func (cs *Console) authorizeJSON(c *gin.Context) (signedIn, bool) {
	s, ok, err := cs.session(c)
	switch {
	case err != nil:
		cs.api.Fail(c, err)
		return signedIn{}, false
	case !ok:
		cs.api.Respond(c, http.StatusUnauthorized, "unauthorized")
		return signedIn{}, false
	case !cs.sameOrigin(c):
		cs.api.Respond(c, http.StatusForbidden, errOrigin.Error())
		return signedIn{}, false
	case !checkCSRF(s, c.GetHeader(csrfHeader)):
		cs.api.Respond(c, http.StatusForbidden, errCSRF.Error())
		return signedIn{}, false
	}
	return s, true
}

// page wraps a page's handler: without a live session the browser goes to the sign-in page.
func (cs *Console) page(h func(c *gin.Context, s signedIn)) gin.HandlerFunc {
	return func(c *gin.Context) {
		s, ok, err := cs.session(c)
		if err != nil {
			cs.errorPage(c, err)
			return
		}
		if !ok {
			c.Redirect(http.StatusSeeOther, cs.path("/signin"))
			return
		}
		h(c, s)
	}
}

func (cs *Console) signInPage(c *gin.Context) {
	if _, ok, _ := cs.session(c); ok {
		c.Redirect(http.StatusSeeOther, cs.path("/"))
		return
	}
	cs.render(c, http.StatusOK, "signin", pageData{Title: "Sign in"})
}

// signIn checks the form's login and password (or application password) through the
// authenticator, so that its throttling (docs/behaviour.md §1.4) applies to the form as to
// Basic Auth, and starts a session.
func (cs *Console) signIn(c *gin.Context) {
	if !cs.sameOrigin(c) {
		// A sign-in forged by another site would sign the victim in as the forger.
		cs.render(c, http.StatusForbidden, "signin", pageData{Title: "Sign in", Error: "This form must be sent from the console's own page."})
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxFormBody)
	if err := c.Request.ParseForm(); err != nil {
		cs.render(c, http.StatusBadRequest, "signin", pageData{Title: "Sign in", Error: "The form could not be read."})
		return
	}
	login := c.Request.PostForm.Get("login")
	p, err := cs.authn.Authenticate(c.Request.Context(), login, c.Request.PostForm.Get("password"), c.ClientIP())
	var throttled *auth.ThrottledError
	switch {
	case errors.As(err, &throttled):
		wait := max(1, int(throttled.RetryAfter.Seconds()+0.999))
		c.Header("Retry-After", strconv.Itoa(wait))
		cs.api.Note(c, "too many failed login attempts")
		cs.render(c, http.StatusTooManyRequests, "signin", pageData{Title: "Sign in", Login: login,
			Error: "Too many failed sign-ins. Try again in " + strconv.Itoa(wait) + " seconds."})
		return
	case errors.Is(err, auth.ErrUnauthorized):
		cs.api.Note(c, "unauthorized")
		cs.render(c, http.StatusUnauthorized, "signin", pageData{Title: "Sign in", Login: login, Error: "Wrong login or password."})
		return
	case err != nil:
		cs.errorPage(c, err)
		return
	}
	id, err := sessionID()
	if err != nil {
		cs.errorPage(c, err)
		return
	}
	if _, err := cs.st.ConsoleSessions().Create(c.Request.Context(), store.NewConsoleSession{
		IDHash: hashID(id), UserID: p.UserID, AppPasswordID: p.AppPasswordID, TTL: cs.sessionTTL, MaxPerUser: maxSessionsPerUser,
	}); err != nil {
		cs.errorPage(c, err)
		return
	}
	cs.setCookie(c, id, cs.sessionTTL)
	c.Redirect(http.StatusSeeOther, cs.path("/"))
}

// signOut ends the session (the form's CSRF field and the origin are checked first, so that
// no other site can sign the user out) and clears the cookie.
func (cs *Console) signOut(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxFormBody)
	s, ok, err := cs.session(c)
	switch {
	case err != nil:
		cs.errorPage(c, err)
		return
	case !ok:
		cs.setCookie(c, "", -1)
		c.Redirect(http.StatusSeeOther, cs.path("/signin"))
		return
	case !cs.sameOrigin(c) || c.Request.ParseForm() != nil || !checkCSRF(s, c.Request.PostForm.Get(csrfField)):
		cs.api.Note(c, errCSRF.Error())
		cs.messagePage(c, http.StatusForbidden, "Not signed out", "This form must be sent from the console's own page.")
		return
	}
	if err := cs.st.ConsoleSessions().Delete(c.Request.Context(), hashID(s.id)); err != nil {
		cs.errorPage(c, err)
		return
	}
	cs.setCookie(c, "", -1)
	c.Redirect(http.StatusSeeOther, cs.path("/signin"))
}

// setCookie sets the session cookie for ttl (a negative ttl deletes it).
func (cs *Console) setCookie(c *gin.Context, id string, ttl time.Duration) {
	ck := &http.Cookie{
		Name: cookieName, Value: id, Path: cs.path("/"), HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: cs.secureOnly || c.Request.TLS != nil,
	}
	if ttl < 0 {
		ck.MaxAge = -1
	} else {
		ck.MaxAge = int(ttl / time.Second)
	}
	http.SetCookie(c.Writer, ck)
}
