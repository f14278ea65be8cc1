package httpapi

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"fileshare/internal/blob"
	"fileshare/internal/share"
)

// maxJSONBody bounds the JSON bodies of the session routes.
const maxJSONBody = 64 << 10

var errInvalidJSON = errors.New(msgInvalidJSON)

var errInvalidLimit = errors.New(msgInvalidLimit)

func init() {
	statusOf[errInvalidJSON] = http.StatusBadRequest
	statusOf[errInvalidLimit] = http.StatusBadRequest
}

type sessionJSON struct {
	ID        uuid.UUID `json:"id"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	CreatedBy string    `json:"createdBy"`
	FileCount int64     `json:"fileCount"`
}

func toSessionJSON(s share.Session) sessionJSON {
	return sessionJSON{ID: s.ID, CreatedAt: s.CreatedAt.UTC(), ExpiresAt: s.ExpiresAt.UTC(), CreatedBy: s.CreatedBy, FileCount: s.FileCount}
}

type fileJSON struct {
	ID          uuid.UUID `json:"id"`
	SessionID   uuid.UUID `json:"sessionId"`
	Name        string    `json:"name"`
	ContentType string    `json:"contentType"`
	Size        *int64    `json:"size"`
	SHA256      *string   `json:"sha256"`
	State       string    `json:"state"`
	CreatedAt   time.Time `json:"createdAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
}

func toFileJSON(f share.File) fileJSON {
	out := fileJSON{
		ID: f.ID, SessionID: f.SessionID, Name: f.Name, ContentType: f.ContentType, Size: f.Size,
		State: f.State, CreatedAt: f.CreatedAt.UTC(), ExpiresAt: f.ExpiresAt.UTC(),
	}
	if f.SHA256 != nil {
		s := hex.EncodeToString(f.SHA256)
		out.SHA256 = &s
	}
	return out
}

// ttlBody is the optional JSON body {"ttl": seconds} of several routes.
type ttlBody struct {
	TTL *json.Number `json:"ttl"`
}

// bindJSON decodes an optional JSON body into v; an empty body leaves v as it is.
func bindJSON(c *gin.Context, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxJSONBody))
	if err != nil {
		return errInvalidJSON
	}
	if len(body) == 0 {
		return nil
	}
	if ct := c.GetHeader("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && mt != "text/plain" && mt != "application/x-www-form-urlencoded") {
			// curl -d sends form-urlencoded by default; accept it as long as the body is JSON.
			return errInvalidJSON
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errInvalidJSON
	}
	if dec.More() {
		return errInvalidJSON
	}
	return nil
}

// optionalTTL reads {"ttl": seconds} from the body: 0 when absent.
func (h *handlers) optionalTTL(c *gin.Context) (int64, error) {
	var b ttlBody
	if err := bindJSON(c, &b); err != nil {
		return 0, err
	}
	if b.TTL == nil {
		return 0, nil
	}
	return h.parseTTL(b.TTL.String())
}

// page reads ?limit= and ?after=.
func page(c *gin.Context) (int, *share.Cursor, error) {
	limit := 100
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return 0, nil, errInvalidLimit
		}
		limit = n
	}
	var after *share.Cursor
	if v, ok := c.GetQuery("after"); ok {
		cur, err := share.ParseCursor(v)
		if err != nil {
			return 0, nil, err
		}
		after = &cur
	}
	return limit, after, nil
}

// setNextLink adds the Link header of the next page.
func (h *handlers) setNextLink(c *gin.Context, path string, limit int, next *share.Cursor) {
	if next == nil {
		return
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}, "after": {next.String()}}
	c.Header("Link", "<"+h.baseURL(c)+path+"?"+q.Encode()+`>; rel="next"`)
}

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

// firstFilePart returns the "file" part of a multipart body, skipping small fields before it.
func firstFilePart(c *gin.Context) (io.Reader, error) {
	mr, err := multipartReader(c.Request)
	if err != nil {
		return nil, errMalformed
	}
	for i := 0; i < maxParts; i++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			return nil, share.ErrFileRequired
		}
		if err != nil {
			return nil, bodyErr(err)
		}
		if part.FormName() == "file" {
			return part, nil
		}
		if _, err := readField(part); err != nil {
			return nil, err
		}
	}
	return nil, errTooMany
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

type tokenJSON struct {
	ID        string    `json:"id"`
	FileID    uuid.UUID `json:"fileId"`
	SessionID uuid.UUID `json:"sessionId"`
	URL       string    `json:"url"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

func (h *handlers) createToken(c *gin.Context) {
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
	sid, ok1 := parseID(c.Param("sid"))
	fid, ok2 := parseID(c.Param("fid"))
	if !ok1 || !ok2 {
		h.fail(c, share.ErrTokenNotFound)
		return
	}
	// A token works once, so its download is always the whole file: a Range or conditional
	// request would otherwise spend the token on a part, a 304 or a 412.
	for _, hdr := range []string{"Range", "If-Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		c.Request.Header.Del(hdr)
	}
	var (
		meta share.FileMeta
		obj  blob.Object
		err  error
	)
	if c.Request.Method == http.MethodHead {
		meta, obj, err = h.svc.PeekToken(c.Request.Context(), sid, fid, c.Param("token"))
	} else {
		meta, obj, err = h.svc.ConsumeToken(c.Request.Context(), sid, fid, c.Param("token"), clientAddr(c))
		h.metrics.TokenOutcomes.WithLabelValues(tokenOutcome(err)).Inc()
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	h.serveFile(c, meta, obj, true)
}

func clientAddr(c *gin.Context) netip.Addr {
	a, err := netip.ParseAddr(c.ClientIP())
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
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
