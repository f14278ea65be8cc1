package httpapi

// Sending a download's bytes: one range, small bodies, multipart/byteranges, and a body
// writer that cuts a client that stops reading.

import (
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"fileshare/internal/share"
)

// sender writes a download's answer.
type sender struct {
	h       *handlers
	c       *gin.Context
	d       *share.Download
	idle    time.Duration
	sent    int64
	started bool // the status line is out
	aborted bool
}

// single answers one range (or the whole content) with status: 206 carries its
// Content-Range.
func (s *sender) single(status int, br byteRange) {
	hd := s.c.Writer.Header()
	if status == http.StatusPartialContent {
		hd.Set("Content-Range", br.contentRange(s.d.Size))
	}
	hd["Content-Type"] = derive(s.d).contentType
	hd.Set("Content-Length", strconv.FormatInt(br.length, 10))
	switch {
	case s.c.Request.Method == http.MethodHead:
		s.c.Status(status)
		s.c.Writer.WriteHeaderNow()
		s.started = true
	case br.length <= smallBody:
		s.small(status, br)
	default:
		// Fetched before the status line goes out: a blob that went missing, or a store that
		// fails, still gets an error answer rather than a truncated file.
		body, err := s.d.Open(s.c.Request.Context(), br.start, br.length)
		if err != nil {
			s.fail(err)
			return
		}
		defer body.Close()
		s.c.Status(status)
		s.c.Writer.WriteHeaderNow()
		s.started = true
		s.copy(body)
	}
}

// smallBody is the largest answer read into memory and written with its headers: one write
// to the connection instead of a flush of the headers and a zero-copy transfer.
const smallBody = 16 << 10

var smallBuffers = sync.Pool{New: func() any { b := make([]byte, smallBody); return &b }}

// small answers the range br (at most smallBody bytes), read whole before the status line
// goes out, so that a read error is still an error answer.
func (s *sender) small(status int, br byteRange) {
	bp := smallBuffers.Get().(*[]byte)
	defer smallBuffers.Put(bp)
	buf := (*bp)[:br.length]
	if err := s.d.ReadAt(s.c.Request.Context(), br.start, buf); err != nil {
		s.fail(err)
		return
	}
	s.c.Status(status)
	s.started = true
	_ = http.NewResponseController(s.c.Writer).SetWriteDeadline(time.Now().Add(s.idle))
	m, err := s.c.Writer.Write(buf)
	s.sent += int64(m)
	if err != nil {
		s.abort(err)
	}
}

// multi answers several ranges as multipart/byteranges, each fetched as its turn comes.
func (s *sender) multi(ranges []byteRange) {
	hd := s.c.Writer.Header()
	// The answer's length, counted before anything is sent: the part headers as the multipart
	// writer makes them, plus the ranges themselves.
	var counted countWriter
	mw := multipart.NewWriter(&counted)
	partHeader := func(br byteRange) textproto.MIMEHeader {
		return textproto.MIMEHeader{"Content-Type": {s.d.ContentType}, "Content-Range": {br.contentRange(s.d.Size)}}
	}
	for _, br := range ranges {
		mw.CreatePart(partHeader(br))
		counted += countWriter(br.length)
	}
	mw.Close()
	hd.Set("Content-Type", "multipart/byteranges; boundary="+mw.Boundary())
	hd.Set("Content-Length", strconv.FormatInt(int64(counted), 10))
	s.c.Status(http.StatusPartialContent)
	if s.c.Request.Method == http.MethodHead {
		s.c.Writer.WriteHeaderNow()
		return
	}
	first, err := s.d.Open(s.c.Request.Context(), ranges[0].start, ranges[0].length)
	if err != nil {
		s.fail(err)
		return
	}
	s.c.Writer.WriteHeaderNow()
	w := multipart.NewWriter(s.writer())
	w.SetBoundary(mw.Boundary())
	for i, br := range ranges {
		body := first
		if i > 0 {
			if body, err = s.d.Open(s.c.Request.Context(), br.start, br.length); err != nil {
				s.abort(err)
				return
			}
		}
		pw, err := w.CreatePart(partHeader(br))
		if err != nil {
			body.Close()
			return
		}
		_, err = io.Copy(struct{ io.Writer }{pw}, body) // part bytes count towards sent below
		body.Close()
		s.sent += br.length
		if err != nil {
			s.abort(err)
			return
		}
	}
	w.Close()
}

// fail answers an error instead of the content: nothing has been sent yet.
func (s *sender) fail(err error) {
	hd := s.c.Writer.Header()
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Range", "Content-Disposition", "Accept-Ranges", "ETag", "Last-Modified"} {
		hd.Del(k)
	}
	s.h.fail(s.c, err)
}

// abort gives up an answer whose status line is out. The answer is then shorter than its
// Content-Length, so the server closes the connection and the client sees a truncated
// transfer, never a complete-looking one.
func (s *sender) abort(err error) {
	s.aborted = true
	if s.c.Request.Context().Err() == nil {
		s.h.log.Warn("download cut", "path", redactPath(s.c.Request.URL.Path), "err", err)
	}
}

// done settles the write deadline. The server sets none of its own, so after a complete
// answer the deadline must not outlive it on a kept-alive connection; after an aborted one it
// is moved to now, so that the server's last flush to a client that stopped reading fails at
// once instead of blocking.
func (s *sender) done() {
	deadline := time.Time{}
	if s.aborted {
		deadline = time.Now()
	}
	_ = http.NewResponseController(s.c.Writer).SetWriteDeadline(deadline)
}

// copy streams body to the client, renewing the write deadline as it goes, so that a client
// that stops reading is cut after the idle time.
func (s *sender) copy(body io.Reader) {
	n, err := io.Copy(s.writer(), body)
	s.sent += n
	if err != nil {
		s.abort(err)
	}
}

// writer is the connection under gin's writer (whose ReadFrom, the path to sendfile, gin's
// writer hides), with an idle deadline renewed on every write.
func (s *sender) writer() *idleWriter {
	var w http.ResponseWriter = s.c.Writer
	if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); ok {
		w = u.Unwrap()
	}
	return &idleWriter{w: w, rc: http.NewResponseController(s.c.Writer), idle: s.idle}
}

// idleWriter renews a write deadline of idle before each write. Its ReadFrom hands r to the
// connection whole, so r must be one bounded step (a disk blob's WriteTo sends in steps).
type idleWriter struct {
	w    http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
}

func (w *idleWriter) renew() { _ = w.rc.SetWriteDeadline(time.Now().Add(w.idle)) }

func (w *idleWriter) Write(p []byte) (int, error) {
	var n int
	for len(p) > 0 {
		w.renew()
		m, err := w.w.Write(p[:min(len(p), 256<<10)])
		n += m
		if err != nil {
			return n, err
		}
		p = p[m:]
	}
	return n, nil
}

func (w *idleWriter) ReadFrom(r io.Reader) (int64, error) {
	if _, ok := r.(*io.LimitedReader); !ok {
		// Not a bounded step: copy through Write, which renews the deadline as it goes.
		return io.Copy(struct{ io.Writer }{w}, r)
	}
	w.renew()
	if rf, ok := w.w.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(w.w, r)
}

// countWriter counts what is written to it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
