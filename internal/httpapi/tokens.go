package httpapi

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"fileshare/internal/share"
)

// tokenBody is the optional JSON body of POST …/tokens.
type tokenBody struct {
	TTL *json.Number `json:"ttl"`
	PIN *bool        `json:"pin"`
}

func (h *handlers) createToken(c *gin.Context) {
	sid, fid, ok := h.sessionFileIDs(c, share.ErrSessionNotFound, share.ErrFileNotFound)
	if !ok {
		return
	}
	var b tokenBody
	if err := bindJSON(c, &b); err != nil {
		h.fail(c, err)
		return
	}
	var ttl int64
	if b.TTL != nil {
		var err error
		if ttl, err = h.parseTTL(b.TTL.String()); err != nil {
			h.fail(c, err)
			return
		}
	}
	t, err := h.svc.CreateToken(c.Request.Context(), principal(c), sid, fid, ttl, b.PIN != nil && *b.PIN)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, tokenJSON{
		ID: t.Token, Ref: t.Ref, FileID: t.FileID, SessionID: t.SessionID, URL: h.tokenURL(c, sid, fid, t.Token),
		CreatedAt: t.CreatedAt.UTC(), ExpiresAt: t.ExpiresAt.UTC(), PIN: t.PIN,
	})
}

func (h *handlers) tokenURL(c *gin.Context, sid, fid uuid.UUID, tok string) string {
	return h.baseURL(c) + "/sessions/" + sid.String() + "/files/" + fid.String() + "/tokens/" + tok
}

// tokenLink answers a one-time link (docs/behaviour.md §4.7 and §9):
//
//   - GET from a browser or a link-preview bot (Accept names text/html) shows the landing page
//     and never consumes; a HEAD that accepts text/html gets the headers of that page;
//   - any other HEAD gets the headers of the download and never consumes;
//   - GET from an API client, and POST (the landing page's Download button), consume the token
//     and send the whole file; on a consumed token, a Range from byte 1 on resumes its cut
//     download until the file has been delivered once.
func (h *handlers) tokenLink(c *gin.Context) {
	html := acceptsHTML(c.Request)
	sid, sidOK := parseID(c.Param("sid"))
	fid, fidOK := parseID(c.Param("fid"))
	if !sidOK || !fidOK {
		// A link with ids that are not ids is an unknown link: a page to a browser.
		h.failToken(c, share.ErrTokenNotFound, html, nil)
		return
	}
	link := share.TokenLink{SessionID: sid, FileID: fid, Token: c.Param("token")}
	switch {
	case html && (c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead):
		// A HEAD answers with the headers its GET would get (the server drops the body).
		h.landingPage(c, link)
	case c.Request.Method == http.MethodHead:
		d, err := h.svc.PeekToken(c.Request.Context(), link)
		if err != nil {
			h.fail(c, err)
			return
		}
		// The headers of the answer a consuming request would get.
		setValidators(c, d, true)
		setContentHeaders(c, d)
		s := &sender{h: h, c: c, d: d}
		s.single(http.StatusOK, byteRange{0, d.Size})
	default:
		h.consumeToken(c, link, html)
	}
}

// consumeToken takes the token and sends the file, or resumes its cut download.
func (h *handlers) consumeToken(c *gin.Context, link share.TokenLink, html bool) {
	ctx := c.Request.Context()
	pin, err := requestPIN(c)
	if err != nil {
		h.failToken(c, err, html, nil)
		return
	}
	td, err := h.svc.ConsumeToken(ctx, link, pin, clientAddr(c))
	h.metrics.TokenOutcomes.WithLabelValues(tokenOutcome(err)).Inc()
	switch {
	case err == nil:
		h.metrics.TokenEvents.WithLabelValues("consumed").Inc()
		// The consuming answer is always the whole file: a Range or a condition would spend
		// the token on a part, a 304 or a 412.
		started, delivered := h.serveToken(c, td, http.StatusOK, byteRange{0, td.Size})
		if delivered {
			h.metrics.TokenEvents.WithLabelValues("delivered").Inc()
		}
		if !started {
			// The file could not be opened (the store failed, the blob went): nothing was
			// sent, so the token is given back rather than spent on an error.
			if err := td.Unconsume(ctx); err != nil {
				h.log.Warn("giving an unsent token back failed", "path", redactPath(c.Request.URL.Path), "err", err)
			}
		}
		return
	case errors.Is(err, share.ErrTokenUsed):
		if br, ok := resumeRange(c.Request); ok {
			h.resumeToken(c, link, br, html)
			return
		}
	case errors.Is(err, share.ErrTokenLockedNow):
		// The fifth wrong PIN: counted, and the token's lock (once; a request refused by a
		// locked token is no event of the token).
		h.metrics.TokenEvents.WithLabelValues("wrong_pin").Inc()
		h.metrics.TokenEvents.WithLabelValues("locked").Inc()
	case errors.Is(err, share.ErrWrongPIN):
		h.metrics.TokenEvents.WithLabelValues("wrong_pin").Inc()
	}
	h.failToken(c, err, html, &link)
}

// resumeToken sends the rest of a consumed token's cut download: the range asked for, when
// the token may still be resumed and If-Range (when sent) names the file's entity tag.
func (h *handlers) resumeToken(c *gin.Context, link share.TokenLink, br byteRange, html bool) {
	td, err := h.svc.ResumeToken(c.Request.Context(), link)
	if err == nil {
		etag := `"` + hex.EncodeToString(td.SHA256) + `"`
		if ir := c.GetHeader("If-Range"); (ir != "" && ir != etag) || br.start >= td.Size {
			err = share.ErrTokenUsed
		}
	}
	if err != nil {
		h.failToken(c, err, html, nil)
		return
	}
	br.length = min(br.length, td.Size-br.start)
	h.metrics.TokenEvents.WithLabelValues("resumed").Inc()
	if _, delivered := h.serveToken(c, td, http.StatusPartialContent, br); delivered {
		h.metrics.TokenEvents.WithLabelValues("delivered").Inc()
	}
}

// resumeRange reads the Range of a request that may resume a consumed token's download: one
// range, bytes=N- or bytes=N-M, from byte N ≥ 1 (a range from byte 0 would be a second whole
// copy). Its length is open-ended (-1 … the rest) until the file's size is known.
func resumeRange(r *http.Request) (byteRange, bool) {
	spec, ok := strings.CutPrefix(r.Header.Get("Range"), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return byteRange{}, false
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok || first == "" {
		return byteRange{}, false
	}
	start, err := parseRangeNumber(first)
	if err != nil || start < 1 {
		return byteRange{}, false
	}
	br := byteRange{start: start, length: 1 << 62}
	if last != "" {
		end, err := parseRangeNumber(last)
		if err != nil || end < start {
			return byteRange{}, false
		}
		br.length = end - start + 1
	}
	return br, true
}

// maxFormBytes bounds the form a landing page posts (its PIN field).
const maxFormBytes = 4 << 10

// requestPIN reads the PIN a request gives: the Fileshare-Pin header, or the pin field of
// the landing page's form. nil when none is given.
func requestPIN(c *gin.Context) (*string, error) {
	if v := strings.TrimSpace(c.GetHeader("Fileshare-Pin")); v != "" {
		return &v, nil
	}
	if c.Request.Method != http.MethodPost {
		return nil, nil
	}
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt != "application/x-www-form-urlencoded" {
		return nil, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxFormBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, errJSONTooLarge // "request body too large"
	case err != nil:
		return nil, errInvalidForm
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		return nil, errInvalidForm
	}
	if v := strings.TrimSpace(form.Get("pin")); v != "" {
		return &v, nil
	}
	return nil, nil
}

func (h *handlers) listTokens(c *gin.Context) {
	sid, fid, ok := h.sessionFileIDs(c, share.ErrSessionNotFound, share.ErrFileNotFound)
	if !ok {
		return
	}
	limit, after, err := page(c)
	if err != nil {
		h.fail(c, err)
		return
	}
	list, next, err := h.svc.ListTokens(c.Request.Context(), principal(c), sid, fid, limit, after)
	if err != nil {
		h.fail(c, err)
		return
	}
	out := make([]tokenStatusJSON, len(list))
	for i, t := range list {
		out[i] = toTokenStatusJSON(t)
	}
	h.setNextLink(c, "/sessions/"+sid.String()+"/files/"+fid.String()+"/tokens", limit, next)
	c.JSON(http.StatusOK, out)
}

func (h *handlers) revokeToken(c *gin.Context) {
	sid, fid, ok := h.sessionFileIDs(c, share.ErrSessionNotFound, share.ErrFileNotFound)
	if !ok {
		return
	}
	ref, ok := parseID(c.Param("token"))
	if !ok {
		h.fail(c, share.ErrTokenNotFound)
		return
	}
	if err := h.svc.RevokeToken(c.Request.Context(), principal(c), sid, fid, ref); err != nil {
		h.fail(c, err)
		return
	}
	h.metrics.TokenEvents.WithLabelValues("revoked").Inc()
	c.Status(http.StatusNoContent)
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
	case errors.Is(err, share.ErrPINRequired), errors.Is(err, share.ErrWrongPIN):
		return "pin_refused"
	case errors.Is(err, share.ErrTokenLocked):
		return "locked"
	case errors.Is(err, share.ErrTokenRevoked):
		return "revoked"
	}
	return "error"
}
