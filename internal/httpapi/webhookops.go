package httpapi

// The routes that operate a registered webhook endpoint (docs/behaviour.md §10.7): PATCH,
// a test event, a secret rotation, a delivery sent again.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"fileshare/internal/webhook"
)

// patchWebhookBody is the body of PATCH /webhooks/{id}; a missing or null key changes nothing.
type patchWebhookBody struct {
	URL     *string   `json:"url"`
	Events  *[]string `json:"events"`
	Enabled *bool     `json:"enabled"`
}

// rotateBody is the optional body of POST /webhooks/{id}/rotate-secret.
type rotateBody struct {
	OverlapSeconds *json.Number `json:"overlapSeconds"`
}

type rotatedJSON struct {
	Secret                  string     `json:"secret"`
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt"`
}

// queuedEventJSON answers a route that queued a delivery.
type queuedEventJSON struct {
	EventID uuid.UUID `json:"eventId"`
}

func (h *handlers) patchWebhook(c *gin.Context) {
	id, ok := parseID(c.Param("id"))
	if !ok {
		h.fail(c, webhook.ErrNotFound)
		return
	}
	var b patchWebhookBody
	if err := bindJSON(c, &b); err != nil {
		h.fail(c, err)
		return
	}
	p := principal(c)
	w, err := h.webhooks.Update(c.Request.Context(), p.TenantID, p.Login, id, webhook.Change{URL: b.URL, Events: b.Events, Enabled: b.Enabled})
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toWebhookJSON(w))
}

func (h *handlers) testWebhook(c *gin.Context) {
	id, ok := parseID(c.Param("id"))
	if !ok {
		h.fail(c, webhook.ErrNotFound)
		return
	}
	p := principal(c)
	eventID, err := h.webhooks.SendTest(c.Request.Context(), p.TenantID, p.Login, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, queuedEventJSON{EventID: eventID})
}

func (h *handlers) rotateWebhookSecret(c *gin.Context) {
	id, ok := parseID(c.Param("id"))
	if !ok {
		h.fail(c, webhook.ErrNotFound)
		return
	}
	var b rotateBody
	if err := bindJSON(c, &b); err != nil {
		h.fail(c, err)
		return
	}
	overlap := webhook.DefaultOverlap
	if b.OverlapSeconds != nil {
		n, err := strconv.ParseInt(b.OverlapSeconds.String(), 10, 64)
		if err != nil || n < 0 || n > int64(webhook.MaxOverlap/time.Second) {
			h.fail(c, webhook.ErrInvalidOverlap)
			return
		}
		overlap = time.Duration(n) * time.Second
	}
	r, err := h.webhooks.RotateSecret(c.Request.Context(), principal(c).TenantID, id, overlap)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, rotatedJSON{Secret: r.Secret, PreviousSecretExpiresAt: utc(r.PreviousSecretExpiresAt)})
}

func (h *handlers) retryWebhookDelivery(c *gin.Context) {
	id, ok := parseID(c.Param("id"))
	if !ok {
		h.fail(c, webhook.ErrNotFound)
		return
	}
	// A malformed event id is an unknown one: the endpoint's own 404 comes first, so that it
	// answers for another tenant's endpoint exactly as for an unknown one.
	eventID, _ := parseID(c.Param("eventId"))
	if err := h.webhooks.Retry(c.Request.Context(), principal(c).TenantID, id, eventID); err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, queuedEventJSON{EventID: eventID})
}
