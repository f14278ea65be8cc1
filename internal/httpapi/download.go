package httpapi

import (
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"fileshare/internal/share"
)

// sentKey is where serveFile counts the content bytes it sent past gin's writer.
const sentKey = "fileshare.sent"

// serveFile answers a download of d with the headers of a download (docs/behaviour.md §3.2):
// conditional requests and byte ranges are decided first (ranges.go), then exactly the bytes
// to send are read from the blob store and streamed (send.go): a disk blob through the kernel's
// zero-copy path, an S3 blob through one ranged GET per range. A one-time download is always
// the whole file (its handler drops Range and the conditional headers).
func (h *handlers) serveFile(c *gin.Context, d *share.Download, oneTime bool) {
	etag := setValidators(c, d, oneTime)
	switch checkPreconditions(c.Request, etag, d.ModTime) {
	case notModified:
		c.Status(http.StatusNotModified)
		c.Writer.WriteHeaderNow()
		return
	case preconditionFailed:
		respondError(c, http.StatusPreconditionFailed, "precondition failed")
		return
	}
	ranges, err := requestedRanges(c.Request, etag, d.ModTime, d.Size)
	if err != nil {
		c.Header("Content-Range", "bytes */"+strconv.FormatInt(d.Size, 10))
		respondError(c, http.StatusRequestedRangeNotSatisfiable, err.Error())
		return
	}
	setContentHeaders(c, d)
	s := &sender{h: h, c: c, d: d, idle: h.bodyIdle}
	defer s.done()
	switch len(ranges) {
	case 0:
		s.single(http.StatusOK, byteRange{0, d.Size})
	case 1:
		s.single(http.StatusPartialContent, ranges[0])
	default:
		s.multi(ranges)
	}
	c.Set(sentKey, s.sent)
}

// serveToken sends the range of a token's file that td holds: the whole file (200) to the
// request that consumed the token, a range (206) to one that resumes its delivery. The ETag
// of both is the delivery's secret, never the content's digest. What went out is recorded on
// the token; it reports whether that completed the token's delivery.
func (h *handlers) serveToken(c *gin.Context, td *share.TokenDownload) (delivered bool) {
	hd := c.Writer.Header()
	hd["Etag"] = []string{`"` + td.Secret + `"`}
	hd["Repr-Digest"] = derive(td.Download).digest
	hd["Cache-Control"] = hvNoStore
	setContentHeaders(c, td.Download)
	s := &sender{h: h, c: c, d: td.Download, idle: h.bodyIdle}
	defer s.done()
	status := http.StatusOK
	if td.Resumed {
		status = http.StatusPartialContent
	}
	s.single(status, byteRange{td.Start, td.Length})
	c.Set(sentKey, s.sent)
	if !s.started {
		return false
	}
	delivered, err := td.Sent(c.Request.Context(), s.sent)
	if err != nil {
		h.log.Warn("recording a token's delivery failed", "path", redactPath(c.Request.URL.Path), "err", err)
	}
	return delivered
}

// derived are the header values of a download that follow from its metadata alone: computed
// once per upload kept in memory (share.Download.Memo), not on each of its downloads.
type derived struct {
	etag                                                  string
	etagV, digest, lastModified, disposition, contentType []string
}

// Header values that never change. Header slices are only ever replaced, never written into,
// so the answers may share them.
var (
	hvNoStore    = []string{"no-store"}
	hvNoCache    = []string{"private, no-cache"}
	hvNosniff    = []string{"nosniff"}
	hvSandbox    = []string{"sandbox; default-src 'none'"}
	hvNoReferrer = []string{"no-referrer"}
	hvBytes      = []string{"bytes"}
)

func derive(d *share.Download) *derived {
	if d.Memo != nil {
		if x, ok := d.Memo.Load().(*derived); ok {
			return x
		}
	}
	etag := `"` + hex.EncodeToString(d.SHA256) + `"`
	x := &derived{
		etag: etag, etagV: []string{etag}, digest: []string{share.ReprDigest(d.SHA256)},
		disposition: []string{ContentDisposition(d.Name)}, contentType: []string{d.ContentType},
	}
	if !d.ModTime.IsZero() {
		x.lastModified = []string{d.ModTime.UTC().Format(http.TimeFormat)}
	}
	if d.Memo != nil {
		d.Memo.Store(x)
	}
	return x
}

// setValidators sets the headers that identify the content and say how it may be cached, and
// returns its entity tag. (The keys are written in their canonical form, as Header.Set would.)
func setValidators(c *gin.Context, d *share.Download, oneTime bool) string {
	hd := c.Writer.Header()
	x := derive(d)
	hd["Etag"] = x.etagV
	hd["Repr-Digest"] = x.digest
	if oneTime {
		hd["Cache-Control"] = hvNoStore
	} else {
		// Revalidate every time: a deleted or expired upload must stop being served at once.
		hd["Cache-Control"] = hvNoCache
	}
	if x.lastModified != nil {
		hd["Last-Modified"] = x.lastModified
	}
	return x.etag
}

// setContentHeaders sets the headers of an answer that carries the content.
func setContentHeaders(c *gin.Context, d *share.Download) {
	hd := c.Writer.Header()
	hd["Content-Disposition"] = derive(d).disposition
	hd["X-Content-Type-Options"] = hvNosniff
	hd["Content-Security-Policy"] = hvSandbox
	hd["Referrer-Policy"] = hvNoReferrer
	hd["Accept-Ranges"] = hvBytes
}
