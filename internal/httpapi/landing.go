package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"fileshare/internal/share"
)

// The landing page of a one-time link. Browsers, and the link-preview bots of chat and mail
// apps, ask for text/html: they get this page, which never consumes the token. The person
// consumes it with the page's Download button, a plain form POST to the same URL: no
// JavaScript, nothing that submits by itself, no resource from elsewhere.

var errInvalidForm = errors.New("invalid form body")

// acceptsHTML reports whether the request's Accept header names text/html,
// application/xhtml+xml or text/* (with a quality above 0): a browser, a link-preview bot or a
// scanner, which gets the landing page and never consumes. */* does not: API clients and curl
// send it.
func acceptsHTML(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || (mt != "text/html" && mt != "application/xhtml+xml" && mt != "text/*") {
				continue
			}
			if q, err := strconv.ParseFloat(params["q"], 64); err == nil && q <= 0 {
				continue
			}
			return true
		}
	}
	return false
}

// pageCSP allows the page nothing but its own inline style and a form posted to itself.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// landingPage shows an unused token's file, or the page of why it cannot be downloaded; it
// resumes the cut download of a consumed token for a GET with a resume Range.
func (h *handlers) landingPage(c *gin.Context, link share.TokenLink) {
	offer, err := h.svc.OfferToken(c.Request.Context(), link, c.Request.Method == http.MethodGet)
	if errors.Is(err, share.ErrTokenUsed) && c.Request.Method == http.MethodGet && requestResume(c.Request) != nil {
		// A browser (or a download manager) resuming the cut delivery of a consumed token
		// resumes it, whatever it accepts; share decides whether it may.
		h.deliverToken(c, link, true)
		return
	}
	if err != nil {
		h.failToken(c, err, true, nil)
		return
	}
	if c.Request.Method == http.MethodGet {
		h.metrics.TokenEvents.WithLabelValues("landing").Inc()
	}
	h.renderPage(c, http.StatusOK, pageData{Offer: &offer, Size: humanSize(offer.Size), Expires: offer.ExpiresAt.UTC().Format(time.RFC1123)})
}

// failToken answers a refused token request: JSON to API clients, a page to browsers. A
// refused PIN shows the landing page again, with the PIN field and what was wrong, when
// link is given.
func (h *handlers) failToken(c *gin.Context, err error, html bool, link *share.TokenLink) {
	if !html {
		h.fail(c, err)
		return
	}
	status, known, ok := statusOf(err)
	if !ok {
		// Not a refusal of the token (the database is down, …): the JSON answer says it.
		h.fail(c, err)
		return
	}
	data := pageData{Status: status, Err: err}
	if (errors.Is(err, share.ErrWrongPIN) || errors.Is(err, share.ErrPINRequired)) && link != nil {
		if offer, oerr := h.svc.OfferToken(c.Request.Context(), *link, false); oerr == nil {
			data.Offer = &offer
			data.Size = humanSize(offer.Size)
			data.Expires = offer.ExpiresAt.UTC().Format(time.RFC1123)
		}
	}
	c.Set(errorKey, known.Error())
	h.renderPage(c, status, data)
}

// pageData is what the page template shows: the offer of an unused token, or a refusal.
type pageData struct {
	Offer   *share.TokenOffer
	Size    string
	Expires string
	Status  int
	// Err is the refusal shown, nil for an offer.
	Err error
}

// pageTexts gives the heading and the explanation of a refusal, keyed on the error itself.
var pageTexts = []struct {
	err                error
	title, explanation string
}{
	{share.ErrTokenUsed, "This link has already been used", "A link like this one works once, and the file has been downloaded with it. Ask the sender for a new link if you need the file again."},
	{share.ErrTokenExpired, "This link has expired", "The time to download this file is over. Ask the sender for a new link."},
	{share.ErrSessionExpired, "This link has expired", "The time to download this file is over. Ask the sender for a new link."},
	{share.ErrTokenLocked, "This link is locked", "A wrong PIN was entered too many times. Ask the sender for a new link."},
	{share.ErrTokenRevoked, "This link has been withdrawn", "The sender has withdrawn this link."},
	{share.ErrNotUploadedYet, "The file is not there yet", "The sender has not finished uploading the file. Try again later."},
	{share.ErrPINRequired, "A file for you", "Enter the PIN the sender gave you."},
	{share.ErrWrongPIN, "A file for you", "That PIN is wrong. Check it and try again: after five wrong PINs the link locks."},
}

func (d pageData) texts() (title, explanation string, ok bool) {
	for _, t := range pageTexts {
		if errors.Is(d.Err, t.err) {
			return t.title, t.explanation, true
		}
	}
	return "", "", false
}

// Title is the page's heading. A page that offers the file names its sender when the tenant
// has a display name ("ACME Support sent you a file"); the template escapes it as text.
func (d pageData) Title() string {
	if d.Offer != nil && d.Offer.Sender != "" {
		return d.Offer.Sender + " sent you a file"
	}
	if d.Err == nil {
		return "A file for you"
	}
	if title, _, ok := d.texts(); ok {
		return title
	}
	if d.Status == http.StatusNotFound {
		return "This link is not valid"
	}
	return "This link cannot be used"
}

// Explanation says what the recipient can do.
func (d pageData) Explanation() string {
	if _, explanation, ok := d.texts(); ok {
		return explanation
	}
	return "Check that the link was copied whole, or ask the sender for a new one."
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<meta name="referrer" content="no-referrer">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem; color: #1b1b1b; line-height: 1.5; }
h1 { font-size: 1.4rem; }
.file { border: 1px solid #ccc; border-radius: .5rem; padding: 1rem; margin: 1rem 0; }
.name { font-weight: 600; overflow-wrap: anywhere; }
label { display: block; margin: 1rem 0 .25rem; }
input { font-size: 1.2rem; padding: .4rem; width: 9ch; letter-spacing: .2em; }
button { font-size: 1.1rem; padding: .6rem 1.4rem; margin-top: 1rem; cursor: pointer; }
.error { color: #a40000; }
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{- if .Offer}}
<div class="file">
<div class="name">{{.Offer.Name}}</div>
<div>{{.Size}}</div>
<div>Link valid until {{.Expires}}</div>
</div>
{{- if .Err}}
<p class="error" role="alert">{{.Explanation}}</p>
{{- end}}
<p>This link downloads the file once. Keep the page open until the download has finished.</p>
<form method="post">
{{- if .Offer.PIN}}
<label for="pin">PIN</label>
<input id="pin" name="pin" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]*" maxlength="6" required>
{{- end}}
<div><button type="submit">Download</button></div>
</form>
{{- else}}
<p>{{.Explanation}}</p>
{{- end}}
</main>
</body>
</html>
`))

// renderPage writes the page with status and the headers every landing page carries.
func (h *handlers) renderPage(c *gin.Context, status int, data pageData) {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, data); err != nil {
		h.fail(c, err)
		return
	}
	hd := c.Writer.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Robots-Tag", "noindex, nofollow")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", pageCSP)
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
	c.Abort()
}

// humanSize writes a byte count for people: 1.4 MB, 532 bytes.
func humanSize(n int64) string {
	const unit = 1000
	if n < unit {
		if n == 1 {
			return "1 byte"
		}
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
