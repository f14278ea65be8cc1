package httpapi

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
	"github.com/rs/cors"
)

// Cross-origin requests (docs/behaviour.md §15): browser applications on the origins
// FILESHARE_CORS_ORIGINS lists — a WebRTC softphone putting a file through an upload URL, a web
// app running a tus client — use the API directly. The Fetch standard's rules are rs/cors's;
// what is ours is the policy: a listed origin is echoed and may send credentials (Basic Auth
// across origins), "*" allows any origin and never credentials, an origin not listed gets no
// Access-Control-Allow-Origin, and with no origin configured no CORS header is sent at all.

// corsMethods are the methods the API answers.
var corsMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// corsRequestHeaders are the request headers the API reads.
var corsRequestHeaders = []string{
	"Authorization", "Content-Type", "Content-Digest", "Accept", "Accept-Language", "Content-Language",
	"Fileshare-Pin", "If-Range", "Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
	"Want-Repr-Digest", "Want-Content-Digest",
	"Tus-Resumable", "Upload-Length", "Upload-Offset", "Upload-Metadata", "Upload-Defer-Length", "Upload-Concat",
	"X-HTTP-Method-Override", "X-Request-ID", "X-Requested-With",
}

// corsExposedHeaders are the answer headers a client reads.
var corsExposedHeaders = []string{
	"Location", "ETag", "Content-Range", "Content-Disposition", "Content-Length", "Accept-Ranges", "Repr-Digest",
	"Retry-After", "Link", "WWW-Authenticate", "X-Request-ID",
	"Upload-Offset", "Upload-Length", "Upload-Expires", "Upload-Metadata",
	"Tus-Resumable", "Tus-Version", "Tus-Extension", "Tus-Max-Size", "Fileshare-Upload-Url",
}

// corsPreflightMaxAge is how long, in seconds, a browser may keep a preflight's answer.
const corsPreflightMaxAge = 600

// corsMiddleware answers preflights (OPTIONS with Access-Control-Request-Method) on every route
// with 204, and marks every other answer for an allowed origin. It is nil when no origin is
// configured.
func corsMiddleware(origins []string) gin.HandlerFunc {
	if len(origins) == 0 {
		return nil
	}
	opts := cors.Options{
		AllowedMethods:       corsMethods,
		AllowedHeaders:       corsRequestHeaders,
		ExposedHeaders:       corsExposedHeaders,
		MaxAge:               corsPreflightMaxAge,
		OptionsSuccessStatus: http.StatusNoContent,
	}
	if slices.Contains(origins, "*") {
		// Any origin, and so never credentials: a page anywhere must not act with a user's.
		opts.AllowedOrigins = []string{"*"}
	} else {
		opts.AllowedOrigins = origins
		opts.AllowCredentials = true
	}
	c := cors.New(opts)
	return func(ctx *gin.Context) {
		c.HandlerFunc(ctx.Writer, ctx.Request)
		if ctx.Request.Method == http.MethodOptions && ctx.GetHeader("Access-Control-Request-Method") != "" {
			// The preflight is answered (204, written by HandlerFunc), whatever the route.
			ctx.Abort()
		}
	}
}

// unreadableAcrossOrigins reports whether r is a browser's cross-origin fetch (Sec-Fetch-Mode
// cors, Sec-Fetch-Site cross-site or same-site) from an origin that may not read the answer:
// one that FILESHARE_CORS_ORIGINS does not allow. A simple request (a GET, a form POST) has no
// preflight, so the browser sends it and only hides the answer from its page; a request that
// spends something — a one-time token — must then not run at all.
func unreadableAcrossOrigins(r *http.Request, origins []string) bool {
	if r.Header.Get("Sec-Fetch-Mode") != "cors" {
		return false
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "cross-site" && site != "same-site" {
		return false
	}
	origin := r.Header.Get("Origin")
	return origin != "" && !slices.Contains(origins, "*") && !slices.Contains(origins, origin)
}
