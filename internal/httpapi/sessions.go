package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"fileshare/internal/share"
)

func (h *handlers) createSession(c *gin.Context) {
	ttl, err := h.optionalTTL(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	s, err := h.svc.CreateSession(c.Request.Context(), principal(c), ttl)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Location", h.baseURL(c)+"/sessions/"+s.ID.String())
	c.JSON(http.StatusCreated, toSessionJSON(s))
}

func (h *handlers) listSessions(c *gin.Context) {
	limit, after, err := page(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	list, next, err := h.svc.ListSessions(c.Request.Context(), principal(c), limit, after)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]sessionJSON, len(list))
	for i, s := range list {
		out[i] = toSessionJSON(s)
	}
	h.setNextLink(c, "/sessions", limit, next)
	c.JSON(http.StatusOK, out)
}

func (h *handlers) getSession(c *gin.Context) {
	sid, ok := parseID(c.Param("sid"))
	if !ok {
		h.fail(c, share.ErrSessionNotFound)
		return
	}
	s, err := h.svc.GetSession(c.Request.Context(), principal(c), sid)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toSessionJSON(s))
}

func (h *handlers) deleteSession(c *gin.Context) {
	sid, ok := parseID(c.Param("sid"))
	if !ok {
		h.fail(c, share.ErrSessionNotFound)
		return
	}
	if err := h.svc.DeleteSession(c.Request.Context(), principal(c), sid); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
