package httpapi

import (
	"encoding/json"
	"fileshare/internal/blob"
	"fileshare/internal/share"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
)

// createUploadURL answers POST /sessions/{fileId}.
func (h *handlers) createUploadURL(c *gin.Context) {
	fid, ok := parseID(c.Param("sid"))
	if !ok {
		h.fail(c, share.ErrFileNotFound)
		return
	}
	ttl, err := h.optionalTTL(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	u, err := h.svc.CreateUploadURL(c.Request.Context(), principal(c), fid, ttl)
	if err != nil {
		h.fail(c, err)
		return
	}
	// The token on its own and the tus creation URL too, so that a browser client (a tus
	// client above all, which sends the token as metadata) needs no URL parsing.
	c.JSON(http.StatusCreated, gin.H{
		"url":       h.baseURL(c) + "/sessions/" + u.SessionID.String() + "/files/" + u.FileID.String() + "?token=" + u.Token,
		"token":     u.Token,
		"tusUrl":    h.baseURL(c) + "/tus",
		"sessionId": u.SessionID,
		"fileId":    u.FileID,
		"expiresAt": u.ExpiresAt.UTC(),
	})
}

type createFileBody struct {
	Name        string       `json:"name"`
	ContentType string       `json:"contentType"`
	Size        *json.Number `json:"size"`
}

func (h *handlers) createFile(c *gin.Context) {
	sid, ok := parseID(c.Param("sid"))
	if !ok {
		h.fail(c, share.ErrSessionNotFound)
		return
	}
	var b createFileBody
	if err := bindJSON(c, &b); err != nil {
		h.fail(c, err)
		return
	}
	in := share.NewFile{Name: b.Name, ContentType: b.ContentType}
	if b.Size != nil {
		n, err := strconv.ParseInt(b.Size.String(), 10, 64)
		if err != nil {
			h.fail(c, share.ErrInvalidSize)
			return
		}
		in.Size = &n
	}
	f, err := h.svc.CreateFile(c.Request.Context(), principal(c), sid, in)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, toFileJSON(f))
}

func (h *handlers) listFiles(c *gin.Context) {
	sid, ok := parseID(c.Param("sid"))
	if !ok {
		h.fail(c, share.ErrSessionNotFound)
		return
	}
	limit, after, err := page(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	list, next, err := h.svc.ListFiles(c.Request.Context(), principal(c), sid, limit, after)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]fileJSON, len(list))
	for i, f := range list {
		out[i] = toFileJSON(f)
	}
	h.setNextLink(c, "/sessions/"+sid.String()+"/files", limit, next)
	c.JSON(http.StatusOK, out)
}

func (h *handlers) getFile(c *gin.Context) {
	sid, fid, ok := h.sessionFileIDs(c, share.ErrSessionNotFound, share.ErrFileNotFound)
	if !ok {
		return
	}
	f, err := h.svc.GetFile(c.Request.Context(), principal(c), sid, fid)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toFileJSON(f))
}

// putFile stores a file entry's content from the raw body or a multipart "file" part, with
// Basic Auth or an upload URL's token. Every refusal that does not need the content comes
// before a byte of the body is read.
func (h *handlers) putFile(c *gin.Context) {
	ctx := c.Request.Context()
	var who share.Uploader
	if tok, ok := c.GetQuery("token"); ok {
		who.UploadToken = tok
	} else {
		p, ok := h.authenticate(c)
		if !ok {
			return
		}
		who.Principal = &p
	}
	who.Addr = clientAddr(c)
	sid, fid, ok := h.sessionFileIDs(c, share.ErrFileNotFound, share.ErrFileNotFound)
	if !ok {
		return
	}
	digests, err := share.ParseContentDigest(c.GetHeader("Content-Digest"))
	if err != nil {
		h.fail(c, err)
		return
	}
	up, err := h.svc.BeginFileUpload(ctx, who, sid, fid)
	if err != nil {
		h.fail(c, err)
		return
	}
	limit, errOver := up.Limit()
	multi := isMultipart(c.Request)
	overhead := int64(0)
	if multi {
		overhead = multipartOverhead
	}
	if c.Request.ContentLength > limit+overhead {
		h.fail(c, errOver)
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit+multipartOverhead)
	body, length := io.Reader(c.Request.Body), c.Request.ContentLength
	var form *uploadForm
	if multi {
		if form, err = openForm(c.Request); err != nil {
			h.fail(c, err)
			return
		}
		defer form.close()
		body, length = form.file, -1
	}
	body, sum512 := digests.Watch(body)
	content, err := h.svc.Stage(ctx, blob.KindFile, body, length, limit, errOver, up.Quota)
	if err != nil {
		h.fail(c, bodyErr(err))
		return
	}
	defer content.Discard(ctx)
	if form != nil {
		if err := form.finish(); err != nil {
			h.fail(c, err)
			return
		}
	}
	if err := digests.Check(content, sum512); err != nil {
		h.fail(c, err)
		return
	}
	f, err := h.svc.FinishFileUpload(ctx, up, content)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toFileJSON(f))
}

func (h *handlers) deleteFile(c *gin.Context) {
	sid, fid, ok := h.sessionFileIDs(c, share.ErrSessionNotFound, share.ErrFileNotFound)
	if !ok {
		return
	}
	if err := h.svc.DeleteFile(c.Request.Context(), principal(c), sid, fid); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
