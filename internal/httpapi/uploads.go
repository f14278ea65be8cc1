package httpapi

import (
	"encoding/hex"
	"net/http"

	"github.com/gin-gonic/gin"

	"fileshare/internal/share"
)

func (h *handlers) createUpload(c *gin.Context) {
	limit := h.svc.Limits().MaxUploadBytes
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit+multipartOverhead)
	stored, name, ctype, fields, err := h.multipartFile(c, "u", limit, share.ErrTooLarge)
	if err != nil {
		h.fail(c, err)
		return
	}
	var ttl int64
	if v, ok := fields["ttl"]; ok {
		if ttl, err = h.parseTTL(v); err != nil {
			h.svc.Discard(c.Request.Context(), stored.Key)
			h.fail(c, err)
			return
		}
	}
	up, err := h.svc.CreateUpload(c.Request.Context(), principal(c), share.NewUpload{
		Blob: *stored, Name: name, ContentType: ctype, TTLSeconds: ttl,
	})
	if err != nil {
		h.fail(c, err)
		return
	}
	url := h.baseURL(c) + "/uploads/" + up.ID.String()
	c.Header("Location", url)
	c.JSON(http.StatusCreated, uploadJSON{
		ID: up.ID, Name: up.FileMeta.Name, Size: up.FileMeta.Size, ContentType: up.FileMeta.ContentType,
		SHA256: hex.EncodeToString(up.FileMeta.SHA256), CreatedAt: up.CreatedAt.UTC(), ExpiresAt: up.ExpiresAt.UTC(), URL: url,
	})
}

func (h *handlers) downloadUpload(c *gin.Context) {
	id, ok := parseID(c.Param("id"))
	if !ok {
		h.fail(c, share.ErrUploadNotFound)
		return
	}
	meta, obj, err := h.svc.OpenUpload(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.serveFile(c, meta, obj, false)
}

func (h *handlers) deleteUpload(c *gin.Context) {
	id, ok := parseID(c.Param("id"))
	if !ok {
		h.fail(c, share.ErrUploadNotFound)
		return
	}
	if err := h.svc.DeleteUpload(c.Request.Context(), principal(c), id); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
