package httpapi

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"fileshare/internal/blob"
	"fileshare/internal/share"
)

const (
	// maxParts bounds how many multipart parts one upload may carry.
	maxParts = 16
	// maxFieldBytes bounds a non-file form field.
	maxFieldBytes = 1024
	// multipartOverhead is what the body may carry beyond the file itself.
	multipartOverhead = 1 << 20
)

var (
	errMalformed   = errors.New(msgMalformedBody)
	errOneFile     = errors.New(msgOneFile)
	errTooMany     = errors.New(msgTooManyParts)
	errFieldTooBig = errors.New(msgFieldTooLarge)
)

func init() {
	for _, e := range []error{errMalformed, errOneFile, errTooMany, errFieldTooBig} {
		statusOf[e] = http.StatusBadRequest
	}
}

// multipartReader is http.Request.MultipartReader with a large read buffer under it: the
// multipart parser reads in 4 KiB steps, which would otherwise each be a system call.
func multipartReader(r *http.Request) (*multipart.Reader, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "multipart/form-data" && mt != "multipart/mixed") || params["boundary"] == "" {
		return nil, http.ErrNotMultipart
	}
	return multipart.NewReader(bufio.NewReaderSize(r.Body, bodyBuffer), params["boundary"]), nil
}

// bodyBuffer is the read buffer under a multipart body.
const bodyBuffer = 256 << 10

// multipartFile streams the "file" part of a multipart body into the blob store and collects
// the other fields. Whatever it stored is discarded again on error.
func (h *handlers) multipartFile(c *gin.Context, kind string, limit int64, errOver error) (*share.StoredBlob, string, string, map[string]string, error) {
	mr, err := multipartReader(c.Request)
	if err != nil {
		return nil, "", "", nil, share.ErrFileRequired
	}
	var (
		stored      *share.StoredBlob
		name, ctype string
		fields      = map[string]string{}
	)
	fail := func(err error) (*share.StoredBlob, string, string, map[string]string, error) {
		if stored != nil {
			h.svc.Discard(c.Request.Context(), stored.Key)
		}
		return nil, "", "", nil, err
	}
	for i := 0; ; i++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(bodyErr(err))
		}
		if i >= maxParts {
			part.Close()
			return fail(errTooMany)
		}
		switch part.FormName() {
		case "file":
			if stored != nil {
				return fail(errOneFile)
			}
			b, err := h.svc.PutBlob(c.Request.Context(), kind, part, limit, errOver)
			if err != nil {
				return fail(bodyErr(err))
			}
			stored = &b
			name = share.SanitizeName(part.FileName())
			if name == "" {
				name = "file"
			}
			ctype = share.NormalizeContentType(part.Header.Get("Content-Type"), name)
		default:
			v, err := readField(part)
			if err != nil {
				return fail(err)
			}
			fields[part.FormName()] = v
		}
		part.Close()
	}
	if stored == nil {
		return fail(share.ErrFileRequired)
	}
	return stored, name, ctype, fields, nil
}

func readField(p *multipart.Part) (string, error) {
	b, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
	if err != nil {
		return "", bodyErr(err)
	}
	if len(b) > maxFieldBytes {
		return "", errFieldTooBig
	}
	return string(b), nil
}

// bodyErr keeps the errors a handler answers specifically and calls the rest a malformed body
// (a truncated or garbled multipart stream, or a client that went away).
func bodyErr(err error) error {
	for known := range statusOf {
		if errors.Is(err, known) {
			return err
		}
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return share.ErrTooLarge
	}
	var storage *blob.StorageError
	if errors.As(err, &storage) || errors.Is(err, context.Canceled) {
		return err
	}
	return errMalformed
}

// parseTTL reads a ttl against the configured maximum.
func (h *handlers) parseTTL(s string) (int64, error) {
	return ParseTTL(s, int64(h.svc.Limits().MaxTTL/time.Second))
}

// ParseTTL reads a ttl in whole seconds: ASCII digits only (no sign, space or exponent),
// 1 … maxSeconds. Anything else is share.ErrInvalidTTL.
func ParseTTL(s string, maxSeconds int64) (int64, error) {
	if s == "" || len(s) > 19 {
		return 0, share.ErrInvalidTTL
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, share.ErrInvalidTTL
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > maxSeconds {
		return 0, share.ErrInvalidTTL
	}
	return n, nil
}

type uploadJSON struct {
	ID          uuid.UUID `json:"id"`
	Name        string    `json:"name"`
	Size        int64     `json:"size"`
	ContentType string    `json:"contentType"`
	SHA256      string    `json:"sha256"`
	CreatedAt   time.Time `json:"createdAt"`
	ExpiresAt   time.Time `json:"expiresAt"`
	URL         string    `json:"url"`
}

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

// parseID accepts only the 36-character form of a UUID (hex digits of either case); on
// refusal the id is uuid.Nil.
func parseID(s string) (uuid.UUID, bool) {
	if len(s) != 36 {
		return uuid.UUID{}, false
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.UUID{}, false
	}
	return id, true
}
