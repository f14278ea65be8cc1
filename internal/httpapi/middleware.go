package httpapi

import (
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"fileshare/internal/auth"
)

const (
	requestIDKey = "fileshare.request_id"
	principalKey = "fileshare.principal"
	// redacted replaces secrets in logged paths and queries.
	redacted = "<redacted>"
)

// requestID honours a sane X-Request-ID from the client (or the proxy) and echoes it, or makes one.
func requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !validRequestID(id) {
		id = uuid.NewString()
	}
	c.Set(requestIDKey, id)
	c.Header("X-Request-ID", id)
	c.Next()
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// accessLog writes one JSON line per request, and the error line of docs/behaviour.md §2 for each 4xx/5xx.
func (h *handlers) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	status := c.Writer.Status()
	if status >= 400 {
		msg, _ := c.Get(errorKey)
		s, _ := msg.(string)
		if s == "" {
			s = strings.ToLower(http.StatusText(status))
		}
		logError(h.log, c, s, status)
	}
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	h.metrics.ObserveRequest(route, c.Request.Method, status, time.Since(start))
	h.log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request",
		slog.String("request_id", c.GetString(requestIDKey)),
		slog.String("method", logMethod(c.Request.Method)),
		slog.String("route", route),
		slog.String("path", redactPath(c.Request.URL.Path)),
		slog.String("query", redactQuery(c.Request.URL.RawQuery)),
		slog.Int("status", status),
		slog.Int64("bytes", h.bytesWritten(c)),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
		slog.String("client", c.ClientIP()),
	)
}

// maxLoggedMethod bounds the method written to the log: any token is a valid method, up to the
// size of the header block.
const maxLoggedMethod = 32

// logMethod is the method as the log shows it: a long one cut to its first bytes (a method
// is ASCII, so the cut splits no character).
func logMethod(m string) string {
	if len(m) > maxLoggedMethod {
		return m[:maxLoggedMethod] + "…"
	}
	return m
}

// bytesWritten is the body bytes sent: a download counts its own (sendfile bypasses gin's count).
func (h *handlers) bytesWritten(c *gin.Context) int64 {
	if v, ok := c.Get(sentKey); ok {
		return v.(int64)
	}
	return int64(max(c.Writer.Size(), 0))
}

// tokenShapeLen is the length of a download or upload token as text: 32 random bytes as
// unpadded base64url.
var tokenShapeLen = base64.RawURLEncoding.EncodedLen(32)

// looksLikeToken reports whether s holds a run of tokenShapeLen or more base64url characters:
// a token, alone or with something around it. Ids (UUIDs) and route words are shorter.
func looksLikeToken(s string) bool {
	if len(s) < tokenShapeLen {
		return false
	}
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			if run++; run >= tokenShapeLen {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// redactPath hides every capability of a path: the segment after "tokens" (a one-time
// download token), the id after "uploads" (a simple upload's download id) and after "tus" (a
// resumable upload's URL), and any segment that looks like a token, whatever the path's shape:
// the log lines built from it must never hold a secret, even of a request that matched no route.
func redactPath(p string) string { return redact(p, true) }

// redactPathKeepingUpload is redactPath but for a simple upload's id: for the error line of an
// expired upload, whose id opens nothing.
func redactPathKeepingUpload(p string) string { return redact(p, false) }

func redact(p string, uploads bool) string {
	segs := strings.Split(p, "/")
	changed := false
	for i, seg := range segs {
		capability := i == 2 && (segs[1] == "tus" || uploads && segs[1] == "uploads")
		if seg != "" && (capability || i > 0 && segs[i-1] == "tokens" || looksLikeToken(seg)) {
			segs[i] = redacted
			changed = true
		}
	}
	if !changed {
		return p
	}
	return strings.Join(segs, "/")
}

// redactQuery hides the value of token= (upload URLs), in any case of its name, and any name
// or value that looks like a token.
func redactQuery(q string) string {
	if q == "" {
		return ""
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		return redacted
	}
	s, _ := url.QueryUnescape(redactValues(vals).Encode())
	return s
}

// redactValues is redactQuery's work on the parsed query.
func redactValues(vals url.Values) url.Values {
	out := make(url.Values, len(vals))
	for k, vs := range vals {
		hideAll := strings.EqualFold(k, "token")
		if looksLikeToken(k) {
			k = redacted
		}
		for _, v := range vs {
			if hideAll || looksLikeToken(v) {
				v = redacted
			}
			out[k] = append(out[k], v)
		}
	}
	return out
}

// recovery answers a panic with a bare 500.
func (h *handlers) recovery(c *gin.Context, err any) {
	h.log.Error("panic", "path", redactPath(c.Request.URL.Path), "err", err)
	respondError(c, http.StatusInternalServerError, msgInternal)
}

// requireAuth authenticates the request with Basic Auth or answers 401/429/503.
func (h *handlers) requireAuth(c *gin.Context) {
	if _, ok := h.authenticate(c); ok {
		c.Next()
	}
}

func (h *handlers) authenticate(c *gin.Context) (auth.Principal, bool) {
	login, password, ok := c.Request.BasicAuth()
	if !ok {
		unauthorized(c)
		return auth.Principal{}, false
	}
	p, err := h.authn.Authenticate(c.Request.Context(), login, password, c.ClientIP())
	if err != nil {
		h.fail(c, err)
		return auth.Principal{}, false
	}
	c.Set(principalKey, p)
	return p, true
}

// principalOrAuthenticate is the principal that the route's own way in has set (the console's
// signed-in session, at /console/tus), else the request's Basic Auth.
func (h *handlers) principalOrAuthenticate(c *gin.Context) (auth.Principal, bool) {
	if v, ok := c.Get(principalKey); ok {
		return v.(auth.Principal), true
	}
	return h.authenticate(c)
}

func principal(c *gin.Context) auth.Principal {
	return c.MustGet(principalKey).(auth.Principal)
}

// Transfer directions, for the in-flight gauge.
const (
	upload   = "upload"
	download = "download"
)

// transfer counts a transfer in flight while the handler runs, and its content bytes.
func (h *handlers) transfer(direction string) gin.HandlerFunc {
	return func(c *gin.Context) {
		g := h.metrics.InFlight.WithLabelValues(direction)
		g.Inc()
		defer g.Dec()
		c.Next()
		if status := c.Writer.Status(); status < 200 || status > 299 {
			return
		}
		if direction == upload {
			if b, ok := c.Get(bodyKey); ok {
				h.metrics.UploadedBytes.Add(float64(b.(*guardedBody).n))
			}
		} else if v, ok := c.Get(sentKey); ok {
			h.metrics.DownloadedBytes.Add(float64(v.(int64)))
		}
	}
}

// bodyKey is where guardBody leaves the request's guarded body.
const bodyKey = "fileshare.body"

// guardBody puts every request body under a read deadline and a minimum rate (guardedBody),
// and keeps the connection from being reused until the body has been read to its end: the
// answer carries "Connection: close" until then. So an answer given before the body was
// read (a refusal, or a route that takes no body) goes out at once and the connection is
// closed, rather than the server first trying to drain a body that may never come (or, with
// "Expect: 100-continue", asking for one it does not want).
func (h *handlers) guardBody(c *gin.Context) {
	if c.Request.Body == nil || c.Request.Body == http.NoBody {
		c.Next()
		return
	}
	hd := c.Writer.Header()
	hd.Set("Connection", "close")
	now := time.Now()
	b := &guardedBody{
		ReadCloser:   c.Request.Body,
		rc:           http.NewResponseController(c.Writer),
		idle:         h.bodyIdle,
		minPerWindow: int64(float64(h.bodyMinRate) * h.bodyIdle.Seconds()),
		windowStart:  now,
		atEOF:        func() { hd.Del("Connection") },
	}
	_ = b.rc.SetReadDeadline(now.Add(h.bodyIdle))
	c.Request.Body = b
	c.Set(bodyKey, b)
	c.Next()
	if b.atEOF != nil && !b.broken && c.GetHeader("Expect") == "" {
		// An answer given before the body was read to its end (a refusal, or a route that
		// takes no body) to a client that sends its body without waiting for an answer: what
		// it is still sending is read and dropped, briefly and up to a bound, before the answer
		// goes out and the connection closes, so that the client finishes writing and reads
		// the answer instead of a reset. A client that sends nothing is cut at once; one that
		// asked "Expect: 100-continue" was never asked for its body.
		_ = b.rc.SetReadDeadline(time.Now().Add(unreadBodyGrace))
		_, _ = io.CopyN(io.Discard, b.ReadCloser, unreadBodyDrain)
	}
	if b.atEOF != nil {
		// The server reads what is left of the body before it closes the connection: let that
		// read end at once.
		_ = b.rc.SetReadDeadline(time.Now())
	}
}

// unreadBodyGrace and unreadBodyDrain bound how long, and how much of a body the answer did
// not need, the server goes on reading.
const (
	unreadBodyGrace = 250 * time.Millisecond
	unreadBodyDrain = 8 << 20
)

// errBodyTooSlow cuts an upload whose client sends nothing, or trickles, for too long.
var errBodyTooSlow = errors.New("request body too slow")

// guardedBody cuts a body that stalls for the idle timeout, or delivers less than the minimum
// rate over a window of that length, so that slow clients cannot hold connections and temp
// files forever. It counts the bytes read, and calls atEOF once the body has been read whole.
type guardedBody struct {
	io.ReadCloser
	rc           *http.ResponseController
	idle         time.Duration
	minPerWindow int64
	windowStart  time.Time
	windowBytes  int64
	n            int64
	atEOF        func()
	// broken is set when a read failed (the client went away, or stalled): such a body is
	// not drained.
	broken bool
	// stopped is set by stop, from another goroutine.
	stopped atomic.Bool
}

// errBodyStopped ends a body that the request stopped reading (stop).
var errBodyStopped = errors.New("request body stopped")

// stop makes a read in progress end at once, and every later one fail with errBodyStopped: the
// request gives up its body (a resumable upload that another request takes over). Safe to call
// from any goroutine, more than once.
func (b *guardedBody) stop() {
	b.stopped.Store(true)
	// A read that set its own deadline after this one checks stopped after it.
	_ = b.rc.SetReadDeadline(time.Now())
}

func (b *guardedBody) Read(p []byte) (int, error) {
	now := time.Now()
	if now.Sub(b.windowStart) >= b.idle {
		if b.windowBytes < b.minPerWindow {
			b.broken = true
			return 0, errBodyTooSlow
		}
		b.windowStart, b.windowBytes = now, 0
	}
	// Best effort: a writer that cannot set deadlines still gets the rate check above.
	_ = b.rc.SetReadDeadline(now.Add(b.idle))
	if b.stopped.Load() {
		b.broken = true
		return 0, errBodyStopped
	}
	n, err := b.ReadCloser.Read(p)
	b.windowBytes += int64(n)
	b.n += int64(n)
	if err != nil && err != io.EOF {
		b.broken = true
	}
	switch {
	case err == io.EOF && b.atEOF != nil:
		b.atEOF()
		b.atEOF = nil
		// The server reads on in the background once a body is done, to see the client go
		// away: the idle deadline must not cut that read (and cancel the request) later on.
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil && b.stopped.Load():
		err = errBodyStopped
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		err = errBodyTooSlow
	}
	return n, err
}
