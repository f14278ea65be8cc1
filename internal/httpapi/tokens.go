package httpapi

import (
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
	TTL   *json.Number `json:"ttl"`
	PIN   *bool        `json:"pin"`
	Label *string      `json:"label"`
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
	o := share.TokenOptions{TTLSeconds: ttl, PIN: b.PIN != nil && *b.PIN}
	if b.Label != nil {
		o.Label = *b.Label
	}
	t, err := h.svc.CreateTokenWith(c.Request.Context(), principal(c), sid, fid, o)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, tokenJSON{
		ID: t.Token, Ref: t.Ref, FileID: t.FileID, SessionID: t.SessionID, URL: h.tokenURL(c, sid, fid, t.Token),
		CreatedAt: t.CreatedAt.UTC(), ExpiresAt: t.ExpiresAt.UTC(), PIN: t.PIN, Label: t.Label,
	})
}

func (h *handlers) tokenURL(c *gin.Context, sid, fid uuid.UUID, tok string) string {
	return h.baseURL(c) + "/sessions/" + sid.String() + "/files/" + fid.String() + "/tokens/" + tok
}

// tokenLink answers a one-time link (docs/behaviour.md §4.7 and §9); what a token allows is
// decided in share (delivery.go), this only reads the request's shape:
//
//   - GET from a browser or a link-preview bot (Accept names text/html, application/xhtml+xml
//     or text/*) shows the landing page and never consumes; a HEAD that accepts HTML gets the
//     headers of that page;
//   - any other HEAD gets the headers of the download, without anything that identifies the
//     content, and never consumes;
//   - GET from an API client, and POST (the landing page's Download button), consume the token
//     and send the whole file; on a consumed token, a request with a Range and an If-Range
//     naming the delivery's secret (the consuming answer's ETag) resumes its cut download,
//     whatever it accepts; a browser's cross-origin fetch from an origin that may not read
//     the answer (FILESHARE_CORS_ORIGINS) gets 403 and leaves the token unused.
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
		offer, err := h.svc.OfferToken(c.Request.Context(), link, false)
		if err != nil {
			h.fail(c, err)
			return
		}
		// The headers of the answer a consuming request would get, less its validators and
		// digest: before the consumption nothing may identify the content.
		d := &share.Download{FileMeta: share.FileMeta{Name: offer.Name, ContentType: offer.ContentType, Size: offer.Size}}
		c.Writer.Header()["Cache-Control"] = hvNoStore
		setContentHeaders(c, d)
		s := &sender{h: h, c: c, d: d}
		s.single(http.StatusOK, byteRange{0, d.Size})
	default:
		h.deliverToken(c, link, html)
	}
}

// deliverToken consumes the token and sends the whole file, or resumes its delivery.
func (h *handlers) deliverToken(c *gin.Context, link share.TokenLink, html bool) {
	if unreadableAcrossOrigins(c.Request, h.corsOrigins) {
		// A page of an origin not allowed, whose browser would hide the file from it: the
		// token stays unused for its recipient.
		respondError(c, http.StatusForbidden, msgOriginNotAllowed)
		return
	}
	pin, err := requestPIN(c)
	if err != nil {
		h.failToken(c, err, html, nil)
		return
	}
	td, err := h.svc.DeliverToken(c.Request.Context(), share.TokenRequest{
		Link: link, PIN: pin, Addr: clientAddr(c), Resume: requestResume(c.Request),
	})
	if err != nil || !td.Resumed {
		h.metrics.TokenOutcomes.WithLabelValues(tokenOutcome(err)).Inc()
	}
	if err != nil {
		switch {
		case errors.Is(err, share.ErrTokenLockedNow):
			// The fifth wrong PIN: counted, and the token's lock (once; a request refused by
			// a locked token is no event of the token).
			h.metrics.TokenEvents.WithLabelValues("wrong_pin").Inc()
			h.metrics.TokenEvents.WithLabelValues("locked").Inc()
		case errors.Is(err, share.ErrWrongPIN):
			h.metrics.TokenEvents.WithLabelValues("wrong_pin").Inc()
		}
		h.failToken(c, err, html, &link)
		return
	}
	defer td.Close()
	if td.Resumed {
		h.metrics.TokenEvents.WithLabelValues("resumed").Inc()
	} else {
		h.metrics.TokenEvents.WithLabelValues("consumed").Inc()
	}
	if h.serveToken(c, td) {
		h.metrics.TokenEvents.WithLabelValues("delivered").Inc()
	}
}

// requestResume reads the resume a request asks for: one range, bytes=N- or bytes=N-M, and an
// If-Range naming a strong entity tag (the delivery's secret, checked by share). nil when the
// request has no such pair: on a consumed token it is then refused.
func requestResume(r *http.Request) *share.Resume {
	tag := strings.TrimSpace(r.Header.Get("If-Range"))
	if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
		return nil
	}
	spec, ok := strings.CutPrefix(r.Header.Get("Range"), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok || first == "" {
		return nil // a suffix range: not a resume
	}
	start, err := parseRangeNumber(first)
	if err != nil {
		return nil
	}
	res := &share.Resume{Secret: tag[1 : len(tag)-1], Start: start, Length: -1}
	if last != "" {
		end, err := parseRangeNumber(last)
		if err != nil || end < start {
			return nil
		}
		res.Length = end - start + 1
	}
	return res
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
	case errors.Is(err, errBodyTooSlow):
		return nil, err // a form that never arrives: 408, as for every body
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
