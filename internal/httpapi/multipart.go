package httpapi

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"

	"fileshare/internal/blob"
	"fileshare/internal/formdata"
	"fileshare/internal/share"
	"fileshare/internal/store"
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
	// maxHeaderBytes bounds a part's header block. A browser's takes a few hundred bytes, but
	// a very long file name is cut to a safe one rather than refused (TestHostileFileNames
	// sends one of 1 MiB), as when mime/multipart, which allowed 10 MiB, read these bodies.
	maxHeaderBytes = 2 << 20
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
// part itself, then (finish) the rest. Its reader's buffer comes from a pool: finish gives it
// back, and so does close, which the handler defers for the paths that never reach finish.
type uploadForm struct {
	mr    *formdata.Reader
	parts int
	// file is the content, to be read to its end before finish.
	file io.Reader
	// name and contentType come from the file part, sanitised.
	name, contentType string
	fields            map[string]string
}

// openForm reads a multipart body up to its file part. A body that is not multipart carries
// no file part. A form it returns must be closed; when it fails, there is none to close.
func openForm(r *http.Request) (_ *uploadForm, err error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "multipart/form-data" && mt != "multipart/mixed") || params["boundary"] == "" {
		return nil, share.ErrFileRequired
	}
	f := &uploadForm{
		mr:     formdata.NewReader(r.Body, params["boundary"]),
		fields: map[string]string{},
	}
	f.mr.MaxHeaderBytes = maxHeaderBytes
	defer func() {
		if err != nil {
			f.close()
		}
	}()
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

// finish reads the parts after the file part: more fields, and no second file. It closes
// the form: the body is done with, whatever the outcome.
func (f *uploadForm) finish() error {
	defer f.close()
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

// close gives the body's buffer back to the pool. Nothing may read the form afterwards: the
// handlers defer it as soon as openForm returns, so it runs when they return, after Stage
// (which reads the file part in the handler's goroutine, to its end or to an error; the blob
// stores copy what they keep) and after finish. The fields, name and content type stay valid.
// close may be called more than once, and on a nil form.
func (f *uploadForm) close() {
	if f != nil && f.mr != nil {
		f.mr.Release()
		f.mr = nil
	}
}

func (f *uploadForm) next() (*formdata.Part, error) {
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

func (f *uploadForm) readField(p *formdata.Part) error {
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
	// The database's unavailability (a quota hold taken as the body streams) is answered as
	// such, not as the client's fault.
	if errors.As(err, &storage) || errors.Is(err, context.Canceled) || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	return errMalformed
}
