package httpapi

import (
	"errors"
	"fileshare/internal/share"
	"net/http"

	"github.com/gin-gonic/gin"
)

func (h *handlers) createToken(c *gin.Context) {
	sid, fid, ok := h.sessionFileIDs(c, share.ErrSessionNotFound, share.ErrFileNotFound)
	if !ok {
		return
	}
	ttl, err := h.optionalTTL(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	t, err := h.svc.CreateToken(c.Request.Context(), principal(c), sid, fid, ttl)
	if err != nil {
		h.fail(c, err)
		return
	}
	url := h.baseURL(c) + "/sessions/" + sid.String() + "/files/" + fid.String() + "/tokens/" + t.Token
	c.JSON(http.StatusCreated, tokenJSON{
		ID: t.Token, FileID: t.FileID, SessionID: t.SessionID, URL: url, CreatedAt: t.CreatedAt.UTC(), ExpiresAt: t.ExpiresAt.UTC(),
	})
}

// downloadToken serves a one-time token: GET consumes it, HEAD only looks.
func (h *handlers) downloadToken(c *gin.Context) {
	sid, fid, ok := h.sessionFileIDs(c, share.ErrTokenNotFound, share.ErrTokenNotFound)
	if !ok {
		return
	}
	// A token works once, so its download is always the whole file: a Range or conditional
	// request would otherwise spend the token on a part, a 304 or a 412.
	for _, hdr := range []string{"Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		c.Request.Header.Del(hdr)
	}
	var (
		d   *share.Download
		err error
	)
	if c.Request.Method == http.MethodHead {
		d, err = h.svc.PeekToken(c.Request.Context(), sid, fid, c.Param("token"))
	} else {
		d, err = h.svc.ConsumeToken(c.Request.Context(), sid, fid, c.Param("token"), clientAddr(c))
		h.metrics.TokenOutcomes.WithLabelValues(tokenOutcome(err)).Inc()
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.serveFile(c, d, true)
}

// tokenOutcome names the result of a one-time download for the metrics.
func tokenOutcome(err error) string {
	switch {
	case err == nil:
		return "consumed"
	case errors.Is(err, share.ErrTokenUsed):
		return "already_used"
	case errors.Is(err, share.ErrTokenExpired), errors.Is(err, share.ErrSessionExpired):
		return "expired"
	case errors.Is(err, share.ErrTokenNotFound), errors.Is(err, share.ErrFileNotFound):
		return "not_found"
	case errors.Is(err, share.ErrNotUploadedYet):
		return "not_uploaded"
	}
	return "error"
}
