package httpapi

import (
	"encoding/hex"
	"net/http"

	"github.com/gin-gonic/gin"

	"fileshare/internal/blob"
	"fileshare/internal/share"
)

func (h *handlers) createUpload(c *gin.Context) {
	ctx := c.Request.Context()
	quota := share.QuotaOf(principal(c))
	limit, _ := quota.FileLimit(h.svc.Limits().MaxUploadBytes, share.ErrTooLarge)
	if c.Request.ContentLength > limit+multipartOverhead {
		h.fail(c, share.ErrTooLarge) // refused before a byte is read
		return
	}
	digests, err := share.ParseContentDigest(c.GetHeader("Content-Digest"))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit+multipartOverhead)
	form, err := openForm(c.Request)
	if err != nil {
		h.fail(c, err)
		return
	}
	defer form.close()
	file, sum512 := digests.Watch(form.file)
	content, err := h.svc.Stage(ctx, blob.KindUpload, file, -1, limit, share.ErrTooLarge, quota)
	if err != nil {
		h.fail(c, bodyErr(err))
		return
	}
	defer content.Discard(ctx)
	if err := form.finish(); err != nil {
		h.fail(c, err)
		return
	}
	if err := digests.Check(content, sum512); err != nil {
		h.fail(c, err)
		return
	}
	var ttl int64
	if v, ok := form.fields["ttl"]; ok {
		if ttl, err = h.parseTTL(v); err != nil {
			h.fail(c, err)
			return
		}
	}
	up, err := h.svc.CreateUpload(ctx, principal(c), content, share.NewUpload{
		Name: form.name, ContentType: form.contentType, TTLSeconds: ttl,
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
	d, err := h.svc.OpenUpload(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	h.serveFile(c, d, false)
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

type usageJSON struct {
	Bytes        int64 `json:"bytes"`
	MaxBytes     int64 `json:"maxBytes"`
	MaxFileBytes int64 `json:"maxFileBytes"`
	Uploads      int64 `json:"uploads"`
	Sessions     int64 `json:"sessions"`
	Files        int64 `json:"files"`
}

// usage answers GET /usage: the caller's tenant's bytes, limits and counts.
func (h *handlers) usage(c *gin.Context) {
	u, err := h.svc.Usage(c.Request.Context(), principal(c))
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, usageJSON{Bytes: u.Bytes, MaxBytes: u.MaxBytes, MaxFileBytes: u.MaxFileBytes, Uploads: u.Uploads, Sessions: u.Sessions, Files: u.Files})
}
