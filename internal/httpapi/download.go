package httpapi

import (
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/gin-gonic/gin"

	"fileshare/internal/blob"
	"fileshare/internal/share"
)

// sentKey is where serveFile counts the bytes it sent past gin's writer.
const sentKey = "fileshare.sent"

// serveFile streams an open blob with the headers of SPEC §4: Range, conditional requests and
// ETag come from http.ServeContent, a disk blob goes out through sendfile, and an S3 blob is
// fetched with a Range request of just the bytes asked for.
func (h *handlers) serveFile(c *gin.Context, meta share.FileMeta, obj blob.Object, oneTime bool) {
	defer obj.Close()
	hd := c.Writer.Header()
	hd.Set("Content-Type", meta.ContentType)
	hd.Set("Content-Disposition", ContentDisposition(meta.Name))
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("ETag", `"`+hex.EncodeToString(meta.SHA256)+`"`)
	if oneTime {
		hd.Set("Cache-Control", "no-store")
	} else {
		// Revalidate every time: a deleted or expired upload must stop being served at once.
		hd.Set("Cache-Control", "private, no-cache")
	}
	var content io.ReadSeeker = obj
	if f, ok := obj.(interface{ OSFile() *os.File }); ok {
		content = f.OSFile()
	}
	w := &downloadWriter{ResponseWriter: c.Writer}
	http.ServeContent(w, c.Request, "", meta.ModTime, content)
	c.Set(sentKey, w.sent)
	if w.fetchErr != nil {
		// Nothing was sent yet: the answer becomes an error instead of the file.
		for _, k := range []string{"Content-Length", "Content-Range", "Content-Disposition", "Accept-Ranges", "ETag", "Last-Modified"} {
			hd.Del(k)
		}
		err := w.fetchErr
		if errors.Is(err, blob.ErrNotFound) {
			// Deleted between the row's query and the fetch.
			err = share.ErrUploadNotFound
			if oneTime {
				err = share.ErrFileNotFound
			}
		}
		h.fail(c, err)
		return
	}
	if w.failed != 0 {
		msg := strings.ToLower(http.StatusText(w.failed))
		if w.failed == http.StatusRequestedRangeNotSatisfiable {
			msg = "range not satisfiable"
		}
		hd.Del("Content-Disposition")
		respondError(c, w.failed, msg)
	}
}

// downloadWriter lets http.ServeContent use the connection's ReadFrom (sendfile), which gin's
// writer hides, and turns its plain-text error answers into JSON ones.
type downloadWriter struct {
	gin.ResponseWriter
	failed   int
	fetchErr error
	sent     int64
}

func (w *downloadWriter) WriteHeader(code int) {
	if code >= 400 {
		w.failed = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *downloadWriter) Write(p []byte) (int, error) {
	if w.failed != 0 {
		return len(p), nil
	}
	n, err := w.ResponseWriter.Write(p)
	w.sent += int64(n)
	return n, err
}

func (w *downloadWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.failed != 0 {
		return io.Copy(io.Discard, r)
	}
	// A remote blob (S3) is requested here, for exactly the bytes to send (ServeContent hands
	// them over as a LimitedReader), before the status line goes out: a blob that went missing
	// or a store that fails still gets an error answer rather than a truncated file.
	if lr, ok := r.(*io.LimitedReader); ok {
		if f, ok := lr.R.(blob.Fetcher); ok {
			if err := f.Fetch(lr.N); err != nil {
				w.fetchErr = err
				return 0, err
			}
		}
	}
	w.ResponseWriter.WriteHeaderNow()
	var dst io.Writer = w.ResponseWriter
	if u, ok := w.ResponseWriter.(interface{ Unwrap() http.ResponseWriter }); ok {
		dst = u.Unwrap()
	}
	n, err := io.Copy(dst, r)
	w.sent += n
	return n, err
}

// ContentDisposition builds an attachment header for name (RFC 6266): an ASCII fallback in
// filename, and the exact name RFC 5987-encoded in filename* when it is not plain ASCII.
func ContentDisposition(name string) string {
	var fallback strings.Builder
	plain := true
	for _, r := range name {
		if r < 0x20 || r >= 0x7f || r == '"' || r == '\\' {
			fallback.WriteByte('_')
			plain = false
			continue
		}
		fallback.WriteRune(r)
	}
	v := `attachment; filename="` + fallback.String() + `"`
	if !plain {
		v += "; filename*=UTF-8''" + encodeRFC5987(name)
	}
	return v
}

func encodeRFC5987(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAttrChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}
