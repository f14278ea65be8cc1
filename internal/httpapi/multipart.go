package httpapi

import (
	"bufio"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"fileshare/internal/blob"
	"fileshare/internal/share"
)

// An upload's multipart body (POST /uploads, and PUT of a file entry sent as
// multipart/form-data) follows one rule: exactly one part named "file" carries the content,
// streamed into the blob store as it arrives, its file name and Content-Type kept; any other
// parts are small form fields (at most maxFieldBytes each), before or after it, maxParts parts
// in all. A second "file" part is refused.
const (
	// maxParts bounds how many multipart parts one upload may carry.
	maxParts = 16
	// maxFieldBytes bounds a non-file form field.
	maxFieldBytes = 1024
	// multipartOverhead is what the body may carry beyond the file itself.
	multipartOverhead = 1 << 20
	// bodyBuffer is the read buffer under a multipart body: the multipart parser reads in
	// 4 KiB steps, which would otherwise each be a system call.
	bodyBuffer = 256 << 10
)

var (
	errMalformed   = errors.New(msgMalformedBody)
	errOneFile     = errors.New(msgOneFile)
	errTooMany     = errors.New(msgTooManyParts)
	errFieldTooBig = errors.New(msgFieldTooLarge)
)

// isMultipart reports whether the request says its body is multipart/form-data.
func isMultipart(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "multipart/form-data"
}

// uploadForm is a multipart upload body being read: the fields before the file part, the file
// part itself, then (finish) the rest.
type uploadForm struct {
	mr    *multipart.Reader
	parts int
	// file is the content, to be read to its end before finish.
	file io.Reader
	// name and contentType come from the file part, sanitised.
	name, contentType string
	fields            map[string]string
}

// openForm reads a multipart body up to its file part. A body that is not multipart carries
// no file part.
func openForm(r *http.Request) (*uploadForm, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "multipart/form-data" && mt != "multipart/mixed") || params["boundary"] == "" {
		return nil, share.ErrFileRequired
	}
	f := &uploadForm{
		mr:     multipart.NewReader(bufio.NewReaderSize(r.Body, bodyBuffer), params["boundary"]),
		fields: map[string]string{},
	}
	for {
		part, err := f.next()
		if err == io.EOF {
			return nil, share.ErrFileRequired
		}
		if err != nil {
			return nil, err
		}
		if part.FormName() == "file" {
			f.file = part
			f.name = share.SanitizeName(part.FileName())
			if f.name == "" {
				f.name = "file"
			}
			f.contentType = share.NormalizeContentType(part.Header.Get("Content-Type"), f.name)
			return f, nil
		}
		if err := f.readField(part); err != nil {
			return nil, err
		}
	}
}

// finish reads the parts after the file part: more fields, and no second file.
func (f *uploadForm) finish() error {
	for {
		part, err := f.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if part.FormName() == "file" {
			return errOneFile
		}
		if err := f.readField(part); err != nil {
			return err
		}
	}
}

func (f *uploadForm) next() (*multipart.Part, error) {
	part, err := f.mr.NextPart()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, bodyErr(err)
	}
	if f.parts++; f.parts > maxParts {
		part.Close()
		return nil, errTooMany
	}
	return part, nil
}

func (f *uploadForm) readField(p *multipart.Part) error {
	b, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
	if err != nil {
		return bodyErr(err)
	}
	if len(b) > maxFieldBytes {
		return errFieldTooBig
	}
	f.fields[p.FormName()] = string(b)
	return nil
}

// bodyErr keeps the errors a handler answers specifically and calls the rest a malformed body
// (a truncated or garbled stream, or a client that went away). It is for errors of reading a
// request body, and of staging one (which reads the body and writes the blob store).
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
