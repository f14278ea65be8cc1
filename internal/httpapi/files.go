package httpapi

import (
	"encoding/json"
	"errors"
	"fileshare/internal/share"
	"io"
	"mime"
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
	c.JSON(http.StatusCreated, gin.H{
		"url":       h.baseURL(c) + "/sessions/" + u.SessionID.String() + "/files/" + u.FileID.String() + "?token=" + u.Token,
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

// putFile stores a file entry's content from the raw body or a multipart "file" part, with
// Basic Auth or an upload URL's token.
func (h *handlers) putFile(c *gin.Context) {
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
	sid, ok1 := parseID(c.Param("sid"))
	fid, ok2 := parseID(c.Param("fid"))
	if !ok1 || !ok2 {
		h.fail(c, share.ErrFileNotFound)
		return
	}
	limit := h.svc.Limits().MaxUploadBytes
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit+multipartOverhead)
	body := io.Reader(c.Request.Body)
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt == "multipart/form-data" {
		pr, err := firstFilePart(c)
		if err != nil {
			h.fail(c, err)
			return
		}
		body = pr
	}
	rec := &readErrRecorder{r: body}
	f, err := h.svc.PutFile(c.Request.Context(), who, sid, fid, rec)
	if err != nil {
		// Only a failure to read the body is the client's malformed body; the rest (a bad
		// upload token, an unreachable database) keeps its own answer.
		if rec.err != nil && errors.Is(err, rec.err) {
			err = bodyErr(err)
		}
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toFileJSON(f))
}

// readErrRecorder remembers the error that reading the request body failed with.
type readErrRecorder struct {
	r   io.Reader
	err error
}

func (r *readErrRecorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

func (h *handlers) deleteFile(c *gin.Context) {
	sid, ok1 := parseID(c.Param("sid"))
	fid, ok2 := parseID(c.Param("fid"))
	if !ok1 {
		h.fail(c, share.ErrSessionNotFound)
		return
	}
	if !ok2 {
		h.fail(c, share.ErrFileNotFound)
		return
	}
	if err := h.svc.DeleteFile(c.Request.Context(), principal(c), sid, fid); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
