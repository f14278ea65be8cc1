package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"fileshare/internal/share"
	"fileshare/internal/webhook"
)

// createWebhookBody is the body of POST /webhooks.
type createWebhookBody struct {
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

type webhookJSON struct {
	ID             uuid.UUID  `json:"id"`
	URL            string     `json:"url"`
	Events         []string   `json:"events"`
	CreatedBy      string     `json:"createdBy"`
	CreatedAt      time.Time  `json:"createdAt"`
	Enabled        bool       `json:"enabled"`
	DisabledAt     *time.Time `json:"disabledAt"`
	DisabledReason *string    `json:"disabledReason"`
	// PreviousSecretExpiresAt is set while a rotation's overlap runs.
	PreviousSecretExpiresAt *time.Time `json:"previousSecretExpiresAt"`
	// Secret is there only in the creation answer.
	Secret string `json:"secret,omitempty"`
}

func toWebhookJSON(w webhook.Webhook) webhookJSON {
	events := w.Events
	if events == nil {
		events = []string{}
	}
	out := webhookJSON{ID: w.ID, URL: w.URL, Events: events, CreatedBy: w.CreatedBy, CreatedAt: w.CreatedAt.UTC(),
		Enabled: w.Enabled, DisabledAt: utc(w.DisabledAt), PreviousSecretExpiresAt: utc(w.PreviousSecretExpiresAt)}
	if !w.Enabled {
		out.DisabledReason = &w.DisabledReason
	}
	return out
}

// utc is t in UTC; nil stays nil.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

type webhookAttemptJSON struct {
	EventID     uuid.UUID `json:"eventId"`
	Type        string    `json:"type"`
	Attempt     int       `json:"attempt"`
	StatusCode  *int      `json:"statusCode"`
	Error       *string   `json:"error"`
	AttemptedAt time.Time `json:"attemptedAt"`
	DurationMs  int       `json:"durationMs"`
}

func (h *handlers) createWebhook(c *gin.Context) {
	var b createWebhookBody
	if err := bindJSON(c, &b); err != nil {
		h.fail(c, err)
		return
	}
	p := principal(c)
	w, err := h.webhooks.Create(c.Request.Context(), p.TenantID, p.Login, b.URL, b.Events)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := toWebhookJSON(w.Webhook)
	out.Secret = w.Secret
	c.Header("Location", h.baseURL(c)+"/webhooks/"+w.ID.String())
	c.JSON(http.StatusCreated, out)
}

func (h *handlers) listWebhooks(c *gin.Context) {
	limit, after, err := page(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	list, next, err := h.webhooks.List(c.Request.Context(), principal(c).TenantID, limit, webhookCursor(after))
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]webhookJSON, len(list))
	for i, w := range list {
		out[i] = toWebhookJSON(w)
	}
	h.setNextLink(c, "/webhooks", limit, shareCursor(next))
	c.JSON(http.StatusOK, out)
}

func (h *handlers) getWebhook(c *gin.Context) {
	id, ok := parseID(c.Param("id"))
	if !ok {
		h.fail(c, webhook.ErrNotFound)
		return
	}
	w, err := h.webhooks.Get(c.Request.Context(), principal(c).TenantID, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toWebhookJSON(w))
}

func (h *handlers) deleteWebhook(c *gin.Context) {
	id, ok := parseID(c.Param("id"))
	if !ok {
		h.fail(c, webhook.ErrNotFound)
		return
	}
	if err := h.webhooks.Delete(c.Request.Context(), principal(c).TenantID, id); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *handlers) listWebhookDeliveries(c *gin.Context) {
	id, ok := parseID(c.Param("id"))
	if !ok {
		h.fail(c, webhook.ErrNotFound)
		return
	}
	limit, after, err := page(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	list, next, err := h.webhooks.Attempts(c.Request.Context(), principal(c).TenantID, id, limit, webhookCursor(after))
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]webhookAttemptJSON, len(list))
	for i, a := range list {
		out[i] = webhookAttemptJSON{EventID: a.EventID, Type: a.Type, Attempt: a.Attempt, AttemptedAt: a.At.UTC(), DurationMs: a.DurationMs}
		if a.StatusCode != 0 {
			out[i].StatusCode = &a.StatusCode
		}
		if a.Error != "" {
			out[i].Error = &a.Error
		}
	}
	h.setNextLink(c, "/webhooks/"+id.String()+"/deliveries", limit, shareCursor(next))
	c.JSON(http.StatusOK, out)
}

// The page cursors of the webhook lists have the form of every other list's.
func webhookCursor(c *share.Cursor) *webhook.Cursor {
	if c == nil {
		return nil
	}
	return &webhook.Cursor{At: c.CreatedAt, ID: c.ID}
}

func shareCursor(c *webhook.Cursor) *share.Cursor {
	if c == nil {
		return nil
	}
	return &share.Cursor{CreatedAt: c.At, ID: c.ID}
}
