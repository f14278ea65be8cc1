package httpapi

import (
	"bufio"
	"context"
	"errors"
	"fileshare/internal/blob"
	"fileshare/internal/share"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/gin-gonic/gin"
)

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
	if _, _, ok := statusOf(err); ok {
		return err
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
