// Package console is the sender's console in the browser (docs/behaviour.md §15): a tenant's
// user signs in with a form, uploads files with a progress bar through tus, makes sessions and
// one-time links (with PINs, labels and QR codes) and watches them being viewed and delivered.
// It is mounted by the API's router at /console and works through the same share service, with
// the same rules (tenant scoping, quotas, one-time tokens); it only adds the way in: a signed-in
// session in an HttpOnly cookie instead of Basic Auth, with a CSRF token on every request that
// reads or changes anything.
package console

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"fileshare/internal/auth"
	"fileshare/internal/share"
	"fileshare/internal/store"
)

// Deps are what the console needs.
type Deps struct {
	Service *share.Service
	Authn   *auth.Authenticator
	Store   *store.Store
	Log     *slog.Logger
	// PublicURL is the base of absolute URLs (FILESHARE_PUBLIC_URL); empty means from the
	// request. Its scheme decides the cookie's Secure flag and its origin the Origin check.
	PublicURL string
	// SessionTTL is how long a sign-in lasts; DefaultSessionTTL when 0.
	SessionTTL time.Duration
}

// DefaultSessionTTL is how long a sign-in lasts: a working day.
const DefaultSessionTTL = 12 * time.Hour

// maxSessionsPerUser bounds a user's signed-in sessions; a new sign-in ends the oldest.
const maxSessionsPerUser = 20

// Console serves the console's pages, assets and JSON calls.
type Console struct {
	svc       *share.Service
	authn     *auth.Authenticator
	st        *store.Store
	log       *slog.Logger
	publicURL string
	// origin is the public URL's origin, which a state-changing request's Origin must be;
	// empty without a public URL (then it is the origin the request was sent to).
	origin     string
	secureOnly bool
	// prefix is the path of the public URL ("" or "/rtc/fileshare"): the console's pages link
	// to prefix + "/console/…", as the browser sees them.
	prefix     string
	sessionTTL time.Duration
	pages      map[string]*template.Template
	assets     assetSet
	uploadTTLs []ttlChoice
	sessTTLs   []ttlChoice
	api        API
}

// API is what the API's router lends the console: its ways of answering an error (the status
// table, the error line of the log) and of reading a JSON body (strictly, bounded).
type API struct {
	// Fail answers err as the API does.
	Fail func(c *gin.Context, err error)
	// Respond answers {"message": msg} with status.
	Respond func(c *gin.Context, status int, msg string)
	// Note records msg as the message of a refusal answered with a page, for the error line.
	Note func(c *gin.Context, msg string)
	// BindJSON reads a JSON body into v as the API reads its own.
	BindJSON func(c *gin.Context, v any) error
}

// New returns the console.
func New(d Deps) (*Console, error) {
	c := &Console{
		svc: d.Service, authn: d.Authn, st: d.Store, log: d.Log,
		publicURL: strings.TrimRight(d.PublicURL, "/"), sessionTTL: d.SessionTTL,
	}
	if c.sessionTTL <= 0 {
		c.sessionTTL = DefaultSessionTTL
	}
	if c.publicURL != "" {
		u, err := url.Parse(c.publicURL)
		if err != nil {
			return nil, err
		}
		c.secureOnly = u.Scheme == "https"
		c.prefix = strings.TrimRight(u.Path, "/")
		c.origin = originOf(u)
	}
	var err error
	if c.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if c.pages, err = c.parsePages(); err != nil {
		return nil, err
	}
	lim := d.Service.Limits()
	c.uploadTTLs = ttlChoices(lim.MaxTTL, lim.UploadTTL, hour, day, week, month)
	c.sessTTLs = ttlChoices(lim.MaxTTL, lim.SessionTTL, day, week, month)
	return c, nil
}

// Mount registers the console's routes on r, the group of /console. The route that creates
// resumable uploads (/console/tus) is the API router's own, behind Authorize.
func (cs *Console) Mount(r *gin.RouterGroup, api API) {
	cs.api = api
	r.Use(securityHeaders)
	r.GET("", func(c *gin.Context) { c.Redirect(http.StatusPermanentRedirect, cs.path("/")) })
	r.GET("/", cs.page(cs.home))
	r.GET("/signin", cs.signInPage)
	r.POST("/signin", cs.signIn)
	r.POST("/signout", cs.signOut)
	r.GET("/sessions/:sid", cs.page(cs.sessionPage))
	r.GET("/static/:name", cs.asset)

	a := r.Group("/api", cs.requireJSON)
	a.GET("/usage", cs.usage)
	a.POST("/sessions", cs.createSession)
	a.GET("/sessions/:sid", cs.sessionState)
	a.DELETE("/sessions/:sid", cs.deleteSession)
	a.POST("/sessions/:sid/files", cs.createFile)
	a.DELETE("/sessions/:sid/files/:fid", cs.deleteFile)
	a.POST("/sessions/:sid/files/:fid/links", cs.createLinks)
	a.DELETE("/sessions/:sid/files/:fid/links/:ref", cs.revokeLink)
}

// path is a console path as the browser sees it.
func (cs *Console) path(p string) string { return cs.prefix + "/console" + p }

// baseURL is the base of the service's absolute URLs (the API's, for links).
func (cs *Console) baseURL(c *gin.Context) string {
	if cs.publicURL != "" {
		return cs.publicURL
	}
	return requestOrigin(c.Request)
}

// requestOrigin is the origin the request was sent to, as a browser names it.
func requestOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// pageCSP lets a console page run the console's own scripts and styles and nothing else: no
// inline script or style, no resource of another host, no frame around it.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// securityHeaders marks every console answer: the CSP, no sniffing, no caching of what a
// signed-in user sees, no referrer to other origins. (Not no-referrer: with it browsers send
// "Origin: null" on the console's own form posts and fetches, which the origin check needs.)
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	c.Next()
}

// errCSRF and errOrigin refuse a request that may have been forged by another site.
var (
	errCSRF   = errors.New("csrf token missing or wrong")
	errOrigin = errors.New("origin not allowed")
)

// Time choices of the console's forms.
const (
	hour  = time.Hour
	day   = 24 * time.Hour
	week  = 7 * day
	month = 30 * day
)

// ttlChoice is an option of a lifetime list.
type ttlChoice struct {
	Seconds  int64
	Label    string
	Selected bool
}

// ttlChoices are the choices up to maxTTL, with the default (def) selected: it is added when
// it is none of the usual ones.
func ttlChoices(maxTTL, def time.Duration, usual ...time.Duration) []ttlChoice {
	var out []ttlChoice
	added := false
	for _, d := range usual {
		if def < d && !added {
			out = append(out, ttlChoice{Seconds: int64(def / time.Second), Label: humanDuration(def), Selected: true})
			added = true
		}
		if d > maxTTL {
			break
		}
		if d == def {
			added = true
		}
		out = append(out, ttlChoice{Seconds: int64(d / time.Second), Label: humanDuration(d), Selected: d == def})
	}
	if !added {
		out = append(out, ttlChoice{Seconds: int64(def / time.Second), Label: humanDuration(def), Selected: true})
	}
	return out
}

// allowed reports whether seconds is one of the choices.
func allowed(choices []ttlChoice, seconds int64) bool {
	for _, c := range choices {
		if c.Seconds == seconds {
			return true
		}
	}
	return false
}
