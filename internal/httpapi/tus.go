package httpapi

import (
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"fileshare/internal/share"
)

// The tus 1.0.0 resumable upload protocol (docs/behaviour.md §11), with the creation,
// creation-with-upload, termination and expiration extensions. The protocol is parsed here;
// what an upload is and when it becomes visible is share's (share/tus.go).

const (
	tusVersion     = "1.0.0"
	tusExtensions  = "creation,creation-with-upload,termination,expiration"
	tusContentType = "application/offset+octet-stream"
	// maxTusMetadata bounds the Upload-Metadata a client may send (and gets back on HEAD).
	maxTusMetadata = 4 << 10
)

var (
	errTusVersion     = errors.New("unsupported tus version")
	errTusLength      = errors.New("invalid upload length")
	errTusMetadata    = errors.New("invalid upload metadata")
	errTusOffset      = errors.New("invalid upload offset")
	errTusContentType = errors.New("invalid content type")
)

// tusProtocol answers every /tus request with Tus-Resumable, and refuses a request that does
// not speak tus 1.0.0 (OPTIONS, the discovery, needs not say).
func (h *handlers) tusProtocol(c *gin.Context) {
	c.Header("Tus-Resumable", tusVersion)
	if c.Request.Method != http.MethodOptions && c.GetHeader("Tus-Resumable") != tusVersion {
		c.Header("Tus-Version", tusVersion)
		h.fail(c, errTusVersion)
		return
	}
	c.Next()
}

// tusOptions answers OPTIONS /tus: what this server supports.
func (h *handlers) tusOptions(c *gin.Context) {
	c.Header("Tus-Version", tusVersion)
	c.Header("Tus-Extension", tusExtensions)
	c.Header("Tus-Max-Size", strconv.FormatInt(h.svc.Limits().MaxUploadBytes, 10))
	c.Status(http.StatusNoContent)
}

// tusCreate answers POST /tus: a new upload, and with creation-with-upload its first bytes.
func (h *handlers) tusCreate(c *gin.Context) {
	ctx := c.Request.Context()
	if c.GetHeader("Upload-Defer-Length") != "" {
		h.fail(c, errTusLength) // creation-defer-length is not offered
		return
	}
	length, ok := parseCount(c.GetHeader("Upload-Length"))
	if !ok {
		h.fail(c, errTusLength)
		return
	}
	raw := c.GetHeader("Upload-Metadata")
	meta, err := parseTusMetadata(raw)
	if err != nil {
		h.fail(c, err)
		return
	}
	in := share.NewTus{Length: length, Metadata: meta.withoutToken()}
	who := share.Uploader{Addr: clientAddr(c)}
	sidText, hasSid := meta.get("sessionId")
	fidText, hasFid := meta.get("fileId")
	switch {
	case hasSid != hasFid:
		h.fail(c, errTusMetadata)
		return
	case hasSid:
		sid, ok1 := parseID(sidText)
		fid, ok2 := parseID(fidText)
		if !ok1 || !ok2 {
			h.fail(c, share.ErrFileNotFound)
			return
		}
		in.File = &share.TusFile{SessionID: sid, FileID: fid}
		if tok, ok := meta.get("token"); ok {
			who.UploadToken = tok
			break
		}
		fallthrough
	default:
		p, ok := h.principalOrAuthenticate(c)
		if !ok {
			return
		}
		who.Principal = &p
	}
	if in.File == nil {
		name, _ := meta.get("filename")
		if in.Upload.Name = share.SanitizeName(name); in.Upload.Name == "" {
			in.Upload.Name = "file"
		}
		ct, ok := meta.get("filetype")
		if !ok {
			ct, _ = meta.get("contentType")
		}
		in.Upload.ContentType = share.NormalizeContentType(ct, in.Upload.Name)
		if v, ok := meta.get("ttl"); ok {
			if in.Upload.TTLSeconds, err = h.parseTTL(v); err != nil {
				h.fail(c, err)
				return
			}
		}
	}
	withBody := c.GetHeader("Content-Type") == tusContentType && c.Request.ContentLength != 0
	var digests share.Digests
	if withBody {
		if c.Request.ContentLength > length {
			h.fail(c, share.ErrTusLengthExceeded)
			return
		}
		if digests, err = share.ParseContentDigest(c.GetHeader("Content-Digest")); err != nil {
			h.fail(c, err)
			return
		}
	}
	up, err := h.svc.CreateTus(ctx, who, in)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Location", h.baseURL(c)+"/tus/"+up.ID.String())
	if withBody || length == 0 {
		body := &recordingBody{r: c.Request.Body}
		if !withBody {
			body.r = http.NoBody
		}
		up, err = h.svc.AppendTus(ctx, up.ID, share.TusChunk{
			Offset: 0, Body: body, Length: c.Request.ContentLength, Digests: digests, Addr: who.Addr, Stop: stopBody(c),
		})
		if err != nil {
			// Nobody can resume an upload whose creation answer did not arrive: it goes.
			if terr := h.svc.TerminateTus(ctx, up.ID); terr != nil && !errors.Is(terr, share.ErrUploadNotFound) {
				h.log.Warn("removing a failed tus creation failed; the purge removes it when it expires", "err", terr)
			}
			// The upload is gone: its URL must not be handed out.
			c.Writer.Header().Del("Location")
			h.failTus(c, body, err)
			return
		}
	}
	h.tusState(c, up)
	c.Status(http.StatusCreated)
}

// tusHead answers HEAD /tus/{id}: how far the upload is.
func (h *handlers) tusHead(c *gin.Context) {
	id, ok := parseID(c.Param("id"))
	if !ok {
		h.fail(c, share.ErrUploadNotFound)
		return
	}
	up, err := h.svc.GetTus(c.Request.Context(), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Upload-Length", strconv.FormatInt(up.Length, 10))
	if up.Metadata != "" {
		c.Header("Upload-Metadata", up.Metadata)
	}
	h.tusState(c, up)
	c.Status(http.StatusOK)
}

// tusPatch answers PATCH /tus/{id}: more bytes, at the offset the upload has reached.
func (h *handlers) tusPatch(c *gin.Context) {
	id, ok := parseID(c.Param("id"))
	if !ok {
		h.fail(c, share.ErrUploadNotFound)
		return
	}
	if c.GetHeader("Content-Type") != tusContentType {
		h.fail(c, errTusContentType)
		return
	}
	offset, ok := parseCount(c.GetHeader("Upload-Offset"))
	if !ok {
		h.fail(c, errTusOffset)
		return
	}
	digests, err := share.ParseContentDigest(c.GetHeader("Content-Digest"))
	if err != nil {
		h.fail(c, err)
		return
	}
	body := &recordingBody{r: c.Request.Body}
	up, err := h.svc.AppendTus(c.Request.Context(), id, share.TusChunk{
		Offset: offset, Body: body, Length: c.Request.ContentLength, Digests: digests, Addr: clientAddr(c), Stop: stopBody(c),
	})
	if err != nil {
		h.failTus(c, body, err)
		return
	}
	h.tusState(c, up)
	c.Status(http.StatusNoContent)
}

// tusTerminate answers DELETE /tus/{id}.
func (h *handlers) tusTerminate(c *gin.Context) {
	id, ok := parseID(c.Param("id"))
	if !ok {
		h.fail(c, share.ErrUploadNotFound)
		return
	}
	if err := h.svc.TerminateTus(c.Request.Context(), id); err != nil {
		h.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// tusOverride serves POST /tus/{id} with X-HTTP-Method-Override, for clients that cannot send
// PATCH or DELETE.
func (h *handlers) tusOverride(c *gin.Context) {
	switch strings.ToUpper(c.GetHeader("X-HTTP-Method-Override")) {
	case http.MethodPatch:
		h.tusPatch(c)
	case http.MethodDelete:
		h.tusTerminate(c)
	default:
		respondError(c, http.StatusMethodNotAllowed, msgMethodNotAllowed)
	}
}

// tusState writes the headers that say where an upload stands; once a simple upload is
// complete, Fileshare-Upload-Url is its download URL (the tus URL never downloads anything).
func (h *handlers) tusState(c *gin.Context, up share.TusUpload) {
	c.Header("Upload-Offset", strconv.FormatInt(up.Offset, 10))
	if !up.Completed {
		c.Header("Upload-Expires", up.ExpiresAt.UTC().Format(http.TimeFormat))
	}
	if up.UploadID != nil {
		c.Header("Fileshare-Upload-Url", h.baseURL(c)+"/uploads/"+up.UploadID.String())
	}
}

// failTus answers an error of an append: one of the body (the client went away, or stalled)
// as such, any other as itself.
func (h *handlers) failTus(c *gin.Context, body *recordingBody, err error) {
	if body.err != nil && errors.Is(err, body.err) {
		err = bodyErr(err)
	}
	h.fail(c, err)
}

// stopBody is what stops the reading of the request's body (guardedBody.stop), or nil when it
// has none.
func stopBody(c *gin.Context) func() {
	if b, ok := c.Get(bodyKey); ok {
		return b.(*guardedBody).stop
	}
	return nil
}

// recordingBody remembers the error its reader ended with, other than io.EOF.
type recordingBody struct {
	r   io.Reader
	err error
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// parseCount reads Upload-Length and Upload-Offset: ASCII digits only, within int64.
func parseCount(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// tusMetadata is an Upload-Metadata field: key and base64 value pairs, in the client's order.
type tusMetadata []tusPair

type tusPair struct {
	key, encoded, value string
}

// parseTusMetadata reads "key base64,key base64,key": keys non-empty, unique, without spaces
// or commas; values standard base64 (possibly absent: empty).
func parseTusMetadata(field string) (tusMetadata, error) {
	if len(field) > maxTusMetadata {
		return nil, errTusMetadata
	}
	var m tusMetadata
	if strings.TrimSpace(field) == "" {
		return m, nil
	}
	for _, item := range strings.Split(field, ",") {
		parts := strings.Fields(item)
		if len(parts) == 0 || len(parts) > 2 {
			return nil, errTusMetadata
		}
		p := tusPair{key: parts[0]}
		for i := 0; i < len(p.key); i++ {
			if p.key[i] <= ' ' || p.key[i] > '~' {
				return nil, errTusMetadata
			}
		}
		if _, dup := m.get(p.key); dup {
			return nil, errTusMetadata
		}
		if len(parts) == 2 {
			b, err := base64.StdEncoding.DecodeString(parts[1])
			if err != nil {
				return nil, errTusMetadata
			}
			p.encoded, p.value = parts[1], string(b)
		}
		m = append(m, p)
	}
	return m, nil
}

func (m tusMetadata) get(key string) (string, bool) {
	for _, p := range m {
		if p.key == key {
			return p.value, true
		}
	}
	return "", false
}

// withoutToken is the field to keep and return on HEAD: the upload token is a secret.
func (m tusMetadata) withoutToken() string {
	var parts []string
	for _, p := range m {
		switch {
		case p.key == "token":
		case p.encoded == "":
			parts = append(parts, p.key)
		default:
			parts = append(parts, p.key+" "+p.encoded)
		}
	}
	return strings.Join(parts, ",")
}
