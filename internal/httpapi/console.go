package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"fileshare/internal/console"
)

// The sender's console (package console) is mounted here, at /console, with what it borrows
// of the API: the error answers, the JSON reader, and the creation of resumable uploads. Its
// cookie is limited to /console, so the API's routes never see it and keep Basic Auth alone.

// consolePrefix is the path of the console's routes.
const consolePrefix = "/console"

func (h *handlers) mountConsole(e *gin.Engine, cs *console.Console) {
	cs.Mount(e.Group(consolePrefix), console.API{
		Fail:     h.fail,
		Respond:  respondError,
		Note:     func(c *gin.Context, msg string) { c.Set(errorKey, msg) },
		BindJSON: bindJSON,
	})
	// The console's uploads: a resumable upload created by the signed-in user (a simple
	// upload, or the content of a file entry of the tenant), exactly as POST /tus with Basic
	// Auth creates it; its upload URL (/tus/{id}) is then a capability that needs no cookie.
	e.POST(consolePrefix+"/tus", h.tusProtocol, h.consoleSignedIn(cs), h.transfer(upload), h.tusCreate)
}

// consoleSignedIn lets a request in with the console's session (and its CSRF token and
// origin) as the principal that tusCreate would otherwise take from Basic Auth.
func (h *handlers) consoleSignedIn(cs *console.Console) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := cs.Authorize(c)
		if !ok {
			return
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

// skipConsole runs the CORS middleware on every route but the console's: the console is
// served to its own origin only, and no other origin may read what it answers with the
// user's cookie, not even one that FILESHARE_CORS_ORIGINS lists for the API.
func skipConsole(m gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if p := c.Request.URL.Path; p == consolePrefix || strings.HasPrefix(p, consolePrefix+"/") {
			if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
				// A preflight for the console comes from another origin: nothing is allowed.
				c.AbortWithStatus(http.StatusForbidden)
			}
			return
		}
		m(c)
	}
}
