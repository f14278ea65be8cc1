// Package httpapi is the HTTP face of fileshare: the route table, thin handlers that parse,
// call the share service and render, and the middleware for logging and authentication.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"fileshare/api"
	"fileshare/internal/auth"
	"fileshare/internal/console"
	"fileshare/internal/metrics"
	"fileshare/internal/share"
	"fileshare/internal/webhook"
)

// Deps are what the handlers need.
type Deps struct {
	Service *share.Service
	Authn   *auth.Authenticator
	Log     *slog.Logger
	Metrics *metrics.Metrics
	// Ready reports whether the database and blob store can serve requests.
	Ready func(ctx context.Context) error
	// PublicURL is the base of absolute URLs in answers; empty means from the request.
	PublicURL string
	// TrustedProxies are the CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string
	// CORSOrigins are the origins whose browser applications may use the API ("*": any,
	// without credentials); none sends no CORS header.
	CORSOrigins []string
	// BodyIdleTimeout and BodyMinRate (bytes/s) cut uploads that stall or trickle.
	BodyIdleTimeout time.Duration
	BodyMinRate     int64
	// Webhooks manages the tenants' webhook endpoints.
	Webhooks *webhook.Service
	// Console is the sender's console in the browser, served at /console; nil when it is
	// off (FILESHARE_CONSOLE=false).
	Console *console.Console
}

type handlers struct {
	svc         *share.Service
	authn       *auth.Authenticator
	log         *slog.Logger
	metrics     *metrics.Metrics
	ready       func(ctx context.Context) error
	publicURL   string
	bodyIdle    time.Duration
	bodyMinRate int64
	webhooks    *webhook.Service
	corsOrigins []string
}

// New returns the router.
func New(d Deps) (*gin.Engine, error) {
	h := &handlers{svc: d.Service, authn: d.Authn, log: d.Log, metrics: d.Metrics, ready: d.Ready, publicURL: strings.TrimRight(d.PublicURL, "/"),
		bodyIdle: d.BodyIdleTimeout, bodyMinRate: d.BodyMinRate, webhooks: d.Webhooks, corsOrigins: d.CORSOrigins}
	if h.bodyIdle <= 0 {
		h.bodyIdle = 30 * time.Second
	}
	e := gin.New()
	if err := e.SetTrustedProxies(d.TrustedProxies); err != nil {
		return nil, err
	}
	e.RemoteIPHeaders = []string{"X-Forwarded-For"}
	e.ForwardedByClientIP = true
	e.ContextWithFallback = true
	e.RedirectTrailingSlash = false
	// Route on the path as sent, so that an encoded slash (%2F) stays a character of its
	// segment instead of acting as a separator: /uploads%2F{id} is no route. Parameters are
	// still unescaped, so an id with other encoded characters works as before.
	e.UseRawPath = true
	e.UnescapePathValues = true
	e.HandleMethodNotAllowed = true
	e.Use(requestID, h.accessLog, gin.CustomRecovery(h.recovery))
	if m := corsMiddleware(d.CORSOrigins); m != nil {
		e.Use(skipConsole(m))
	}
	e.Use(h.guardBody)
	e.NoRoute(func(c *gin.Context) { respondError(c, http.StatusNotFound, msgNotFound) })
	e.NoMethod(func(c *gin.Context) { respondError(c, http.StatusMethodNotAllowed, msgMethodNotAllowed) })

	// Operations.
	e.GET("/healthz", h.healthz)
	e.GET("/readyz", h.readyz)
	e.GET("/metrics", gin.WrapH(d.Metrics.Handler()))
	e.GET("/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", api.OpenAPI) })

	// Simple uploads: the id in the URL is the capability for downloads.
	e.POST("/uploads", h.requireAuth, h.transfer(upload), h.createUpload)
	e.GET("/uploads/:id", h.transfer(download), h.downloadUpload)
	e.HEAD("/uploads/:id", h.downloadUpload)
	e.DELETE("/uploads/:id", h.requireAuth, h.deleteUpload)

	// The tenant's usage and quota.
	e.GET("/usage", h.requireAuth, h.usage)

	// Sessions. POST /sessions/:sid takes a file id (docs/behaviour.md §4: upload URLs).
	e.POST("/sessions", h.requireAuth, h.createSession)
	e.GET("/sessions", h.requireAuth, h.listSessions)
	e.GET("/sessions/:sid", h.requireAuth, h.getSession)
	e.DELETE("/sessions/:sid", h.requireAuth, h.deleteSession)
	e.POST("/sessions/:sid", h.requireAuth, h.createUploadURL)
	e.POST("/sessions/:sid/files", h.requireAuth, h.createFile)
	e.GET("/sessions/:sid/files", h.requireAuth, h.listFiles)
	e.GET("/sessions/:sid/files/:fid", h.requireAuth, h.getFile)
	e.PUT("/sessions/:sid/files/:fid", h.transfer(upload), h.putFile) // Basic Auth or ?token=
	e.DELETE("/sessions/:sid/files/:fid", h.requireAuth, h.deleteFile)
	e.POST("/sessions/:sid/files/:fid/tokens", h.requireAuth, h.createToken)
	e.GET("/sessions/:sid/files/:fid/tokens", h.requireAuth, h.listTokens)
	// A token link: no credentials, the token is the capability. DELETE takes a token's ref.
	e.GET("/sessions/:sid/files/:fid/tokens/:token", h.transfer(download), h.tokenLink)
	e.POST("/sessions/:sid/files/:fid/tokens/:token", h.transfer(download), h.tokenLink)
	e.HEAD("/sessions/:sid/files/:fid/tokens/:token", h.tokenLink)
	e.DELETE("/sessions/:sid/files/:fid/tokens/:token", h.requireAuth, h.revokeToken)

	// Webhooks (docs/behaviour.md §10).
	e.POST("/webhooks", h.requireAuth, h.createWebhook)
	e.GET("/webhooks", h.requireAuth, h.listWebhooks)
	e.GET("/webhooks/:id", h.requireAuth, h.getWebhook)
	e.DELETE("/webhooks/:id", h.requireAuth, h.deleteWebhook)
	e.PATCH("/webhooks/:id", h.requireAuth, h.patchWebhook)
	e.GET("/webhooks/:id/deliveries", h.requireAuth, h.listWebhookDeliveries)
	e.POST("/webhooks/:id/deliveries/:eventId/retry", h.requireAuth, h.retryWebhookDelivery)
	e.POST("/webhooks/:id/test", h.requireAuth, h.testWebhook)
	e.POST("/webhooks/:id/rotate-secret", h.requireAuth, h.rotateWebhookSecret)

	// Resumable uploads (tus, docs/behaviour.md §11): creating one needs Basic Auth, or a file
	// entry's upload token in its metadata; the upload URL /tus/{id} is then the capability.
	tus := e.Group("/tus", h.tusProtocol)
	tus.OPTIONS("", h.tusOptions)
	tus.POST("", h.transfer(upload), h.tusCreate)
	tus.HEAD("/:id", h.tusHead)
	tus.PATCH("/:id", h.transfer(upload), h.tusPatch)
	tus.DELETE("/:id", h.tusTerminate)
	tus.POST("/:id", h.transfer(upload), h.tusOverride)

	if d.Console != nil {
		h.mountConsole(e, d.Console)
	}
	return e, nil
}

func (h *handlers) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (h *handlers) readyz(c *gin.Context) {
	if err := h.ready(c.Request.Context()); err != nil {
		h.log.Warn("not ready", "err", err)
		c.Header("Retry-After", retryAfterUnavailable)
		respondError(c, http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
