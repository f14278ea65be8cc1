package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"fileshare/internal/share"
	"fileshare/internal/store"
)

// The console's pages are html/template files and its scripts and styles embedded files,
// served from /console/static/ under a name that carries their digest, so that a browser may
// keep them (no resource comes from anywhere else). tus.min.js is tus-js-client's browser
// bundle as its npm package ships it, with its licence beside it.

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/console.css assets/console.js assets/vendor/tus.min.js assets/vendor/tus.min.js.LICENSE
var assetFS embed.FS

// asset is an embedded file as it is served.
type asset struct {
	body        []byte
	contentType string
	version     string
}

type assetSet map[string]asset

func loadAssets() (assetSet, error) {
	set := assetSet{}
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		ct := "text/plain; charset=utf-8"
		switch path.Ext(p) {
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		}
		sum := sha256.Sum256(b)
		set[path.Base(p)] = asset{body: b, contentType: ct, version: hex.EncodeToString(sum[:6])}
		return nil
	})
	return set, err
}

// asset answers GET /console/static/{name}: a versioned URL may be kept for a year.
func (cs *Console) asset(c *gin.Context) {
	a, ok := cs.assets[c.Param("name")]
	if !ok {
		cs.api.Respond(c, http.StatusNotFound, "not found")
		return
	}
	if c.Query("v") == a.version {
		c.Header("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		c.Header("Cache-Control", "no-cache")
	}
	c.Data(http.StatusOK, a.contentType, a.body)
}

// pageData is what a page's template shows.
type pageData struct {
	Title string
	// Page names the page for its script (body data-page).
	Page string
	// Error is what went wrong, shown with role="alert".
	Error string
	// Login is the login the sign-in form keeps after a failure.
	Login string
	// User is the signed-in login, and CSRF its session's token.
	User, CSRF string
	// Message is the text of a message page.
	Message     string
	UploadTTLs  []ttlChoice
	SessionTTLs []ttlChoice
	Sessions    []share.Session
	Session     *share.Session
	Usage       *usageView
}

// pageNames are the pages, each a template file on top of layout.html.
var pageNames = []string{"signin", "home", "session", "message"}

func (cs *Console) parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"asset": func(name string) (string, error) {
			a, ok := cs.assets[name]
			if !ok {
				return "", fmt.Errorf("no asset %q", name)
			}
			return cs.path("/static/" + name + "?v=" + a.version), nil
		},
		"base": func() string { return cs.path("") },
		"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"iso":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"short": func(s fmt.Stringer) string {
			return s.String()[:8]
		},
	}
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// render writes a page; the template runs into a buffer first, so that a failure answers a
// clean error rather than half a page.
func (cs *Console) render(c *gin.Context, status int, name string, d pageData) {
	if d.Page == "" {
		d.Page = name
	}
	var b bytes.Buffer
	if err := cs.pages[name].Execute(&b, d); err != nil {
		cs.log.Error("console page", "page", name, "err", err)
		cs.api.Respond(c, http.StatusInternalServerError, "internal server error")
		return
	}
	c.Data(status, "text/html; charset=utf-8", b.Bytes())
}

// messagePage answers a page that says what happened.
func (cs *Console) messagePage(c *gin.Context, status int, title, msg string) {
	d := pageData{Title: title, Message: msg}
	if s, ok, _ := cs.session(c); ok {
		d.User, d.CSRF = s.p.Login, s.csrf
	}
	cs.render(c, status, "message", d)
}

// errorPage answers a page for err: a refusal of the share service with its status and text,
// the database's absence with 503, anything else with 500 (never the error's text).
func (cs *Console) errorPage(c *gin.Context, err error) {
	status, msg := http.StatusInternalServerError, "Something went wrong on the server. Try again later."
	switch {
	case errors.Is(err, share.ErrSessionNotFound):
		status, msg = http.StatusNotFound, "There is no such session."
	case errors.Is(err, share.ErrSessionExpired):
		status, msg = http.StatusGone, "This session has expired."
	case errors.Is(err, store.ErrUnavailable):
		status, msg = http.StatusServiceUnavailable, "The service cannot reach its database just now. Try again in a moment."
		c.Header("Retry-After", "5")
	default:
		cs.log.Error("console", "path", c.FullPath(), "err", err)
	}
	cs.api.Note(c, strings.ToLower(http.StatusText(status)))
	cs.messagePage(c, status, http.StatusText(status), msg)
}

func (cs *Console) home(c *gin.Context, s signedIn) {
	ctx := c.Request.Context()
	sessions, _, err := cs.svc.ListSessions(ctx, s.p, maxListed, nil)
	if err != nil {
		cs.errorPage(c, err)
		return
	}
	u, err := cs.svc.Usage(ctx, s.p)
	if err != nil {
		cs.errorPage(c, err)
		return
	}
	cs.render(c, http.StatusOK, "home", pageData{
		Title: "Send files", User: s.p.Login, CSRF: s.csrf, UploadTTLs: cs.uploadTTLs, SessionTTLs: cs.sessTTLs,
		Sessions: sessions, Usage: toUsageView(u),
	})
}

func (cs *Console) sessionPage(c *gin.Context, s signedIn) {
	sid, ok := parseID(c.Param("sid"))
	if !ok {
		cs.errorPage(c, share.ErrSessionNotFound)
		return
	}
	sess, err := cs.svc.GetSession(c.Request.Context(), s.p, sid)
	if err != nil {
		cs.errorPage(c, err)
		return
	}
	cs.render(c, http.StatusOK, "session", pageData{
		Title: "Session " + sess.ID.String()[:8], User: s.p.Login, CSRF: s.csrf, Session: &sess,
	})
}
